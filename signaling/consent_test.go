package signaling

import (
	"encoding/json"
	"testing"
	"time"
)

// recState is the part of a Recording a test expects: its id is random.
type recState struct {
	Requested, Active bool
	Recorder          string
}

func stateOf(r Recording) recState {
	return recState{Requested: r.Requested, Active: r.Active, Recorder: r.Recorder}
}

func recordingIs(want recState) func(StateChanged) bool {
	return func(s StateChanged) bool { return stateOf(s.State.Recording) == want }
}

// startRecording has c request a recording and checks the answer.
func startRecording(t *testing.T, c *Client) Recording {
	t.Helper()
	rec, err := c.StartRecording(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !validRecordingID(rec.ID) || !rec.Requested || rec.Recorder != c.Self().Identity || rec.AskedAt == 0 {
		t.Fatalf("new recording %+v", rec)
	}
	return rec
}

func consent(t *testing.T, id string, cs ...*Client) {
	t.Helper()
	for _, c := range cs {
		if err := c.Consent(ctx(t), id, true); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordingConsent(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	h := e.dial("r", "h", RoleHost)
	p1 := e.dial("r", "p1", RoleParticipant)
	p2 := e.dial("r", "p2", RoleParticipant)
	for _, p := range []string{"p1", "p2"} {
		if err := h.Admit(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor[Joined](t, p1)
	waitFor[Joined](t, p2)
	c := ctx(t)

	_, err := p1.StartRecording(c)
	wantCode(t, err, CodeForbidden)
	before := time.Now().UnixMilli()
	rec := startRecording(t, h)
	if rec.AskedAt < before-1000 || rec.AskedAt > time.Now().UnixMilli()+1000 {
		t.Fatalf("asked_at %d, now %d", rec.AskedAt, before)
	}
	// Asking again returns the same recording, consents and all.
	if again := startRecording(t, h); again != rec {
		t.Fatalf("second start_recording %+v, first %+v", again, rec)
	}
	requested := recState{Requested: true, Recorder: "h"}
	if got := waitMatch(t, p2, recordingIs(requested)).State.Recording; got != rec {
		t.Fatalf("p2 sees %+v, recorder got %+v", got, rec)
	}
	consent(t, rec.ID, h, p1)
	// Not everyone has consented: still not active.
	st := waitMatch(t, p2, func(s StateChanged) bool {
		n := 0
		for _, q := range s.State.Participants {
			if q.Consented {
				n++
			}
		}
		return n == 2
	}).State
	if st.Recording.Active {
		t.Fatal("recording active without everyone's consent")
	}
	consent(t, rec.ID, p2)
	active := recState{Requested: true, Active: true, Recorder: "h"}
	for _, x := range []*Client{h, p1, p2} {
		waitMatch(t, x, recordingIs(active))
	}

	// A joiner during the recording is told, and must consent before
	// admission even once a host admitted it.
	p3 := e.dial("r", "p3", RoleParticipant)
	w := waitFor[Waiting](t, p3)
	if w.Reason != "host" || !w.Recording.Active || w.Recording.ID != rec.ID {
		t.Fatalf("waiting %+v", w)
	}
	if err := h.Admit(c, "p3"); err != nil {
		t.Fatal(err)
	}
	if w := waitFor[Waiting](t, p3); w.Reason != "consent" || !w.Recording.Active {
		t.Fatalf("waiting after admit %+v", w)
	}
	noEvent[Joined](t, p3, 50e6)
	consent(t, rec.ID, p3)
	if j := waitFor[Joined](t, p3); !j.State.Recording.Active || !j.Self.Consented {
		t.Fatalf("joined %+v", j)
	}

	// A waiting joiner, and everyone else, sees a withdrawal stop it.
	p4 := e.dial("r", "p4", RoleParticipant)
	waitFor[Waiting](t, p4)
	if err := p1.Consent(c, rec.ID, false); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Client{h, p2, p3} {
		waitMatch(t, x, recordingIs(recState{}))
	}
	if w := waitFor[Waiting](t, p4); w.Recording != (Recording{}) {
		t.Fatalf("p4 sees %+v", w.Recording)
	}
	// No recording now: admission needs no consent.
	if err := h.Admit(c, "p4"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p4)
}

// TestConsentBelongsToOneRecording: consent to one recording is not
// consent to the next. After a recording everyone consented to stops, a
// new one (here by another recorder) starts with nobody consented, and a
// consent naming the old one is refused and changes nothing. Raw protocol,
// so that it runs against any server version: on a server with sticky
// per-person consent the second recording becomes active at once.
// rawConsent is a consent message naming the recording id. For a server
// without recording ids (id ""), it names none, so that the raw tests below
// show what such a server does; this server refuses a consent without one.
func rawConsent(id int, granted bool, recording string) string {
	m := map[string]any{"v": 1, "type": "consent", "id": id, "granted": granted}
	if recording != "" {
		m["recording"] = recording
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestConsentBelongsToOneRecording(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.rawJoined("r", "h", RoleHost)
	co := e.rawJoined("r", "co", RoleCohost)
	p := e.rawJoined("r", "p", RoleParticipant)
	everyone := []*rawConn{h, co, p}

	h.send(`{"v":1,"type":"start_recording","id":2}`)
	rec1 := h.nextState(func(s rawState) bool { return s.Recording.Requested }).Recording
	for _, x := range everyone {
		x.send(rawConsent(3, true, rec1.ID))
		x.nextOfType("ok")
	}
	h.nextState(func(s rawState) bool { return s.Recording.Active })
	h.send(`{"v":1,"type":"stop_recording","id":4}`)
	h.nextState(func(s rawState) bool { return !s.Recording.Requested })

	co.send(`{"v":1,"type":"start_recording","id":5}`)
	st := p.nextState(func(s rawState) bool { return s.Recording.Requested && s.Recording.Recorder == "co" })
	rec2 := st.Recording
	if rec2.Active {
		t.Fatal("a new recording became active with the consents given to the previous one")
	}
	if rec2.ID == rec1.ID {
		t.Fatalf("second recording %+v has the first one's id", rec2)
	}
	for _, q := range st.Participants {
		if q.Consented {
			t.Fatalf("%s counts as consenting to a recording it was never asked about", q.Identity)
		}
	}
	// A consent naming the old recording is refused and changes nothing.
	p.send(rawConsent(6, true, rec1.ID))
	if m := p.nextOfType("error"); m["code"] != string(CodeConflict) || m["id"] != 6.0 {
		t.Fatalf("stale consent answered %v", m)
	}
	// Consenting to the new one, everyone: active.
	for _, x := range everyone {
		x.send(rawConsent(7, true, rec2.ID))
		x.nextOfType("ok")
	}
	if r := h.nextState(func(s rawState) bool { return s.Recording.Active }).Recording; r.ID != rec2.ID {
		t.Fatalf("active recording %+v", r)
	}
}

// TestWaitingWithdrawalKeepsRecording: someone in the waiting room who
// withdraws consent says "I won't join while this is recorded"; the
// recording goes on for everyone admitted, the withdrawer keeps waiting
// (reason consent) and may leave. Raw protocol, so that it runs against
// any server version.
func TestWaitingWithdrawalKeepsRecording(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.rawJoined("r", "h", RoleHost)
	h.send(`{"v":1,"type":"start_recording","id":2}`)
	rec := h.nextState(func(s rawState) bool { return s.Recording.Requested }).Recording
	h.send(rawConsent(3, true, rec.ID))
	h.nextState(func(s rawState) bool { return s.Recording.Active })

	// w joins during the recording: no waiting room, but it must consent.
	w := e.raw()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": 1, "room": "r", "token": e.token("r", "w", RoleParticipant)})
	w.send(string(b))
	if m := w.nextOfType("waiting"); m["reason"] != "consent" {
		t.Fatalf("joiner %v", m)
	}
	w.send(rawConsent(2, false, rec.ID))
	if m := w.nextOfType("waiting"); m["reason"] != "consent" {
		t.Fatalf("after withdrawing: %v", m)
	}
	if m := w.nextOfType("ok"); m["id"] != 2.0 {
		t.Fatalf("withdrawal answered %v", m)
	}
	// The recording is still active for the host.
	h.send(`{"v":1,"type":"lock","id":4,"locked":true}`)
	st := h.nextState(func(s rawState) bool { return s.Locked })
	if !st.Recording.Active || st.Recording.ID != rec.ID {
		t.Fatalf("a waiting participant's withdrawal changed the recording: %+v", st.Recording)
	}
	// w still waits, sees nothing of the meeting, and may leave.
	w.send(`{"v":1,"type":"chat","id":3,"epoch":0,"data":"AA=="}`)
	if m := w.nextOfType("error"); m["code"] != string(CodeNotAdmitted) {
		t.Fatalf("waiting chat answered %v", m)
	}
	w.send(`{"v":1,"type":"leave","id":4}`)
	if m := w.nextOfType("ok"); m["id"] != 4.0 {
		t.Fatalf("leave answered %v", m)
	}
	st = h.nextState(func(s rawState) bool { return len(s.Waiting) == 0 })
	if !st.Recording.Active {
		t.Fatalf("after the waiting participant left: %+v", st)
	}
}

func TestConsentRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	c := ctx(t)
	const other = "0123456789abcdef0123456789abcdef"
	// No recording: nothing to consent to.
	wantCode(t, p.Consent(c, other, true), CodeConflict)
	if err := p.Consent(c, "", false); err != nil {
		t.Fatalf("withdrawal without a recording: %v", err)
	}
	rec := startRecording(t, h)
	// Another recording's id, for consent or withdrawal: conflict, and
	// the recording stays requested.
	wantCode(t, p.Consent(c, other, true), CodeConflict)
	wantCode(t, p.Consent(c, other, false), CodeConflict)
	// A missing or malformed id is refused by the client, and by the server.
	for _, bad := range []string{"", "xyz", rec.ID[:31], rec.ID + "0", "0123456789ABCDEF0123456789ABCDEF"} {
		if err := p.Consent(c, bad, true); err == nil {
			t.Fatalf("client sent consent to %q", bad)
		}
	}
	r := e.rawJoined("r", "raw", RoleParticipant)
	for i, msg := range []string{
		`{"v":1,"type":"consent","id":1,"granted":true}`,
		`{"v":1,"type":"consent","id":2,"granted":true,"recording":""}`,
		`{"v":1,"type":"consent","id":3,"granted":true,"recording":"nothex-nothex-nothex-nothex-abcd"}`,
		`{"v":1,"type":"consent","id":4,"granted":true,"recording":{"id":"` + rec.ID + `"}}`,
		`{"v":1,"type":"consent","id":5,"granted":false,"recording":"short"}`,
		`{"v":1,"type":"consent","id":6,"granted":true,"recording":7}`,
	} {
		r.send(msg)
		if m := r.nextOfType("error"); m["code"] != string(CodeBadRequest) {
			t.Errorf("message %d: %v", i, m)
		}
	}
	st := waitMatch(t, h, recordingIs(recState{Requested: true, Recorder: "h"})).State
	if st.Recording.ID != rec.ID {
		t.Fatalf("recording changed: %+v", st.Recording)
	}
	// Withdrawing with no id means the current recording: it stops.
	if err := p.Consent(c, "", false); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, h, recordingIs(recState{}))
}

func TestRecordingStops(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	co := e.dial("r", "co", RoleCohost)
	p := e.dial("r", "p", RoleParticipant)
	c := ctx(t)
	// The cohost records; the participant may not stop it, the host may.
	rec := startRecording(t, co)
	_, err := h.StartRecording(c)
	wantCode(t, err, CodeBadRequest) // one recording at a time
	consent(t, rec.ID, h, co, p)
	waitMatch(t, p, recordingIs(recState{Requested: true, Active: true, Recorder: "co"}))
	wantCode(t, p.StopRecording(c), CodeForbidden)
	if err := h.StopRecording(c); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, recordingIs(recState{}))
	// The recorder leaving stops the recording.
	rec = startRecording(t, co)
	consent(t, rec.ID, h, co, p)
	waitMatch(t, p, recordingIs(recState{Requested: true, Active: true, Recorder: "co"}))
	co.Close()
	waitMatch(t, p, recordingIs(recState{}))
	// A participant who has not consented holds the recording back until
	// they leave.
	rec = startRecording(t, h)
	consent(t, rec.ID, h)
	waitMatch(t, h, func(s StateChanged) bool {
		return stateOf(s.State.Recording) == recState{Requested: true, Recorder: "h"} && len(s.State.Participants) == 2 && s.State.Participants[0].Consented
	})
	p.Close()
	waitMatch(t, h, recordingIs(recState{Requested: true, Active: true, Recorder: "h"}))
}

func TestChatRelay(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	if err := h.Admit(ctx(t), "p"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p)
	w := e.dial("r", "w", RoleParticipant)
	waitFor[Waiting](t, w)
	msg := []byte{0, 1, 2, 0xff, 'c', 'i', 'p', 'h'}
	if err := p.SendChat(ctx(t), 7, msg); err != nil {
		t.Fatal(err)
	}
	got := waitFor[ChatReceived](t, h)
	if got.From != "p" || got.Epoch != 7 || string(got.Data) != string(msg) {
		t.Fatalf("chat %+v", got)
	}
	noEvent[ChatReceived](t, p, 50e6) // not echoed
	// Group traffic does not reach the waiting room either.
	found(t, h)
	if _, err := h.SendCommit(ctx(t), Commit{Epoch: 0, Data: []byte("update")}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(100 * time.Millisecond)
	for {
		select {
		case ev := <-w.Events():
			switch ev.(type) {
			case Waiting:
			default:
				t.Fatalf("waiting participant got %T", ev)
			}
		case <-timeout:
			return
		}
	}
}
