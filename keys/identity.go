package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// cipherSuite is the MLS cipher suite of every Tresor group (RFC 9420 §17.1):
// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
const cipherSuite = suite.MLS128DHKEMX25519AES128GCMSHA256Ed25519

func defaultSuite() *suite.Suite {
	s, err := suite.ByID(cipherSuite)
	if err != nil {
		panic("keys: suite 1 unavailable: " + err.Error()) // a build defect, not input
	}
	return s
}

// identityPrefix starts the persisted form of an Identity, so that it can
// never be mistaken for another kind of key (compare tailscale's typed key
// encodings).
const identityPrefix = "TRESOR-IDENTITY-1:"

// MaxNameLength bounds an Identity's name, in bytes.
const MaxNameLength = 256

// An Identity is a client's long-term signing key (Ed25519) and the name it
// is known by in its MLS basic credential (RFC 9420 §5.3). It is created on
// the client's device and never leaves it except as the encoding of
// [Identity.Marshal], which the application stores as a secret.
//
// Identities cannot be compared with == and never print their private key.
// Whether a name belongs to the person using it is the application's
// business: keys authenticates keys, not names, which is what the security
// code is for.
type Identity struct {
	_         [0]func() // not comparable
	name      string
	key       *suite.SignaturePrivateKey
	assertion []byte // the backend's Assertion for key, or nil
}

// NewIdentity creates an identity called name with a fresh Ed25519 key,
// reading randomness from rand (nil means crypto/rand.Reader).
func NewIdentity(rand io.Reader, name string) (*Identity, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	key, err := defaultSuite().GenerateSignatureKey(randOr(rand))
	if err != nil {
		return nil, fmt.Errorf("keys: new identity: %w", err)
	}
	return &Identity{name: name, key: key}, nil
}

func randOr(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// Name returns the identity's name.
func (id *Identity) Name() string { return id.name }

// PublicKey returns the identity's Ed25519 public key (RFC 8032), as it
// appears in its leaf nodes.
func (id *Identity) PublicKey() []byte { return append([]byte(nil), id.key.Public()...) }

// String returns the name and a short fingerprint of the public key. The
// private key is never printed.
func (id *Identity) String() string {
	if id == nil || id.key == nil {
		return "keys.Identity(nil)"
	}
	return fmt.Sprintf("keys.Identity(%q, %s…)", id.name, hex.EncodeToString(id.key.Public()[:6]))
}

// Format prints [Identity.String] for every verb.
func (id *Identity) Format(f fmt.State, _ rune) { io.WriteString(f, id.String()) }

// SetAssertion attaches the backend's [Assertion] for this identity: from
// then on its credential (in new KeyPackages and groups) carries the
// assertion instead of the bare name, so that members who know the backend's
// keys ([Config.Authority]) accept it. The assertion must name this
// identity's name and public key; its signature is checked by the members
// (and by [Authority.Verify], which the caller may run first).
func (id *Identity) SetAssertion(assertion []byte) error {
	a, err := ParseAssertion(assertion)
	if err != nil {
		return fmt.Errorf("keys: set assertion: %w", err)
	}
	if a.Identity != id.name {
		return fmt.Errorf("%w: assertion for identity %q, not %q", ErrInvalid, a.Identity, id.name)
	}
	if !bytes.Equal(a.SignatureKey, id.key.Public()) {
		return fmt.Errorf("%w: assertion for another signature key", ErrInvalid)
	}
	id.assertion = bytes.Clone(assertion)
	return nil
}

// credential returns the identity's basic credential (RFC 9420 §5.3): the
// assertion when it has one, else its name.
func (id *Identity) credential() wire.Credential {
	if id.assertion != nil {
		return wire.Credential{Type: wire.CredentialBasic, Identity: bytes.Clone(id.assertion)}
	}
	return wire.Credential{Type: wire.CredentialBasic, Identity: []byte(id.name)}
}

// Marshal returns the persistent form of the identity:
//
//	TRESOR-IDENTITY-1:<base64url, no padding, of
//	    uint16 cipher_suite ‖ opaque name<V> ‖ opaque private_key<V>>
//
// The result holds the private key: store it as a secret. (Identity does not
// implement encoding.TextMarshaler, so that it cannot slip into JSON or logs
// by accident.)
func (id *Identity) Marshal() []byte {
	var b codec.Builder
	b.Uint16(uint16(cipherSuite))
	b.Opaque([]byte(id.name))
	priv := id.key.Bytes()
	b.Opaque(priv)
	raw, err := b.Bytes()
	clear(priv)
	if err != nil {
		panic("keys: encoding identity: " + err.Error()) // name length is bounded
	}
	out := make([]byte, len(identityPrefix)+base64.RawURLEncoding.EncodedLen(len(raw)))
	copy(out, identityPrefix)
	base64.RawURLEncoding.Encode(out[len(identityPrefix):], raw)
	clear(raw)
	return out
}

// ParseIdentity decodes the output of [Identity.Marshal].
func ParseIdentity(text []byte) (*Identity, error) {
	s := string(text)
	if !strings.HasPrefix(s, identityPrefix) {
		return nil, fmt.Errorf("%w: not a Tresor identity", ErrMalformed)
	}
	// Strict decoding rejects non-zero padding bits, and the decoder would
	// skip line breaks: refusing both gives an identity exactly one text
	// form (found by FuzzParseIdentity).
	enc := s[len(identityPrefix):]
	if strings.ContainsAny(enc, "\r\n") {
		return nil, fmt.Errorf("%w: identity encoding", ErrMalformed)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: identity encoding", ErrMalformed)
	}
	defer clear(raw)
	r := codec.NewReader(raw)
	cs := suite.ID(r.Uint16())
	name := string(r.Opaque())
	priv := r.Opaque()
	if err := r.Finish(); err != nil {
		return nil, fmt.Errorf("%w: identity encoding", ErrMalformed)
	}
	if cs != cipherSuite {
		return nil, fmt.Errorf("%w: identity of cipher suite %#04x", ErrUnsupported, uint16(cs))
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	key, err := defaultSuite().ParseSignaturePrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: identity key", ErrMalformed)
	}
	return &Identity{name: name, key: key}, nil
}

// Erase zeroes the identity's private key. The identity cannot sign
// afterwards, and groups using it cannot commit or send.
func (id *Identity) Erase() { id.key.Erase() }

var errNilIdentity = errors.New("keys: nil identity")
