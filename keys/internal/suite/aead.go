package suite

import (
	"errors"
	"fmt"
)

// errOpen is the one error Open returns for any authentication failure.
var errOpen = errors.New("mls: AEAD authentication failed")

// Seal encrypts and authenticates plaintext with the suite's AEAD (RFC 9420
// §5.1) under a key of Nk bytes and a nonce of Nn bytes, appending the result
// to dst. Callers must never reuse a (key, nonce) pair: MLS derives a fresh
// pair per generation of the secret tree (RFC 9420 §9.1) and XORs in a reuse
// guard (§6.3.1).
func (s *Suite) Seal(dst, key, nonce, aad, plaintext []byte) ([]byte, error) {
	if len(key) != s.nk || len(nonce) != s.nn {
		return nil, fmt.Errorf("mls: AEAD seal: key or nonce of the wrong size (%d, %d)", len(key), len(nonce))
	}
	a, err := s.newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("mls: AEAD seal: %w", err)
	}
	return a.Seal(dst, nonce, plaintext, aad), nil
}

// Open authenticates and decrypts ciphertext with the suite's AEAD,
// appending the plaintext to dst. Any authentication failure returns the same
// error, which says nothing about the cause.
func (s *Suite) Open(dst, key, nonce, aad, ciphertext []byte) ([]byte, error) {
	if len(key) != s.nk || len(nonce) != s.nn {
		return nil, fmt.Errorf("mls: AEAD open: key or nonce of the wrong size (%d, %d)", len(key), len(nonce))
	}
	a, err := s.newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("mls: AEAD open: %w", err)
	}
	pt, err := a.Open(dst, nonce, ciphertext, aad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}
