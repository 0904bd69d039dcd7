package tree

import (
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// maxLeaves bounds the tree: 2^31 leaves is the most treemath allows.
const maxLeaves = treemath.LeafCount(1 << 31)

// AddLeaf places ln in the tree as an Add proposal does (RFC 9420 §12.1.1)
// and returns its leaf index:
//
//   - the leaf goes into the leftmost blank leaf; if there is none, the tree
//     is extended to the right (doubled) and it goes into the first new leaf;
//   - the new leaf index is appended to the unmerged_leaves of every
//     non-blank parent on its direct path.
//
// The caller validates ln first ([Tree.ValidateLeafNode] with source
// key_package). The tree keeps ln; the caller must not modify it.
func (t *Tree) AddLeaf(ln *wire.LeafNode) (treemath.LeafIndex, error) {
	l, err := t.freeLeaf()
	if err != nil {
		return 0, err
	}
	t.set(l.Node(), ln, nil)
	for _, p := range t.LeafCount().DirectPath(l.Node()) {
		if pn := t.nodes[p].parent; pn != nil {
			t.set(p, nil, &wire.ParentNode{
				EncryptionKey:  pn.EncryptionKey,
				ParentHash:     pn.ParentHash,
				UnmergedLeaves: append(slices.Clip(pn.UnmergedLeaves), uint32(l)),
			})
		}
	}
	return l, nil
}

// freeLeaf returns the leftmost blank leaf, extending the tree to the
// right if it has none (RFC 9420 §7.8): where an Add, or an external
// joiner, goes.
func (t *Tree) freeLeaf() (treemath.LeafIndex, error) {
	n := t.LeafCount()
	for i := treemath.LeafIndex(0); i < treemath.LeafIndex(n); i++ {
		if t.nodes[i.Node()].blank() {
			return i, nil
		}
	}
	if n >= maxLeaves {
		return 0, fmt.Errorf("tree: tree is full (%d leaves)", n)
	}
	t.extend()
	return treemath.LeafIndex(n), nil
}

// extend doubles the tree: the old root becomes the left child of a new
// blank root whose right subtree is blank (RFC 9420 §7.8). In the array
// representation that is appending blank nodes; cached hashes of the old
// nodes stay valid because a node's hash depends only on its subtree.
func (t *Tree) extend() {
	w := t.LeafCount().Width()
	t.nodes = append(t.nodes, make([]node, w+1)...)
}

// UpdateLeaf replaces the leaf at l as an Update proposal does (RFC 9420
// §12.1.2): the leaf node is replaced and the nodes of its direct path are
// blanked. The caller validates ln first ([Tree.ValidateLeafNode] with
// source update and position l).
func (t *Tree) UpdateLeaf(l treemath.LeafIndex, ln *wire.LeafNode) error {
	if t.Leaf(l) == nil {
		return fmt.Errorf("tree: update of blank or missing leaf %d", l)
	}
	t.set(l.Node(), ln, nil)
	t.blankDirectPath(l)
	return nil
}

// RemoveLeaf removes the member at l as a Remove proposal does (RFC 9420
// §12.1.3): the leaf and its direct path are blanked, then the tree is
// truncated while the right half of the root holds no non-blank leaf.
func (t *Tree) RemoveLeaf(l treemath.LeafIndex) error {
	if t.Leaf(l) == nil {
		return fmt.Errorf("tree: removal of blank or missing leaf %d", l)
	}
	t.set(l.Node(), nil, nil)
	t.blankDirectPath(l)
	t.truncate()
	return nil
}

func (t *Tree) blankDirectPath(l treemath.LeafIndex) {
	for _, p := range t.LeafCount().DirectPath(l.Node()) {
		if !t.nodes[p].blank() {
			t.set(p, nil, nil)
		}
	}
}

// truncate removes the right subtree of the root, and the root with it,
// while that subtree has no non-blank leaf (RFC 9420 §7.8). The left child
// becomes the root; its cached hash stays valid. A tree of one blank leaf
// is left as it is.
func (t *Tree) truncate() {
	for n := t.LeafCount(); n > 1; n /= 2 {
		for i := n / 2; i < n; i++ {
			if t.nodes[treemath.LeafIndex(i).Node()].leaf != nil {
				return
			}
		}
		clear(t.nodes[(n / 2).Width():])
		t.nodes = t.nodes[:(n / 2).Width()]
	}
}
