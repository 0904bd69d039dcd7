package group

import (
	"fmt"
	"slices"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// External Commits (RFC 9420 §12.4.3.2): a client outside the group joins
// from a GroupInfo that carries the ratchet tree and external_pub, with a
// Commit it sends as a PublicMessage from sender new_member_commit:
//
//	kem_output, context = SetupBaseS(external_pub, "")          (§8.3)
//	init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
//	Commit {
//	    proposals = [ ExternalInit{kem_output}, Remove{old leaf}? ]   (by value)
//	    path      = UpdatePath from the leftmost blank leaf        (required)
//	}
//	signature = SignWithLabel(joiner's key, "FramedContentTBS",
//	                          FramedContentTBS with the GroupInfo's GroupContext)
//	confirmation_tag = MAC(confirmation_key[n+1], confirmed_transcript_hash[n+1])
//	(no membership_tag: §6.2 sets it only for member senders)
//
// Members recover init_secret with SetupBaseR(kem_output, external_priv, "")
// and run the rest of the key schedule as for any Commit. Tresor's members
// accept only the resync flavor ([Config.checkResync]).

// testingOnlyExternalInit, when set by a test of this package, sees each
// init_secret an ExternalInit produces (joiner) or opens (member), so that
// the test can check the buffer is zeroed once the next epoch is derived.
var testingOnlyExternalInit func(*schedule.InitSecret)

// JoinExternal verifies a GroupInfo and creates an external Commit that
// adds the client with signing key sig and credential cred to its group
// (RFC 9420 §12.4.3.2). ratchetTree is the tree when the GroupInfo has no
// ratchet_tree extension (nil otherwise).
//
// The GroupInfo is checked as a Welcome joiner checks it (verifyGroupInfo:
// signature by a member, tree validity, tree hash, cfg.Credentials for
// every leaf), and must carry a valid external_pub. If a leaf of the tree
// names the client's own identity, the Commit removes it (a resync: this
// client's earlier appearance, whose state was lost); otherwise it has no
// Remove. The Commit carries an ExternalInit and the client's UpdatePath
// from its new leaf.
//
// The returned State is not a member yet (Joining): its Pending holds the
// Commit for the delivery service. MergePending makes it the member of the
// new epoch; ClearPending, or Erase, discards it.
func JoinExternal(s *suite.Suite, cfg Config, sig *suite.SignaturePrivateKey, cred wire.Credential, gi *wire.GroupInfo, ratchetTree wire.RatchetTree) (*State, error) {
	caps := Capabilities(s)
	t, err := verifyGroupInfo(s, &cfg, gi, ratchetTree, &caps)
	if err != nil {
		return nil, err
	}
	var pub *wire.ExternalPub
	for _, e := range gi.Extensions {
		if e.Type == wire.ExtensionExternalPub {
			pub = new(wire.ExternalPub)
			if err := codec.Unmarshal(e.Data, pub); err != nil {
				return nil, fmt.Errorf("mls group: external_pub: %w", err)
			}
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: GroupInfo without external_pub", ErrInvalid)
	}
	if err := s.ValidateHPKEPublicKey(suite.HPKEPublicKey(pub.ExternalPub)); err != nil {
		return nil, fmt.Errorf("%w: external_pub: %v", ErrInvalid, err)
	}

	// The public state of the GroupInfo's epoch; the interim transcript
	// hash follows from its confirmation tag (§8.2), as for a Welcome.
	st := &State{cfg: cfg, suite: s, sig: sig, gc: gi.GroupContext, tree: t, joining: true}
	if st.gcBytes, err = encodeGC(&st.gc); err != nil {
		return nil, err
	}
	if st.interim, err = interimHash(s, st.gc.ConfirmedTranscriptHash, gi.ConfirmationTag); err != nil {
		return nil, err
	}

	// Our old leaf, if any: the one that names our identity.
	old, found := treemath.LeafIndex(0), 0
	t.Members(func(l treemath.LeafIndex, ln *wire.LeafNode) {
		if cfg.sameIdentity(&ln.Credential, &cred) {
			old, found = l, found+1
		}
	})
	if found > 1 {
		return nil, fmt.Errorf("%w: %d leaves name the joiner's identity", ErrInvalid, found)
	}

	kemOutput, init, err := schedule.ExternalInit(s, cfg.rand(), suite.HPKEPublicKey(pub.ExternalPub))
	if err != nil {
		return nil, fmt.Errorf("mls group: %w", err)
	}
	if testingOnlyExternalInit != nil {
		testingOnlyExternalInit(init)
	}
	defer init.Erase()
	commit := &wire.Commit{Proposals: []wire.ProposalOrRef{{Type: wire.ProposalOrRefProposal,
		Proposal: &wire.Proposal{Type: wire.ProposalExternalInit, ExternalInit: &wire.ExternalInit{KEMOutput: kemOutput}}}}}
	if found == 1 {
		commit.Proposals = append(commit.Proposals, wire.ProposalOrRef{Type: wire.ProposalOrRefProposal,
			Proposal: &wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: uint32(old)}}})
	}
	sender := wire.Sender{Type: wire.SenderNewMemberCommit}
	a, err := st.resolveAndApply(sender, commit.Proposals)
	if err != nil {
		return nil, err
	}

	// The UpdatePath from the leftmost blank leaf (§12.4.2).
	template := &wire.LeafNode{SignatureKey: wire.SignaturePublicKey(sig.Public()), Credential: cred,
		Capabilities: caps, Extensions: []wire.Extension{}}
	own, path, ps, commitSecret, err := a.tree.CreateExternalUpdatePath(tree.UpdatePathParams{
		Rand: cfg.rand(), LeafNode: template, SignatureKey: sig, GroupID: st.gc.GroupID,
		GroupContext: st.provisionalGC(a),
	})
	if err != nil {
		return nil, fmt.Errorf("mls group: UpdatePath: %w", err)
	}
	commit.Path = path
	defer clear(commitSecret)
	ok := false
	defer func() {
		if !ok {
			ps.Erase()
		}
	}()
	// Our own leaf under the application's policy, before we send it.
	if err := cfg.checkMembers(st.tree, a.tree, []treemath.LeafIndex{own}); err != nil {
		return nil, err
	}

	content := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch, Sender: sender,
		AuthenticatedData: []byte{}, ContentType: wire.ContentCommit, Commit: commit}
	fe := &framing.Epoch{Suite: s, GroupContext: &st.gc, GroupContextBytes: st.gcBytes}
	signature, err := framing.Sign(fe, sig, wire.WireFormatPublicMessage, content)
	if err != nil {
		return nil, err
	}
	next, joiner, psk, tag, err := st.nextEpoch(a, init, own, wire.WireFormatPublicMessage, content, signature, commitSecret, ps)
	if err != nil {
		return nil, err
	}
	// joiner_secret and psk_secret have done their job; init_secret is
	// erased on return (deferred above).
	joiner.Erase()
	psk.Erase()
	pm, err := framing.ProtectPublic(fe, content, wire.FramedContentAuthData{Signature: signature, ConfirmationTag: tag})
	if err != nil {
		next.erase()
		return nil, err
	}
	p := &Pending{next: next}
	if p.Commit, err = codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPublicMessage, PublicMessage: pm}); err != nil {
		next.erase()
		return nil, fmt.Errorf("mls group: encode Commit: %w", err)
	}
	ok = true
	st.own = own
	st.pending = p
	return st, nil
}

// processExternalCommit applies an authenticated external Commit (RFC 9420
// §12.4.2, §12.4.3.2), which framing verified under the key of its path's
// leaf node: the proposal list of an external Commit (§12.2), the path
// from the joiner's new leaf (the leftmost blank one after the proposals),
// Tresor's rule (checkResync: it replaces the joiner's own old leaf) and
// the application's credential policy for the new leaf, the path secret,
// the key schedule from the init_secret of its ExternalInit (§8.3), and
// the confirmation tag. Only then is the new epoch installed.
func (s *State) processExternalCommit(u *framing.Unprotected) (*Processed, error) {
	// Framing gave a new_member_commit sender only to a PublicMessage: a
	// PrivateMessage's sender is always a member (§6.3.2).
	c := &u.Content.Content
	props, err := s.resolveProposals(c.Sender, c.Commit.Proposals)
	if err != nil {
		return nil, err
	}
	a, err := s.applyProposals(c.Sender, props)
	if err != nil {
		return nil, err
	}
	path := c.Commit.Path
	if path == nil {
		return nil, fmt.Errorf("%w: external Commit without an UpdatePath", ErrInvalid)
	}
	required, err := requiredCapabilities(a.extensions)
	if err != nil {
		return nil, err
	}
	joinerLeaf, err := a.tree.MergeExternalUpdatePath(path, s.gc.GroupID, required)
	if err != nil {
		return nil, fmt.Errorf("%w: UpdatePath: %w", ErrInvalid, err)
	}
	if err := s.cfg.checkResync(s.tree, a.removed, &path.LeafNode); err != nil {
		return nil, err
	}
	if err := s.cfg.checkMembers(s.tree, a.tree, []treemath.LeafIndex{joinerLeaf}); err != nil {
		return nil, err
	}
	out := &Processed{Kind: KindCommit, Sender: joinerLeaf, Removed: a.removed,
		Added: []treemath.LeafIndex{joinerLeaf}, External: true}
	if slices.Contains(a.removed, s.own) {
		// Our own leaf, replaced by our own resync: as for any Commit
		// that removes us, we accept it and erase everything.
		s.Erase()
		s.tree, s.removed, s.proposals = a.tree, true, nil
		return out, nil
	}

	th, err := a.tree.TreeHash()
	if err != nil {
		return nil, fmt.Errorf("mls group: tree hash: %w", err)
	}
	gc, err := s.provisionalGC(a)(th)
	if err != nil {
		return nil, err
	}
	ps, commitSecret, err := s.priv.DecryptUpdatePath(a.tree, joinerLeaf, path, nil, gc)
	if err != nil {
		return nil, fmt.Errorf("%w: UpdatePath: %w", ErrAuthentication, err)
	}
	defer clear(commitSecret)
	init, err := s.epoch.ExternalInitSecret(a.externalInit.KEMOutput)
	if err != nil {
		ps.Erase()
		return nil, fmt.Errorf("%w: ExternalInit: %w", ErrInvalid, err)
	}
	if testingOnlyExternalInit != nil {
		testingOnlyExternalInit(init)
	}
	next, joiner, psk, _, err := s.nextEpoch(a, init, s.own, u.Content.WireFormat, c, u.Content.Auth.Signature, commitSecret, ps)
	init.Erase()
	if err != nil {
		ps.Erase()
		return nil, err
	}
	joiner.Erase()
	psk.Erase()
	if !next.epoch.VerifyConfirmationTag(next.gc.ConfirmedTranscriptHash, u.Content.Auth.ConfirmationTag) {
		next.erase()
		return nil, fmt.Errorf("%w: confirmation tag", ErrAuthentication)
	}
	if err := s.install(next); err != nil {
		return nil, err
	}
	return out, nil
}
