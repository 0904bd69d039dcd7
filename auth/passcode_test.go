package auth

import (
	"strings"
	"testing"
)

func TestPasscodeHash(t *testing.T) {
	h, err := HashPasscode("4711")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "4711") {
		t.Fatalf("hash = %s", h)
	}
	h2, _ := HashPasscode("4711")
	if h == h2 {
		t.Fatal("two hashes of one passcode are equal: salt not random")
	}
	for pass, want := range map[string]bool{"4711": true, "4712": false, "": false, "47111": false} {
		ok, err := VerifyPasscode(h, pass)
		if err != nil || ok != want {
			t.Fatalf("VerifyPasscode(%q) = %v, %v", pass, ok, err)
		}
	}
	if _, err := HashPasscode(""); err == nil {
		t.Fatal("hashed an empty passcode")
	}
}

func TestPasscodeHashParse(t *testing.T) {
	good, _ := HashPasscode("x")
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plaintext",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=19456", "m=4000000", 1), // absurd memory
		strings.Replace(good, "t=2", "t=0", 1),
		strings.Replace(good, "p=1", "p=255", 1),
		"$argon2id$v=19$m=19456,t=2,p=1$" + "!!!" + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + "AAAA",
		good + "$extra",
	}
	for _, b := range bad {
		if _, err := ParsePasscodeHash(b); err == nil {
			t.Errorf("parsed %q", b)
		}
		if _, err := VerifyPasscode(b, "x"); err == nil {
			t.Errorf("verified against %q", b)
		}
	}
}
