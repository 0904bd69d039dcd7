package tresor

import (
	"fmt"
	"sync"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/keys"
)

// keyRing holds the meeting's SFrame state: one Sender for this client's
// tracks and one Receiver per remote participant, keyed by the identity in
// the member's MLS credential.
//
// One Receiver per participant (rather than one for everyone) binds a track
// to its publisher: the SFU says whose track it forwards, and the frames
// decrypt only under that member's keys (RFC 9605 §5.2: each member's base
// key is derived from its leaf index). A server relabelling a track gets
// every frame rejected.
//
// Epochs: install adds the new epoch's keys and switches the Sender at once;
// the previous epoch's receiving keys stay for the grace window and are then
// erased by expire.
type keyRing struct {
	cfg    e2ee.Config
	sender *e2ee.Sender

	mu          sync.Mutex
	peers       map[string]*peerKeys
	senderEpoch uint64
	hasKey      bool
	gen         uint64 // incremented by every install
	keyLog      func(uint64, keys.SFrameKey)
}

type peerKeys struct {
	recv *e2ee.Receiver
	kids map[uint64]uint64 // KID → epoch, guarded by keyRing.mu
}

func newKeyRing(cfg e2ee.Config, keyLog func(uint64, keys.SFrameKey)) (*keyRing, error) {
	s, err := e2ee.NewSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("tresor: %w", err)
	}
	return &keyRing{cfg: cfg, sender: s, peers: map[string]*peerKeys{}, keyLog: keyLog}, nil
}

// peer returns the keys of identity, creating an empty ring for a
// participant the group does not know (its frames are then all rejected).
func (k *keyRing) peer(identity string) (*peerKeys, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peerLocked(identity)
}

func (k *keyRing) peerLocked(identity string) (*peerKeys, error) {
	if p := k.peers[identity]; p != nil {
		return p, nil
	}
	r, err := e2ee.NewReceiver(k.cfg)
	if err != nil {
		return nil, fmt.Errorf("tresor: %w", err)
	}
	p := &peerKeys{recv: r, kids: map[uint64]uint64{}}
	k.peers[identity] = p
	return p, nil
}

// install adds every member's key of ek to the receivers, makes ek.Own the
// sending key, and erases ek. names maps leaf indices to identities.
func (k *keyRing) install(ek *keys.EpochKeys, names map[uint32]string) error {
	defer ek.Erase()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, m := range ek.Members {
		if k.keyLog != nil {
			k.keyLog(ek.Epoch, m)
		}
		if m.Leaf == ek.Own.Leaf {
			continue
		}
		name, ok := names[m.Leaf]
		if !ok {
			continue
		}
		p, err := k.peerLocked(name)
		if err != nil {
			return err
		}
		if err := p.recv.Add(m.KID, m.BaseKey); err != nil {
			return fmt.Errorf("tresor: install key of leaf %d: %w", m.Leaf, err)
		}
		p.kids[m.KID] = ek.Epoch
	}
	if err := k.sender.SetKey(ek.Own.KID, ek.Own.BaseKey); err != nil {
		return fmt.Errorf("tresor: install own key: %w", err)
	}
	k.senderEpoch, k.hasKey = ek.Epoch, true
	k.gen++
	return nil
}

// generation changes whenever keys are installed.
func (k *keyRing) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// expire erases every receiving key of an epoch before epoch.
func (k *keyRing) expire(epoch uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.peers {
		for kid, e := range p.kids {
			if e < epoch {
				p.recv.Remove(kid)
				delete(p.kids, kid)
			}
		}
	}
}

// eraseAll erases every key: the client was removed or left.
func (k *keyRing) eraseAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sender.Erase()
	k.hasKey = false
	for _, p := range k.peers {
		for kid := range p.kids {
			p.recv.Remove(kid)
			delete(p.kids, kid)
		}
	}
}

// epochOf returns the epoch of identity's key kid, if the ring holds it.
func (k *keyRing) epochOf(identity string, kid uint64) (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.peers[identity]
	if p == nil {
		return 0, false
	}
	e, ok := p.kids[kid]
	return e, ok
}

// sendingEpoch returns the epoch of the sending key.
func (k *keyRing) sendingEpoch() (uint64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.senderEpoch, k.hasKey
}

// stats sums the receivers' counters.
func (k *keyRing) stats() e2ee.ReceiverStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	var s e2ee.ReceiverStats
	for _, p := range k.peers {
		r := p.recv.Stats()
		s.Opened += r.Opened
		s.UnknownKey += r.UnknownKey
		s.AuthFailed += r.AuthFailed
		s.Replayed += r.Replayed
		s.Malformed += r.Malformed
	}
	return s
}
