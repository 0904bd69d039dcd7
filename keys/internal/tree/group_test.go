package tree

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// A testGroup drives a tree through Adds, Removes and Commits the way the
// group layer will, with real keys, so that TreeKEM can be tested beyond
// the vectors and benchmarked at large sizes.
type testGroup struct {
	s       *suite.Suite
	groupID []byte
	epoch   uint64
	tree    *Tree
	members map[treemath.LeafIndex]*testMember
	// full makes every member decrypt every Commit; without it only the
	// committers' own state is kept (for building large trees quickly).
	full bool
}

type testMember struct {
	sig  *suite.SignaturePrivateKey
	leaf *wire.LeafNode
	priv *PrivateTree
	enc  *suite.HPKEPrivateKey // key of the KeyPackage leaf, until the Welcome
}

// newTestMember returns a member with a signed key_package leaf node.
func newTestMember(t testing.TB, s *suite.Suite, name string) *testMember {
	t.Helper()
	sig, err := s.GenerateSignatureKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := s.GenerateHPKEKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln := &wire.LeafNode{
		EncryptionKey: wire.HPKEPublicKey(enc.Public()),
		SignatureKey:  wire.SignaturePublicKey(sig.Public()),
		Credential:    wire.Credential{Type: wire.CredentialBasic, Identity: []byte(name)},
		Capabilities: wire.Capabilities{
			Versions:     []wire.ProtocolVersion{wire.MLS10},
			CipherSuites: []wire.CipherSuite{wire.CipherSuite(s.ID())},
			Credentials:  []wire.CredentialType{wire.CredentialBasic},
		},
		Source:     wire.SourceKeyPackage,
		Lifetime:   wire.Lifetime{NotBefore: 0, NotAfter: math.MaxUint64},
		Extensions: []wire.Extension{},
	}
	tbs, err := ln.LeafNodeTBS(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ln.Signature, err = s.SignWithLabel(sig, "LeafNodeTBS", tbs); err != nil {
		t.Fatal(err)
	}
	return &testMember{sig: sig, leaf: ln, enc: enc}
}

func newTestGroup(t testing.TB, full bool) *testGroup {
	s := suite1(t)
	m := newTestMember(t, s, "member 0")
	g := &testGroup{s: s, groupID: []byte("test group"), tree: New(s, m.leaf), members: map[treemath.LeafIndex]*testMember{}, full: full}
	m.priv = NewPrivateTree(s, 0, m.enc)
	g.members[0] = m
	return g
}

// groupContext encodes the provisional GroupContext of the next epoch.
func (g *testGroup) groupContext(treeHash []byte) ([]byte, error) {
	return codec.Marshal(&wire.GroupContext{
		Version: wire.MLS10, CipherSuite: wire.CipherSuite(g.s.ID()), GroupID: g.groupID,
		Epoch: g.epoch + 1, TreeHash: treeHash, ConfirmedTranscriptHash: []byte("cth"),
		Extensions: []wire.Extension{},
	})
}

// add applies an Add proposal for a new member and returns its leaf.
func (g *testGroup) add(t testing.TB) treemath.LeafIndex {
	t.Helper()
	m := newTestMember(t, g.s, fmt.Sprintf("member %d", len(g.members)))
	if err := g.tree.ValidateLeafNode(m.leaf, LeafNodeCheck{Source: wire.SourceKeyPackage}); err != nil {
		t.Fatalf("new member's leaf: %v", err)
	}
	l, err := g.tree.AddLeaf(m.leaf)
	if err != nil {
		t.Fatal(err)
	}
	g.members[l] = m
	return l
}

// remove applies a Remove proposal.
func (g *testGroup) remove(t testing.TB, l treemath.LeafIndex) {
	t.Helper()
	if err := g.tree.RemoveLeaf(l); err != nil {
		t.Fatal(err)
	}
	g.members[l].priv.Erase()
	delete(g.members, l)
}

// commit has committer send an UpdatePath (after the proposals already
// applied to g.tree, which added the leaves in added), has every other
// member process it (if g.full), gives the new members their path secret
// as a Welcome would, and returns the encoded UpdatePath.
func (g *testGroup) commit(t testing.TB, committer treemath.LeafIndex, added []treemath.LeafIndex) []byte {
	t.Helper()
	before := g.tree.Clone()
	c := g.members[committer]
	path, ps, commitSecret, err := g.tree.CreateUpdatePath(committer, UpdatePathParams{
		LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, Exclude: added, GroupContext: g.groupContext,
	})
	if err != nil {
		t.Fatalf("CreateUpdatePath: %v", err)
	}
	encoded, err := codec.Marshal(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.full {
		var received wire.UpdatePath
		if err := codec.Unmarshal(encoded, &received); err != nil {
			t.Fatal(err)
		}
		merged := before
		if err := merged.MergeUpdatePath(committer, &received, g.groupID, nil); err != nil {
			t.Fatalf("MergeUpdatePath: %v", err)
		}
		if !bytes.Equal(encodeTree(t, merged), encodeTree(t, g.tree)) {
			t.Fatal("receivers' tree differs from the committer's")
		}
		th, _ := merged.TreeHash()
		ctx, _ := g.groupContext(th)
		for l, m := range g.members {
			if l == committer || containsLeaf(added, l) {
				continue
			}
			nps, cs, err := m.priv.DecryptUpdatePath(merged, committer, &received, added, ctx)
			if err != nil {
				t.Fatalf("leaf %d processing the commit of leaf %d: %v", l, committer, err)
			}
			if !bytes.Equal(cs, commitSecret) {
				t.Fatalf("leaf %d derived another commit secret", l)
			}
			if err := m.priv.Apply(g.tree, nps); err != nil {
				t.Fatalf("leaf %d: %v", l, err)
			}
		}
	}
	// Welcome: each new member gets the path secret of its lowest common
	// ancestor with the committer.
	for _, l := range added {
		m := g.members[l]
		m.priv = NewPrivateTree(g.s, l, m.enc)
		lca := treemath.CommonAncestor(l.Node(), committer.Node())
		secret := ps.PathSecret(lca)
		if secret == nil {
			t.Fatalf("no path secret for node %d", lca)
		}
		if err := m.priv.ImplantPathSecret(g.tree, lca, secret); err != nil {
			t.Fatalf("leaf %d joining: %v", l, err)
		}
	}
	c.leaf = g.tree.Leaf(committer)
	if err := c.priv.Apply(g.tree, ps); err != nil {
		t.Fatalf("committer: %v", err)
	}
	g.epoch++
	return encoded
}

// buildTestGroup grows a group to n members: member i-1 commits the Add
// of member i, as in the RFC vectors' get_tree(n).
func buildTestGroup(t testing.TB, n int, full bool) *testGroup {
	g := newTestGroup(t, full)
	for i := 1; i < n; i++ {
		l := g.add(t)
		g.commit(t, l-1, []treemath.LeafIndex{l})
	}
	return g
}

// TestGroupLifecycle runs TreeKEM through Adds (several per Commit),
// Removes in the middle and at the right edge (truncation), and Commits
// from many positions, with every member decrypting every Commit and the
// joiners using their Welcome path secrets, and checks every member's
// private state and the tree's validity after each step.
func TestGroupLifecycle(t *testing.T) {
	g := buildTestGroup(t, 5, true)
	check := func(step string) {
		t.Helper()
		if err := g.tree.Validate(g.groupID, nil); err != nil {
			t.Fatalf("%s: tree invalid: %v", step, err)
		}
		for l, m := range g.members {
			if err := m.priv.Check(g.tree); err != nil {
				t.Fatalf("%s: leaf %d: %v", step, l, err)
			}
		}
	}
	check("build")
	// Two Adds in one Commit from leaf 2.
	a, b := g.add(t), g.add(t)
	g.commit(t, 2, []treemath.LeafIndex{a, b})
	check("two adds")
	// A Remove in the middle, committed by the last leaf.
	g.remove(t, 1)
	g.commit(t, b, nil)
	check("remove leaf 1")
	// An Add fills the blank leaf 1.
	if l := g.add(t); l != 1 {
		t.Fatalf("add went to leaf %d, want the leftmost blank leaf 1", l)
	}
	g.commit(t, 0, []treemath.LeafIndex{1})
	check("refill leaf 1")
	// Remove the right edge until the tree shrinks.
	n := g.tree.LeafCount()
	for l := treemath.LeafIndex(n - 1); l >= 4; l-- {
		if g.tree.Leaf(l) != nil {
			g.remove(t, l)
		}
	}
	if g.tree.LeafCount() != 4 {
		t.Fatalf("tree has %d leaves after removing leaves 4 and up, want 4", g.tree.LeafCount())
	}
	g.commit(t, 3, nil)
	check("truncated")
	// An Update proposal from leaf 2, committed by leaf 0: leaf 2 swaps in
	// its new leaf key once the Commit is accepted.
	upKey, err := g.s.GenerateHPKEKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	up := *g.tree.Leaf(2)
	up.Source = wire.SourceUpdate
	up.EncryptionKey = wire.HPKEPublicKey(upKey.Public())
	tbs, _ := up.LeafNodeTBS(g.groupID, 2)
	up.Signature, _ = g.s.SignWithLabel(g.members[2].sig, "LeafNodeTBS", tbs)
	if err := g.tree.ValidateLeafNode(&up, LeafNodeCheck{GroupID: g.groupID, Leaf: 2, Replaces: true, Source: wire.SourceUpdate}); err != nil {
		t.Fatal(err)
	}
	if err := g.tree.UpdateLeaf(2, &up); err != nil {
		t.Fatal(err)
	}
	g.members[2].priv.SetLeafKey(upKey)
	g.members[2].leaf = &up
	g.commit(t, 0, nil)
	check("update from leaf 2")
	// Every member commits once.
	for l := range g.members {
		g.commit(t, l, nil)
		check(fmt.Sprintf("commit from %d", l))
	}
}

// TestUpdatePathRejects checks that a damaged UpdatePath is refused before
// the tree changes, and that a receiver cannot be fooled into deriving
// keys that do not match the path.
func TestUpdatePathRejects(t *testing.T) {
	g := buildTestGroup(t, 6, true)
	c := g.members[2]
	fresh := func() (*Tree, *wire.UpdatePath) {
		committerTree := g.tree.Clone()
		path, ps, _, err := committerTree.CreateUpdatePath(2, UpdatePathParams{
			LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext,
		})
		if err != nil {
			t.Fatal(err)
		}
		ps.Erase()
		return committerTree, path
	}
	otherKey := func() wire.HPKEPublicKey {
		k, _ := g.s.GenerateHPKEKey(rand.Reader)
		return wire.HPKEPublicKey(k.Public())
	}
	cases := map[string]func(p *wire.UpdatePath){
		"node key replaced": func(p *wire.UpdatePath) { p.Nodes[1].EncryptionKey = otherKey() },
		"node missing":      func(p *wire.UpdatePath) { p.Nodes = p.Nodes[:len(p.Nodes)-1] },
		"leaf parent hash": func(p *wire.UpdatePath) {
			p.LeafNode.ParentHash = bytes.Clone(p.LeafNode.ParentHash)
			p.LeafNode.ParentHash[0] ^= 1
		},
		"leaf key replaced":       func(p *wire.UpdatePath) { p.LeafNode.EncryptionKey = otherKey() },
		"leaf source update":      func(p *wire.UpdatePath) { p.LeafNode.Source = wire.SourceUpdate },
		"duplicate key":           func(p *wire.UpdatePath) { p.Nodes[0].EncryptionKey = g.tree.Leaf(5).EncryptionKey },
		"node key is leaf key":    func(p *wire.UpdatePath) { p.Nodes[0].EncryptionKey = p.LeafNode.EncryptionKey },
		"invalid node public key": func(p *wire.UpdatePath) { p.Nodes[0].EncryptionKey = []byte{1, 2, 3} },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			_, path := fresh()
			damage(path)
			tr := g.tree.Clone()
			before := encodeTree(t, tr)
			if err := tr.MergeUpdatePath(2, path, g.groupID, nil); err == nil {
				t.Fatal("MergeUpdatePath accepted a damaged path")
			}
			if !bytes.Equal(encodeTree(t, tr), before) {
				t.Fatal("a rejected path changed the tree")
			}
		})
	}
	t.Run("wrong group", func(t *testing.T) {
		_, path := fresh()
		if err := g.tree.Clone().MergeUpdatePath(2, path, []byte("other group"), nil); err == nil {
			t.Fatal("MergeUpdatePath accepted a leaf signed for another group")
		}
	})
	t.Run("wrong context", func(t *testing.T) {
		committerTree, path := fresh()
		merged := g.tree.Clone()
		if err := merged.MergeUpdatePath(2, path, g.groupID, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encodeTree(t, merged), encodeTree(t, committerTree)) {
			t.Fatal("trees differ")
		}
		if _, _, err := g.members[0].priv.DecryptUpdatePath(merged, 2, path, nil, []byte("another context")); err == nil {
			t.Fatal("decrypted with the wrong GroupContext")
		}
	})
	t.Run("swapped ciphertexts", func(t *testing.T) {
		_, path := fresh()
		merged := g.tree.Clone()
		if err := merged.MergeUpdatePath(2, path, g.groupID, nil); err != nil {
			t.Fatal(err)
		}
		th, _ := merged.TreeHash()
		ctx, _ := g.groupContext(th)
		// In a tree of 8 leaves, leaf 2's filtered direct path is nodes 5, 3
		// and 7, and leaf 0 decrypts the secret of node 3 (Nodes[1]). Give
		// it the ciphertext made for node 5's copath instead.
		if fdp := merged.FilteredDirectPath(2); len(fdp) != 3 || fdp[1] != 3 {
			t.Fatalf("filtered direct path of leaf 2 = %v", fdp)
		}
		path.Nodes[1].EncryptedPathSecret[0] = path.Nodes[0].EncryptedPathSecret[0]
		if _, _, err := g.members[0].priv.DecryptUpdatePath(merged, 2, path, nil, ctx); err == nil {
			t.Fatal("decrypted a ciphertext meant for another node")
		}
	})
}

// TestSecretsNotPrinted checks that private state never reaches a log line.
func TestSecretsNotPrinted(t *testing.T) {
	g := buildTestGroup(t, 3, true)
	p := g.members[0].priv
	var secrets [][]byte
	for _, n := range p.path {
		secrets = append(secrets, n.secret)
	}
	if len(secrets) == 0 {
		t.Fatal("member 0 holds no path secrets")
	}
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %x %s", p, p, p, p, p), fmt.Sprintf("%#v", *p)} {
		for _, sec := range secrets {
			if bytes.Contains([]byte(s), sec) || bytes.Contains([]byte(s), []byte(fmt.Sprintf("%x", sec))) {
				t.Fatalf("formatted PrivateTree contains a path secret: %s", s)
			}
		}
	}
	// Erase zeroes the secrets in place.
	p.Erase()
	for _, sec := range secrets {
		if !bytes.Equal(sec, make([]byte, len(sec))) {
			t.Fatal("Erase left a path secret in memory")
		}
	}
}

// TestValidateLeafNode checks the §7.3 rules that the vectors do not reach:
// source, lifetime, capabilities, required capabilities, credential support
// and duplicate keys.
func TestValidateLeafNode(t *testing.T) {
	g := buildTestGroup(t, 3, false)
	s := g.s
	resign := func(ln *wire.LeafNode, sig *suite.SignaturePrivateKey) {
		tbs, err := ln.LeafNodeTBS(nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ln.Signature, err = s.SignWithLabel(sig, "LeafNodeTBS", tbs); err != nil {
			t.Fatal(err)
		}
	}
	now := func() time.Time { return time.Unix(1_000_000, 0) }
	check := LeafNodeCheck{Leaf: 3, Source: wire.SourceKeyPackage, Now: now}
	m := newTestMember(t, s, "new")
	if err := g.tree.ValidateLeafNode(m.leaf, check); err != nil {
		t.Fatalf("valid leaf: %v", err)
	}
	cases := map[string]struct {
		change func(ln *wire.LeafNode)
		check  LeafNodeCheck
	}{
		"expired":             {func(ln *wire.LeafNode) { ln.Lifetime.NotAfter = 999_999 }, check},
		"not yet valid":       {func(ln *wire.LeafNode) { ln.Lifetime.NotBefore = 1_000_001 }, check},
		"wrong source":        {func(ln *wire.LeafNode) {}, LeafNodeCheck{Leaf: 3, Source: wire.SourceUpdate}},
		"no mls10":            {func(ln *wire.LeafNode) { ln.Capabilities.Versions = []wire.ProtocolVersion{2} }, check},
		"no suite":            {func(ln *wire.LeafNode) { ln.Capabilities.CipherSuites = []wire.CipherSuite{3} }, check},
		"own credential":      {func(ln *wire.LeafNode) { ln.Capabilities.Credentials = []wire.CredentialType{wire.CredentialX509} }, check},
		"unlisted extension":  {func(ln *wire.LeafNode) { ln.Extensions = []wire.Extension{{Type: 0xff00, Data: []byte{}}} }, check},
		"required extension":  {func(ln *wire.LeafNode) {}, LeafNodeCheck{Leaf: 3, Required: &wire.RequiredCapabilities{ExtensionTypes: []wire.ExtensionType{0xff00}}}},
		"required proposal":   {func(ln *wire.LeafNode) {}, LeafNodeCheck{Leaf: 3, Required: &wire.RequiredCapabilities{ProposalTypes: []wire.ProposalType{0xff00}}}},
		"required credential": {func(ln *wire.LeafNode) {}, LeafNodeCheck{Leaf: 3, Required: &wire.RequiredCapabilities{CredentialTypes: []wire.CredentialType{wire.CredentialX509}}}},
		"members lack x509": {func(ln *wire.LeafNode) {
			ln.Credential = wire.Credential{Type: wire.CredentialX509, Certificates: [][]byte{{1}}}
			ln.Capabilities.Credentials = []wire.CredentialType{wire.CredentialBasic, wire.CredentialX509}
		}, check},
		"duplicate enc key":    {func(ln *wire.LeafNode) { ln.EncryptionKey = g.tree.Leaf(1).EncryptionKey }, check},
		"duplicate sig key":    {func(ln *wire.LeafNode) { ln.SignatureKey = g.tree.Leaf(1).SignatureKey }, check},
		"invalid enc key":      {func(ln *wire.LeafNode) { ln.EncryptionKey = []byte{1} }, check},
		"unknown source value": {func(ln *wire.LeafNode) { ln.Source = 9 }, LeafNodeCheck{Leaf: 3}},
		"extension twice": {func(ln *wire.LeafNode) {
			ln.Extensions = []wire.Extension{{Type: wire.ExtensionApplicationID, Data: []byte{0}}, {Type: wire.ExtensionApplicationID, Data: []byte{0}}}
		}, check},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := newTestMember(t, s, "new")
			ln := *m.leaf
			c.change(&ln)
			if ln.Source == wire.SourceKeyPackage {
				resign(&ln, m.sig)
			}
			if err := g.tree.ValidateLeafNode(&ln, c.check); !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateLeafNode = %v, want ErrInvalid", err)
			}
		})
	}
	// The signature key is checked: a leaf signed with another key fails.
	m2 := newTestMember(t, s, "new")
	ln := *m.leaf
	resign(&ln, m2.sig)
	if err := g.tree.ValidateLeafNode(&ln, check); !errors.Is(err, ErrInvalid) {
		t.Fatalf("leaf signed by another key: %v", err)
	}
	// An update leaf binds its position: valid at its own leaf only.
	up := *g.tree.Leaf(1)
	up.Source = wire.SourceUpdate
	up.EncryptionKey = wire.HPKEPublicKey(m2.leaf.EncryptionKey)
	tbs, _ := up.LeafNodeTBS(g.groupID, 1)
	up.Signature, _ = s.SignWithLabel(g.members[1].sig, "LeafNodeTBS", tbs)
	if err := g.tree.ValidateLeafNode(&up, LeafNodeCheck{GroupID: g.groupID, Leaf: 1, Replaces: true, Source: wire.SourceUpdate}); err != nil {
		t.Fatalf("valid update leaf: %v", err)
	}
	// Signed for position 2, presented at position 1: only the signature
	// differs.
	tbs, _ = up.LeafNodeTBS(g.groupID, 2)
	up.Signature, _ = s.SignWithLabel(g.members[1].sig, "LeafNodeTBS", tbs)
	if err := g.tree.ValidateLeafNode(&up, LeafNodeCheck{GroupID: g.groupID, Leaf: 1, Replaces: true, Source: wire.SourceUpdate}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("update leaf signed for another position: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// TestCreateUpdatePathRand checks that all randomness comes from the
// injected reader: equal seeds give byte-identical UpdatePaths, different
// seeds different ones, and a failing reader leaves the tree unchanged.
func TestCreateUpdatePathRand(t *testing.T) {
	g := buildTestGroup(t, 5, false)
	c := g.members[3]
	create := func(r io.Reader) ([]byte, error) {
		tr := g.tree.Clone()
		path, ps, cs, err := tr.CreateUpdatePath(3, UpdatePathParams{Rand: r, LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext})
		if err != nil {
			return nil, err
		}
		ps.Erase()
		clear(cs)
		return codec.Marshal(path)
	}
	var seed [32]byte
	a, err := create(mrand.NewChaCha8(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := create(mrand.NewChaCha8(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("equal seeds gave different UpdatePaths")
	}
	seed[0] = 1
	if d, _ := create(mrand.NewChaCha8(seed)); bytes.Equal(a, d) {
		t.Fatal("different seeds gave the same UpdatePath")
	}
	before := encodeTree(t, g.tree)
	tr := g.tree.Clone()
	if _, _, _, err := tr.CreateUpdatePath(3, UpdatePathParams{Rand: failingReader{}, LeafNode: c.leaf, SignatureKey: c.sig, GroupID: g.groupID, GroupContext: g.groupContext}); err == nil {
		t.Fatal("CreateUpdatePath succeeded without randomness")
	}
	if !bytes.Equal(encodeTree(t, tr), before) {
		t.Fatal("a failed CreateUpdatePath changed the tree")
	}
}
