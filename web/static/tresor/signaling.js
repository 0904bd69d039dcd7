// @ts-check
// The signaling client: one WebSocket carrying Tresor's JSON protocol
// (signaling/PROTOCOL.md, version 1). Requests get an id and a Promise for
// the answer; server events are dispatched as DOM events named after their
// type ("state", "commit", "media", …) with the message as event.detail.

/** base64 (standard, padded) of a Uint8Array, as the protocol carries bytes. */
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The Uint8Array of a base64 string. */
export function fromBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** An error answer from the server: code is one of PROTOCOL.md's error codes. */
export class SignalingError extends Error {
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
  }
}

/** When to acknowledge what was processed (PROTOCOL.md, "Resume"). */
const ACK_EVERY = 32;
const ACK_INTERVAL_MS = 1000;

/**
 * Signaling is one participant's session. It survives a dropped WebSocket:
 * the join answer carries a single-use resume secret, every server message
 * a sequence number; after an unexpected close it reconnects by itself
 * with backoff and resumes within the server's resume window. Messages the
 * server sent meanwhile are replayed, each dispatched exactly once and in
 * order, and unanswered requests are resent, so each is processed once.
 * Events: "reconnecting" {attempt}, "resumed" {}, "resume-failed" {code}
 * (then "close"), and "close" {code, reason} when the session ends.
 */
export class Signaling extends EventTarget {
  /**
   * connect opens the WebSocket. url is ws(s)://…/signal, or a path that is
   * resolved against the page's origin. Secrets never go in the URL.
   */
  static async connect(url, { timeoutMs = 10000 } = {}) {
    const u = new URL(url, location.href);
    if (u.protocol === "http:") u.protocol = "ws:";
    if (u.protocol === "https:") u.protocol = "wss:";
    const ws = await open(u, timeoutMs);
    return new Signaling(ws, u);
  }

  #url;
  #ws;
  #next = 1;
  /** @type {Map<number, {resolve: (m: any) => void, reject: (e: any) => void, data: string}>} */
  #pending = new Map();
  #room = "";
  #resume = "";
  #windowMs = 30000;
  #seq = 0; // the last server message processed
  #acked = 0;
  #ackTimer;
  #ending = false; // leave, removed, denied, ended or close(): no resume

  constructor(ws, url) {
    super();
    this.#url = url;
    this.closed = false;
    /** "connected", "reconnecting" or "closed". */
    this.state = "connected";
    this.#attach(ws);
    this.#ackTimer = setInterval(() => this.#ack(), ACK_INTERVAL_MS);
  }

  #attach(ws) {
    this.#ws = ws;
    ws.onmessage = (e) => this.#receive(e.data);
    ws.onclose = (e) => { if (this.#ws === ws) this.#dropped(e); };
  }

  #dropped(e) {
    if (this.#ending || !this.#resume) {
      this.#finish(e.code, e.reason);
      return;
    }
    this.#reconnect(e).catch(() => {});
  }

  async #reconnect(cause) {
    this.state = "reconnecting";
    const deadline = Date.now() + this.#windowMs;
    for (let attempt = 1, delay = 250; !this.#ending; attempt++, delay = Math.min(delay * 2, 5000)) {
      this.dispatchEvent(new CustomEvent("reconnecting", { detail: { attempt } }));
      try {
        const ws = await open(this.#url, Math.max(1000, deadline - Date.now()));
        const answer = await this.#resumeOn(ws);
        if (answer.type === "error") {
          ws.close(1000);
          this.dispatchEvent(new CustomEvent("resume-failed", { detail: { code: answer.code } }));
          this.#finish(4000, answer.code);
          return;
        }
        this.#resumed(ws, answer);
        return;
      } catch {
        // not back yet
      }
      const wait = delay / 2 + Math.random() * delay / 2;
      if (Date.now() + wait >= deadline) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    this.dispatchEvent(new CustomEvent("resume-failed", { detail: { code: "window_passed" } }));
    this.#finish(cause.code, cause.reason);
  }

  /** resumeOn sends "resume" on a new WebSocket and resolves with the server's answer. */
  #resumeOn(ws) {
    return new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        let m;
        try { m = JSON.parse(e.data); } catch { reject(new Error("bad answer")); return; }
        resolve(m);
      };
      ws.onclose = () => reject(new Error("closed"));
      ws.send(JSON.stringify({ v: 1, type: "resume", room: this.#room, resume: this.#resume, seq: this.#seq }));
    });
  }

  #resumed(ws, answer) {
    this.#resume = answer.resume;
    if (answer.resume_window > 0) this.#windowMs = answer.resume_window;
    this.#attach(ws);
    this.state = "connected";
    this.#acked = -1;
    this.#ack(); // tells the server the new secret arrived
    const lastID = answer.last_id || 0;
    for (const [id, p] of [...this.#pending].sort((a, b) => a[0] - b[0])) {
      if (id > lastID) ws.send(p.data);
    }
    this.dispatchEvent(new CustomEvent("resumed", { detail: {} }));
  }

  #ack() {
    if (this.state !== "connected" || this.#acked === this.#seq) return;
    this.#acked = this.#seq;
    try { this.#ws.send(JSON.stringify({ v: 1, type: "ack", seq: this.#seq })); } catch { /* closing */ }
  }

  #finish(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this.state = "closed";
    clearInterval(this.#ackTimer);
    for (const { reject } of this.#pending.values()) reject(new SignalingError("closed", reason));
    this.#pending.clear();
    this.dispatchEvent(new CustomEvent("close", { detail: { code, reason } }));
  }

  #receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || msg.v !== 1 || typeof msg.type !== "string") return;
    if (typeof msg.seq === "number") {
      if (msg.seq <= this.#seq) return; // replayed, and already processed
      this.#seq = msg.seq;
      if (this.#seq - this.#acked >= ACK_EVERY) this.#ack();
    }
    if (typeof msg.resume === "string" && msg.resume) this.#resume = msg.resume;
    if (msg.resume_window > 0) this.#windowMs = msg.resume_window;
    if (msg.type === "removed" || msg.type === "denied" || msg.type === "ended") this.#ending = true;
    const p = msg.id ? this.#pending.get(msg.id) : undefined;
    if (p) {
      this.#pending.delete(msg.id);
      if (msg.type === "error") p.reject(new SignalingError(msg.code, msg.message));
      else p.resolve(msg);
      // A join answered "waiting" is followed by a "joined" event later.
      if (msg.type !== "joined" && msg.type !== "waiting") return;
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /**
   * request sends {type, …fields} and resolves with the answer (ok, joined,
   * waiting). While reconnecting it is sent once the session resumed.
   */
  request(type, fields = {}) {
    if (this.closed) return Promise.reject(new SignalingError("closed"));
    if (type === "join") this.#room = fields.room || "";
    if (type === "leave") this.#ending = true;
    const id = this.#next++;
    const data = JSON.stringify({ v: 1, type, id, ...fields });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, data });
      if (this.state === "connected") this.#ws.send(data);
    });
  }

  close() {
    this.#ending = true;
    this.#ws.close(1000);
  }
}

/**
 * open opens a WebSocket and resolves once it is open.
 * @param {URL} u
 * @param {number} timeoutMs
 * @returns {Promise<WebSocket>}
 */
function open(u, timeoutMs) {
  const ws = new WebSocket(u);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.close(); reject(new Error("tresor: signaling connection timed out")); }, timeoutMs);
    ws.onopen = () => { clearTimeout(timer); resolve(ws); };
    ws.onerror = () => { clearTimeout(timer); reject(new Error("tresor: cannot reach the signaling server")); };
  });
}
