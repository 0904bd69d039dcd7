package auth

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Member assertions: the backend vouches for a participant's MLS signature
// key. The participant's MLS credential carries the assertion, and every
// member checks it against the backend's public keys before a leaf enters
// the group (package keys, Assertion and Config.Authority), so that the
// server, which relays KeyPackages and Commits, cannot add a member of its
// own making, nor a second leaf under a member's identity.
//
// The format is defined and verified by package keys (the audited code);
// this file only encodes and signs it, so that a backend needs nothing but
// the standard library (a test checks that both agree byte for byte):
//
//	"\x00tresor-assertion-v1" ‖ opaque room<V> ‖ opaque identity<V> ‖
//	opaque name<V> ‖ opaque signature_key<V> ‖ uint64 not_after ‖ opaque signature<V>
//
// with RFC 9420's variable-length vectors (a QUIC varint length, RFC 9000
// §16), not_after in Unix seconds, and the signature Ed25519 over every byte
// before it. The leading zero byte keeps an assertion apart from a join
// token's signed bytes ("tresor join token v1…"): one key may sign both.

// assertionLabel starts every assertion (package keys has the same).
const assertionLabel = "\x00tresor-assertion-v1"

// MaxAssertionName bounds an assertion's identity and name, in bytes (as
// keys.MaxNameLength).
const MaxAssertionName = 256

// Assertion is what the backend vouches for: that the participant Identity,
// shown as Name, holds the MLS signature key SignatureKey (Ed25519, 32
// bytes) in Room until Expiry.
type Assertion struct {
	Room         string
	Identity     string
	Name         string
	SignatureKey []byte
	Expiry       time.Time
}

// MintAssertion signs a with the backend's private key. Call it only for a
// participant the backend has authenticated as a.Identity, with the public
// key that participant's client presented (tresor.WithVoucher in Go; the
// browser SDK's vouch callback).
func MintAssertion(key ed25519.PrivateKey, a Assertion) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("auth: mint assertion: bad private key size")
	}
	switch {
	case a.Room == "" || len(a.Room) > MaxRoomLen || !utf8.ValidString(a.Room):
		return nil, fmt.Errorf("auth: mint assertion: invalid room")
	case !validName(a.Identity):
		return nil, fmt.Errorf("auth: mint assertion: invalid identity")
	case a.Name != "" && !validName(a.Name):
		return nil, fmt.Errorf("auth: mint assertion: invalid name")
	case len(a.SignatureKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("auth: mint assertion: the signature key must be an Ed25519 public key")
	case a.Expiry.Unix() <= 0:
		return nil, fmt.Errorf("auth: mint assertion: missing expiry")
	}
	b := []byte(assertionLabel)
	for _, f := range [][]byte{[]byte(a.Room), []byte(a.Identity), []byte(a.Name), a.SignatureKey} {
		b = appendOpaque(b, f)
	}
	exp := uint64(a.Expiry.Unix())
	for i := 56; i >= 0; i -= 8 {
		b = append(b, byte(exp>>i))
	}
	return appendOpaque(b, ed25519.Sign(key, b)), nil
}

// VouchForToken verifies a join token (as [VerifyToken]) and vouches for
// its holder's MLS signature key with the token's room, identity and name,
// until the token's expiry plus validity. It is the one call of a backend
// endpoint that a browser, which holds a token but generates its MLS key
// only when it joins, asks to vouch for its key (the demo's /demo/vouch).
// Members check an assertion's expiry only when its leaf enters the group,
// so validity need only cover the time until the participant joins.
func VouchForToken(key ed25519.PrivateKey, token string, keys []ed25519.PublicKey, signatureKey []byte, now time.Time, validity time.Duration) ([]byte, error) {
	c, err := VerifyToken(token, keys, now)
	if err != nil {
		return nil, err
	}
	return MintAssertion(key, Assertion{Room: c.Room, Identity: c.Identity, Name: c.Name,
		SignatureKey: signatureKey, Expiry: c.Expiry.Add(validity)})
}

// validName: 1 to MaxAssertionName bytes of UTF-8 without control
// characters (package keys refuses any other).
func validName(s string) bool {
	return s != "" && len(s) <= MaxAssertionName && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// appendOpaque appends an RFC 9420 opaque<V>: a QUIC varint length (RFC
// 9000 §16; lengths here are far below 2^30) and the bytes.
func appendOpaque(b, v []byte) []byte {
	switch n := len(v); {
	case n < 1<<6:
		b = append(b, byte(n))
	case n < 1<<14:
		b = append(b, 0x40|byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, v...)
}
