// Package treemath implements the array representation of MLS ratchet trees
// (RFC 9420 §4.1 and Appendix C).
//
// A tree with n leaves, n a power of two (an MLS tree grows only by
// doubling: RFC 9420 §7.7, §12.4.3.3), is stored as an array of 2n−1 nodes.
// Leaves sit at the even indices, parents at the odd ones, and a node's level
// is the number of trailing one bits of its index. Node indices of a tree
// with 8 leaves:
//
//	level 3                       7
//	level 2           3                       11
//	level 1     1           5           9           13
//	level 0  0     2     4     6     8     10    12    14
//	leaf     0     1     2     3     4     5     6     7
//
// Leaf and node indices are distinct types so that one cannot be passed where
// the other is meant; convert with [LeafIndex.Node] and [NodeIndex.Leaf].
// Functions whose result is undefined (the parent of the root, the children of
// a leaf, a node outside the tree) report false instead of panicking.
package treemath

import "math/bits"

// LeafIndex is the position of a leaf among the leaves, counted from the
// left (RFC 9420 §4.1 "leaf index").
type LeafIndex uint32

// NodeIndex is the position of a node in the array representation of the tree
// (RFC 9420 Appendix C "node index").
type NodeIndex uint32

// LeafCount is the number of leaves of a tree. Valid trees have a power of
// two leaves (RFC 9420 §7.7); the methods of a LeafCount that is not one
// report false or return nil.
type LeafCount uint32

// Node returns the node index of leaf l: 2·l.
func (l LeafIndex) Node() NodeIndex { return NodeIndex(2 * l) }

// IsLeaf reports whether x is a leaf node (an even index).
func (x NodeIndex) IsLeaf() bool { return x&1 == 0 }

// Leaf returns the leaf index of x, or false if x is a parent node.
func (x NodeIndex) Leaf() (LeafIndex, bool) {
	if !x.IsLeaf() {
		return 0, false
	}
	return LeafIndex(x / 2), true
}

// Level returns the height of x above the leaves: leaves are level 0 and a
// parent is one more than its children (RFC 9420 Appendix C "level").
func (x NodeIndex) Level() uint { return uint(bits.TrailingZeros32(^uint32(x))) }

// Left returns the left child of x, or false if x is a leaf.
func (x NodeIndex) Left() (NodeIndex, bool) {
	k := x.Level()
	if k == 0 {
		return 0, false
	}
	return x ^ (1 << (k - 1)), true
}

// Right returns the right child of x, or false if x is a leaf.
func (x NodeIndex) Right() (NodeIndex, bool) {
	k := x.Level()
	if k == 0 {
		return 0, false
	}
	return x ^ (3 << (k - 1)), true
}

// Valid reports whether n is a usable tree size: a power of two no larger
// than 2^31, so that every node index fits in a NodeIndex.
func (n LeafCount) Valid() bool { return n != 0 && n&(n-1) == 0 && n <= 1<<31 }

// Width returns the number of nodes in a tree with n leaves: 2n−1 (RFC 9420
// Appendix C "node_width"), or 0 if n is not valid.
func (n LeafCount) Width() uint32 {
	if !n.Valid() {
		return 0
	}
	return 2*uint32(n) - 1
}

// Contains reports whether x is a node of the tree with n leaves.
func (n LeafCount) Contains(x NodeIndex) bool { return uint32(x) < n.Width() }

// ContainsLeaf reports whether l is a leaf of the tree with n leaves.
func (n LeafCount) ContainsLeaf(l LeafIndex) bool { return n.Valid() && uint32(l) < uint32(n) }

// Root returns the root of the tree with n leaves: 2^k−1 where 2^k is the
// largest power of two not above the width (RFC 9420 Appendix C "root").
// It returns 0 if n is not valid.
func (n LeafCount) Root() NodeIndex {
	if !n.Valid() {
		return 0
	}
	return NodeIndex(uint32(n) - 1)
}

// Parent returns the parent of x, or false if x is the root or not in the
// tree (RFC 9420 Appendix C "parent").
func (n LeafCount) Parent(x NodeIndex) (NodeIndex, bool) {
	if !n.Contains(x) || x == n.Root() {
		return 0, false
	}
	k := x.Level()
	b := (x >> (k + 1)) & 1
	return (x | 1<<k) ^ (b << (k + 1)), true
}

// Sibling returns the other child of x's parent, or false if x is the root
// or not in the tree (RFC 9420 Appendix C "sibling").
func (n LeafCount) Sibling(x NodeIndex) (NodeIndex, bool) {
	p, ok := n.Parent(x)
	if !ok {
		return 0, false
	}
	if x < p {
		return p.Right()
	}
	return p.Left()
}

// DirectPath returns the parents of x from x's parent up to and including
// the root (RFC 9420 §4.1 "direct path"). It is empty for the root and nil
// for a node outside the tree.
func (n LeafCount) DirectPath(x NodeIndex) []NodeIndex {
	if !n.Contains(x) {
		return nil
	}
	path := make([]NodeIndex, 0, n.Root().Level())
	for {
		p, ok := n.Parent(x)
		if !ok {
			return path
		}
		path = append(path, p)
		x = p
	}
}

// Copath returns the siblings of x and of each node of its direct path
// except the root, ordered from the leaves up (RFC 9420 §4.1 "copath").
func (n LeafCount) Copath(x NodeIndex) []NodeIndex {
	if !n.Contains(x) {
		return nil
	}
	path := make([]NodeIndex, 0, n.Root().Level())
	for {
		s, ok := n.Sibling(x)
		if !ok {
			return path
		}
		path = append(path, s)
		x, _ = n.Parent(x)
	}
}

// CommonAncestor returns the lowest node whose subtree holds both x and y
// (RFC 9420 Appendix C "common_ancestor_direct"). It is x itself if x is an
// ancestor of y (or y).
func CommonAncestor(x, y NodeIndex) NodeIndex {
	lx, ly := x.Level()+1, y.Level()+1
	if lx <= ly && x>>ly == y>>ly {
		return y
	}
	if ly <= lx && x>>lx == y>>lx {
		return x
	}
	k := uint(0)
	for x != y {
		x, y = x>>1, y>>1
		k++
	}
	return x<<k + 1<<(k-1) - 1
}
