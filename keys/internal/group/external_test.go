package group

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// externalSetup returns a group of three (a, b, c at leaves 0, 1, 2) that
// moved on without b, a's GroupInfo of the current epoch, and b's genuine
// external Commit (resync) from it, decoded, with b's pending State.
func externalSetup(t *testing.T) (sts []*State, gi *wire.GroupInfo, commit *wire.MLSMessage, joiner *State) {
	return externalSetupTB(t)
}

func externalSetupTB(t testing.TB) (sts []*State, gi *wire.GroupInfo, commit *wire.MLSMessage, joiner *State) {
	t.Helper()
	sts, _ = threeMembers(t)
	a, b, c := sts[0], sts[1], sts[2]
	p, err := a.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MergePending(); err != nil {
		t.Fatal(err)
	}
	if _, err := process(t, c, p.Commit); err != nil {
		t.Fatal(err)
	}
	giBytes, err := a.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(giBytes, &m); err != nil {
		t.Fatal(err)
	}
	joiner, err = JoinExternal(a.suite, Config{}, b.sig, b.tree.Leaf(1).Credential, m.GroupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cm wire.MLSMessage
	if err := codec.Unmarshal(joiner.Pending().Commit, &cm); err != nil {
		t.Fatal(err)
	}
	return sts, m.GroupInfo, &cm, joiner
}

// TestExternalResyncState follows a resync at the State level: a and c
// accept it, b's new State merges it, and all three share the new epoch;
// b's old leaf (index 1) is now b's new leaf.
func TestExternalResyncState(t *testing.T) {
	sts, _, cm, joiner := externalSetup(t)
	a, c := sts[0], sts[2]
	if !joiner.Joining() || joiner.Removed() || joiner.EpochAuthenticator() != nil {
		t.Fatal("pending joiner")
	}
	for _, st := range []*State{a, c} {
		p, err := st.Process(reencode(t, cm))
		if err != nil {
			t.Fatal(err)
		}
		if !p.External || p.Sender != 1 || len(p.Removed) != 1 || p.Removed[0] != 1 || len(p.Added) != 1 || p.Added[0] != 1 {
			t.Fatalf("%+v", p)
		}
	}
	if err := joiner.MergePending(); err != nil {
		t.Fatal(err)
	}
	if joiner.Joining() || joiner.OwnLeaf() != 1 {
		t.Fatal("merged joiner")
	}
	sameEpoch(t, a, joiner, c)
	// The joiner follows the group: c commits, a and the joiner process.
	p, err := c.CreateCommit(nil, []treemath.LeafIndex{0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := process(t, joiner, p.Commit); err != nil {
		t.Fatal(err)
	}
	if err := c.MergePending(); err != nil {
		t.Fatal(err)
	}
	sameEpoch(t, joiner, c)
}

// TestExternalResyncLeafPlacement: the joiner takes the leftmost blank
// leaf of the tree with the proposals applied (RFC 9420 §12.4.2): b was
// removed, so c's resync removes leaf 2, which truncates the tree to two
// leaves, and takes leaf 1.
func TestExternalResyncLeafPlacement(t *testing.T) {
	sts, _ := threeMembers(t)
	a := sts[0]
	p, err := a.CreateCommit(nil, []treemath.LeafIndex{1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MergePending(); err != nil {
		t.Fatal(err)
	}
	c := sts[2]
	if _, err := process(t, c, p.Commit); err != nil {
		t.Fatal(err)
	}
	giBytes, err := a.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(giBytes, &m); err != nil {
		t.Fatal(err)
	}
	j, err := JoinExternal(a.suite, Config{}, c.sig, c.tree.Leaf(2).Credential, m.GroupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := process(t, a, j.Pending().Commit); err != nil {
		t.Fatal(err)
	}
	if err := j.MergePending(); err != nil {
		t.Fatal(err)
	}
	if j.OwnLeaf() != 1 || a.tree.LeafCount() != 2 {
		t.Fatalf("joiner at leaf %d of %d", j.OwnLeaf(), a.tree.LeafCount())
	}
	sameEpoch(t, a, j)
}

// reframeExternal frames commit as an external Commit of st's epoch,
// signed by sig, with the confirmation tag tag.
func reframeExternal(t *testing.T, st *State, sig *suite.SignaturePrivateKey, commit *wire.Commit, tag []byte) *wire.MLSMessage {
	return reframeExternalTB(t, st, sig, commit, tag)
}

func reframeExternalTB(t testing.TB, st *State, sig *suite.SignaturePrivateKey, commit *wire.Commit, tag []byte) *wire.MLSMessage {
	t.Helper()
	c := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch, Sender: wire.Sender{Type: wire.SenderNewMemberCommit},
		AuthenticatedData: []byte{}, ContentType: wire.ContentCommit, Commit: commit}
	fe := st.framingEpoch()
	s, err := framing.Sign(fe, sig, wire.WireFormatPublicMessage, c)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := framing.ProtectPublic(fe, c, wire.FramedContentAuthData{Signature: s, ConfirmationTag: tag})
	if err != nil {
		t.Fatal(err)
	}
	return reencode(t, &wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPublicMessage, PublicMessage: pm})
}

// TestExternalCommitValidity checks the rules of RFC 9420 §12.2 and
// §12.4.3.2 for external Commits on b's genuine resync, altered and
// signed again by b: each is rejected by the members with the error of
// the rule (a later step would fail otherwise, with another error), and
// leaves their state unchanged.
func TestExternalCommitValidity(t *testing.T) {
	sts, _, cm, joiner := externalSetup(t)
	a, c := sts[0], sts[2]
	b := sts[1]
	genuine := cm.PublicMessage.Content.Commit
	tag := cm.PublicMessage.Auth.ConfirmationTag
	ei, rm := genuine.Proposals[0], genuine.Proposals[1]
	if ei.Proposal.Type != wire.ProposalExternalInit || rm.Proposal.Type != wire.ProposalRemove {
		t.Fatal("genuine list")
	}
	// A proposal c sent in this epoch, which a and c hold.
	cProp := signedProposal(t, c, &wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: 1}})
	for _, st := range []*State{a, c} {
		if _, err := st.Process(reencode(t, cProp)); err != nil {
			t.Fatal(err)
		}
	}
	ref := wire.ProposalOrRef{Type: wire.ProposalOrRefReference, Reference: a.proposals[0].ref}
	other := newClient(t, a.suite, "d")
	withEI := func(kem []byte) wire.ProposalOrRef {
		return prop(&wire.Proposal{Type: wire.ProposalExternalInit, ExternalInit: &wire.ExternalInit{KEMOutput: kem}})
	}
	list := func(ps ...wire.ProposalOrRef) *wire.Commit { return &wire.Commit{Proposals: ps, Path: genuine.Path} }
	otherKEM := bytes.Clone(ei.Proposal.ExternalInit.KEMOutput)
	otherKEM[0] ^= 1

	cases := []struct {
		name   string
		commit *wire.Commit
		sig    *suite.SignaturePrivateKey
		tag    []byte
		want   error
		detail string
	}{
		{"no ExternalInit", list(rm), b.sig, tag, ErrInvalid, "ExternalInit"},
		{"two ExternalInits", list(ei, ei, rm), b.sig, tag, ErrInvalid, "ExternalInit"},
		{"proposal by reference", list(ei, ref), b.sig, tag, ErrInvalid, "by reference"},
		{"an Add", list(ei, rm, prop(&wire.Proposal{Type: wire.ProposalAdd, Add: &wire.Add{KeyPackage: *other.kp}})), b.sig, tag, ErrInvalid, "proposal type"},
		{"an Update", list(ei, rm, prop(&wire.Proposal{Type: wire.ProposalUpdate, Update: &wire.Update{LeafNode: *a.tree.Leaf(0)}})), b.sig, tag, ErrInvalid, "proposal type"},
		{"GroupContextExtensions", list(ei, rm, prop(&wire.Proposal{Type: wire.ProposalGroupContextExtensions, GroupContextExtensions: &wire.GroupContextExtensions{}})), b.sig, tag, ErrInvalid, "proposal type"},
		{"two Removes", list(ei, rm, remove(2)), b.sig, tag, ErrInvalid, "Remove"},
		{"no path", &wire.Commit{Proposals: genuine.Proposals}, b.sig, tag, ErrInvalid, "UpdatePath"},
		{"signed by another key", genuine, c.sig, tag, framing.ErrAuthentication, "signature"},
		{"another kem_output", list(withEI(otherKEM), rm), b.sig, tag, ErrAuthentication, "confirmation tag"},
		{"short kem_output", list(withEI(otherKEM[:5]), rm), b.sig, tag, ErrInvalid, "ExternalInit"},
		{"wrong confirmation tag", genuine, b.sig, make([]byte, len(tag)), ErrAuthentication, "confirmation tag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := reframeExternal(t, a, tc.sig, tc.commit, tc.tag)
			for _, st := range []*State{a, c} {
				before := stateSnapshot(t, st)
				_, err := st.Process(msg)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
					t.Fatalf("got %v, want %v (%s)", err, tc.want, tc.detail)
				}
				if !bytes.Equal(before, stateSnapshot(t, st)) || st.Removed() {
					t.Fatal("state changed")
				}
			}
		})
	}
	// A genuine external Commit of a client with no leaf in the group (a
	// plain external join): valid under RFC 9420, refused by Tresor's rule.
	giBytes, err := a.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	var gm wire.MLSMessage
	if err := codec.Unmarshal(giBytes, &gm); err != nil {
		t.Fatal(err)
	}
	plain, err := JoinExternal(a.suite, Config{}, other.sig, other.kp.LeafNode.Credential, gm.GroupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*State{a, c} {
		before := stateSnapshot(t, st)
		if _, err := process(t, st, plain.Pending().Commit); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "must remove") {
			t.Fatalf("plain external join: %v", err)
		}
		if !bytes.Equal(before, stateSnapshot(t, st)) {
			t.Fatal("state changed")
		}
	}

	// The genuine Commit, framed again by the same code, is accepted.
	msg := reframeExternal(t, a, b.sig, genuine, tag)
	for _, st := range []*State{a, c} {
		if _, err := st.Process(reencode(t, msg)); err != nil {
			t.Fatalf("genuine: %v", err)
		}
	}
	if err := joiner.MergePending(); err != nil {
		t.Fatal(err)
	}
	sameEpoch(t, a, joiner, c)
}

// TestExternalInitErased: the init_secret of an ExternalInit (RFC 9420
// §8.3) is the same for the joiner (SetupBaseS) and the members
// (SetupBaseR), and each zeroes it as soon as joiner_secret is derived.
func TestExternalInitErased(t *testing.T) {
	var live, copies [][]byte
	testingOnlyExternalInit = func(i *schedule.InitSecret) {
		live = append(live, i.TestingOnlyBytes())
		copies = append(copies, bytes.Clone(i.TestingOnlyBytes()))
	}
	t.Cleanup(func() { testingOnlyExternalInit = nil })
	sts, _, cm, joiner := externalSetup(t)
	if _, err := sts[0].Process(reencode(t, cm)); err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 {
		t.Fatalf("%d init secrets seen", len(live))
	}
	if len(copies[0]) != 32 || !bytes.Equal(copies[0], copies[1]) {
		t.Fatal("joiner and member derive different init secrets")
	}
	for i, b := range live {
		if !allZero(b) {
			t.Fatalf("init secret %d not zeroed", i)
		}
	}
	// The pending epoch the joiner holds is erased when cleared.
	secrets := joiner.Pending().TestingOnlyEpochSecrets()
	joiner.ClearPending()
	for i, b := range secrets {
		if !allZero(b) {
			t.Fatalf("pending secret %d not zeroed", i)
		}
	}
}

// TestExternalResyncKeepsLeafKey: a resync whose new leaf keeps the
// encryption key of the leaf it removes does not meet what an Update of
// that leaf must (RFC 9420 §12.2, §7.3), and is refused; the joiner can
// only do this with its old leaf's private key, which b still has here.
func TestExternalResyncKeepsLeafKey(t *testing.T) {
	sts, leafSeed := seededGroup(t)
	a, b, c := sts[0], sts[1], sts[2]
	giBytes, err := a.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(giBytes, &m); err != nil {
		t.Fatal(err)
	}
	// The ephemeral key of SetupBaseS, then the leaf key: b's old one.
	rnd := io.MultiReader(io.LimitReader(rand.Reader, 32), bytes.NewReader(leafSeed), rand.Reader)
	j, err := JoinExternal(a.suite, Config{Rand: rnd}, b.sig, b.tree.Leaf(1).Credential, m.GroupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cm wire.MLSMessage
	if err := codec.Unmarshal(j.Pending().Commit, &cm); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cm.PublicMessage.Content.Commit.Path.LeafNode.EncryptionKey, b.tree.Leaf(1).EncryptionKey) {
		t.Fatal("test setup: the joiner's leaf key is not its old one")
	}
	for _, st := range []*State{a, c} {
		before := stateSnapshot(t, st)
		if _, err := st.Process(reencode(t, &cm)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "keeps the encryption key") {
			t.Fatalf("got %v", err)
		}
		if !bytes.Equal(before, stateSnapshot(t, st)) {
			t.Fatal("state changed")
		}
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// FuzzExternalCommit mutates the Commit of b's genuine external Commit
// (the encoded wire.Commit: proposals and UpdatePath) and frames it again,
// signed by b with the genuine confirmation tag, so that the mutations
// reach what members check after the signature: the proposal list, the
// path, Tresor's resync rule, the key schedule and the confirmation tag.
// Nothing may panic; every failure is typed and leaves the member
// unchanged; an accepted Commit must be a resync of b.
func FuzzExternalCommit(f *testing.F) {
	var sts []*State
	var seed, tag []byte
	setup := func(t testing.TB) {
		var cm *wire.MLSMessage
		sts, _, cm, _ = externalSetupTB(t)
		var err error
		if seed, err = codec.Marshal(cm.PublicMessage.Content.Commit); err != nil {
			t.Fatal(err)
		}
		tag = cm.PublicMessage.Auth.ConfirmationTag
	}
	setup(f)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b, c := sts[0], sts[1], sts[2]
		var commit wire.Commit
		if err := codec.Unmarshal(data, &commit); err != nil {
			return // the decoder has its own fuzz targets (package wire)
		}
		m := reframeExternalTB(t, a, b.sig, &commit, tag)
		before := stateSnapshot(t, c)
		p, err := c.Process(m)
		if err != nil {
			for _, s := range []error{ErrAuthentication, ErrInvalid, ErrUnsupported, codec.ErrMalformed,
				framing.ErrAuthentication, framing.ErrInvalid} {
				if errors.Is(err, s) {
					if !bytes.Equal(before, stateSnapshot(t, c)) {
						t.Fatal("state changed by a rejected Commit")
					}
					return
				}
			}
			t.Fatalf("untyped error: %v", err)
		}
		if !p.External || len(p.Removed) != 1 || p.Removed[0] != 1 {
			t.Fatalf("accepted a Commit that is no resync of b: %+v", p)
		}
		setup(t)
	})
}
