// Package e2ee implements SFrame (RFC 9605), the end-to-end encryption of
// media frames that Tresor applies before RTP packetization and removes after
// reassembly, so that the SFU forwards frames it cannot read or forge.
//
// This package is the pure SFrame core: no network, no pion, no goroutines.
// It builds for GOOS=js GOARCH=wasm so the browser client runs the same code.
// The pion glue lives in [github.com/tresor-dev/tresor/e2ee/piontrack].
//
// # Use
//
// A [Sender] holds one sender's current key and seals frames; a [Receiver]
// is a key ring of every sender's key by KID, with a replay window per KID,
// and opens frames. Keys come from the caller: with MLS (RFC 9605 §5.2) the
// keys package exports one base key per epoch and the KID of each sender,
// and the application calls [Sender.SetKey] for its own and [Receiver.Add] /
// [Receiver.Remove] for everyone's. Key derivation happens then, so each frame
// costs only a nonce computation and one AEAD call.
//
// [Sender.EncryptFrame] and [Receiver.DecryptFrame] apply a codec's clear
// prefix; [Sender.Seal] and [Receiver.Open] are the bare RFC 9605 operations.
// Errors wrap [ErrUnknownKey], [ErrAuthentication], [ErrReplay],
// [ErrMalformed] or [ErrCounterExhausted]; Stats methods count them.
//
// The default and recommended suite is AES_128_GCM_SHA256_128. The
// AES-CTR-HMAC suites (RFC 9605 §4.5.1) have 80-, 64- or 32-bit tags and
// exist for interoperability only.
//
// # Derivation chain (RFC 9605 §4.4.2, §4.4.3, §5.2)
//
//	MLS epoch ──MLS-Exporter("SFrame 1.0 Base Key", "", Nk)──► base_key (keys package;
//	                                                    the same for every sender)
//	KID = (leaf_index << E) | (epoch mod 2^E)                    │
//	                                                             ▼ (this package)
//	base_key ──HKDF-Extract(salt="")──► sframe_secret
//	sframe_secret ──HKDF-Expand("SFrame 1.0 Secret key "  ‖ KID ‖ suite, Nk)──► sframe_key
//	sframe_secret ──HKDF-Expand("SFrame 1.0 Secret salt " ‖ KID ‖ suite, Nn)──► sframe_salt
//	nonce = sframe_salt XOR uint96_be(CTR)          (CTR never repeats under a KID)
//
// # Frame layout (RFC 9605 §4.2, §4.3)
//
// An encrypted media frame on the wire (RTP payload before packetization):
//
//	+---------------------+---------------------+--------------------+-------+
//	| clear codec prefix  | SFrame header       | ciphertext         | tag   |
//	| VP8: 10 B key frame | config byte ‖ KID ‖ | AEAD(frame without | Nt B  |
//	|      3 B delta      | CTR (1 to 17 B)     | its prefix)        |       |
//	| Opus: none          |                     |                    |       |
//	+---------------------+---------------------+--------------------+-------+
//	 \_____ metadata ____/ \______ header _____/
//	        AAD = header ‖ metadata (the clear prefix is authenticated)
//
// The SFU may read the clear prefix (key-frame bit, VP8 dimensions); changing
// it, the header or any ciphertext byte makes the tag fail. RTP header fields
// (SSRC, payload type, sequence number, timestamp) are not authenticated,
// since the SFU rewrites them.
//
// # Security notes
//
// A Sender never reuses a CTR under a KID for its whole lifetime, even if the
// same KID is set again, and refuses with [ErrCounterExhausted] after 2^64
// frames. A Receiver checks its replay window before decrypting and updates
// it only after the tag verifies (RFC 9605 §9.3). Erasing a key zeroes the
// derived key and salt; the expanded AES key schedule and HMAC pads inside
// Go's crypto packages cannot be wiped and are left to the garbage
// collector. No key material appears in errors, logs or String methods.
package e2ee
