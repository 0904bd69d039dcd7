package tree

import (
	"bytes"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// FuzzRatchetTree decodes a ratchet tree and runs everything a joiner runs
// on it: it must never panic, and a tree that builds must re-encode to the
// same bytes. Seeds are the suite-1 trees of the vectors.
func FuzzRatchetTree(f *testing.F) {
	var tv []struct {
		CipherSuite uint16           `json:"cipher_suite"`
		Tree        vectors.HexBytes `json:"tree"`
	}
	vectors.Load(f, "tree-validation", &tv)
	for _, v := range tv {
		if v.CipherSuite == 1 {
			f.Add([]byte(v.Tree))
		}
	}
	var ops []struct {
		TreeBefore vectors.HexBytes `json:"tree_before"`
		TreeAfter  vectors.HexBytes `json:"tree_after"`
	}
	vectors.Load(f, "tree-operations", &ops)
	for _, v := range ops {
		f.Add([]byte(v.TreeBefore))
		f.Add([]byte(v.TreeAfter))
	}
	s := suite1(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var rt wire.RatchetTree
		if codec.Unmarshal(data, &rt) != nil {
			return
		}
		tr, err := FromRatchetTree(s, rt)
		if err != nil {
			return
		}
		out := tr.RatchetTree()
		enc, err := codec.Marshal(&out)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("tree re-encodes differently (%v)", err)
		}
		_ = tr.Validate([]byte("group"), nil)
		_ = tr.VerifyParentHashes()
		if _, err := tr.TreeHash(); err != nil {
			t.Fatalf("TreeHash of a decoded tree: %v", err)
		}
		for x := range tr.nodes {
			_ = tr.Resolution(treemath.NodeIndex(x))
		}
		for l := treemath.LeafIndex(0); l < treemath.LeafIndex(tr.LeafCount()); l++ {
			_ = tr.FilteredDirectPath(l)
		}
		// Proposals on the untrusted tree must not panic either.
		c := tr.Clone()
		for l := treemath.LeafIndex(0); l < treemath.LeafIndex(c.LeafCount()); l++ {
			if c.Leaf(l) != nil {
				_ = c.RemoveLeaf(l)
				break
			}
		}
		_, _ = c.AddLeaf(&wire.LeafNode{})
		_, _ = c.TreeHash()
	})
}

// FuzzUpdatePath merges and decrypts arbitrary UpdatePaths from member 1
// of a small group: never a panic, and a rejected path leaves the tree as
// it was. Seeds are real UpdatePaths.
func FuzzUpdatePath(f *testing.F) {
	g := buildTestGroup(f, 5, true)
	for _, c := range []treemath.LeafIndex{1, 1, 1} {
		tr := g.tree.Clone()
		m := g.members[c]
		path, ps, _, err := tr.CreateUpdatePath(c, UpdatePathParams{LeafNode: m.leaf, SignatureKey: m.sig, GroupID: g.groupID, GroupContext: g.groupContext})
		if err != nil {
			f.Fatal(err)
		}
		ps.Erase()
		b, err := codec.Marshal(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	before := encodeTree(f, g.tree)
	f.Fuzz(func(t *testing.T, data []byte) {
		var path wire.UpdatePath
		if codec.Unmarshal(data, &path) != nil {
			return
		}
		tr := g.tree.Clone()
		if err := tr.MergeUpdatePath(1, &path, g.groupID, nil); err != nil {
			if !bytes.Equal(encodeTree(t, tr), before) {
				t.Fatal("a rejected UpdatePath changed the tree")
			}
			return
		}
		th, err := tr.TreeHash()
		if err != nil {
			t.Fatal(err)
		}
		ctx, _ := g.groupContext(th)
		ps, cs, err := g.members[0].priv.DecryptUpdatePath(tr, 1, &path, nil, ctx)
		if err == nil {
			ps.Erase()
			clear(cs)
		}
	})
}
