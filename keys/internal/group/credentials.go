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
