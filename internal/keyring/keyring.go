// Package keyring holds a meeting client's SFrame state (RFC 9605): one
// Sender for its own media and one Receiver per remote member, filed under
// the member's identity as the MLS group names it. The Go client (package
// tresor) and the browser's worker (cmd/tresor-wasm) both use it, fed by the
// key outputs of package core.
//
// One Receiver per member binds a track to its publisher: the SFU labels each
// track with a participant identity, and the track's frames are opened only
// with that member's keys, whose KIDs carry its leaf index (RFC 9605 §5.2).
// A server that relabels a track, or forwards one member's frames as
// another's, gets every frame rejected; and since a group never holds two
// leaves of one identity (package keys), no second member can hide behind a
// name.
package keyring

import (
	"fmt"
	"sync"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
)

// Ring is the key ring. It is safe for concurrent use: the driver's host
// installs keys while media goroutines seal and open frames.
type Ring struct {
	cfg    e2ee.Config
	sender *e2ee.Sender

	mu          sync.Mutex
	peers       map[string]*Peer
	senderEpoch uint64
	hasKey      bool
	gen         uint64 // incremented by every Install
}

// Peer is one remote member's receiving keys.
type Peer struct {
	// Receiver opens the member's frames. It is safe for concurrent use.
	Receiver *e2ee.Receiver
	kids     map[uint64]uint64 // KID → epoch, guarded by Ring.mu
}

// New returns an empty ring.
func New(cfg e2ee.Config) (*Ring, error) {
	s, err := e2ee.NewSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Ring{cfg: cfg, sender: s, peers: map[string]*Peer{}}, nil
}

// Sender returns the sender that seals this client's frames.
func (r *Ring) Sender() *e2ee.Sender { return r.sender }

// Peer returns the receiving keys of identity, creating an empty entry for
// a participant the group does not know (its frames are then all
// rejected).
func (r *Ring) Peer(identity string) (*Peer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peerLocked(identity)
}

func (r *Ring) peerLocked(identity string) (*Peer, error) {
	if p := r.peers[identity]; p != nil {
		return p, nil
	}
	rc, err := e2ee.NewReceiver(r.cfg)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	p := &Peer{Receiver: rc, kids: map[uint64]uint64{}}
	r.peers[identity] = p
	return p, nil
}

// Install adds every other member's key of k to its receiver and makes
// k.Own the sending key. It erases k.
func (r *Ring) Install(k *core.InstallKeys) error {
	defer k.Erase()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range k.Members {
		if m.Leaf == k.Own.Leaf {
			continue
		}
		p, err := r.peerLocked(m.Identity)
		if err != nil {
			return err
		}
		if err := p.Receiver.Add(m.KID, m.BaseKey); err != nil {
			return fmt.Errorf("keyring: key of leaf %d: %w", m.Leaf, err)
		}
		p.kids[m.KID] = k.Epoch
	}
	if err := r.sender.SetKey(k.Own.KID, k.Own.BaseKey); err != nil {
		return fmt.Errorf("keyring: own key: %w", err)
	}
	r.senderEpoch, r.hasKey = k.Epoch, true
	r.gen++
	return nil
}

// Generation changes whenever keys are installed.
func (r *Ring) Generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// Expire erases every receiving key of an epoch before before.
func (r *Ring) Expire(before uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		for kid, e := range p.kids {
			if e < before {
				p.Receiver.Remove(kid)
				delete(p.kids, kid)
			}
		}
	}
}

// EraseAll erases every key, sending and receiving.
func (r *Ring) EraseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sender.Erase()
	r.hasKey = false
	for _, p := range r.peers {
		for kid := range p.kids {
			p.Receiver.Remove(kid)
			delete(p.kids, kid)
		}
	}
}

// EpochOf returns the epoch of identity's key kid, if the ring holds it.
func (r *Ring) EpochOf(identity string, kid uint64) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[identity]
	if p == nil {
		return 0, false
	}
	e, ok := p.kids[kid]
	return e, ok
}

// SendingEpoch returns the epoch of the sending key, and false without one.
func (r *Ring) SendingEpoch() (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.senderEpoch, r.hasKey
}

// ReceiveKeys returns how many receiving keys the ring holds.
func (r *Ring) ReceiveKeys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.peers {
		n += len(p.kids)
	}
	return n
}

// Stats sums the receivers' counters.
func (r *Ring) Stats() e2ee.ReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s e2ee.ReceiverStats
	for _, p := range r.peers {
		st := p.Receiver.Stats()
		s.Opened += st.Opened
		s.UnknownKey += st.UnknownKey
		s.AuthFailed += st.AuthFailed
		s.Replayed += st.Replayed
		s.Malformed += st.Malformed
	}
	return s
}
