package e2ee

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Suite is an SFrame cipher suite identifier from the IANA "SFrame Cipher
// Suites" registry (RFC 9605 §4.5, §8.1).
type Suite uint16

// The cipher suites of RFC 9605 §4.5. [AES128GCMSHA256] is the Tresor
// default. The CTR-HMAC suites (RFC 9605 §4.5.1) exist for interoperability;
// their short tags (80, 64 or 32 bits) weaken forgery resistance, and the
// 64- and 32-bit variants are meant for constrained audio use only.
const (
	AES128CTRHMACSHA256_80 Suite = 0x0001 // AES_128_CTR_HMAC_SHA256_80
	AES128CTRHMACSHA256_64 Suite = 0x0002 // AES_128_CTR_HMAC_SHA256_64
	AES128CTRHMACSHA256_32 Suite = 0x0003 // AES_128_CTR_HMAC_SHA256_32
	AES128GCMSHA256        Suite = 0x0004 // AES_128_GCM_SHA256_128
	AES256GCMSHA512        Suite = 0x0005 // AES_256_GCM_SHA512_128
)

// suiteParams are the constants of RFC 9605 §4.5, Table 2.
type suiteParams struct {
	name string
	hash func() hash.Hash // HKDF (and, for CTR-HMAC, HMAC) hash
	nk   int              // size of sframe_key in bytes
	nn   int              // nonce size in bytes
	nt   int              // tag size in bytes
	nka  int              // AES key size within sframe_key (CTR-HMAC only)
	gcm  bool
}

var suites = [...]suiteParams{
	AES128CTRHMACSHA256_80: {"AES_128_CTR_HMAC_SHA256_80", sha256.New, 48, 12, 10, 16, false},
	AES128CTRHMACSHA256_64: {"AES_128_CTR_HMAC_SHA256_64", sha256.New, 48, 12, 8, 16, false},
	AES128CTRHMACSHA256_32: {"AES_128_CTR_HMAC_SHA256_32", sha256.New, 48, 12, 4, 16, false},
	AES128GCMSHA256:        {"AES_128_GCM_SHA256_128", sha256.New, 16, 12, 16, 0, true},
	AES256GCMSHA512:        {"AES_256_GCM_SHA512_128", sha512.New, 32, 12, 16, 0, true},
}

func (s Suite) params() (*suiteParams, error) {
	if s == 0 || int(s) >= len(suites) {
		return nil, fmt.Errorf("e2ee: unsupported cipher suite 0x%04x", uint16(s))
	}
	return &suites[s], nil
}

// String returns the RFC 9605 §4.5 name of the suite, such as
// "AES_128_GCM_SHA256_128".
func (s Suite) String() string {
	p, err := s.params()
	if err != nil {
		return fmt.Sprintf("Suite(0x%04x)", uint16(s))
	}
	return p.name
}

// KeySize returns Nk, the size in bytes of the AEAD key (sframe_key) that
// the suite derives from a base key (RFC 9605 §4.5). It is also the size of
// the base key that MLS exports for each epoch (RFC 9605 §5.2).
// It returns 0 for an unsupported suite.
func (s Suite) KeySize() int {
	p, err := s.params()
	if err != nil {
		return 0
	}
	return p.nk
}

// Overhead returns Nt, the tag size in bytes that the suite appends to every
// frame (RFC 9605 §4.5). The SFrame header adds 1 to 17 bytes more. It
// returns 0 for an unsupported suite.
func (s Suite) Overhead() int {
	p, err := s.params()
	if err != nil {
		return 0
	}
	return p.nt
}
