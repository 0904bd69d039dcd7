// @ts-check
// Media end-to-end encryption for a page: starts the worker (../worker.js),
// which runs tresor.wasm — SFrame from the Go e2ee package and, through
// mls.js, the MLS group from the Go keys package — and attaches it to
// RTCRtpSenders and RTCRtpReceivers with whichever API the browser has:
//   - RTCRtpScriptTransform (WebRTC Encoded Transform; Safari, Firefox,
//     recent Chromium), preferred;
//   - createEncodedStreams() (Chromium), which needs every RTCPeerConnection
//     created with {encodedInsertableStreams: true} — use peerConnectionConfig().

/** Which encoded-transform API this browser offers: "script", "streams" or null. */
export function detectTransformAPI() {
  if (typeof RTCRtpScriptTransform !== "undefined") return "script";
  if (typeof RTCRtpSender !== "undefined" && "createEncodedStreams" in RTCRtpSender.prototype) {
    return "streams";
  }
  return null;
}

export class E2EEWorker extends EventTarget {
  /**
   * start creates the worker and resolves once it has loaded the wasm module.
   * Negotiate media only after that: frames that reach the worker earlier
   * would wait, and a video decoder that misses frames needs a key frame.
   * @param {{api?: "script"|"streams", workerURL?: string|URL,
   *          module?: WebAssembly.Module|Promise<WebAssembly.Module>,
   *          testingOnlyCorruptReceiveKeys?: boolean}} [opts]
   * module is the compiled tresor.wasm to instantiate in the worker (see
   * compileTresor in wasm.js); without it the worker fetches the file.
   * testingOnlyCorruptReceiveKeys makes the worker replace every receive key
   * with random bytes (for tests of what a wrong key does).
   */
  static async start(opts = {}) {
    const api = opts.api || detectTransformAPI();
    if (api !== "script" && api !== "streams") {
      throw new Error("tresor: this browser cannot transform encoded media, so it cannot join an end-to-end encrypted meeting");
    }
    const url = opts.workerURL || new URL("../worker.js", import.meta.url);
    const worker = new Worker(url, { type: "module", name: "tresor-e2ee" });
    const w = new E2EEWorker(worker, api);
    let module;
    try {
      module = await opts.module;
    } catch {
      module = undefined; // the worker fetches it itself
    }
    worker.postMessage({ type: "init", module, testingOnlyCorruptReceiveKeys: opts.testingOnlyCorruptReceiveKeys === true });
    await w.#ready;
    return w;
  }

  #worker;
  #ready;
  #pending = new Map();
  #nextId = 1;

  constructor(worker, api) {
    super();
    this.#worker = worker;
    /** The encoded-transform API in use: "script" or "streams". */
    this.api = api;
    /** Errors the worker reported (strings). */
    this.errors = [];
    this.#ready = new Promise((resolve, reject) => {
      worker.addEventListener("message", (e) => {
        const m = e.data;
        if (m.type === "ready") {
          this.version = m.version;
          resolve();
        } else if (m.type === "error") {
          this.errors.push(m.message);
          reject(new Error(m.message));
        } else if (m.type === "sig-request" || m.type === "group-event" || m.type === "group-result") {
          // The meeting driver in the worker (see mls.js).
          this.dispatchEvent(new CustomEvent("group", { detail: m }));
        } else if (m.id !== undefined && this.#pending.has(m.id)) {
          this.#pending.get(m.id)(m);
          this.#pending.delete(m.id);
        }
      });
      worker.addEventListener("error", (e) => reject(new Error("tresor: worker failed: " + e.message)));
    });
  }

  /** RTCPeerConnection options the chosen API needs. */
  peerConnectionConfig(config = {}) {
    return this.api === "streams" ? { ...config, encodedInsertableStreams: true } : config;
  }

  #request(msg, transfer = []) {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ ...msg, id }, transfer);
    });
  }

  #attach(endpoint, dir, kind, label, participant = "") {
    const options = { dir, kind, label: String(label), participant: String(participant) };
    if (this.api === "script") {
      endpoint.transform = new RTCRtpScriptTransform(this.#worker, options);
    } else {
      const { readable, writable } = endpoint.createEncodedStreams();
      this.#worker.postMessage({ type: "streams", ...options, readable, writable }, [readable, writable]);
    }
  }

  /** Encrypt everything rtpSender sends. Call right after addTrack/addTransceiver. */
  attachSender(rtpSender, kind, label) { this.#attach(rtpSender, "send", kind, label); }

  /**
   * Decrypt everything rtpReceiver receives, with the keys of participant
   * only (the identity the SFU labelled the track with): a relabelled
   * track's frames do not open. Call in the track event, synchronously.
   */
  attachReceiver(rtpReceiver, kind, label, participant) { this.#attach(rtpReceiver, "recv", kind, label, participant); }

  /**
   * setKeys installs SFrame base keys: own is {kid, key} for what we send,
   * members [{kid, key}] for what we receive, remove lists KIDs to erase,
   * eraseOwn erases the sending key (nothing is sent until the next own).
   * The key arrays are transferred to the worker (and zeroed there).
   */
  setKeys({ own = null, members = [], remove = [], eraseOwn = false }) {
    const transfer = [];
    if (own) transfer.push(own.key.buffer);
    for (const m of members) transfer.push(m.key.buffer);
    return this.#request({ type: "keys", own, members, remove, eraseOwn }, transfer);
  }

  /** post sends a message to the worker (for mls.js). */
  post(msg) { this.#worker.postMessage(msg); }

  /** Counters: {sender, receiver, tracks: {label: {dir, kind, frames, ok, dropped}}}. */
  stats() { return this.#request({ type: "stats" }); }

  close() { this.#worker.terminate(); }
}
