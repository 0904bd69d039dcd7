package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"encoding/binary"
	"fmt"
)

// MinBaseKeySize is the smallest base key this package accepts. RFC 9605
// §4.4.2 puts no bound on base_key (it is HKDF input keying material); MLS
// exports exactly Nk bytes per epoch (RFC 9605 §5.2, see [Suite.KeySize]),
// and the RFC's test vectors use 16 bytes for every suite.
const MinBaseKeySize = 16

// Labels of RFC 9605 §4.4.2.
const (
	keyLabel  = "SFrame 1.0 Secret key "
	saltLabel = "SFrame 1.0 Secret salt "
)

// keyMaterial is the output of derive_key_salt (RFC 9605 §4.4.2) for one
// KID. It is secret: it is never logged or printed.
type keyMaterial struct {
	key  []byte // sframe_key, Nk bytes
	salt []byte // sframe_salt, Nn bytes
}

// erase zeroes the derived key and salt.
func (m *keyMaterial) erase() {
	clear(m.key)
	clear(m.salt)
}

// deriveKeySalt implements derive_key_salt of RFC 9605 §4.4.2:
//
//	sframe_secret = HKDF-Extract("", base_key)
//	sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  ‖ KID ‖ CS, Nk)
//	sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " ‖ KID ‖ CS, Nn)
//
// KID is encoded as a 64-bit and CS (the suite) as a 16-bit big-endian
// integer, binding the derived key to both.
func deriveKeySalt(s Suite, kid uint64, baseKey []byte) (keyMaterial, error) {
	p, err := s.params()
	if err != nil {
		return keyMaterial{}, err
	}
	secret, err := hkdf.Extract(p.hash, baseKey, nil)
	if err != nil {
		return keyMaterial{}, fmt.Errorf("e2ee: deriving secret: %w", err)
	}
	defer clear(secret)
	key, err := hkdf.Expand(p.hash, secret, label(keyLabel, kid, s), p.nk)
	if err != nil {
		return keyMaterial{}, fmt.Errorf("e2ee: deriving key: %w", err)
	}
	salt, err := hkdf.Expand(p.hash, secret, label(saltLabel, kid, s), p.nn)
	if err != nil {
		clear(key)
		return keyMaterial{}, fmt.Errorf("e2ee: deriving salt: %w", err)
	}
	return keyMaterial{key: key, salt: salt}, nil
}

func label(prefix string, kid uint64, s Suite) string {
	b := make([]byte, 0, len(prefix)+10)
	b = append(b, prefix...)
	b = binary.BigEndian.AppendUint64(b, kid)
	b = binary.BigEndian.AppendUint16(b, uint16(s))
	return string(b)
}

// keyState is everything needed to protect frames under one KID: the AEAD
// built from sframe_key, the salt, and a nonce buffer. Per-frame work is
// only the nonce XOR and the AEAD call (RFC 9605 §4.4.3).
//
// A keyState is not safe for concurrent use (the nonce buffer and, for the
// CTR-HMAC suites, the HMAC state are reused); its owner serializes access.
type keyState struct {
	kid   uint64
	suite Suite
	mat   keyMaterial
	aead  cipher.AEAD
	nonce [12]byte
}

func newKeyState(s Suite, kid uint64, baseKey []byte) (*keyState, error) {
	p, err := s.params()
	if err != nil {
		return nil, err
	}
	if len(baseKey) < MinBaseKeySize {
		return nil, fmt.Errorf("e2ee: base key for KID %d is %d bytes, want at least %d", kid, len(baseKey), MinBaseKeySize)
	}
	mat, err := deriveKeySalt(s, kid, baseKey)
	if err != nil {
		return nil, err
	}
	var a cipher.AEAD
	if p.gcm {
		block, err := aes.NewCipher(mat.key)
		if err != nil {
			mat.erase()
			return nil, fmt.Errorf("e2ee: %w", err)
		}
		// RFC 9605 §4.5: Nn = 12 and Nt = 16, the standard GCM sizes.
		a, err = cipher.NewGCM(block)
		if err != nil {
			mat.erase()
			return nil, fmt.Errorf("e2ee: %w", err)
		}
	} else {
		a, err = newCTRHMAC(mat.key, p.nka, p.nt)
		if err != nil {
			mat.erase()
			return nil, fmt.Errorf("e2ee: %w", err)
		}
	}
	return &keyState{kid: kid, suite: s, mat: mat, aead: a}, nil
}

// makeNonce computes nonce = sframe_salt XOR encode_big_endian(CTR, Nn)
// (RFC 9605 §4.4.3) into k.nonce. CTR occupies the last 8 of the 12 bytes.
// Because a sender never repeats a CTR under a KID, and the key is bound to
// the KID by derivation, no (key, nonce) pair is ever used twice.
func (k *keyState) makeNonce(ctr uint64) []byte {
	copy(k.nonce[:4], k.mat.salt[:4])
	binary.BigEndian.PutUint64(k.nonce[4:], binary.BigEndian.Uint64(k.mat.salt[4:])^ctr)
	return k.nonce[:]
}

// erase zeroes the derived key material held by this package and drops the
// AEAD. Go's crypto/aes and crypto/hmac keep their own expanded copies of the
// key (round keys, HMAC pads) with no way to wipe them; dropping the only
// reference so the garbage collector can reclaim them is the best Go allows.
func (k *keyState) erase() {
	k.mat.erase()
	clear(k.nonce[:])
	k.aead = nil
}
