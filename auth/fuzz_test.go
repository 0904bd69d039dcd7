package auth

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

// FuzzVerifyToken checks that token parsing never panics, that every
// refusal matches one of the two exported errors, and that the only tokens
// that verify are exactly those the key minted.
func FuzzVerifyToken(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := seed.Public().(ed25519.PublicKey)
	now := time.Unix(1_700_000_000, 0)
	tok, _ := MintToken(seed, Claims{Room: "r", Identity: "u", Name: "N", Role: RoleHost, Expiry: now.Add(time.Hour)})
	f.Add(tok)
	f.Add("tj1..")
	f.Add("tj1.e30.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := VerifyToken(token, []ed25519.PublicKey{pub}, now)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := MintToken(seed, *c)
		if err != nil {
			t.Fatalf("verified claims do not mint: %v", err)
		}
		if again != token {
			t.Fatalf("verified a token the key did not mint: %q", token)
		}
		if UnverifiedRoom(token) != c.Room {
			t.Fatalf("UnverifiedRoom disagrees with the verified room")
		}
	})
}

// FuzzPasscodeHash checks that parsing stored hashes never panics and keeps
// parameters in bounds.
func FuzzPasscodeHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParsePasscodeHash(s)
		if err != nil {
			return
		}
		if h.memory < 8*1024 || h.memory > 256*1024 || h.time < 1 || h.time > 10 || h.threads < 1 || h.threads > 16 ||
			len(h.key) < 16 || len(h.key) > 64 || len(h.salt) < 8 || len(h.salt) > 64 {
			t.Fatalf("out-of-bounds parameters accepted: %+v", h)
		}
	})
}
