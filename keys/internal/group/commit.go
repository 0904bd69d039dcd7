package group

import (
	"bytes"
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

// Pending is a Commit this member created and has not merged: the
// delivery service accepts exactly one Commit per epoch, so the group moves
// on only when the caller learns that this one won (State.MergePending) and
// discards it otherwise (State.ClearPending).
type Pending struct {
	// Commit is the MLSMessage carrying the Commit, for the delivery
	// service.
	Commit []byte
	// Welcome is the MLSMessage carrying the Welcome for the added
	// members, or nil if the Commit adds nobody.
	Welcome []byte

	next *newEpoch
}

func (p *Pending) erase() {
	if p.next != nil {
		p.next.erase()
		p.next = nil
	}
}

// TestingOnlyEpochSecrets returns the live secret buffers of the epoch the
// pending Commit would start, so that tests can check that clearing it
// zeroes them.
func (p *Pending) TestingOnlyEpochSecrets() [][]byte {
	return testingOnlySecrets(p.next.epoch)
}

// Pending returns the pending Commit, or nil.
func (s *State) Pending() *Pending { return s.pending }

// ClearPending discards the pending Commit and erases the secrets of the
// epoch it would have started.
func (s *State) ClearPending() {
	if s.pending != nil {
		s.pending.erase()
		s.pending = nil
	}
}

// MergePending moves the group to the epoch of the pending Commit and
// erases the current epoch's secrets.
func (s *State) MergePending() error {
	if s.pending == nil {
		return fmt.Errorf("%w: none to merge", ErrPendingCommit)
	}
	next := s.pending.next
	s.pending.next = nil
	s.pending = nil
	return s.install(next)
}

// CreateCommit builds a Commit (RFC 9420 §12.4) that removes the members
// at removes, adds the clients of adds, and always refreshes the
// committer's own leaf and path with an UpdatePath, so that every Commit
// (including one with no proposals: a periodic update) gives the group
// forward secrecy and post-compromise security for the committer. It
// returns the pending Commit; the State does not change until MergePending.
func (s *State) CreateCommit(adds []*wire.KeyPackage, removes []treemath.LeafIndex) (*Pending, error) {
	if err := s.notMember(); err != nil {
		return nil, err
	}
	if s.pending != nil {
		return nil, fmt.Errorf("%w: a Commit is already pending", ErrPendingCommit)
	}
	commit := &wire.Commit{}
	for _, l := range removes {
		commit.Proposals = append(commit.Proposals, wire.ProposalOrRef{Type: wire.ProposalOrRefProposal,
			Proposal: &wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: uint32(l)}}})
	}
	for _, kp := range adds {
		commit.Proposals = append(commit.Proposals, wire.ProposalOrRef{Type: wire.ProposalOrRefProposal,
			Proposal: &wire.Proposal{Type: wire.ProposalAdd, Add: &wire.Add{KeyPackage: *kp}}})
	}
	me := wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(s.own)}
	// RFC 9420 §12.4: the committer SHOULD include every valid proposal
	// it received in the epoch, by reference. If they do not make a valid
	// list together with this Commit's own proposals (a member's proposal
	// may be invalid, or clash with them), the Commit goes without them:
	// any Commit ends the epoch, and with it the duty to commit them
	// before sending application data.
	own := commit.Proposals
	for _, c := range s.proposals {
		commit.Proposals = append(commit.Proposals, wire.ProposalOrRef{Type: wire.ProposalOrRefReference, Reference: c.ref})
	}
	a, err := s.resolveAndApply(me, commit.Proposals)
	if err != nil && len(s.proposals) > 0 {
		commit.Proposals = own
		a, err = s.resolveAndApply(me, commit.Proposals)
	}
	if err != nil {
		return nil, err
	}
	excluded := make([]treemath.LeafIndex, len(a.added))
	for i, m := range a.added {
		excluded[i] = m.leaf
	}
	if err := s.cfg.checkMembers(s.tree, a.tree, excluded); err != nil {
		return nil, err
	}

	// UpdatePath (§7.5, §12.4.2): new leaf and path secrets, encrypted
	// under the provisional GroupContext of the new epoch.
	up, err := createPath(s, a, excluded)
	if err != nil {
		return nil, err
	}
	commit.Path = up.path
	defer clear(up.commitSecret)
	ok := false
	defer func() {
		if !ok && up.ps != nil {
			up.ps.Erase()
		}
	}()

	wf := wire.WireFormatPrivateMessage
	if s.cfg.PublicCommits {
		wf = wire.WireFormatPublicMessage
	}
	content := &wire.FramedContent{GroupID: s.gc.GroupID, Epoch: s.gc.Epoch, Sender: me,
		AuthenticatedData: []byte{}, ContentType: wire.ContentCommit, Commit: commit}
	fe := s.framingEpoch()
	sig, err := framing.Sign(fe, s.sig, wf, content)
	if err != nil {
		return nil, err
	}
	next, joiner, psk, tag, err := s.nextEpoch(a, s.epoch.Init, s.own, wf, content, sig, up.commitSecret, up.ps)
	if err != nil {
		return nil, err
	}
	defer joiner.Erase()
	defer psk.Erase()
	auth := wire.FramedContentAuthData{Signature: sig, ConfirmationTag: tag}

	msg := &wire.MLSMessage{Version: wire.MLS10, WireFormat: wf}
	if wf == wire.WireFormatPublicMessage {
		msg.PublicMessage, err = framing.ProtectPublic(fe, content, auth)
	} else {
		msg.PrivateMessage, err = framing.ProtectPrivate(fe, s.cfg.rand(), content, auth, s.cfg.padBlock())
	}
	if err != nil {
		next.erase()
		return nil, err
	}
	p := &Pending{next: next}
	if p.Commit, err = codec.Marshal(msg); err != nil {
		next.erase()
		return nil, fmt.Errorf("mls group: encode Commit: %w", err)
	}
	if len(a.added) > 0 {
		if p.Welcome, err = s.welcome(next, a, tag, joiner, psk, up); err != nil {
			next.erase()
			return nil, err
		}
	}
	ok = true
	s.pending = p
	return p, nil
}

// nextEpoch computes the epoch a Commit starts (RFC 9420 §8, §8.2):
//
//	confirmed_transcript_hash[n+1] = Hash(interim[n] || ConfirmedTranscriptHashInput)
//	GroupContext[n+1] = (…, epoch+1, tree_hash, confirmed_transcript_hash, extensions)
//	joiner_secret = ExpandWithLabel(Extract(init_secret[n], commit_secret), "joiner", GC[n+1])
//	confirmation_tag = MAC(confirmation_key[n+1], confirmed_transcript_hash[n+1])
//
// init is init_secret[n], the current epoch's, or for an external Commit
// the one its ExternalInit proposal carries (§8.3); own is this member's
// leaf in the new epoch. The current epoch is not touched.
func (s *State) nextEpoch(a *applied, init *schedule.InitSecret, own treemath.LeafIndex, wf wire.WireFormat, content *wire.FramedContent, sig, commitSecret []byte, ps *tree.PathSecrets) (*newEpoch, *schedule.JoinerSecret, *schedule.PSKSecret, []byte, error) {
	in, err := wire.ConfirmedTranscriptHashInput(wf, content, sig)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("mls group: ConfirmedTranscriptHashInput: %w", err)
	}
	th, err := a.tree.TreeHash()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("mls group: tree hash: %w", err)
	}
	n := &newEpoch{tree: a.tree, ps: ps, own: own}
	n.gc = wire.GroupContext{Version: wire.MLS10, CipherSuite: s.gc.CipherSuite, GroupID: s.gc.GroupID,
		Epoch: s.gc.Epoch + 1, TreeHash: th, ConfirmedTranscriptHash: schedule.ConfirmedTranscriptHash(s.suite, s.interim, in),
		Extensions: a.extensions}
	if n.gcBytes, err = encodeGC(&n.gc); err != nil {
		return nil, nil, nil, nil, err
	}
	psk, err := s.pskSecret(a.psks)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	joiner, err := init.Joiner(commitSecret, n.gcBytes)
	if err != nil {
		psk.Erase()
		return nil, nil, nil, nil, fmt.Errorf("mls group: joiner_secret: %w", err)
	}
	if n.epoch, n.secrets, err = deriveEpoch(s.suite, &s.cfg, joiner, psk, n.gcBytes, a.tree.LeafCount()); err != nil {
		psk.Erase()
		joiner.Erase()
		return nil, nil, nil, nil, err
	}
	tag, err := n.epoch.ConfirmationTag(n.gc.ConfirmedTranscriptHash)
	if err == nil {
		n.interim, err = interimHash(s.suite, n.gc.ConfirmedTranscriptHash, tag)
	}
	if err != nil {
		n.erase()
		psk.Erase()
		joiner.Erase()
		return nil, nil, nil, nil, err
	}
	return n, joiner, psk, tag, nil
}

// welcome builds the Welcome of a Commit that adds members (RFC 9420
// §12.4.3): a GroupInfo of the new epoch with the ratchet_tree extension,
// signed by the committer and encrypted under welcome_secret, and for each
// new member its GroupSecrets encrypted to its KeyPackage's init key, with
// the path secret of the lowest node its leaf shares with the committer's.
func (s *State) welcome(next *newEpoch, a *applied, tag []byte, joiner *schedule.JoinerSecret, psk *schedule.PSKSecret, up *pathResult) ([]byte, error) {
	exts := []wire.Extension{}
	if !s.cfg.RatchetTreeOutOfBand {
		rt := next.tree.RatchetTree()
		rtBytes, err := codec.Marshal(&rt)
		if err != nil {
			return nil, fmt.Errorf("mls group: ratchet_tree: %w", err)
		}
		exts = append(exts, wire.Extension{Type: wire.ExtensionRatchetTree, Data: rtBytes})
	}
	gi := &wire.GroupInfo{GroupContext: next.gc, Extensions: exts, ConfirmationTag: tag, Signer: uint32(s.own)}
	if err := SignGroupInfo(s.suite, gi, s.sig); err != nil {
		return nil, err
	}
	giBytes, err := codec.Marshal(gi)
	if err != nil {
		return nil, fmt.Errorf("mls group: GroupInfo: %w", err)
	}
	ws, err := joiner.WelcomeSecret(psk)
	if err != nil {
		return nil, fmt.Errorf("mls group: welcome_secret: %w", err)
	}
	egi, err := ws.SealGroupInfo(giBytes)
	ws.Erase()
	if err != nil {
		return nil, fmt.Errorf("mls group: seal GroupInfo: %w", err)
	}
	w := &wire.Welcome{CipherSuite: wire.CipherSuite(s.suite.ID()), EncryptedGroupInfo: egi}
	js := joiner.Bytes()
	defer clear(js)
	for _, m := range a.added {
		gs := wire.GroupSecrets{JoinerSecret: js, PSKs: a.psks}
		if gs.PSKs == nil {
			gs.PSKs = []wire.PreSharedKeyID{}
		}
		if ps := up.pathSecretFor(m.leaf); ps != nil {
			gs.PathSecret = &wire.PathSecret{PathSecret: ps}
		}
		pt, err := codec.Marshal(&gs)
		if err != nil {
			return nil, fmt.Errorf("mls group: GroupSecrets: %w", err)
		}
		kemOut, ct, err := s.suite.EncryptWithLabel(s.cfg.rand(), suite.HPKEPublicKey(m.kp.InitKey), "Welcome", egi, pt)
		clear(pt)
		if gs.PathSecret != nil {
			clear(gs.PathSecret.PathSecret)
		}
		if err != nil {
			return nil, fmt.Errorf("mls group: encrypt GroupSecrets: %w", err)
		}
		ref, err := KeyPackageRef(s.suite, m.kp)
		if err != nil {
			return nil, err
		}
		w.Secrets = append(w.Secrets, wire.EncryptedGroupSecrets{NewMember: ref,
			EncryptedGroupSecrets: wire.HPKECiphertext{KEMOutput: kemOut, Ciphertext: ct}})
	}
	out, err := codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatWelcome, Welcome: w})
	if err != nil {
		return nil, fmt.Errorf("mls group: encode Welcome: %w", err)
	}
	return out, nil
}

// GroupInfo returns a signed GroupInfo of the current epoch, as an
// MLSMessage, with everything an external joiner needs (RFC 9420 §12.4.3,
// §12.4.3.2): the ratchet_tree extension (§12.4.3.3) and the external_pub
// extension, the public half of the external key pair (§8.3):
//
//	external_priv, external_pub = KEM.DeriveKeyPair(external_secret)
//
// The private half is derived again only to open an ExternalInit, and
// erased at once.
func (s *State) GroupInfo() ([]byte, error) {
	if err := s.notMember(); err != nil {
		return nil, err
	}
	rt := s.tree.RatchetTree()
	rtBytes, err := codec.Marshal(&rt)
	if err != nil {
		return nil, fmt.Errorf("mls group: ratchet_tree: %w", err)
	}
	ext, err := s.epoch.ExternalKeyPair()
	if err != nil {
		return nil, fmt.Errorf("mls group: external key pair: %w", err)
	}
	pub := wire.ExternalPub{ExternalPub: wire.HPKEPublicKey(ext.Public())}
	ext.Erase()
	pubBytes, err := codec.Marshal(&pub)
	if err != nil {
		return nil, fmt.Errorf("mls group: external_pub: %w", err)
	}
	tag, err := s.epoch.ConfirmationTag(s.gc.ConfirmedTranscriptHash)
	if err != nil {
		return nil, fmt.Errorf("mls group: confirmation tag: %w", err)
	}
	gi := &wire.GroupInfo{GroupContext: s.gc,
		Extensions: []wire.Extension{
			{Type: wire.ExtensionRatchetTree, Data: rtBytes},
			{Type: wire.ExtensionExternalPub, Data: pubBytes},
		},
		ConfirmationTag: tag, Signer: uint32(s.own)}
	if err := SignGroupInfo(s.suite, gi, s.sig); err != nil {
		return nil, err
	}
	return codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatGroupInfo, GroupInfo: gi})
}

// Kind says what a processed message was.
type Kind int

// Kinds of processed messages.
const (
	KindApplication Kind = iota + 1
	KindProposal
	KindCommit
)

// Processed is the outcome of a message that was accepted.
type Processed struct {
	Kind   Kind
	Sender treemath.LeafIndex
	// Data is the application data of an application message.
	Data []byte
	// Removed and Added list the leaves a Commit removed and added.
	Removed, Added []treemath.LeafIndex
	// External is set for an external Commit (sender new_member_commit):
	// Sender and Added are then the joiner's new leaf, and Removed its
	// old one.
	External bool
	// Epoch is the epoch the message was sent in: the current one, or
	// for an application message of the kept previous epoch, that one.
	Epoch uint64
}

// Process authenticates and applies a PublicMessage or PrivateMessage of
// the current epoch: application data is returned, a proposal is kept for
// a later Commit to reference, and a Commit moves the group to the next
// epoch after every check of RFC 9420 §12.4.2 has passed. On any error the
// State is unchanged.
//
// A Commit from another member supersedes this member's pending Commit
// (the delivery service chose the other one), which is then discarded.
func (s *State) Process(m *wire.MLSMessage) (*Processed, error) {
	if err := s.notMember(); err != nil {
		return nil, err
	}
	u, err := framing.Unprotect(s.framingEpoch(), m, s.memberKey)
	if err != nil && s.past != nil && isWrongEpoch(err) && m.WireFormat == wire.WireFormatPrivateMessage &&
		m.PrivateMessage != nil && m.PrivateMessage.Epoch == s.past.fe.GroupContext.Epoch {
		return s.processPast(m)
	}
	if err != nil {
		return nil, err
	}
	c := &u.Content.Content
	sender := treemath.LeafIndex(c.Sender.LeafIndex)
	switch c.ContentType {
	case wire.ContentApplication:
		if err := u.Consume(); err != nil {
			return nil, err
		}
		return &Processed{Kind: KindApplication, Sender: sender, Data: c.ApplicationData, Epoch: s.gc.Epoch}, nil
	case wire.ContentProposal:
		if err := s.cacheProposal(u); err != nil {
			return nil, err
		}
		if err := u.Consume(); err != nil {
			return nil, err
		}
		return &Processed{Kind: KindProposal, Sender: sender}, nil
	}
	if c.Sender.Type == wire.SenderNewMemberCommit {
		return s.processExternalCommit(u)
	}
	return s.processCommit(u)
}

// cacheProposal keeps an authenticated proposal for a later Commit, under
// its reference (RFC 9420 §5.2):
//
//	ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)
func (s *State) cacheProposal(u *framing.Unprotected) error {
	p := u.Content.Content.Proposal
	switch p.Type {
	case wire.ProposalAdd, wire.ProposalUpdate, wire.ProposalRemove, wire.ProposalPSK, wire.ProposalGroupContextExtensions:
	default:
		return fmt.Errorf("%w: proposal type %d", ErrUnsupported, p.Type)
	}
	enc, err := codec.Marshal(&u.Content)
	if err != nil {
		return fmt.Errorf("mls group: AuthenticatedContent: %w", err)
	}
	ref, err := s.suite.MakeProposalRef(enc)
	if err != nil {
		return fmt.Errorf("mls group: proposal ref: %w", err)
	}
	if slices.ContainsFunc(s.proposals, func(c cachedProposal) bool { return bytes.Equal(c.ref, ref) }) {
		return fmt.Errorf("%w: proposal received twice", ErrInvalid)
	}
	s.proposals = append(s.proposals, cachedProposal{ref: ref, proposal: p, sender: u.Content.Content.Sender})
	return nil
}

// processCommit applies another member's authenticated Commit (RFC 9420
// §12.4.2): resolve and validate its proposals, apply them and its
// UpdatePath to a copy of the tree, decrypt the path secret meant for us,
// run the key schedule, and check the confirmation tag. Only then is the
// new epoch installed.
func (s *State) processCommit(u *framing.Unprotected) (*Processed, error) {
	c := &u.Content.Content
	committer := treemath.LeafIndex(c.Sender.LeafIndex)
	if committer == s.own {
		return nil, fmt.Errorf("%w: own Commit; merge the pending Commit instead", ErrInvalid)
	}
	props, err := s.resolveProposals(c.Sender, c.Commit.Proposals)
	if err != nil {
		return nil, err
	}
	a, err := s.applyProposals(c.Sender, props)
	if err != nil {
		return nil, err
	}
	if a.pathRequired && c.Commit.Path == nil {
		return nil, fmt.Errorf("%w: Commit without the UpdatePath it requires", ErrInvalid)
	}
	out := &Processed{Kind: KindCommit, Sender: committer, Removed: a.removed}
	for _, m := range a.added {
		out.Added = append(out.Added, m.leaf)
	}
	removed := slices.Contains(a.removed, s.own)

	var pr *pathResult
	if c.Commit.Path != nil {
		excluded := append([]treemath.LeafIndex(nil), out.Added...)
		if pr, err = applyPath(s, a, committer, c.Commit.Path, excluded, removed); err != nil {
			return nil, err
		}
	} else {
		pr = &pathResult{committer: committer}
	}
	defer clear(pr.commitSecret)
	// The application's rules for the new members and the committer's
	// new leaf, before anything changes (RFC 9420 §5.3.1).
	if err := s.cfg.checkMembers(s.tree, a.tree, out.Added); err != nil {
		pr.erase()
		return nil, err
	}
	if removed {
		// We cannot follow the group into the new epoch (the path secrets
		// are encrypted to the tree without our leaf), so we accept the
		// signed, valid Commit and erase everything we hold.
		s.Erase()
		s.tree, s.removed, s.proposals = a.tree, true, nil
		return out, nil
	}
	next, joiner, psk, _, err := s.nextEpoch(a, s.epoch.Init, s.own, u.Content.WireFormat, c, u.Content.Auth.Signature, pr.commitSecret, pr.ps)
	if err != nil {
		pr.erase()
		return nil, err
	}
	joiner.Erase()
	psk.Erase()
	if !next.epoch.VerifyConfirmationTag(next.gc.ConfirmedTranscriptHash, u.Content.Auth.ConfirmationTag) {
		next.erase()
		return nil, fmt.Errorf("%w: confirmation tag", ErrAuthentication)
	}
	// The interim transcript hash uses the tag that was sent, which is
	// the one just verified.
	if err := u.Consume(); err != nil {
		next.erase()
		return nil, err
	}
	if err := s.install(next); err != nil {
		return nil, err
	}
	return out, nil
}

// resolveAndApply resolves a Commit's proposal list and applies it to a
// copy of the tree.
func (s *State) resolveAndApply(committer wire.Sender, list []wire.ProposalOrRef) (*applied, error) {
	props, err := s.resolveProposals(committer, list)
	if err != nil {
		return nil, err
	}
	return s.applyProposals(committer, props)
}

// Seal encrypts application data as a PrivateMessage of the current epoch
// (RFC 9420 §6.3), signed by this member. It refuses while proposals
// received in this epoch wait for a Commit (RFC 9420 §12.4: a member "MUST
// send a Commit message before sending application data").
func (s *State) Seal(data, authenticatedData []byte) ([]byte, error) {
	if err := s.notMember(); err != nil {
		return nil, err
	}
	if len(s.proposals) > 0 {
		return nil, fmt.Errorf("%w: %d received", ErrPendingProposals, len(s.proposals))
	}
	if authenticatedData == nil {
		authenticatedData = []byte{}
	}
	c := &wire.FramedContent{GroupID: s.gc.GroupID, Epoch: s.gc.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(s.own)},
		AuthenticatedData: authenticatedData, ContentType: wire.ContentApplication, ApplicationData: data}
	fe := s.framingEpoch()
	sig, err := framing.Sign(fe, s.sig, wire.WireFormatPrivateMessage, c)
	if err != nil {
		return nil, err
	}
	pm, err := framing.ProtectPrivate(fe, s.cfg.rand(), c, wire.FramedContentAuthData{Signature: sig}, s.cfg.padBlock())
	if err != nil {
		return nil, err
	}
	return codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPrivateMessage, PrivateMessage: pm})
}
