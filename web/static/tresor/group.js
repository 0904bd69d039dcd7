// @ts-check
// The worker's side of the meeting logic: plumbing only. The logic itself —
// the MLS group, the roster, recording consent, checking the server — is
// the Go client's own driver (internal/core) compiled into tresor.wasm, so
// the browser and the Go client run one implementation. This file feeds the
// driver the server's messages, the clock and the user's intents, sends the
// requests it returns through the page (the relay), reports its answers,
// and forwards its events. Keys never leave the driver: it installs them in
// its own key ring, which seals and opens the media frames (worker.js).
//
// Events posted to the page: {name, detail} with name one of the driver's
// output names (tresor.outputs, e.g. "epoch_changed", "chat_message",
// "consent_requested", "recording_changed", "mismatch", "group_left",
// "warning"), detail the output as JSON.
import { check } from "./wasm.js";
import { fromBase64, toBase64 } from "./signaling.js";

/** Requests the driver makes, by output name: the signaling request type. */
const REQUESTS = {
  send_key_package: "key_package",
  send_commit: "commit",
  send_chat: "chat",
  send_consent: "consent",
  send_group_info: "group_info",
  send_get_group_info: "get_group_info",
};
/** Outputs the driver applies itself (keys), not forwarded. */
const INTERNAL = new Set(["install_keys", "expire_keys", "erase_keys"]);

export class GroupHost {
  #api;
  #relay;
  #emit;
  /** @type {any} */ #driver = null;
  /** @type {ReturnType<typeof setTimeout> | null} */ #timer = null;
  #vouch = false;
  #now;

  /**
   * @param {any} api the wasm API (globalThis.tresor in the worker)
   * @param {{request: (type: string, fields?: object) => Promise<any>}} relay sends a signaling request through the page
   * @param {(name: string, detail: object) => void} emit posts an event to the page
   * @param {() => number} [now] the clock, in Unix milliseconds
   */
  constructor(api, relay, emit, now = Date.now) {
    this.#api = api;
    this.#relay = relay;
    this.#emit = emit;
    this.#now = now;
  }

  /** The driver, for the media transforms (encrypt, decrypt); null before start. */
  get driver() { return this.#driver; }

  /**
   * create makes the driver; it then reads the server's messages (in the
   * waiting room too).
   * @param {{self: string, authority?: {keys: string[], room: string}, vouch?: boolean,
   *          graceMs?: number, rekeyMs?: number, testingOnlySeed?: number,
   *          testingOnlyCorruptReceiveKeys?: boolean}} config authority keys in base64
   */
  create(config) {
    if (this.#driver) throw new Error("tresor: the driver already runs");
    /** @type {any} */
    const c = { ...config };
    if (config.authority) c.authority = { room: config.authority.room, keys: config.authority.keys.map(fromBase64) };
    this.#driver = check(this.#api.newDriver(c));
    this.#vouch = !!config.vouch;
  }

  /**
   * start, once admitted: with vouch, has the backend vouch for the
   * driver's key (the page answers the "vouch" request), then uploads the
   * KeyPackage.
   */
  async start() {
    if (!this.#driver) throw new Error("tresor: no driver");
    if (this.#vouch) {
      const a = await this.#relay.request("vouch", { publicKey: toBase64(this.#driver.publicKey()) });
      check(this.#driver.setAssertion(fromBase64(a.assertion)));
    }
    await this.#run(this.#driver.start(this.#now()));
  }

  /** receive hands the driver a message from the server (the protocol's JSON object). */
  receive(msg) {
    if (this.#driver) this.#run(this.#driver.receive(this.#now(), JSON.stringify(msg))).catch(() => {});
  }

  /** sendChat, rekey, consent: the user's intents. Each resolves once its first request is answered. */
  sendChat(text) { return this.#call((d, now) => d.sendChat(now, String(text))); }
  rekey() { return this.#call((d, now) => d.rekey(now)); }
  consent(id, granted) { return this.#call((d, now) => d.consent(now, String(id), !!granted)); }

  #call(f) {
    if (!this.#driver) return Promise.reject(new Error("tresor: not in the meeting yet"));
    return this.#run(f(this.#driver, this.#now()));
  }

  /**
   * run carries out the driver's outputs; it resolves with the answer to
   * the first request among them (at once if there is none).
   * @param {string | {error: string}} result
   */
  #run(result) {
    const outs = JSON.parse(check(result));
    /** @type {Promise<any> | null} */
    let first = null;
    for (const o of outs) {
      const req = REQUESTS[o.type];
      if (req) {
        const { type, ...fields } = o;
        let p = this.#relay.request(req, fields);
        if (o.type === "send_get_group_info") {
          // The answer feeds the resync (RFC 9420 §12.4.3.2).
          p = p.then(
            (a) => this.#run(this.#driver.groupInfoResult(this.#now(), a.epoch || 0, a.data ? fromBase64(a.data) : null, "")),
            (e) => this.#run(this.#driver.groupInfoResult(this.#now(), 0, null, e.code || "unanswered")),
          );
        }
        if (o.type === "send_commit") {
          p = p.then(
            () => this.#run(this.#driver.commitResult(this.#now(), true, "")),
            (e) => this.#run(this.#driver.commitResult(this.#now(), false, e.code || "unanswered")).then(() => { throw e; }),
          );
        }
        if (!first) first = p;
        else p.catch(() => {});
      } else if (!INTERNAL.has(o.type)) {
        const { type, ...detail } = o;
        this.#emit(type, detail);
      }
    }
    this.#schedule();
    return first || Promise.resolve();
  }

  #schedule() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const at = this.#driver ? this.#driver.deadline() : 0;
    if (at > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        if (this.#driver) this.#run(this.#driver.tick(this.#now())).catch(() => {});
      }, Math.max(0, at - this.#now()));
    }
  }

  close() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#driver) this.#driver.close();
    this.#driver = null;
  }
}
