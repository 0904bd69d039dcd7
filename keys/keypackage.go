package keys

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/group"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// DefaultKeyPackageLifetime is how long a KeyPackage stays valid when
// Config.KeyPackageLifetime is zero.
const DefaultKeyPackageLifetime = 24 * time.Hour

// A KeyPackage is a client's signed offer to be added to a group (RFC 9420
// §10): an HPKE init key that the Welcome is encrypted to, and the leaf node
// the client takes in the tree. The client uploads [KeyPackage.Bytes] to the
// delivery service and keeps the KeyPackage, whose private keys open the
// Welcome, until [Join]. A KeyPackage is used for one Welcome only.
type KeyPackage struct {
	_       [0]func() // not comparable
	id      *Identity
	kp      *wire.KeyPackage
	msg     []byte
	secrets *group.KeyPackageSecrets
	used    bool
}

// NewKeyPackage creates a KeyPackage for id with fresh init and leaf keys,
// valid from cfg's now until now + cfg.KeyPackageLifetime (RFC 9420 §10,
// §7.2). cfg may be nil.
func NewKeyPackage(id *Identity, cfg *Config) (*KeyPackage, error) {
	if id == nil {
		return nil, errNilIdentity
	}
	c := cfg.orDefault()
	if err := c.checkOwn(id); err != nil {
		return nil, err
	}
	now := c.now()
	lifetime := c.KeyPackageLifetime
	if lifetime <= 0 {
		lifetime = DefaultKeyPackageLifetime
	}
	// A small margin for clock skew between members (RFC 9420 §10.1
	// leaves lifetime checks to local clocks).
	kp, secrets, err := group.NewKeyPackage(defaultSuite(), c.rand(), id.key, id.credential(), now.Add(-time.Hour), now.Add(lifetime))
	if err != nil {
		return nil, fmt.Errorf("keys: new KeyPackage: %w", err)
	}
	msg, err := codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatKeyPackage, KeyPackage: kp})
	if err != nil {
		secrets.Erase()
		return nil, fmt.Errorf("keys: encode KeyPackage: %w", err)
	}
	return &KeyPackage{id: id, kp: kp, msg: msg, secrets: secrets}, nil
}

// Bytes returns the KeyPackage as an MLSMessage (RFC 9420 §6), for the
// delivery service. It holds no secret.
func (k *KeyPackage) Bytes() []byte { return bytes.Clone(k.msg) }

// Erase drops the KeyPackage's private keys; it can no longer join. After a
// successful [Join] the leaf key belongs to the Group and Erase leaves it
// alone (the init key was already erased by Join).
func (k *KeyPackage) Erase() { k.secrets.Erase() }

// String describes the KeyPackage without its keys.
func (k *KeyPackage) String() string { return fmt.Sprintf("keys.KeyPackage(%q)", k.id.name) }

// Member describes a member of a group, or the client of a KeyPackage.
type Member struct {
	// Leaf is the member's leaf index in the ratchet tree (RFC 9420
	// §4.1), which names it in Remove proposals and SFrame KIDs.
	Leaf uint32
	// Identity is the identity the member's credential names: the
	// backend-vouched identity of its [Assertion], or, in a group without
	// an [Authority], the name it chose. No two members of a group share
	// one.
	Identity string
	// Name is the display name: the assertion's, or Identity.
	Name string
	// Verified says the backend vouched for the member: its credential's
	// assertion was checked against [Config.Authority] when it entered
	// the group. Without an Authority no member is verified, and names
	// are whatever the clients (or the server) chose.
	Verified bool
	// SignatureKey is the member's Ed25519 public key.
	SignatureKey []byte
}

// VerifyKeyPackage decodes a KeyPackage received from the delivery service
// and runs the checks of RFC 9420 §10.1 that need no group: version and
// cipher suite, both signatures, lifetime at cfg's now, capabilities,
// distinct init and encryption keys, and the credential against
// cfg.Authority (when set, the backend must vouch for it in this room). It
// returns the client it names (with Leaf 0). A Commit that adds it runs the
// remaining checks against the group's tree. cfg may be nil.
func VerifyKeyPackage(msg []byte, cfg *Config) (Member, error) {
	c := cfg.orDefault()
	kp, err := decodeKeyPackage(msg)
	if err != nil {
		return Member{}, err
	}
	if err := group.ValidateKeyPackage(defaultSuite(), kp, c.now()); err != nil {
		return Member{}, classify("verify KeyPackage", err)
	}
	p := c.policy()
	if _, err := p.Validate(&kp.LeafNode.Credential, kp.LeafNode.SignatureKey, true); err != nil {
		return Member{}, fmt.Errorf("keys: verify KeyPackage: %w", err)
	}
	return p.member(0, &kp.LeafNode), nil
}

func decodeKeyPackage(msg []byte) (*wire.KeyPackage, error) {
	var m wire.MLSMessage
	if err := codec.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("%w: KeyPackage: %v", ErrMalformed, err)
	}
	if m.WireFormat != wire.WireFormatKeyPackage {
		return nil, fmt.Errorf("%w: wire format %d is not a KeyPackage", ErrMalformed, m.WireFormat)
	}
	return m.KeyPackage, nil
}
