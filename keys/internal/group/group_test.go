package group

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

type client struct {
	name string
	sig  *suite.SignaturePrivateKey
	kp   *wire.KeyPackage
	kps  *KeyPackageSecrets
	st   *State
}

func newClient(t testing.TB, s *suite.Suite, name string) *client {
	t.Helper()
	sig, err := s.GenerateSignatureKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{name: name, sig: sig}
	now := time.Now()
	c.kp, c.kps, err = NewKeyPackage(s, rand.Reader, sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte(name)}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func suite1(t testing.TB) *suite.Suite {
	s, err := suite.ByID(1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *client) join(t testing.TB, welcome []byte) {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(welcome, &m); err != nil {
		t.Fatal(err)
	}
	st, err := Join(c.st0suite(), Config{}, c.sig, c.kp, c.kps, m.Welcome, nil)
	if err != nil {
		t.Fatalf("%s joins: %v", c.name, err)
	}
	c.st = st
}

func (c *client) st0suite() *suite.Suite { s, _ := suite.ByID(1); return s }

func process(t testing.TB, st *State, msg []byte) (*Processed, error) {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(msg, &m); err != nil {
		return nil, err
	}
	return st.Process(&m)
}

func sameEpoch(t *testing.T, sts ...*State) {
	t.Helper()
	for _, st := range sts[1:] {
		if st.GroupContext().Epoch != sts[0].GroupContext().Epoch || !bytes.Equal(st.EpochAuthenticator(), sts[0].EpochAuthenticator()) {
			t.Fatalf("members disagree on epoch %d", sts[0].GroupContext().Epoch)
		}
	}
}

func TestGroupLifecycle(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			s := suite1(t)
			alice := newClient(t, s, "alice")
			var err error
			alice.st, err = Create(s, Config{PublicCommits: public}, alice.sig, wire.Credential{Type: wire.CredentialBasic, Identity: []byte("alice")}, []byte("group"))
			if err != nil {
				t.Fatal(err)
			}
			bob, carol := newClient(t, s, "bob"), newClient(t, s, "carol")

			// Alice adds Bob and Carol in one Commit.
			p, err := alice.st.CreateCommit([]*wire.KeyPackage{bob.kp, carol.kp}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if alice.st.GroupContext().Epoch != 0 {
				t.Fatal("CreateCommit moved the epoch")
			}
			if err := alice.st.MergePending(); err != nil {
				t.Fatal(err)
			}
			bob.join(t, p.Welcome)
			carol.join(t, p.Welcome)
			sameEpoch(t, alice.st, bob.st, carol.st)

			// Bob updates; the others follow.
			p, err = bob.st.CreateCommit(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*client{alice, carol} {
				if _, err := process(t, c.st, p.Commit); err != nil {
					t.Fatalf("%s processes Bob's update: %v", c.name, err)
				}
			}
			if err := bob.st.MergePending(); err != nil {
				t.Fatal(err)
			}
			sameEpoch(t, alice.st, bob.st, carol.st)

			// Application data.
			msg, err := carol.st.Seal([]byte("hello"), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*client{alice, bob} {
				r, err := process(t, c.st, msg)
				if err != nil || string(r.Data) != "hello" || r.Sender != carol.st.OwnLeaf() {
					t.Fatalf("%s reads Carol's message: %v", c.name, err)
				}
			}
			if _, err := process(t, alice.st, msg); err == nil {
				t.Fatal("replayed application message accepted")
			}

			// Carol removes Bob; a competing Commit from Alice is discarded.
			ap, err := alice.st.CreateCommit(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err = carol.st.CreateCommit(nil, []treemath.LeafIndex{bob.st.OwnLeaf()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := process(t, alice.st, p.Commit); err != nil {
				t.Fatal(err)
			}
			if alice.st.Pending() != nil {
				t.Fatal("Alice's pending Commit survived Carol's")
			}
			r, err := process(t, bob.st, p.Commit)
			if err != nil {
				t.Fatal(err)
			}
			if !bob.st.Removed() || len(r.Removed) != 1 {
				t.Fatal("Bob does not know he was removed")
			}
			if err := carol.st.MergePending(); err != nil {
				t.Fatal(err)
			}
			sameEpoch(t, alice.st, carol.st)
			if _, err := process(t, carol.st, ap.Commit); !errors.Is(err, framing.ErrWrongEpoch) {
				t.Fatalf("stale Commit: got %v, want ErrWrongEpoch", err)
			}
			if n := 0; true {
				alice.st.Tree().Members(func(treemath.LeafIndex, *wire.LeafNode) { n++ })
				if n != 2 {
					t.Fatalf("%d members after removal", n)
				}
			}
		})
	}
}
