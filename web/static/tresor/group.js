// The MLS side of a meeting (RFC 9420 via tresor.wasm). It runs inside the
// media worker (../worker.js; the page talks to it through mls.js), so its
// secrets and the media keys never reach the page. It creates this
// client's identity and KeyPackage, founds or joins the group, commits what
// the delivery service asks for, processes others' Commits and chat, and on
// every new epoch hands the SFrame keys (RFC 9605 §5.2) to the media worker.
//
// Conventions shared with the Go client (package tresor): a member's MLS
// credential name is its signaling identity; an Add is committed only if the
// KeyPackage names the participant it is for; a Remove names members by it.
//
// Events: "epoch" {epoch, code, members}, "chat" {from, text, epoch},
// "left-group" {}, "error" {message}.
import { check } from "./wasm.js";
import { fromBase64, toBase64, SignalingError } from "./signaling.js";

export class Group extends EventTarget {
  #api;
  #sig;
  #e2ee;
  #identity;
  #kp = null;
  #group = null;
  #oldKids = [];
  #graceMs;
  #rekeyMs;
  #rekeyTimer = null;

  /**
   * @param api the wasm API (globalThis.tresor in the worker)
   * @param sig a Signaling client of an admitted participant
   * @param e2ee an E2EEWorker, or null for a client without media
   * @param selfIdentity the signaling identity (the credential name)
   */
  constructor(api, sig, e2ee, selfIdentity, { graceMs = 5000, rekeyMs = 5 * 60 * 1000 } = {}) {
    super();
    this.#api = api;
    this.#sig = sig;
    this.#e2ee = e2ee;
    this.#graceMs = graceMs;
    this.#rekeyMs = rekeyMs;
    this.#identity = check(api.newIdentity(selfIdentity));
    this.epoch = null;
    this.securityCode = "";
    this.members = [];
    sig.addEventListener("group_create", () => this.#serial(() => this.#create()));
    sig.addEventListener("welcome", (e) => this.#serial(() => this.#welcome(e.detail)));
    sig.addEventListener("commit_request", (e) => this.#serial(() => this.#commitRequested(e.detail)));
    sig.addEventListener("commit", (e) => this.#serial(() => this.#commitReceived(e.detail)));
    sig.addEventListener("chat", (e) => this.#serial(() => this.#chat(e.detail)));
  }

  // serial runs group operations one at a time, in arrival order, each to
  // its end — including a Commit's round trip to the delivery service. Without
  // it, a second commit_request arriving while a Commit is in flight would
  // replace the pending Commit, and the server's "ok" for the first would
  // merge the second: this member would leave the group's history. (The Go
  // client gets the same order from its single owner goroutine.)
  #queue = Promise.resolve();
  #serial(f) {
    const run = this.#queue.then(f);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** start uploads a fresh KeyPackage: the delivery service then adds us. */
  start() {
    // The KeyPackage exists before the upload, so a group_create or Welcome
    // answering it finds it; the upload itself is not serialized (the answer
    // may come after those events, which wait their turn).
    this.#kp = check(this.#api.newKeyPackage(this.#identity));
    return this.#sig.request("key_package", { data: toBase64(check(this.#kp.bytes())) });
  }

  get active() { return this.#group !== null && check(this.#group.active()); }

  /** self is this client's member entry {leaf, name}. */
  get self() { return this.#group ? check(this.#group.self()) : null; }

  /** sendChat seals text for the current epoch and sends it. */
  sendChat(text) {
    return this.#serial(async () => {
      if (!this.active) throw new Error("tresor: not a member of the group yet");
      const data = check(this.#group.seal(new TextEncoder().encode(text)));
      await this.#sig.request("chat", { epoch: this.epoch, data: toBase64(data) });
    });
  }

  /** rekey commits an empty Commit (a periodic update, RFC 9420 §12.4). */
  rekey() {
    return this.#serial(async () => {
      if (!this.active) return;
      try {
        await this.#commit([], [], []);
      } catch (e) {
        if (!(e instanceof SignalingError && e.code === "conflict")) throw e;
      }
    });
  }

  #fail(message) { this.dispatchEvent(new CustomEvent("error", { detail: { message } })); }

  #create() {
    if (this.#group || !this.#kp) return;
    this.#group = check(this.#api.newGroup(this.#identity));
    this.#kp.close();
    this.#kp = null;
    this.#newEpoch();
  }

  #welcome(msg) {
    if (this.#group || !this.#kp) return;
    try {
      this.#group = check(this.#api.joinGroup(this.#identity, this.#kp, fromBase64(msg.data)));
    } catch (e) {
      this.#fail("rejected Welcome: " + e.message);
      return;
    }
    this.#kp.close();
    this.#kp = null;
    this.#newEpoch();
  }

  async #commitRequested(msg) {
    if (!this.active || msg.epoch !== this.epoch) return;
    const self = this.self.leaf;
    const members = check(this.#group.members());
    const ids = [], adds = [], removes = [];
    for (const p of msg.pending || []) {
      if (p.kind === "add") {
        const kp = fromBase64(p.key_package || "");
        // Refuse a KeyPackage that is invalid (RFC 9420 §10.1) or names
        // another client than the participant the server says it is for.
        const who = this.#api.verifyKeyPackage(kp);
        if (who.error !== undefined || who.name !== p.participant) {
          this.#fail(`refused a KeyPackage for ${p.participant}`);
          continue;
        }
        ids.push(p.id);
        adds.push(kp);
      } else if (p.kind === "remove") {
        ids.push(p.id);
        for (const m of members) {
          if (m.name === p.participant && m.leaf !== self && !removes.includes(m.leaf)) removes.push(m.leaf);
        }
      }
    }
    if (ids.length === 0) return;
    try {
      await this.#commit(ids, adds, removes);
    } catch (e) {
      if (!(e instanceof SignalingError && e.code === "conflict")) this.#fail("commit failed: " + e.message);
    }
  }

  async #commit(ids, adds, removes) {
    if (check(this.#group.hasPendingCommit())) check(this.#group.clearPendingCommit());
    const epoch = this.epoch;
    const c = check(this.#group.createCommit(adds, removes));
    const fields = { epoch, proposals: ids, data: toBase64(c.message) };
    if (c.welcome) fields.welcome = toBase64(c.welcome);
    try {
      await this.#sig.request("commit", fields);
    } catch (e) {
      check(this.#group.clearPendingCommit());
      throw e;
    }
    check(this.#group.mergePendingCommit());
    this.#newEpoch();
  }

  #commitReceived(msg) {
    if (!this.active) return;
    if (msg.epoch !== this.epoch) return; // late, or we missed one: the server orders them
    try {
      check(this.#group.process(fromBase64(msg.data)));
    } catch (e) {
      this.#fail("rejected Commit: " + e.message);
      return;
    }
    if (!check(this.#group.active())) {
      // Removed from the group: no key of the new epoch, and the old ones
      // are erased now, not after the grace period.
      if (this.#e2ee) this.#e2ee.setKeys({ remove: this.#oldKids, eraseOwn: true });
      this.#oldKids = [];
      this.dispatchEvent(new CustomEvent("left-group"));
      return;
    }
    this.#newEpoch();
  }

  #chat(msg) {
    if (!this.active) return;
    let m;
    try {
      m = check(this.#group.process(fromBase64(msg.data)));
    } catch (e) {
      this.#fail("rejected chat message: " + e.message);
      return;
    }
    if (m.kind !== "application") return;
    const text = new TextDecoder().decode(m.data);
    this.dispatchEvent(new CustomEvent("chat", { detail: { from: m.sender.name, text, epoch: msg.epoch } }));
  }

  // newEpoch installs the epoch's SFrame keys in the worker (our sender
  // switches at once; the previous epoch's receive keys stay for a grace
  // period, for frames in flight) and publishes the roster and code.
  #newEpoch() {
    const g = this.#group;
    this.epoch = check(g.epoch());
    this.members = check(g.members()).map((m) => ({ leaf: m.leaf, name: m.name }));
    this.securityCode = check(g.securityCode());
    if (this.#e2ee) {
      const k = check(g.sframeKeys());
      const kids = k.members.map((m) => m.kid);
      const old = this.#oldKids.filter((kid) => !kids.includes(kid));
      this.#oldKids = kids;
      this.#e2ee.setKeys({ own: { kid: k.own.kid, key: k.own.key }, members: k.members.map((m) => ({ kid: m.kid, key: m.key })) });
      if (old.length) setTimeout(() => this.#e2ee.setKeys({ remove: old }), this.#graceMs);
    }
    // Post-compromise security: an empty Commit every few minutes replaces
    // our path keys (as the Go client does), staggered by leaf so members
    // do not all commit at once; any new epoch restarts the timer.
    clearTimeout(this.#rekeyTimer);
    if (this.#rekeyMs > 0) {
      const self = check(g.self()).leaf;
      this.#rekeyTimer = setTimeout(() => this.rekey().catch(() => {}),
        this.#rekeyMs + (this.#rekeyMs * (self % 16)) / 32);
    }
    this.dispatchEvent(new CustomEvent("epoch", {
      detail: { epoch: this.epoch, code: this.securityCode, members: this.members },
    }));
  }

  close() {
    clearTimeout(this.#rekeyTimer);
    if (this.#group) this.#group.close();
    if (this.#kp) this.#kp.close();
    this.#identity.close();
    this.#group = this.#kp = null;
  }
}
