package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// CredentialPolicy is the application's validation of credentials: RFC 9420
// §5.3.1 requires that a credential entering the group be validated, and
// leaves how to the application.
type CredentialPolicy interface {
	// Validate authenticates the credential of a leaf whose signature key
	// is signatureKey and returns the identity it names. entering is true
	// when the leaf joins the group now (an Add), so that time-bound checks
	// apply; it is false for leaves already in a tree (a joiner's view of
	// the members, or a member's updated leaf).
	Validate(c *wire.Credential, signatureKey []byte, entering bool) (identity string, err error)
	// Identity returns the identity an already validated credential names.
	Identity(c *wire.Credential) string
}

// checkMembers applies cfg.Credentials to the tree next that a Commit (or a
// Welcome, with old nil) would install: every leaf that is new (added) or
// whose credential or signature key changed since old is validated; a leaf
// keeps its identity; and no two leaves name the same identity. A leaf that a
// Commit removes frees its identity for a leaf the same Commit adds. Without
// a policy (the RFC's test vectors) it checks nothing.
func (c *Config) checkMembers(old, next *tree.Tree, added []treemath.LeafIndex) error {
	p := c.Credentials
	if p == nil {
		return nil
	}
	seen := make(map[string]treemath.LeafIndex)
	var err error
	next.Members(func(l treemath.LeafIndex, ln *wire.LeafNode) {
		if err != nil {
			return
		}
		var prev *wire.LeafNode
		if old != nil && !slices.Contains(added, l) {
			prev = old.Leaf(l)
		}
		var id string
		if prev != nil && prev.Credential.Type == ln.Credential.Type &&
			bytes.Equal(prev.Credential.Identity, ln.Credential.Identity) && bytes.Equal(prev.SignatureKey, ln.SignatureKey) {
			id = p.Identity(&ln.Credential)
		} else {
			var verr error
			if id, verr = p.Validate(&ln.Credential, ln.SignatureKey, slices.Contains(added, l)); verr != nil {
				err = fmt.Errorf("%w: credential of leaf %d: %w", ErrInvalid, l, verr)
				return
			}
			if prev != nil && p.Identity(&prev.Credential) != id {
				err = fmt.Errorf("%w: leaf %d changes its identity", ErrInvalid, l)
				return
			}
		}
		if other, dup := seen[id]; dup {
			err = fmt.Errorf("%w: leaves %d and %d have the same identity", ErrInvalid, other, l)
			return
		}
		seen[id] = l
	})
	return err
}

// sameIdentity reports whether two credentials name the same identity:
// the one cfg.Credentials returns, or without a policy the same credential
// (type and identity bytes).
func (c *Config) sameIdentity(a, b *wire.Credential) bool {
	if c.Credentials == nil {
		return a.Type == b.Type && bytes.Equal(a.Identity, b.Identity)
	}
	return c.Credentials.Identity(a) == c.Credentials.Identity(b)
}

// checkResync is the rule by which members accept an external Commit
// (RFC 9420 §12.4.3.2 lets an application restrict them; Tresor accepts
// only the "resync" flavor): it must remove exactly one member, removed,
// the leaves the Commit removes from old, and the joiner's leaf node must
// name that member's identity. RFC 9420 §12.2 requires of such a leaf node
// what an Update of the removed leaf requires: "the credential in the
// LeafNode MUST present a set of identifiers that is acceptable to the
// application for the removed participant", and (§7.3) an encryption key
// other than the removed leaf's.
//
// So a joiner without a leaf in the group (a plain external join), or
// one that removes someone else, is refused: whoever holds a GroupInfo,
// the delivery service included, can bring no one in by external Commit,
// only let a member who lost its state take its own place again.
func (c *Config) checkResync(old *tree.Tree, removed []treemath.LeafIndex, joiner *wire.LeafNode) error {
	if len(removed) != 1 {
		return fmt.Errorf("%w: an external Commit must remove the joiner's old leaf, and only it (it removes %d)", ErrInvalid, len(removed))
	}
	prev := old.Leaf(removed[0])
	if prev == nil {
		return fmt.Errorf("%w: external Commit removes blank leaf %d", ErrInvalid, removed[0])
	}
	if !c.sameIdentity(&prev.Credential, &joiner.Credential) {
		return fmt.Errorf("%w: external Commit removes leaf %d, of another identity than the joiner's", ErrInvalid, removed[0])
	}
	if bytes.Equal(prev.EncryptionKey, joiner.EncryptionKey) {
		return fmt.Errorf("%w: external joiner keeps the encryption key of leaf %d", ErrInvalid, removed[0])
	}
	return nil
}
