package treemath

import (
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// TestTreeMathVectors checks every entry of tree-math.json (mlswg
// mls-implementations): node count, root, and the left, right, parent and
// sibling of every node.
func TestTreeMathVectors(t *testing.T) {
	var tests []struct {
		NLeaves uint32    `json:"n_leaves"`
		NNodes  uint32    `json:"n_nodes"`
		Root    uint32    `json:"root"`
		Left    []*uint32 `json:"left"`
		Right   []*uint32 `json:"right"`
		Parent  []*uint32 `json:"parent"`
		Sibling []*uint32 `json:"sibling"`
	}
	vectors.Load(t, "tree-math", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	check := func(t *testing.T, what string, i int, got NodeIndex, ok bool, want *uint32) {
		t.Helper()
		switch {
		case want == nil && ok:
			t.Errorf("%s(%d) = %d; want none", what, i, got)
		case want != nil && (!ok || uint32(got) != *want):
			t.Errorf("%s(%d) = %d, %v; want %d", what, i, got, ok, *want)
		}
	}
	for _, tc := range tests {
		n := LeafCount(tc.NLeaves)
		if n.Width() != tc.NNodes {
			t.Errorf("n=%d: Width() = %d; want %d", n, n.Width(), tc.NNodes)
		}
		if uint32(n.Root()) != tc.Root {
			t.Errorf("n=%d: Root() = %d; want %d", n, n.Root(), tc.Root)
		}
		for i := range int(tc.NNodes) {
			x := NodeIndex(i)
			l, ok := x.Left()
			check(t, "left", i, l, ok, tc.Left[i])
			r, ok := x.Right()
			check(t, "right", i, r, ok, tc.Right[i])
			p, ok := n.Parent(x)
			check(t, "parent", i, p, ok, tc.Parent[i])
			s, ok := n.Sibling(x)
			check(t, "sibling", i, s, ok, tc.Sibling[i])
		}
	}
	t.Logf("%d tree-math vectors", len(tests))
}
