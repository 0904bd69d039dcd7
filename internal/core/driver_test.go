package core

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/keys"
)

const room = "standup"

// world is a meeting as one driver sees it, with a fake clock: the backend
// that vouches for members, and "alice", a member played directly with
// package keys, whose messages the test relays as the server would (or as a
// hostile one would).
type world struct {
	t       *testing.T
	now     time.Time
	priv    ed25519.PrivateKey
	auth    *keys.Authority
	aliceID *keys.Identity
	alice   *keys.Group
	d       *Driver
	state   RoomState
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, now: time.Unix(1_800_000_000, 0), priv: priv,
		auth: &keys.Authority{Keys: []ed25519.PublicKey{pub}, Room: room}}
	w.aliceID = w.vouch("alice")
	if w.alice, err = keys.NewGroup(w.aliceID, w.kcfg()); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Self: "bob", Identity: w.vouch("bob"), Authority: w.auth, Grace: 2 * time.Second, Rekey: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.d = d
	return w
}

func (w *world) kcfg() *keys.Config {
	return &keys.Config{Authority: w.auth, Now: func() time.Time { return w.now }}
}

// vouch makes an identity the backend vouches for.
func (w *world) vouch(name string) *keys.Identity {
	w.t.Helper()
	id, err := keys.NewIdentity(nil, name)
	if err != nil {
		w.t.Fatal(err)
	}
	a, err := keys.SignAssertion(w.priv, keys.Assertion{Room: room, Identity: name, Name: "The " + name,
		SignatureKey: id.PublicKey(), Expiry: w.now.Add(time.Hour)})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := id.SetAssertion(a); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) keyPackage(id *keys.Identity) []byte {
	w.t.Helper()
	kp, err := keys.NewKeyPackage(id, w.kcfg())
	if err != nil {
		w.t.Fatal(err)
	}
	return kp.Bytes()
}

func (w *world) receive(m ServerMessage) []Output { return w.d.Receive(w.now, m) }

func (w *world) advance(d time.Duration) []Output {
	w.now = w.now.Add(d)
	return w.d.Tick(w.now)
}

func u64(v uint64) *uint64 { return &v }

// join brings bob into alice's group: he uploads a KeyPackage and alice
// commits it.
func (w *world) join() []Output {
	w.t.Helper()
	out, err := w.d.Start(w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	kp := mustFind[SendKeyPackage](w.t, out)
	c, err := w.alice.CreateCommit([][]byte{kp.Data}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.alice.MergePendingCommit(); err != nil {
		w.t.Fatal(err)
	}
	w.setState(w.alice.Epoch(), "alice", "bob")
	return w.receive(ServerMessage{Type: TypeWelcome, Data: c.Welcome})
}

// setState makes the server announce the room with members at epoch.
func (w *world) setState(epoch uint64, members ...string) []Output {
	w.state.Epoch, w.state.Participants = epoch, nil
	for _, m := range members {
		w.state.Participants = append(w.state.Participants, Participant{Identity: m, Member: true})
	}
	st := w.state
	return w.receive(ServerMessage{Type: TypeState, State: &st})
}

// aliceSays seals an application message from alice.
func (w *world) aliceSays(m appMessage) []byte {
	w.t.Helper()
	data, err := encodeApp(m)
	if err != nil {
		w.t.Fatal(err)
	}
	sealed, err := w.alice.Seal(data)
	if err != nil {
		w.t.Fatal(err)
	}
	return sealed
}

// aliceCommits makes alice commit (an Update, or adds and removes) and
// returns the Commit.
func (w *world) aliceCommits(add [][]byte, remove []uint32) *keys.Commit {
	w.t.Helper()
	c, err := w.alice.CreateCommit(add, remove)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.alice.MergePendingCommit(); err != nil {
		w.t.Fatal(err)
	}
	return c
}

func find[T Output](out []Output) (T, bool) {
	for _, o := range out {
		if v, ok := o.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func mustFind[T Output](t *testing.T, out []Output) T {
	t.Helper()
	v, ok := find[T](out)
	if !ok {
		t.Fatalf("no %T in %v", v, kinds(out))
	}
	return v
}

func none[T Output](t *testing.T, out []Output) {
	t.Helper()
	if v, ok := find[T](out); ok {
		t.Fatalf("unexpected %T in %v", v, kinds(out))
	}
}

func kinds(out []Output) []string {
	var s []string
	for _, o := range out {
		b, _ := json.Marshal(struct{ T string }{T: typeName(o)})
		s = append(s, string(b))
	}
	return s
}

func code(t *testing.T, g *keys.Group) string {
	t.Helper()
	c, err := g.SecurityCode()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJoinAndCommit(t *testing.T) {
	w := newWorld(t)
	out := w.join()
	ik := mustFind[*InstallKeys](t, out)
	ec := mustFind[EpochChanged](t, out)
	if ik.Epoch != 1 || ec.Epoch != 1 || ec.SecurityCode != code(t, w.alice) {
		t.Fatalf("after the Welcome: keys of epoch %d, event %+v", ik.Epoch, ec)
	}
	if len(ec.Members) != 2 || !ec.Members[0].Verified || ec.Members[0].Name != "The alice" {
		t.Fatalf("roster %+v", ec.Members)
	}
	if len(ik.Members) != 2 || ik.Members[0].Identity != "alice" || ik.Own.Identity != "bob" {
		t.Fatalf("keys filed under %q, %q", ik.Members[0].Identity, ik.Own.Identity)
	}

	// The server asks bob to add carol.
	carol := w.keyPackage(w.vouch("carol"))
	out = w.receive(ServerMessage{Type: TypeCommitRequest, Epoch: u64(1),
		Pending: []Proposal{{ID: 7, Kind: ProposalAdd, Participant: "carol", KeyPackage: carol}}})
	sc := mustFind[SendCommit](t, out)
	if sc.Epoch != 1 || !slices.Equal(sc.Proposals, []uint64{7}) || sc.Welcome == nil {
		t.Fatalf("commit %+v", sc)
	}
	// Alice hears it from the server; bob hears that it was accepted.
	if _, err := w.alice.Process(sc.Data); err != nil {
		t.Fatal(err)
	}
	out = w.d.CommitResult(w.now, true, "")
	ec = mustFind[EpochChanged](t, out)
	if ec.Epoch != 2 || ec.SecurityCode != code(t, w.alice) || len(ec.Members) != 3 {
		t.Fatalf("after bob's Commit: %+v", ec)
	}
	if j := mustFind[ParticipantJoined](t, out); j.Member.Identity != "carol" {
		t.Fatalf("joined %+v", j)
	}
	// The previous epoch's keys go after the grace window.
	none[ExpireKeys](t, w.advance(time.Second))
	if e := mustFind[ExpireKeys](t, w.advance(time.Second)); e.Before != 2 {
		t.Fatalf("expire %+v", e)
	}
}

// TestRefusesServerMembers: the server asks the committer to add members the
// backend did not vouch for, a KeyPackage under another participant's name,
// or a second leaf for a present member. None is committed (finding 1).
func TestRefusesServerMembers(t *testing.T) {
	w := newWorld(t)
	w.join()
	plain, err := keys.NewIdentity(nil, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	plainKP, err := keys.NewKeyPackage(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    Proposal
	}{
		{"unvouched", Proposal{ID: 1, Kind: ProposalAdd, Participant: "mallory", KeyPackage: plainKP.Bytes()}},
		{"another's name", Proposal{ID: 2, Kind: ProposalAdd, Participant: "dave", KeyPackage: w.keyPackage(w.vouch("carol"))}},
		{"second alice", Proposal{ID: 3, Kind: ProposalAdd, Participant: "alice", KeyPackage: w.keyPackage(w.vouch("alice"))}},
		{"garbage", Proposal{ID: 4, Kind: ProposalAdd, Participant: "erin", KeyPackage: []byte{1, 2, 3}}},
	} {
		before := w.d.Stats().RefusedKeyPackages
		out := w.receive(ServerMessage{Type: TypeCommitRequest, Epoch: u64(1), Pending: []Proposal{c.p}})
		none[SendCommit](t, out)
		mustFind[Warning](t, out)
		if w.d.Stats().RefusedKeyPackages != before+1 {
			t.Fatalf("%s: not counted", c.name)
		}
	}
	// A rejoin (remove the old leaf, add the new one) is fine.
	out := w.receive(ServerMessage{Type: TypeCommitRequest, Epoch: u64(1), Pending: []Proposal{
		{ID: 5, Kind: ProposalRemove, Participant: "alice"},
		{ID: 6, Kind: ProposalAdd, Participant: "alice", KeyPackage: w.keyPackage(w.vouch("alice"))}}})
	if sc := mustFind[SendCommit](t, out); !slices.Equal(sc.Proposals, []uint64{5, 6}) {
		t.Fatalf("rejoin commit covers %v", sc.Proposals)
	}
}

// TestChatAsCommit: the server delivers a chat message labelled "commit"
// (finding 4). It is shown as chat, installs no keys (which would reset the
// replay windows), does not restart the rekey timer, and is counted; a
// Commit labelled "chat" still moves the epoch.
func TestChatAsCommit(t *testing.T) {
	w := newWorld(t)
	w.join()
	rekeyAt := w.d.Deadline()
	w.now = w.now.Add(10 * time.Second)
	chat := w.aliceSays(appMessage{Type: appChat, Text: "hello"})
	out := w.receive(ServerMessage{Type: TypeCommit, Epoch: u64(1), Data: chat})
	if m := mustFind[ChatMessage](t, out); m.Text != "hello" || m.From.Identity != "alice" || !m.From.Verified {
		t.Fatalf("chat %+v", m)
	}
	none[*InstallKeys](t, out)
	none[EpochChanged](t, out)
	if w.d.Stats().Mislabelled != 1 || !w.d.Deadline().Equal(rekeyAt) {
		t.Fatalf("mislabelled %d, rekey deadline moved from %v to %v", w.d.Stats().Mislabelled, rekeyAt, w.d.Deadline())
	}
	// The replay is rejected, under either label.
	for _, label := range []string{TypeCommit, TypeChat} {
		none[ChatMessage](t, w.receive(ServerMessage{Type: label, Epoch: u64(1), Data: chat}))
	}
	c := w.aliceCommits(nil, nil)
	out = w.receive(ServerMessage{Type: TypeChat, Epoch: u64(1), Data: c.Message})
	if ec := mustFind[EpochChanged](t, out); ec.Epoch != 2 || ec.SecurityCode != code(t, w.alice) {
		t.Fatalf("commit labelled chat: %+v", ec)
	}
	mustFind[*InstallKeys](t, out)
}

// TestEpochLie: the server claims an older epoch to hide a phantom member
// (finding 6). Both the roster and the epoch disagreement surface after the
// grace window, whichever side is ahead.
func TestEpochLie(t *testing.T) {
	w := newWorld(t)
	w.join()
	out := w.setState(0, "alice", "bob", "phantom")
	none[Mismatch](t, out)
	if dl := w.d.Deadline(); !dl.Equal(w.now.Add(2 * time.Second)) {
		t.Fatalf("deadline %v, want the end of the grace window", dl)
	}
	out = w.advance(2 * time.Second)
	var got []MismatchKind
	for _, o := range out {
		if m, ok := o.(Mismatch); ok {
			got = append(got, m.Kind)
			if m.Kind == MismatchRoster && !slices.Equal(m.Participants, []string{"phantom"}) {
				t.Fatalf("roster mismatch names %v", m.Participants)
			}
		}
	}
	if !slices.Equal(got, []MismatchKind{MismatchRoster, MismatchEpoch}) {
		t.Fatalf("mismatches %v", got)
	}
	// Reported once, then again only after it ended and came back.
	none[Mismatch](t, w.advance(5*time.Second))
	w.setState(1, "alice", "bob")
	w.setState(1, "alice", "bob", "bob")
	if m := mustFind[Mismatch](t, w.advance(2*time.Second)); m.Kind != MismatchRoster || !slices.Equal(m.Participants, []string{"bob"}) {
		t.Fatalf("a second bob in the server's roster: %+v", m)
	}
}

// TestHeldWhileCommitting: while bob's Commit is in flight, a Commit the
// server relays is held until the answer, so that it is processed in the
// right epoch.
func TestHeldWhileCommitting(t *testing.T) {
	w := newWorld(t)
	w.join()
	out, err := w.d.Rekey(w.now)
	if err != nil {
		t.Fatal(err)
	}
	sc := mustFind[SendCommit](t, out)
	if _, err := w.alice.Process(sc.Data); err != nil {
		t.Fatal(err)
	}
	// Alice commits on top of bob's Commit; the server relays it before
	// bob's host reports the answer.
	next := w.aliceCommits(nil, nil)
	none[EpochChanged](t, w.receive(ServerMessage{Type: TypeCommit, Epoch: u64(2), Data: next.Message}))
	out = w.d.CommitResult(w.now, true, "")
	var epochs []uint64
	for _, o := range out {
		if ec, ok := o.(EpochChanged); ok {
			epochs = append(epochs, ec.Epoch)
		}
	}
	if !slices.Equal(epochs, []uint64{2, 3}) {
		t.Fatalf("epochs %v, want 2 then 3", epochs)
	}
	if e, _ := w.d.Epoch(); e != w.alice.Epoch() {
		t.Fatal("bob and alice diverged")
	}

	// A lost race: alice's Commit won; bob's answer is a conflict.
	out, _ = w.d.Rekey(w.now)
	mustFind[SendCommit](t, out)
	won := w.aliceCommits(nil, nil)
	w.receive(ServerMessage{Type: TypeCommit, Epoch: u64(3), Data: won.Message})
	out = w.d.CommitResult(w.now, false, "conflict")
	none[Warning](t, out)
	if ec := mustFind[EpochChanged](t, out); ec.Epoch != 4 || ec.SecurityCode != code(t, w.alice) {
		t.Fatalf("after the lost race: %+v", ec)
	}
}

func TestRekeyAndRemoval(t *testing.T) {
	w := newWorld(t)
	w.join()
	dl := w.d.Deadline()
	out := w.advance(dl.Sub(w.now))
	if sc := mustFind[SendCommit](t, out); sc.Epoch != 1 || sc.Proposals != nil {
		t.Fatalf("periodic update %+v", sc)
	}
	w.d.CommitResult(w.now, false, "internal")
	if got := w.d.Deadline(); !got.Equal(w.now.Add(time.Minute)) {
		t.Fatalf("a failed update is retried at %v", got)
	}
	// Alice removes bob: his keys go at once.
	c := w.aliceCommits(nil, []uint32{1})
	out = w.receive(ServerMessage{Type: TypeCommit, Epoch: u64(1), Data: c.Message})
	mustFind[EraseKeys](t, out)
	mustFind[GroupLeft](t, out)
	if _, err := w.d.SendChat(w.now, "still here?"); !errors.Is(err, ErrNotMember) {
		t.Fatalf("chat after removal: %v", err)
	}
}

// TestConsentPerRecording: consent belongs to one recording (finding 5).
// Bob records; alice's signed consent to the first recording verifies it;
// the server then starts a second recording and calls it active at once,
// reusing her consent: bob's driver does not verify it and reports a
// Mismatch. A withdrawal unverifies at once.
func TestConsentPerRecording(t *testing.T) {
	w := newWorld(t)
	w.join()
	rec1 := Recording{ID: "r1", Requested: true, Recorder: "bob", AskedAt: 1000}
	w.state.Recording = rec1
	out := w.setState(1, "alice", "bob")
	none[ConsentRequested](t, out) // bob records: he is not asked
	out = w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appConsent,
		Recording: "r1", Recorder: "bob", AskedAt: 1000, Granted: true})})
	rec1.Active = true
	w.state.Recording = rec1
	out = w.setState(1, "alice", "bob")
	if rc := mustFind[RecordingChanged](t, out); !rc.Verified {
		t.Fatalf("recording 1 with alice's consent: %+v", rc)
	}
	// Recording 2, active at once: alice never consented to it.
	rec2 := Recording{ID: "r2", Requested: true, Active: true, Recorder: "bob", AskedAt: 2000}
	w.state.Recording = rec2
	w.state.Participants[0].Consented = true
	out = w.receive(ServerMessage{Type: TypeState, State: &w.state})
	if rc := mustFind[RecordingChanged](t, out); rc.Verified || !slices.Equal(rc.Missing, []string{"alice"}) {
		t.Fatalf("recording 2 on recording 1's consent: %+v", rc)
	}
	if m := mustFind[Mismatch](t, w.advance(2*time.Second)); m.Kind != MismatchConsent {
		t.Fatalf("mismatch %+v", m)
	}
	// A consent that names the recording but another time does not count.
	out = w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appConsent,
		Recording: "r2", Recorder: "bob", AskedAt: 1000, Granted: true})})
	none[RecordingChanged](t, out)
	out = w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appConsent,
		Recording: "r2", Recorder: "bob", AskedAt: 2000, Granted: true})})
	if rc := mustFind[RecordingChanged](t, out); !rc.Verified {
		t.Fatalf("after alice's consent to recording 2: %+v", rc)
	}
	// She withdraws: unverified at once, before the server says anything.
	out = w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appConsent,
		Recording: "r2", Recorder: "bob", AskedAt: 2000, Granted: false})})
	if rc := mustFind[RecordingChanged](t, out); rc.Verified {
		t.Fatalf("after the withdrawal: %+v", rc)
	}
}

// TestConsentAsked: a participant is asked once per recording, even when the
// server claims it consented, and its answer goes to the server and, signed,
// to the group.
func TestConsentAsked(t *testing.T) {
	w := newWorld(t)
	w.join()
	rec := Recording{ID: "r9", Requested: true, Recorder: "alice", AskedAt: 5}
	w.state.Recording = rec
	w.state.Participants = []Participant{{Identity: "alice", Member: true}, {Identity: "bob", Member: true, Consented: true}}
	out := w.receive(ServerMessage{Type: TypeState, State: &w.state})
	cr := mustFind[ConsentRequested](t, out)
	if cr.Recording != rec || cr.Recorder.Identity != "alice" || cr.Recorder.Name != "The alice" || !cr.Recorder.Verified {
		t.Fatalf("asked %+v", cr)
	}
	none[ConsentRequested](t, w.receive(ServerMessage{Type: TypeState, State: &w.state}))
	out, err := w.d.Consent(w.now, "r9", true)
	if err != nil {
		t.Fatal(err)
	}
	if sc := mustFind[SendConsent](t, out); sc != (SendConsent{Recording: "r9", Granted: true}) {
		t.Fatalf("to the server: %+v", sc)
	}
	msg, err := w.alice.Process(mustFind[SendChat](t, out).Data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := decodeApp(msg.Data)
	if err != nil || a.Type != appConsent || !a.matches(rec) || !a.Granted {
		t.Fatalf("signed consent %+v (%v)", a, err)
	}
}

// TestKeyPackageRenewal: a KeyPackage the server dropped is replaced by a
// fresh one, at most once per minRenewal however often the server asks, and
// never once the client is a member.
func TestKeyPackageRenewal(t *testing.T) {
	w := newWorld(t)
	out, err := w.d.Start(w.now)
	if err != nil {
		t.Fatal(err)
	}
	first := mustFind[SendKeyPackage](t, out)
	expired := ServerMessage{Type: TypeError, Code: CodeKeyPackageExpired}
	renewed := mustFind[SendKeyPackage](t, w.receive(expired))
	if bytes.Equal(first.Data, renewed.Data) {
		t.Fatal("the renewed KeyPackage is the old one")
	}
	none[SendKeyPackage](t, w.receive(expired))
	w.now = w.now.Add(minRenewal)
	mustFind[SendKeyPackage](t, w.receive(expired))
	// Once a member, nothing to renew.
	w.d = nil
	w2 := newWorld(t)
	w2.join()
	w2.now = w2.now.Add(time.Hour)
	none[SendKeyPackage](t, w2.receive(expired))
}

// TestResync: bob misses one of alice's Commits. Once the server's epoch has
// been ahead for resyncDelay, he asks for the latest GroupInfo and rejoins
// with an external Commit that replaces his own leaf; alice accepts it as a
// resync, and both agree again.
func TestResync(t *testing.T) {
	w := newWorld(t)
	w.join()
	w.aliceCommits(nil, nil) // bob never sees it
	out := w.setState(2, "alice", "bob")
	none[SendGetGroupInfo](t, out)
	out = w.advance(resyncDelay)
	mustFind[SendGetGroupInfo](t, out)
	// Garbage, and a GroupInfo of an epoch he is not behind, change nothing.
	none[SendCommit](t, w.d.GroupInfoResult(w.now, 2, []byte{1, 2, 3}, ""))
	none[SendCommit](t, w.d.GroupInfoResult(w.now, 2, nil, "not_found"))
	gi, err := w.alice.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	none[SendCommit](t, w.d.GroupInfoResult(w.now, 1, gi, ""))
	// Backoff: the next request waits resyncBackoff.
	none[SendGetGroupInfo](t, w.advance(time.Second))
	mustFind[SendGetGroupInfo](t, w.advance(resyncBackoff))
	sc := mustFind[SendCommit](t, w.d.GroupInfoResult(w.now, 2, gi, ""))
	if !sc.External || sc.Epoch != 2 {
		t.Fatalf("resync commit %+v", sc)
	}
	msg, err := w.alice.Process(sc.Data)
	if err != nil {
		t.Fatalf("alice refuses bob's resync: %v", err)
	}
	if !msg.External || len(msg.Added) != 1 || msg.Added[0].Identity != "bob" || len(msg.Removed) != 1 || msg.Removed[0].Identity != "bob" {
		t.Fatalf("alice sees %+v", msg)
	}
	out = w.d.CommitResult(w.now, true, "")
	if r := mustFind[Resynced](t, out); r.Epoch != 3 {
		t.Fatalf("resynced %+v", r)
	}
	if ec := mustFind[EpochChanged](t, out); ec.SecurityCode != code(t, w.alice) || len(ec.Members) != 2 {
		t.Fatalf("after the resync: %+v", ec)
	}
	if gi := mustFind[SendGroupInfo](t, out); gi.Epoch != 3 {
		t.Fatalf("published GroupInfo of epoch %d", gi.Epoch)
	}
	none[ParticipantLeft](t, out)
	none[ParticipantJoined](t, out)
	// Bob reads alice's chat again.
	out = w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appChat, Text: "welcome back"})})
	if m := mustFind[ChatMessage](t, out); m.Text != "welcome back" {
		t.Fatalf("chat %+v", m)
	}
	w.setState(3, "alice", "bob")
	none[SendGetGroupInfo](t, w.advance(time.Minute/2))
}

// TestLateChatAfterCommit: a chat message alice sealed just before her
// Commit reaches bob after it: he still reads it, with the epoch it was
// sent in, during the grace window, and no longer after it.
func TestLateChatAfterCommit(t *testing.T) {
	w := newWorld(t)
	w.join()
	late := w.aliceSays(appMessage{Type: appChat, Text: "just before"})
	later := w.aliceSays(appMessage{Type: appChat, Text: "also before"})
	c := w.aliceCommits(nil, nil)
	mustFind[EpochChanged](t, w.receive(ServerMessage{Type: TypeCommit, Data: c.Message}))
	if m := mustFind[ChatMessage](t, w.receive(ServerMessage{Type: TypeChat, Data: late})); m.Epoch != 1 || m.Text != "just before" {
		t.Fatalf("late chat %+v", m)
	}
	w.advance(2 * time.Second) // the grace window ends
	none[ChatMessage](t, w.receive(ServerMessage{Type: TypeChat, Data: later}))
}

// TestChatOfHeldEpoch: while bob's Commit is in flight, alice's winning
// Commit is held, and her chat of the epoch it starts arrives: bob reads it
// once the answer came and the Commit was processed.
func TestChatOfHeldEpoch(t *testing.T) {
	w := newWorld(t)
	w.join()
	out, err := w.d.Rekey(w.now)
	if err != nil {
		t.Fatal(err)
	}
	mustFind[SendCommit](t, out)
	won := w.aliceCommits(nil, nil)
	w.receive(ServerMessage{Type: TypeCommit, Data: won.Message})
	none[ChatMessage](t, w.receive(ServerMessage{Type: TypeChat, Data: w.aliceSays(appMessage{Type: appChat, Text: "in epoch 2"})}))
	out = w.d.CommitResult(w.now, false, "conflict")
	if m := mustFind[ChatMessage](t, out); m.Text != "in epoch 2" || m.Epoch != 2 {
		t.Fatalf("chat %+v", m)
	}
}
