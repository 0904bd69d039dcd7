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
