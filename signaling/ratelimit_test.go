package signaling

import (
	"fmt"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	r := Rate{Per: 2, Burst: 3}
	var b bucket
	for i := range 3 {
		if !b.take(r, now) {
			t.Fatalf("take %d refused", i)
		}
	}
	if b.take(r, now) {
		t.Fatal("burst exceeded")
	}
	now = now.Add(500 * time.Millisecond) // one token
	if !b.take(r, now) || b.take(r, now) {
		t.Fatal("refill of one token")
	}
	now = now.Add(time.Hour) // capped at burst
	n := 0
	for b.take(r, now) {
		n++
	}
	if n != 3 {
		t.Fatalf("after a long pause %d tokens, want 3", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter[string](Rate{Per: 1, Burst: 2}, 10, func() time.Time { return now })
	if !l.spend("a") || !l.spend("a") || l.spend("a") {
		t.Fatal("per-key limit")
	}
	l.refund("a")
	if !l.spend("a") || l.spend("a") {
		t.Fatal("refund")
	}
	for i := range 100 {
		l.spend(fmt.Sprint(i))
	}
	if len(l.buckets) > 10 {
		t.Fatalf("limiter holds %d keys, bound 10", len(l.buckets))
	}
}
