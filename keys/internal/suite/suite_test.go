package suite

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func suite1T(t testing.TB) *Suite {
	t.Helper()
	s, err := ByID(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestByID(t *testing.T) {
	s := suite1T(t)
	if s.ID() != 1 || s.Nh() != 32 || s.Nh() != s.NewHash().Size() || len(s.Hash(nil)) != s.Nh() || s.Nk() != 16 || s.Nn() != 12 ||
		s.String() != "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519" {
		t.Errorf("suite 1 = %v %d %d %d %d", s, s.ID(), s.Nh(), s.Nk(), s.Nn())
	}
	for _, id := range []ID{0, 2, 7, 0xffff} {
		if _, err := ByID(id); !errors.Is(err, ErrUnsupported) {
			t.Errorf("ByID(%d) error = %v; want ErrUnsupported", id, err)
		}
	}
}

func TestPrivateKeysRedacted(t *testing.T) {
	s := suite1T(t)
	sk, err := s.GenerateSignatureKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := s.GenerateHPKEKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := hk.Bytes()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, v := range []any{sk, hk, *sk, *hk, struct{ K *SignaturePrivateKey }{sk}} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "REDACTED") ||
				strings.Contains(out, fmt.Sprintf("%x", sk.Bytes())) || strings.Contains(out, fmt.Sprintf("%x", hb)) {
				t.Errorf("Sprintf(%s) = %q", verb, out)
			}
		}
	}
}

func TestErase(t *testing.T) {
	s := suite1T(t)
	sk, _ := s.GenerateSignatureKey(rand.Reader)
	inner := sk.key
	sk.Erase()
	if !bytes.Equal(inner, make([]byte, len(inner))) {
		t.Error("Erase left key bytes")
	}
	if _, err := s.SignWithLabel(sk, "L", nil); err == nil {
		t.Error("erased key signed")
	}
	if sk.Bytes() != nil {
		t.Error("erased key serialized")
	}
	hk, _ := s.GenerateHPKEKey(rand.Reader)
	kemOut, ct, err := s.EncryptWithLabel(rand.Reader, hk.Public(), "L", nil, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	hk.Erase()
	if _, err := s.DecryptWithLabel(hk, "L", nil, kemOut, ct); err == nil {
		t.Error("erased key decrypted")
	}
	if _, err := hk.Bytes(); err == nil {
		t.Error("erased key serialized")
	}
}

func TestKeyRoundTrips(t *testing.T) {
	s := suite1T(t)
	sk, _ := s.GenerateSignatureKey(rand.Reader)
	sk2, err := s.ParseSignaturePrivateKey(sk.Bytes())
	if err != nil || !bytes.Equal(sk2.Public(), sk.Public()) {
		t.Fatalf("signature key round trip: %v", err)
	}
	if _, err := s.ParseSignaturePrivateKey(make([]byte, 31)); err == nil {
		t.Error("parsed a 31-byte Ed25519 seed")
	}
	hk, _ := s.GenerateHPKEKey(rand.Reader)
	b, _ := hk.Bytes()
	hk2, err := s.ParseHPKEPrivateKey(b)
	if err != nil || !bytes.Equal(hk2.Public(), hk.Public()) {
		t.Fatalf("HPKE key round trip: %v", err)
	}
	if _, err := s.ParseHPKEPrivateKey(make([]byte, 5)); err == nil {
		t.Error("parsed a 5-byte HPKE key")
	}
	if err := s.ValidateHPKEPublicKey(hk.Public()); err != nil {
		t.Error(err)
	}
	if err := s.ValidateHPKEPublicKey(make([]byte, 33)); err == nil {
		t.Error("validated a 33-byte X25519 key")
	}
	if _, _, err := s.EncryptWithLabel(rand.Reader, make([]byte, 3), "L", nil, nil); err == nil {
		t.Error("encrypted to a 3-byte key")
	}
}

func TestDeriveKeyPair(t *testing.T) {
	s := suite1T(t)
	secret := bytes.Repeat([]byte{7}, 32)
	a, err := s.DeriveKeyPair(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.DeriveKeyPair(secret)
	if !bytes.Equal(a.Public(), b.Public()) {
		t.Error("DeriveKeyPair is not deterministic")
	}
	// GenerateHPKEKey with a fixed reader is DeriveKeyPair of its bytes.
	g, err := s.GenerateHPKEKey(bytes.NewReader(secret))
	if err != nil || !bytes.Equal(g.Public(), a.Public()) {
		t.Errorf("GenerateHPKEKey(fixed) = %x, %v", g.Public(), err)
	}
	if _, err := s.GenerateHPKEKey(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateHPKEKey with an empty reader succeeded")
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := s.DeriveKeyPair(make([]byte, n)); err == nil {
			t.Errorf("DeriveKeyPair accepted %d bytes", n)
		}
	}
}

func TestWrongSuiteKeyRejected(t *testing.T) {
	s := suite1T(t)
	other := *s // a distinct suite value stands in for a second suite
	sk, _ := s.GenerateSignatureKey(rand.Reader)
	if _, err := other.SignWithLabel(sk, "L", nil); err == nil {
		t.Error("signed with another suite's key")
	}
	hk, _ := s.GenerateHPKEKey(rand.Reader)
	if _, err := other.DecryptWithLabel(hk, "L", nil, nil, nil); err == nil {
		t.Error("decrypted with another suite's key")
	}
	if _, err := s.SignWithLabel(nil, "L", nil); err == nil {
		t.Error("signed with a nil key")
	}
}

func TestVerifyRejects(t *testing.T) {
	s := suite1T(t)
	sk, _ := s.GenerateSignatureKey(rand.Reader)
	sig, _ := s.SignWithLabel(sk, "L", []byte("content"))
	if err := s.VerifyWithLabel(sk.Public(), "L", []byte("content"), sig); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), sig...)
	bad[0] ^= 1
	for _, c := range []struct {
		pub     SignaturePublicKey
		content string
		sig     []byte
	}{
		{sk.Public(), "content!", sig},
		{sk.Public(), "content", bad},
		{sk.Public(), "content", sig[:63]},
		{sk.Public()[:31], "content", sig},
		{nil, "content", sig},
	} {
		if err := s.VerifyWithLabel(c.pub, "L", []byte(c.content), c.sig); err == nil {
			t.Errorf("VerifyWithLabel accepted %+v", c)
		}
	}
}

func TestMAC(t *testing.T) {
	s := suite1T(t)
	key, data := []byte("key"), []byte("data")
	tag := s.MAC(key, data)
	if len(tag) != s.Nh() || !s.VerifyMAC(key, data, tag) {
		t.Fatal("MAC does not verify")
	}
	if s.VerifyMAC(key, []byte("datb"), tag) || s.VerifyMAC(key, data, tag[:31]) || s.VerifyMAC([]byte("kez"), data, tag) {
		t.Error("VerifyMAC accepted a wrong input")
	}
}

func TestAEAD(t *testing.T) {
	s := suite1T(t)
	key, nonce := make([]byte, 16), make([]byte, 12)
	rand.Read(key)
	ct, err := s.Seal(nil, key, nonce, []byte("aad"), []byte("plaintext"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s.Open(nil, key, nonce, []byte("aad"), ct)
	if err != nil || string(pt) != "plaintext" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	for i := range ct {
		bad := append([]byte(nil), ct...)
		bad[i] ^= 0x80
		if _, err := s.Open(nil, key, nonce, []byte("aad"), bad); err == nil {
			t.Fatalf("Open accepted a flip in byte %d", i)
		}
	}
	if _, err := s.Open(nil, key, nonce, []byte("aae"), ct); err == nil {
		t.Error("Open accepted another AAD")
	}
	if _, err := s.Open(nil, key, nonce, nil, ct[:15]); err == nil {
		t.Error("Open accepted a truncated ciphertext")
	}
	if _, err := s.Seal(nil, key[:15], nonce, nil, nil); err == nil {
		t.Error("Seal accepted a short key")
	}
	if _, err := s.Open(nil, key, nonce[:11], nil, ct); err == nil {
		t.Error("Open accepted a short nonce")
	}
}

func TestExpandLimits(t *testing.T) {
	s := suite1T(t)
	if _, err := s.Expand(make([]byte, 32), nil, 255*32+1); err == nil {
		t.Error("Expand beyond 255·Nh")
	}
	if _, err := s.ExpandWithLabel(make([]byte, 32), "L", nil, 65535); err == nil {
		t.Error("ExpandWithLabel beyond 255·Nh")
	}
	if out, err := s.Expand(make([]byte, 32), nil, 255*32); err != nil || len(out) != 255*32 {
		t.Errorf("Expand(255·Nh) = %d bytes, %v", len(out), err)
	}
}

func BenchmarkDeriveTreeSecret(b *testing.B) {
	s := suite1T(b)
	secret := make([]byte, 32)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.DeriveTreeSecret(secret, "secret", uint32(i), 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptWithLabel(b *testing.B) {
	s := suite1T(b)
	k, _ := s.GenerateHPKEKey(rand.Reader)
	pub := k.Public()
	pt := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.EncryptWithLabel(rand.Reader, pub, "UpdatePathNode", pt, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptWithLabel(b *testing.B) {
	s := suite1T(b)
	k, _ := s.GenerateHPKEKey(rand.Reader)
	pt := make([]byte, 64)
	kemOut, ct, _ := s.EncryptWithLabel(rand.Reader, k.Public(), "UpdatePathNode", pt, pt)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecryptWithLabel(k, "UpdatePathNode", pt, kemOut, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecryptWithLabel feeds arbitrary KEM outputs and ciphertexts to
// DecryptWithLabel: it must never panic and must accept only the real
// ciphertext.
func FuzzDecryptWithLabel(f *testing.F) {
	s := suite1T(f)
	key, err := s.DeriveKeyPair(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		f.Fatal(err)
	}
	// A fixed ephemeral key, so that every fuzzing process has the same
	// ciphertext.
	eph := bytes.NewReader(bytes.Repeat([]byte{5}, 32))
	kemOut, ct, err := s.EncryptWithLabel(eph, key.Public(), "L", []byte("ctx"), []byte("plaintext"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kemOut, ct)
	f.Add(kemOut[:31], ct)
	f.Add(make([]byte, 32), ct)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, k, c []byte) {
		pt, err := s.DecryptWithLabel(key, "L", []byte("ctx"), k, c)
		if err == nil && (!bytes.Equal(k, kemOut) || !bytes.Equal(c, ct) || string(pt) != "plaintext") {
			t.Fatalf("accepted a forged ciphertext: %x %x", k, c)
		}
	})
}
