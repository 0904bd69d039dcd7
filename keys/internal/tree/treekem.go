package tree

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// TreeKEM (RFC 9420 §7.4–§7.7). A committer refreshing its path generates
// a fresh HPKE key pair for its leaf and a chain of path secrets, one per
// node of its filtered direct path fdp:
//
//	path_secret[0]   random, KDF.Nh bytes                 for fdp[0]
//	path_secret[n]   = DeriveSecret(path_secret[n-1], "path")   for fdp[n]
//	node_secret[n]   = DeriveSecret(path_secret[n], "node")
//	node_priv[n], node_pub[n] = KEM.DeriveKeyPair(node_secret[n])
//	commit_secret    = DeriveSecret(path_secret[last], "path")
//
// path_secret[n] is encrypted to every node of the resolution of fdp[n]'s
// child on the copath, except leaves the same Commit adds (they get their
// path secret in the Welcome), with
//
//	EncryptWithLabel(node_pub, "UpdatePathNode", GroupContext, path_secret[n])
//
// where GroupContext is the encoding of the provisional GroupContext of the
// new epoch, whose tree hash is that of the tree with the path merged. With
// an empty filtered direct path (a group of one) the commit secret is
// path_secret[0] itself: nobody else derives it.

// updatePathLabel is the label of EncryptWithLabel for path secrets (RFC
// 9420 §7.6).
const updatePathLabel = "UpdatePathNode"

// UpdatePathParams configures [Tree.CreateUpdatePath].
type UpdatePathParams struct {
	// Rand is the source of the leaf key, path_secret[0] and the HPKE
	// ephemeral keys; nil means crypto/rand.Reader.
	Rand io.Reader
	// LeafNode is the template of the committer's new leaf node: its
	// signature key, credential, capabilities and extensions are kept; the
	// encryption key, source (commit), parent hash and signature are set.
	LeafNode *wire.LeafNode
	// SignatureKey signs the new leaf node; it must match
	// LeafNode.SignatureKey.
	SignatureKey *suite.SignaturePrivateKey
	// GroupID is signed in the new leaf node (LeafNodeTBS).
	GroupID []byte
	// Exclude lists the leaves the Commit adds: they are left out of the
	// resolutions the path secrets are encrypted to (RFC 9420 §12.4.2).
	Exclude []treemath.LeafIndex
	// GroupContext returns the encoded provisional GroupContext of the new
	// epoch given the tree hash of the tree with the path merged; it is the
	// context of every encryption.
	GroupContext func(treeHash []byte) ([]byte, error)
}

// CreateUpdatePath refreshes the committer's leaf and filtered direct path
// and merges them into t (RFC 9420 §7.5, §12.4.2): it generates a fresh
// leaf key and path secrets, blanks the committer's direct path, sets the
// new public keys and parent hashes (§7.9), signs the new leaf node (source
// commit) and encrypts each path secret to the copath resolutions. It
// returns the UpdatePath for the Commit, the committer's new secrets (to
// [PrivateTree.Apply] once the Commit is accepted; their
// [PathSecrets.PathSecret] also gives the path secrets for the Welcome) and
// the commit secret, which the caller must erase after use.
//
// It fails, rather than send a path receivers reject, if a new key is
// already in t (the committer's own leaf key included): that happens only
// when c.Rand repeats itself.
//
// t is changed only if CreateUpdatePath succeeds; t should already hold the
// Commit's proposals.
func (t *Tree) CreateUpdatePath(committer treemath.LeafIndex, c UpdatePathParams) (*wire.UpdatePath, *PathSecrets, []byte, error) {
	if t.Leaf(committer) == nil {
		return nil, nil, nil, fmt.Errorf("tree: committer leaf %d is blank or missing", committer)
	}
	return t.createPath(committer, c)
}

// CreateExternalUpdatePath is [Tree.CreateUpdatePath] for the joiner of an
// external Commit (RFC 9420 §12.4.2, §12.4.3.2): the joiner takes the
// leftmost blank leaf of t (the tree with the Commit's proposals applied),
// or the first leaf of a new right half if t has no blank leaf, "just as if
// they were added with an Add proposal", and the path is computed relative
// to that leaf. c.LeafNode is the template of the joiner's leaf node. It
// returns the joiner's leaf index with the outputs of CreateUpdatePath.
//
// t is changed only if CreateExternalUpdatePath succeeds.
func (t *Tree) CreateExternalUpdatePath(c UpdatePathParams) (treemath.LeafIndex, *wire.UpdatePath, *PathSecrets, []byte, error) {
	work := t.Clone()
	l, err := work.freeLeaf()
	if err != nil {
		return 0, nil, nil, nil, err
	}
	path, ps, cs, err := work.createPath(l, c)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	t.nodes = work.nodes
	return l, path, ps, cs, nil
}

// createPath is CreateUpdatePath for the leaf l, which is the committer's
// leaf or the blank leaf an external joiner takes.
func (t *Tree) createPath(committer treemath.LeafIndex, c UpdatePathParams) (*wire.UpdatePath, *PathSecrets, []byte, error) {
	if c.LeafNode == nil || c.SignatureKey == nil || c.GroupContext == nil {
		return nil, nil, nil, fmt.Errorf("tree: UpdatePathParams needs LeafNode, SignatureKey and GroupContext")
	}
	rnd := c.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	s := t.suite
	fdp := t.FilteredDirectPath(committer)

	leafKey, err := s.GenerateHPKEKey(rnd)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tree: generating leaf key: %w", err)
	}
	ps := &PathSecrets{leafKey: leafKey, nodes: make(map[treemath.NodeIndex]*pathNode, len(fdp)), replaced: 1}
	fail := func(err error) (*wire.UpdatePath, *PathSecrets, []byte, error) {
		ps.Erase()
		return nil, nil, nil, err
	}
	first := make([]byte, s.Nh())
	defer clear(first)
	if _, err := io.ReadFull(rnd, first); err != nil {
		return fail(fmt.Errorf("tree: reading path secret: %w", err))
	}
	nodes, commitSecret, err := deriveChain(s, len(fdp), first)
	if err != nil {
		return fail(err)
	}
	keys := make([]wire.HPKEPublicKey, len(fdp))
	for i, x := range fdp {
		ps.nodes[x] = nodes[i]
		keys[i] = wire.HPKEPublicKey(nodes[i].key.Public())
	}
	fail = func(err error) (*wire.UpdatePath, *PathSecrets, []byte, error) {
		ps.Erase()
		clear(commitSecret)
		return nil, nil, nil, err
	}
	// Receivers reject a path that keeps a key the tree already holds
	// ([Tree.MergeUpdatePath]). Fresh random keys never collide, so a
	// collision means c.Rand repeats itself: refuse to send a Commit that
	// would claim a refresh it does not make.
	if err := t.checkFreshKeys(wire.HPKEPublicKey(leafKey.Public()), keys); err != nil {
		return fail(fmt.Errorf("tree: the new keys are not fresh, the random source repeats itself: %v", err))
	}

	work := t.Clone()
	parentHash, err := work.setPath(committer, fdp, keys)
	if err != nil {
		return fail(err)
	}
	ln := *c.LeafNode
	ln.EncryptionKey = wire.HPKEPublicKey(leafKey.Public())
	ln.Source = wire.SourceCommit
	ln.Lifetime = wire.Lifetime{}
	ln.ParentHash = parentHash
	tbs, err := ln.LeafNodeTBS(c.GroupID, uint32(committer))
	if err != nil {
		return fail(fmt.Errorf("tree: encoding new leaf node: %w", err))
	}
	if ln.Signature, err = s.SignWithLabel(c.SignatureKey, "LeafNodeTBS", tbs); err != nil {
		return fail(fmt.Errorf("tree: signing new leaf node: %w", err))
	}
	work.set(committer.Node(), &ln, nil)

	treeHash, err := work.TreeHash()
	if err != nil {
		return fail(err)
	}
	groupContext, err := c.GroupContext(treeHash)
	if err != nil {
		return fail(fmt.Errorf("tree: provisional GroupContext: %w", err))
	}
	path := &wire.UpdatePath{LeafNode: ln, Nodes: make([]wire.UpdatePathNode, len(fdp))}
	for i, x := range fdp {
		res := work.appendResolution(nil, copathChild(x, committer), c.Exclude)
		cts := make([]wire.HPKECiphertext, len(res))
		for j, r := range res {
			kem, ct, err := s.EncryptWithLabel(rnd, suite.HPKEPublicKey(work.encryptionKey(r)), updatePathLabel, groupContext, nodes[i].secret)
			if err != nil {
				return fail(fmt.Errorf("tree: encrypting path secret to node %d: %w", r, err))
			}
			cts[j] = wire.HPKECiphertext{KEMOutput: kem, Ciphertext: ct}
		}
		path.Nodes[i] = wire.UpdatePathNode{EncryptionKey: keys[i], EncryptedPathSecret: cts}
	}
	t.nodes = work.nodes
	return path, ps, commitSecret, nil
}

// copathChild returns the child of p whose subtree does not hold leaf l.
func copathChild(p treemath.NodeIndex, l treemath.LeafIndex) treemath.NodeIndex {
	left, _ := p.Left()
	right, _ := p.Right()
	if inSubtree(left, l.Node()) {
		return right
	}
	return left
}

// setPath merges the public part of an UpdatePath from leaf l (RFC 9420
// §7.5): it blanks l's direct path, then gives each node of the filtered
// direct path fdp its new key, no unmerged leaves, and its parent hash,
// computed from the root down (§7.9: the topmost node's is empty). It
// returns the parent hash the new leaf node must carry.
func (t *Tree) setPath(l treemath.LeafIndex, fdp []treemath.NodeIndex, keys []wire.HPKEPublicKey) ([]byte, error) {
	t.blankDirectPath(l)
	ph := []byte{}
	for i := len(fdp) - 1; i >= 0; i-- {
		p := fdp[i]
		t.set(p, nil, &wire.ParentNode{EncryptionKey: keys[i], ParentHash: ph, UnmergedLeaves: []uint32{}})
		var err error
		if ph, err = t.parentHash(p, copathChild(p, l)); err != nil {
			return nil, err
		}
	}
	return ph, nil
}

// MergeUpdatePath validates the UpdatePath of a Commit from sender and
// merges it into t (RFC 9420 §7.5, §12.4.2), with the Commit's proposals
// already applied to t:
//
//   - the path has one node per node of the sender's filtered direct path,
//     each with a valid public key;
//   - the leaf node passes [Tree.ValidateLeafNode] with source commit,
//     replacing the sender's leaf, with groupID and the group's required
//     capabilities (nil if none);
//   - no key of the path, the leaf's included, is already in the tree (not
//     even at the sender's leaf or on its direct path) or appears twice in
//     the path;
//   - the leaf node's parent_hash is the one the merged path gives (§7.9.2).
//
// t is changed only if every check passes. The receiver then decrypts its
// path secret with [PrivateTree.DecryptUpdatePath].
func (t *Tree) MergeUpdatePath(sender treemath.LeafIndex, path *wire.UpdatePath, groupID []byte, required *wire.RequiredCapabilities) error {
	if t.Leaf(sender) == nil {
		return invalid("UpdatePath from blank or missing leaf %d", sender)
	}
	return t.mergePath(sender, true, path, groupID, required)
}

// MergeExternalUpdatePath validates the UpdatePath of an external Commit
// and merges it into t (RFC 9420 §12.4.2, §12.4.3.2), with the Commit's
// proposals already applied to t: the joiner takes the leftmost blank leaf
// of t, or the first leaf of a new right half if t has none (as
// [Tree.CreateExternalUpdatePath] does), and the path is checked as in
// [Tree.MergeUpdatePath], except that the leaf node replaces nobody: its
// encryption and signature keys must be new to the whole tree. It returns
// the joiner's leaf index. t is changed only if every check passes.
func (t *Tree) MergeExternalUpdatePath(path *wire.UpdatePath, groupID []byte, required *wire.RequiredCapabilities) (treemath.LeafIndex, error) {
	work := t.Clone()
	l, err := work.freeLeaf()
	if err != nil {
		return 0, invalid("%v", err)
	}
	if err := work.mergePath(l, false, path, groupID, required); err != nil {
		return 0, err
	}
	t.nodes = work.nodes
	return l, nil
}

// mergePath is MergeUpdatePath for the leaf sender, which the leaf node
// replaces (a member's Commit) or which is blank (an external Commit).
func (t *Tree) mergePath(sender treemath.LeafIndex, replaces bool, path *wire.UpdatePath, groupID []byte, required *wire.RequiredCapabilities) error {
	fdp := t.FilteredDirectPath(sender)
	if len(path.Nodes) != len(fdp) {
		return invalid("UpdatePath has %d nodes, the filtered direct path of leaf %d has %d", len(path.Nodes), sender, len(fdp))
	}
	ln := &path.LeafNode
	if err := t.ValidateLeafNode(ln, LeafNodeCheck{GroupID: groupID, Leaf: sender, Replaces: replaces, Source: wire.SourceCommit, Required: required}); err != nil {
		return fmt.Errorf("UpdatePath leaf node: %w", err)
	}
	keys := make([]wire.HPKEPublicKey, len(path.Nodes))
	for i := range path.Nodes {
		keys[i] = path.Nodes[i].EncryptionKey
		if err := t.suite.ValidateHPKEPublicKey(suite.HPKEPublicKey(keys[i])); err != nil {
			return invalid("UpdatePath node %d: %v", i, err)
		}
	}
	if err := t.checkFreshKeys(ln.EncryptionKey, keys); err != nil {
		return err
	}
	work := t.Clone()
	parentHash, err := work.setPath(sender, fdp, keys)
	if err != nil {
		return err
	}
	if !bytes.Equal(parentHash, ln.ParentHash) {
		return invalid("UpdatePath leaf node parent hash does not match the path")
	}
	work.set(sender.Node(), ln, nil)
	t.nodes = work.nodes
	return nil
}

// checkFreshKeys checks the public keys of an UpdatePath, its leaf's
// encryption key leafKey and its nodes' keys, against t, the tree with the
// Commit's proposals applied and the path not yet merged (RFC 9420
// §12.4.2: "Verify that the encryption_key value in the LeafNode is
// different from the committer's current leaf node" and "Verify that none
// of the public keys in the UpdatePath appear in any node of the new
// ratchet tree"). The committer's current leaf and direct path are nodes
// of that tree too: a path that keeps one of their keys is not a refresh.
// No key may appear twice in the path either, since the merged tree would
// then hold it twice.
func (t *Tree) checkFreshKeys(leafKey wire.HPKEPublicKey, keys []wire.HPKEPublicKey) error {
	for i := range keys {
		if bytes.Equal(keys[i], leafKey) {
			return invalid("UpdatePath node %d repeats the leaf's encryption key", i)
		}
		for j := range i {
			if bytes.Equal(keys[i], keys[j]) {
				return invalid("UpdatePath nodes %d and %d have the same encryption key", j, i)
			}
		}
	}
	for x := range t.nodes {
		y := treemath.NodeIndex(x)
		if t.nodes[y].blank() {
			continue
		}
		old := t.encryptionKey(y)
		if bytes.Equal(old, leafKey) {
			return invalid("UpdatePath leaf node reuses the encryption key of node %d", y)
		}
		for i := range keys {
			if bytes.Equal(old, keys[i]) {
				return invalid("UpdatePath node %d reuses the encryption key of node %d", i, y)
			}
		}
	}
	return nil
}

// DecryptUpdatePath decrypts the path secret the UpdatePath of a Commit
// from sender carries for p's member and derives the rest of the path (RFC
// 9420 §7.5, §12.4.2). t is the tree with the path merged
// ([Tree.MergeUpdatePath]); exclude lists the leaves the Commit adds; and
// groupContext is the encoded provisional GroupContext, with t's tree hash.
//
// The path secret is the one of the lowest node of the sender's filtered
// direct path above p's leaf, encrypted to the node of the copath
// resolution that p holds a key for. Every derived public key must match
// the path. It returns the new secrets, to [PrivateTree.Apply] once the
// Commit is accepted, and the commit secret, which the caller erases after
// use. p is not changed.
func (p *PrivateTree) DecryptUpdatePath(t *Tree, sender treemath.LeafIndex, path *wire.UpdatePath, exclude []treemath.LeafIndex, groupContext []byte) (*PathSecrets, []byte, error) {
	if sender == p.leaf {
		return nil, nil, fmt.Errorf("tree: a committer does not decrypt its own UpdatePath")
	}
	if containsLeaf(exclude, p.leaf) {
		return nil, nil, fmt.Errorf("tree: leaf %d is added by the Commit and gets its path secret from the Welcome", p.leaf)
	}
	if !t.LeafCount().ContainsLeaf(sender) || !t.LeafCount().ContainsLeaf(p.leaf) {
		return nil, nil, invalid("leaf %d or %d is outside the tree", sender, p.leaf)
	}
	fdp := t.FilteredDirectPath(sender)
	if len(path.Nodes) != len(fdp) {
		return nil, nil, invalid("UpdatePath has %d nodes, the filtered direct path of leaf %d has %d", len(path.Nodes), sender, len(fdp))
	}
	k := -1
	for i, x := range fdp {
		if !bytes.Equal(path.Nodes[i].EncryptionKey, t.encryptionKey(x)) {
			return nil, nil, fmt.Errorf("tree: UpdatePath is not merged into the tree")
		}
		if k < 0 && inSubtree(x, p.leaf.Node()) {
			k = i
		}
	}
	if k < 0 {
		return nil, nil, invalid("no node of the UpdatePath is above leaf %d", p.leaf)
	}
	res := t.appendResolution(nil, copathChild(fdp[k], sender), exclude)
	cts := path.Nodes[k].EncryptedPathSecret
	if len(cts) != len(res) {
		return nil, nil, invalid("UpdatePath node %d has %d ciphertexts for a resolution of %d nodes", k, len(cts), len(res))
	}
	var secret []byte
	for i, x := range res {
		key := p.keyFor(t, x)
		if key == nil {
			continue
		}
		var err error
		secret, err = t.suite.DecryptWithLabel(key, updatePathLabel, groupContext, cts[i].KEMOutput, cts[i].Ciphertext)
		if err != nil {
			return nil, nil, invalid("decrypting the path secret of node %d: %v", fdp[k], err)
		}
		break
	}
	if secret == nil {
		return nil, nil, fmt.Errorf("tree: no private key for the resolution of node %d", fdp[k])
	}
	defer clear(secret)
	replaced := treemath.CommonAncestor(sender.Node(), p.leaf.Node()).Level()
	return t.derivePath(fdp[k:], secret, replaced)
}

// keyFor returns p's private key for node x if p has one that matches t.
func (p *PrivateTree) keyFor(t *Tree, x treemath.NodeIndex) *suite.HPKEPrivateKey {
	var key *suite.HPKEPrivateKey
	if x == p.leaf.Node() {
		key = p.leafKey
	} else if n := p.path[x]; n != nil {
		key = n.key
	}
	if key == nil || !bytes.Equal(key.Public(), t.encryptionKey(x)) {
		return nil
	}
	return key
}

// PathSecret returns a copy of the path secret of node x, for the
// GroupSecrets of a new member whose lowest common ancestor with the
// committer is x (RFC 9420 §12.4.3.1), or nil if ps has none. The result
// is secret.
func (ps *PathSecrets) PathSecret(x treemath.NodeIndex) []byte {
	if n := ps.nodes[x]; n != nil {
		return bytes.Clone(n.secret)
	}
	return nil
}
