package signaling

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeMedia stands in for the SFU (an external dependency) and records
// every call the server makes.
type fakeMedia struct {
	mu       sync.Mutex
	calls    []string
	sends    map[string]func(MediaSignal)
	failJoin bool
}

func (f *fakeMedia) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeMedia) Join(_ context.Context, room, participant string, send func(MediaSignal)) (MediaSession, error) {
	f.record(fmt.Sprintf("join %s %s", room, participant))
	if f.failJoin {
		return nil, errors.New("sfu down")
	}
	f.mu.Lock()
	f.sends[participant] = send
	f.mu.Unlock()
	return &fakeSession{f: f, who: participant}, nil
}

func (f *fakeMedia) waitCall(t *testing.T, call string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		ok := slices.Contains(f.calls, call)
		f.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call %q in %q", call, f.calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type fakeSession struct {
	f   *fakeMedia
	who string
}

func (s *fakeSession) Signal(_ context.Context, sig MediaSignal) error {
	s.f.record(fmt.Sprintf("signal %s %s %s%s%s%s%s", s.who, sig.Kind, sig.Direction, sig.SDP, sig.Candidate, sig.TrackID, sig.Source))
	if sig.SDP == "refuse" {
		return errors.New("bad sdp")
	}
	return nil
}

func (s *fakeSession) SetPublishPermission(src Source, allowed bool) error {
	s.f.record(fmt.Sprintf("permission %s %s %v", s.who, src, allowed))
	return nil
}

func (s *fakeSession) StopTrack(src Source) error {
	s.f.record(fmt.Sprintf("stop %s %s", s.who, src))
	return nil
}

func (s *fakeSession) Close() error {
	s.f.record("close " + s.who)
	return nil
}

func TestMediaRelay(t *testing.T) {
	fm := &fakeMedia{sends: make(map[string]func(MediaSignal))}
	e := newEnv(t, Config{Media: fm})
	e.room("r", RoomConfig{WaitingRoom: true})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	c := ctx(t)
	wantCode(t, p.SendMedia(c, MediaSignal{Kind: SignalOffer, SDP: "v=0 p"}), CodeNotAdmitted)
	if err := h.Admit(c, "p"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p)

	// The first signal opens the session with the participant's permissions.
	if err := p.SendMedia(c, MediaSignal{Kind: SignalOffer, Direction: DirectionPublish, SDP: "v=0 p"}); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"join r p", "permission p camera true", "permission p microphone true", "permission p screen false", "signal p offer publishv=0 p"} {
		fm.waitCall(t, call)
	}
	mid := "0"
	if err := p.SendMedia(c, MediaSignal{Kind: SignalCandidate, Candidate: "candidate:1", SDPMid: &mid}); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "signal p candidate candidate:1")
	if err := p.SendMedia(c, MediaSignal{Kind: SignalTrack, TrackID: "t1", Source: SourceScreen}); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "signal p track t1screen")
	if err := p.SendMedia(c, MediaSignal{Kind: SignalAnswer, Direction: "sideways", SDP: "v=0"}); err == nil {
		t.Fatal("sent a signal with an unknown target")
	}
	wantCode(t, p.SendMedia(c, MediaSignal{Kind: SignalAnswer, SDP: "refuse"}), CodeBadRequest)

	// The SFU's signals reach the participant.
	fm.mu.Lock()
	send := fm.sends["p"]
	fm.mu.Unlock()
	send(MediaSignal{Kind: SignalAnswer, SDP: "v=0 sfu"})
	if m := waitFor[MediaReceived](t, p); m.Signal.Kind != SignalAnswer || m.Signal.SDP != "v=0 sfu" {
		t.Fatalf("media %+v", m)
	}

	// Host actions reach the SFU.
	if err := h.AllowScreen(c, "p", true); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "permission p screen true")
	if err := h.StopTrack(c, "p", SourceCamera); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "stop p camera")
	// A participant's host-only attempt does not.
	wantCode(t, p.StopTrack(c, "h", SourceCamera), CodeForbidden)
	if err := h.SendMedia(c, MediaSignal{Kind: SignalOffer, SDP: "v=0 h"}); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "join r h")
	wantCode(t, p.StopTrack(c, "h", SourceCamera), CodeForbidden)
	fm.mu.Lock()
	if slices.Contains(fm.calls, "stop h camera") {
		t.Fatal("a participant stopped the host's track")
	}
	fm.mu.Unlock()

	// Leaving closes the session.
	if err := p.Leave(c); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "close p")
}

func TestMediaUnavailable(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	wantCode(t, h.SendMedia(ctx(t), MediaSignal{Kind: SignalOffer, SDP: "v=0"}), CodeMediaUnavailable)
	if err := h.SendMedia(ctx(t), MediaSignal{Kind: "bogus"}); err == nil {
		t.Fatal("client sent an invalid signal")
	}

	fm := &fakeMedia{sends: make(map[string]func(MediaSignal)), failJoin: true}
	e2 := newEnv(t, Config{Media: fm})
	e2.room("r", RoomConfig{})
	h2 := e2.dial("r", "h", RoleHost)
	wantCode(t, h2.SendMedia(ctx(t), MediaSignal{Kind: SignalOffer, SDP: "v=0"}), CodeInternal)
}
