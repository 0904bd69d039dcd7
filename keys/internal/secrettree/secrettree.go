// Package secrettree implements the MLS secret tree (RFC 9420 §9): the tree
// of secrets, rooted at an epoch's encryption_secret, from which each member
// derives the keys and nonces of its handshake and application messages.
//
//	                    encryption_secret (root)
//	                 "tree","left" /      \ "tree","right"
//	                          ...            ...
//	                 leaf node secret of member N
//	     "handshake",""  /                     \  "application",""
//	handshake_ratchet_secret[N][0]      application_ratchet_secret[N][0]
//	        │ ratchet (§9.1), for each generation j:
//	        │   key[j]    = DeriveTreeSecret(secret[j], "key",    j, AEAD.Nk)
//	        │   nonce[j]  = DeriveTreeSecret(secret[j], "nonce",  j, AEAD.Nn)
//	        ▼   secret[j+1] = DeriveTreeSecret(secret[j], "secret", j, KDF.Nh)
//
// Secrets are derived lazily, when a leaf is first used, and deleted as
// RFC 9420 §9.2 requires: a node's secret once both children's are derived,
// a leaf's once its two ratchets are, a ratchet secret once the next one is,
// and a key and nonce once used.
//
// # Out-of-order messages
//
// A receiver accepts a generation at most [Config.MaxForward] (default
// 1000) ahead of the next expected one, so that a forged generation cannot
// make it compute millions of hashes. Keys of generations it skipped are
// kept, at most [Config.MaxSkipped] (default 64) per ratchet, oldest dropped
// first, so that late messages can still be read; a generation that was used
// or dropped cannot be read again, which also rejects replays.
//
// Decryption is two steps so that nothing changes before a message
// authenticates: [Tree.DecryptionKey] derives the key without consuming
// anything, and [Tree.Consume], called only after the AEAD tag verified,
// deletes it and moves the ratchet forward.
//
// The package also derives the sender-data key and nonce of a
// PrivateMessage (RFC 9420 §6.3.2, [SenderDataKeyNonce]).
//
// A Tree is not safe for concurrent use.
package secrettree

import (
	"errors"
	"fmt"
	"math"

	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
)

// RatchetType selects one of a leaf's two ratchets (RFC 9420 §9).
type RatchetType uint8

const (
	// Handshake is the ratchet of proposals and commits sent as
	// PrivateMessage.
	Handshake RatchetType = iota + 1
	// Application is the ratchet of application messages.
	Application
)

// String returns "handshake" or "application".
func (t RatchetType) String() string {
	switch t {
	case Handshake:
		return "handshake"
	case Application:
		return "application"
	}
	return fmt.Sprintf("RatchetType(%d)", uint8(t))
}

// ErrGeneration is returned (wrapped) when a generation cannot be read: it
// was already used, it was dropped from the out-of-order window, or it is
// too far ahead. Callers treat the message as undecryptable.
var ErrGeneration = errors.New("mls: secret tree: generation unavailable")

// Config bounds the out-of-order window of every ratchet. The zero value
// selects the defaults.
type Config struct {
	// MaxForward is how many generations past the next expected one a
	// receiver will derive. Zero means 1000.
	MaxForward uint32
	// MaxSkipped is how many keys of skipped generations a ratchet keeps
	// for late messages. Zero means 64; negative keeps none.
	MaxSkipped int
}

const (
	defaultMaxForward = 1000
	defaultMaxSkipped = 64
)

// Key is the AEAD key and nonce of one generation of a ratchet (RFC 9420
// §9.1). Key and Nonce are secret; a Key prints them as REDACTED.
type Key struct {
	Generation uint32
	Key        []byte
	Nonce      []byte
}

// Erase zeroes the key and nonce.
func (k *Key) Erase() {
	clear(k.Key)
	clear(k.Nonce)
	k.Key, k.Nonce = nil, nil
}

// Format prints the generation and a redacted placeholder for every verb.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "secrettree.Key{Generation: %d, REDACTED}", k.Generation)
}

// Tree is the secret tree of one epoch.
type Tree struct {
	suite *suite.Suite
	n     treemath.LeafCount
	cfg   Config
	// nodes holds the node secrets not yet consumed, indexed by node;
	// nil where a secret is not derived yet or already deleted.
	nodes [][]byte
	// leaves holds each leaf's ratchets once its secret has been consumed.
	leaves []*leafRatchets
}

type leafRatchets struct {
	handshake, application ratchet
}

// New returns the secret tree of an epoch with n leaves (the size of the
// ratchet tree, a power of two) rooted at encryptionSecret (RFC 9420 §9).
// The tree keeps its own copy of the secret; the caller should erase its own.
func New(s *suite.Suite, encryptionSecret schedule.EncryptionSecret, n treemath.LeafCount, cfg Config) (*Tree, error) {
	if s == nil {
		return nil, errors.New("mls: secret tree: no cipher suite")
	}
	if !n.Valid() {
		return nil, fmt.Errorf("mls: secret tree: %d leaves is not a power of two", n)
	}
	if len(encryptionSecret) != s.Nh() {
		return nil, fmt.Errorf("mls: secret tree: encryption_secret is %d bytes, want %d", len(encryptionSecret), s.Nh())
	}
	if cfg.MaxForward == 0 {
		cfg.MaxForward = defaultMaxForward
	}
	if cfg.MaxSkipped == 0 {
		cfg.MaxSkipped = defaultMaxSkipped
	}
	t := &Tree{
		suite:  s,
		n:      n,
		cfg:    cfg,
		nodes:  make([][]byte, n.Width()),
		leaves: make([]*leafRatchets, n),
	}
	t.nodes[n.Root()] = append([]byte(nil), encryptionSecret...)
	return t, nil
}

// Erase zeroes every secret and key the tree holds.
func (t *Tree) Erase() {
	for _, b := range t.nodes {
		clear(b)
	}
	for _, l := range t.leaves {
		if l != nil {
			l.handshake.erase()
			l.application.erase()
		}
	}
	t.nodes, t.leaves = nil, nil
}

// ratchet returns the ratchet typ of leaf, deriving the leaf's secret down
// from the nearest ancestor that still holds one (RFC 9420 §9, §9.2).
func (t *Tree) ratchet(leaf treemath.LeafIndex, typ RatchetType) (*ratchet, error) {
	if typ != Handshake && typ != Application {
		return nil, fmt.Errorf("mls: secret tree: unknown ratchet type %d", typ)
	}
	if t.leaves == nil {
		return nil, errors.New("mls: secret tree: used after Erase")
	}
	if !t.n.ContainsLeaf(leaf) {
		return nil, fmt.Errorf("mls: secret tree: leaf %d outside a tree of %d leaves", leaf, t.n)
	}
	if t.leaves[leaf] == nil {
		if err := t.initLeaf(leaf); err != nil {
			return nil, err
		}
	}
	if typ == Handshake {
		return &t.leaves[leaf].handshake, nil
	}
	return &t.leaves[leaf].application, nil
}

func (t *Tree) initLeaf(leaf treemath.LeafIndex) error {
	s := t.suite
	nh := uint16(s.Nh())
	// Walk up to the nearest ancestor holding a secret, then derive down
	// the path, replacing each parent's secret with its two children's.
	x := leaf.Node()
	path := []treemath.NodeIndex{}
	for t.nodes[x] == nil {
		path = append(path, x)
		p, ok := t.n.Parent(x)
		if !ok {
			return errors.New("mls: secret tree: no secret left on the path to the leaf")
		}
		x = p
	}
	for i := len(path) - 1; i >= 0; i-- {
		left, _ := x.Left()
		right, _ := x.Right()
		l, err := s.ExpandWithLabel(t.nodes[x], "tree", []byte("left"), nh)
		if err != nil {
			return fmt.Errorf("mls: secret tree: %w", err)
		}
		r, err := s.ExpandWithLabel(t.nodes[x], "tree", []byte("right"), nh)
		if err != nil {
			return fmt.Errorf("mls: secret tree: %w", err)
		}
		clear(t.nodes[x])
		t.nodes[x] = nil
		t.nodes[left], t.nodes[right] = l, r
		x = path[i]
	}
	leafSecret := t.nodes[x]
	hs, err := s.ExpandWithLabel(leafSecret, "handshake", nil, nh)
	if err != nil {
		return fmt.Errorf("mls: secret tree: %w", err)
	}
	as, err := s.ExpandWithLabel(leafSecret, "application", nil, nh)
	if err != nil {
		return fmt.Errorf("mls: secret tree: %w", err)
	}
	clear(leafSecret)
	t.nodes[x] = nil
	t.leaves[leaf] = &leafRatchets{
		handshake:   ratchet{suite: s, secret: hs},
		application: ratchet{suite: s, secret: as},
	}
	return nil
}

// EncryptionKey returns the key and nonce of the next generation of leaf's
// ratchet typ, for the member at leaf to encrypt one message, and deletes
// them from the tree (RFC 9420 §9.2). Each call returns a new generation.
func (t *Tree) EncryptionKey(leaf treemath.LeafIndex, typ RatchetType) (Key, error) {
	r, err := t.ratchet(leaf, typ)
	if err != nil {
		return Key{}, err
	}
	return r.next()
}

// DecryptionKey returns the key and nonce of generation gen of leaf's
// ratchet typ without changing the tree's ratchets, so that a message that
// fails to authenticate leaves no trace. (The first use of a leaf derives its
// ratchets from the tree, which deletes node secrets but loses no key.) After the message authenticates,
// call [Tree.Consume] with the same arguments. It fails with an error
// wrapping [ErrGeneration] if gen was used or dropped, or is more than
// MaxForward ahead.
func (t *Tree) DecryptionKey(leaf treemath.LeafIndex, typ RatchetType, gen uint32) (Key, error) {
	r, err := t.ratchet(leaf, typ)
	if err != nil {
		return Key{}, err
	}
	return r.peek(gen, t.cfg.MaxForward)
}

// Consume deletes the key of generation gen of leaf's ratchet typ, once a
// message under it has authenticated. If gen is ahead of the ratchet, the
// ratchet moves past it and keeps the keys of the generations it skipped,
// within MaxSkipped.
func (t *Tree) Consume(leaf treemath.LeafIndex, typ RatchetType, gen uint32) error {
	r, err := t.ratchet(leaf, typ)
	if err != nil {
		return err
	}
	return r.consume(gen, t.cfg.MaxForward, t.cfg.MaxSkipped)
}

// ratchet is one hash ratchet (RFC 9420 §9.1).
type ratchet struct {
	suite     *suite.Suite
	secret    []byte // ratchet_secret[gen]; nil once exhausted
	gen       uint32 // the next generation to derive
	exhausted bool
	skipped   []Key // keys of skipped generations, oldest first
}

func (r *ratchet) erase() {
	clear(r.secret)
	r.secret = nil
	for i := range r.skipped {
		r.skipped[i].Erase()
	}
	r.skipped = nil
}

// derive returns the key of generation gen from its ratchet secret.
func (r *ratchet) derive(secret []byte, gen uint32) (Key, error) {
	s := r.suite
	key, err := s.DeriveTreeSecret(secret, "key", gen, uint16(s.Nk()))
	if err != nil {
		return Key{}, fmt.Errorf("mls: secret tree: %w", err)
	}
	nonce, err := s.DeriveTreeSecret(secret, "nonce", gen, uint16(s.Nn()))
	if err != nil {
		clear(key)
		return Key{}, fmt.Errorf("mls: secret tree: %w", err)
	}
	return Key{Generation: gen, Key: key, Nonce: nonce}, nil
}

// advance replaces the ratchet secret with the next generation's.
func (r *ratchet) advance() error {
	next, err := r.suite.DeriveTreeSecret(r.secret, "secret", r.gen, uint16(r.suite.Nh()))
	if err != nil {
		return fmt.Errorf("mls: secret tree: %w", err)
	}
	clear(r.secret)
	r.secret = next
	if r.gen == math.MaxUint32 {
		r.exhausted = true
		clear(r.secret)
		r.secret = nil
		return nil
	}
	r.gen++
	return nil
}

// next derives the key of the next generation and deletes it with the
// ratchet secret it came from.
func (r *ratchet) next() (Key, error) {
	if r.exhausted {
		return Key{}, fmt.Errorf("%w: ratchet exhausted", ErrGeneration)
	}
	k, err := r.derive(r.secret, r.gen)
	if err != nil {
		return Key{}, err
	}
	if err := r.advance(); err != nil {
		k.Erase()
		return Key{}, err
	}
	return k, nil
}

func (r *ratchet) peek(gen, maxForward uint32) (Key, error) {
	if r.exhausted || gen < r.gen {
		for _, k := range r.skipped {
			if k.Generation == gen {
				return Key{Generation: gen, Key: append([]byte(nil), k.Key...), Nonce: append([]byte(nil), k.Nonce...)}, nil
			}
		}
		return Key{}, fmt.Errorf("%w: generation %d already used or dropped", ErrGeneration, gen)
	}
	if gen-r.gen > maxForward {
		return Key{}, fmt.Errorf("%w: generation %d is more than %d ahead of %d", ErrGeneration, gen, maxForward, r.gen)
	}
	secret := r.secret
	for j := r.gen; j < gen; j++ {
		next, err := r.suite.DeriveTreeSecret(secret, "secret", j, uint16(r.suite.Nh()))
		if j != r.gen {
			clear(secret)
		}
		if err != nil {
			return Key{}, fmt.Errorf("mls: secret tree: %w", err)
		}
		secret = next
	}
	k, err := r.derive(secret, gen)
	if gen != r.gen {
		clear(secret)
	}
	return k, err
}

func (r *ratchet) consume(gen, maxForward uint32, maxSkipped int) error {
	if r.exhausted || gen < r.gen {
		for i, k := range r.skipped {
			if k.Generation == gen {
				r.skipped[i].Erase()
				r.skipped = append(r.skipped[:i], r.skipped[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: generation %d already used or dropped", ErrGeneration, gen)
	}
	if gen-r.gen > maxForward {
		return fmt.Errorf("%w: generation %d is more than %d ahead of %d", ErrGeneration, gen, maxForward, r.gen)
	}
	for r.gen < gen {
		if maxSkipped > 0 {
			k, err := r.derive(r.secret, r.gen)
			if err != nil {
				return err
			}
			if len(r.skipped) >= maxSkipped {
				r.skipped[0].Erase()
				r.skipped = r.skipped[1:]
			}
			r.skipped = append(r.skipped, k)
		}
		if err := r.advance(); err != nil {
			return err
		}
	}
	// gen's own key is not kept: the caller already has it.
	return r.advance()
}

// SenderDataKeyNonce derives the key and nonce that encrypt a
// PrivateMessage's sender data (RFC 9420 §6.3.2):
//
//	ciphertext_sample = ciphertext[0..KDF.Nh-1]
//	sender_data_key   = ExpandWithLabel(sender_data_secret, "key",
//	                                    ciphertext_sample, AEAD.Nk)
//	sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce",
//	                                    ciphertext_sample, AEAD.Nn)
//
// A ciphertext shorter than Nh bytes is sampled whole. Both results are
// secret.
func SenderDataKeyNonce(s *suite.Suite, secret schedule.SenderDataSecret, ciphertext []byte) (key, nonce []byte, err error) {
	if len(secret) != s.Nh() {
		return nil, nil, fmt.Errorf("mls: sender data: sender_data_secret is %d bytes, want %d", len(secret), s.Nh())
	}
	sample := ciphertext[:min(len(ciphertext), s.Nh())]
	if key, err = s.ExpandWithLabel(secret, "key", sample, uint16(s.Nk())); err != nil {
		return nil, nil, fmt.Errorf("mls: sender data key: %w", err)
	}
	if nonce, err = s.ExpandWithLabel(secret, "nonce", sample, uint16(s.Nn())); err != nil {
		clear(key)
		return nil, nil, fmt.Errorf("mls: sender data nonce: %w", err)
	}
	return key, nonce, nil
}
