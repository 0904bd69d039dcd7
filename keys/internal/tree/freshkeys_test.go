package tree

import (
	"bytes"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TestValidateLeafNodeReplaces checks LeafNodeCheck.Replaces (RFC 9420
// §7.3): a leaf node that replaces a member must bring a new encryption key
// (it may keep the signature key), may only replace a member, and a leaf
// node that does not replace one is compared with every leaf, its own
// position's included.
func TestValidateLeafNodeReplaces(t *testing.T) {
	g := buildTestGroup(t, 3, false)
	s := g.s
	update := func(key wire.HPKEPublicKey, at uint32) *wire.LeafNode {
		up := *g.tree.Leaf(1)
		up.Source = wire.SourceUpdate
		up.Lifetime = wire.Lifetime{}
		up.EncryptionKey = key
		tbs, err := up.LeafNodeTBS(g.groupID, at)
		if err != nil {
			t.Fatal(err)
		}
		if up.Signature, err = s.SignWithLabel(g.members[1].sig, "LeafNodeTBS", tbs); err != nil {
			t.Fatal(err)
		}
		return &up
	}
	k, err := s.GenerateHPKEKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fresh := wire.HPKEPublicKey(k.Public())
	check := LeafNodeCheck{GroupID: g.groupID, Leaf: 1, Replaces: true, Source: wire.SourceUpdate}
	if err := g.tree.ValidateLeafNode(update(fresh, 1), check); err != nil {
		t.Fatalf("update leaf with a fresh key: %v", err)
	}
	// The old code skipped the replaced leaf and accepted this one.
	err = g.tree.ValidateLeafNode(update(g.tree.Leaf(1).EncryptionKey, 1), check)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "keeps the encryption key") {
		t.Fatalf("update leaf keeping its encryption key: %v, want ErrInvalid", err)
	}
	// Replacing a blank or missing leaf is not a replacement.
	for _, l := range []treemath.LeafIndex{3, 100} {
		c := check
		c.Leaf = l
		if err := g.tree.ValidateLeafNode(update(fresh, uint32(l)), c); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replacing leaf %d: %v, want ErrInvalid", l, err)
		}
	}
	// Without Replaces the member at Leaf is another member: its signature
	// key may not be shared.
	c := check
	c.Replaces = false
	if err := g.tree.ValidateLeafNode(update(fresh, 1), c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("leaf with a member's signature key, not replacing it: %v, want ErrInvalid", err)
	}
}

// TestUpdatePathKeepsKeys checks RFC 9420 §12.4.2: an UpdatePath whose
// leaf keeps the committer's encryption key, or whose node keeps the key
// its node had, is rejected and leaves the tree unchanged. Each forged path
// is otherwise well formed: its parent hashes are recomputed and its leaf
// re-signed, so that only the stale key is wrong (the "re-signed" case is
// the control, which must be accepted).
func TestUpdatePathKeepsKeys(t *testing.T) {
	g := buildTestGroup(t, 6, true)
	const committer = treemath.LeafIndex(2)
	c := g.members[committer]
	fdp := g.tree.FilteredDirectPath(committer)
	if len(fdp) == 0 || g.tree.nodes[fdp[len(fdp)-1]].blank() {
		t.Fatalf("filtered direct path %v: want a non-blank root", fdp)
	}
	// reseal recomputes the leaf's parent hash for the path's node keys and
	// signs the leaf again, as a committer would.
	reseal := func(p *wire.UpdatePath) {
		keys := make([]wire.HPKEPublicKey, len(p.Nodes))
		for i := range p.Nodes {
			keys[i] = p.Nodes[i].EncryptionKey
		}
		ph, err := g.tree.Clone().setPath(committer, fdp, keys)
		if err != nil {
			t.Fatal(err)
		}
		p.LeafNode.ParentHash = ph
		tbs, err := p.LeafNode.LeafNodeTBS(g.groupID, uint32(committer))
		if err != nil {
			t.Fatal(err)
		}
		if p.LeafNode.Signature, err = g.s.SignWithLabel(c.sig, "LeafNodeTBS", tbs); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		damage func(p *wire.UpdatePath)
		want   string // "" for the control
	}{
		"re-signed": {func(p *wire.UpdatePath) {}, ""},
		"leaf keeps its key": {func(p *wire.UpdatePath) {
			p.LeafNode.EncryptionKey = g.tree.Leaf(committer).EncryptionKey
		}, "keeps the encryption key"},
		"root keeps its key": {func(p *wire.UpdatePath) {
			p.Nodes[len(p.Nodes)-1].EncryptionKey = g.tree.encryptionKey(fdp[len(fdp)-1])
		}, "reuses the encryption key of node"},
		"node takes the old leaf key": {func(p *wire.UpdatePath) {
			p.Nodes[0].EncryptionKey = g.tree.Leaf(committer).EncryptionKey
		}, "reuses the encryption key of node"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path, ps, _, err := g.tree.Clone().CreateUpdatePath(committer, UpdatePathParams{
				LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext,
			})
			if err != nil {
				t.Fatal(err)
			}
			ps.Erase()
			tc.damage(path)
			reseal(path)
			tr := g.tree.Clone()
			before := encodeTree(t, tr)
			err = tr.MergeUpdatePath(committer, path, g.groupID, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("re-signed path rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("MergeUpdatePath = %v, want ErrInvalid (%s)", err, tc.want)
			}
			if !bytes.Equal(encodeTree(t, tr), before) {
				t.Fatal("a rejected path changed the tree")
			}
		})
	}
}

// TestCreateUpdatePathRepeatingRand checks that a committer whose random
// source repeats itself refuses to send a path with the keys it already
// has, which receivers would reject (and which would refresh nothing).
func TestCreateUpdatePathRepeatingRand(t *testing.T) {
	g := buildTestGroup(t, 4, false)
	c := g.members[1]
	var seed [32]byte
	params := func() UpdatePathParams {
		return UpdatePathParams{Rand: mrand.NewChaCha8(seed), LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext}
	}
	tr := g.tree.Clone()
	_, ps, _, err := tr.CreateUpdatePath(1, params())
	if err != nil {
		t.Fatal(err)
	}
	ps.Erase()
	before := encodeTree(t, tr)
	if _, _, _, err := tr.CreateUpdatePath(1, params()); err == nil {
		t.Fatal("CreateUpdatePath sent the keys the tree already holds")
	}
	if !bytes.Equal(encodeTree(t, tr), before) {
		t.Fatal("a failed CreateUpdatePath changed the tree")
	}
}
