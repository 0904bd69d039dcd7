package signaling

import (
	"testing"
	"time"
)

func recordingIs(want Recording) func(StateChanged) bool {
	return func(s StateChanged) bool { return s.State.Recording == want }
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

	wantCode(t, p1.StartRecording(c), CodeForbidden)
	if err := h.StartRecording(c); err != nil {
		t.Fatal(err)
	}
	requested := Recording{Requested: true, Recorder: "h"}
	waitMatch(t, p2, recordingIs(requested))
	for _, x := range []*Client{h, p1} {
		if err := x.Consent(c, true); err != nil {
			t.Fatal(err)
		}
	}
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
	if err := p2.Consent(c, true); err != nil {
		t.Fatal(err)
	}
	active := Recording{Requested: true, Active: true, Recorder: "h"}
	for _, x := range []*Client{h, p1, p2} {
		waitMatch(t, x, recordingIs(active))
	}

	// A joiner during the recording is told, and must consent before
	// admission even once a host admitted it.
	p3 := e.dial("r", "p3", RoleParticipant)
	w := waitFor[Waiting](t, p3)
	if w.Reason != "host" || !w.Recording.Active {
		t.Fatalf("waiting %+v", w)
	}
	if err := h.Admit(c, "p3"); err != nil {
		t.Fatal(err)
	}
	if w := waitFor[Waiting](t, p3); w.Reason != "consent" || !w.Recording.Active {
		t.Fatalf("waiting after admit %+v", w)
	}
	noEvent[Joined](t, p3, 50e6)
	if err := p3.Consent(c, true); err != nil {
		t.Fatal(err)
	}
	if j := waitFor[Joined](t, p3); !j.State.Recording.Active || !j.Self.Consented {
		t.Fatalf("joined %+v", j)
	}

	// A waiting joiner, and everyone else, sees a withdrawal stop it.
	p4 := e.dial("r", "p4", RoleParticipant)
	waitFor[Waiting](t, p4)
	if err := p1.Consent(c, false); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Client{h, p2, p3} {
		waitMatch(t, x, recordingIs(Recording{}))
	}
	if w := waitFor[Waiting](t, p4); w.Recording.Active || w.Recording.Requested {
		t.Fatalf("p4 sees %+v", w.Recording)
	}
	// No recording now: admission needs no consent.
	if err := h.Admit(c, "p4"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p4)
}

func TestRecordingStops(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	co := e.dial("r", "co", RoleCohost)
	p := e.dial("r", "p", RoleParticipant)
	c := ctx(t)
	for _, x := range []*Client{h, co, p} {
		if err := x.Consent(c, true); err != nil {
			t.Fatal(err)
		}
	}
	// The cohost records; the participant may not stop it, the host may.
	if err := co.StartRecording(c); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, recordingIs(Recording{Requested: true, Active: true, Recorder: "co"}))
	wantCode(t, p.StopRecording(c), CodeForbidden)
	if err := h.StopRecording(c); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, recordingIs(Recording{}))
	// The recorder leaving stops the recording.
	if err := co.StartRecording(c); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, recordingIs(Recording{Requested: true, Active: true, Recorder: "co"}))
	co.Close()
	waitMatch(t, p, recordingIs(Recording{}))
	// A participant who has not consented holds the recording back until
	// they leave.
	if err := p.Consent(c, false); err != nil {
		t.Fatal(err)
	}
	if err := h.StartRecording(c); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, h, recordingIs(Recording{Requested: true, Recorder: "h"}))
	p.Close()
	waitMatch(t, h, recordingIs(Recording{Requested: true, Active: true, Recorder: "h"}))
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
