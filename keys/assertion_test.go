package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/group"
)

const testRoom = "standup"

// backend is a test application backend: it vouches for members' keys.
type backend struct {
	priv ed25519.PrivateKey
	auth *Authority
}

func newBackend(t testing.TB) *backend {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &backend{priv: priv, auth: &Authority{Keys: []ed25519.PublicKey{pub}, Room: testRoom}}
}

func (b *backend) cfg() *Config { return &Config{Authority: b.auth} }

// vouch returns an identity called name with the backend's assertion.
func (b *backend) vouch(t testing.TB, name string) *Identity {
	t.Helper()
	id := newIdentity(t, name)
	a, err := SignAssertion(b.priv, Assertion{Room: testRoom, Identity: name, Name: "Display " + name,
		SignatureKey: id.PublicKey(), Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := id.SetAssertion(a); err != nil {
		t.Fatal(err)
	}
	return id
}

// laxGroup creates a group whose own checks skip the application's
// credential policy: it stands for a buggy or colluding committer, so that
// the tests can show that the other members refuse what it commits.
func laxGroup(t testing.TB, id *Identity) *Group {
	t.Helper()
	st, err := group.Create(defaultSuite(), group.Config{}, id.key, id.credential(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Group{id: id, cfg: &Config{}, st: st}
}

// add commits an Add of kp on g and merges it; it returns the Commit.
func add(t testing.TB, g *Group, kps ...*KeyPackage) *Commit {
	t.Helper()
	var msgs [][]byte
	for _, kp := range kps {
		msgs = append(msgs, kp.Bytes())
	}
	c, err := g.CreateCommit(msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAssertion(t *testing.T) {
	b := newBackend(t)
	id := newIdentity(t, "u-1")
	a := Assertion{Room: testRoom, Identity: "u-1", Name: "Ada", SignatureKey: id.PublicKey(), Expiry: time.Unix(2_000_000_000, 0)}
	enc, err := SignAssertion(b.priv, a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.auth.Verify(enc, time.Unix(1_900_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Room != a.Room || got.Identity != a.Identity || got.Name != a.Name || !bytes.Equal(got.SignatureKey, a.SignatureKey) || !got.Expiry.Equal(a.Expiry) {
		t.Fatalf("round trip: %+v, want %+v", got, a)
	}
	for _, c := range []struct {
		name string
		auth *Authority
		b    []byte
		now  time.Time
		want error
	}{
		{"other backend", newBackend(t).auth, enc, time.Time{}, ErrAuthentication},
		{"other room", &Authority{Keys: b.auth.Keys, Room: "other"}, enc, time.Time{}, ErrInvalid},
		{"expired", b.auth, enc, time.Unix(2_000_000_001, 0), ErrInvalid},
		{"tampered", b.auth, append(bytes.Clone(enc[:30]), append([]byte{enc[30] ^ 1}, enc[31:]...)...), time.Time{}, nil},
		{"truncated", b.auth, enc[:len(enc)-1], time.Time{}, ErrMalformed},
		{"trailing byte", b.auth, append(bytes.Clone(enc), 0), time.Time{}, ErrMalformed},
		{"a plain name", b.auth, []byte("u-1"), time.Time{}, ErrInvalid},
	} {
		_, err := c.auth.Verify(c.b, c.now)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Expiry is not checked for members already in a group.
	if _, err := b.auth.Verify(enc, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := SignAssertion(b.priv, Assertion{Room: testRoom, Identity: "a\nb", SignatureKey: id.PublicKey(), Expiry: time.Now()}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("identity with a line break: %v", err)
	}
	if err := id.SetAssertion(enc); err != nil {
		t.Fatal(err)
	}
	if err := newIdentity(t, "u-1").SetAssertion(enc); !errors.Is(err, ErrInvalid) {
		t.Fatalf("assertion for another key accepted: %v", err)
	}
	if err := newIdentity(t, "u-2").SetAssertion(enc); !errors.Is(err, ErrInvalid) {
		t.Fatalf("assertion for another identity accepted: %v", err)
	}
}

// TestVouchedGroup: with an Authority, members are verified and show the
// backend's identity and name; a client without an assertion cannot even
// make a KeyPackage.
func TestVouchedGroup(t *testing.T) {
	b := newBackend(t)
	alice, bob := b.vouch(t, "alice"), b.vouch(t, "bob")
	ga, err := NewGroup(alice, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := NewKeyPackage(bob, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := VerifyKeyPackage(kp.Bytes(), b.cfg()); err != nil || !m.Verified || m.Identity != "bob" || m.Name != "Display bob" {
		t.Fatalf("VerifyKeyPackage: %+v %v", m, err)
	}
	c := add(t, ga, kp)
	gb, err := Join(bob, kp, c.Welcome, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Group{ga, gb} {
		ms := g.Members()
		if len(ms) != 2 || !ms[0].Verified || !ms[1].Verified || ms[0].Identity != "alice" || ms[1].Name != "Display bob" {
			t.Fatalf("roster %+v", ms)
		}
	}
	if code(t, ga) != code(t, gb) {
		t.Fatal("codes differ")
	}
	if _, err := NewKeyPackage(newIdentity(t, "carol"), b.cfg()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("KeyPackage without an assertion under an Authority: %v", err)
	}
	// Without an Authority, members are not verified.
	if m, err := VerifyKeyPackage(kp.Bytes(), nil); err != nil || m.Verified {
		t.Fatalf("unverified VerifyKeyPackage: %+v %v", m, err)
	}
}

// TestServerCannotAddMembers is finding 1 of the trust review: the server
// brings a KeyPackage of its own making. Members with an Authority refuse
// to commit it, refuse a Commit that adds it, and refuse a Welcome into a
// tree that holds it, each leaving their group unchanged.
func TestServerCannotAddMembers(t *testing.T) {
	b := newBackend(t)
	alice, bob, carol := b.vouch(t, "alice"), b.vouch(t, "bob"), b.vouch(t, "carol")
	// A KeyPackage the server made: a plain name, or a forged assertion
	// (a backend the members do not know), or a real assertion for
	// another key.
	plain := keyPackage(t, newIdentity(t, "mallory"))
	forged := keyPackage(t, newBackend(t).vouch(t, "mallory"))
	stolen := newIdentity(t, "bob")
	stolen.assertion = bob.assertion // bob's assertion on the server's key
	stolenKP, err := NewKeyPackage(stolen, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The committer alice is lax (it skips the checks); bob and carol are
	// honest members.
	ga := laxGroup(t, alice)
	kpb, kpc := keyPackage(t, bob), keyPackage(t, carol)
	c := add(t, ga, kpb, kpc)
	gb, err := Join(bob, kpb, c.Welcome, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	gc, err := Join(carol, kpc, c.Welcome, b.cfg())
	if err != nil {
		t.Fatal(err)
	}
	for name, kp := range map[string]*KeyPackage{"plain": plain, "forged": forged, "stolen": stolenKP} {
		if _, err := VerifyKeyPackage(kp.Bytes(), b.cfg()); err == nil {
			t.Errorf("%s: VerifyKeyPackage accepted it", name)
		}
		if _, err := gb.CreateCommit([][]byte{kp.Bytes()}, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: an honest committer adds it: %v", name, err)
		}
		gb.ClearPendingCommit()
		before := snap(t, gc)
		c, err := ga.CreateCommit([][]byte{kp.Bytes()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gc.Process(c.Message); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: a member accepts a Commit adding it: %v", name, err)
		}
		if !snap(t, gc).equal(before) {
			t.Errorf("%s: the refused Commit changed the group", name)
		}
		// A Welcome into a tree with that leaf is refused by a vouched
		// joiner.
		if err := ga.MergePendingCommit(); err != nil {
			t.Fatal(err)
		}
		dave := b.vouch(t, "dave-"+name)
		kpd := keyPackage(t, dave)
		w := add(t, ga, kpd).Welcome
		if _, err := Join(dave, kpd, w, b.cfg()); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: joined a tree with an unvouched leaf: %v", name, err)
		}
		ga = laxGroup(t, alice) // start over for the next case
		kpb, kpc = keyPackage(t, bob), keyPackage(t, carol)
		c = add(t, ga, kpb, kpc)
		if gb, err = Join(bob, kpb, c.Welcome, b.cfg()); err != nil {
			t.Fatal(err)
		}
		if gc, err = Join(carol, kpc, c.Welcome, b.cfg()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIdentityUnique: a group never holds two leaves of one identity, with
// or without an Authority — except that one Commit may remove a member's old
// leaf and add its new one (a rejoin).
func TestIdentityUnique(t *testing.T) {
	alice, bob, carol := newIdentity(t, "alice"), newIdentity(t, "bob"), newIdentity(t, "carol")
	ga := laxGroup(t, alice)
	kpb, kpc := keyPackage(t, bob), keyPackage(t, carol)
	c := add(t, ga, kpb, kpc)
	gb, err := Join(bob, kpb, c.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := Join(carol, kpc, c.Welcome, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second "bob" (the server's key under bob's name).
	bob2 := keyPackage(t, newIdentity(t, "bob"))
	if _, err := gc.CreateCommit([][]byte{bob2.Bytes()}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an honest committer adds a second bob: %v", err)
	}
	gc.ClearPendingCommit()
	before := snap(t, gc)
	dup, err := ga.CreateCommit([][]byte{bob2.Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Process(dup.Message); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a member accepts a second bob: %v", err)
	}
	if !snap(t, gc).equal(before) {
		t.Fatal("the refused Commit changed the group")
	}
	ga.ClearPendingCommit()
	// Bob rejoins from another device: one Commit removes the old leaf and
	// adds the new one.
	rejoin, err := gc.CreateCommit([][]byte{bob2.Bytes()}, []uint32{gb.Self().Leaf})
	if err != nil {
		t.Fatalf("remove and re-add in one Commit: %v", err)
	}
	if err := gc.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, ga, rejoin.Message)
	if n := len(gc.Members()); n != 3 {
		t.Fatalf("%d members after the rejoin", n)
	}
}

// BenchmarkJoinVouched measures the cost of checking every member's
// assertion where it is highest: a joiner verifies all N leaves of the tree
// (a member processing an Add verifies one). vouched=false is the same Join
// without an Authority, measured in the same run.
func BenchmarkJoinVouched(b *testing.B) {
	for _, vouched := range []bool{false, true} {
		b.Run(fmt.Sprintf("N=100/vouched=%v", vouched), func(b *testing.B) {
			be := newBackend(b)
			cfg := (*Config)(nil)
			mk := func(name string) *Identity { return newIdentity(b, name) }
			if vouched {
				cfg = be.cfg()
				mk = func(name string) *Identity { return be.vouch(b, name) }
			}
			g, err := NewGroup(mk("m-0"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			var add [][]byte
			for i := 1; i < 99; i++ {
				kp, err := NewKeyPackage(mk(fmt.Sprintf("m-%d", i)), cfg)
				if err != nil {
					b.Fatal(err)
				}
				add = append(add, kp.Bytes())
			}
			if _, err := g.CreateCommit(add, nil); err != nil {
				b.Fatal(err)
			}
			if err := g.MergePendingCommit(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				joiner := mk("joiner")
				kp, err := NewKeyPackage(joiner, cfg)
				if err != nil {
					b.Fatal(err)
				}
				c, err := g.CreateCommit([][]byte{kp.Bytes()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				g.ClearPendingCommit()
				b.StartTimer()
				if _, err := Join(joiner, kp, c.Welcome, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
