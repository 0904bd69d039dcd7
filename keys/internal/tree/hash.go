package tree

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TreeHash returns the tree hash of the root (RFC 9420 §7.8), the value a
// GroupContext carries.
func (t *Tree) TreeHash() ([]byte, error) { return t.NodeTreeHash(t.Root()) }

// NodeTreeHash returns the tree hash of the subtree rooted at x (RFC 9420
// §7.8):
//
//	struct {
//	    NodeType node_type;
//	    select (TreeHashInput.node_type) {
//	        case leaf:   LeafNodeHashInput leaf_node;
//	        case parent: ParentNodeHashInput parent_node;
//	    };
//	} TreeHashInput;
//
//	struct {
//	    uint32 leaf_index;
//	    optional<LeafNode> leaf_node;
//	} LeafNodeHashInput;
//
//	struct {
//	    optional<ParentNode> parent_node;
//	    opaque left_hash<V>;
//	    opaque right_hash<V>;
//	} ParentNodeHashInput;
//
// Hashes are cached per node until the node or one below it changes. The
// result must not be modified.
func (t *Tree) NodeTreeHash(x treemath.NodeIndex) ([]byte, error) {
	if int(x) >= len(t.nodes) {
		return nil, fmt.Errorf("tree: node %d is outside the tree of %d nodes", x, len(t.nodes))
	}
	if h := t.nodes[x].hash; h != nil {
		return h, nil
	}
	var h []byte
	var err error
	if x.IsLeaf() {
		h, err = t.leafHash(x, t.nodes[x].leaf)
	} else {
		left, _ := x.Left()
		right, _ := x.Right()
		var lh, rh []byte
		if lh, err = t.NodeTreeHash(left); err != nil {
			return nil, err
		}
		if rh, err = t.NodeTreeHash(right); err != nil {
			return nil, err
		}
		h, err = t.parentHashInputHash(t.nodes[x].parent, lh, rh)
	}
	if err != nil {
		return nil, err
	}
	t.nodes[x].hash = h
	return h, nil
}

// leafHash hashes the TreeHashInput of leaf x holding ln (nil if blank).
func (t *Tree) leafHash(x treemath.NodeIndex, ln *wire.LeafNode) ([]byte, error) {
	l, _ := x.Leaf()
	b := codec.NewBuilder(make([]byte, 0, 512))
	b.Uint8(uint8(wire.NodeTypeLeaf))
	b.Uint32(uint32(l))
	b.Optional(ln != nil, func(b *codec.Builder) { ln.MarshalMLS(b) })
	return t.hash(b)
}

// parentHashInputHash hashes the TreeHashInput of a parent holding pn (nil
// if blank) whose children hash to lh and rh.
func (t *Tree) parentHashInputHash(pn *wire.ParentNode, lh, rh []byte) ([]byte, error) {
	b := codec.NewBuilder(make([]byte, 0, 256))
	b.Uint8(uint8(wire.NodeTypeParent))
	b.Optional(pn != nil, func(b *codec.Builder) { pn.MarshalMLS(b) })
	b.Opaque(lh)
	b.Opaque(rh)
	return t.hash(b)
}

func (t *Tree) hash(b *codec.Builder) ([]byte, error) {
	in, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tree: encoding hash input: %w", err)
	}
	return t.suite.Hash(in), nil
}

// treeHashWithout returns the tree hash of x in the tree where the leaves
// in removed are blank and missing from every unmerged_leaves list: the
// "original sibling tree hash" of RFC 9420 §7.9. Subtrees that hold none
// of the removed leaves use the cached hashes.
func (t *Tree) treeHashWithout(x treemath.NodeIndex, removed []uint32) ([]byte, error) {
	if len(removed) == 0 {
		return t.NodeTreeHash(x)
	}
	// Removed leaves as sorted node indices, so that whether a subtree (a
	// contiguous range of indices) holds one is a binary search.
	nodes := make([]treemath.NodeIndex, len(removed))
	for i, u := range removed {
		nodes[i] = treemath.LeafIndex(u).Node()
	}
	slices.Sort(nodes)
	return t.treeHashWithoutSorted(x, nodes)
}

func (t *Tree) treeHashWithoutSorted(x treemath.NodeIndex, sorted []treemath.NodeIndex) ([]byte, error) {
	// The subtree of x at level k covers node indices x-(2^k-1) .. x+(2^k-1).
	span := treemath.NodeIndex(1)<<x.Level() - 1
	i, _ := slices.BinarySearch(sorted, x-span)
	if i == len(sorted) || sorted[i] > x+span {
		return t.NodeTreeHash(x)
	}
	if x.IsLeaf() {
		return t.leafHash(x, nil)
	}
	left, _ := x.Left()
	right, _ := x.Right()
	lh, err := t.treeHashWithoutSorted(left, sorted)
	if err != nil {
		return nil, err
	}
	rh, err := t.treeHashWithoutSorted(right, sorted)
	if err != nil {
		return nil, err
	}
	pn := t.nodes[x].parent
	if pn != nil {
		kept := make([]uint32, 0, len(pn.UnmergedLeaves))
		for _, u := range pn.UnmergedLeaves {
			if _, found := slices.BinarySearch(sorted, treemath.LeafIndex(u).Node()); !found {
				kept = append(kept, u)
			}
		}
		pn = &wire.ParentNode{EncryptionKey: pn.EncryptionKey, ParentHash: pn.ParentHash, UnmergedLeaves: kept}
	}
	return t.parentHashInputHash(pn, lh, rh)
}

// inSubtree reports whether y is x or a descendant of x.
func inSubtree(x, y treemath.NodeIndex) bool {
	// The subtree of x at level k covers node indices x-(2^k-1) .. x+(2^k-1).
	span := treemath.NodeIndex(1)<<x.Level() - 1
	return y >= x-span && y <= x+span
}

// parentHash computes the parent hash of parent node p with co-path child
// s (RFC 9420 §7.9), the value p's child on the other side stores:
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    opaque parent_hash<V>;
//	    opaque original_sibling_tree_hash<V>;
//	} ParentHashInput;
//
// The original sibling tree hash is the tree hash of s with p's unmerged
// leaves removed.
func (t *Tree) parentHash(p, s treemath.NodeIndex) ([]byte, error) {
	pn := t.nodes[p].parent
	if pn == nil {
		return nil, fmt.Errorf("tree: parent hash of blank node %d", p)
	}
	sh, err := t.treeHashWithout(s, pn.UnmergedLeaves)
	if err != nil {
		return nil, err
	}
	b := codec.NewBuilder(make([]byte, 0, 128))
	b.Opaque(pn.EncryptionKey)
	b.Opaque(pn.ParentHash)
	b.Opaque(sh)
	return t.hash(b)
}

// nodeParentHash returns the parent_hash field of node x: a parent's, or a
// leaf's with source commit; nil for other leaves and blank nodes.
func (t *Tree) nodeParentHash(x treemath.NodeIndex) []byte {
	switch n := &t.nodes[x]; {
	case n.parent != nil:
		return n.parent.ParentHash
	case n.leaf != nil && n.leaf.Source == wire.SourceCommit:
		return n.leaf.ParentHash
	}
	return nil
}

// VerifyParentHashes checks that the tree is parent-hash valid (RFC 9420
// §7.9.2): every non-blank parent node P has exactly one descendant D for
// which, C being the child of P above D and S the other child,
//
//   - D.parent_hash is the parent hash of P with co-path child S;
//   - D is in the resolution of C, and the unmerged leaves of P under C are
//     exactly the resolution of C without D.
//
// That is, every parent node was set by an UpdatePath whose chain of
// parent hashes reaches a signed leaf; leaves added later appear only as
// unmerged leaves.
func (t *Tree) VerifyParentHashes() error {
	for i := 1; i < len(t.nodes); i += 2 {
		p := treemath.NodeIndex(i)
		pn := t.nodes[p].parent
		if pn == nil {
			continue
		}
		left, _ := p.Left()
		right, _ := p.Right()
		nl, err := t.parentHashLinks(p, pn, left, right)
		if err != nil {
			return err
		}
		nr, err := t.parentHashLinks(p, pn, right, left)
		if err != nil {
			return err
		}
		// RFC 9420 §7.9.2 asks for exactly one such descendant.
		if nl+nr != 1 {
			return invalid("parent node %d is parent-hash valid with respect to %d descendants, want 1", p, nl+nr)
		}
	}
	return nil
}

// parentHashLinks counts the nodes D under child c of P (with node pn)
// with respect to which P is parent-hash valid, s being the other child.
// Since the resolution of c without D must equal P's unmerged leaves under
// c, the only candidate for D is the one node of the resolution that is
// not such an unmerged leaf; so the count is 0 or 1, found in O(r log r)
// for a resolution of r nodes.
func (t *Tree) parentHashLinks(p treemath.NodeIndex, pn *wire.ParentNode, c, s treemath.NodeIndex) (int, error) {
	res := t.Resolution(c)
	var under []treemath.NodeIndex // P's unmerged leaves under c
	for _, u := range pn.UnmergedLeaves {
		if x := treemath.LeafIndex(u).Node(); inSubtree(c, x) {
			under = append(under, x)
		}
	}
	if len(res) != len(under)+1 {
		return 0, nil
	}
	slices.Sort(res)
	slices.Sort(under)
	// Find the one element of res that is not in under; the others must
	// pair up exactly.
	d, j := treemath.NodeIndex(0), 0
	found := false
	for _, x := range res {
		if j < len(under) && under[j] == x {
			j++
			continue
		}
		if found {
			return 0, nil
		}
		d, found = x, true
	}
	if !found || j != len(under) {
		return 0, nil
	}
	ph := t.nodeParentHash(d)
	if ph == nil {
		return 0, nil
	}
	want, err := t.parentHash(p, s)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(ph, want) {
		return 0, nil
	}
	return 1, nil
}
