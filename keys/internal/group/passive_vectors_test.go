package group

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// passiveVector is one entry of the passive-client-*.json files (see
// keys/testdata/test-vectors.md, "Passive Client Scenarios").
type passiveVector struct {
	Suite        uint16 `json:"cipher_suite"`
	ExternalPSKs []struct {
		ID  vectors.HexBytes `json:"psk_id"`
		PSK vectors.HexBytes `json:"psk"`
	} `json:"external_psks"`
	KeyPackage                vectors.HexBytes `json:"key_package"`
	SignaturePriv             vectors.HexBytes `json:"signature_priv"`
	EncryptionPriv            vectors.HexBytes `json:"encryption_priv"`
	InitPriv                  vectors.HexBytes `json:"init_priv"`
	Welcome                   vectors.HexBytes `json:"welcome"`
	RatchetTree               vectors.HexBytes `json:"ratchet_tree"`
	InitialEpochAuthenticator vectors.HexBytes `json:"initial_epoch_authenticator"`
	Epochs                    []struct {
		Proposals          []vectors.HexBytes `json:"proposals"`
		Commit             vectors.HexBytes   `json:"commit"`
		EpochAuthenticator vectors.HexBytes   `json:"epoch_authenticator"`
	} `json:"epochs"`
}

func decodeMLS(t *testing.T, b []byte) *wire.MLSMessage {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// runPassive joins from the vector's Welcome and follows every epoch,
// comparing epoch_authenticator after each step.
func runPassive(t *testing.T, v *passiveVector) {
	s, err := suite.ByID(suite.ID(v.Suite))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.ParseSignaturePrivateKey(v.SignaturePriv)
	if err != nil {
		t.Fatal(err)
	}
	initKey, err := s.ParseHPKEPrivateKey(v.InitPriv)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := s.ParseHPKEPrivateKey(v.EncryptionPriv)
	if err != nil {
		t.Fatal(err)
	}
	kp := decodeMLS(t, v.KeyPackage).KeyPackage
	if kp == nil {
		t.Fatal("key_package is not a KeyPackage")
	}
	if !bytes.Equal(sig.Public(), kp.LeafNode.SignatureKey) || !bytes.Equal(initKey.Public(), kp.InitKey) ||
		!bytes.Equal(leafKey.Public(), kp.LeafNode.EncryptionKey) {
		t.Fatal("private keys do not match the KeyPackage")
	}
	cfg := Config{ExternalPSKs: map[string][]byte{}, ResumptionPSKs: 5}
	for _, p := range v.ExternalPSKs {
		cfg.ExternalPSKs[string(p.ID)] = p.PSK
	}
	var rt wire.RatchetTree
	if v.RatchetTree != nil {
		if err := codec.Unmarshal(v.RatchetTree, &rt); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Join(s, cfg, sig, kp, &KeyPackageSecrets{Init: initKey, Leaf: leafKey}, decodeMLS(t, v.Welcome).Welcome, rt)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if !bytes.Equal(st.EpochAuthenticator(), v.InitialEpochAuthenticator) {
		t.Fatal("epoch_authenticator after join differs")
	}
	for i, e := range v.Epochs {
		for j, p := range e.Proposals {
			if _, err := st.Process(decodeMLS(t, p)); err != nil {
				if errors.Is(err, ErrUnsupported) {
					t.Skipf("epoch %d proposal %d: %v", i, j, err)
				}
				t.Fatalf("epoch %d proposal %d: %v", i, j, err)
			}
		}
		if _, err := st.Process(decodeMLS(t, e.Commit)); err != nil {
			if errors.Is(err, ErrUnsupported) {
				t.Skipf("epoch %d commit: %v", i, err)
			}
			t.Fatalf("epoch %d commit: %v", i, err)
		}
		if !bytes.Equal(st.EpochAuthenticator(), e.EpochAuthenticator) {
			t.Fatalf("epoch %d: epoch_authenticator differs", i)
		}
	}
}

func testPassive(t *testing.T, name string) {
	var all []passiveVector
	vectors.Load(t, name, &all)
	n := 0
	for i := range all {
		if all[i].Suite != 1 {
			continue // package suite implements only suite 1
		}
		n++
		t.Run(fmt.Sprint(i), func(t *testing.T) { runPassive(t, &all[i]) })
	}
	if n == 0 {
		t.Fatal("no suite-1 vectors")
	}
}

func TestPassiveClientWelcomeVectors(t *testing.T) { testPassive(t, "passive-client-welcome") }
func TestPassiveClientHandlingCommitVectors(t *testing.T) {
	testPassive(t, "passive-client-handling-commit")
}
func TestPassiveClientRandomVectors(t *testing.T) { testPassive(t, "passive-client-random") }
