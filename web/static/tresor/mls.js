// The page's handle on the MLS group, which runs inside the media worker
// (../worker.js with group.js): the group's secrets and the media keys it
// exports stay in the worker. The page relays the group's signaling — opaque
// MLS messages — between the server and the worker, and gets the public
// results: epoch, security code, roster, decrypted chat.
//
// Events: "epoch" {epoch, code, members}, "chat" {from, text, epoch},
// "left-group" {}, "error" {message}.
import { SignalingError } from "./signaling.js";

const GROUP_SIGNALS = ["group_create", "welcome", "commit_request", "commit", "chat"];

export class MLSGroup extends EventTarget {
  #worker;
  #sig;
  #self;
  #next = 1;
  #pending = new Map();

  /**
   * @param worker a started E2EEWorker
   * @param sig the Signaling client of an admitted participant
   * @param selfIdentity the signaling identity (the MLS credential name)
   */
  constructor(worker, sig, selfIdentity, options = {}) {
    super();
    this.#worker = worker;
    this.#sig = sig;
    this.#self = selfIdentity;
    this.options = options;
    this.epoch = null;
    this.securityCode = "";
    this.members = [];
    this.active = false;
    for (const t of GROUP_SIGNALS) {
      sig.addEventListener(t, (e) => worker.post({ type: "sig-event", msg: e.detail }));
    }
    worker.addEventListener("group", (e) => this.#fromWorker(e.detail));
  }

  #fromWorker(m) {
    switch (m.type) {
      case "sig-request":
        this.#sig.request(m.request, m.fields).then(
          (answer) => this.#worker.post({ type: "sig-answer", id: m.id, answer }),
          (e) => this.#worker.post({ type: "sig-answer", id: m.id, error: { code: e.code || "internal", message: e.message } }),
        );
        break;
      case "group-event":
        if (m.event === "epoch") {
          this.epoch = m.detail.epoch;
          this.securityCode = m.detail.code;
          this.members = m.detail.members;
          this.active = true;
        } else if (m.event === "left-group") {
          this.active = false;
          this.securityCode = "";
        }
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

  #call(msg) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.post({ ...msg, id });
    });
  }

  /** start creates the identity and uploads a KeyPackage (in the worker). */
  start() { return this.#call({ type: "group-start", self: this.#self, options: this.options }); }

  /** sendChat seals text for the current epoch (in the worker) and sends it. */
  sendChat(text) { return this.#call({ type: "group-call", method: "sendChat", args: [String(text)] }); }

  /** rekey commits an empty Commit (a periodic update, RFC 9420 §12.4). */
  rekey() { return this.#call({ type: "group-call", method: "rekey", args: [] }); }

  close() {
    this.active = false;
    this.#call({ type: "group-call", method: "close", args: [] }).catch(() => {});
  }
}
