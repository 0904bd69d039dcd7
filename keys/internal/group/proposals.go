package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// resolved is one proposal a Commit covers, with its sender: the committer
// for a proposal by value, the proposal's own sender for one by reference.
type resolved struct {
	p      *wire.Proposal
	sender wire.Sender
	byRef  bool
}

// resolveProposals turns a Commit's ProposalOrRef list into proposals,
// looking references up among the proposals received in this epoch
// (RFC 9420 §12.4: "If a reference is not to a proposal in the cache, the
// Commit is invalid").
func (s *State) resolveProposals(committer wire.Sender, list []wire.ProposalOrRef) ([]resolved, error) {
	out := make([]resolved, 0, len(list))
	for _, por := range list {
		switch por.Type {
		case wire.ProposalOrRefProposal:
			if por.Proposal == nil {
				return nil, fmt.Errorf("%w: empty proposal", ErrInvalid)
			}
			out = append(out, resolved{p: por.Proposal, sender: committer})
		case wire.ProposalOrRefReference:
			i := slices.IndexFunc(s.proposals, func(c cachedProposal) bool { return bytes.Equal(c.ref, por.Reference) })
			if i < 0 {
				return nil, fmt.Errorf("%w: Commit references an unknown proposal", ErrInvalid)
			}
			out = append(out, resolved{p: s.proposals[i].proposal, sender: s.proposals[i].sender, byRef: true})
		default:
			return nil, fmt.Errorf("%w: ProposalOrRef type %d", ErrInvalid, por.Type)
		}
	}
	return out, nil
}

// applied is the outcome of applying a Commit's proposals to a copy of the
// tree (RFC 9420 §12.4.2).
type applied struct {
	tree       *tree.Tree
	extensions []wire.Extension // the GroupContext extensions of the new epoch
	added      []addedMember    // in proposal order
	psks       []wire.PreSharedKeyID
	removed    []treemath.LeafIndex
	// externalInit is the ExternalInit proposal of an external Commit.
	externalInit *wire.ExternalInit
	// pathRequired is set if the Commit must carry an UpdatePath
	// (§12.4: empty Commits and those with Update, Remove, ExternalInit or
	// GroupContextExtensions proposals).
	pathRequired bool
}

type addedMember struct {
	leaf treemath.LeafIndex
	kp   *wire.KeyPackage
}

// applyProposals validates the proposals of a Commit by committer (RFC 9420
// §12.2) and applies them to a copy of the tree in the order of §12.4.2:
// GroupContextExtensions, Update, Remove, Add, then PreSharedKey. The
// committer is a member, or a new_member_commit sender for an external
// Commit, whose list §12.2 restricts to exactly one ExternalInit, at most
// one Remove and PreSharedKey proposals, all by value (§12.4.3.2).
func (s *State) applyProposals(committer wire.Sender, props []resolved) (*applied, error) {
	a := &applied{tree: s.tree.Clone(), extensions: s.gc.Extensions, pathRequired: len(props) == 0}
	var gce, updates, removes, adds, psks []resolved
	external := committer.Type == wire.SenderNewMemberCommit
	if external {
		if err := a.externalList(props); err != nil {
			return nil, err
		}
	} else if committer.Type != wire.SenderMember {
		return nil, fmt.Errorf("%w: Commit from sender type %d", ErrUnsupported, committer.Type)
	}
	for _, r := range props {
		if r.sender.Type != wire.SenderMember && !external {
			return nil, fmt.Errorf("%w: proposal from sender type %d", ErrUnsupported, r.sender.Type)
		}
		switch r.p.Type {
		case wire.ProposalGroupContextExtensions:
			gce = append(gce, r)
			a.pathRequired = true
		case wire.ProposalUpdate:
			updates = append(updates, r)
			a.pathRequired = true
		case wire.ProposalRemove:
			removes = append(removes, r)
			a.pathRequired = true
		case wire.ProposalAdd:
			adds = append(adds, r)
		case wire.ProposalPSK:
			psks = append(psks, r)
		case wire.ProposalReInit:
			return nil, fmt.Errorf("%w: ReInit proposal", ErrUnsupported)
		case wire.ProposalExternalInit:
			if !external {
				return nil, fmt.Errorf("%w: ExternalInit in a member's Commit", ErrInvalid)
			}
			a.externalInit = r.p.ExternalInit
			a.pathRequired = true
		default:
			return nil, fmt.Errorf("%w: proposal type %d", ErrUnsupported, r.p.Type)
		}
	}

	// GroupContextExtensions (§12.1.7): at most one.
	if len(gce) > 1 {
		return nil, fmt.Errorf("%w: more than one GroupContextExtensions proposal", ErrInvalid)
	}
	var required *wire.RequiredCapabilities
	if len(gce) == 1 {
		a.extensions = gce[0].p.GroupContextExtensions.Extensions
		var err error
		if required, err = requiredCapabilities(a.extensions); err != nil {
			return nil, err
		}
		if err := membersSupport(s.tree, a.extensions, required); err != nil {
			return nil, err
		}
	} else if rc, err := requiredCapabilities(a.extensions); err == nil {
		required = rc
	}

	touched := map[treemath.LeafIndex]bool{}
	// Update (§12.1.2): only by reference, never the committer's own,
	// at most one per leaf.
	for _, r := range updates {
		l := treemath.LeafIndex(r.sender.LeafIndex)
		if !r.byRef {
			return nil, fmt.Errorf("%w: Update proposal by value", ErrInvalid)
		}
		if l == treemath.LeafIndex(committer.LeafIndex) {
			return nil, fmt.Errorf("%w: committer's own Update proposal", ErrInvalid)
		}
		if touched[l] {
			return nil, fmt.Errorf("%w: two Update/Remove proposals for leaf %d", ErrInvalid, l)
		}
		touched[l] = true
		if err := a.tree.ValidateLeafNode(&r.p.Update.LeafNode, tree.LeafNodeCheck{
			GroupID: s.gc.GroupID, Leaf: l, Replaces: true, Source: wire.SourceUpdate, Required: required,
		}); err != nil {
			return nil, fmt.Errorf("%w: updated leaf: %w", ErrInvalid, err)
		}
		if err := a.tree.UpdateLeaf(l, &r.p.Update.LeafNode); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	// Remove (§12.1.3): a member, not the committer, at most once.
	for _, r := range removes {
		l := treemath.LeafIndex(r.p.Remove.Removed)
		if !external && l == treemath.LeafIndex(committer.LeafIndex) {
			return nil, fmt.Errorf("%w: committer removes itself", ErrInvalid)
		}
		if touched[l] {
			return nil, fmt.Errorf("%w: two Update/Remove proposals for leaf %d", ErrInvalid, l)
		}
		touched[l] = true
		if a.tree.Leaf(l) == nil {
			return nil, fmt.Errorf("%w: Remove of non-member leaf %d", ErrInvalid, l)
		}
		if err := a.tree.RemoveLeaf(l); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		a.removed = append(a.removed, l)
	}
	// Add (§12.1.1): a valid KeyPackage whose leaf is valid in the tree.
	for _, r := range adds {
		kp := &r.p.Add.KeyPackage
		if err := ValidateKeyPackage(s.suite, kp, s.cfg.now()); err != nil {
			return nil, err
		}
		// The leaf's checks against the tree (§7.3): unique keys and
		// capabilities. Its position is not signed for key_package
		// leaves, so any unused index stands in for it.
		if err := a.tree.ValidateLeafNode(&kp.LeafNode, tree.LeafNodeCheck{
			Leaf: treemath.LeafIndex(a.tree.LeafCount()), Source: wire.SourceKeyPackage, Required: required,
		}); err != nil {
			return nil, fmt.Errorf("%w: added leaf: %w", ErrInvalid, err)
		}
		// §13.4: the new member supports every extension of the
		// GroupContext it joins.
		for _, e := range a.extensions {
			if !defaultExtension(e.Type) && !slices.Contains(kp.LeafNode.Capabilities.Extensions, e.Type) {
				return nil, fmt.Errorf("%w: added leaf does not support GroupContext extension %d", ErrInvalid, e.Type)
			}
		}
		l, err := a.tree.AddLeaf(&kp.LeafNode)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		a.added = append(a.added, addedMember{leaf: l, kp: kp})
	}
	// PreSharedKey (§12.1.4): no PSK twice.
	for _, r := range psks {
		id := r.p.PreSharedKey.PSK
		for _, other := range a.psks {
			if pskIDEqual(&other, &id) {
				return nil, fmt.Errorf("%w: PSK proposed twice", ErrInvalid)
			}
		}
		if len(id.PSKNonce) != s.suite.Nh() {
			return nil, fmt.Errorf("%w: psk_nonce of %d bytes", ErrInvalid, len(id.PSKNonce))
		}
		a.psks = append(a.psks, id)
	}
	return a, nil
}

// externalList checks the proposal list of an external Commit (RFC 9420
// §12.2): "Exactly one ExternalInit", "At most one Remove proposal",
// "Zero or more PreSharedKey proposals", "No other proposals"; and none by
// reference (§12.4.3.2: "an external joiner cannot determine the validity
// of proposals sent within the group").
func (a *applied) externalList(props []resolved) error {
	inits, removes := 0, 0
	for _, r := range props {
		if r.byRef {
			return fmt.Errorf("%w: external Commit covers a proposal by reference", ErrInvalid)
		}
		switch r.p.Type {
		case wire.ProposalExternalInit:
			inits++
		case wire.ProposalRemove:
			removes++
		case wire.ProposalPSK:
		default:
			return fmt.Errorf("%w: proposal type %d in an external Commit", ErrInvalid, r.p.Type)
		}
	}
	if inits != 1 {
		return fmt.Errorf("%w: external Commit with %d ExternalInit proposals, want exactly one", ErrInvalid, inits)
	}
	if removes > 1 {
		return fmt.Errorf("%w: external Commit with %d Remove proposals, want at most one", ErrInvalid, removes)
	}
	return nil
}

func pskIDEqual(a, b *wire.PreSharedKeyID) bool {
	ea, err1 := codec.Marshal(a)
	eb, err2 := codec.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

func requiredCapabilities(exts []wire.Extension) (*wire.RequiredCapabilities, error) {
	for _, e := range exts {
		if e.Type == wire.ExtensionRequiredCapabilities {
			var rc wire.RequiredCapabilities
			if err := codec.Unmarshal(e.Data, &rc); err != nil {
				return nil, fmt.Errorf("%w: required_capabilities: %w", ErrInvalid, err)
			}
			return &rc, nil
		}
	}
	return nil, nil
}

// pskSecret computes psk_secret for the PSKs a Commit or Welcome names
// (RFC 9420 §8.4). Only external PSKs the member holds are supported;
// resumption PSKs would need the group's earlier epochs, which this
// implementation erases.
func (s *State) pskSecret(ids []wire.PreSharedKeyID) (*schedule.PSKSecret, error) {
	return computePSKSecret(s.suite, &s.cfg, s, ids)
}

// computePSKSecret is pskSecret for a member (st) or a joiner (st nil).
func computePSKSecret(cs *suite.Suite, cfg *Config, st *State, ids []wire.PreSharedKeyID) (*schedule.PSKSecret, error) {
	psks := make([]schedule.PSK, 0, len(ids))
	for i := range ids {
		id := &ids[i]
		var secret []byte
		switch id.Type {
		case wire.PSKExternal:
			v, ok := cfg.ExternalPSKs[string(id.PSKID)]
			if !ok {
				return nil, fmt.Errorf("%w: unknown external PSK", ErrUnsupported)
			}
			secret = v
		case wire.PSKResumption:
			if st == nil || id.Usage != wire.UsageApplication || !bytes.Equal(id.PSKGroupID, st.gc.GroupID) {
				return nil, fmt.Errorf("%w: resumption PSK (usage %d) of another group", ErrUnsupported, id.Usage)
			}
			if id.PSKEpoch == st.gc.Epoch {
				secret = st.epoch.Resumption
			}
			for _, p := range st.resumption {
				if p.epoch == id.PSKEpoch {
					secret = p.psk
				}
			}
			if secret == nil {
				return nil, fmt.Errorf("%w: resumption PSK of epoch %d, which is not kept", ErrUnsupported, id.PSKEpoch)
			}
		default:
			return nil, fmt.Errorf("%w: PSK type %d", ErrInvalid, id.Type)
		}
		enc, err := codec.Marshal(id)
		if err != nil {
			return nil, fmt.Errorf("mls group: PreSharedKeyID: %w", err)
		}
		psks = append(psks, schedule.PSK{ID: enc, Secret: secret})
	}
	p, err := schedule.ComputePSKSecret(cs, psks)
	if err != nil {
		return nil, fmt.Errorf("mls group: psk_secret: %w", err)
	}
	return p, nil
}

// defaultExtension reports whether t is one of the extension types every
// client supports without listing it (RFC 9420 §7.2).
func defaultExtension(t wire.ExtensionType) bool {
	return t >= wire.ExtensionApplicationID && t <= wire.ExtensionExternalSenders
}

// membersSupport checks a GroupContextExtensions proposal against the
// members (RFC 9420 §12.1.7: "A member of the group applying a
// GroupContextExtensions proposal MUST verify that every member supports
// every extension in the proposal" and the required_capabilities it sets,
// §11.1).
func membersSupport(t *tree.Tree, exts []wire.Extension, req *wire.RequiredCapabilities) error {
	var err error
	t.Members(func(l treemath.LeafIndex, ln *wire.LeafNode) {
		if err != nil {
			return
		}
		caps := &ln.Capabilities
		for _, e := range exts {
			if !defaultExtension(e.Type) && !slices.Contains(caps.Extensions, e.Type) {
				err = fmt.Errorf("%w: member %d does not support extension %d", ErrInvalid, l, e.Type)
				return
			}
		}
		if req == nil {
			return
		}
		for _, e := range req.ExtensionTypes {
			if !defaultExtension(e) && !slices.Contains(caps.Extensions, e) {
				err = fmt.Errorf("%w: member %d does not support required extension %d", ErrInvalid, l, e)
				return
			}
		}
		for _, p := range req.ProposalTypes {
			if !(p >= wire.ProposalAdd && p <= wire.ProposalGroupContextExtensions) && !slices.Contains(caps.Proposals, p) {
				err = fmt.Errorf("%w: member %d does not support required proposal %d", ErrInvalid, l, p)
				return
			}
		}
		for _, ct := range req.CredentialTypes {
			if !slices.Contains(caps.Credentials, ct) {
				err = fmt.Errorf("%w: member %d does not support required credential %d", ErrInvalid, l, ct)
				return
			}
		}
	})
	return err
}
