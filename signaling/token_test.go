package signaling

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
	if peekTokenRoom(tok) != "room-1" {
		t.Fatal("peekTokenRoom")
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
		code  Code
	}{
		{"forged", forged, now, CodeInvalidToken},
		{"expired", good, now.Add(time.Minute), CodeTokenExpired},
		{"role escalation", "tj1." + hostPayload + "." + sig, now, CodeInvalidToken},
		{"no prefix", strings.TrimPrefix(good, "tj1."), now, CodeInvalidToken},
		{"no signature", "tj1." + p, now, CodeInvalidToken},
		{"short signature", "tj1." + p + "." + sig[:20], now, CodeInvalidToken},
		{"empty", "", now, CodeInvalidToken},
		{"too long", "tj1." + strings.Repeat("A", 5000) + "." + sig, now, CodeInvalidToken},
		// base64 decoders skip line breaks: the same signature in another
		// text form must not verify.
		{"line break in signature", "tj1." + p + "." + sig[:10] + "\n" + sig[10:], now, CodeInvalidToken},
		{"carriage return in signature", "tj1." + p + "." + sig[:10] + "\r" + sig[10:], now, CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyToken(tt.token, []ed25519.PublicKey{pub}, tt.now)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
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
