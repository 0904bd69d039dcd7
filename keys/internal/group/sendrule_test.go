package group

import (
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// proposalMessage makes st's member send p as a PrivateMessage (RFC 9420
// §6.3), as another implementation of MLS might: Tresor clients themselves
// commit proposals by value.
func proposalMessage(t *testing.T, st *State, p *wire.Proposal) []byte {
	t.Helper()
	c := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(st.own)},
		AuthenticatedData: []byte{}, ContentType: wire.ContentProposal, Proposal: p}
	fe := st.framingEpoch()
	sig, err := framing.Sign(fe, st.sig, wire.WireFormatPrivateMessage, c)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := framing.ProtectPrivate(fe, st.cfg.rand(), c, wire.FramedContentAuthData{Signature: sig}, st.cfg.padBlock())
	if err != nil {
		t.Fatal(err)
	}
	b, err := codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPrivateMessage, PrivateMessage: pm})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSendRule: a member that received a proposal may send application data
// only after a Commit (RFC 9420 §12.4); its next Commit covers the proposal
// by reference, and an invalid one does not block its Commit.
func TestSendRule(t *testing.T) {
	s := suite1(t)
	alice := newClient(t, s, "alice")
	var err error
	alice.st, err = Create(s, Config{}, alice.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("alice")}, []byte("group"))
	if err != nil {
		t.Fatal(err)
	}
	bob, carol, dave := newClient(t, s, "bob"), newClient(t, s, "carol"), newClient(t, s, "dave")
	p, err := alice.st.CreateCommit([]*wire.KeyPackage{bob.kp, carol.kp, dave.kp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.st.MergePending(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{bob, carol, dave} {
		c.join(t, p.Welcome)
	}

	// Carol proposes to remove Dave (leaf 3); Alice and Bob receive it.
	prop := proposalMessage(t, carol.st, &wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: 3}})
	for _, c := range []*client{alice, bob} {
		if got, err := process(t, c.st, prop); err != nil || got.Kind != KindProposal {
			t.Fatalf("%s: %v %v", c.name, got, err)
		}
	}
	if _, err := bob.st.Seal([]byte("hi"), nil); !errors.Is(err, ErrPendingProposals) {
		t.Fatalf("Seal while holding a proposal: %v, want ErrPendingProposals", err)
	}
	// Bob's empty Commit covers it by reference: Dave is removed.
	pc, err := bob.st.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.st.MergePending(); err != nil {
		t.Fatal(err)
	}
	got, err := process(t, alice.st, pc.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Removed) != 1 || got.Removed[0] != 3 {
		t.Fatalf("the Commit removed %v, want leaf 3", got.Removed)
	}
	sameEpoch(t, alice.st, bob.st)
	if _, err := bob.st.Seal([]byte("hi"), nil); err != nil {
		t.Fatalf("Seal after the Commit: %v", err)
	}

	// Alice proposes to remove Bob; Bob cannot commit his own removal,
	// so his Commit goes without it, and still ends the epoch.
	prop = proposalMessage(t, alice.st, &wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: 1}})
	if _, err := process(t, bob.st, prop); err != nil {
		t.Fatal(err)
	}
	pc, err = bob.st.CreateCommit(nil, nil)
	if err != nil {
		t.Fatalf("an invalid cached proposal blocks the Commit: %v", err)
	}
	if err := bob.st.MergePending(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.st.Seal([]byte("hi"), nil); err != nil {
		t.Fatalf("Seal in the new epoch: %v", err)
	}
}

// TestAddNeedsGroupExtensions: RFC 9420 §13.4 — the adder checks that a new
// member supports every extension of the group's GroupContext.
func TestAddNeedsGroupExtensions(t *testing.T) {
	s := suite1(t)
	alice := newClient(t, s, "alice")
	var err error
	alice.st, err = Create(s, Config{}, alice.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("alice")}, []byte("group"))
	if err != nil {
		t.Fatal(err)
	}
	// As if a GroupContextExtensions proposal had set it.
	alice.st.gc.Extensions = []wire.Extension{{Type: 0xff00, Data: []byte{}}}
	bob := newClient(t, s, "bob")
	if _, err := alice.st.CreateCommit([]*wire.KeyPackage{bob.kp}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("adding a member without the group's extension: %v, want ErrInvalid", err)
	}
	alice.st.gc.Extensions = nil
	if _, err := alice.st.CreateCommit([]*wire.KeyPackage{bob.kp}, nil); err != nil {
		t.Fatalf("without the extension: %v", err)
	}
}

// TestForgetPastEpochErases: what KeepPastEpoch keeps is zeroed by
// ForgetPastEpoch, and by the next epoch.
func TestForgetPastEpochErases(t *testing.T) {
	s := suite1(t)
	alice := newClient(t, s, "alice")
	var err error
	alice.st, err = Create(s, Config{KeepPastEpoch: true}, alice.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("alice")}, []byte("group"))
	if err != nil {
		t.Fatal(err)
	}
	commit := func() {
		t.Helper()
		if _, err := alice.st.CreateCommit(nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := alice.st.MergePending(); err != nil {
			t.Fatal(err)
		}
	}
	zero := func(b []byte) bool {
		for _, x := range b {
			if x != 0 {
				return false
			}
		}
		return true
	}
	commit()
	first := alice.st.past
	if first == nil || zero(first.fe.SenderData) {
		t.Fatal("nothing kept of epoch 0")
	}
	commit() // epoch 2: epoch 1 is kept, epoch 0's is erased
	if !zero(first.fe.SenderData) || alice.st.past == first {
		t.Fatal("the next epoch left epoch 0's sender_data_secret")
	}
	second := alice.st.past
	alice.st.ForgetPastEpoch()
	if !zero(second.fe.SenderData) || alice.st.past != nil {
		t.Fatal("ForgetPastEpoch left the kept sender_data_secret")
	}
}
