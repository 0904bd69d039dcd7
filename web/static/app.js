// @ts-nocheck
// The demo page's UI on top of the browser SDK (tresor/meeting.js). All the
// security lives in the SDK and the wasm module; this file only draws. (It
// is checked loosely: DOM lookups by id are untyped.)
import { Meeting } from "./tresor/meeting.js";
import { compileTresor } from "./tresor/wasm.js";

// Start downloading and compiling tresor.wasm while the person types.
compileTresor().catch(() => { /* reported again when joining */ });

const $ = (id) => document.getElementById(id);
const show = (id) => {
  for (const s of ["join-screen", "waiting-screen", "meeting-screen", "end-screen"]) $(s).hidden = s !== id;
};
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
};

// A host link carries its token after '#': the browser never sends it to a
// server. Guests get a development token from the demo's /demo/token.
// It is kept for this tab (sessionStorage), so that a reload or "Join
// again" joins as host again.
const hash = new URLSearchParams(location.hash.slice(1));
const hostToken = hash.get("token") || sessionStorage.getItem("tresor-host-token");
if (hostToken) {
  sessionStorage.setItem("tresor-host-token", hostToken);
  history.replaceState(null, "", location.pathname + location.search); // keep the token out of sight
  const claims = tokenClaims(hostToken);
  $("name").value = claims.name || "";
  $("name").readOnly = true;
  if (claims.role === "host") $("passcode-label").hidden = true;
}

function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload + "===".slice((payload.length + 3) % 4)));
  } catch {
    return {};
  }
}

// A passcode never belongs in a link: one in the address is taken out of
// the address bar and history, and the person is told why.
{
  const q = new URLSearchParams(location.search);
  if (q.has("passcode")) {
    $("passcode").value = q.get("passcode") || "";
    q.delete("passcode");
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : "") + location.hash);
    $("join-error").textContent = "The passcode was taken out of the address: passcodes never belong in links. It is filled in below.";
  }
}

// Names are bounded in bytes, as the server counts them.
const MAX_NAME_BYTES = 64;

let meeting = null;
let localStream = null;
let entered = false; // the server answered the join (joined or waiting)
window.tresorApp = { get meeting() { return meeting; } };

$("join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("join-error").textContent = "";
  if (new TextEncoder().encode($("name").value.trim()).length > MAX_NAME_BYTES) {
    $("join-error").textContent = `Your name is too long: at most ${MAX_NAME_BYTES} bytes (fewer characters with accents or emoji).`;
    return;
  }
  $("join").disabled = true;
  try {
    let token = hostToken, room, signal = "/signal";
    if (token) {
      room = tokenClaims(token).room;
    } else {
      const r = await fetch("/demo/token?" + new URLSearchParams({ name: $("name").value.trim() }), { method: "POST" });
      if (!r.ok) throw new Error(await r.text());
      const t = await r.json();
      token = t.token; room = t.room; signal = t.signal || signal;
    }
    const params = new URLSearchParams(location.search);
    // The demo's backend vouches for members' keys (DEVELOPMENT ONLY: it is
    // the same process as the server; a real backend is the app's own).
    // The page learns the backend's public key from the page's server,
    // which is the web's limit: the page itself comes from there.
    const authority = await (await fetch("/demo/authority")).json();
    const vouch = async (publicKey) => {
      const r = await fetch("/demo/vouch", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token, publicKey: b64(publicKey) }) });
      if (!r.ok) throw new Error("the backend did not vouch for this device: " + await r.text());
      return unb64((await r.json()).assertion);
    };
    meeting = new Meeting({ signal, room, token, passcode: $("passcode").value.trim(), transformAPI: params.get("transform") || undefined,
      authority: { keys: authority.keys }, vouch });
    wire(meeting);
    await meeting.join();
  } catch (err) {
    $("join-error").textContent = friendly(err);
    $("join").disabled = false;
    meeting = null;
  }
});

const withData = (e, data) => { Object.assign(e.dataset, data); return e; };
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function friendly(err) {
  const codes = {
    wrong_passcode: "Wrong passcode.", passcode_required: "This meeting needs a passcode.",
    locked: "The meeting is locked.", banned: "You were removed from this meeting.", ended: "The meeting has ended.",
    rate_limited: "Too many attempts: wait a little.", token_expired: "The link has expired.",
  };
  return codes[err.code] || err.message || String(err);
}

function wire(m) {
  entered = false;
  m.addEventListener("waiting", (e) => {
    entered = true;
    show("waiting-screen");
    const rec = e.detail.recording || {};
    $("waiting-text").textContent = e.detail.reason === "consent"
      ? "You were admitted; the meeting is being recorded."
      : "The host will let you in soon.";
    $("waiting-recording").hidden = !rec.active && !rec.requested;
    $("waiting-consent").hidden = e.detail.reason !== "consent" && !rec.requested;
    $("waiting-consent").dataset.recording = rec.id || "";
  });
  m.addEventListener("joined", () => { entered = true; show("meeting-screen"); startMedia(); render(); });
  m.addEventListener("state", render);
  m.addEventListener("epoch_changed", (e) => {
    $("code").textContent = e.detail.securityCode;
    $("epoch").textContent = e.detail.epoch;
    $("e2ee").classList.remove("pending");
    $("e2ee-text").textContent = "End-to-end encrypted";
    renderRoster(e.detail.members);
  });
  m.addEventListener("group_left", () => {
    $("code").textContent = "—";
    $("e2ee").classList.add("pending");
    $("e2ee-text").textContent = "Not in the group";
  });
  m.addEventListener("chat_message", (e) => addChat(who(e.detail.from), e.detail.text));
  m.addEventListener("consent_requested", (e) => askConsent(e.detail));
  m.addEventListener("recording_changed", (e) => showRecording(e.detail));
  m.addEventListener("mismatch", (e) => {
    const d = e.detail;
    $("roster-warning").hidden = false;
    $("roster-warning").textContent = {
      roster: "The server's list of members differs from the encrypted group: " + d.participants.join(", ") + ". Compare security codes.",
      epoch: `The server says epoch ${d.serverEpoch}, the group is at ${d.epoch}. Compare security codes.`,
      consent: "The server says the meeting is recorded, but not everyone consented: " + d.participants.join(", "),
    }[d.kind] || "The server and the encrypted group disagree.";
  });
  m.addEventListener("track", (e) => addTrack(e.detail));
  m.addEventListener("track-ended", (e) => removeTrack(e.detail.track));
  m.addEventListener("mute-request", (e) => {
    if (e.detail.source === "microphone") setMic(false);
    if (e.detail.source === "camera") setCamera(false);
    addChat("Tresor", `${m.nameOf(e.detail.by)} asked you to mute your ${e.detail.source}.`);
  });
  m.addEventListener("track-stopped", (e) => {
    // Nobody receives it any more: turn it off here too, so the buttons
    // tell the truth.
    if (e.detail.source === "camera") setCamera(false);
    if (e.detail.source === "microphone") setMic(false);
    if (e.detail.source === "screen" && screenTrack) $("toggle-screen").click();
    addChat("Tresor", `${m.nameOf(e.detail.by)} stopped your ${e.detail.source}.`);
  });
  m.addEventListener("removed", (e) => end("You were removed from the meeting", `${m.nameOf(e.detail.by)} removed you.`));
  m.addEventListener("denied", () => end("The host did not let you in", ""));
  m.addEventListener("ended", (e) => end("The meeting has ended", `${m.nameOf(e.detail.by)} ended it for everyone.`));
  m.addEventListener("reconnecting", () => {
    $("e2ee").classList.add("pending");
    $("e2ee-text").textContent = "Reconnecting…";
  });
  m.addEventListener("resumed", () => {
    $("e2ee").classList.remove("pending");
    $("e2ee-text").textContent = "End-to-end encrypted";
  });
  m.addEventListener("going_away", () => end("The server is shutting down", "The meeting server is restarting or going away. Try joining again in a moment."));
  m.addEventListener("closed", () => {
    // A refused join stays on the join screen, with its reason there.
    if (!entered || !$("end-screen").hidden) return;
    end("Connection lost", "The connection to the meeting server closed.");
  });
  m.addEventListener("error", (e) => console.warn("tresor:", e.detail.message));
  m.addEventListener("warning", (e) => console.warn("tresor:", e.detail.message));
}

function end(title, text) {
  show("end-screen");
  $("end-title").textContent = title;
  $("end-text").textContent = text;
  $("recording-banner").hidden = true;
  $("code").textContent = "—";
  $("epoch").textContent = "—";
  $("e2ee").classList.add("pending");
  $("e2ee-text").textContent = "Not in a meeting";
  if (localStream) localStream.getTracks().forEach((t) => t.stop());
  clearInterval(speakerTimer);
  if (meeting) meeting.close();
}

// Media controls.
async function startMedia() {
  $("e2ee").classList.add("pending");
  $("e2ee-text").textContent = "Joining the encrypted group…";
  try {
    localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  } catch (err) {
    addChat("Tresor", "No camera or microphone: " + err.message);
    return;
  }
  const tile = tileFor("self", "You");
  tile.querySelector("video").srcObject = localStream;
  tile.querySelector("video").muted = true;
  for (const t of localStream.getTracks()) {
    await meeting.publish(t.kind === "audio" ? "microphone" : "camera", t);
  }
}

function setMic(on) {
  meeting.mute("microphone", !on);
  $("toggle-mic").setAttribute("aria-pressed", String(on));
  $("toggle-mic").textContent = on ? "Mute" : "Unmute";
  $("toggle-mic").setAttribute("aria-label", on ? "Mute your microphone (it is on)" : "Unmute your microphone (it is off)");
}
function setCamera(on) {
  meeting.mute("camera", !on);
  $("toggle-camera").setAttribute("aria-pressed", String(on));
  $("toggle-camera").textContent = on ? "Turn camera off" : "Turn camera on";
  $("toggle-camera").setAttribute("aria-label", on ? "Turn your camera off (it is on)" : "Turn your camera on (it is off)");
}
$("toggle-mic").onclick = () => setMic($("toggle-mic").getAttribute("aria-pressed") !== "true");
$("toggle-camera").onclick = () => setCamera($("toggle-camera").getAttribute("aria-pressed") !== "true");

let screenTrack = null;
$("toggle-screen").onclick = async () => {
  if (screenTrack) {
    screenTrack.stop();
    await meeting.publish("screen", null);
    screenTrack = null;
    $("toggle-screen").textContent = "Share screen";
    return;
  }
  try {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true });
    screenTrack = s.getVideoTracks()[0];
    screenTrack.onended = () => { if (screenTrack) $("toggle-screen").click(); };
    await meeting.publish("screen", screenTrack);
    $("toggle-screen").textContent = "Stop sharing";
  } catch (err) {
    addChat("Tresor", "Screen sharing failed: " + err.message);
  }
};
$("leave").onclick = async () => { await meeting.leave(); end("You left the meeting", ""); };
$("waiting-leave").onclick = async () => { await meeting.leave(); end("You left the meeting", ""); };
$("waiting-consent").onclick = () => meeting.consent($("waiting-consent").dataset.recording, true)
  .catch((err) => { $("waiting-text").textContent = "Consent not recorded: " + err.message; });

// Video grid: one tile per remote video track, labelled with the sender.
const tiles = new Map(); // key -> tile
function tileFor(key, label) {
  let t = tiles.get(key);
  if (!t) {
    t = el("div", { className: "tile" }, el("video", { autoplay: true, playsInline: true, muted: true }), el("span", { className: "label" }));
    t.dataset.key = key;
    tiles.set(key, t);
    if (key === "self") $("grid").prepend(t);
    else $("grid").append(t);
  }
  t.querySelector(".label").textContent = label;
  return t;
}
const audioEls = new Map();
function addTrack({ participant, kind, track }) {
  if (kind === "audio") {
    const a = el("audio", { autoplay: true });
    a.srcObject = new MediaStream([track]);
    audioEls.set(track.id, { el: a, participant });
    document.body.append(a);
    return;
  }
  const t = tileFor(track.id, meeting.nameOf(participant));
  t.dataset.participant = participant;
  t.querySelector("video").srcObject = new MediaStream([track]);
}
function removeTrack(track) {
  const t = tiles.get(track.id);
  if (t) { t.remove(); tiles.delete(track.id); }
  const a = audioEls.get(track.id);
  if (a) { a.el.remove(); audioEls.delete(track.id); }
}

// Active speaker: the loudest remote audio track above a threshold.
const speakerTimer = setInterval(async () => {
  if (!meeting || !meeting.media) return;
  const levels = await meeting.media.audioLevels();
  let best = null, max = 0.02;
  for (const [id, level] of Object.entries(levels)) {
    const a = audioEls.get(id);
    if (a && level > max) { max = level; best = a.participant; }
  }
  for (const t of tiles.values()) t.classList.toggle("speaking", best !== null && t.dataset.participant === best);
}, 500);

// The roster comes from the MLS group, not from the server's list: names
// are the ones the backend vouched for (marked when it did not). The
// server's list only explains who is admitted but not in the group yet;
// disagreements that last are the driver's "mismatch" events.
let mlsMembers = [];
const who = (mb) => `${mb.name || mb.identity}${mb.verified ? "" : " (unverified)"}`;
function renderRoster(members) {
  mlsMembers = members;
  const me = meeting.self && meeting.self.identity;
  $("roster").replaceChildren(...members.map((mb) => el("li", {},
    el("span", { className: "who", textContent: `${who(mb)}${mb.identity === me ? " (you)" : ""}`, title: mb.identity }))));
  renderJoining();
}
function renderJoining() {
  if (!meeting || !meeting.state || !meeting.group || !meeting.group.active) return;
  const inGroup = new Set(mlsMembers.map((m) => m.identity));
  const joining = (meeting.state.participants || []).map((p) => p.identity).filter((id) => !inGroup.has(id));
  $("roster-joining").hidden = joining.length === 0;
  $("roster-joining").textContent = "Joining the encrypted group: " + joining.map((id) => meeting.nameOf(id)).join(", ");
}

// Recording consent, from the driver: it asks once per recording (the
// recording's id, its recorder as the group knows it, when it was asked),
// and says whether the recording is proven: every member sent a signed
// consent to exactly this recording.
function askConsent({ recording, recorder }) {
  $("consent-recorder").textContent = who(recorder);
  $("consent-dialog").dataset.recording = recording.id;
  if (!$("consent-dialog").open) $("consent-dialog").showModal();
}
function showRecording({ recording, verified, missing }) {
  $("recording-banner").hidden = !recording.active;
  const rec = mlsMembers.find((m) => m.identity === recording.recorder);
  $("recorder").textContent = rec ? who(rec) : meeting.nameOf(recording.recorder);
  $("recording-proof").textContent = verified
    ? ", with everyone's signed consent."
    : ". Not everyone has consented yet: " + (missing || []).map((id) => meeting.nameOf(id)).join(", ");
}

function addChat(from, text) {
  const li = el("li", {}, el("span", { className: "from", textContent: from }), el("span", { textContent: text }));
  $("chat").append(li);
  li.scrollIntoView({ block: "end" });
}
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text) return;
  try {
    await meeting.sendChat(text);
    addChat("You", text);
    $("chat-input").value = "";
  } catch (err) {
    addChat("Tresor", "Not sent: " + err.message);
  }
});

// Destructive host actions ask once more: the first click turns the button
// into a confirmation for a few seconds.
const END = "\u0000end"; // the "End meeting" button's key
let confirmingRemoval = null;
let confirmTimer = null;
function confirmThen(key, act) {
  clearTimeout(confirmTimer);
  if (confirmingRemoval === key) {
    confirmingRemoval = null;
    act();
  } else {
    confirmingRemoval = key;
    confirmTimer = setTimeout(() => { confirmingRemoval = null; render(); }, 4000);
  }
  render();
}
$("end-meeting").onclick = () => confirmThen(END, () => meeting.end().catch((err) => addChat("Tresor", "Not ended: " + err.message)));

// Host panel, from the room state.
function render() {
  const m = meeting;
  if (!m || !m.state) return;
  const st = m.state;
  const me = m.self;
  renderJoining();
  const mayShare = !!(me && me.permissions && me.permissions.screen);
  if (screenTrack && !mayShare) {
    // The host took the permission back: stop sharing, and say so.
    $("toggle-screen").click();
    addChat("Tresor", "The host no longer allows you to share your screen: sharing stopped.");
  }
  $("toggle-screen").disabled = !mayShare && !screenTrack;
  $("toggle-screen").title = $("toggle-screen").disabled ? "The host has not allowed you to share your screen" : "";
  const rec = st.recording || {};
  $("host-panel").hidden = !m.isHost;
  if (!m.isHost) return;
  const waiting = st.waiting || [];
  $("waiting-list").replaceChildren(...(waiting.length ? waiting.map((p) => withData(el("li", {},
    el("span", { className: "who", textContent: p.name || p.identity }),
    withData(el("button", { textContent: "Admit", onclick: () => m.admit(p.identity) }), { admit: p.identity }),
    withData(el("button", { textContent: "Deny", className: "secondary", onclick: () => m.deny(p.identity) }), { deny: p.identity }),
  ), { identity: p.identity })) : [el("li", { className: "empty", textContent: "Nobody is waiting." })]));
  const others = (st.participants || []).filter((p) => p.identity !== me.identity);
  $("participant-list").replaceChildren(...others.map((p) => {
    const screen = withData(el("input", { type: "checkbox", checked: !!(p.permissions && p.permissions.screen), onchange: (e) => m.permit(p.identity, "screen", e.target.checked) }), { allowScreen: p.identity });
    const confirming = confirmingRemoval === p.identity;
    const rm = withData(el("button", { textContent: confirming ? "Confirm removal" : "Remove", className: "danger", title: "Remove from the meeting; they cannot rejoin under this identity",
      onclick: () => confirmThen(p.identity, () => m.remove(p.identity)) }), { remove: p.identity });
    const mute = withData(el("button", { textContent: "Ask to mute", className: "secondary", title: "Media is end-to-end encrypted: only they can mute themselves",
      onclick: () => m.askToMute(p.identity, "microphone").catch((err) => addChat("Tresor", "Not asked: " + err.message)) }), { mute: p.identity });
    const cam = withData(el("button", { textContent: "Stop camera", className: "secondary", title: "The server stops forwarding their camera",
      onclick: () => m.stopTrack(p.identity, "camera").catch((err) => addChat("Tresor", "Not stopped: " + err.message)) }), { stopCamera: p.identity });
    return el("li", {}, el("span", { className: "who", textContent: p.name || p.identity }), el("label", { title: "May share the screen" }, screen, " screen"), mute, cam, rm);
  }));
  $("end-meeting").hidden = !me || me.role !== "host";
  $("end-meeting").textContent = confirmingRemoval === END ? "Confirm: end for all" : "End meeting for all";
  $("lock").checked = !!st.locked;
  $("record").textContent = rec.requested ? "Stop recording" : "Request recording";
}
$("lock").onchange = (e) => meeting.lock(e.target.checked);
$("record").onclick = async () => {
  if ((meeting.state.recording || {}).requested) return meeting.stopRecording();
  const rec = await meeting.startRecording();
  await meeting.consent(rec.id, true); // the one who records consents too
};
$("consent-dialog").addEventListener("close", () => {
  const d = $("consent-dialog");
  meeting.consent(d.dataset.recording, d.returnValue === "allow")
    .catch((err) => addChat("Tresor", "Consent not recorded: " + err.message));
});
$("rejoin").onclick = () => location.reload();
$("copy-code").onclick = () => navigator.clipboard.writeText($("code").textContent).catch(() => { /* selectable anyway */ });
