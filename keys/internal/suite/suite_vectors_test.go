package suite

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

type hexBytes = vectors.HexBytes

// suiteFor returns the suite under test or skips t with the reason.
func suiteFor(t *testing.T, id uint16) *Suite {
	t.Helper()
	s, err := ByID(ID(id))
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("cipher suite %d not implemented (only suite 1 is)", id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCryptoBasicsVectors checks every entry of crypto-basics.json (mlswg
// mls-implementations) for the implemented suites, as keys/testdata/
// test-vectors.md describes.
func TestCryptoBasicsVectors(t *testing.T) {
	var tests []struct {
		CipherSuite uint16 `json:"cipher_suite"`
		RefHash     struct {
			Label string   `json:"label"`
			Value hexBytes `json:"value"`
			Out   hexBytes `json:"out"`
		} `json:"ref_hash"`
		ExpandWithLabel struct {
			Secret  hexBytes `json:"secret"`
			Label   string   `json:"label"`
			Context hexBytes `json:"context"`
			Length  uint16   `json:"length"`
			Out     hexBytes `json:"out"`
		} `json:"expand_with_label"`
		DeriveSecret struct {
			Secret hexBytes `json:"secret"`
			Label  string   `json:"label"`
			Out    hexBytes `json:"out"`
		} `json:"derive_secret"`
		DeriveTreeSecret struct {
			Secret     hexBytes `json:"secret"`
			Label      string   `json:"label"`
			Generation uint32   `json:"generation"`
			Length     uint16   `json:"length"`
			Out        hexBytes `json:"out"`
		} `json:"derive_tree_secret"`
		SignWithLabel struct {
			Priv      hexBytes `json:"priv"`
			Pub       hexBytes `json:"pub"`
			Content   hexBytes `json:"content"`
			Label     string   `json:"label"`
			Signature hexBytes `json:"signature"`
		} `json:"sign_with_label"`
		EncryptWithLabel struct {
			Priv       hexBytes `json:"priv"`
			Pub        hexBytes `json:"pub"`
			Label      string   `json:"label"`
			Context    hexBytes `json:"context"`
			Plaintext  hexBytes `json:"plaintext"`
			KEMOutput  hexBytes `json:"kem_output"`
			Ciphertext hexBytes `json:"ciphertext"`
		} `json:"encrypt_with_label"`
	}
	vectors.Load(t, "crypto-basics", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("suite%d", tc.CipherSuite), func(t *testing.T) {
			t.Parallel()
			s := suiteFor(t, tc.CipherSuite)

			rh := tc.RefHash
			if out, err := s.RefHash(rh.Label, rh.Value); err != nil || !bytes.Equal(out, rh.Out) {
				t.Errorf("RefHash = %x, %v; want %x", out, err, rh.Out)
			}

			ewl := tc.ExpandWithLabel
			if out, err := s.ExpandWithLabel(ewl.Secret, ewl.Label, ewl.Context, ewl.Length); err != nil || !bytes.Equal(out, ewl.Out) {
				t.Errorf("ExpandWithLabel = %x, %v; want %x", out, err, ewl.Out)
			}

			ds := tc.DeriveSecret
			if out, err := s.DeriveSecret(ds.Secret, ds.Label); err != nil || !bytes.Equal(out, ds.Out) {
				t.Errorf("DeriveSecret = %x, %v; want %x", out, err, ds.Out)
			}

			dts := tc.DeriveTreeSecret
			if out, err := s.DeriveTreeSecret(dts.Secret, dts.Label, dts.Generation, dts.Length); err != nil || !bytes.Equal(out, dts.Out) {
				t.Errorf("DeriveTreeSecret = %x, %v; want %x", out, err, dts.Out)
			}

			swl := tc.SignWithLabel
			if err := s.VerifyWithLabel(SignaturePublicKey(swl.Pub), swl.Label, swl.Content, swl.Signature); err != nil {
				t.Errorf("VerifyWithLabel(vector signature): %v", err)
			}
			priv, err := s.ParseSignaturePrivateKey(swl.Priv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(priv.Public(), swl.Pub) {
				t.Errorf("public key of priv = %x; want %x", priv.Public(), swl.Pub)
			}
			sig, err := s.SignWithLabel(priv, swl.Label, swl.Content)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(SignaturePublicKey(swl.Pub), swl.Label, swl.Content, sig); err != nil {
				t.Errorf("VerifyWithLabel(SignWithLabel): %v", err)
			}
			// Ed25519 is deterministic: the signature must be the vector's.
			if !bytes.Equal(sig, swl.Signature) {
				t.Errorf("SignWithLabel = %x; want %x", sig, swl.Signature)
			}
			if err := s.VerifyWithLabel(SignaturePublicKey(swl.Pub), swl.Label+"x", swl.Content, swl.Signature); err == nil {
				t.Error("VerifyWithLabel accepted another label")
			}

			e := tc.EncryptWithLabel
			key, err := s.ParseHPKEPrivateKey(e.Priv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key.Public(), e.Pub) {
				t.Errorf("public key of priv = %x; want %x", key.Public(), e.Pub)
			}
			pt, err := s.DecryptWithLabel(key, e.Label, e.Context, e.KEMOutput, e.Ciphertext)
			if err != nil || !bytes.Equal(pt, e.Plaintext) {
				t.Errorf("DecryptWithLabel(vector) = %x, %v; want %x", pt, err, e.Plaintext)
			}
			kemOut, ct, err := s.EncryptWithLabel(rand.Reader, HPKEPublicKey(e.Pub), e.Label, e.Context, e.Plaintext)
			if err != nil {
				t.Fatal(err)
			}
			pt, err = s.DecryptWithLabel(key, e.Label, e.Context, kemOut, ct)
			if err != nil || !bytes.Equal(pt, e.Plaintext) {
				t.Errorf("DecryptWithLabel(EncryptWithLabel) = %x, %v; want %x", pt, err, e.Plaintext)
			}
			if _, err := s.DecryptWithLabel(key, e.Label, append(e.Context, 0), e.KEMOutput, e.Ciphertext); err == nil {
				t.Error("DecryptWithLabel accepted another context")
			}
		})
	}
}
