// Package suite implements the cryptographic building blocks of an MLS cipher
// suite (RFC 9420 §5): the hash, HKDF with MLS labels (§5.1, §8), reference
// hashes (§5.2), signatures with labels (§5.1.2), public-key encryption with
// labels (§5.1.3, HPKE base mode of RFC 9180), HPKE key derivation for
// TreeKEM (§7.4), the MAC and the AEAD.
//
// A [Suite] is an immutable value that bundles the algorithms named by a
// cipher-suite identifier (RFC 9420 §17.1). Everything above this package is
// written against a *Suite, so adding a cipher suite (for example a
// post-quantum hybrid with the X-Wing KEM) is adding a value to the table in
// this file, not changing callers. Only suite 1 is implemented:
//
//	MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (0x0001)
//	  KEM    DHKEM(X25519, HKDF-SHA256)   (HPKE via github.com/cloudflare/circl)
//	  AEAD   AES-128-GCM                  (crypto/aes, crypto/cipher)
//	  Hash   SHA-256, KDF HKDF-SHA256     (crypto/sha256, crypto/hkdf)
//	  Sig    Ed25519                      (crypto/ed25519)
//
// Private keys ([SignaturePrivateKey], [HPKEPrivateKey]) cannot be compared
// with == and print as REDACTED. Secrets passed in and out as []byte are the
// caller's to protect and erase.
package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"

	"github.com/cloudflare/circl/hpke"
)

// ID is a cipher-suite identifier from the IANA "MLS Cipher Suites" registry
// (RFC 9420 §17.1).
type ID uint16

// MLS128DHKEMX25519AES128GCMSHA256Ed25519 is cipher suite 0x0001, the
// mandatory-to-implement suite of RFC 9420 §17.1.
const MLS128DHKEMX25519AES128GCMSHA256Ed25519 ID = 0x0001

// ErrUnsupported is returned (wrapped) by [ByID] for a cipher suite this
// package does not implement.
var ErrUnsupported = errors.New("mls: unsupported cipher suite")

// A Suite is the set of algorithms of one MLS cipher suite (RFC 9420 §5.1).
// Suites are obtained from [ByID] and are safe for concurrent use.
type Suite struct {
	id      ID
	name    string
	newHash func() hash.Hash
	nh      int // hash output size
	nk, nn  int // AEAD key and nonce sizes
	newAEAD func(key []byte) (cipher.AEAD, error)
	hpke    hpke.Suite
	kem     hpke.KEM
	sig     signatureScheme
}

var suite1 = &Suite{
	id:      MLS128DHKEMX25519AES128GCMSHA256Ed25519,
	name:    "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
	newHash: sha256.New,
	nh:      sha256.Size,
	nk:      16,
	nn:      12,
	newAEAD: newGCM,
	hpke:    hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES128GCM),
	kem:     hpke.KEM_X25519_HKDF_SHA256,
	sig:     ed25519Scheme{},
}

// ByID returns the cipher suite with identifier id, or an error wrapping
// [ErrUnsupported].
func ByID(id ID) (*Suite, error) {
	switch id {
	case suite1.id:
		return suite1, nil
	}
	return nil, fmt.Errorf("%w: 0x%04x", ErrUnsupported, uint16(id))
}

// ID returns the suite's identifier.
func (s *Suite) ID() ID { return s.id }

// String returns the suite's registry name, e.g.
// "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519".
func (s *Suite) String() string { return s.name }

// Nh returns the output size in bytes of the suite's hash and KDF (RFC 9420
// §8: KDF.Nh).
func (s *Suite) Nh() int { return s.nh }

// Nk returns the key size in bytes of the suite's AEAD (AEAD.Nk).
func (s *Suite) Nk() int { return s.nk }

// Nn returns the nonce size in bytes of the suite's AEAD (AEAD.Nn).
func (s *Suite) Nn() int { return s.nn }

// Hash returns the suite hash of data.
func (s *Suite) Hash(data []byte) []byte {
	h := s.newHash()
	h.Write(data)
	return h.Sum(nil)
}

// NewHash returns a new running hash of the suite, for hashing inputs that
// arrive in pieces.
func (s *Suite) NewHash() hash.Hash { return s.newHash() }

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
