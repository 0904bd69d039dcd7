package tree

import (
	"bytes"
	"fmt"
	"io"
	"maps"

	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
)

// PrivateTree holds one member's TreeKEM secrets (RFC 9420 §7.4): the HPKE
// private key of its leaf and, for parent nodes of its direct path that it
// knows, the path secret and the private key derived from it.
//
// Everything it holds is secret. It never prints its contents, and secrets
// it replaces or drops are zeroed ([suite.HPKEPrivateKey.Erase] drops the
// private keys). A PrivateTree is not safe for concurrent use.
type PrivateTree struct {
	suite   *suite.Suite
	leaf    treemath.LeafIndex
	leafKey *suite.HPKEPrivateKey
	path    map[treemath.NodeIndex]*pathNode
}

// pathNode is the private state of one parent node.
type pathNode struct {
	secret []byte // path_secret
	key    *suite.HPKEPrivateKey
}

func (n *pathNode) erase() {
	clear(n.secret)
	n.key.Erase()
}

// NewPrivateTree returns the private state of the member at leaf, whose
// leaf node carries the public key of encryptionKey (for a joiner: the
// private key of the leaf node of its KeyPackage). The PrivateTree keeps
// encryptionKey and erases it when it is replaced.
func NewPrivateTree(s *suite.Suite, leaf treemath.LeafIndex, encryptionKey *suite.HPKEPrivateKey) *PrivateTree {
	return &PrivateTree{suite: s, leaf: leaf, leafKey: encryptionKey, path: make(map[treemath.NodeIndex]*pathNode)}
}

// Leaf returns the member's leaf index.
func (p *PrivateTree) Leaf() treemath.LeafIndex { return p.leaf }

// String returns a redacted description: private state is never printed.
func (p *PrivateTree) String() string {
	return fmt.Sprintf("tree.PrivateTree(leaf %d, %d path keys, REDACTED)", p.leaf, len(p.path))
}

// Format prints the redacted description for every verb.
func (p *PrivateTree) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }

// Erase zeroes every secret p holds. p cannot decrypt afterwards.
func (p *PrivateTree) Erase() {
	if p.leafKey != nil {
		p.leafKey.Erase()
	}
	for x, n := range p.path {
		n.erase()
		delete(p.path, x)
	}
}

// SetLeafKey replaces the leaf's private key, erasing the old one, when
// an Update proposal the member sent (RFC 9420 §12.1.2) is committed: the
// member's new leaf node carries the public key of key.
func (p *PrivateTree) SetLeafKey(key *suite.HPKEPrivateKey) {
	if p.leafKey != nil && p.leafKey != key {
		p.leafKey.Erase()
	}
	p.leafKey = key
}

// newPathNode derives the key pair of a node from its path secret (RFC
// 9420 §7.4):
//
//	node_secret = DeriveSecret(path_secret, "node")
//	node_priv, node_pub = KEM.DeriveKeyPair(node_secret)
func newPathNode(s *suite.Suite, secret []byte) (*pathNode, error) {
	nodeSecret, err := s.DeriveSecret(secret, "node")
	if err != nil {
		return nil, fmt.Errorf("tree: deriving node secret: %w", err)
	}
	defer clear(nodeSecret)
	key, err := s.DeriveKeyPair(nodeSecret)
	if err != nil {
		return nil, fmt.Errorf("tree: deriving node key pair: %w", err)
	}
	return &pathNode{secret: bytes.Clone(secret), key: key}, nil
}

// Check verifies that p is consistent with t (RFC 9420 §7.4): the leaf and
// every node p holds a key for are non-blank in t and carry the public key
// of p's private key.
func (p *PrivateTree) Check(t *Tree) error {
	if ln := t.Leaf(p.leaf); ln == nil || p.leafKey == nil || !bytes.Equal(ln.EncryptionKey, p.leafKey.Public()) {
		return fmt.Errorf("tree: private leaf key does not match leaf %d", p.leaf)
	}
	for x, n := range p.path {
		if !inSubtree(x, p.leaf.Node()) || t.Blank(x) || !bytes.Equal(t.encryptionKey(x), n.key.Public()) {
			return fmt.Errorf("tree: private key of node %d does not match the tree", x)
		}
	}
	return nil
}

// Prune erases the secrets of nodes that t no longer holds with the same
// public key: nodes blanked by Update and Remove proposals (RFC 9420
// §12.1.2, §12.1.3) or cut off by truncation.
func (p *PrivateTree) Prune(t *Tree) {
	for x, n := range p.path {
		if t.Blank(x) || !bytes.Equal(t.encryptionKey(x), n.key.Public()) {
			n.erase()
			delete(p.path, x)
		}
	}
}

// PathSecrets is the new private state an UpdatePath brings to one member:
// the path secrets and keys of the nodes it learned (and, for the
// committer, its new leaf key). It is computed without touching the
// member's [PrivateTree], so that nothing changes before the Commit is
// authenticated; [PrivateTree.Apply] then installs it, or [PathSecrets.Erase]
// discards it.
type PathSecrets struct {
	leafKey *suite.HPKEPrivateKey // the committer's new leaf key, or nil
	nodes   map[treemath.NodeIndex]*pathNode
	// replaced is the lowest level of the member's direct path that the
	// UpdatePath replaced: the member's secrets at this level and above
	// belong to nodes the Commit blanked or rekeyed.
	replaced uint
}

// Erase zeroes the secrets of ps.
func (ps *PathSecrets) Erase() {
	if ps.leafKey != nil {
		ps.leafKey.Erase()
	}
	for _, n := range ps.nodes {
		n.erase()
	}
	clear(ps.nodes)
}

// String returns a redacted description.
func (ps *PathSecrets) String() string { return "tree.PathSecrets(REDACTED)" }

// Format prints the redacted description for every verb.
func (ps *PathSecrets) Format(f fmt.State, _ rune) { io.WriteString(f, ps.String()) }

// Apply installs ps into p once the Commit that carried the UpdatePath is
// accepted and t is the tree of the new epoch: p's secrets for the nodes
// the UpdatePath replaced are erased, the new ones take their place, and
// secrets of nodes t no longer holds are dropped ([PrivateTree.Prune]). ps
// is empty afterwards.
func (p *PrivateTree) Apply(t *Tree, ps *PathSecrets) error {
	if ps.leafKey != nil {
		if p.leafKey != nil {
			p.leafKey.Erase()
		}
		p.leafKey = ps.leafKey
		ps.leafKey = nil
	}
	for x, n := range p.path {
		if x.Level() >= ps.replaced {
			n.erase()
			delete(p.path, x)
		}
	}
	maps.Copy(p.path, ps.nodes)
	clear(ps.nodes)
	p.Prune(t)
	return p.Check(t)
}

// ImplantPathSecret gives a new member the path secret of node x that the
// committer sent in the Welcome's GroupSecrets (RFC 9420 §12.4.3.1): x is
// the lowest common ancestor of the new member and the committer, and the
// member derives the path secrets of the non-blank nodes above it, which
// in the tree of the new epoch are exactly the rest of the committer's
// filtered direct path. Each derived public key must match t.
func (p *PrivateTree) ImplantPathSecret(t *Tree, x treemath.NodeIndex, secret []byte) error {
	if !t.LeafCount().Contains(x) || x.IsLeaf() || !inSubtree(x, p.leaf.Node()) {
		return invalid("path secret for node %d, which is not above leaf %d", x, p.leaf)
	}
	path := []treemath.NodeIndex{x}
	for _, y := range t.LeafCount().DirectPath(x) {
		if !t.Blank(y) {
			path = append(path, y)
		}
	}
	ps, commit, err := t.derivePath(path, secret, x.Level())
	if err != nil {
		return err
	}
	clear(commit)
	return p.Apply(t, ps)
}

// deriveChain derives n path secrets and node key pairs from secret
// (RFC 9420 §7.4), one per node of a filtered direct path, bottom up:
//
//	path_secret[0]   = secret
//	path_secret[i+1] = DeriveSecret(path_secret[i], "path")
//
// and returns them with the commit secret, the path secret one step past
// the last node (RFC 9420 §8: commit_secret).
func deriveChain(s *suite.Suite, n int, secret []byte) ([]*pathNode, []byte, error) {
	nodes := make([]*pathNode, 0, n)
	fail := func(err error) ([]*pathNode, []byte, error) {
		for _, pn := range nodes {
			pn.erase()
		}
		return nil, nil, err
	}
	cur := bytes.Clone(secret)
	for range n {
		pn, err := newPathNode(s, cur)
		if err != nil {
			clear(cur)
			return fail(err)
		}
		nodes = append(nodes, pn)
		next, err := s.DeriveSecret(cur, "path")
		clear(cur)
		if err != nil {
			return fail(fmt.Errorf("tree: deriving path secret: %w", err))
		}
		cur = next
	}
	return nodes, cur, nil
}

// derivePath derives the secrets of the nodes of path from secret at
// path[0] with [deriveChain], checks each public key against t, and
// returns them as PathSecrets replacing the member's secrets from level
// replaced up, with the commit secret.
func (t *Tree) derivePath(path []treemath.NodeIndex, secret []byte, replaced uint) (*PathSecrets, []byte, error) {
	nodes, commit, err := deriveChain(t.suite, len(path), secret)
	if err != nil {
		return nil, nil, err
	}
	ps := &PathSecrets{nodes: make(map[treemath.NodeIndex]*pathNode, len(path)), replaced: replaced}
	for i, x := range path {
		ps.nodes[x] = nodes[i]
	}
	for i, x := range path {
		if !bytes.Equal(nodes[i].key.Public(), t.encryptionKey(x)) {
			ps.Erase()
			clear(commit)
			return nil, nil, invalid("public key of node %d does not match its path secret", x)
		}
	}
	return ps, commit, nil
}
