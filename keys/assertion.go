package keys

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// An Assertion is the application backend's statement that the participant
// Identity, shown as Name, owns the MLS signature key SignatureKey in Room
// until Expiry. The backend signs it with its Ed25519 key (the one that signs
// join tokens, or another); the participant's MLS credential carries it, and
// every member checks it against the backend's public keys
// ([Config.Authority]) before a leaf enters the group. So the server, which
// relays KeyPackages and Commits, cannot bring in a member the backend did
// not vouch for, nor a second leaf in an existing member's name.
//
// Wire form (RFC 9420 presentation language), the whole of the basic
// credential's identity field (RFC 9420 §5.3):
//
//	struct {
//	    opaque label[20] = "\0tresor-assertion-v1";
//	    opaque room<V>;           // 1..128 bytes of UTF-8
//	    opaque identity<V>;       // 1..256 bytes of UTF-8, no control characters
//	    opaque name<V>;           // 0..256 bytes of UTF-8, no control characters
//	    opaque signature_key<V>;  // the member's Ed25519 public key, 32 bytes
//	    uint64 not_after;         // Unix seconds
//	    opaque signature<V>;      // Ed25519(backend key, every byte above)
//	} TresorAssertion;
//
// The leading zero byte keeps an assertion apart from a plain name (names
// have no control characters) and from a join token's signed bytes (which
// start with "tresor join token v1"): one backend key may sign both.
type Assertion struct {
	Room         string
	Identity     string
	Name         string
	SignatureKey []byte
	Expiry       time.Time
}

// assertionLabel starts every encoded Assertion, and so the bytes the
// backend signs.
const assertionLabel = "\x00tresor-assertion-v1"

// Bounds of an Assertion's fields, in bytes.
const (
	maxAssertionRoom = 128
	maxAssertionName = MaxNameLength
)

// An Authority is the application backend as the members of a room know it:
// the Ed25519 public keys it vouches with (several, so that it can rotate
// them) and the room its assertions must name. Set it in [Config.Authority].
type Authority struct {
	Keys []ed25519.PublicKey
	Room string
}

var errNotVouched = errors.New("credential is not vouched for by the backend")

// SignAssertion encodes a and signs it with the backend's private key. The
// backend calls it (through package auth) once it knows that the
// participant holding a.SignatureKey is a.Identity; the participant then
// attaches the result to its [Identity] with [Identity.SetAssertion].
func SignAssertion(backend ed25519.PrivateKey, a Assertion) ([]byte, error) {
	if len(backend) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: backend key of %d bytes", ErrInvalid, len(backend))
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	tbs, err := a.tbs()
	if err != nil {
		return nil, err
	}
	var b codec.Builder
	b.Raw(tbs)
	b.Opaque(ed25519.Sign(backend, tbs))
	return b.Bytes()
}

// ParseAssertion decodes an assertion without checking its signature: use
// [Authority.Verify] for that. It is for showing what a credential claims.
func ParseAssertion(b []byte) (*Assertion, error) {
	a, _, _, err := parseAssertion(b)
	return a, err
}

// Verify decodes an assertion and checks it: its signature under one of the
// authority's keys, its room, and that it is unexpired at now (a zero now
// skips the expiry check, for members already in a group: they were checked
// when they entered).
func (au *Authority) Verify(b []byte, now time.Time) (*Assertion, error) {
	a, tbs, sig, err := parseAssertion(b)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range au.Keys {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, tbs, sig) {
			ok = true
			break
		}
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %w: signature does not verify", ErrAuthentication, errNotVouched)
	case a.Room != au.Room:
		return nil, fmt.Errorf("%w: %w: assertion for another room", ErrInvalid, errNotVouched)
	case !now.IsZero() && now.After(a.Expiry):
		return nil, fmt.Errorf("%w: %w: assertion expired", ErrInvalid, errNotVouched)
	}
	return a, nil
}

func (a *Assertion) check() error {
	switch {
	case a.Room == "" || len(a.Room) > maxAssertionRoom || !utf8.ValidString(a.Room):
		return fmt.Errorf("%w: assertion room must be 1 to %d bytes of UTF-8", ErrInvalid, maxAssertionRoom)
	case checkName(a.Identity) != nil:
		return fmt.Errorf("%w: assertion identity: %w", ErrInvalid, checkName(a.Identity))
	case a.Name != "" && checkName(a.Name) != nil:
		return fmt.Errorf("%w: assertion name: %w", ErrInvalid, checkName(a.Name))
	case len(a.SignatureKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: assertion signature key of %d bytes", ErrInvalid, len(a.SignatureKey))
	case a.Expiry.Unix() <= 0:
		return fmt.Errorf("%w: assertion without expiry", ErrInvalid)
	}
	return nil
}

func (a *Assertion) tbs() ([]byte, error) {
	var b codec.Builder
	b.Raw([]byte(assertionLabel))
	b.Opaque([]byte(a.Room))
	b.Opaque([]byte(a.Identity))
	b.Opaque([]byte(a.Name))
	b.Opaque(a.SignatureKey)
	b.Uint64(uint64(a.Expiry.Unix()))
	return b.Bytes()
}

// parseAssertion returns the assertion, the signed bytes and the signature.
func parseAssertion(b []byte) (*Assertion, []byte, []byte, error) {
	if !bytes.HasPrefix(b, []byte(assertionLabel)) {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrInvalid, errNotVouched)
	}
	r := codec.NewReader(b[len(assertionLabel):])
	a := &Assertion{Room: string(r.Opaque()), Identity: string(r.Opaque()), Name: string(r.Opaque()),
		SignatureKey: bytes.Clone(r.Opaque())}
	exp := r.Uint64()
	signedLen := len(b) - r.Len()
	sig := r.Opaque()
	if err := r.Finish(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: assertion: %v", ErrMalformed, err)
	}
	if exp > math.MaxInt64 {
		return nil, nil, nil, fmt.Errorf("%w: assertion expiry out of range", ErrMalformed)
	}
	a.Expiry = time.Unix(int64(exp), 0)
	if err := a.check(); err != nil {
		return nil, nil, nil, err
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, nil, nil, fmt.Errorf("%w: assertion signature of %d bytes", ErrMalformed, len(sig))
	}
	return a, b[:signedLen], sig, nil
}

// checkName accepts 1 to MaxNameLength bytes of UTF-8 without control
// characters (so no name can pass for an assertion, nor carry line breaks
// or terminal escapes into a log or a roster).
func checkName(name string) error {
	if name == "" || len(name) > MaxNameLength || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("%w: a name must be 1 to %d bytes of UTF-8 without control characters", ErrInvalid, MaxNameLength)
	}
	return nil
}

// credentialPolicy is Tresor's validation of credentials (RFC 9420 §5.3.1
// leaves it to the application): a basic credential whose identity is either
// an Assertion or, only when no Authority is configured, a plain name. The
// identity it names is what must be unique in a group.
type credentialPolicy struct {
	auth *Authority
	now  func() time.Time
}

// Validate implements group.CredentialPolicy.
func (p credentialPolicy) Validate(c *wire.Credential, signatureKey []byte, entering bool) (string, error) {
	if c.Type != wire.CredentialBasic {
		return "", fmt.Errorf("%w: credential type %d", ErrUnsupported, c.Type)
	}
	if p.auth == nil {
		if a, err := ParseAssertion(c.Identity); err == nil {
			return a.Identity, nil
		}
		return string(c.Identity), checkName(string(c.Identity))
	}
	var now time.Time
	if entering {
		now = p.now()
	}
	a, err := p.auth.Verify(c.Identity, now)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(a.SignatureKey, signatureKey) {
		return "", fmt.Errorf("%w: %w: assertion for another signature key", ErrInvalid, errNotVouched)
	}
	return a.Identity, nil
}

// Identity implements group.CredentialPolicy.
func (credentialPolicy) Identity(c *wire.Credential) string {
	if a, err := ParseAssertion(c.Identity); err == nil {
		return a.Identity
	}
	return string(c.Identity)
}

// member describes the leaf l for the roster.
func (p credentialPolicy) member(l uint32, ln *wire.LeafNode) Member {
	m := Member{Leaf: l, SignatureKey: bytes.Clone(ln.SignatureKey)}
	if a, err := ParseAssertion(ln.Credential.Identity); err == nil {
		m.Identity, m.Name = a.Identity, a.Name
		// Every leaf of a group with an Authority was verified when it
		// entered (or when this client joined).
		m.Verified = p.auth != nil
	} else {
		m.Identity = string(ln.Credential.Identity)
	}
	if m.Name == "" {
		m.Name = m.Identity
	}
	return m
}
