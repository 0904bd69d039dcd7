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

export class Signaling extends EventTarget {
  /**
   * connect opens the WebSocket. url is ws(s)://…/signal, or a path that is
   * resolved against the page's origin. Secrets never go in the URL.
   */
  static connect(url, { timeoutMs = 10000 } = {}) {
    const u = new URL(url, location.href);
    if (u.protocol === "http:") u.protocol = "ws:";
    if (u.protocol === "https:") u.protocol = "wss:";
    const ws = new WebSocket(u);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ws.close(); reject(new Error("tresor: signaling connection timed out")); }, timeoutMs);
      ws.onopen = () => { clearTimeout(timer); resolve(new Signaling(ws)); };
      ws.onerror = () => { clearTimeout(timer); reject(new Error("tresor: cannot reach the signaling server")); };
    });
  }

  #ws;
  #next = 1;
  #pending = new Map();

  constructor(ws) {
    super();
    this.#ws = ws;
    this.closed = false;
    ws.onmessage = (e) => this.#receive(e.data);
    ws.onclose = (e) => {
      this.closed = true;
      for (const { reject } of this.#pending.values()) reject(new SignalingError("closed", e.reason));
      this.#pending.clear();
      this.dispatchEvent(new CustomEvent("close", { detail: { code: e.code, reason: e.reason } }));
    };
  }

  #receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || msg.v !== 1 || typeof msg.type !== "string") return;
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

  /** request sends {type, …fields} and resolves with the answer (ok, joined, waiting). */
  request(type, fields = {}) {
    if (this.closed) return Promise.reject(new SignalingError("closed"));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ v: 1, type, id, ...fields }));
    });
  }

  close() { this.#ws.close(1000); }
}
