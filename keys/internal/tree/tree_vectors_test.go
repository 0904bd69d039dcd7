package tree

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// suiteOrSkip returns the suite of a vector, skipping the subtest for the
// suites package suite does not implement.
func suiteOrSkip(t *testing.T, id uint16) *suite.Suite {
	t.Helper()
	s, err := suite.ByID(suite.ID(id))
	if err != nil {
		t.Skipf("cipher suite %d is not implemented: %v", id, err)
	}
	return s
}

// decodeTree decodes an encoded ratchet_tree and builds a Tree from it.
func decodeTree(t testing.TB, s *suite.Suite, b []byte) *Tree {
	t.Helper()
	var rt wire.RatchetTree
	if err := codec.Unmarshal(b, &rt); err != nil {
		t.Fatalf("decoding ratchet tree: %v", err)
	}
	tr, err := FromRatchetTree(s, rt)
	if err != nil {
		t.Fatalf("FromRatchetTree: %v", err)
	}
	return tr
}

func encodeTree(t testing.TB, tr *Tree) []byte {
	t.Helper()
	rt := tr.RatchetTree()
	b, err := codec.Marshal(&rt)
	if err != nil {
		t.Fatalf("encoding ratchet tree: %v", err)
	}
	return b
}

// TestTreeValidationVectors runs tree-validation.json (RFC 9420 §4.1.1,
// §7.8, §7.9.2, §7.3): resolutions and tree hashes of every node, parent-hash
// validity, and every leaf signature with the group ID as context.
func TestTreeValidationVectors(t *testing.T) {
	var vs []struct {
		CipherSuite uint16             `json:"cipher_suite"`
		Tree        vectors.HexBytes   `json:"tree"`
		GroupID     vectors.HexBytes   `json:"group_id"`
		Resolutions [][]uint32         `json:"resolutions"`
		TreeHashes  []vectors.HexBytes `json:"tree_hashes"`
	}
	vectors.Load(t, "tree-validation", &vs)
	passed := 0
	for i, v := range vs {
		t.Run(fmt.Sprintf("%d/suite%d", i, v.CipherSuite), func(t *testing.T) {
			s := suiteOrSkip(t, v.CipherSuite)
			tr := decodeTree(t, s, v.Tree)
			if got := encodeTree(t, tr); !bytes.Equal(got, v.Tree) {
				t.Fatalf("tree does not re-encode to the same bytes")
			}
			if len(v.Resolutions) != len(tr.nodes) || len(v.TreeHashes) != len(tr.nodes) {
				t.Fatalf("tree has %d nodes, vector %d resolutions and %d hashes", len(tr.nodes), len(v.Resolutions), len(v.TreeHashes))
			}
			for x := range tr.nodes {
				got := tr.Resolution(treemath.NodeIndex(x))
				want := make([]treemath.NodeIndex, len(v.Resolutions[x]))
				for j, r := range v.Resolutions[x] {
					want[j] = treemath.NodeIndex(r)
				}
				if !slices.Equal(got, want) {
					t.Errorf("resolution of node %d = %v, want %v", x, got, want)
				}
				h, err := tr.NodeTreeHash(treemath.NodeIndex(x))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(h, v.TreeHashes[x]) {
					t.Errorf("tree hash of node %d = %x, want %x", x, h, v.TreeHashes[x])
				}
			}
			if err := tr.VerifyParentHashes(); err != nil {
				t.Errorf("VerifyParentHashes: %v", err)
			}
			if err := tr.Validate(v.GroupID, nil); err != nil {
				t.Errorf("Validate: %v", err)
			}
			// A fresh tree computes the same root hash bottom-up in one call.
			fresh := decodeTree(t, s, v.Tree)
			root, err := fresh.TreeHash()
			if err != nil || !bytes.Equal(root, v.TreeHashes[tr.Root()]) {
				t.Errorf("root tree hash = %x, %v", root, err)
			}
			if !t.Failed() {
				passed++
			}
		})
	}
	t.Logf("tree-validation: %d of %d vectors passed (others skipped: unsupported suites)", passed, len(vs))
}
