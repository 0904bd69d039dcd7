package e2ee

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Receiver is a key ring of receiving keys by KID with a replay window per
// KID; it decrypts frames from any sender whose key it holds
// (RFC 9605 §4.4.4, §9.3).
//
// Keys come from the caller: with MLS (RFC 9605 §5.2) the application adds
// each member's base key when an epoch starts and removes the previous
// epoch's keys after a grace period.
//
// A Receiver is safe for concurrent use. Open holds the Receiver's mutex
// from the replay check to the window update, so a frame and its copy
// cannot both be accepted.
type Receiver struct {
	mu      sync.Mutex
	cfg     Config
	keys    map[uint64]*receiveKey
	last    *receiveKey // the most recently used key: skips the map lookup
	nt      int         // tag size of the suite
	opened  uint64      // frames accepted; guarded by mu (no atomic on the hot path)
	scratch []byte
	stats   receiverStats
}

type receiveKey struct {
	*keyState
	window replayWindow
}

type receiverStats struct {
	unknownKey, authFailed, replayed, malformed atomic.Uint64
}

// ReceiverStats counts a [Receiver]'s outcomes since it was created. Every
// rejected frame increments exactly one counter.
type ReceiverStats struct {
	Opened     uint64 // frames decrypted and accepted
	UnknownKey uint64 // rejected with ErrUnknownKey
	AuthFailed uint64 // rejected with ErrAuthentication
	Replayed   uint64 // rejected with ErrReplay
	Malformed  uint64 // rejected with ErrMalformed
}

// NewReceiver returns a Receiver with an empty key ring.
func NewReceiver(cfg Config) (*Receiver, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Receiver{cfg: cfg, keys: make(map[uint64]*receiveKey), nt: cfg.Suite.Overhead()}, nil
}

// Suite returns the Receiver's cipher suite.
func (r *Receiver) Suite() Suite { return r.cfg.Suite }

// Add derives the key and salt for kid from baseKey (RFC 9605 §4.4.2) and
// installs them. baseKey is not retained and must be at least
// [MinBaseKeySize] bytes. Adding a KID that is present with another key
// replaces it, erasing the old one, and starts a fresh replay window: frames
// sealed under the old key no longer authenticate, so they cannot be
// replayed. Adding a KID again with the key it already has changes nothing
// and keeps its replay window, so that installing the same keys twice can
// never make a frame that was already accepted acceptable again.
func (r *Receiver) Add(kid uint64, baseKey []byte) error {
	k, err := newKeyState(r.cfg.Suite, kid, baseKey)
	if err != nil {
		return err
	}
	rk := &receiveKey{keyState: k, window: newReplayWindow(r.cfg.ReplayWindow)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.keys[kid]; old != nil {
		if subtle.ConstantTimeCompare(old.mat.key, k.mat.key) == 1 && subtle.ConstantTimeCompare(old.mat.salt, k.mat.salt) == 1 {
			k.erase()
			return nil
		}
		old.erase()
	}
	r.keys[kid] = rk
	r.last = nil
	return nil
}

// Remove erases the key for kid and its replay window, and reports whether
// the KID was present. Frames for kid then fail with [ErrUnknownKey].
func (r *Receiver) Remove(kid uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys[kid]
	if k == nil {
		return false
	}
	k.erase()
	delete(r.keys, kid)
	r.last = nil
	return true
}

// Len returns the number of keys in the ring.
func (r *Receiver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// Open decrypts sframe (header ‖ ciphertext ‖ tag) with metadata as
// additional authenticated data and appends the plaintext to dst
// (RFC 9605 §4.4.4). dst must not overlap sframe or metadata. If dst has
// len(sframe) bytes of spare capacity Open does not allocate for the GCM
// suites.
//
// Errors wrap [ErrMalformed], [ErrUnknownKey], [ErrReplay] or
// [ErrAuthentication]; the frame is then dropped and nothing changes.
func (r *Receiver) Open(dst, sframe, metadata []byte) ([]byte, error) {
	kid, ctr, n, err := parseHeader(sframe)
	if err != nil {
		r.stats.malformed.Add(1)
		r.cfg.Logger.Warn("e2ee: malformed header", slog.Int("len", len(sframe)))
		return nil, err
	}
	if len(sframe)-n < r.nt {
		r.stats.malformed.Add(1)
		r.cfg.Logger.Warn("e2ee: frame shorter than tag", slog.Uint64("kid", kid), slog.Int("len", len(sframe)))
		return nil, fmt.Errorf("%w: %d bytes after the header, tag is %d", ErrMalformed, len(sframe)-n, r.nt)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.last
	if k == nil || k.kid != kid {
		k = r.keys[kid]
	}
	if k == nil {
		r.stats.unknownKey.Add(1)
		r.cfg.Logger.Debug("e2ee: unknown KID", slog.Uint64("kid", kid), slog.Uint64("ctr", ctr))
		return nil, fmt.Errorf("%w: KID %d", ErrUnknownKey, kid)
	}
	// Check the replay window before decrypting, but update it only after
	// the tag verified (RFC 9605 §9.3): a forged frame must not move the
	// window. Both happen under r.mu.
	if !k.window.check(ctr) {
		r.stats.replayed.Add(1)
		r.cfg.Logger.Debug("e2ee: replayed or too old", slog.Uint64("kid", kid), slog.Uint64("ctr", ctr))
		return nil, fmt.Errorf("%w: KID %d CTR %d", ErrReplay, kid, ctr)
	}
	out, err := k.open(dst, sframe[:n], sframe[n:], metadata, ctr, &r.scratch)
	if err != nil {
		r.stats.authFailed.Add(1)
		r.cfg.Logger.Warn("e2ee: authentication failed", slog.Uint64("kid", kid), slog.Uint64("ctr", ctr))
		return nil, fmt.Errorf("%w: KID %d", ErrAuthentication, kid)
	}
	k.window.update(ctr)
	r.last = k
	r.opened++
	return out, nil
}

// Stats returns a snapshot of the Receiver's counters.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	opened := r.opened
	r.mu.Unlock()
	return ReceiverStats{
		Opened:     opened,
		UnknownKey: r.stats.unknownKey.Load(),
		AuthFailed: r.stats.authFailed.Load(),
		Replayed:   r.stats.replayed.Load(),
		Malformed:  r.stats.malformed.Load(),
	}
}
