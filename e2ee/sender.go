package e2ee

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
)

// Sender encrypts frames for one media sender (RFC 9605 §4.4.3). It holds the
// sender's current key and, for every KID it ever used, the next CTR.
//
// A Sender is safe for concurrent use; frames are sealed one at a time under
// a mutex, so concurrent callers get distinct CTR values.
type Sender struct {
	mu   sync.Mutex
	cfg  Config
	cur  *keyState
	next uint64 // next CTR for cur
	done bool   // every CTR for cur was used
	// ctrs remembers the next CTR of every KID this Sender has used, so that
	// installing a KID again (even with the same base key) can never reuse a
	// CTR, and hence never a nonce, under that KID.
	ctrs    map[uint64]senderCounter
	scratch []byte // AAD = header ‖ metadata when metadata is not empty
	sealed  uint64 // frames sealed; guarded by mu (no atomic on the hot path)
	stats   senderStats
}

type senderCounter struct {
	next uint64
	done bool
}

type senderStats struct {
	noKey, exhausted, malformed atomic.Uint64
}

// SenderStats counts a [Sender]'s outcomes since it was created.
type SenderStats struct {
	Sealed    uint64 // frames encrypted
	NoKey     uint64 // Seal called before SetKey (or after Erase)
	Exhausted uint64 // Seal refused with ErrCounterExhausted
	Malformed uint64 // frames refused by EncryptFrame as too short for the codec
}

// NewSender returns a Sender with no key; call [Sender.SetKey] before
// [Sender.Seal].
func NewSender(cfg Config) (*Sender, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Sender{cfg: cfg, ctrs: make(map[uint64]senderCounter)}, nil
}

// Suite returns the Sender's cipher suite.
func (s *Sender) Suite() Suite { return s.cfg.Suite }

// SetKey derives the key and salt for kid from baseKey (RFC 9605 §4.4.2) and
// makes them the Sender's current key: every following frame carries kid.
// The previous key's derived material is erased. baseKey is not retained;
// the caller may wipe it after SetKey returns. It must be at least
// [MinBaseKeySize] bytes (MLS exports [Suite.KeySize] bytes, RFC 9605 §5.2).
//
// CTR values continue where they stopped if kid was used before.
func (s *Sender) SetKey(kid uint64, baseKey []byte) error {
	k, err := newKeyState(s.cfg.Suite, kid, baseKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveCounter()
	if s.cur != nil {
		s.cur.erase()
	}
	s.cur = k
	c := s.ctrs[kid]
	s.next, s.done = c.next, c.done
	return nil
}

// saveCounter stores the current KID's counter state; s.mu must be held.
func (s *Sender) saveCounter() {
	if s.cur != nil {
		s.ctrs[s.cur.kid] = senderCounter{next: s.next, done: s.done}
	}
}

// Erase erases the current key material. The Sender refuses to seal until the
// next SetKey. CTR state is kept.
func (s *Sender) Erase() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveCounter()
	if s.cur != nil {
		s.cur.erase()
		s.cur = nil
	}
}

// Seal encrypts plaintext with metadata as additional authenticated data
// and appends the SFrame ciphertext, header ‖ ciphertext ‖ tag, to dst
// (RFC 9605 §4.4.3: AAD = header ‖ metadata). metadata itself is not
// appended. dst must not overlap plaintext or metadata. If dst has enough
// spare capacity (len(plaintext) + 17 + Overhead bytes is always enough) Seal
// does not allocate for the GCM suites.
//
// Seal fails with [ErrUnknownKey] when no key is set and with
// [ErrCounterExhausted] once all 2^64 CTR values of the current KID are used.
func (s *Sender) Seal(dst, plaintext, metadata []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.cur
	if k == nil {
		s.stats.noKey.Add(1)
		s.cfg.Logger.Debug("e2ee: seal without key")
		return nil, fmt.Errorf("%w: sender has no key set", ErrUnknownKey)
	}
	if s.done {
		s.stats.exhausted.Add(1)
		s.cfg.Logger.Warn("e2ee: counter exhausted", slog.Uint64("kid", k.kid))
		return nil, fmt.Errorf("e2ee: sealing with KID %d: %w", k.kid, ErrCounterExhausted)
	}
	ctr := s.next
	if ctr == math.MaxUint64 {
		s.done = true
	} else {
		s.next++
	}
	s.sealed++
	return k.seal(dst, ctr, plaintext, metadata, &s.scratch), nil
}

// Stats returns a snapshot of the Sender's counters.
func (s *Sender) Stats() SenderStats {
	s.mu.Lock()
	sealed := s.sealed
	s.mu.Unlock()
	return SenderStats{
		Sealed:    sealed,
		NoKey:     s.stats.noKey.Load(),
		Exhausted: s.stats.exhausted.Load(),
		Malformed: s.stats.malformed.Load(),
	}
}

// seal appends header ‖ AEAD.Encrypt(sframe_key, nonce, header ‖ metadata,
// plaintext) to dst (RFC 9605 §4.4.3). scratch holds the AAD when metadata
// is present, since it must be contiguous.
func (k *keyState) seal(dst []byte, ctr uint64, plaintext, metadata []byte, scratch *[]byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, k.kid, ctr)
	aad := dst[start:]
	if len(metadata) > 0 {
		*scratch = append(append((*scratch)[:0], aad...), metadata...)
		aad = *scratch
	}
	return k.aead.Seal(dst, k.makeNonce(ctr), plaintext, aad)
}

// open authenticates and decrypts ct (ciphertext ‖ tag) whose header is hdr
// and appends the plaintext to dst (RFC 9605 §4.4.4).
func (k *keyState) open(dst, hdr, ct, metadata []byte, ctr uint64, scratch *[]byte) ([]byte, error) {
	aad := hdr
	if len(metadata) > 0 {
		*scratch = append(append((*scratch)[:0], hdr...), metadata...)
		aad = *scratch
	}
	return k.aead.Open(dst, k.makeNonce(ctr), ct, aad)
}
