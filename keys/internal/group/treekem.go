package group

import (
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// pathResult is the private outcome of an UpdatePath, for the committer or
// a receiver: the new path secrets (installed with the new epoch) and the
// commit secret (RFC 9420 §8).
type pathResult struct {
	path         *wire.UpdatePath // committer only
	ps           *tree.PathSecrets
	commitSecret []byte
	committer    treemath.LeafIndex
}

func (p *pathResult) erase() {
	if p.ps != nil {
		p.ps.Erase()
	}
	clear(p.commitSecret)
}

// pathSecretFor returns the path secret a new member at leaf l receives in
// its GroupSecrets: the one of the lowest common ancestor of l and the
// committer (RFC 9420 §12.4.3.1).
func (p *pathResult) pathSecretFor(l treemath.LeafIndex) []byte {
	return p.ps.PathSecret(treemath.CommonAncestor(l.Node(), p.committer.Node()))
}

// provisionalGC returns the encoded provisional GroupContext of the epoch a
// Commit starts (RFC 9420 §12.4.2): the new epoch number, tree hash and
// extensions with the current confirmed transcript hash. It is the context
// of the path secrets' encryption.
func (s *State) provisionalGC(a *applied) func(treeHash []byte) ([]byte, error) {
	return func(treeHash []byte) ([]byte, error) {
		gc := wire.GroupContext{Version: wire.MLS10, CipherSuite: s.gc.CipherSuite, GroupID: s.gc.GroupID,
			Epoch: s.gc.Epoch + 1, TreeHash: treeHash, ConfirmedTranscriptHash: s.gc.ConfirmedTranscriptHash,
			Extensions: a.extensions}
		return encodeGC(&gc)
	}
}

// createPath refreshes the committer's leaf and path in a.tree (RFC 9420
// §7.5), leaving out of the encryptions the leaves the Commit adds.
func createPath(s *State, a *applied, excluded []treemath.LeafIndex) (*pathResult, error) {
	own := s.tree.Leaf(s.own)
	path, ps, cs, err := a.tree.CreateUpdatePath(s.own, tree.UpdatePathParams{
		Rand: s.cfg.rand(), LeafNode: own, SignatureKey: s.sig, GroupID: s.gc.GroupID,
		Exclude: excluded, GroupContext: s.provisionalGC(a),
	})
	if err != nil {
		return nil, fmt.Errorf("mls group: UpdatePath: %w", err)
	}
	return &pathResult{path: path, ps: ps, commitSecret: cs, committer: s.own}, nil
}

// applyPath validates and merges another member's UpdatePath into a.tree
// and, unless this member is being removed, decrypts its path secret (RFC
// 9420 §7.5, §12.4.2).
func applyPath(s *State, a *applied, committer treemath.LeafIndex, path *wire.UpdatePath, excluded []treemath.LeafIndex, removed bool) (*pathResult, error) {
	required, err := requiredCapabilities(a.extensions)
	if err != nil {
		return nil, err
	}
	if err := a.tree.MergeUpdatePath(committer, path, s.gc.GroupID, required); err != nil {
		return nil, fmt.Errorf("%w: UpdatePath: %w", ErrInvalid, err)
	}
	if removed {
		return &pathResult{committer: committer}, nil
	}
	th, err := a.tree.TreeHash()
	if err != nil {
		return nil, fmt.Errorf("mls group: tree hash: %w", err)
	}
	gc, err := s.provisionalGC(a)(th)
	if err != nil {
		return nil, err
	}
	ps, cs, err := s.priv.DecryptUpdatePath(a.tree, committer, path, excluded, gc)
	if err != nil {
		return nil, fmt.Errorf("%w: UpdatePath: %w", ErrAuthentication, err)
	}
	return &pathResult{ps: ps, commitSecret: cs, committer: committer}, nil
}
