package tresor

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/internal/hostile"
	"github.com/tresor-dev/tresor/signaling"
)

// TestKeyFrameRequests checks both ends of key-frame requests through the
// real SFU: a subscriber's RemoteTrack.RequestKeyFrame reaches the
// publisher as a KeyFrameRequested event for its camera track, and so does
// the request a subscriber sends by itself after the server lost a video
// packet for good (every copy of it, retransmissions included, is dropped
// on the SFU's socket).
func TestKeyFrameRequests(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice := h.join("alice", signaling.RoleHost)
	bob := h.join("bob", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob)
	sa := alice.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 10, []*client{bob}, []*sender{sa})
	camera, mic := sa.tracks["video"], sa.tracks["audio"]

	requests := func() int {
		n := 0
		for _, ev := range eventsOf[*KeyFrameRequested](alice) {
			switch ev.Track {
			case camera:
				n++
			case mic:
				t.Errorf("key frame requested for the microphone")
			default:
				t.Errorf("key frame requested for a track alice does not publish")
			}
		}
		return n
	}
	// quiet waits until no request has come for 1.5 s, so that the next
	// one is the test's doing.
	quiet := func() int {
		n := requests()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			time.Sleep(1500 * time.Millisecond)
			m := requests()
			if m == n {
				return n
			}
			n = m
		}
		t.Fatal("key frame requests do not stop")
		return 0
	}
	remote := func(kind string) *RemoteTrack {
		bob.mu.Lock()
		defer bob.mu.Unlock()
		for _, rt := range bob.tracks {
			if rt.Participant() == "alice" && rt.Kind() == kind {
				return rt
			}
		}
		t.Fatalf("bob has no %s track from alice", kind)
		return nil
	}
	video, audio := remote("video"), remote("audio")

	// An explicit request.
	n := quiet()
	if err := audio.RequestKeyFrame(); !errors.Is(err, errNoKeyFrames) {
		t.Errorf("RequestKeyFrame on audio: %v, want errNoKeyFrames", err)
	}
	if err := video.RequestKeyFrame(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "alice sees bob's key frame request", func() bool { return requests() > n })

	// A packet lost for good: bob's track asks by itself.
	n = quiet()
	before := video.Stats()
	var mu sync.Mutex
	var target struct {
		ssrc uint32
		seq  uint16
		set  bool
	}
	dropped := 0
	h.tap.OnWrite(func(_ string, b []byte) [][]byte {
		if !hostile.IsRTP(b) || b[1]&0x7f != 96 { // VP8 (package sfu's payload type)
			return [][]byte{b}
		}
		ssrc, seq := binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4])
		mu.Lock()
		defer mu.Unlock()
		if !target.set {
			target.ssrc, target.seq, target.set = ssrc, seq, true
		}
		if ssrc == target.ssrc && seq == target.seq {
			dropped++
			return nil
		}
		return [][]byte{b}
	})
	eventually(t, 10*time.Second, "alice sees the request that follows the loss", func() bool { return requests() > n })
	h.tap.OnWrite(nil)
	after := video.Stats()
	mu.Lock()
	t.Logf("dropped the packet %d time(s); bob's track lost %d packet(s), sent %d key frame request(s) in all",
		dropped, after.Lost-before.Lost, after.KeyFrameRequests)
	mu.Unlock()
	if after.Lost == before.Lost {
		t.Error("bob's track counted no lost packet")
	}
	if after.KeyFrameRequests < before.KeyFrameRequests+1 || before.KeyFrameRequests < 1 {
		t.Errorf("bob's track sent %d then %d key frame requests", before.KeyFrameRequests, after.KeyFrameRequests)
	}
	// Frames keep arriving after the loss.
	got := len(bob.received("alice", "video"))
	eventually(t, 5*time.Second, "frames after the loss", func() bool { return len(bob.received("alice", "video")) >= got+10 })
}
