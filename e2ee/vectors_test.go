package e2ee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
)

// The RFC 9605 Appendix C test vectors, copied unedited into testdata (see
// testdata/README.md for provenance). kid and ctr reach 2^64-1, so they are
// decoded straight into uint64 (encoding/json parses the literal exactly).
type rfcVectors struct {
	Header []struct {
		KID     uint64   `json:"kid"`
		CTR     uint64   `json:"ctr"`
		Encoded hexBytes `json:"encoded"`
	} `json:"header"`
	AESCTRHMAC []struct {
		CipherSuite Suite    `json:"cipher_suite"`
		Key         hexBytes `json:"key"`
		EncKey      hexBytes `json:"enc_key"`
		AuthKey     hexBytes `json:"auth_key"`
		Nonce       hexBytes `json:"nonce"`
		AAD         hexBytes `json:"aad"`
		PT          hexBytes `json:"pt"`
		CT          hexBytes `json:"ct"`
	} `json:"aes_ctr_hmac"`
	SFrame []struct {
		CipherSuite Suite    `json:"cipher_suite"`
		KID         uint64   `json:"kid"`
		CTR         uint64   `json:"ctr"`
		BaseKey     hexBytes `json:"base_key"`
		KeyLabel    hexBytes `json:"sframe_key_label"`
		SaltLabel   hexBytes `json:"sframe_salt_label"`
		Secret      hexBytes `json:"sframe_secret"`
		SFrameKey   hexBytes `json:"sframe_key"`
		SFrameSalt  hexBytes `json:"sframe_salt"`
		Metadata    hexBytes `json:"metadata"`
		Nonce       hexBytes `json:"nonce"`
		AAD         hexBytes `json:"aad"`
		PT          hexBytes `json:"pt"`
		CT          hexBytes `json:"ct"`
	} `json:"sframe"`
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func loadVectors(t testing.TB) *rfcVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/rfc9605-test-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Header) != 289 || len(v.AESCTRHMAC) != 3 || len(v.SFrame) != 5 {
		t.Fatalf("unexpected vector counts: %d header, %d aes_ctr_hmac, %d sframe",
			len(v.Header), len(v.AESCTRHMAC), len(v.SFrame))
	}
	return &v
}

// TestHeaderVectors checks RFC 9605 §4.3 both ways on all 289 vectors.
func TestHeaderVectors(t *testing.T) {
	v := loadVectors(t)
	for _, h := range v.Header {
		t.Run(fmt.Sprintf("kid=%d/ctr=%d", h.KID, h.CTR), func(t *testing.T) {
			if got := appendHeader(nil, h.KID, h.CTR); !bytes.Equal(got, h.Encoded) {
				t.Errorf("encode = %x, want %x", got, h.Encoded)
			}
			if got := headerLen(h.KID, h.CTR); got != len(h.Encoded) {
				t.Errorf("headerLen = %d, want %d", got, len(h.Encoded))
			}
			// Decode with trailing payload bytes, as in a real frame.
			in := append(bytes.Clone(h.Encoded), 0xde, 0xad)
			kid, ctr, n, err := parseHeader(in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if kid != h.KID || ctr != h.CTR || n != len(h.Encoded) {
				t.Errorf("decode = kid %d ctr %d len %d, want %d %d %d", kid, ctr, n, h.KID, h.CTR, len(h.Encoded))
			}
			// Every strict prefix of an extended header is truncated.
			for i := 0; i < len(h.Encoded); i++ {
				if _, _, _, err := parseHeader(h.Encoded[:i]); !errors.Is(err, ErrMalformed) {
					t.Errorf("decode of %d-byte prefix: err = %v, want ErrMalformed", i, err)
				}
			}
		})
	}
}

// TestAESCTRHMACVectors checks the AEAD of RFC 9605 §4.5.1.
func TestAESCTRHMACVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.AESCTRHMAC {
		t.Run(tc.CipherSuite.String(), func(t *testing.T) {
			p, err := tc.CipherSuite.params()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.Key[:p.nka], tc.EncKey) || !bytes.Equal(tc.Key[p.nka:], tc.AuthKey) {
				t.Fatal("enc_key/auth_key split does not match the vector")
			}
			a, err := newCTRHMAC(tc.Key, p.nka, p.nt)
			if err != nil {
				t.Fatal(err)
			}
			ct := a.Seal(nil, tc.Nonce, tc.PT, tc.AAD)
			if !bytes.Equal(ct, tc.CT) {
				t.Fatalf("Seal = %x, want %x", ct, tc.CT)
			}
			pt, err := a.Open(nil, tc.Nonce, tc.CT, tc.AAD)
			if err != nil || !bytes.Equal(pt, tc.PT) {
				t.Fatalf("Open = %x, %v; want %x", pt, err, tc.PT)
			}
			testAEADTamper(t, a, tc.Nonce, tc.CT, tc.AAD)
		})
	}
}

// TestSFrameVectors checks key derivation (§4.4.2), nonce and AAD formation,
// encryption and decryption (§4.4.3, §4.4.4) for all five suites.
func TestSFrameVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.SFrame {
		t.Run(tc.CipherSuite.String(), func(t *testing.T) {
			p, err := tc.CipherSuite.params()
			if err != nil {
				t.Fatal(err)
			}
			if got := label(keyLabel, tc.KID, tc.CipherSuite); got != string(tc.KeyLabel) {
				t.Errorf("key label = %x, want %x", got, tc.KeyLabel)
			}
			if got := label(saltLabel, tc.KID, tc.CipherSuite); got != string(tc.SaltLabel) {
				t.Errorf("salt label = %x, want %x", got, tc.SaltLabel)
			}
			if len(tc.Secret) != p.hash().Size() {
				t.Errorf("sframe_secret is %d bytes, hash is %d", len(tc.Secret), p.hash().Size())
			}
			mat, err := deriveKeySalt(tc.CipherSuite, tc.KID, tc.BaseKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mat.key, tc.SFrameKey) || !bytes.Equal(mat.salt, tc.SFrameSalt) {
				t.Fatalf("derived key %x salt %x, want %x %x", mat.key, mat.salt, tc.SFrameKey, tc.SFrameSalt)
			}
			k, err := newKeyState(tc.CipherSuite, tc.KID, tc.BaseKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.makeNonce(tc.CTR); !bytes.Equal(got, tc.Nonce) {
				t.Errorf("nonce = %x, want %x", got, tc.Nonce)
			}
			if got := append(appendHeader(nil, tc.KID, tc.CTR), tc.Metadata...); !bytes.Equal(got, tc.AAD) {
				t.Errorf("aad = %x, want %x", got, tc.AAD)
			}

			s, err := NewSender(Config{Suite: tc.CipherSuite})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetKey(tc.KID, tc.BaseKey); err != nil {
				t.Fatal(err)
			}
			s.next = tc.CTR // start the sender at the vector's counter
			ct, err := s.Seal(nil, tc.PT, tc.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ct, tc.CT) {
				t.Fatalf("Seal = %x, want %x", ct, tc.CT)
			}

			r, err := NewReceiver(Config{Suite: tc.CipherSuite})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Add(tc.KID, tc.BaseKey); err != nil {
				t.Fatal(err)
			}
			pt, err := r.Open(nil, tc.CT, tc.Metadata)
			if err != nil || !bytes.Equal(pt, tc.PT) {
				t.Fatalf("Open = %x, %v; want %x", pt, err, tc.PT)
			}
			if _, err := r.Open(nil, tc.CT, tc.Metadata); !errors.Is(err, ErrReplay) {
				t.Errorf("second Open: err = %v, want ErrReplay", err)
			}
		})
	}
}

// testAEADTamper checks that flipping any bit of the ciphertext or the AAD,
// or truncating the ciphertext, fails authentication.
func testAEADTamper(t *testing.T, a interface {
	Open(dst, nonce, ciphertext, aad []byte) ([]byte, error)
}, nonce, ct, aad []byte) {
	t.Helper()
	for i := range ct {
		for bit := 0; bit < 8; bit++ {
			c := bytes.Clone(ct)
			c[i] ^= 1 << bit
			if _, err := a.Open(nil, nonce, c, aad); err == nil {
				t.Fatalf("ciphertext with bit %d of byte %d flipped authenticated", bit, i)
			}
		}
	}
	for i := range aad {
		d := bytes.Clone(aad)
		d[i] ^= 0x01
		if _, err := a.Open(nil, nonce, ct, d); err == nil {
			t.Fatalf("AAD with byte %d changed authenticated", i)
		}
	}
	for n := 0; n < len(ct); n++ {
		if _, err := a.Open(nil, nonce, ct[:n], aad); err == nil {
			t.Fatalf("ciphertext truncated to %d bytes authenticated", n)
		}
	}
}
