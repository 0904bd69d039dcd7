package keys

import (
	"bytes"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// FuzzProcess feeds arbitrary bytes to a member of a three-member group,
// seeded with a genuine chat message and Commit: nothing may panic, every
// failure is typed and leaves the state unchanged.
func FuzzProcess(f *testing.F) {
	var ms []*member
	var chat, commit []byte
	setup := func(t testing.TB) {
		ms = newTestGroup(t, "alice", "bob", "carol")
		var err error
		if chat, err = ms[0].g.Seal([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		c, err := ms[2].g.CreateCommit(nil, []uint32{0})
		if err != nil {
			t.Fatal(err)
		}
		commit = c.Message
	}
	setup(f)
	f.Add(chat)
	f.Add(commit)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := ms[1].g
		before := snap(t, g)
		if _, err := g.Process(data); err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			if !snap(t, g).equal(before) {
				t.Fatal("state changed by a rejected message")
			}
			return
		}
		setup(t) // accepted: start over from the seeds' epoch
	})
}

// FuzzJoin feeds arbitrary Welcomes to a joiner: nothing may panic and every
// failure is typed.
func FuzzJoin(f *testing.F) {
	var dan *Identity
	var kp *KeyPackage
	var welcome []byte
	setup := func(t testing.TB) {
		ms := newTestGroup(t, "alice", "bob")
		dan = newIdentity(t, "dan")
		kp = keyPackage(t, dan)
		c, err := ms[0].g.CreateCommit([][]byte{kp.Bytes()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		welcome = c.Welcome
	}
	setup(f)
	f.Add(welcome)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Join(dan, kp, data, nil); err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		setup(t)
	})
}

// FuzzParseIdentity requires that an identity that parses re-encodes to the
// same bytes.
func FuzzParseIdentity(f *testing.F) {
	id, err := NewIdentity(nil, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(id.Marshal())
	f.Add([]byte(identityPrefix))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentity(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if !bytes.Equal(id.Marshal(), data) {
			t.Fatal("identity does not re-encode to its input")
		}
	})
}

// FuzzVerifyKeyPackage checks that KeyPackage verification never panics
// and fails only with typed errors.
func FuzzVerifyKeyPackage(f *testing.F) {
	id, err := NewIdentity(nil, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	kp, err := NewKeyPackage(id, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kp.Bytes())
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := VerifyKeyPackage(data, &Config{Now: func() time.Time { return now }}); err != nil && !typed(err) {
			t.Fatalf("untyped error: %v", err)
		}
	})
}

// FuzzParseAssertion: any input either fails with a typed error or decodes
// to an assertion whose re-encoding is exactly the input (one encoding per
// assertion).
func FuzzParseAssertion(f *testing.F) {
	b := newBackend(f)
	id := b.vouch(f, "seed")
	f.Add(id.assertion)
	f.Add([]byte(assertionLabel))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, tbs, sig, err := parseAssertion(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		re, err := a.tbs()
		if err != nil {
			t.Fatal(err)
		}
		var out codec.Builder
		out.Raw(re)
		out.Opaque(sig)
		enc, err := out.Bytes()
		if err != nil || !bytes.Equal(re, tbs) || !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		if _, err := b.auth.Verify(data, time.Time{}); err == nil && !bytes.Equal(data, id.assertion) {
			t.Fatal("a mutated assertion verifies")
		}
	})
}

// FuzzJoinExternal feeds arbitrary bytes as a GroupInfo to JoinExternal,
// seeded with genuine GroupInfos of a vouched group (bob's resync) and of
// an unvouched one: nothing may panic, every failure is typed, and a
// GroupInfo that is accepted yields a pending, inactive Group and a Commit.
func FuzzJoinExternal(f *testing.F) {
	b, alice, bob, _ := vouchedTrio(f)
	f.Add(groupInfo(f, alice.g))
	f.Add(groupInfo(f, bob.g)) // the previous epoch's
	plain := newTestGroup(f, "dora", "emil")
	f.Add(groupInfo(f, plain[0].g))
	cfg := b.cfg()
	f.Fuzz(func(t *testing.T, data []byte) {
		g, c, err := JoinExternal(bob.id, data, cfg)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			if g != nil || c != nil {
				t.Fatal("a Group or Commit with an error")
			}
			return
		}
		if g.Active() || !g.HasPendingCommit() || len(c.Message) == 0 {
			t.Fatal("accepted GroupInfo without a pending external join")
		}
		g.Close()
	})
}

// FuzzProcessExternal gives mutations of a genuine external Commit (bob's
// resync) to a member: nothing may panic, every failure is typed and
// leaves the member's state unchanged; an accepted Commit is one that
// resyncs bob (the members' rule), after which the group starts over.
func FuzzProcessExternal(f *testing.F) {
	var alice, carol *member
	var commit []byte
	setup := func(t testing.TB) {
		var b *backend
		var bob *member
		b, alice, bob, carol = vouchedTrio(t)
		_, c, err := JoinExternal(bob.id, groupInfo(t, alice.g), b.cfg())
		if err != nil {
			t.Fatal(err)
		}
		commit = c.Message
	}
	setup(f)
	f.Add(commit)
	f.Fuzz(func(t *testing.T, data []byte) {
		before := snap(t, carol.g)
		m, err := carol.g.Process(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error: %v", err)
			}
			if !snap(t, carol.g).equal(before) {
				t.Fatal("state changed by a rejected message")
			}
			return
		}
		if m.Kind == KindCommit && (!m.External || len(m.Removed) != 1 || len(m.Added) != 1 ||
			m.Removed[0].Identity != m.Added[0].Identity || !m.Added[0].Verified) {
			t.Fatalf("accepted a Commit that is no resync: %+v", m)
		}
		setup(t)
	})
}
