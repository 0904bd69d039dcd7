// Tresor's encoded-transform worker: every outgoing media frame is sealed
// and every incoming frame is opened here, with SFrame (RFC 9605) from the
// audited Go e2ee package compiled to WebAssembly (tresor.wasm). A frame that
// cannot be sealed is dropped rather than sent in the clear; a frame that
// fails authentication is dropped rather than decoded.
//
// It serves both browser APIs for encoded transforms:
//   - RTCRtpScriptTransform (WebRTC Encoded Transform): the page constructs
//     `new RTCRtpScriptTransform(worker, options)` and this worker gets an
//     `rtctransform` event;
//   - Chromium's createEncodedStreams(): the page transfers the readable and
//     writable streams here in a {type: "streams"} message.
// options / the message carry {dir: "send"|"recv", kind: "audio"|"video",
// label} where label names the track (for per-track counters).
//
// Messages from the page:
//   {type: "init", module?: WebAssembly.Module} first
//   {type: "keys", own: {kid, key} | null, members: [{kid, key}], remove: [kid]}
//   {type: "streams", dir, kind, label, readable, writable}
//   {type: "stats", id}
// Messages to the page:
//   {type: "ready", version} once the module is loaded (negotiate only after it)
//   {type: "error", message}
//   {type: "stats", id, sender, receiver, tracks}
"use strict";

importScripts("wasm_exec.js");

let api = null;      // globalThis.tresor once the module runs
let sender = null;   // one SFrame sender for all our tracks: one CTR space per KID
let receiver = null; // one key ring for every member's frames
const tracks = new Map(); // label -> counters
const senderTransformers = new Set(); // RTCRtpScriptTransformers of sent video
let ready;

// The page sends {type: "init", module?} first: module is the compiled
// tresor.wasm (a WebAssembly.Module) when the page has one, so the module is
// downloaded and compiled once per page; otherwise the worker fetches it.
let init;
const initMessage = new Promise((resolve) => { init = resolve; });

ready = (async () => {
  const { module } = await initMessage;
  const go = new Go();
  let instance;
  if (module instanceof WebAssembly.Module) {
    instance = await WebAssembly.instantiate(module, go.importObject);
  } else {
    const wasmURL = new URL("tresor.wasm", self.location.href);
    ({ instance } = await WebAssembly.instantiateStreaming(fetch(wasmURL), go.importObject));
  }
  go.run(instance); // runs main until it blocks; main sets globalThis.tresor
  if (!globalThis.tresor) throw new Error("tresor.wasm did not start");
  api = globalThis.tresor;
  sender = api.sframeSender();
  receiver = api.sframeReceiver();
  self.postMessage({ type: "ready", version: api.version });
})().catch((e) => {
  self.postMessage({ type: "error", message: "loading tresor.wasm: " + e });
  throw e;
});

function counters(label, dir, kind) {
  let c = tracks.get(label);
  if (!c) {
    c = { dir, kind, frames: 0, ok: 0, dropped: 0, unsupported: 0 };
    tracks.set(label, c);
  }
  return c;
}

// codecOf returns the e2ee codec for a frame, or null for one Tresor does not
// support (the clear prefix differs per codec; H.264 is not supported yet).
function codecOf(kind, frame) {
  if (kind === "audio") {
    const mime = frame.getMetadata && frame.getMetadata().mimeType;
    return !mime || /opus$/i.test(mime) ? "opus" : null;
  }
  const mime = frame.getMetadata && frame.getMetadata().mimeType;
  return !mime || /vp8$/i.test(mime) ? "vp8" : null;
}

function transformer(dir, kind, label, keyFrameRequester) {
  const c = counters(label, dir, kind);
  let lastKeyFrameRequest = 0;
  return new TransformStream({
    async transform(frame, controller) {
      if (!api) await ready;
      c.frames++;
      const codec = codecOf(kind, frame);
      if (codec === null) {
        c.unsupported++;
        c.dropped++;
        return;
      }
      const data = new Uint8Array(frame.data);
      const out = dir === "send" ? sender.encrypt(codec, data) : receiver.decrypt(codec, data);
      if (out === null || out.error !== undefined) {
        // Never send a clear frame, never decode a forged one.
        c.dropped++;
        if (dir === "recv" && kind === "video" && keyFrameRequester) {
          // A new epoch's key arrives a moment after the first frames
          // under it; ask for a key frame so the picture resumes at once.
          const now = Date.now();
          if (now - lastKeyFrameRequest > 1000) {
            lastKeyFrameRequest = now;
            try { keyFrameRequester(); } catch (_) { /* best effort */ }
          }
        }
        return;
      }
      c.ok++;
      frame.data = out.buffer;
      controller.enqueue(frame);
    },
  });
}

function attach(readable, writable, options, rtcTransformer) {
  const { dir, kind, label } = options;
  if ((dir !== "send" && dir !== "recv") || (kind !== "audio" && kind !== "video")) {
    self.postMessage({ type: "error", message: "bad transform options" });
    return;
  }
  let requester = null;
  if (rtcTransformer) {
    if (dir === "recv" && rtcTransformer.sendKeyFrameRequest) {
      requester = () => rtcTransformer.sendKeyFrameRequest().catch(() => {});
    }
    if (dir === "send" && kind === "video") senderTransformers.add(rtcTransformer);
  }
  readable
    .pipeThrough(transformer(dir, kind, String(label), requester))
    .pipeTo(writable)
    .catch(() => { /* the track ended */ })
    .finally(() => { if (rtcTransformer) senderTransformers.delete(rtcTransformer); });
}

// RTCRtpScriptTransform.
self.onrtctransform = (event) => {
  const t = event.transformer;
  attach(t.readable, t.writable, t.options || {}, t);
};

async function setKeys(msg) {
  await ready;
  for (const kid of msg.remove || []) receiver.remove(kid);
  for (const m of msg.members || []) {
    const r = receiver.add(m.kid, m.key);
    if (r && r.error) self.postMessage({ type: "error", message: r.error });
    m.key.fill(0);
  }
  if (msg.own) {
    const r = sender.setKey(msg.own.kid, msg.own.key);
    if (r && r.error) self.postMessage({ type: "error", message: r.error });
    msg.own.key.fill(0);
    // Receivers can decode our video again only from a key frame under the
    // new key.
    for (const t of senderTransformers) {
      if (t.generateKeyFrame) t.generateKeyFrame().catch(() => {});
    }
  }
}

self.onmessage = async (event) => {
  const msg = event.data || {};
  switch (msg.type) {
    case "init":
      init(msg);
      break;
    case "keys":
      await setKeys(msg);
      self.postMessage({ type: "keys", id: msg.id });
      break;
    case "streams":
      attach(msg.readable, msg.writable, msg, null);
      break;
    case "stats":
      await ready;
      self.postMessage({
        type: "stats",
        id: msg.id,
        sender: sender.stats(),
        receiver: receiver.stats(),
        tracks: Object.fromEntries(tracks),
      });
      break;
  }
};
