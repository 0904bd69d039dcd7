// @ts-check
// Meeting: the browser SDK's one entry point. It joins through signaling
// (waiting room included), runs the meeting driver — the Go client's meeting
// logic compiled into tresor.wasm, in the media worker (mls.js, group.js) —
// and the media (media.js) with every frame end-to-end encrypted in the
// worker (e2ee.js), and exposes the meeting controls of
// signaling/PROTOCOL.md. It has no UI.
//
//   const m = new Meeting({ signal: "/signal", room, token, passcode,
//                           authority: {keys: [backendKeyBase64]}, vouch });
//   m.addEventListener("epoch_changed", (e) => show(e.detail.securityCode, e.detail.members));
//   await m.join(); // "joined", or "waiting" for the host
//
// Events (CustomEvent, details in brackets). From the driver, named as the
// Go client's events (see mls.js): epoch_changed, participant_joined,
// participant_left, group_left, chat_message, consent_requested,
// recording_changed, mismatch, resynced, warning. From the server and the media:
//   waiting {reason, recording}   joined {self, state}      state {state}
//   track {participant, kind, track}   track-ended {participant, track}
//   mute-request {source, by}   track-stopped {source, by}
//   reconnecting {attempt}   resumed {}   resume-failed {code} (then closed)
//   removed {by}   denied {}   ended {by}   going_away {} (the server shuts down)
//   closed {code, reason}   error {message}
//
// Without an authority, members' names are whatever clients chose: every
// member shows verified: false, and the page must say so.
import { Signaling, SignalingError } from "./signaling.js";
import { E2EEWorker } from "./e2ee.js";
import { compileTresor } from "./wasm.js";
import { MLSGroup } from "./mls.js";
import { Media } from "./media.js";

export { SignalingError };

/** The driver's events the Meeting re-dispatches. */
export const DRIVER_EVENTS = ["epoch_changed", "participant_joined", "participant_left", "group_left",
  "chat_message", "consent_requested", "recording_changed", "mismatch", "resynced", "warning"];

/** tokenSubject reads the identity a join token names (unverified: it is our own token). */
function tokenSubject(token) {
  try {
    const p = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(p + "===".slice((p.length + 3) % 4))).sub || "";
  } catch {
    return "";
  }
}

export class Meeting extends EventTarget {
  #sig = null;
  #opts;

  /**
   * @param {{signal: string, room: string, token: string, passcode?: string,
   *          transformAPI?: "script"|"streams", e2eeWorker?: E2EEWorker,
   *          authority?: {keys: string[]},
   *          vouch?: (publicKey: Uint8Array) => Promise<Uint8Array>,
   *          graceMs?: number, rekeyMs?: number}} opts
   * e2eeWorker is a started E2EEWorker to use instead of starting one (the
   * meeting closes it when it ends). authority lists the backend's public
   * keys (base64) that vouch for members in this room; vouch asks the
   * backend to vouch for this client's MLS key (it returns the assertion).
   * Add event listeners, then call join().
   */
  constructor(opts) {
    super();
    this.#opts = opts;
    /** The E2EEWorker: its stats() count frames sealed, opened and dropped. */
    this.e2ee = null;
    this.self = null;     // our participant object (server's view)
    this.state = null;    // the room state (server's view: not the MLS roster)
    this.admitted = false;
    this.group = null;
    this.media = null;
  }

  /**
   * join loads the wasm module and the worker, connects, presents the token
   * (and passcode), and resolves with the server's answer type, "joined" or
   * "waiting"; it rejects with a SignalingError (e.g. code "wrong_passcode").
   */
  async join() {
    const opts = this.#opts;
    const e2ee = await (opts.e2eeWorker || E2EEWorker.start({ api: opts.transformAPI, module: compileTresor() }));
    this.e2ee = e2ee;
    const sig = await Signaling.connect(opts.signal);
    this.#sig = sig;
    const config = { self: tokenSubject(opts.token), vouch: opts.vouch, graceMs: opts.graceMs, rekeyMs: opts.rekeyMs };
    if (opts.authority) config.authority = { keys: opts.authority.keys, room: opts.room };
    this.group = new MLSGroup(e2ee, sig, config);
    for (const t of DRIVER_EVENTS) this.group.addEventListener(t, (e) => this.#emit(t, /** @type {CustomEvent} */ (e).detail));
    const forward = (type, name = type, f = (d) => d) =>
      sig.addEventListener(type, (e) => this.#emit(name, f(e.detail)));
    sig.addEventListener("waiting", (e) => this.#waiting(e.detail));
    sig.addEventListener("joined", (e) => this.#joined(e.detail));
    sig.addEventListener("state", (e) => { this.state = e.detail.state; this.#refreshSelf(); this.#emit("state", { state: this.state }); });
    forward("removed", "removed", (d) => ({ by: d.participant }));
    forward("denied");
    forward("ended", "ended", (d) => ({ by: d.participant }));
    forward("going_away");
    // The session survives a dropped connection (signaling.js): say so.
    forward("reconnecting");
    forward("resumed");
    forward("resume-failed");
    forward("mute_request", "mute-request", (d) => ({ source: d.source, by: d.participant }));
    forward("track_stopped", "track-stopped", (d) => ({ source: d.source, by: d.participant }));
    sig.addEventListener("error", (e) => this.#emit("error", { message: `${e.detail.code}: ${e.detail.message || ""}` }));
    sig.addEventListener("close", (e) => { this.close(); this.#emit("closed", e.detail); });
    const fields = { room: opts.room, token: opts.token };
    if (opts.passcode) fields.passcode = opts.passcode;
    try {
      const answer = await sig.request("join", fields);
      return answer.type;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  #emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  #waiting(msg) { this.#emit("waiting", { reason: msg.reason, recording: msg.recording || {} }); }

  #refreshSelf() {
    if (!this.state || !this.self) return;
    const me = (this.state.participants || []).find((p) => p.identity === this.self.identity);
    if (me) this.self = me;
  }

  async #joined(msg) {
    if (this.admitted) return;
    this.admitted = true;
    this.self = msg.self;
    this.state = msg.state;
    this.media = new Media(this.#sig, this.e2ee, this.self.identity);
    this.media.addEventListener("track", (e) => this.#emit("track", e.detail));
    this.media.addEventListener("track-ended", (e) => this.#emit("track-ended", e.detail));
    this.#emit("joined", { self: this.self, state: this.state });
    try {
      await this.group.start();
      await this.media.start();
    } catch (e) {
      this.#emit("error", { message: e.message });
    }
  }

  /** The display name of a participant identity (server's roster), or the identity. */
  nameOf(identity) {
    const all = [...((this.state && this.state.participants) || []), ...((this.state && this.state.waiting) || [])];
    const p = all.find((x) => x.identity === identity);
    return p && p.name ? p.name : identity;
  }

  get isHost() { return !!this.self && (this.self.role === "host" || this.self.role === "cohost"); }

  // Media.
  /** publish starts sending a track as "camera", "microphone" or "screen" (null stops it). */
  publish(source, track) { return this.media.setTrack(source, track); }
  /** mute pauses a published source without renegotiating. */
  mute(source, muted) { this.media.enable(source, !muted); }

  // Chat: an MLS application message only members can read.
  sendChat(text) { return this.group.sendChat(text); }

  // Host and cohost controls (the server checks the role).
  admit(identity) { return this.#sig.request("admit", { participant: identity }); }
  deny(identity) { return this.#sig.request("deny", { participant: identity }); }
  remove(identity) { return this.#sig.request("remove", { participant: identity }); }
  askToMute(identity, source) { return this.#sig.request("mute", { participant: identity, source }); }
  stopTrack(identity, source) { return this.#sig.request("stop_track", { participant: identity, source }); }
  permit(identity, source, allowed) { return this.#sig.request("permission", { participant: identity, source, allowed }); }
  lock(locked) { return this.#sig.request("lock", { locked }); }
  end() { return this.#sig.request("end"); }
  /** startRecording asks to record on this device; resolves with the new recording ({id, recorder, asked_at, …}). */
  async startRecording() { return (await this.#sig.request("start_recording")).recording; }
  stopRecording() { return this.#sig.request("stop_recording"); }
  /**
   * consent gives (true) or withdraws (false) consent to the recording with
   * this id (consent_requested's recording.id): the server is told, and so,
   * in a signed MLS message naming that recording, is every member.
   * Consent belongs to one recording: the server refuses ("conflict") a
   * consent for one that is no longer current.
   */
  consent(recordingId, granted) { return this.group.consent(recordingId, granted); }

  async leave() {
    try { await this.#sig.request("leave"); } catch { /* closing anyway */ }
    this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.media) this.media.close();
    if (this.group) this.group.close();
    if (this.e2ee) this.e2ee.close();
    if (this.#sig) this.#sig.close();
  }
}
