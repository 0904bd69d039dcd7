package sfu

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

type nopSignaler struct{}

func (nopSignaler) SendOffer(context.Context, webrtc.SessionDescription) error { return nil }
func (nopSignaler) SendCandidate(context.Context, Direction, webrtc.ICECandidateInit) error {
	return nil
}

// TestAddICECandidateTakesNoParticipantLock checks a lock-order rule.
// pion calls downTrack.Bind, which takes the participant's lock, while it
// holds its own locks (the RTPSender's, and through its
// negotiation-needed check, the connection's); AddICECandidate runs on the
// signaling layer's goroutines at any moment, so it must never wait for
// pion while holding the participant's lock. It once asked the connection
// for its remote description under that lock: a three-way deadlock with
// Bind and pion's negotiation-needed check, which hung
// TestActiveSpeakerEvents until the package timeout about once in five
// package runs. Held candidates now wait in a trickle.Gate, so adding one
// needs the participant's lock not at all; this holds the lock and adds
// candidates regardless.
func TestAddICECandidateTakesNoParticipantLock(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	p, err := s.Join(context.Background(), "r", "a", nopSignaler{})
	if err != nil {
		t.Fatal(err)
	}
	cand := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"}

	p.mu.Lock()
	done := make(chan error, 1)
	go func() { done <- p.AddICECandidate(DirectionSubscribe, cand) }()
	select {
	case err := <-done:
		p.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		p.mu.Unlock()
		<-done
		t.Fatal("AddICECandidate waited for the participant's lock")
	}
	if got := p.subCands.Open(""); len(got) != 1 || got[0] != cand {
		t.Fatalf("held candidates %v, want the one added before the remote description", got)
	}
}
