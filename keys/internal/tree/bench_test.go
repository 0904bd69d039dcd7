package tree

import (
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// BenchmarkN1000 measures the tree operations of a Commit that removes
// one member of a 1000-member group (the group layer's budget: create ≤ 10
// ms, process ≤ 2 ms, Commit ≤ 4 KiB). The group is built by 999
// Add+Commit rounds, so every parent node is set as in a long-lived group.
func BenchmarkN1000(b *testing.B) {
	const n = 1000
	g := buildTestGroup(b, n, false)
	const committer, receiver, removed = treemath.LeafIndex(500), treemath.LeafIndex(501), treemath.LeafIndex(700)
	c := g.members[committer]
	params := UpdatePathParams{LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext}

	b.Run("TreeHash/cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := g.tree.Clone()
			for i := range tr.nodes {
				tr.nodes[i].hash = nil
			}
			if _, err := tr.TreeHash(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TreeHash/afterRemove", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := g.tree.Clone()
			if err := tr.RemoveLeaf(removed); err != nil {
				b.Fatal(err)
			}
			if _, err := tr.TreeHash(); err != nil {
				b.Fatal(err)
			}
		}
	})
	var path *wire.UpdatePath
	b.Run("CreateUpdatePath/remove", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			tr := g.tree.Clone()
			if err := tr.RemoveLeaf(removed); err != nil {
				b.Fatal(err)
			}
			p, ps, cs, err := tr.CreateUpdatePath(committer, params)
			if err != nil {
				b.Fatal(err)
			}
			ps.Erase()
			clear(cs)
			enc, err := codec.Marshal(p)
			if err != nil {
				b.Fatal(err)
			}
			size, path = len(enc), p
		}
		b.ReportMetric(float64(size), "path-bytes")
	})
	if path == nil {
		b.Skip("CreateUpdatePath did not run")
	}
	r := g.members[receiver]
	b.Run("ProcessUpdatePath/remove", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr := g.tree.Clone()
			if err := tr.RemoveLeaf(removed); err != nil {
				b.Fatal(err)
			}
			if err := tr.MergeUpdatePath(committer, path, g.groupID, nil); err != nil {
				b.Fatal(err)
			}
			th, err := tr.TreeHash()
			if err != nil {
				b.Fatal(err)
			}
			ctx, err := g.groupContext(th)
			if err != nil {
				b.Fatal(err)
			}
			ps, cs, err := r.priv.DecryptUpdatePath(tr, committer, path, nil, ctx)
			if err != nil {
				b.Fatal(err)
			}
			ps.Erase()
			clear(cs)
		}
	})
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := g.tree.Validate(g.groupID, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
