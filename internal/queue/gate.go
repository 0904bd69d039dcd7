package queue

import "sync"

// Gate holds items until it is opened, then lets them pass. Its use is
// trickle ICE (RFC 8838 §4): a peer connection cannot take a remote
// candidate before the remote description, yet candidates may arrive
// first. The connection's owner offers each candidate to [Gate.Hold] and
// adds it itself only when Hold declines; right after setting the remote
// description it calls [Gate.Open] and adds the held candidates:
//
//	if !g.Hold(c) {
//		return pc.AddICECandidate(c)
//	}
//	...
//	if err := pc.SetRemoteDescription(sd); err == nil {
//		for _, c := range g.Open() {
//			_ = pc.AddICECandidate(c)
//		}
//	}
//
// The gate keeps its own state instead of asking the connection whether it
// has a remote description, and it never calls out while locked, so its
// lock is a leaf: callers may hold their own locks around Hold and Open
// without ordering them against the connection's. A candidate that Hold
// declines may reach the connection before the ones Open returned are
// added; ICE does not depend on the order of candidates.
//
// The zero Gate is closed and empty. A Gate must not be copied after first
// use. It is safe for concurrent use.
type Gate[T any] struct {
	mu   sync.Mutex
	open bool
	held []T
}

// Hold keeps v if the gate is closed and reports whether it did. When it
// returns false the gate is open and the caller passes v on itself.
func (g *Gate[T]) Hold(v T) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		return false
	}
	g.held = append(g.held, v)
	return true
}

// Open opens the gate and returns the held items in the order they were
// held; the caller passes them on. Opening an open gate returns nil.
func (g *Gate[T]) Open() []T {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	held := g.held
	g.held = nil
	return held
}
