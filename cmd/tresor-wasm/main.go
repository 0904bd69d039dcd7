//go:build js && wasm

// Command tresor-wasm is the browser's build of Tresor's audited packages:
// it compiles keys (MLS, RFC 9420) and e2ee (SFrame, RFC 9605) to WebAssembly
// (GOOS=js GOARCH=wasm) and exposes them to JavaScript as globalThis.tresor,
// so the browser client runs the very code the Go client runs instead of a
// second implementation of the cryptography.
//
// The artefact is web/static/tresor.wasm, rebuilt reproducibly with
// `go generate ./web` (see web/internal/wasmbuild). It runs in
// web/static/worker.js, the browser client's worker, which holds the MLS
// group (web/static/tresor/group.js) and seals and opens every media frame,
// so no key reaches the page.
//
// # JavaScript API
//
// Every function takes and returns plain values: byte strings are Uint8Array,
// KIDs and leaf indices are Numbers (KIDs of groups below 2^45 members are
// safe integers). A call that fails returns {error: "…"} instead of throwing;
// the message never contains key material. The per-frame calls
// (encrypt, decrypt) return a Uint8Array, or null when the frame is refused,
// and count the refusal in stats().
//
//	tresor.sframeSender()              -> {setKey(kid, baseKey), encrypt(codec, frame), erase(), stats(), close()}
//	tresor.sframeReceiver()            -> {add(kid, baseKey), remove(kid), decrypt(codec, frame), stats(), close()}
//	tresor.newIdentity(name)           -> Identity handle {name(), publicKey(), marshal(), close()}
//	tresor.parseIdentity(text)         -> Identity handle
//	tresor.newKeyPackage(identity)     -> KeyPackage handle {bytes(), close()}
//	tresor.newGroup(identity)          -> Group handle
//	tresor.joinGroup(identity, keyPackage, welcome) -> Group handle
//	tresor.verifyKeyPackage(bytes)     -> {leaf, name, signatureKey} of the client it names
//	tresor.kid(leaf, epoch)            -> Number
//
// A Group handle has epoch(), active(), self(), members(), securityCode(),
// sframeKeys(), createCommit(adds, removes), mergePendingCommit(),
// clearPendingCommit(), hasPendingCommit(), process(msg), seal(data),
// groupInfo() and close(); see the keys package for what each one does.
// codec is "vp8" or "opus".
package main

import (
	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/keys"
)

// Version names the JavaScript API; web/static/tresor/wasm.js checks it.
const Version = "tresor-wasm/1"

func main() {
	api := newObject()
	api.Set("version", Version)
	api.Set("e2eeSuite", e2ee.AES128GCMSHA256.String())
	api.Set("sframeEpochBits", keys.SFrameEpochBits)
	exportSFrame(api)
	exportMLS(api)
	exportDriver(api)
	global.Set("tresor", api)
	if ready := global.Get("tresorReady"); ready.Type() == typeFunction {
		ready.Invoke()
	}
	select {} // serve calls until the page or worker goes away
}
