package queue

import (
	"slices"
	"sync"
	"testing"
)

func TestGateHoldsUntilOpen(t *testing.T) {
	var g Gate[string] // the zero Gate is closed
	for _, c := range []string{"a", "b", "c"} {
		if !g.Hold(c) {
			t.Fatalf("closed gate declined %q", c)
		}
	}
	if got := g.Open(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Open returned %q, want [a b c] in order", got)
	}
	if g.Hold("d") {
		t.Fatal("open gate held an item")
	}
	if got := g.Open(); got != nil {
		t.Fatalf("second Open returned %q, want nil", got)
	}
}

func TestGateOpenEmpty(t *testing.T) {
	var g Gate[int]
	if got := g.Open(); got != nil {
		t.Fatalf("Open of an empty gate returned %v", got)
	}
	if g.Hold(1) {
		t.Fatal("open gate held an item")
	}
}

// TestGateConcurrent: with items offered while the gate opens, each item is
// either returned by Open or declined by Hold, exactly once; none is lost
// in between.
func TestGateConcurrent(t *testing.T) {
	for range 20 {
		var g Gate[int]
		const producers, per = 4, 200
		var mu sync.Mutex
		declined := map[int]bool{}
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				for i := range per {
					v := p*per + i
					if !g.Hold(v) {
						mu.Lock()
						declined[v] = true
						mu.Unlock()
					}
				}
			})
		}
		released := g.Open()
		wg.Wait()
		seen := map[int]bool{}
		for _, v := range released {
			if declined[v] || seen[v] {
				t.Fatalf("item %d delivered twice", v)
			}
			seen[v] = true
		}
		if n := len(seen) + len(declined); n != producers*per {
			t.Fatalf("%d items released + declined, want %d", n, producers*per)
		}
		// Each producer's held items come out in its order.
		last := map[int]int{}
		for _, v := range released {
			p := v / per
			if prev, ok := last[p]; ok && v < prev {
				t.Fatalf("producer %d: %d released after %d", p, v, prev)
			}
			last[p] = v
		}
	}
}
