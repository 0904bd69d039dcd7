package e2ee

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refWindow is the obvious model of a replay window: the set of every
// accepted CTR and the highest one.
type refWindow struct {
	seen map[uint64]bool
	top  uint64
	size uint64
}

func (w *refWindow) accept(ctr uint64) bool {
	if len(w.seen) > 0 && ctr <= w.top && (w.top-ctr >= w.size || w.seen[ctr]) {
		return false
	}
	if len(w.seen) == 0 || ctr > w.top {
		w.top = ctr
	}
	w.seen[ctr] = true
	return true
}

func TestReplayWindowModel(t *testing.T) {
	for _, size := range []int{64, 128, 1024} {
		rng := rand.New(rand.NewPCG(1, uint64(size)))
		for _, start := range []uint64{0, 1000, math.MaxUint64 - 1<<20} {
			w := newReplayWindow(size)
			ref := &refWindow{seen: map[uint64]bool{}, size: uint64(size)}
			ctr := start
			for i := 0; i < 20000; i++ {
				var c uint64
				switch rng.IntN(10) {
				case 0, 1, 2, 3, 4: // in order, sometimes skipping
					ctr += uint64(rng.IntN(3))
					c = ctr
				case 5, 6: // reordered inside or around the window edge
					c = ctr - uint64(rng.IntN(size+8))
				case 7: // duplicate of a recent one
					c = ctr - uint64(rng.IntN(4))
				case 8: // far in the past
					c = ctr - uint64(size) - uint64(rng.IntN(1<<20))
				case 9: // a jump ahead
					if rng.IntN(50) == 0 {
						ctr += uint64(size) + uint64(rng.IntN(3*size))
					}
					c = ctr
				}
				if c > ctr { // wrapped below zero
					continue
				}
				want := ref.accept(c)
				got := w.check(c)
				if got != want {
					t.Fatalf("size %d step %d ctr %d (top %d): check = %v, model says %v", size, i, c, w.top, got, want)
				}
				if got {
					w.update(c)
				}
			}
		}
	}
}

func TestReplayWindowEdges(t *testing.T) {
	w := newReplayWindow(64)
	if !w.check(math.MaxUint64) {
		t.Fatal("first CTR 2^64-1 rejected")
	}
	w.update(math.MaxUint64)
	if w.check(math.MaxUint64) {
		t.Fatal("duplicate 2^64-1 accepted")
	}
	if !w.check(math.MaxUint64 - 63) {
		t.Fatal("oldest in-window CTR rejected")
	}
	if w.check(math.MaxUint64 - 64) {
		t.Fatal("CTR just outside the window accepted")
	}

	w = newReplayWindow(64)
	w.update(0)
	if w.check(0) || !w.check(1) {
		t.Fatal("window after 0 is wrong")
	}
	w.update(200) // jump past the whole window
	if w.check(200) || w.check(136) || !w.check(137) || !w.check(199) {
		t.Fatal("window after a jump is wrong")
	}
}
