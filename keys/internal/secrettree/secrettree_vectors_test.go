package secrettree

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

type hexBytes = vectors.HexBytes

type leafGeneration struct {
	Generation       uint32   `json:"generation"`
	HandshakeKey     hexBytes `json:"handshake_key"`
	HandshakeNonce   hexBytes `json:"handshake_nonce"`
	ApplicationKey   hexBytes `json:"application_key"`
	ApplicationNonce hexBytes `json:"application_nonce"`
}

type secretTreeVector struct {
	CipherSuite uint16 `json:"cipher_suite"`
	SenderData  struct {
		SenderDataSecret hexBytes `json:"sender_data_secret"`
		Ciphertext       hexBytes `json:"ciphertext"`
		Key              hexBytes `json:"key"`
		Nonce            hexBytes `json:"nonce"`
	} `json:"sender_data"`
	EncryptionSecret hexBytes           `json:"encryption_secret"`
	Leaves           [][]leafGeneration `json:"leaves"`
}

// suiteFor returns the suite under test or skips t with the reason.
func suiteFor(t *testing.T, id uint16) *suite.Suite {
	t.Helper()
	s, err := suite.ByID(suite.ID(id))
	if errors.Is(err, suite.ErrUnsupported) {
		t.Skipf("cipher suite %d not implemented (only suite 1 is)", id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSecretTreeVectors checks every entry of secret-tree.json (mlswg
// mls-implementations) for the implemented suites: the sender-data key and
// nonce, and the handshake and application key and nonce of every listed
// generation of every leaf. Each entry runs three ways: as a receiver in
// order (DecryptionKey then Consume), as a receiver reading the later
// generation first and the earlier one from the out-of-order window, and as
// the sender (EncryptionKey until the generation is reached).
func TestSecretTreeVectors(t *testing.T) {
	var tests []secretTreeVector
	vectors.Load(t, "secret-tree", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("suite%d/%dleaves", tc.CipherSuite, len(tc.Leaves)), func(t *testing.T) {
			t.Parallel()
			s := suiteFor(t, tc.CipherSuite)

			sd := tc.SenderData
			key, nonce, err := SenderDataKeyNonce(s, schedule.SenderDataSecret(sd.SenderDataSecret), sd.Ciphertext)
			if err != nil || !bytes.Equal(key, sd.Key) || !bytes.Equal(nonce, sd.Nonce) {
				t.Errorf("sender data key, nonce = %x, %x, %v; want %x, %x", key, nonce, err, sd.Key, sd.Nonce)
			}

			n := treemath.LeafCount(len(tc.Leaves))
			for _, mode := range []string{"in order", "reversed", "sender"} {
				tree, err := New(s, schedule.EncryptionSecret(tc.EncryptionSecret), n, Config{})
				if err != nil {
					t.Fatal(err)
				}
				for i, gens := range tc.Leaves {
					leaf := treemath.LeafIndex(i)
					order := gens
					if mode == "reversed" {
						order = make([]leafGeneration, len(gens))
						for j := range gens {
							order[j] = gens[len(gens)-1-j]
						}
					}
					for _, g := range order {
						for _, r := range []struct {
							typ        RatchetType
							key, nonce []byte
						}{
							{Handshake, g.HandshakeKey, g.HandshakeNonce},
							{Application, g.ApplicationKey, g.ApplicationNonce},
						} {
							k := getKey(t, tree, mode, leaf, r.typ, g.Generation)
							if k.Generation != g.Generation || !bytes.Equal(k.Key, r.key) || !bytes.Equal(k.Nonce, r.nonce) {
								t.Errorf("%s: leaf %d %s generation %d: key, nonce = %x, %x; want %x, %x",
									mode, i, r.typ, g.Generation, k.Key, k.Nonce, r.key, r.nonce)
							}
						}
					}
				}
				// Every leaf has been used: no node secret is left.
				for x, b := range tree.nodes {
					if b != nil {
						t.Errorf("%s: node %d still holds a secret", mode, x)
					}
				}
				tree.Erase()
			}
		})
	}
}

func getKey(t *testing.T, tree *Tree, mode string, leaf treemath.LeafIndex, typ RatchetType, gen uint32) Key {
	t.Helper()
	if mode == "sender" {
		for {
			k, err := tree.EncryptionKey(leaf, typ)
			if err != nil {
				t.Fatal(err)
			}
			if k.Generation >= gen {
				return k
			}
		}
	}
	k, err := tree.DecryptionKey(leaf, typ, gen)
	if err != nil {
		t.Fatalf("%s: DecryptionKey(%d, %s, %d): %v", mode, leaf, typ, gen, err)
	}
	if err := tree.Consume(leaf, typ, gen); err != nil {
		t.Fatalf("%s: Consume(%d, %s, %d): %v", mode, leaf, typ, gen, err)
	}
	return k
}
