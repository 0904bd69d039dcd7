// @ts-check
// Media through the SFU with two peer connections (signaling/PROTOCOL.md,
// "Media"): on "publish" this client offers its camera, microphone and
// screen; on "subscribe" the SFU offers everyone else's tracks. Every frame
// goes through the E2EEWorker: sealed before packetization, opened after
// reassembly. Video is VP8 (the codec whose clear prefix e2ee knows), audio
// Opus.
//
// Events: "track" {participant, kind, track, receiver, streamId},
// "track-ended" {participant, track}, "ice-restart" {target, attempt},
// "ice-recovered" {target, downMs}.
//
// Recovery by ICE restart (RFC 8445 §9), as the Go client does it
// (recovery.go): when a connection stays "disconnected" for RESTART_DELAY
// or goes "failed", ICE is restarted on the same connection, keeping the
// tracks, the keys and the SFU session: on "publish" with a new offer
// ({iceRestart: true}), on "subscribe" by asking the SFU ({kind:
// "restart"}) for an ICE-restart offer. Attempts repeat while the
// connection stays down, each waiting 1-2 s for ICE from when its remote
// description (the SFU's answer or offer) is applied; the SFU requests key
// frames once the connection is back.

const PUBLISH = "publish";
const SUBSCRIBE = "subscribe";

// RESTART_DELAY: how long a "disconnected" connection may come back by
// itself before ICE is restarted (a restart discards the old path).
const RESTART_DELAY = 1500;

// restartWindow is how long attempt k (from 0) waits for ICE to connect
// before the next restart: 1 s, 1.5 s, then 2 s (an attempt's checks run
// for a few seconds at most; longer windows would leave gaps with no
// check under way when the network comes back).
const restartWindow = (k) => Math.min(1000 + 500 * k, 2000);

// ufragOfSDP returns the first a=ice-ufrag of an SDP, or "".
function ufragOfSDP(sdp) {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp || "");
  return m ? m[1] : "";
}

// ufragOfCandidate returns the ICE session (ufrag) a candidate belongs to:
// its usernameFragment, else the "ufrag" extension of its candidate line
// (RFC 8839 §5.1), else "".
function ufragOfCandidate(init) {
  if (init.usernameFragment) return init.usernameFragment;
  const f = (init.candidate || "").replace(/^candidate:/, "").trim().split(/\s+/);
  if (f.length < 8 || f[6] !== "typ") return "";
  for (let i = 8; i + 1 < f.length; i += 2) if (f[i] === "ufrag") return f[i + 1];
  return "";
}

export class Media extends EventTarget {
  #sig;
  #e2ee;
  #pending = { [PUBLISH]: [], [SUBSCRIBE]: [] };
  #senders = {}; // source -> {transceiver, track}
  #negotiating = Promise.resolve();
  #closed = false;
  #recovering = { [PUBLISH]: false, [SUBSCRIBE]: false };

  /**
   * @param sig the Signaling client (admitted)
   * @param e2ee a started E2EEWorker
   * @param selfIdentity our identity: the stream id of what we publish
   */
  constructor(sig, e2ee, selfIdentity, { iceServers = [] } = {}) {
    super();
    this.#sig = sig;
    this.#e2ee = e2ee;
    this.self = selfIdentity;
    const cfg = e2ee.peerConnectionConfig({ iceServers, bundlePolicy: "max-bundle" });
    this.publish = new RTCPeerConnection(cfg);
    this.subscribe = new RTCPeerConnection(cfg);
    this.stream = new MediaStream(); // what we publish; its id is not used by the SFU
    /** @type {[RTCPeerConnection, string][]} */
    const conns = [[this.publish, PUBLISH], [this.subscribe, SUBSCRIBE]];
    for (const [pc, target] of conns) {
      pc.onicecandidate = (e) => {
        const c = e.candidate;
        const signal = c
          ? { kind: "candidate", target, candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment }
          : { kind: "candidate", target, candidate: "" };
        this.#send(signal);
      };
    }
    this.subscribe.ontrack = (e) => this.#onTrack(e);
    for (const [pc, target] of conns) {
      pc.addEventListener("iceconnectionstatechange", () => {
        const st = pc.iceConnectionState;
        if (st === "disconnected" || st === "failed") this.#recover(target, pc);
      });
    }
    sig.addEventListener("media", (e) => this.#onSignal(e.detail.signal).catch((err) => console.warn("tresor media:", err)));
  }

  #send(signal) {
    return this.#sig.request("media", { signal }).catch((e) => console.warn("tresor media signal:", e.message));
  }

  /** start negotiates the publish connection (with a recvonly audio section if we send nothing yet). */
  async start() {
    if (this.publish.getTransceivers().length === 0) {
      this.publish.addTransceiver("audio", { direction: "recvonly" });
    }
    await this.#renegotiate();
  }

  /**
   * setTrack publishes track as source ("camera", "microphone", "screen"),
   * replacing the previous track of that source; null stops it.
   */
  async setTrack(source, track) {
    const cur = this.#senders[source];
    if (cur) {
      if (track) {
        await cur.transceiver.sender.replaceTrack(track);
        cur.track = track;
        await this.#send({ kind: "track", trackId: track.id, source });
        return;
      }
      await cur.transceiver.sender.replaceTrack(null);
      cur.transceiver.direction = "inactive";
      delete this.#senders[source];
      await this.#renegotiate();
      return;
    }
    if (!track) return;
    const tr = this.publish.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
    this.#e2ee.attachSender(tr.sender, track.kind, `${this.self}/${source}`);
    if (track.kind === "video") {
      const vp8 = RTCRtpSender.getCapabilities("video").codecs.filter((c) => /\/vp8$/i.test(c.mimeType));
      if (vp8.length) tr.setCodecPreferences(vp8);
    } else {
      const opus = RTCRtpSender.getCapabilities("audio").codecs.filter((c) => /\/opus$/i.test(c.mimeType));
      if (opus.length) tr.setCodecPreferences(opus);
    }
    this.#senders[source] = { transceiver: tr, track };
    await this.#renegotiate();
    await this.#send({ kind: "track", trackId: track.id, source });
  }

  /** enable mutes or unmutes a published source locally (track.enabled). */
  enable(source, on) {
    const s = this.#senders[source];
    if (s) s.track.enabled = on;
  }

  // renegotiate sends a publish offer (with iceRestart, an ICE restart);
  // the SFU answers. Offers are serialized so an answer always matches the
  // last offer.
  #renegotiate(iceRestart = false, timeout = 10000) {
    this.#negotiating = this.#negotiating.then(async () => {
      const answered = new Promise((resolve) => { this.#publishAnswered = resolve; });
      await this.publish.setLocalDescription(await this.publish.createOffer({ iceRestart }));
      await this.#send({ kind: "offer", target: PUBLISH, sdp: this.publish.localDescription.sdp });
      await Promise.race([answered, new Promise((r) => setTimeout(r, timeout))]);
    }).catch((e) => console.warn("tresor publish negotiation:", e));
    return this.#negotiating;
  }

  /**
   * restartIce restarts ICE on the connection target ("publish" or
   * "subscribe") now, whatever its state (e.g. on a network change the
   * page learns of). It resolves once the restart's remote description is
   * applied (or after 10 s).
   */
  async restartIce(target) {
    if (target === PUBLISH) return this.#renegotiate(true);
    const pc = this.subscribe;
    const old = pc.remoteDescription ? ufragOfSDP(pc.remoteDescription.sdp) : "";
    await this.#send({ kind: "restart", target: SUBSCRIBE });
    const deadline = Date.now() + 10000;
    while (!this.#closed && Date.now() < deadline) {
      const cur = pc.remoteDescription ? ufragOfSDP(pc.remoteDescription.sdp) : "";
      if (cur !== old || pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // recover restarts ICE on pc until it is connected again, unless it
  // comes back by itself within RESTART_DELAY of "disconnected".
  async #recover(target, pc) {
    if (this.#recovering[target] || this.#closed) return;
    this.#recovering[target] = true;
    const down = Date.now();
    const up = () => pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed";
    const wait = (ms) => new Promise((resolve) => {
      const done = () => { clearTimeout(t); pc.removeEventListener("iceconnectionstatechange", check); resolve(); };
      const check = () => { if (up() || this.#closed) done(); };
      const t = setTimeout(done, ms);
      pc.addEventListener("iceconnectionstatechange", check);
    });
    try {
      if (pc.iceConnectionState === "disconnected") {
        await wait(RESTART_DELAY);
        if (up() || this.#closed) return;
      }
      for (let k = 0; !up() && !this.#closed; k++) {
        this.dispatchEvent(new CustomEvent("ice-restart", { detail: { target, attempt: k + 1 } }));
        await this.restartIce(target);
        if (!up()) await wait(restartWindow(k));
      }
      if (!this.#closed) this.dispatchEvent(new CustomEvent("ice-recovered", { detail: { target, downMs: Date.now() - down } }));
    } finally {
      this.#recovering[target] = false;
    }
  }

  #publishAnswered = null;

  async #onSignal(s) {
    if (!s || typeof s.kind !== "string") return;
    const target = s.target === PUBLISH ? PUBLISH : SUBSCRIBE;
    const pc = target === PUBLISH ? this.publish : this.subscribe;
    switch (s.kind) {
      case "answer":
        if (target !== PUBLISH) return;
        await this.publish.setRemoteDescription({ type: "answer", sdp: s.sdp });
        await this.#flush(target);
        if (this.#publishAnswered) this.#publishAnswered();
        break;
      case "offer":
        if (target !== SUBSCRIBE) return;
        await this.subscribe.setRemoteDescription({ type: "offer", sdp: s.sdp });
        await this.#flush(target);
        await this.subscribe.setLocalDescription(await this.subscribe.createAnswer());
        await this.#send({ kind: "answer", target: SUBSCRIBE, sdp: this.subscribe.localDescription.sdp });
        break;
      case "candidate": {
        const init = s.candidate ? { candidate: s.candidate, sdpMid: s.sdpMid, sdpMLineIndex: s.sdpMLineIndex, usernameFragment: s.usernameFragment } : null;
        if (!init) return;
        // A candidate waits for the remote description of its own ICE
        // session: an ICE restart's candidates may overtake it.
        const u = ufragOfCandidate(init);
        const cur = pc.remoteDescription ? ufragOfSDP(pc.remoteDescription.sdp) : null;
        if (cur === null || (u && cur && u !== cur)) {
          const list = this.#pending[target];
          if (list.length >= 256) list.shift();
          list.push(init);
        } else await pc.addIceCandidate(init).catch((e) => console.warn("tresor ICE:", e.message));
        break;
      }
    }
  }

  // flush adds the held candidates of the connection's new remote
  // description's ICE session; those of other sessions stay held.
  async #flush(target) {
    const pc = target === PUBLISH ? this.publish : this.subscribe;
    const cur = pc.remoteDescription ? ufragOfSDP(pc.remoteDescription.sdp) : "";
    const ready = [], keep = [];
    for (const c of this.#pending[target]) {
      const u = ufragOfCandidate(c);
      (!u || !cur || u === cur ? ready : keep).push(c);
    }
    this.#pending[target] = keep;
    for (const c of ready) await pc.addIceCandidate(c).catch((e) => console.warn("tresor ICE:", e.message));
  }

  // onTrack runs inside the track event: the worker must be attached before
  // the first frame is delivered.
  #onTrack(e) {
    const track = e.track;
    const streamId = e.streams[0] ? e.streams[0].id : "";
    const participant = streamId;
    this.#e2ee.attachReceiver(e.receiver, track.kind, `${participant}/${track.kind}/${track.id}`, participant);
    track.addEventListener("ended", () => this.dispatchEvent(new CustomEvent("track-ended", { detail: { participant, track } })));
    const stream = e.streams[0];
    if (stream) stream.addEventListener("removetrack", (ev) => {
      if (ev.track === track) this.dispatchEvent(new CustomEvent("track-ended", { detail: { participant, track } }));
    });
    this.dispatchEvent(new CustomEvent("track", { detail: { participant, kind: track.kind, track, receiver: e.receiver, streamId } }));
  }

  /**
   * videoStats returns, per remote video track id, {participant, framesDecoded,
   * frameWidth, frameHeight} from getStats() of the subscribe connection.
   */
  async videoStats() {
    const out = {};
    const stats = await this.subscribe.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out[s.trackIdentifier] = { framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0 };
      }
    });
    return out;
  }

  /** audioLevels returns, per remote audio track id, its audioLevel (0..1). */
  async audioLevels() {
    const out = {};
    (await this.subscribe.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") out[s.trackIdentifier] = s.audioLevel || 0;
    });
    return out;
  }

  close() {
    this.#closed = true;
    this.publish.close();
    this.subscribe.close();
  }
}
