package tree

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TestTreeOperationsVectors runs tree-operations.json (RFC 9420
// §12.1.1–§12.1.3): an Add, Update or Remove applied to tree_before must
// give exactly tree_after, with the right tree hashes before and after.
func TestTreeOperationsVectors(t *testing.T) {
	var vs []struct {
		CipherSuite    uint16           `json:"cipher_suite"`
		TreeBefore     vectors.HexBytes `json:"tree_before"`
		Proposal       vectors.HexBytes `json:"proposal"`
		ProposalSender uint32           `json:"proposal_sender"`
		TreeHashBefore vectors.HexBytes `json:"tree_hash_before"`
		TreeAfter      vectors.HexBytes `json:"tree_after"`
		TreeHashAfter  vectors.HexBytes `json:"tree_hash_after"`
	}
	vectors.Load(t, "tree-operations", &vs)
	passed := 0
	for i, v := range vs {
		t.Run(fmt.Sprintf("%d/suite%d", i, v.CipherSuite), func(t *testing.T) {
			s := suiteOrSkip(t, v.CipherSuite)
			tr := decodeTree(t, s, v.TreeBefore)
			h, err := tr.TreeHash()
			if err != nil || !bytes.Equal(h, v.TreeHashBefore) {
				t.Fatalf("tree hash before = %x, %v; want %x", h, err, v.TreeHashBefore)
			}
			var p wire.Proposal
			if err := codec.Unmarshal(v.Proposal, &p); err != nil {
				t.Fatal(err)
			}
			before := tr.Clone()
			switch p.Type {
			case wire.ProposalAdd:
				_, err = tr.AddLeaf(&p.Add.KeyPackage.LeafNode)
			case wire.ProposalUpdate:
				err = tr.UpdateLeaf(treemath.LeafIndex(v.ProposalSender), &p.Update.LeafNode)
			case wire.ProposalRemove:
				err = tr.RemoveLeaf(treemath.LeafIndex(p.Remove.Removed))
			default:
				t.Fatalf("unexpected proposal type %d", p.Type)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := encodeTree(t, tr); !bytes.Equal(got, v.TreeAfter) {
				t.Fatalf("tree after (proposal type %d) differs:\n got %x\nwant %x", p.Type, got, v.TreeAfter)
			}
			// The cached hashes, invalidated along the changed paths, must
			// agree with the vector and with a tree decoded afresh.
			h, err = tr.TreeHash()
			if err != nil || !bytes.Equal(h, v.TreeHashAfter) {
				t.Fatalf("tree hash after = %x, %v; want %x", h, err, v.TreeHashAfter)
			}
			fresh := decodeTree(t, s, v.TreeAfter)
			for x := range fresh.nodes {
				a, _ := fresh.NodeTreeHash(treemath.NodeIndex(x))
				b, _ := tr.NodeTreeHash(treemath.NodeIndex(x))
				if !bytes.Equal(a, b) {
					t.Fatalf("cached tree hash of node %d is stale", x)
				}
			}
			// The clone taken before is untouched.
			if got := encodeTree(t, before); !bytes.Equal(got, v.TreeBefore) {
				t.Fatal("applying a proposal changed a clone")
			}
			passed++
		})
	}
	t.Logf("tree-operations: %d of %d vectors passed", passed, len(vs))
}
