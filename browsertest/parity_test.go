package browsertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/keys"
)

// The parity test: one scripted meeting, hostile server messages included,
// runs through internal/core's driver natively and through tresor.wasm in
// Chromium, and every output of every step must be the same (keys are not
// encoded; KIDs, Commits, Welcomes, sealed chat and security codes are). Both
// draw randomness from one seeded stream, which only a build with the
// tresortest tag accepts (cmd/tresor-wasm/rand_testing.go).

const paritySeed = 4242

// step is one input to the driver.
type step struct {
	Op       string              `json:"op"` // start, receive, commitResult, groupInfoResult, tick, sendChat, rekey, consent
	Now      int64               `json:"now"`
	Msg      *core.ServerMessage `json:"msg,omitempty"`
	Accepted bool                `json:"accepted,omitempty"`
	Reason   string              `json:"reason,omitempty"`
	Text     string              `json:"text,omitempty"`
	ID       string              `json:"id,omitempty"`
	Granted  bool                `json:"granted,omitempty"`
	Epoch    uint64              `json:"epoch,omitempty"`
	Data     []byte              `json:"data,omitempty"`
}

type parityConfig struct {
	Self      string `json:"self"`
	Authority struct {
		Keys []string `json:"keys"`
		Room string   `json:"room"`
	} `json:"authority"`
	GraceMs         int64 `json:"graceMs"`
	RekeyMs         int64 `json:"rekeyMs"`
	TestingOnlySeed int   `json:"testingOnlySeed"`
}

// parityScript plays the meeting natively: bob is the driver under test,
// alice a member played with package keys, and the test the (partly
// hostile) server. It returns bob's configuration, his assertion, the
// steps and the native outputs of each step (JSON).
func parityScript(t *testing.T) (parityConfig, []byte, []step, []json.RawMessage) {
	t.Helper()
	const room = "parity"
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	authority := &keys.Authority{Keys: []ed25519.PublicKey{pub}, Room: room}
	now := time.UnixMilli(1_900_000_000_000)
	vouch := func(id *keys.Identity) []byte {
		a, err := auth.MintAssertion(priv, auth.Assertion{Room: room, Identity: id.Name(), Name: "The " + id.Name(),
			SignatureKey: id.PublicKey(), Expiry: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := id.SetAssertion(a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	newID := func(name string) *keys.Identity {
		id, err := keys.NewIdentity(nil, name)
		if err != nil {
			t.Fatal(err)
		}
		vouch(id)
		return id
	}
	kcfg := &keys.Config{Authority: authority, Now: func() time.Time { return now }}

	// Bob: the driver, on the seeded stream, created as the wasm bridge
	// creates it (identity first, from the same stream).
	var seed [32]byte
	seed[0], seed[1] = byte(paritySeed&0xff), byte(paritySeed>>8)
	rnd := mrand.NewChaCha8(seed)
	bobID, err := keys.NewIdentity(rnd, "bob")
	if err != nil {
		t.Fatal(err)
	}
	assertion := vouch(bobID)
	cfg := parityConfig{Self: "bob", GraceMs: 2000, RekeyMs: 60_000, TestingOnlySeed: paritySeed}
	cfg.Authority.Keys = []string{b64(pub)}
	cfg.Authority.Room = room
	d, err := core.New(core.Config{Self: "bob", Identity: bobID, Authority: authority,
		Grace: 2 * time.Second, Rekey: time.Minute, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}

	alice, err := keys.NewGroup(newID("alice"), kcfg)
	if err != nil {
		t.Fatal(err)
	}
	var steps []step
	var outs []json.RawMessage
	run := func(s step) []core.Output {
		t.Helper()
		s.Now = now.UnixMilli()
		var o []core.Output
		var err error
		switch s.Op {
		case "start":
			o, err = d.Start(now)
		case "receive":
			o = d.Receive(now, *s.Msg)
		case "commitResult":
			o = d.CommitResult(now, s.Accepted, s.Reason)
		case "groupInfoResult":
			o = d.GroupInfoResult(now, s.Epoch, s.Data, s.Reason)
		case "tick":
			o = d.Tick(now)
		case "sendChat":
			o, err = d.SendChat(now, s.Text)
		case "rekey":
			o, err = d.Rekey(now)
		case "consent":
			o, err = d.Consent(now, s.ID, s.Granted)
		}
		if err != nil {
			t.Fatalf("native %s: %v", s.Op, err)
		}
		enc, err := core.MarshalOutputs(o)
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s)
		outs = append(outs, enc)
		return o
	}
	receive := func(m core.ServerMessage) []core.Output { return run(step{Op: "receive", Msg: &m}) }
	u64 := func(v uint64) *uint64 { return &v }
	state := func(epoch uint64, rec core.Recording, members ...string) core.ServerMessage {
		st := &core.RoomState{Epoch: epoch, Recording: rec}
		for _, m := range members {
			st.Participants = append(st.Participants, core.Participant{Identity: m, Name: "The " + m, Member: true})
		}
		return core.ServerMessage{Type: core.TypeState, State: st}
	}
	find := func(o []core.Output, name string) json.RawMessage {
		t.Helper()
		for _, x := range o {
			enc, _ := core.MarshalOutput(x)
			var h struct{ Type string }
			json.Unmarshal(enc, &h)
			if h.Type == name {
				return enc
			}
		}
		t.Fatalf("no %s among the outputs", name)
		return nil
	}
	bytesOf := func(raw json.RawMessage, field string) []byte {
		var m map[string][]byte
		var probe map[string]any
		json.Unmarshal(raw, &probe)
		one, _ := json.Marshal(map[string]any{field: probe[field]})
		json.Unmarshal(one, &m)
		return m[field]
	}
	sealApp := func(v map[string]any) []byte {
		v["v"] = 1
		b, _ := json.Marshal(v)
		sealed, err := alice.Seal(b)
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	advance := func(d time.Duration) { now = now.Add(d) }

	// Bob is admitted and uploads a KeyPackage; alice adds him.
	receive(core.ServerMessage{Type: core.TypeJoined, State: state(0, core.Recording{}, "alice").State})
	kp := bytesOf(find(run(step{Op: "start"}), core.NameSendKeyPackage), "data")
	c, err := alice.CreateCommit([][]byte{kp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	advance(100 * time.Millisecond)
	receive(core.ServerMessage{Type: core.TypeWelcome, Epoch: u64(1), Data: c.Welcome})
	receive(state(1, core.Recording{}, "alice", "bob"))

	// Chat, a replay, and chat labelled as a Commit.
	hello := sealApp(map[string]any{"type": "chat", "text": "hello bob"})
	receive(core.ServerMessage{Type: core.TypeChat, Epoch: u64(1), Data: hello})
	receive(core.ServerMessage{Type: core.TypeCommit, Epoch: u64(1), Data: hello})
	receive(core.ServerMessage{Type: core.TypeCommit, Epoch: u64(1), Data: sealApp(map[string]any{"type": "chat", "text": "as a commit"})})

	// The server asks bob to add an unvouched mallory and a KeyPackage in
	// another's name: refused. Then carol, vouched: committed.
	mallory, _ := keys.NewIdentity(nil, "mallory")
	malloryKP, _ := keys.NewKeyPackage(mallory, nil)
	carolKP, err := keys.NewKeyPackage(newID("carol"), kcfg)
	if err != nil {
		t.Fatal(err)
	}
	receive(core.ServerMessage{Type: core.TypeCommitRequest, Epoch: u64(1), Pending: []core.Proposal{
		{ID: 1, Kind: core.ProposalAdd, Participant: "mallory", KeyPackage: malloryKP.Bytes()},
		{ID: 2, Kind: core.ProposalAdd, Participant: "dave", KeyPackage: carolKP.Bytes()}}})
	commit := bytesOf(find(receive(core.ServerMessage{Type: core.TypeCommitRequest, Epoch: u64(1), Pending: []core.Proposal{
		{ID: 3, Kind: core.ProposalAdd, Participant: "carol", KeyPackage: carolKP.Bytes()}}}), core.NameSendCommit), "data")
	if _, err := alice.Process(commit); err != nil {
		t.Fatalf("alice cannot follow bob's Commit: %v", err)
	}
	run(step{Op: "commitResult", Accepted: true})

	// The server lies: an older epoch and a phantom member.
	receive(state(1, core.Recording{}, "alice", "bob", "carol", "phantom"))
	advance(2 * time.Second)
	run(step{Op: "tick"})

	// A recording by alice; bob consents (to the server and, signed, to
	// the group) and chats.
	rec := core.Recording{ID: "rec-1", Requested: true, Recorder: "alice", AskedAt: now.UnixMilli()}
	receive(state(2, rec, "alice", "bob", "carol"))
	run(step{Op: "consent", ID: "rec-1", Granted: true})
	run(step{Op: "sendChat", Text: "fine by me"})

	// The periodic update loses a race to alice's Commit, which the server
	// relays before it answers bob; then alice removes bob.
	advance(2 * time.Minute)
	find(run(step{Op: "tick"}), core.NameSendCommit)
	won, err := alice.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	receive(core.ServerMessage{Type: core.TypeCommit, Epoch: u64(2), Data: won.Message})
	find(run(step{Op: "commitResult", Reason: "conflict"}), core.NameEpochChanged)
	// Bob misses one of alice's Commits and resyncs from her GroupInfo
	// with an external Commit.
	if _, err := alice.CreateCommit(nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	receive(state(alice.Epoch(), core.Recording{}, "alice", "bob", "carol"))
	advance(time.Second)
	find(run(step{Op: "tick"}), core.NameSendGetGroupInfo)
	gi, err := alice.GroupInfo()
	if err != nil {
		t.Fatal(err)
	}
	ext := bytesOf(find(run(step{Op: "groupInfoResult", Epoch: alice.Epoch(), Data: gi}), core.NameSendCommit), "data")
	if _, err := alice.Process(ext); err != nil {
		t.Fatalf("alice refuses bob's resync: %v", err)
	}
	find(run(step{Op: "commitResult", Accepted: true}), core.NameResynced)
	bye, err := alice.CreateCommit(nil, []uint32{1})
	if err != nil {
		t.Fatal(err)
	}
	find(receive(core.ServerMessage{Type: core.TypeCommit, Epoch: u64(3), Data: bye.Message}), core.NameGroupLeft)
	return cfg, assertion, steps, outs
}

func TestDriverParity(t *testing.T) {
	cfg, assertion, steps, native := parityScript(t)
	// The script exercises what it should, hostile cases included.
	seen := map[string]int{}
	for _, o := range native {
		var list []struct{ Type string }
		if err := json.Unmarshal(o, &list); err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			seen[x.Type]++
		}
	}
	for _, want := range []string{core.NameSendKeyPackage, core.NameInstallKeys, core.NameEpochChanged, core.NameChatMessage,
		core.NameWarning, core.NameSendCommit, core.NameParticipantJoined, core.NameMismatch, core.NameConsentRequested,
		core.NameSendConsent, core.NameSendChat, core.NameRecordingChanged, core.NameGroupLeft, core.NameEraseKeys,
		core.NameSendGroupInfo, core.NameSendGetGroupInfo, core.NameResynced} {
		if seen[want] == 0 {
			t.Errorf("the script never produces %s (%v)", want, seen)
		}
	}

	dir := t.TempDir()
	build := exec.Command("go", "build", "-tags", "tresortest", "-trimpath", "-o", filepath.Join(dir, "tresor.wasm"), "../cmd/tresor-wasm")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test wasm: %v\n%s", err, out)
	}
	srv := serveWeb(t, map[string]http.Handler{"/parity/": http.StripPrefix("/parity/", http.FileServer(http.Dir(dir)))})
	ctx := newTab(t, newBrowser(t, 2*time.Minute), "parity")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/test/parity.html")); err != nil {
		t.Fatal(err)
	}
	args, err := json.Marshal([]any{cfg, b64(assertion), steps})
	if err != nil {
		t.Fatal(err)
	}
	var browser []json.RawMessage
	raw := eval[json.RawMessage](t, ctx, fmt.Sprintf("runParity(...%s)", args))
	if err := json.Unmarshal(raw, &browser); err != nil {
		t.Fatalf("browser outputs: %v: %.200s", err, raw)
	}
	if len(browser) != len(native) {
		t.Fatalf("%d steps in the browser, %d natively", len(browser), len(native))
	}
	outputs := 0
	for i := range native {
		var n, b any
		if err := json.Unmarshal(native[i], &n); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(browser[i], &b); err != nil {
			t.Fatalf("step %d (%s) in the browser: %.200s", i, steps[i].Op, browser[i])
		}
		if !reflect.DeepEqual(n, b) {
			t.Fatalf("step %d (%s) differs:\nnative  %s\nbrowser %s", i, steps[i].Op, native[i], browser[i])
		}
		outputs += len(n.([]any))
	}
	t.Logf("%d steps, %d outputs, identical in Go and in Chromium's wasm", len(steps), outputs)
}
