package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_700_000_000, 0)
	c := Claims{Room: "room-1", Identity: "u-42", Name: "Ada Lovelace", Role: RoleCohost, Expiry: now.Add(time.Minute)}
	tok, err := MintToken(priv, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "tj1.") || strings.Count(tok, ".") != 2 {
		t.Fatalf("token format: %s", tok)
	}
	got, err := VerifyToken(tok, []ed25519.PublicKey{pub2, pub}, now)
	if err != nil {
		t.Fatal(err)
	}
	if *got != c {
		t.Fatalf("claims = %+v, want %+v", *got, c)
	}
	// Key rotation: a token from the second key verifies too.
	tok2, _ := MintToken(priv2, c)
	if _, err := VerifyToken(tok2, []ed25519.PublicKey{pub, pub2}, now); err != nil {
		t.Fatal(err)
	}
	if UnverifiedRoom(tok) != "room-1" {
		t.Fatal("UnverifiedRoom")
	}
}

func TestTokenRejects(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_700_000_000, 0)
	c := Claims{Room: "r", Identity: "u", Role: RoleParticipant, Expiry: now.Add(time.Minute)}
	good, _ := MintToken(priv, c)
	forged, _ := MintToken(other, c)
	p, sig, _ := strings.Cut(strings.TrimPrefix(good, "tj1."), ".")
	enc := base64.RawURLEncoding.EncodeToString
	// A payload re-signed would need the key; swap in a host role unsigned.
	hostPayload := enc([]byte(`{"room":"r","sub":"u","role":"host","exp":1800000000}`))
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"forged", forged, now, ErrInvalidToken},
		{"expired", good, now.Add(time.Minute), ErrTokenExpired},
		{"role escalation", "tj1." + hostPayload + "." + sig, now, ErrInvalidToken},
		{"no prefix", strings.TrimPrefix(good, "tj1."), now, ErrInvalidToken},
		{"no signature", "tj1." + p, now, ErrInvalidToken},
		{"short signature", "tj1." + p + "." + sig[:20], now, ErrInvalidToken},
		{"empty", "", now, ErrInvalidToken},
		{"too long", "tj1." + strings.Repeat("A", 5000) + "." + sig, now, ErrInvalidToken},
		// base64 decoders skip line breaks: the same signature in another
		// text form must not verify.
		{"line break in signature", "tj1." + p + "." + sig[:10] + "\n" + sig[10:], now, ErrInvalidToken},
		{"carriage return in signature", "tj1." + p + "." + sig[:10] + "\r" + sig[10:], now, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyToken(tt.token, []ed25519.PublicKey{pub}, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.token) && tt.token != "" {
				t.Fatal("error repeats the token")
			}
		})
	}
	// A validly signed payload with bad claims is still refused.
	bad := []Claims{
		{Room: "", Identity: "u", Role: RoleHost, Expiry: now},
		{Room: "r", Identity: "", Role: RoleHost, Expiry: now},
		{Room: "r", Identity: "u\n", Role: RoleHost, Expiry: now},
		{Room: "r", Identity: "u", Role: "admin", Expiry: now},
		{Room: "r", Identity: "u", Role: RoleHost},
	}
	for _, c := range bad {
		if _, err := MintToken(priv, c); err == nil {
			t.Fatalf("minted bad claims %+v", c)
		}
	}
	if _, err := MintToken(priv[:10], c); err == nil {
		t.Fatal("minted with a short key")
	}
}
