package peertest

import (
	"testing"
	"time"
)

// TestWriteFramePaced checks that a paced frame's packets go out gap apart
// and that the frame advances the packet index and RTP timestamp like
// WriteFrame.
func TestWriteFramePaced(t *testing.T) {
	api, err := NewAPI(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(api)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.PC.Close() }()
	s, err := AddVideo(p, "cam", "pub")
	if err != nil {
		t.Fatal(err)
	}
	ts0, seq0 := s.ts[0], s.seq[0]
	const gap = 5 * time.Millisecond
	start := time.Now()
	first, last, err := s.WriteFramePaced(0, 3, 1100, 3000, gap)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*gap {
		t.Errorf("3 packets %v apart took %v", gap, took)
	}
	if first != 0 || last != 2 {
		t.Errorf("packet indexes %d..%d, want 0..2", first, last)
	}
	first, last, _, err = s.WriteFrame(0, 3, 1100, 3000, false)
	if err != nil {
		t.Fatal(err)
	}
	if first != 3 || last != 5 || s.ts[0]-ts0 != 6000 || s.seq[0]-seq0 != 6 {
		t.Errorf("after two frames: indexes %d..%d, timestamp +%d, sequence +%d", first, last, s.ts[0]-ts0, s.seq[0]-seq0)
	}
}
