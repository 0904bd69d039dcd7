package loadtest

import (
	"testing"
	"time"
)

func TestPacingGap(t *testing.T) {
	if g := (Config{Payload: 1100, BitrateBps: 1_000_000}).gap(); g != 0 {
		t.Errorf("unpaced gap = %v, want 0", g)
	}
	// 8800 bits at 2.5 Mbit/s.
	if g := (Config{Paced: true, Payload: 1100, BitrateBps: 1_000_000}).gap(); g != 3520*time.Microsecond {
		t.Errorf("paced gap = %v, want 3.52ms", g)
	}
}
