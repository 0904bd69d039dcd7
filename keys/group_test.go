package keys

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

type member struct {
	id *Identity
	g  *Group
}

func newIdentity(t testing.TB, name string) *Identity {
	t.Helper()
	id, err := NewIdentity(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func keyPackage(t testing.TB, id *Identity) *KeyPackage {
	t.Helper()
	kp, err := NewKeyPackage(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// newTestGroup builds a group of the given names; the first creates it and
// adds the others in one Commit.
func newTestGroup(t testing.TB, names ...string) []*member {
	t.Helper()
	ms := make([]*member, len(names))
	for i, n := range names {
		ms[i] = &member{id: newIdentity(t, n)}
	}
	var err error
	if ms[0].g, err = NewGroup(ms[0].id, nil); err != nil {
		t.Fatal(err)
	}
	if len(ms) == 1 {
		return ms
	}
	kps := make([]*KeyPackage, len(ms))
	var add [][]byte
	for i := 1; i < len(ms); i++ {
		kps[i] = keyPackage(t, ms[i].id)
		add = append(add, kps[i].Bytes())
	}
	c, err := ms[0].g.CreateCommit(add, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[0].g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].g, err = Join(ms[i].id, kps[i], c.Welcome, nil); err != nil {
			t.Fatalf("%s joins: %v", names[i], err)
		}
	}
	return ms
}

func code(t testing.TB, g *Group) string {
	t.Helper()
	c, err := g.SecurityCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// agree checks that the members share epoch, roster, security code and
// SFrame keys.
func agree(t *testing.T, ms ...*member) {
	t.Helper()
	k0, err := ms[0].g.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[1:] {
		if m.g.Epoch() != ms[0].g.Epoch() || code(t, m.g) != code(t, ms[0].g) {
			t.Fatalf("%s disagrees on epoch or code", m.id.Name())
		}
		if fmt.Sprint(m.g.Members()) != fmt.Sprint(ms[0].g.Members()) {
			t.Fatalf("%s disagrees on the roster", m.id.Name())
		}
		k, err := m.g.SFrameKeys()
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Members) != len(k0.Members) {
			t.Fatal("different number of SFrame keys")
		}
		for i := range k.Members {
			if k.Members[i].KID != k0.Members[i].KID || !bytes.Equal(k.Members[i].BaseKey, k0.Members[i].BaseKey) {
				t.Fatalf("%s derives a different SFrame key for leaf %d", m.id.Name(), k.Members[i].Leaf)
			}
		}
		i := slices.IndexFunc(k.Members, func(s SFrameKey) bool { return s.Leaf == m.g.Self().Leaf })
		if i < 0 || k.Own.KID != k.Members[i].KID || !bytes.Equal(k.Own.BaseKey, k.Members[i].BaseKey) {
			t.Fatalf("%s: own SFrame key is not its member key", m.id.Name())
		}
	}
}

func mustProcess(t testing.TB, g *Group, msg []byte) *Message {
	t.Helper()
	m, err := g.Process(msg)
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return m
}

func TestGroupLifecycle(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	agree(t, alice, bob, carol)
	codes := map[string]bool{code(t, alice.g): true}

	// Chat.
	msg, err := bob.g.Seal([]byte("hi all"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, carol} {
		got := mustProcess(t, m.g, msg)
		if got.Kind != KindApplication || string(got.Data) != "hi all" || got.Sender.Name != "bob" {
			t.Fatalf("%s read %+v", m.id.Name(), got)
		}
	}

	// Dave joins through Carol.
	dave := &member{id: newIdentity(t, "dave")}
	kp := keyPackage(t, dave.id)
	if m, err := VerifyKeyPackage(kp.Bytes(), nil); err != nil || m.Name != "dave" {
		t.Fatalf("VerifyKeyPackage: %v", err)
	}
	c, err := carol.g.CreateCommit([][]byte{kp.Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, bob} {
		got := mustProcess(t, m.g, c.Message)
		if got.Kind != KindCommit || len(got.Added) != 1 || got.Added[0].Name != "dave" || got.Sender.Name != "carol" {
			t.Fatalf("%s: commit %+v", m.id.Name(), got)
		}
	}
	if err := carol.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if dave.g, err = Join(dave.id, kp, c.Welcome, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Join(dave.id, kp, c.Welcome, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("KeyPackage reused: %v", err)
	}
	agree(t, alice, bob, carol, dave)
	codes[code(t, alice.g)] = true
	// Dave cannot read what was said before he joined.
	if _, err := dave.g.Process(msg); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("new member reads an earlier epoch: %v", err)
	}

	// Periodic update by Dave.
	c, err = dave.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, bob, carol} {
		mustProcess(t, m.g, c.Message)
	}
	if err := dave.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, bob, carol, dave)
	codes[code(t, alice.g)] = true

	// Alice removes Bob; Bob learns it and can read nothing after.
	c, err = alice.g.CreateCommit(nil, []uint32{bob.g.Self().Leaf})
	if err != nil {
		t.Fatal(err)
	}
	got := mustProcess(t, bob.g, c.Message)
	if len(got.Removed) != 1 || got.Removed[0].Name != "bob" || bob.g.Active() {
		t.Fatalf("bob's view of his removal: %+v, active %v", got, bob.g.Active())
	}
	for _, m := range []*member{carol, dave} {
		mustProcess(t, m.g, c.Message)
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, carol, dave)
	codes[code(t, alice.g)] = true
	if len(codes) != 4 {
		t.Fatal("security code did not change with every Commit")
	}
	for c := range codes {
		if !regexp.MustCompile(`^[0-9]{5}( [0-9]{5}){7}$`).MatchString(c) {
			t.Fatalf("security code %q is not 8 groups of 5 digits", c)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", alice.g, alice.g, alice.g); !strings.Contains(s, "keys.Group(epoch") {
		t.Fatalf("Group prints as %s", s)
	}
	if len(alice.g.Members()) != 3 {
		t.Fatalf("roster after removal: %v", alice.g.Members())
	}
	msg, err = carol.g.Seal([]byte("bob is gone"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.g.Process(msg); !errors.Is(err, ErrNotMember) {
		t.Fatalf("removed member reads: %v", err)
	}
	if _, err := bob.g.SFrameKeys(); !errors.Is(err, ErrNotMember) {
		t.Fatalf("removed member exports keys: %v", err)
	}
	mustProcess(t, dave.g, msg)
}

// TestCommitRace follows the delivery service's rule: of two Commits for
// one epoch the first wins; the loser clears its own and processes the
// winner's.
func TestCommitRace(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob", "carol")
	alice, bob, carol := ms[0], ms[1], ms[2]
	ca, err := alice.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := bob.g.CreateCommit(nil, []uint32{carol.g.Self().Leaf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.g.CreateCommit(nil, nil); !errors.Is(err, ErrPendingCommit) {
		t.Fatalf("second pending Commit: %v", err)
	}
	// The server accepts Alice's.
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	bob.g.ClearPendingCommit()
	if err := bob.g.MergePendingCommit(); !errors.Is(err, ErrPendingCommit) {
		t.Fatalf("merge after clear: %v", err)
	}
	mustProcess(t, bob.g, ca.Message)
	mustProcess(t, carol.g, ca.Message)
	agree(t, alice, bob, carol)
	// Bob's losing Commit is for an epoch that is over.
	for _, m := range []*member{alice, carol} {
		if _, err := m.g.Process(cb.Message); !errors.Is(err, ErrWrongEpoch) {
			t.Fatalf("losing Commit: %v", err)
		}
	}
	// A Commit that arrives while one's own is pending supersedes it.
	cc, err := carol.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.g.CreateCommit(nil, nil); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, alice.g, cc.Message)
	if alice.g.HasPendingCommit() {
		t.Fatal("pending Commit survived the winning one")
	}
	mustProcess(t, bob.g, cc.Message)
	if err := carol.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	agree(t, alice, bob, carol)
}

// TestErasure checks that entering a new epoch zeroes the previous epoch's
// secrets, for the committer and for a member that processes the Commit,
// while SFrame keys exported earlier stay until the caller erases them.
func TestErasure(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob")
	alice, bob := ms[0], ms[1]
	oldA, oldB := alice.g.st.TestingOnlyEpochSecrets(), bob.g.st.TestingOnlyEpochSecrets()
	keys, err := bob.g.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}
	c, err := alice.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range oldA {
		if isZero(s) {
			t.Fatal("secret zeroed before the Commit was merged")
		}
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, bob.g, c.Message)
	for i, s := range append(oldA, oldB...) {
		if len(s) == 0 || !isZero(s) {
			t.Fatalf("secret %d of the old epoch not zeroed", i)
		}
	}
	if isZero(keys.Own.BaseKey) {
		t.Fatal("exported SFrame key erased by the Group")
	}
	keys.Erase()
	if !isZero(keys.Own.BaseKey) || !isZero(keys.Members[0].BaseKey) {
		t.Fatal("EpochKeys.Erase left a key")
	}
	// A cleared pending Commit's epoch is erased too.
	if _, err := alice.g.CreateCommit(nil, nil); err != nil {
		t.Fatal(err)
	}
	next := alice.g.st.Pending().TestingOnlyEpochSecrets()
	alice.g.ClearPendingCommit()
	for i, s := range next {
		if !isZero(s) {
			t.Fatalf("pending secret %d not zeroed", i)
		}
	}
	// Close erases the current epoch.
	cur := alice.g.st.TestingOnlyEpochSecrets()
	alice.g.Close()
	for i, s := range cur {
		if !isZero(s) {
			t.Fatalf("secret %d survives Close", i)
		}
	}
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestIdentityEncoding(t *testing.T) {
	id := newIdentity(t, "Zoë")
	enc := id.Marshal()
	if !strings.HasPrefix(string(enc), identityPrefix) {
		t.Fatalf("encoding %q has no role prefix", enc)
	}
	back, err := ParseIdentity(enc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name() != "Zoë" || !bytes.Equal(back.PublicKey(), id.PublicKey()) {
		t.Fatal("identity does not round-trip")
	}
	priv := id.key.Bytes()
	for _, s := range []string{fmt.Sprint(id), fmt.Sprintf("%+v %#v %x %s", id, id, id, id), id.String()} {
		if strings.Contains(s, fmt.Sprintf("%x", priv)) || strings.Contains(s, string(enc[len(identityPrefix):])) {
			t.Fatalf("printed identity holds the private key: %s", s)
		}
	}
	for _, bad := range []string{"", "TRESOR-IDENTITY-1:", "TRESOR-IDENTITY-1:@@", "TRESOR-KEY-1:" + string(enc[len(identityPrefix):]),
		string(enc[:len(enc)-2])} {
		if _, err := ParseIdentity([]byte(bad)); err == nil {
			t.Fatalf("ParseIdentity(%q) succeeded", bad)
		}
	}
	if _, err := NewIdentity(nil, ""); !errors.Is(err, ErrInvalid) {
		t.Fatal("empty name accepted")
	}
	// A persisted identity can still act in its group.
	g, err := NewGroup(back, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Self().Name != "Zoë" {
		t.Fatal("group member name")
	}
}

func TestVerifyKeyPackage(t *testing.T) {
	id := newIdentity(t, "erin")
	kp := keyPackage(t, id)
	if _, err := VerifyKeyPackage(kp.Bytes(), &Config{Now: func() time.Time { return time.Now().Add(48 * time.Hour) }}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired KeyPackage: %v", err)
	}
	b := kp.Bytes()
	b[len(b)-1] ^= 1 // the signature
	if _, err := VerifyKeyPackage(b, nil); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("forged KeyPackage: %v", err)
	}
	if _, err := VerifyKeyPackage(b[:10], nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated KeyPackage: %v", err)
	}
	// An expired KeyPackage cannot be added.
	g, err := NewGroup(newIdentity(t, "frank"), &Config{Now: func() time.Time { return time.Now().Add(72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateCommit([][]byte{kp.Bytes()}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Commit adding an expired KeyPackage: %v", err)
	}
}

func TestKID(t *testing.T) {
	if KID(0, 0) != 0 || KID(1, 0) != 256 || KID(3, 257) != 3<<8|1 {
		t.Fatal("KID layout")
	}
	ms := newTestGroup(t, "a", "b")
	k, err := ms[1].g.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}
	if k.Own.KID != KID(1, 1) || len(k.Own.BaseKey) != 16 || k.Epoch != 1 {
		t.Fatalf("own key: leaf %d kid %d epoch %d", k.Own.Leaf, k.Own.KID, k.Epoch)
	}
	if s := fmt.Sprint(k); strings.Contains(s, fmt.Sprintf("%x", k.Own.BaseKey)) {
		t.Fatal("EpochKeys prints keys")
	}
}

// TestChatOutOfOrder: the server may reorder messages; each is read once,
// in any order, and a replay is rejected.
func TestChatOutOfOrder(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob")
	var msgs [][]byte
	for i := range 5 {
		m, err := ms[0].g.Seal([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	for _, i := range []int{4, 0, 2, 1, 3} {
		got := mustProcess(t, ms[1].g, msgs[i])
		if len(got.Data) != 1 || got.Data[0] != byte(i) {
			t.Fatalf("message %d read as %v", i, got.Data)
		}
	}
	for i := range msgs {
		if _, err := ms[1].g.Process(msgs[i]); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("replay of message %d: %v", i, err)
		}
	}
}

// TestKeyPackageEraseAfterJoin checks that erasing a used KeyPackage does not
// reach the leaf key the Group took over: the joiner still processes the
// next Commit, whose UpdatePath is encrypted to that key.
func TestKeyPackageEraseAfterJoin(t *testing.T) {
	alice := &member{id: newIdentity(t, "alice")}
	var err error
	if alice.g, err = NewGroup(alice.id, nil); err != nil {
		t.Fatal(err)
	}
	bob := &member{id: newIdentity(t, "bob")}
	kp := keyPackage(t, bob.id)
	c, err := alice.g.CreateCommit([][]byte{kp.Bytes()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	if bob.g, err = Join(bob.id, kp, c.Welcome, nil); err != nil {
		t.Fatal(err)
	}
	kp.Erase()
	if _, err := kp.secrets.Init.Bytes(); err == nil {
		t.Error("the init key survives Join")
	}
	// An empty Commit (the periodic update) from alice: bob must decrypt
	// its UpdatePath with his leaf key.
	c, err = alice.g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, bob.g, c.Message)
	agree(t, alice, bob)
}
