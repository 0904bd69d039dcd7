package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys"
)

// TestAssertionMatchesKeys: an assertion minted here is byte for byte the
// one package keys signs, and verifies there (keys is the format's
// definition and its verifier; a test may import it).
func TestAssertionMatchesKeys(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := keys.NewIdentity(nil, "u-42")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "Ada Lovelace", strings.Repeat("é", 128)} {
		exp := time.Unix(1_900_000_000, 0)
		mine, err := MintAssertion(priv, Assertion{Room: "standup", Identity: "u-42", Name: name, SignatureKey: id.PublicKey(), Expiry: exp})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := keys.SignAssertion(priv, keys.Assertion{Room: "standup", Identity: "u-42", Name: name, SignatureKey: id.PublicKey(), Expiry: exp})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("name %q: auth and keys encode differently", name)
		}
		auth := &keys.Authority{Keys: []ed25519.PublicKey{pub}, Room: "standup"}
		if _, err := auth.Verify(mine, exp.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := id.SetAssertion(mine); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := MintAssertion(priv, Assertion{Room: "standup", Identity: "a\nb", SignatureKey: id.PublicKey(), Expiry: time.Now()}); err == nil {
		t.Fatal("identity with a line break accepted")
	}
}

func TestVouchForToken(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := MintToken(priv, Claims{Room: "r", Identity: "u-1", Name: "Bea", Role: RoleParticipant, Expiry: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := keys.NewIdentity(nil, "u-1")
	a, err := VouchForToken(priv, tok, []ed25519.PublicKey{pub}, id.PublicKey(), now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&keys.Authority{Keys: []ed25519.PublicKey{pub}, Room: "r"}).Verify(a, now)
	if err != nil || got.Identity != "u-1" || got.Name != "Bea" || !bytes.Equal(got.SignatureKey, id.PublicKey()) {
		t.Fatalf("%+v %v", got, err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := MintToken(other, Claims{Room: "r", Identity: "u-1", Role: RoleParticipant, Expiry: now.Add(time.Hour)})
	if _, err := VouchForToken(priv, forged, []ed25519.PublicKey{pub}, id.PublicKey(), now, time.Hour); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("forged token: %v", err)
	}
}
