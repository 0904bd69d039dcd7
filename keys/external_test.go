package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/group"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// vouchedTrio is a vouched group of alice, bob and carol (leaves 0, 1, 2)
// in which bob missed the last Commit (alice's update, which carol
// processed): his Group is one epoch behind.
func vouchedTrio(t testing.TB) (b *backend, alice, bob, carol *member) {
	t.Helper()
	b = newBackend(t)
	alice, bob, carol = &member{id: b.vouch(t, "alice")}, &member{id: b.vouch(t, "bob")}, &member{id: b.vouch(t, "carol")}
	var err error
	if alice.g, err = NewGroup(alice.id, b.cfg()); err != nil {
		t.Fatal(err)
	}
	kpb, kpc := keyPackageCfg(t, bob.id, b.cfg()), keyPackageCfg(t, carol.id, b.cfg())
	c := add(t, alice.g, kpb, kpc)
	if bob.g, err = Join(bob.id, kpb, c.Welcome, b.cfg()); err != nil {
		t.Fatal(err)
	}
	if carol.g, err = Join(carol.id, kpc, c.Welcome, b.cfg()); err != nil {
		t.Fatal(err)
	}
	// Bob misses this one.
	up := add(t, alice.g)
	mustProcess(t, carol.g, up.Message)
	return b, alice, bob, carol
}

func keyPackageCfg(t testing.TB, id *Identity, cfg *Config) *KeyPackage {
	t.Helper()
	kp, err := NewKeyPackage(id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func groupInfo(t testing.TB, g *Group) []byte {
	t.Helper()
	gi, err := g.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	return gi
}

// TestGroupInfoForExternalJoiners: the GroupInfo is signed by its member
// and carries the ratchet_tree and the external_pub derived from the
// epoch's external_secret (RFC 9420 §8.3, §12.4.3.2).
func TestGroupInfoForExternalJoiners(t *testing.T) {
	_, alice, _, _ := vouchedTrio(t)
	var m wire.MLSMessage
	if err := codec.Unmarshal(groupInfo(t, alice.g), &m); err != nil || m.WireFormat != wire.WireFormatGroupInfo {
		t.Fatalf("not a GroupInfo: %v", err)
	}
	gi := m.GroupInfo
	if gi.Signer != alice.g.Self().Leaf {
		t.Fatalf("signer %d", gi.Signer)
	}
	if err := group.VerifyGroupInfo(defaultSuite(), gi, suite.SignaturePublicKey(alice.id.PublicKey())); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var rt, pub []byte
	for _, e := range gi.Extensions {
		switch e.Type {
		case wire.ExtensionRatchetTree:
			rt = e.Data
		case wire.ExtensionExternalPub:
			pub = e.Data
		}
	}
	if want, _ := alice.g.RatchetTree(); !bytes.Equal(rt, want) {
		t.Fatal("ratchet_tree is not the group's tree")
	}
	var ep wire.ExternalPub
	if err := codec.Unmarshal(pub, &ep); err != nil {
		t.Fatalf("external_pub: %v", err)
	}
	priv, err := defaultSuite().DeriveKeyPair(alice.g.testingOnlyEpochSecrets()["external_secret"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.Public(), ep.ExternalPub) {
		t.Fatal("external_pub is not KEM.DeriveKeyPair(external_secret)")
	}
}

// TestExternalResync is the recovery of DESIGN.md: bob missed a Commit, so
// he rejoins from the latest GroupInfo with an external Commit that
// replaces his old leaf. Every member accepts it as a resync; all agree on
// epoch, roster, security code and media keys afterwards.
func TestExternalResync(t *testing.T) {
	b, alice, bob, carol := vouchedTrio(t)
	oldBob := bob.g
	oldLeaf := oldBob.Self().Leaf
	oldKeys, err := alice.g.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}

	g, c, err := JoinExternal(bob.id, groupInfo(t, alice.g), b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if g.Active() || !g.HasPendingCommit() || c.Epoch != alice.g.Epoch()+1 {
		t.Fatalf("pending external join: active %v, pending %v, epoch %d", g.Active(), g.HasPendingCommit(), c.Epoch)
	}
	var m wire.MLSMessage
	if err := codec.Unmarshal(c.Message, &m); err != nil || m.WireFormat != wire.WireFormatPublicMessage ||
		m.PublicMessage.Content.Sender.Type != wire.SenderNewMemberCommit || m.PublicMessage.MembershipTag != nil {
		t.Fatalf("an external Commit is a PublicMessage from new_member_commit without membership tag: %v", err)
	}
	if ps := m.PublicMessage.Content.Commit.Proposals; len(ps) != 2 || ps[0].Proposal.Type != wire.ProposalExternalInit ||
		ps[1].Proposal.Type != wire.ProposalRemove || ps[1].Proposal.Remove.Removed != oldLeaf {
		t.Fatal("the Commit is not ExternalInit + Remove of bob's old leaf")
	}

	for _, o := range []*member{alice, carol} {
		got := mustProcess(t, o.g, c.Message)
		if got.Kind != KindCommit || !got.External || len(got.Added) != 1 || len(got.Removed) != 1 ||
			got.Added[0].Identity != "bob" || got.Removed[0].Identity != "bob" || !got.Added[0].Verified ||
			got.Sender.Identity != "bob" || got.Removed[0].Leaf != oldLeaf {
			t.Fatalf("%s: %+v", o.id.Name(), got)
		}
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	bob.g = g
	agree(t, alice, bob, carol)
	if g.Epoch() != c.Epoch || len(g.Members()) != 3 {
		t.Fatalf("epoch %d, %d members", g.Epoch(), len(g.Members()))
	}
	// Bob's old leaf is gone: its encryption key is nowhere in the tree,
	// and only one leaf names bob.
	n := 0
	for _, mb := range alice.g.Members() {
		if mb.Identity == "bob" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d leaves for bob", n)
	}
	oldEnc := oldBob.st.Tree().Leaf(oldBob.st.OwnLeaf()).EncryptionKey
	alice.g.st.Tree().Members(func(_ treemath.LeafIndex, ln *wire.LeafNode) {
		if bytes.Equal(ln.EncryptionKey, oldEnc) {
			t.Fatal("bob's old leaf is still in the tree")
		}
	})
	// New media keys for the new epoch, and the group works: chat both
	// ways, and bob commits.
	newKeys, _ := alice.g.SFrameKeys()
	if bytes.Equal(newKeys.Own.BaseKey, oldKeys.Own.BaseKey) {
		t.Fatal("media keys did not change")
	}
	chat, err := bob.g.Seal([]byte("back"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustProcess(t, carol.g, chat); string(got.Data) != "back" || got.Sender.Identity != "bob" {
		t.Fatal("carol cannot read bob")
	}
	up := add(t, bob.g)
	mustProcess(t, alice.g, up.Message)
	mustProcess(t, carol.g, up.Message)
	agree(t, alice, bob, carol)
	// The replayed external Commit is for an old epoch.
	if _, err := alice.g.Process(c.Message); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("replay: %v", err)
	}
}

// TestExternalCommitRefused: members accept an external Commit only as a
// vouched member's resync. Every other one is refused by every member with
// ErrInvalid and changes nothing; the genuine resync still works after.
func TestExternalCommitRefused(t *testing.T) {
	b, alice, bob, carol := vouchedTrio(t)
	gi := groupInfo(t, alice.g)
	dave := b.vouch(t, "dave")
	// bob on a new device: a new key, vouched for as bob.
	bob2 := b.vouch(t, "bob")

	cases := []struct {
		name   string
		commit func(t *testing.T) []byte
	}{
		{"unvouched joiner", func(t *testing.T) []byte {
			// A plain credential named bob: JoinExternal without an
			// Authority takes bob's leaf for its own.
			_, c, err := JoinExternal(newIdentity(t, "bob"), gi, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c.Message
		}},
		{"joiner vouched by another backend", func(t *testing.T) []byte {
			_, c, err := JoinExternal(newBackend(t).vouch(t, "bob"), gi, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c.Message
		}},
		{"plain external join (no Remove)", func(t *testing.T) []byte {
			_, c, err := JoinExternal(dave, gi, b.cfg())
			if err != nil {
				t.Fatal(err)
			}
			return removes(t, c.Message, nil)
		}},
		{"joiner removes a leaf of another identity", func(t *testing.T) []byte {
			// dave takes bob's leaf for his own.
			return forgeExternal(t, b, dave, gi, map[string]string{"bob": "dave"}, []uint32{bob.g.Self().Leaf})
		}},
		{"bob removes carol's leaf", func(t *testing.T) []byte {
			return forgeExternal(t, b, bob2, gi, map[string]string{"carol": "bob", "bob": "bob-old"}, []uint32{carol.g.Self().Leaf})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.commit(t)
			for _, o := range []*member{alice, carol} {
				before := snap(t, o.g)
				if _, err := o.g.Process(msg); !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: got %v, want ErrInvalid", o.id.Name(), err)
				}
				if !snap(t, o.g).equal(before) {
					t.Fatalf("%s: state changed", o.id.Name())
				}
			}
		})
	}
	// The genuine resync, from bob's new device, is accepted.
	g, c, err := JoinExternal(bob2, gi, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*member{alice, carol} {
		if got := mustProcess(t, o.g, c.Message); !got.External || got.Removed[0].Leaf != bob.g.Self().Leaf {
			t.Fatalf("%s: %+v", o.id.Name(), got)
		}
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, &member{id: bob2, g: g}, carol)
}

// removes checks which leaves an external Commit removes.
func removes(t *testing.T, msg []byte, want []uint32) []byte {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, p := range m.PublicMessage.Content.Commit.Proposals {
		if p.Proposal.Type == wire.ProposalRemove {
			got = append(got, p.Proposal.Remove.Removed)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the forged Commit removes %v, want %v", got, want)
	}
	return msg
}

// aliasPolicy is a forger's credential policy: the members' own, except
// that it names the leaves whose credential's identity is a key of alias
// by the value, so that JoinExternal takes another member's leaf for the
// joiner's own.
type aliasPolicy struct {
	credentialPolicy
	alias map[string]string
	skip  []byte // the joiner's own signature key: never aliased
}

func (p aliasPolicy) Identity(c *wire.Credential) string {
	id := p.credentialPolicy.Identity(c)
	if a, err := ParseAssertion(c.Identity); err == nil && bytes.Equal(a.SignatureKey, p.skip) {
		return id
	}
	if to, ok := p.alias[id]; ok {
		return to
	}
	return id
}

// forgeExternal makes id's external Commit from gi under aliasPolicy, and
// checks that it removes want.
func forgeExternal(t *testing.T, b *backend, id *Identity, gi []byte, alias map[string]string, want []uint32) []byte {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(gi, &m); err != nil {
		t.Fatal(err)
	}
	cfg := group.Config{Credentials: aliasPolicy{credentialPolicy: b.cfg().policy(), alias: alias, skip: id.PublicKey()}}
	st, err := group.JoinExternal(defaultSuite(), cfg, id.key, id.credential(), m.GroupInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	return removes(t, st.Pending().Commit, want)
}

// TestJoinExternalRefusesGroupInfo: a GroupInfo that is not signed by a
// member, or whose tree is not the one its GroupContext names, or whose
// tree holds a leaf the backend did not vouch for, or that lacks
// external_pub, is refused before anything is built.
func TestJoinExternalRefusesGroupInfo(t *testing.T) {
	b, alice, bob, _ := vouchedTrio(t)
	gi := groupInfo(t, alice.g)
	prevTree, err := bob.g.RatchetTree() // the previous epoch's tree: valid, but not this one
	if err != nil {
		t.Fatal(err)
	}
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)
	mal, err := defaultSuite().ParseSignaturePrivateKey(mallory.Seed())
	if err != nil {
		t.Fatal(err)
	}
	// A lax group (its committer skips the checks) with an unvouched
	// member.
	lax := laxGroup(t, b.vouch(t, "alice"))
	add(t, lax, keyPackage(t, newIdentity(t, "eve")))

	edit := func(f func(gi *wire.GroupInfo), signer *suite.SignaturePrivateKey) []byte {
		var m wire.MLSMessage
		if err := codec.Unmarshal(gi, &m); err != nil {
			t.Fatal(err)
		}
		f(m.GroupInfo)
		if signer != nil {
			if err := group.SignGroupInfo(defaultSuite(), m.GroupInfo, signer); err != nil {
				t.Fatal(err)
			}
		}
		out, err := codec.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	setExt := func(typ wire.ExtensionType, data []byte) func(*wire.GroupInfo) {
		return func(gi *wire.GroupInfo) {
			for i, e := range gi.Extensions {
				if e.Type == typ {
					gi.Extensions[i].Data = data
				}
			}
		}
	}
	dropExt := func(typ wire.ExtensionType) func(*wire.GroupInfo) {
		return func(gi *wire.GroupInfo) {
			gi.Extensions = slices.DeleteFunc(gi.Extensions, func(e wire.Extension) bool { return e.Type == typ })
		}
	}
	for _, c := range []struct {
		name string
		gi   []byte
		want error
	}{
		{"signed by a non-member", edit(func(*wire.GroupInfo) {}, mal), ErrAuthentication},
		{"signer is a blank leaf", edit(func(gi *wire.GroupInfo) { gi.Signer = 7 }, alice.id.key), ErrInvalid},
		{"tampered GroupContext, not re-signed", edit(func(gi *wire.GroupInfo) { gi.GroupContext.ConfirmedTranscriptHash[0] ^= 1 }, nil), ErrAuthentication},
		{"tampered tree, not re-signed", edit(setExt(wire.ExtensionRatchetTree, prevTree), nil), ErrInvalid},
		{"tree of another epoch, signed by a member", edit(setExt(wire.ExtensionRatchetTree, prevTree), alice.id.key), ErrInvalid},
		{"no ratchet_tree", edit(dropExt(wire.ExtensionRatchetTree), alice.id.key), ErrInvalid},
		{"no external_pub", edit(dropExt(wire.ExtensionExternalPub), alice.id.key), ErrInvalid},
		{"invalid external_pub", edit(setExt(wire.ExtensionExternalPub, []byte{1, 0}), alice.id.key), ErrInvalid},
		{"an unvouched leaf", groupInfo(t, lax), ErrInvalid},
		{"a Welcome", nil, ErrMalformed},
		{"garbage", []byte{0, 1, 0, 4, 9}, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.gi
			if in == nil {
				in = kpWelcome(t, alice.g, b)
			}
			g, cm, err := JoinExternal(bob.id, in, b.cfg())
			if !errors.Is(err, c.want) || g != nil || cm != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.Contains(c.name, "external_pub") && !strings.Contains(err.Error(), "external_pub") {
				t.Fatalf("not refused for its external_pub: %v", err)
			}
		})
	}
	// Without the Authority, the lax group's GroupInfo is fine: the
	// refusal above is the credential policy's.
	if _, _, err := JoinExternal(newIdentity(t, "zed"), groupInfo(t, lax), nil); err != nil {
		t.Fatalf("lax GroupInfo without an Authority: %v", err)
	}
}

// kpWelcome returns a Welcome of g's group (a valid MLSMessage that is not
// a GroupInfo).
func kpWelcome(t *testing.T, g *Group, b *backend) []byte {
	t.Helper()
	c, err := g.CreateCommit([][]byte{keyPackageCfg(t, b.vouch(t, "x"), b.cfg()).Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.ClearPendingCommit()
	return c.Welcome
}

// TestExternalJoinPending: until its Commit is merged, a Group of
// JoinExternal is no member: it refuses to act, and clearing the Commit
// erases the secrets of the epoch it would have started.
func TestExternalJoinPending(t *testing.T) {
	b, alice, bob, carol := vouchedTrio(t)
	gi := groupInfo(t, alice.g)
	g, c, err := JoinExternal(bob.id, gi, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if g.Active() || g.Epoch() != alice.g.Epoch() || g.Self().Identity != "bob" {
		t.Fatalf("pending Group: %v", g)
	}
	chat, err := alice.g.Seal([]byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Process(chat); !errors.Is(err, ErrNotMember) {
		t.Fatalf("Process: %v", err)
	}
	if _, err := g.Seal([]byte("x")); !errors.Is(err, ErrNotMember) {
		t.Fatalf("Seal: %v", err)
	}
	if _, err := g.SecurityCode(); !errors.Is(err, ErrNotMember) {
		t.Fatalf("SecurityCode: %v", err)
	}
	if _, err := g.SFrameKeys(); !errors.Is(err, ErrNotMember) {
		t.Fatalf("SFrameKeys: %v", err)
	}
	if _, err := g.GroupInfo(); !errors.Is(err, ErrNotMember) {
		t.Fatalf("GroupInfo: %v", err)
	}
	if _, err := g.CreateCommit(nil, nil); !errors.Is(err, ErrNotMember) {
		t.Fatalf("CreateCommit: %v", err)
	}

	// The delivery service refuses it (carol's Commit won): bob clears.
	secrets := g.st.Pending().TestingOnlyEpochSecrets()
	g.ClearPendingCommit()
	for i, s := range secrets {
		if !allZero(s) {
			t.Fatalf("secret %d of the cleared epoch not zeroed", i)
		}
	}
	if g.HasPendingCommit() || g.Active() {
		t.Fatal("cleared external join")
	}
	if err := g.MergePendingCommit(); !errors.Is(err, ErrPendingCommit) {
		t.Fatalf("merge after clear: %v", err)
	}
	won := add(t, carol.g)
	mustProcess(t, alice.g, won.Message)
	// The members refuse the stale external Commit; bob tries again from
	// the newer GroupInfo.
	if _, err := alice.g.Process(c.Message); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("stale external Commit: %v", err)
	}
	g.Close()
	g, c, err = JoinExternal(bob.id, groupInfo(t, carol.g), b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, alice.g, c.Message)
	mustProcess(t, carol.g, c.Message)
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, &member{id: bob.id, g: g}, carol)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestJoinWithRatchetTree: a Welcome without the ratchet_tree extension
// needs the tree out of band; a wrong tree is refused.
func TestJoinWithRatchetTree(t *testing.T) {
	b := newBackend(t)
	alice, bob := b.vouch(t, "alice"), b.vouch(t, "bob")
	// alice's group leaves the tree out of its Welcomes (RFC 9420
	// §12.4.3.3).
	cfg := b.cfg().internal()
	cfg.RatchetTreeOutOfBand = true
	st, err := group.Create(defaultSuite(), cfg, alice.key, alice.credential(), bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ga := &Group{id: alice, cfg: b.cfg(), st: st}
	add(t, ga, keyPackageCfg(t, b.vouch(t, "carol"), b.cfg()))
	wrongTree, err := ga.RatchetTree()
	if err != nil {
		t.Fatal(err)
	}
	kp := keyPackageCfg(t, bob, b.cfg())
	c := add(t, ga, kp)
	tree, err := ga.RatchetTree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(bob, kp, c.Welcome, b.cfg()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Welcome without a tree: %v", err)
	}
	if _, err := JoinWithRatchetTree(bob, kp, c.Welcome, wrongTree, b.cfg()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong tree: %v", err)
	}
	if _, err := JoinWithRatchetTree(bob, kp, c.Welcome, []byte{0xff}, b.cfg()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed tree: %v", err)
	}
	gb, err := JoinWithRatchetTree(bob, kp, c.Welcome, tree, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if code(t, gb) != code(t, ga) || len(gb.Members()) != 3 {
		t.Fatal("bob does not agree with alice")
	}
	// A Welcome with the tree, and a tree out of band as well, is
	// ambiguous.
	gn, err := NewGroup(b.vouch(t, "erin"), b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	kp2 := keyPackageCfg(t, b.vouch(t, "dave"), b.cfg())
	c2 := add(t, gn, kp2)
	tree2, err := gn.RatchetTree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := JoinWithRatchetTree(kp2.id, kp2, c2.Welcome, tree2, b.cfg()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two trees: %v", err)
	}
}
