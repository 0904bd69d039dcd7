// Package tree implements the MLS ratchet tree (RFC 9420 §4, §7): the
// public tree of leaf and parent nodes that every member of a group holds,
// its hashes (§7.8 tree hash, §7.9 parent hash), the changes proposals make
// to it (§12.1.1–§12.1.3), the checks a joiner runs on it (§7.3, §7.9.2,
// §12.4.3.1), and TreeKEM (§7.4–§7.7): creating, merging and decrypting an
// UpdatePath, with [PrivateTree] holding a member's secrets.
//
// A [Tree] is the array representation of RFC 9420 Appendix C: node 2i is
// leaf i, odd nodes are parents, and the array always holds a full tree of
// 2^d leaves. Blank nodes are nil. Node contents are the wire structs of
// package wire; a Tree never modifies a node in place, it replaces it, so a
// [Tree.Clone] is cheap and shares nothing that changes.
//
// Tree hashes are cached per node and invalidated along the direct path of
// every node that changes, so after a Commit that touches one path only
// O(log n) hashes are recomputed.
//
// Decoded trees are untrusted: [FromRatchetTree] checks only the shape;
// [Tree.Validate] runs the checks a joiner must run before using a tree
// received in a Welcome.
//
// A Tree is not safe for concurrent use.
package tree

import (
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// ErrInvalid is returned (wrapped) when a tree, a leaf node or an UpdatePath
// received from another member fails validation. A group that sees it
// rejects the message or Welcome that carried the data.
var ErrInvalid = errors.New("tree: invalid")

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// node is one slot of the array representation. At most one of leaf and
// parent is set; both nil is a blank node. hash caches the node's tree hash
// (§7.8) and is nil when it must be recomputed.
type node struct {
	leaf   *wire.LeafNode
	parent *wire.ParentNode
	hash   []byte
}

func (n *node) blank() bool { return n.leaf == nil && n.parent == nil }

// Tree is a public ratchet tree (RFC 9420 §7.1).
type Tree struct {
	suite *suite.Suite
	nodes []node // len(nodes) == leaves.Width()
}

// New returns a tree of one leaf holding ln, the tree of a group's creator
// (RFC 9420 §11). The tree keeps ln; the caller must not modify it.
func New(s *suite.Suite, ln *wire.LeafNode) *Tree {
	return &Tree{suite: s, nodes: []node{{leaf: ln}}}
}

// FromRatchetTree builds a tree from the ratchet_tree extension encoding
// (RFC 9420 §12.4.3.3): the array with trailing blank nodes removed, which
// the receiver extends with blank nodes to the next full tree. Only the
// shape is checked (leaves at even positions, parents at odd ones, the last
// node a leaf so that the tree is in its truncated form of §7.8, unmerged
// leaves inside their parent's subtree); the contents are checked by
// [Tree.Validate]. The tree keeps the nodes of rt.
func FromRatchetTree(s *suite.Suite, rt wire.RatchetTree) (*Tree, error) {
	if len(rt) == 0 || rt[len(rt)-1] == nil {
		return nil, invalid("ratchet tree is empty or ends with a blank node")
	}
	if len(rt)%2 == 0 {
		// The last node is a parent whose right subtree is all blank: the
		// sender did not truncate the tree (§7.8).
		return nil, invalid("ratchet tree of %d nodes ends with a parent node", len(rt))
	}
	if len(rt) > int(treemath.LeafCount(1<<31).Width()) {
		return nil, invalid("ratchet tree of %d nodes is too large", len(rt))
	}
	// The last leaf L is non-blank, so the tree has the smallest 2^d > L
	// leaves (§12.1.3).
	lastLeaf := uint32(len(rt)-1) / 2
	n := treemath.LeafCount(1)
	for uint32(n) <= lastLeaf {
		n *= 2
	}
	t := &Tree{suite: s, nodes: make([]node, n.Width())}
	for i, wn := range rt {
		if wn == nil {
			continue
		}
		switch {
		case i%2 == 0 && wn.Type == wire.NodeTypeLeaf && wn.Leaf != nil:
			t.nodes[i].leaf = wn.Leaf
		case i%2 == 1 && wn.Type == wire.NodeTypeParent && wn.Parent != nil:
			// Unmerged leaves outside the parent's subtree would make
			// resolutions point outside the tree.
			for _, u := range wn.Parent.UnmergedLeaves {
				if !n.ContainsLeaf(treemath.LeafIndex(u)) || !inSubtree(treemath.NodeIndex(i), treemath.LeafIndex(u).Node()) {
					return nil, invalid("parent node %d lists unmerged leaf %d outside its subtree", i, u)
				}
			}
			t.nodes[i].parent = wn.Parent
		default:
			return nil, invalid("node %d has type %d", i, wn.Type)
		}
	}
	return t, nil
}

// RatchetTree returns the ratchet_tree encoding of t (RFC 9420 §12.4.3.3):
// the array with trailing blank nodes removed. The nodes are shared with t.
func (t *Tree) RatchetTree() wire.RatchetTree {
	end := len(t.nodes)
	for end > 0 && t.nodes[end-1].blank() {
		end--
	}
	rt := make(wire.RatchetTree, end)
	for i := range rt {
		switch n := &t.nodes[i]; {
		case n.leaf != nil:
			rt[i] = &wire.Node{Type: wire.NodeTypeLeaf, Leaf: n.leaf}
		case n.parent != nil:
			rt[i] = &wire.Node{Type: wire.NodeTypeParent, Parent: n.parent}
		}
	}
	return rt
}

// Clone returns a copy of t that can be changed without affecting t, for
// applying a Commit that may still be rejected.
func (t *Tree) Clone() *Tree {
	return &Tree{suite: t.suite, nodes: append([]node(nil), t.nodes...)}
}

// Suite returns the cipher suite of the tree.
func (t *Tree) Suite() *suite.Suite { return t.suite }

// LeafCount returns the number of leaves, blank or not: a power of two.
func (t *Tree) LeafCount() treemath.LeafCount { return treemath.LeafCount((len(t.nodes) + 1) / 2) }

// Root returns the root node index.
func (t *Tree) Root() treemath.NodeIndex { return t.LeafCount().Root() }

// Leaf returns the leaf node at leaf index l, or nil if it is blank or
// outside the tree. The caller must not modify it.
func (t *Tree) Leaf(l treemath.LeafIndex) *wire.LeafNode {
	if !t.LeafCount().ContainsLeaf(l) {
		return nil
	}
	return t.nodes[l.Node()].leaf
}

// ParentNode returns the parent node at node index x, or nil if it is
// blank, a leaf, or outside the tree. The caller must not modify it.
func (t *Tree) ParentNode(x treemath.NodeIndex) *wire.ParentNode {
	if int(x) >= len(t.nodes) {
		return nil
	}
	return t.nodes[x].parent
}

// Blank reports whether node x is blank (or outside the tree).
func (t *Tree) Blank(x treemath.NodeIndex) bool {
	return int(x) >= len(t.nodes) || t.nodes[x].blank()
}

// encryptionKey returns the HPKE public key of node x, or nil if blank.
func (t *Tree) encryptionKey(x treemath.NodeIndex) wire.HPKEPublicKey {
	switch n := &t.nodes[x]; {
	case n.leaf != nil:
		return n.leaf.EncryptionKey
	case n.parent != nil:
		return n.parent.EncryptionKey
	}
	return nil
}

// Members calls f for every non-blank leaf, in leaf order.
func (t *Tree) Members(f func(l treemath.LeafIndex, ln *wire.LeafNode)) {
	for i := 0; i < len(t.nodes); i += 2 {
		if ln := t.nodes[i].leaf; ln != nil {
			f(treemath.LeafIndex(i/2), ln)
		}
	}
}

// Resolution returns the resolution of node x (RFC 9420 §4.1.1): x itself
// followed by its unmerged leaves if x is not blank; nothing for a blank
// leaf; the resolutions of its children, left then right, for a blank
// parent.
func (t *Tree) Resolution(x treemath.NodeIndex) []treemath.NodeIndex {
	return t.appendResolution(nil, x, nil)
}

// appendResolution appends the resolution of x to res, leaving out the
// leaves in exclude (RFC 9420 §7.6 excludes leaves added by the Commit).
func (t *Tree) appendResolution(res []treemath.NodeIndex, x treemath.NodeIndex, exclude []treemath.LeafIndex) []treemath.NodeIndex {
	n := &t.nodes[x]
	switch {
	case n.leaf != nil:
		if l, _ := x.Leaf(); !containsLeaf(exclude, l) {
			res = append(res, x)
		}
	case n.parent != nil:
		res = append(res, x)
		for _, u := range n.parent.UnmergedLeaves {
			if l := treemath.LeafIndex(u); !containsLeaf(exclude, l) {
				res = append(res, l.Node())
			}
		}
	case !x.IsLeaf():
		left, _ := x.Left()
		right, _ := x.Right()
		res = t.appendResolution(res, left, exclude)
		res = t.appendResolution(res, right, exclude)
	}
	return res
}

func containsLeaf(ls []treemath.LeafIndex, l treemath.LeafIndex) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// resolutionEmpty reports whether the resolution of x is empty: whether
// every node of its subtree is blank.
func (t *Tree) resolutionEmpty(x treemath.NodeIndex) bool {
	if !t.nodes[x].blank() {
		return false
	}
	if x.IsLeaf() {
		return true
	}
	left, _ := x.Left()
	right, _ := x.Right()
	return t.resolutionEmpty(left) && t.resolutionEmpty(right)
}

// FilteredDirectPath returns the filtered direct path of leaf l (RFC 9420
// §4.1.2): the nodes of its direct path, leaf side first, except those
// whose child on l's copath has an empty resolution.
func (t *Tree) FilteredDirectPath(l treemath.LeafIndex) []treemath.NodeIndex {
	n := t.LeafCount()
	x := l.Node()
	var path []treemath.NodeIndex
	for {
		p, ok := n.Parent(x)
		if !ok {
			return path
		}
		s, _ := n.Sibling(x)
		if !t.resolutionEmpty(s) {
			path = append(path, p)
		}
		x = p
	}
}

// set replaces node x and invalidates the cached tree hashes of x and of
// every node above it.
func (t *Tree) set(x treemath.NodeIndex, leaf *wire.LeafNode, parent *wire.ParentNode) {
	t.nodes[x] = node{leaf: leaf, parent: parent}
	n := t.LeafCount()
	for {
		p, ok := n.Parent(x)
		if !ok {
			return
		}
		t.nodes[p].hash = nil
		x = p
	}
}
