// Test-only worker: loads the shipped tresor.wasm exactly as worker.js does
// and runs SFrame operations the Go test asks for, so the test can compare
// the browser's bytes with the Go e2ee package's.
"use strict";
importScripts("/wasm_exec.js");

const ready = (async () => {
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch("/tresor.wasm"), go.importObject);
  go.run(instance);
  return globalThis.tresor;
})();

let sender, receiver;
const mls = {};
function mlsState() {
  const g = mls.group;
  const k = g.sframeKeys();
  const b64 = (u) => btoa(String.fromCharCode(...u));
  return { epoch: g.epoch(), code: g.securityCode(), members: g.members().map((m) => m.name),
           keys: k.members.map((m) => ({ leaf: m.leaf, kid: m.kid, key: b64(m.key) })), ownKid: k.own.kid };
}
self.onmessage = async (e) => {
  const api = await ready;
  const { id, op, args } = e.data;
  let result;
  try {
    switch (op) {
      case "version": result = api.version; break;
      case "newSender": sender = api.sframeSender(); result = sender.setKey(args.kid, args.key) ?? null; break;
      case "newReceiver": receiver = api.sframeReceiver(); result = receiver.add(args.kid, args.key) ?? null; break;
      case "encrypt": result = sender.encrypt(args.codec, args.frame); break;
      case "decrypt": result = receiver.decrypt(args.codec, args.frame); break;
      case "stats": result = { sender: sender.stats(), receiver: receiver.stats() }; break;
      case "badArgs": result = [sender.setKey(-1, args.key), sender.setKey(1.5, args.key), sender.setKey(1, "x"), sender.encrypt("h264", new Uint8Array(4)), api.kid("a", 1)]; break;
      // MLS: this worker's client "web" against a Go client.
      case "mlsKeyPackage":
        mls.id = api.newIdentity("web");
        mls.kp = api.newKeyPackage(mls.id);
        result = mls.kp.bytes();
        break;
      case "mlsJoin": {
        const g = api.joinGroup(mls.id, mls.kp, args.frame);
        if (g.error) { result = g; break; }
        mls.group = g;
        result = mlsState();
        break;
      }
      case "mlsState": result = mlsState(); break;
      case "mlsSeal": result = mls.group.seal(new TextEncoder().encode(args.codec)); break;
      case "mlsProcess": {
        const m = mls.group.process(args.frame);
        result = m.error ? m : { kind: m.kind, sender: m.sender.name, text: m.data ? new TextDecoder().decode(m.data) : null, state: mlsState() };
        break;
      }
      case "mlsCommit": {
        const c = mls.group.createCommit([], []);
        if (c.error) { result = c; break; }
        const merged = mls.group.mergePendingCommit();
        result = merged && merged.error ? merged : c.message;
        break;
      }
      case "mlsBad": result = [
        api.joinGroup(mls.id, api.newKeyPackage(mls.id), new Uint8Array([1, 2, 3])),
        api.verifyKeyPackage(new Uint8Array(40)),
        mls.group.process(new Uint8Array([0, 1, 0, 2, 9, 9])),
        api.newGroup({}),
        mls.group.createCommit([new Uint8Array(8)], []),
      ]; break;
      case "bench": {
        // Seal then open args.n frames of args.size bytes; ns per frame each.
        const s = api.sframeSender(), r = api.sframeReceiver();
        const key = crypto.getRandomValues(new Uint8Array(16));
        s.setKey(1, key.slice());
        r.add(1, key.slice());
        const frame = crypto.getRandomValues(new Uint8Array(args.size));
        frame[0] = 0x31; // a VP8 delta frame tag
        const sealed = new Array(args.n);
        let t0 = performance.now();
        for (let i = 0; i < args.n; i++) sealed[i] = s.encrypt(args.codec, frame);
        const seal = performance.now() - t0;
        t0 = performance.now();
        let ok = 0;
        for (let i = 0; i < args.n; i++) if (r.decrypt(args.codec, sealed[i]) !== null) ok++;
        const open = performance.now() - t0;
        s.close(); r.close();
        result = { sealNs: (seal * 1e6) / args.n, openNs: (open * 1e6) / args.n, ok };
        break;
      }
      default: throw new Error("unknown op " + op);
    }
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err) });
  }
};
