package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"
)

func BenchmarkVerifyToken(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tok, _ := MintToken(priv, Claims{Room: "r", Identity: "u", Name: "N", Role: RoleHost, Expiry: time.Now().Add(time.Hour)})
	keys := []ed25519.PublicKey{pub}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyToken(tok, keys, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPasscodeVerify(b *testing.B) {
	h, _ := HashPasscode("123456")
	ph, _ := ParsePasscodeHash(h)
	b.ReportAllocs()
	for b.Loop() {
		if !ph.Verify("123456") {
			b.Fatal("mismatch")
		}
	}
}
