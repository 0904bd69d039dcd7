package keys

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

var sentinels = []error{ErrMalformed, ErrAuthentication, ErrWrongEpoch, ErrWrongGroup, ErrNotMember, ErrInvalid, ErrUnsupported, ErrPendingCommit}

func typed(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// snapshot is everything observable about a Group's state.
type snapshot struct {
	epoch   uint64
	auth    []byte
	members string
	code    string
	pending bool
	active  bool
}

func snap(t testing.TB, g *Group) snapshot {
	t.Helper()
	th, err := g.st.Tree().TreeHash()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := g.SecurityCode()
	return snapshot{epoch: g.Epoch(), auth: append(bytes.Clone(g.st.EpochAuthenticator()), th...),
		members: fmt.Sprint(g.Members()), code: c, pending: g.HasPendingCommit(), active: g.Active()}
}

func (s snapshot) equal(o snapshot) bool {
	return s.epoch == o.epoch && bytes.Equal(s.auth, o.auth) && s.members == o.members && s.code == o.code &&
		s.pending == o.pending && s.active == o.active
}

// TestBadInputLeavesStateUnchanged feeds a member malformed, forged,
// replayed and misdirected messages. Each must fail with one of the
// exported sentinels and leave the state as it was; afterwards the genuine
// messages still work, which shows that no ratchet moved.
func TestBadInputLeavesStateUnchanged(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	other := newTestGroup(t, "mallory", "mike")

	chat, err := alice.g.Seal([]byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, bob.g, chat) // now a replay
	pendingChat, err := alice.g.Seal([]byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := carol.g.CreateCommit(nil, []uint32{alice.g.Self().Leaf})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other[0].g.Seal([]byte("from another group"))
	if err != nil {
		t.Fatal(err)
	}
	foreignCommit, err := other[0].g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	gi, err := alice.g.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}

	bad := map[string][]byte{
		"empty":          {},
		"replayed chat":  chat,
		"foreign chat":   foreign,
		"foreign commit": foreignCommit.Message,
		"group info":     gi,
		"key package":    keyPackage(t, newIdentity(t, "x")).Bytes(),
		"trailing byte":  append(bytes.Clone(commit.Message), 0),
	}
	for _, msg := range [][]byte{commit.Message, pendingChat} {
		for i := 0; i < len(msg); i += 1 + len(msg)/97 {
			for _, flip := range []byte{0x01, 0x80} {
				b := bytes.Clone(msg)
				b[i] ^= flip
				bad[fmt.Sprintf("len %d, byte %d ^ %#x", len(msg), i, flip)] = b
			}
			bad[fmt.Sprintf("len %d, truncated to %d", len(msg), i)] = msg[:i]
		}
	}
	before := snap(t, bob.g)
	for name, msg := range bad {
		_, err := bob.g.Process(msg)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if !typed(err) {
			t.Fatalf("%s: untyped error %v", name, err)
		}
		if !snap(t, bob.g).equal(before) {
			t.Fatalf("%s: state changed", name)
		}
	}
	if errs := bob.g.Stats().Rejected; errs != uint64(len(bad)) {
		t.Fatalf("Stats.Rejected = %d, want %d", errs, len(bad))
	}
	for name, want := range map[string]error{"replayed chat": ErrAuthentication, "foreign chat": ErrWrongGroup, "foreign commit": ErrWrongGroup} {
		if _, err := bob.g.Process(bad[name]); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}

	// The genuine messages still work.
	if m := mustProcess(t, bob.g, pendingChat); string(m.Data) != "second" {
		t.Fatal("chat after bad input")
	}
	mustProcess(t, bob.g, commit.Message)
	if err := carol.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, bob, carol)
	// The old epoch's messages are now out of epoch.
	if _, err := bob.g.Process(pendingChat); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("old-epoch chat: %v", err)
	}
}

// TestBadWelcome feeds a joiner broken Welcomes; each fails with a typed
// error and leaves its KeyPackage usable for the genuine one.
func TestBadWelcome(t *testing.T) {
	ms := newTestGroup(t, "alice")
	dan := newIdentity(t, "dan")
	kp := keyPackage(t, dan)
	c, err := ms[0].g.CreateCommit([][]byte{kp.Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKP := keyPackage(t, dan)
	for i := 0; i < len(c.Welcome); i += 1 + len(c.Welcome)/200 {
		b := bytes.Clone(c.Welcome)
		b[i] ^= 0x04
		if _, err := Join(dan, kp, b, nil); err == nil || !typed(err) {
			t.Fatalf("Welcome byte %d flipped: %v", i, err)
		}
	}
	if _, err := Join(dan, otherKP, c.Welcome, nil); !errors.Is(err, ErrWrongGroup) {
		t.Fatalf("Welcome for another KeyPackage: %v", err)
	}
	if _, err := Join(dan, kp, c.Message, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Commit as Welcome: %v", err)
	}
	if _, err := Join(newIdentity(t, "eve"), kp, c.Welcome, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("someone else's KeyPackage: %v", err)
	}
	if err := ms[0].g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	g, err := Join(dan, kp, c.Welcome, nil)
	if err != nil {
		t.Fatalf("genuine Welcome after bad ones: %v", err)
	}
	agree(t, ms[0], &member{id: dan, g: g})
}
