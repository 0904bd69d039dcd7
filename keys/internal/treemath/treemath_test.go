package treemath

import (
	"slices"
	"testing"
)

// TestPaths checks DirectPath, Copath, CommonAncestor and the index
// conversions against their definitions (RFC 9420 §4.1) for every node of
// trees up to 64 leaves.
func TestPaths(t *testing.T) {
	for n := LeafCount(1); n <= 64; n *= 2 {
		for i := range n.Width() {
			x := NodeIndex(i)
			dp := n.DirectPath(x)
			// The direct path climbs parent by parent and ends at the root.
			prev := x
			for _, p := range dp {
				if want, _ := n.Parent(prev); p != want {
					t.Fatalf("n=%d x=%d: direct path %v", n, x, dp)
				}
				prev = p
			}
			if prev != n.Root() {
				t.Fatalf("n=%d x=%d: direct path %v does not end at root %d", n, x, dp, n.Root())
			}
			cp := n.Copath(x)
			if len(cp) != len(dp) {
				t.Fatalf("n=%d x=%d: copath %v, direct path %v", n, x, cp, dp)
			}
			for k, s := range cp {
				below := x
				if k > 0 {
					below = dp[k-1]
				}
				if want, _ := n.Sibling(below); s != want {
					t.Fatalf("n=%d x=%d: copath %v", n, x, cp)
				}
			}
			// The common ancestor is the first node on both paths.
			for j := range n.Width() {
				y := NodeIndex(j)
				px := append([]NodeIndex{x}, dp...)
				py := append([]NodeIndex{y}, n.DirectPath(y)...)
				var want NodeIndex
				for _, a := range px {
					if slices.Contains(py, a) {
						want = a
						break
					}
				}
				if got := CommonAncestor(x, y); got != want {
					t.Fatalf("n=%d: CommonAncestor(%d, %d) = %d; want %d", n, x, y, got, want)
				}
			}
			if l, ok := x.Leaf(); ok != x.IsLeaf() || (ok && l.Node() != x) {
				t.Fatalf("Leaf(%d) = %d, %v", x, l, ok)
			}
		}
	}
}

func TestOutOfRange(t *testing.T) {
	n := LeafCount(4)
	if _, ok := n.Parent(7); ok {
		t.Error("Parent of a node outside the tree")
	}
	if _, ok := n.Sibling(n.Root()); ok {
		t.Error("Sibling of the root")
	}
	if n.DirectPath(100) != nil || n.Copath(100) != nil {
		t.Error("paths of a node outside the tree")
	}
	if len(n.DirectPath(n.Root())) != 0 || n.DirectPath(n.Root()) == nil {
		t.Error("direct path of the root is not empty")
	}
	for _, bad := range []LeafCount{0, 3, 6, 1<<31 + 1} {
		if bad.Valid() || bad.Width() != 0 || bad.Contains(0) || bad.ContainsLeaf(0) {
			t.Errorf("LeafCount(%d) accepted", bad)
		}
		if _, ok := bad.Parent(0); ok {
			t.Errorf("LeafCount(%d).Parent accepted", bad)
		}
	}
	if !n.ContainsLeaf(3) || n.ContainsLeaf(4) {
		t.Error("ContainsLeaf")
	}
	if _, ok := NodeIndex(4).Left(); ok {
		t.Error("Left of a leaf")
	}
}

// FuzzTreeMath checks the relations between the functions for arbitrary
// nodes of trees up to 2^31 leaves, and that nothing panics.
func FuzzTreeMath(f *testing.F) {
	f.Add(uint8(3), uint32(5), uint32(12))
	f.Add(uint8(31), uint32(1<<31), uint32(0xfffffffe))
	f.Add(uint8(0), uint32(0), uint32(1))
	f.Fuzz(func(t *testing.T, k uint8, a, b uint32) {
		n := LeafCount(1) << (k % 32)
		x, y := NodeIndex(a), NodeIndex(b)
		if !n.Contains(x) {
			if _, ok := n.Parent(x); ok {
				t.Fatalf("n=%d: Parent of outside node %d", n, x)
			}
			return
		}
		if p, ok := n.Parent(x); ok {
			l, _ := p.Left()
			r, _ := p.Right()
			if l != x && r != x {
				t.Fatalf("n=%d: %d is not a child of its parent %d", n, x, p)
			}
			s, _ := n.Sibling(x)
			if back, _ := n.Sibling(s); back != x || s == x {
				t.Fatalf("n=%d: sibling of %d is %d", n, x, s)
			}
			if p.Level() != x.Level()+1 {
				t.Fatalf("n=%d: level of parent %d of %d", n, p, x)
			}
		} else if x != n.Root() {
			t.Fatalf("n=%d: %d has no parent but is not the root", n, x)
		}
		if n.Contains(y) {
			a := CommonAncestor(x, y)
			for _, z := range []NodeIndex{x, y} {
				if z != a && !slices.Contains(n.DirectPath(z), a) {
					t.Fatalf("n=%d: CommonAncestor(%d, %d) = %d is not above %d", n, x, y, a, z)
				}
			}
		}
	})
}
