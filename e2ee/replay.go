package e2ee

// replayWindow is a per-KID sliding window over received CTR values, in the
// manner of RFC 6479 (a bitmap indexed by CTR modulo the window size).
//
// The owner must call check before decrypting a frame and update only after
// its tag verified (RFC 9605 §9.3): an unauthenticated frame must never move
// the window, or a forger could push it forward and make genuine frames look
// old. check and update must be called under the same lock, so that two
// copies of one frame cannot both pass.
type replayWindow struct {
	seen bool     // whether any CTR was accepted yet
	top  uint64   // highest accepted CTR
	bits []uint64 // bit (ctr mod size) set: ctr accepted, for ctr in (top-size, top]
	size uint64   // window size in bits, a multiple of 64
}

func newReplayWindow(size int) replayWindow {
	return replayWindow{bits: make([]uint64, size/64), size: uint64(size)}
}

func (w *replayWindow) bit(ctr uint64) (word int, mask uint64) {
	i := ctr % w.size
	return int(i / 64), 1 << (i % 64)
}

// check reports whether ctr may be accepted: it is newer than every accepted
// CTR, or inside the window and not yet accepted.
func (w *replayWindow) check(ctr uint64) bool {
	if !w.seen || ctr > w.top {
		return true
	}
	if w.top-ctr >= w.size {
		return false // too old
	}
	word, mask := w.bit(ctr)
	return w.bits[word]&mask == 0
}

// update records ctr as accepted. Call it only after check returned true and
// the frame authenticated.
func (w *replayWindow) update(ctr uint64) {
	switch {
	case !w.seen:
		w.seen = true
		w.top = ctr
	case ctr > w.top:
		if adv := ctr - w.top; adv >= w.size {
			clear(w.bits)
		} else {
			for i := uint64(1); i <= adv; i++ {
				word, mask := w.bit(w.top + i)
				w.bits[word] &^= mask
			}
		}
		w.top = ctr
	}
	word, mask := w.bit(ctr)
	w.bits[word] |= mask
}
