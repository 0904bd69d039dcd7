// @ts-check
// Tresor's media and key worker. It runs tresor.wasm (the audited Go keys and
// e2ee packages, and the Go client's meeting driver, compiled to WebAssembly)
// and holds every secret of the meeting: the MLS group (RFC 9420) that makes
// the keys, and the SFrame (RFC 9605) key ring that seals every outgoing
// media frame and opens every incoming one. Neither MLS secrets nor media
// keys ever reach the page, nor this file: the driver installs them in its
// own ring. The page relays opaque signaling messages in and out. A frame
// that cannot be sealed is dropped rather than sent in the clear; a frame
// that fails authentication is dropped rather than decoded; a received frame
// opens only under the keys of the member whose identity labels its track,
// so a server that relabels tracks gets nothing decoded.
//
// It is a module worker and serves both browser APIs for encoded transforms:
//   - RTCRtpScriptTransform (WebRTC Encoded Transform): the page constructs
//     `new RTCRtpScriptTransform(worker, options)` and this worker gets an
//     `rtctransform` event;
//   - Chromium's createEncodedStreams(): the page transfers the readable and
//     writable streams here in a {type: "streams"} message.
// options / the message carry {dir: "send"|"recv", kind: "audio"|"video",
// label, participant} where label names the track (for per-track counters)
// and participant is the identity the SFU labelled a received track with.
//
// Messages from the page:
//   {type: "init", module?: WebAssembly.Module} first
//   {type: "keys", own: {kid, key} | null, members: [{kid, key}], remove: [kid], eraseOwn?}
//       (media keys from elsewhere, without a meeting driver: one key ring
//       for every sender, which does not bind tracks to senders; tests only)
//   {type: "streams", dir, kind, label, participant, readable, writable}
//   {type: "stats", id}
//   {type: "group-create", id, config}         create the meeting driver (tresor/group.js)
//   {type: "group-start", id}                  admitted: vouch for its key, upload a KeyPackage
//   {type: "group-call", id, method, args}     sendChat(text) | rekey() | consent(id, granted) | close()
//   {type: "sig-event", msg}                   a signaling message for the driver
//   {type: "sig-answer", id, answer | error}   the answer to a sig-request
// Messages to the page:
//   {type: "ready", version, outputs} once the module is loaded (negotiate only after it)
//   {type: "error", message}
//   {type: "stats", id, sender, receiver, receiveKeys, driver, tracks}
//   {type: "group-event", event, detail}       the driver's events (tresor.outputs names)
//   {type: "group-result", id, error?}
//   {type: "sig-request", id, request, fields} a signaling request the driver makes

import "./wasm_exec.js";
import { GroupHost } from "./tresor/group.js";
import { SignalingError } from "./tresor/signaling.js";

let api = null;      // globalThis.tresor once the module runs
let sender = null;   // one SFrame sender for all our tracks: one CTR space per KID
let receiver = null; // the key ring of the "keys" message (no driver)
const tracks = new Map(); // label -> counters
const senderTransformers = new Set(); // RTCRtpScriptTransformers of sent video
let ready;

// The page sends {type: "init", module?} first: module is the compiled
// tresor.wasm (a WebAssembly.Module) when the page has one, so the module is
// downloaded and compiled once per page; otherwise the worker fetches it.
let init;
const initMessage = new Promise((resolve) => { init = resolve; });

// testingOnlyCorruptReceiveKeys (from init) replaces every receive key with
// random bytes, so that a test can check that a participant with wrong keys
// decodes nothing. It can only make decryption fail.
let testingOnlyCorruptReceiveKeys = false;

ready = (async () => {
  const { module, testingOnlyCorruptReceiveKeys: corrupt } = await initMessage;
  testingOnlyCorruptReceiveKeys = corrupt === true;
  const go = new (/** @type {any} */ (globalThis).Go)();
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
  self.postMessage({ type: "ready", version: api.version, outputs: api.outputs });
})().catch((e) => {
  self.postMessage({ type: "error", message: "loading tresor.wasm: " + e });
  throw e;
});

function counters(label, dir, kind) {
  let c = tracks.get(label);
  if (!c) {
    c = { dir, kind, frames: 0, ok: 0, dropped: 0, unsupported: 0, empty: 0 };
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

// seal and open go through the meeting driver's key ring once it runs,
// else through the standalone sender and receiver.
function seal(codec, data) {
  const d = host && host.driver;
  return d ? d.encrypt(codec, data) : sender.encrypt(codec, data);
}
function open(codec, data, participant) {
  const d = host && host.driver;
  return d ? d.decrypt(codec, data, participant) : receiver.decrypt(codec, data);
}

function transformer(dir, kind, label, participant, keyFrameRequester) {
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
      if (data.length === 0) {
        // An empty frame (Firefox sends padding-only audio frames) carries
        // nothing to protect or to forge: pass it on, uncounted as an
        // error.
        c.empty++;
        controller.enqueue(frame);
        return;
      }
      const out = dir === "send" ? seal(codec, data) : open(codec, data, participant);
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
  const { dir, kind, label, participant } = options;
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
    .pipeThrough(transformer(dir, kind, String(label), String(participant || ""), requester))
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
  if (msg.eraseOwn) sender.erase(); // no frame leaves sealed with an old key
  for (const m of msg.members || []) {
    if (testingOnlyCorruptReceiveKeys) crypto.getRandomValues(m.key);
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
    keyFrames();
  }
}

function keyFrames() {
  for (const t of senderTransformers) {
    if (t.generateKeyFrame) t.generateKeyFrame().catch(() => {});
  }
}

// The meeting driver runs here (tresor/group.js); its signaling goes
// through the page, which only ever sees opaque MLS messages.
class SignalingRelay {
  #next = 1;
  #pending = new Map();
  request(type, fields = {}) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      self.postMessage({ type: "sig-request", id, request: type, fields });
    });
  }
  answer(m) {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.error) p.reject(new SignalingError(m.error.code, m.error.message));
    else p.resolve(m.answer);
  }
}

let host = null;
let relay = null;
// hostReady resolves once the driver exists; messages for it wait on it,
// in the order they came.
let hostReady = null;

async function groupCreate(msg) {
  await ready;
  if (host) throw new Error("the meeting driver already runs");
  relay = new SignalingRelay();
  host = new GroupHost(api, relay, (event, detail) => {
    // Receivers can decode our video again only from a key frame under
    // the new epoch's key.
    if (event === "epoch_changed") keyFrames();
    self.postMessage({ type: "group-event", event, detail });
  });
  const config = { ...(msg.config || {}) };
  if (testingOnlyCorruptReceiveKeys) config.testingOnlyCorruptReceiveKeys = true;
  host.create(config);
  return host;
}

async function groupStart() {
  if (!host) throw new Error("no meeting driver");
  await host.start();
}

async function groupCall(msg) {
  if (!host) throw new Error("no meeting driver");
  const args = msg.args || [];
  switch (msg.method) {
    case "sendChat": return host.sendChat(String(args[0]));
    case "rekey": return host.rekey();
    case "consent": return host.consent(String(args[0]), args[1] === true);
    case "close": host.close(); host = null; return undefined;
  }
  throw new Error("unknown method");
}

function reply(id, promise) {
  promise.then(
    () => self.postMessage({ type: "group-result", id }),
    (e) => self.postMessage({ type: "group-result", id, error: { code: e.code, message: e.message } }),
  );
}

self.onmessage = async (event) => {
  const msg = event.data || {};
  switch (msg.type) {
    case "group-create":
      hostReady = groupCreate(msg);
      reply(msg.id, hostReady);
      break;
    case "group-start":
      reply(msg.id, (hostReady || Promise.reject(new Error("no meeting driver"))).then(() => groupStart()));
      break;
    case "group-call":
      reply(msg.id, (hostReady || Promise.reject(new Error("no meeting driver"))).then(() => groupCall(msg)));
      break;
    case "sig-event":
      if (hostReady) hostReady.then((h) => h.receive(msg.msg), () => {});
      break;
    case "sig-answer":
      if (relay) relay.answer(msg);
      break;
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
        ...(host && host.driver ? host.driver.stats() : { sender: sender.stats(), receiver: receiver.stats(), receiveKeys: receiver.size() }),
        tracks: Object.fromEntries(tracks),
      });
      break;
  }
};
