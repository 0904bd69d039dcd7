package tresor

// The hostile-server suite, continued: the cases of the trust review
// (issue 11). Each runs the real server behind the proxy of hostile_test.go,
// which rewrites or adds messages as a malicious server would.

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/hostile"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

// injectOnce returns a ToClient hook that, the first time target receives a
// "state" message, passes it on followed by the messages make builds from
// the server's epoch in it.
func injectOnce(target string, make func(epoch uint64) []map[string]any) func(c *hostile.Conn, msg []byte) [][]byte {
	var once sync.Once
	return func(c *hostile.Conn, msg []byte) [][]byte {
		out := [][]byte{msg}
		if c.Identity() != target {
			return out
		}
		var m struct {
			Type  string
			State *struct{ Epoch uint64 }
		}
		if json.Unmarshal(msg, &m) != nil || m.Type != "state" || m.State == nil {
			return out
		}
		once.Do(func() {
			for _, extra := range make(m.State.Epoch) {
				extra["v"] = 1
				b, _ := json.Marshal(extra)
				out = append(out, b)
			}
		})
		return out
	}
}

// TestHostileServerAddsMember: the server asks the committer to add
// members of its own making: a second "bob" (its own key under bob's name),
// a KeyPackage said to be someone else's, and, where the backend vouches
// for members, an unvouched "mallory" (finding 1). With the backend's
// Authority, and without one (where names are unverified but still unique),
// the committer commits none of them; the group keeps its members and one
// security code.
func TestHostileServerAddsMember(t *testing.T) {
	for _, vouched := range []bool{true, false} {
		t.Run(map[bool]string{true: "vouched", false: "unverified"}[vouched], func(t *testing.T) {
			goroutineLeakCheck(t)
			h := newHostileEnv(t)
			opts := func(id string) []Option {
				if vouched {
					return h.vouched(id)
				}
				return nil
			}
			alice, _ := h.joinLogged("alice", signaling.RoleHost, opts("alice")...)
			bob, _ := h.joinLogged("bob", signaling.RoleParticipant, opts("bob")...)
			epoch, code := converged(t, 10*time.Second, alice, bob)

			kp := func(name string) []byte {
				id, err := keys.NewIdentity(nil, name)
				if err != nil {
					t.Fatal(err)
				}
				k, err := keys.NewKeyPackage(id, nil)
				if err != nil {
					t.Fatal(err)
				}
				return k.Bytes()
			}
			pending := []any{
				map[string]any{"id": 9002, "kind": "add", "participant": "bob", "key_package": kp("bob")},
				map[string]any{"id": 9003, "kind": "add", "participant": "carol", "key_package": kp("dave")},
			}
			if vouched {
				// Without an Authority a self-named "mallory" can be
				// added (and shows, unverified, in every roster): that
				// is what the Authority is for.
				pending = append(pending, map[string]any{"id": 9001, "kind": "add", "participant": "mallory", "key_package": kp("mallory")})
			}
			h.proxy.ToClient(injectOnce("alice", func(e uint64) []map[string]any {
				return []map[string]any{{"type": "commit_request", "epoch": e, "pending": pending}}
			}))
			// Any state change brings the next "state" to alice.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := alice.m.Signaling().Lock(ctx, true); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond)
			for _, m := range h.proxy.Messages() {
				if m.ToServer && m.Identity == "alice" && bytes.Contains(m.Data, []byte(`"type":"commit"`)) && bytes.Contains(m.Data, []byte("900")) {
					t.Fatalf("alice committed a member the server made: %s", m.Data)
				}
			}
			if n := alice.m.Stats().KeyPackagesRefused; n != uint64(len(pending)) {
				t.Fatalf("alice counted %d refused KeyPackages, want %d", n, len(pending))
			}

			for _, c := range []*client{alice, bob} {
				e, cd, err := c.m.SecurityCode()
				if err != nil || e != epoch || cd != code || len(c.m.Members()) != 2 {
					t.Fatalf("%s: epoch %d (was %d), %d members, same code %v", c.id, e, epoch, len(c.m.Members()), cd == code)
				}
				for _, m := range c.m.Members() {
					if m.Verified != vouched {
						t.Fatalf("%s sees %s verified=%v", c.id, m.Identity, m.Verified)
					}
				}
			}
		})
	}
}

// TestHostileServerChatAsCommit: the server delivers a chat message to bob
// labelled as a Commit, then replays media frames bob already accepted
// (finding 4). Bob shows the message as chat, stays in his epoch, does not
// re-install keys (which used to reset the replay windows), and rejects
// every replayed frame.
func TestHostileServerChatAsCommit(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, bobLogs := h.joinLogged("bob", signaling.RoleParticipant)
	epoch, code := converged(t, 10*time.Second, alice, bob)
	sa := alice.publish(ctx, frameInterval)
	waitFrames(t, 15*time.Second, 10, []*client{bob}, []*sender{sa})

	// Record audio frames on their way to bob.
	var mu sync.Mutex
	var seen [][]byte
	replay := false
	replayed := 0
	hook := &srtpHook{t: t, tap: h.tap, logs: bobLogs, ctx: map[string][3]*srtp.Context{}, tamper: func(p *rtp.Packet) bool {
		if p.PayloadType != 111 || len(p.Payload) < 20 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if !replay {
			if len(seen) < 20 {
				seen = append(seen, bytes.Clone(p.Payload))
			}
			return false
		}
		if replayed >= len(seen) {
			return false
		}
		p.Payload = bytes.Clone(seen[replayed])
		replayed++
		return true
	}}
	h.tap.OnWrite(hook.onWrite)
	eventually(t, 10*time.Second, "frames recorded", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 20 })
	time.Sleep(300 * time.Millisecond) // bob accepted them

	// The chat, labelled "commit".
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() == "bob" {
			msg = rewriteJSON(msg, "chat", func(m map[string]any) { m["type"] = "commit" })
		}
		return [][]byte{msg}
	})
	if err := alice.m.SendChat(ctx, "not a commit"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the chat at bob", func() bool {
		msgs := eventsOf[*ChatMessage](bob)
		return len(msgs) == 1 && msgs[0].Text == "not a commit" && msgs[0].From.Identity == "alice"
	})
	eventually(t, 2*time.Second, "bob counting the mislabelled message", func() bool { return bob.m.Stats().MessagesMislabelled == 1 })
	if e, cd, _ := bob.m.SecurityCode(); e != epoch || cd != code || len(eventsOf[*EpochChanged](bob)) != 1 {
		t.Fatalf("bob moved: epoch %d, %d epoch events", e, len(eventsOf[*EpochChanged](bob)))
	}

	// The replay.
	before := bob.m.Stats()
	mu.Lock()
	replay = true
	mu.Unlock()
	eventually(t, 10*time.Second, "frames replayed", func() bool { mu.Lock(); defer mu.Unlock(); return replayed >= 20 })
	h.tap.OnWrite(nil)
	time.Sleep(300 * time.Millisecond)
	sa.halt()
	after := bob.m.Stats()
	bob.mu.Lock()
	dups := bob.dups
	bob.mu.Unlock()
	if dups != 0 || after.Replayed-before.Replayed < 20 {
		t.Fatalf("bob accepted %d frames twice; %d replays counted of %d", dups, after.Replayed-before.Replayed, replayed)
	}
	t.Logf("chat labelled as a commit shown as chat; %d replayed frames all rejected", replayed)
}

// TestHostileServerReusesConsent: after one recording (to which bob
// consented) stops, the recorder starts another, and the server tells the
// recorder it is active at once with bob's consent (finding 5). The
// recorder's client does not verify it — bob never signed a consent to this
// recording — and reports a consent mismatch; bob is asked anew, with the
// recorder named.
func TestHostileServerReusesConsent(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost, h.vouched("alice")...)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant, h.vouched("bob")...)
	converged(t, 10*time.Second, alice, bob)
	sig := alice.m.Signaling()
	rec1, err := sig.StartRecording(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.m.Consent(ctx, rec1.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob asked for recording 1", func() bool { return len(eventsOf[*ConsentRequested](bob)) == 1 })
	if err := bob.m.Consent(ctx, rec1.ID, true); err != nil {
		t.Fatal(err)
	}
	lastRec := func(c *client) *RecordingChanged {
		evs := eventsOf[*RecordingChanged](c)
		if len(evs) == 0 {
			return nil
		}
		return evs[len(evs)-1]
	}
	eventually(t, 5*time.Second, "recording 1 verified at the recorder", func() bool {
		r := lastRec(alice)
		return r != nil && r.Recording.ID == rec1.ID && r.Verified
	})
	if err := sig.StopRecording(ctx); err != nil {
		t.Fatal(err)
	}

	// From now on the server tells alice that any recording is active,
	// with bob's consent.
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() != "alice" {
			return [][]byte{msg}
		}
		return [][]byte{rewriteJSON(msg, "state", func(m map[string]any) {
			st, _ := m["state"].(map[string]any)
			if r, ok := st["recording"].(map[string]any); ok && r["requested"] == true {
				r["active"] = true
				for _, p := range st["participants"].([]any) {
					p.(map[string]any)["consented"] = true
				}
			}
		})}
	})
	rec2, err := sig.StartRecording(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "recording 2 claimed active at the recorder", func() bool {
		r := lastRec(alice)
		return r != nil && r.Recording.ID == rec2.ID && r.Recording.Active
	})
	if r := lastRec(alice); r.Verified || !slices.Equal(r.Missing, []string{"bob"}) {
		t.Fatalf("recording 2 at the recorder: verified %v, missing %v", r.Verified, r.Missing)
	}
	eventually(t, 5*time.Second, "a consent mismatch at the recorder", func() bool {
		for _, ev := range eventsOf[*Mismatch](alice) {
			if ev.Kind == MismatchConsent && slices.Equal(ev.Participants, []string{"bob"}) {
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "bob asked for recording 2", func() bool {
		evs := eventsOf[*ConsentRequested](bob)
		return len(evs) == 2 && evs[1].Recording.ID == rec2.ID && evs[1].Recorder.Identity == "alice" && evs[1].Recorder.Name == "Name alice"
	})
	for _, r := range eventsOf[*RecordingChanged](alice) {
		if r.Recording.ID == rec2.ID && r.Verified {
			t.Fatal("recording 2 was verified at some point")
		}
	}
}

// TestHostileServerEpochLie: the server tells bob that the group is at an
// older epoch and has a member it does not have (finding 6). Claiming an
// older epoch no longer silences the roster check: bob reports both.
func TestHostileServerEpochLie(t *testing.T) {
	goroutineLeakCheck(t)
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant)
	carol, _ := h.joinLogged("carol", signaling.RoleParticipant)
	epoch, _ := converged(t, 10*time.Second, alice, bob, carol)
	phantom := map[string]any{"identity": "mallory", "name": "Mallory", "role": "participant", "member": true,
		"permissions": map[string]any{}}
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() != "bob" {
			return [][]byte{msg}
		}
		return [][]byte{rewriteJSON(msg, "state", func(m map[string]any) {
			st := m["state"].(map[string]any)
			st["epoch"] = epoch - 1
			st["participants"] = append(st["participants"].([]any), phantom)
		})}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := alice.m.Signaling().Lock(ctx, true); err != nil { // any state change
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bob reports the phantom and the epoch", func() bool {
		var roster, ep bool
		for _, ev := range eventsOf[*Mismatch](bob) {
			roster = roster || (ev.Kind == MismatchRoster && slices.Equal(ev.Participants, []string{"mallory"}))
			ep = ep || (ev.Kind == MismatchEpoch && ev.ServerEpoch == epoch-1 && ev.Epoch == epoch)
		}
		return roster && ep
	})
	if slices.ContainsFunc(bob.m.Members(), func(m Member) bool { return m.Identity == "mallory" }) {
		t.Fatal("the phantom is in bob's roster")
	}
}

// TestHostileServerForgedExternalCommit: the server relays external Commits
// of its own making, built on the room's real GroupInfo: an unvouched
// joiner, and a joiner the backend vouched for (dave) who has no leaf to
// replace. Members accept an external Commit only as a vouched member's
// resync of its own leaf: every member refuses both and the group is
// unchanged.
func TestHostileServerForgedExternalCommit(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newHostileEnv(t)
	alice, _ := h.joinLogged("alice", signaling.RoleHost, h.vouched("alice")...)
	bob, _ := h.joinLogged("bob", signaling.RoleParticipant, h.vouched("bob")...)
	carol, _ := h.joinLogged("carol", signaling.RoleParticipant, h.vouched("carol")...)
	epoch, code := converged(t, 10*time.Second, alice, bob, carol)
	_, gi, err := alice.m.Signaling().GroupInfo(ctx)
	if err != nil {
		t.Fatalf("the room's GroupInfo: %v", err)
	}
	forge := func(id *keys.Identity, cfg *keys.Config) []byte {
		t.Helper()
		g, c, err := keys.JoinExternal(id, gi, cfg)
		if err != nil {
			t.Fatalf("forging an external Commit: %v", err)
		}
		g.Close()
		return c.Message
	}
	mallory, _ := keys.NewIdentity(nil, "mallory")
	dave, _ := keys.NewIdentity(nil, "dave")
	a, err := auth.MintAssertion(h.key, auth.Assertion{Room: h.room, Identity: "dave", Name: "Dave", SignatureKey: dave.PublicKey(), Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := dave.SetAssertion(a); err != nil {
		t.Fatal(err)
	}
	var extra [][]byte
	for _, f := range [][]byte{forge(mallory, nil), forge(dave, nil)} {
		b, _ := json.Marshal(map[string]any{"v": 1, "type": "commit", "participant": "dave", "epoch": epoch, "external": true, "data": f})
		extra = append(extra, b)
	}
	// The next message to each member is followed by the forged Commits.
	var mu sync.Mutex
	sent := map[string]bool{}
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		if sent[c.Identity()] {
			return [][]byte{msg}
		}
		sent[c.Identity()] = true
		return append([][]byte{msg}, extra...)
	})
	if err := alice.m.Signaling().Lock(ctx, true); err != nil { // a state message to everyone
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the forged Commits delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) == 3
	})
	time.Sleep(time.Second)
	for _, c := range []*client{alice, bob, carol} {
		e, cd, err := c.m.SecurityCode()
		if err != nil || e != epoch || cd != code || len(c.m.Members()) != 3 {
			t.Fatalf("%s after the forged Commits: epoch %d (was %d), same code %v, %d members", c.id, e, epoch, cd == code, len(c.m.Members()))
		}
		if n := c.m.Stats().MessagesRejected; n < 2 {
			t.Fatalf("%s counted %d rejected messages, want the 2 forged Commits", c.id, n)
		}
	}
}
