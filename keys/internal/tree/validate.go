package tree

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// LeafNodeCheck says in what context a leaf node is validated (RFC 9420
// §7.3).
type LeafNodeCheck struct {
	// GroupID binds leaves of source update and commit to the group (they
	// sign it in LeafNodeTBS).
	GroupID []byte
	// Leaf is the position the leaf node takes in the tree: signed by
	// update and commit leaves.
	Leaf treemath.LeafIndex
	// Replaces says that the leaf node replaces the member at Leaf, as an
	// Update proposal (RFC 9420 §7.3: its encryption_key "represents a
	// different public key than the encryption_key in the leaf node being
	// replaced") or a Commit's UpdatePath (§12.4.2: "Verify that the
	// encryption_key value in the LeafNode is different from the
	// committer's current leaf node") does. Leaf must then be a member;
	// the leaf node's encryption key must differ from that member's, but
	// its signature key may stay the same, and the credential types are
	// not compared with that member's. Without Replaces the leaf node is
	// compared with every node of the tree.
	Replaces bool
	// Source, if not zero, is the leaf_node_source the context requires:
	// key_package for an Add, update for an Update, commit for an
	// UpdatePath.
	Source wire.LeafNodeSource
	// Required is the group's required_capabilities, if it has one.
	Required *wire.RequiredCapabilities
	// Now, if set, is used to check the lifetime of key_package leaves.
	// (A joiner does not check the lifetimes of leaves already in the tree:
	// they may have expired since they were added.)
	Now func() time.Time
}

// Default extension and proposal types: supported by every client and not
// listed in capabilities (RFC 9420 §7.2).
func defaultExtension(t wire.ExtensionType) bool {
	return t >= wire.ExtensionApplicationID && t <= wire.ExtensionExternalSenders
}

func defaultProposal(t wire.ProposalType) bool {
	return t >= wire.ProposalAdd && t <= wire.ProposalGroupContextExtensions
}

// ValidateLeafNode checks a leaf node that is about to enter the tree, or
// to replace the one at c.Leaf (RFC 9420 §7.3):
//
//   - the signature over LeafNodeTBS verifies with the leaf's signature key;
//   - the source is the one c requires; a key_package leaf is within its
//     lifetime when c.Now is set;
//   - the encryption key is a valid public key of the suite;
//   - the capabilities list mls10, the suite, the leaf's credential type and
//     every non-default extension of the leaf, which carries no extension
//     type twice (§13.4); they meet c.Required;
//   - every other member supports the leaf's credential type and the leaf
//     supports every other member's;
//   - no node of the tree has the same encryption key, not even the leaf
//     it replaces, and no other leaf the same signature key.
func (t *Tree) ValidateLeafNode(ln *wire.LeafNode, c LeafNodeCheck) error {
	if c.Source != 0 && ln.Source != c.Source {
		return invalid("leaf node has source %d, want %d", ln.Source, c.Source)
	}
	if c.Replaces && t.Leaf(c.Leaf) == nil {
		return invalid("leaf node replaces blank or missing leaf %d", c.Leaf)
	}
	if err := t.checkLeafAlone(ln, c.GroupID, c.Leaf, c.Required); err != nil {
		return err
	}
	if ln.Source == wire.SourceKeyPackage && c.Now != nil {
		now := c.Now().Unix()
		if now < 0 || uint64(now) < ln.Lifetime.NotBefore || uint64(now) > ln.Lifetime.NotAfter {
			return invalid("leaf node is outside its lifetime")
		}
	}
	for i := 0; i < len(t.nodes); i++ {
		x := treemath.NodeIndex(i)
		if t.nodes[x].blank() {
			continue
		}
		if bytes.Equal(t.encryptionKey(x), ln.EncryptionKey) {
			if c.Replaces && x == c.Leaf.Node() {
				return invalid("leaf node keeps the encryption key of the leaf %d it replaces", c.Leaf)
			}
			return invalid("encryption key of the leaf node is already used by node %d", x)
		}
		if c.Replaces && x == c.Leaf.Node() {
			continue
		}
		if other := t.nodes[x].leaf; other != nil {
			if bytes.Equal(other.SignatureKey, ln.SignatureKey) {
				return invalid("signature key of the leaf node is already used by leaf %d", i/2)
			}
			if !slices.Contains(other.Capabilities.Credentials, ln.Credential.Type) {
				return invalid("leaf %d does not support credential type %d", i/2, ln.Credential.Type)
			}
			if !slices.Contains(ln.Capabilities.Credentials, other.Credential.Type) {
				return invalid("leaf node does not support credential type %d of leaf %d", other.Credential.Type, i/2)
			}
		}
	}
	return nil
}

// checkLeafAlone runs the checks of §7.3 that need no other node: the
// signature, the encryption key, the capabilities and the extensions (each
// listed in the capabilities, none twice: §13.4).
func (t *Tree) checkLeafAlone(ln *wire.LeafNode, groupID []byte, l treemath.LeafIndex, req *wire.RequiredCapabilities) error {
	switch ln.Source {
	case wire.SourceKeyPackage, wire.SourceUpdate, wire.SourceCommit:
	default:
		return invalid("leaf node has source %d", ln.Source)
	}
	tbs, err := ln.LeafNodeTBS(groupID, uint32(l))
	if err != nil {
		return invalid("leaf node cannot be encoded: %v", err)
	}
	if err := t.suite.VerifyWithLabel(suite.SignaturePublicKey(ln.SignatureKey), "LeafNodeTBS", tbs, ln.Signature); err != nil {
		return invalid("leaf node signature: %v", err)
	}
	if err := t.suite.ValidateHPKEPublicKey(suite.HPKEPublicKey(ln.EncryptionKey)); err != nil {
		return invalid("leaf node encryption key: %v", err)
	}
	caps := &ln.Capabilities
	if !slices.Contains(caps.Versions, wire.MLS10) {
		return invalid("leaf node does not support mls10")
	}
	if !slices.Contains(caps.CipherSuites, wire.CipherSuite(t.suite.ID())) {
		return invalid("leaf node does not support the group's cipher suite")
	}
	if !slices.Contains(caps.Credentials, ln.Credential.Type) {
		return invalid("leaf node does not list its own credential type %d", ln.Credential.Type)
	}
	for _, e := range ln.Extensions {
		if !defaultExtension(e.Type) && !slices.Contains(caps.Extensions, e.Type) {
			return invalid("leaf node carries extension %d it does not list", e.Type)
		}
	}
	if e, dup := wire.DuplicateExtension(ln.Extensions); dup {
		return invalid("leaf node carries extension %d twice", e)
	}
	if req != nil {
		for _, e := range req.ExtensionTypes {
			if !defaultExtension(e) && !slices.Contains(caps.Extensions, e) {
				return invalid("leaf node does not support required extension %d", e)
			}
		}
		for _, p := range req.ProposalTypes {
			if !defaultProposal(p) && !slices.Contains(caps.Proposals, p) {
				return invalid("leaf node does not support required proposal %d", p)
			}
		}
		for _, ct := range req.CredentialTypes {
			if !slices.Contains(caps.Credentials, ct) {
				return invalid("leaf node does not support required credential type %d", ct)
			}
		}
	}
	return nil
}

// Validate runs the checks a new member must run on the tree of the group
// it joins (RFC 9420 §12.4.3.1), given the group's ID and
// required_capabilities (nil if none):
//
//   - every non-blank leaf passes the checks of [Tree.ValidateLeafNode]
//     (without lifetimes), each with its own position;
//   - encryption keys are unique among all nodes, signature keys among
//     leaves;
//   - every unmerged leaf of a parent P is a non-blank leaf below P, and an
//     unmerged leaf of every non-blank parent between it and P;
//   - the tree is parent-hash valid ([Tree.VerifyParentHashes]).
//
// The caller checks separately that [Tree.TreeHash] equals the tree_hash
// of the GroupContext.
func (t *Tree) Validate(groupID []byte, req *wire.RequiredCapabilities) error {
	encKeys := make(map[string]treemath.NodeIndex)
	sigKeys := make(map[string]treemath.LeafIndex)
	var credTypes []wire.CredentialType
	for i := range t.nodes {
		x := treemath.NodeIndex(i)
		if t.nodes[x].blank() {
			continue
		}
		k := string(t.encryptionKey(x))
		if y, dup := encKeys[k]; dup {
			return invalid("nodes %d and %d have the same encryption key", y, x)
		}
		encKeys[k] = x
		ln := t.nodes[x].leaf
		if ln == nil {
			continue
		}
		l, _ := x.Leaf()
		if err := t.checkLeafAlone(ln, groupID, l, req); err != nil {
			return fmt.Errorf("leaf %d: %w", l, err)
		}
		if m, dup := sigKeys[string(ln.SignatureKey)]; dup {
			return invalid("leaves %d and %d have the same signature key", m, l)
		}
		sigKeys[string(ln.SignatureKey)] = l
		if !slices.Contains(credTypes, ln.Credential.Type) {
			credTypes = append(credTypes, ln.Credential.Type)
		}
	}
	// Every member supports every credential type in use.
	for i := 0; i < len(t.nodes); i += 2 {
		if ln := t.nodes[i].leaf; ln != nil {
			for _, ct := range credTypes {
				if !slices.Contains(ln.Capabilities.Credentials, ct) {
					return invalid("leaf %d does not support credential type %d in use", i/2, ct)
				}
			}
		}
	}
	if err := t.checkUnmergedLeaves(); err != nil {
		return err
	}
	return t.VerifyParentHashes()
}

// checkUnmergedLeaves checks the unmerged_leaves lists (RFC 9420
// §12.4.3.1): each is a non-blank leaf below its parent, listed once, and
// listed by every non-blank parent in between. The lists are indexed first
// so that a hostile tree with long lists costs linear time.
func (t *Tree) checkUnmergedLeaves() error {
	n := t.LeafCount()
	sets := make(map[treemath.NodeIndex]map[uint32]bool)
	for i := 1; i < len(t.nodes); i += 2 {
		p := treemath.NodeIndex(i)
		pn := t.nodes[p].parent
		if pn == nil {
			continue
		}
		set := make(map[uint32]bool, len(pn.UnmergedLeaves))
		for _, u := range pn.UnmergedLeaves {
			if set[u] {
				return invalid("parent node %d lists unmerged leaf %d twice", p, u)
			}
			set[u] = true
			l := treemath.LeafIndex(u)
			if !n.ContainsLeaf(l) || !inSubtree(p, l.Node()) || t.nodes[l.Node()].leaf == nil {
				return invalid("parent node %d lists unmerged leaf %d that is blank or not below it", p, u)
			}
		}
		sets[p] = set
	}
	for p, set := range sets {
		for u := range set {
			for _, x := range n.DirectPath(treemath.LeafIndex(u).Node()) {
				if x == p {
					break
				}
				if q, ok := sets[x]; ok && !q[u] {
					return invalid("unmerged leaf %d of node %d is missing from node %d", u, p, x)
				}
			}
		}
	}
	return nil
}
