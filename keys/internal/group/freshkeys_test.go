package group

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/tree"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// forgeCommit builds, from st's member, the Commit covering list that an
// honest committer would build, except that the proposals are applied to
// the tree by apply instead of being validated, and the UpdatePath's
// randomness comes from rnd. The result is a PublicMessage with a valid
// signature, membership tag, path encryptions and confirmation tag: a
// receiver that rejects it does so for what apply or rnd put in it.
//
// apply may also change the committer's own leaf in the tree it is given
// (the committer's tree only): a receiver merges the same path into the
// same tree either way, since the UpdatePath replaces that leaf and its
// direct path, and parent hashes depend on neither.
func forgeCommit(t *testing.T, st *State, rnd io.Reader, list []wire.ProposalOrRef, apply func(*tree.Tree)) *wire.MLSMessage {
	t.Helper()
	f := st.TestingOnlyImpersonate(st.own, st.sig)
	f.cfg.Rand = rnd
	a := &applied{tree: st.tree.Clone(), extensions: st.gc.Extensions}
	if apply != nil {
		apply(a.tree)
	}
	up, err := createPath(f, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer clear(up.commitSecret)
	wf := wire.WireFormatPublicMessage
	content := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(st.own)},
		AuthenticatedData: []byte{}, ContentType: wire.ContentCommit,
		Commit: &wire.Commit{Proposals: list, Path: up.path}}
	fe := f.framingEpoch()
	sig, err := framing.Sign(fe, f.sig, wf, content)
	if err != nil {
		t.Fatal(err)
	}
	next, joiner, psk, tag, err := f.nextEpoch(a, f.epoch.Init, f.own, wf, content, sig, up.commitSecret, up.ps)
	if err != nil {
		t.Fatal(err)
	}
	next.erase()
	joiner.Erase()
	psk.Erase()
	pm, err := framing.ProtectPublic(fe, content, wire.FramedContentAuthData{Signature: sig, ConfirmationTag: tag})
	if err != nil {
		t.Fatal(err)
	}
	return reencode(t, &wire.MLSMessage{Version: wire.MLS10, WireFormat: wf, PublicMessage: pm})
}

// signedProposal frames p from st's member as a PublicMessage.
func signedProposal(t *testing.T, st *State, p *wire.Proposal) *wire.MLSMessage {
	t.Helper()
	c := &wire.FramedContent{GroupID: st.gc.GroupID, Epoch: st.gc.Epoch,
		Sender:            wire.Sender{Type: wire.SenderMember, LeafIndex: uint32(st.own)},
		AuthenticatedData: []byte{}, ContentType: wire.ContentProposal, Proposal: p}
	fe := st.framingEpoch()
	sig, err := framing.Sign(fe, st.sig, wire.WireFormatPublicMessage, c)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := framing.ProtectPublic(fe, c, wire.FramedContentAuthData{Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	return reencode(t, &wire.MLSMessage{Version: wire.MLS10, WireFormat: wire.WireFormatPublicMessage, PublicMessage: pm})
}

func reencode(t testing.TB, m *wire.MLSMessage) *wire.MLSMessage {
	t.Helper()
	enc, err := codec.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out wire.MLSMessage
	if err := codec.Unmarshal(enc, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// stateSnapshot is what a rejected message must leave unchanged.
func stateSnapshot(t testing.TB, st *State) []byte {
	t.Helper()
	rt := st.tree.RatchetTree()
	enc, err := codec.Marshal(&rt)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(st.gcBytes), enc...)
	out = append(out, st.EpochAuthenticator()...)
	return append(out, st.interim...)
}

// seededGroup returns a group of three (leaves 0, 1, 2) in which member 1
// joined with a KeyPackage whose leaf key was derived from the returned
// seed, so that a test can make member 1 "generate" that key again.
func seededGroup(t *testing.T) (sts []*State, leafSeed []byte) {
	s := suite1(t)
	a, c := newClient(t, s, "a"), newClient(t, s, "c")
	b := newClient(t, s, "b")
	initSeed, leafSeed := make([]byte, 32), make([]byte, 32)
	rand.Read(initSeed)
	rand.Read(leafSeed)
	now := time.Now()
	var err error
	b.kp, b.kps, err = NewKeyPackage(s, io.MultiReader(bytes.NewReader(initSeed), bytes.NewReader(leafSeed)), b.sig,
		wire.Credential{Type: wire.CredentialBasic, Identity: []byte("b")}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.st, err = Create(s, Config{}, a.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("a")}, []byte("g")); err != nil {
		t.Fatal(err)
	}
	p, err := a.st.CreateCommit([]*wire.KeyPackage{b.kp, c.kp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.st.MergePending(); err != nil {
		t.Fatal(err)
	}
	b.join(t, p.Welcome)
	c.join(t, p.Welcome)
	if b.st.OwnLeaf() != 1 {
		t.Fatalf("b joined at leaf %d", b.st.OwnLeaf())
	}
	return []*State{a.st, b.st, c.st}, leafSeed
}

// TestCommitKeepsLeafKey sends a Commit, complete and correctly signed and
// MACed, whose UpdatePath leaf keeps the committer's encryption key (RFC
// 9420 §12.4.2: "Verify that the encryption_key value in the LeafNode is
// different from the committer's current leaf node"). The receivers reject
// it with ErrInvalid and change nothing; the same Commit with a fresh key
// is accepted.
func TestCommitKeepsLeafKey(t *testing.T) {
	sts, leafSeed := seededGroup(t)
	b := sts[1]
	oldKey := b.tree.Leaf(1).EncryptionKey
	// b's tree as b's forger sees it: b's leaf holds another key, so that
	// the committer-side freshness check does not stop the forgery. The
	// receivers' trees are the real ones.
	other, err := b.suite.GenerateHPKEKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	disguise := func(tr *tree.Tree) {
		ln := *tr.Leaf(1)
		ln.EncryptionKey = wire.HPKEPublicKey(other.Public())
		if err := tr.UpdateLeaf(1, &ln); err != nil {
			t.Fatal(err)
		}
	}
	stale := forgeCommit(t, b, io.MultiReader(bytes.NewReader(leafSeed), rand.Reader), nil, disguise)
	if got := stale.PublicMessage.Content.Commit.Path.LeafNode.EncryptionKey; !bytes.Equal(got, oldKey) {
		t.Fatal("the forged path does not keep b's leaf key")
	}
	for _, r := range []*State{sts[0], sts[2]} {
		before := stateSnapshot(t, r)
		_, err := r.Process(stale)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "keeps the encryption key") {
			t.Fatalf("leaf %d: Commit keeping the leaf key: %v, want ErrInvalid", r.own, err)
		}
		if !bytes.Equal(stateSnapshot(t, r), before) {
			t.Fatalf("leaf %d: a rejected Commit changed the state", r.own)
		}
	}
	// The control: the same forgery with a fresh leaf key is accepted.
	fresh := forgeCommit(t, b, rand.Reader, nil, disguise)
	for _, r := range []*State{sts[0], sts[2]} {
		if _, err := r.Process(fresh); err != nil {
			t.Fatalf("leaf %d: Commit with a fresh leaf key: %v", r.own, err)
		}
	}
	sameEpoch(t, sts[0], sts[2])
}

// TestUpdateKeepsLeafKey sends an Update proposal whose leaf node keeps the
// sender's encryption key (RFC 9420 §7.3: the encryption_key must represent
// "a different public key than the encryption_key in the leaf node being
// replaced by the Update proposal"), and a complete Commit covering it by
// reference. The receiver rejects the Commit with ErrInvalid and changes
// nothing; the same exchange with a fresh key is accepted.
func TestUpdateKeepsLeafKey(t *testing.T) {
	for _, keep := range []bool{true, false} {
		sts, _ := threeMembers(t)
		a, b, c := sts[0], sts[1], sts[2]
		ln := *b.tree.Leaf(1)
		ln.Source = wire.SourceUpdate
		ln.Lifetime = wire.Lifetime{}
		if !keep {
			k, err := b.suite.GenerateHPKEKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ln.EncryptionKey = wire.HPKEPublicKey(k.Public())
		}
		if err := SignLeafNode(b.suite, &ln, b.sig, b.gc.GroupID, 1); err != nil {
			t.Fatal(err)
		}
		prop := signedProposal(t, b, &wire.Proposal{Type: wire.ProposalUpdate, Update: &wire.Update{LeafNode: ln}})
		for _, r := range []*State{a, c} {
			if _, err := r.Process(prop); err != nil {
				t.Fatalf("leaf %d caches the Update: %v", r.own, err)
			}
		}
		list := []wire.ProposalOrRef{{Type: wire.ProposalOrRefReference, Reference: c.proposals[0].ref}}
		commit := forgeCommit(t, a, rand.Reader, list, func(tr *tree.Tree) {
			if err := tr.UpdateLeaf(1, &ln); err != nil {
				t.Fatal(err)
			}
		})
		before := stateSnapshot(t, c)
		_, err := c.Process(commit)
		if !keep {
			if err != nil {
				t.Fatalf("Commit of an Update with a fresh key: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "keeps the encryption key") {
			t.Fatalf("Commit of an Update keeping the leaf key: %v, want ErrInvalid", err)
		}
		if !bytes.Equal(stateSnapshot(t, c), before) {
			t.Fatal("a rejected Commit changed the state")
		}
	}
}

// TestCreateCommitRepeatingRand checks that a member whose random source
// repeats itself cannot send a Commit that keeps its leaf key: CreateCommit
// fails and nothing is pending.
func TestCreateCommitRepeatingRand(t *testing.T) {
	s := suite1(t)
	a := newClient(t, s, "a")
	zeros := Config{Rand: zeroReader{}}
	st, err := Create(s, zeros, a.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("a")}, []byte("g"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCommit(nil, nil); err == nil {
		t.Fatal("CreateCommit kept the leaf key")
	}
	if st.Pending() != nil || st.GroupContext().Epoch != 0 {
		t.Fatal("a failed CreateCommit changed the state")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
