package group

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// threeMembers returns the states of a group of three (leaves 0, 1, 2) and
// a fresh client that is not a member.
func threeMembers(t testing.TB) ([]*State, *client) {
	s := suite1(t)
	a := newClient(t, s, "a")
	var err error
	a.st, err = Create(s, Config{}, a.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("a")}, []byte("g"))
	if err != nil {
		t.Fatal(err)
	}
	b, c := newClient(t, s, "b"), newClient(t, s, "c")
	p, err := a.st.CreateCommit([]*wire.KeyPackage{b.kp, c.kp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.st.MergePending(); err != nil {
		t.Fatal(err)
	}
	b.join(t, p.Welcome)
	c.join(t, p.Welcome)
	return []*State{a.st, b.st, c.st}, newClient(t, s, "d")
}

func prop(p *wire.Proposal) wire.ProposalOrRef {
	return wire.ProposalOrRef{Type: wire.ProposalOrRefProposal, Proposal: p}
}

func remove(l uint32) wire.ProposalOrRef {
	return prop(&wire.Proposal{Type: wire.ProposalRemove, Remove: &wire.Remove{Removed: l}})
}

// TestProposalValidity checks the rules of RFC 9420 §12.2 one by one on a
// Commit signed by a genuine member: each is rejected by the receiver with
// ErrInvalid (or ErrUnsupported) and leaves its state unchanged.
func TestProposalValidity(t *testing.T) {
	sts, outsider := threeMembers(t)
	a, b := sts[0], sts[1]
	existing := *b.tree.Leaf(1)
	psk := wire.PreSharedKeyID{Type: wire.PSKExternal, PSKID: []byte("x"), PSKNonce: bytes.Repeat([]byte{1}, 32)}
	badKP := *outsider.kp
	badKP.Signature = bytes.Clone(badKP.Signature)
	badKP.Signature[0] ^= 1
	// A valid KeyPackage of a client already in the group (b's signature
	// key).
	dupKP, _, err := NewKeyPackage(a.suite, rand.Reader, b.sig, existing.Credential, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		list []wire.ProposalOrRef
		want error
	}{
		"committer removes itself": {[]wire.ProposalOrRef{remove(0)}, ErrInvalid},
		"two removes of one leaf":  {[]wire.ProposalOrRef{remove(1), remove(1)}, ErrInvalid},
		"remove of a blank leaf":   {[]wire.ProposalOrRef{remove(3)}, ErrInvalid},
		"update by value": {[]wire.ProposalOrRef{prop(&wire.Proposal{Type: wire.ProposalUpdate,
			Update: &wire.Update{LeafNode: existing}})}, ErrInvalid},
		"two GroupContextExtensions": {[]wire.ProposalOrRef{
			prop(&wire.Proposal{Type: wire.ProposalGroupContextExtensions, GroupContextExtensions: &wire.GroupContextExtensions{}}),
			prop(&wire.Proposal{Type: wire.ProposalGroupContextExtensions, GroupContextExtensions: &wire.GroupContextExtensions{}}),
		}, ErrInvalid},
		"unsupported extension in GroupContextExtensions": {[]wire.ProposalOrRef{
			prop(&wire.Proposal{Type: wire.ProposalGroupContextExtensions, GroupContextExtensions: &wire.GroupContextExtensions{
				Extensions: []wire.Extension{{Type: 0xff00, Data: []byte{}}}}}),
		}, ErrInvalid},
		"same PSK twice": {[]wire.ProposalOrRef{
			prop(&wire.Proposal{Type: wire.ProposalPSK, PreSharedKey: &wire.PreSharedKey{PSK: psk}}),
			prop(&wire.Proposal{Type: wire.ProposalPSK, PreSharedKey: &wire.PreSharedKey{PSK: psk}}),
		}, ErrInvalid},
		"ExternalInit from a member": {[]wire.ProposalOrRef{prop(&wire.Proposal{Type: wire.ProposalExternalInit,
			ExternalInit: &wire.ExternalInit{KEMOutput: []byte{1}}})}, ErrInvalid},
		"ReInit": {[]wire.ProposalOrRef{prop(&wire.Proposal{Type: wire.ProposalReInit,
			ReInit: &wire.ReInit{GroupID: []byte("g"), Version: wire.MLS10, CipherSuite: 1}})}, ErrUnsupported},
		"add with a forged KeyPackage": {[]wire.ProposalOrRef{prop(&wire.Proposal{Type: wire.ProposalAdd,
			Add: &wire.Add{KeyPackage: badKP}})}, ErrAuthentication},
		"add of a client already in the group": {[]wire.ProposalOrRef{prop(&wire.Proposal{Type: wire.ProposalAdd,
			Add: &wire.Add{KeyPackage: *dupKP}})}, ErrInvalid},
		"unknown reference": {[]wire.ProposalOrRef{{Type: wire.ProposalOrRefReference,
			Reference: bytes.Repeat([]byte{7}, 32)}}, ErrInvalid},
		"empty commit without a path": {nil, ErrInvalid},
		"remove without a path":       {[]wire.ProposalOrRef{remove(2)}, ErrInvalid},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			msg := signedCommit(t, a, &wire.Commit{Proposals: c.list})
			before := append([]byte(nil), b.EpochAuthenticator()...)
			_, err := b.Process(msg)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !bytes.Equal(before, b.EpochAuthenticator()) || b.GroupContext().Epoch != 1 {
				t.Fatal("state changed")
			}
		})
	}
}

// signedCommit frames commit from st's member as a PublicMessage of the
// current epoch, with a valid signature and membership tag but an
// arbitrary confirmation tag: the receiver must reject it on the proposals
// before it ever gets to the tag.
func signedCommit(t *testing.T, st *State, commit *wire.Commit) *wire.MLSMessage {
	t.Helper()
	c := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(st.own)},
		AuthenticatedData: []byte{}, ContentType: wire.ContentCommit, Commit: commit}
	fe := st.framingEpoch()
	sig, err := framing.Sign(fe, st.sig, wire.WireFormatPublicMessage, c)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := framing.ProtectPublic(fe, c, wire.FramedContentAuthData{Signature: sig, ConfirmationTag: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPublicMessage, PublicMessage: pm})
	if err != nil {
		t.Fatal(err)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(enc, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestForgedConfirmationTag sends a genuine Commit whose confirmation tag
// was altered (and re-signed, so only the tag is wrong): the receiver
// rejects it with ErrAuthentication after deriving the new epoch, and stays
// in the old one.
func TestForgedConfirmationTag(t *testing.T) {
	sts, _ := threeMembers(t)
	a, b := sts[0], sts[1]
	p, err := a.CreateCommit(nil, []treemath.LeafIndex{2})
	if err != nil {
		t.Fatal(err)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(p.Commit, &m); err != nil {
		t.Fatal(err)
	}
	// Decrypt as b would, then re-frame the same Commit publicly with a
	// wrong tag.
	u, err := framing.Unprotect(b.framingEpoch(), &m, b.memberKey)
	if err != nil {
		t.Fatal(err)
	}
	a.ClearPending()
	msg := signedCommit(t, a, u.Content.Content.Commit)
	if _, err := b.Process(msg); !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "confirmation tag") {
		t.Fatalf("got %v, want ErrAuthentication for the confirmation tag", err)
	}
	if b.GroupContext().Epoch != 1 {
		t.Fatal("state changed")
	}
}
