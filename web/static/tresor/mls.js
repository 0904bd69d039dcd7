// @ts-check
// The page's handle on the meeting driver — the Go client's meeting logic
// (internal/core) compiled into tresor.wasm — which runs inside the media
// worker (../worker.js with group.js): the MLS group's secrets and the media
// keys stay in the worker. The page relays the driver's signaling — opaque
// MLS messages — between the server and the worker, and gets the public
// results as events named like the Go client's (the driver's output names):
//
//   epoch_changed {epoch, securityCode, members}   chat_message {from, epoch, text}
//   participant_joined {member}   participant_left {member}   group_left {}
//   consent_requested {recording, recorder, waiting}
//   recording_changed {recording, verified, missing}
//   mismatch {kind, participants, serverEpoch, epoch}   resynced {epoch}   warning {message}
//
// A member is {leaf, identity, name, verified}: verified when the backend
// vouched for it (with an authority); the roster to show is members, never
// the server's list.
import { SignalingError } from "./signaling.js";

/** The server messages the driver reads. */
const DRIVER_SIGNALS = ["joined", "state", "waiting", "group_create", "commit_request", "commit", "welcome", "chat", "error"];

export class MLSGroup extends EventTarget {
  #worker;
  #sig;
  #vouch;
  #next = 1;
  #pending = new Map();

  /**
   * @param {any} worker a started E2EEWorker
   * @param {any} sig the Signaling client
   * @param {{self: string, authority?: {keys: string[], room: string},
   *          vouch?: (publicKey: Uint8Array) => Promise<Uint8Array>,
   *          graceMs?: number, rekeyMs?: number}} config
   * self is this participant's identity (its token's subject). authority
   * names the backend's public keys (base64) that vouch for members; vouch
   * asks the backend for this client's assertion.
   */
  constructor(worker, sig, config) {
    super();
    this.#worker = worker;
    this.#sig = sig;
    this.#vouch = config.vouch || null;
    /** @type {number | null} */ this.epoch = null;
    this.securityCode = "";
    /** @type {any[]} */ this.members = [];
    this.active = false;
    /** The recording as the group proves it: {recording, verified, missing}. */
    this.recording = null;
    for (const t of DRIVER_SIGNALS) {
      sig.addEventListener(t, (e) => worker.post({ type: "sig-event", msg: e.detail }));
    }
    worker.addEventListener("group", (e) => this.#fromWorker(e.detail));
    const { vouch, ...rest } = config;
    this.ready = this.#call({ type: "group-create", config: { ...rest, vouch: !!vouch } });
  }

  #fromWorker(m) {
    switch (m.type) {
      case "sig-request":
        this.#request(m.request, m.fields).then(
          (answer) => this.#worker.post({ type: "sig-answer", id: m.id, answer }),
          (e) => this.#worker.post({ type: "sig-answer", id: m.id, error: { code: e.code || "internal", message: e.message } }),
        );
        break;
      case "group-event":
        this.#state(m.event, m.detail);
        this.dispatchEvent(new CustomEvent(m.event, { detail: m.detail }));
        break;
      case "group-result": {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        if (m.error) p.reject(m.error.code ? new SignalingError(m.error.code, m.error.message) : new Error(m.error.message));
        else p.resolve();
        break;
      }
    }
  }

  /** A request of the driver: signaling, or "vouch" for the backend. */
  async #request(type, fields) {
    if (type !== "vouch") return this.#sig.request(type, fields);
    if (!this.#vouch) throw new Error("tresor: no vouch callback");
    const key = Uint8Array.from(atob(fields.publicKey), (c) => c.charCodeAt(0));
    const a = await this.#vouch(key);
    let s = "";
    for (const x of a) s += String.fromCharCode(x);
    return { assertion: btoa(s) };
  }

  #state(event, d) {
    if (event === "epoch_changed") {
      this.epoch = d.epoch;
      this.securityCode = d.securityCode;
      this.members = d.members;
      this.active = true;
    } else if (event === "group_left") {
      this.active = false;
      this.securityCode = "";
    } else if (event === "recording_changed") {
      this.recording = d;
    }
  }

  #call(msg) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.post({ ...msg, id });
    });
  }

  /** start has the backend vouch for the key (with vouch) and uploads a KeyPackage: call it once admitted. */
  async start() {
    await this.ready;
    return this.#call({ type: "group-start" });
  }

  /** sendChat seals text for the current epoch (in the worker) and sends it. */
  sendChat(text) { return this.#call({ type: "group-call", method: "sendChat", args: [String(text)] }); }

  /** rekey commits an empty Commit (a periodic update, RFC 9420 §12.4). */
  rekey() { return this.#call({ type: "group-call", method: "rekey", args: [] }); }

  /** consent answers a recording: to the server, and signed to the group. */
  consent(recordingId, granted) { return this.#call({ type: "group-call", method: "consent", args: [String(recordingId), !!granted] }); }

  close() {
    this.active = false;
    this.#call({ type: "group-call", method: "close", args: [] }).catch(() => {});
  }
}
