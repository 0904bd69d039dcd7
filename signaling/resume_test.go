package signaling

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// chatData is the JSON (base64) form of a chat payload.
func chatData(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}

// TestResumeReplaysExactlyOnce: a raw participant processes some chat,
// acknowledges part of it, and drops without a close frame. While it is
// away it stays in the roster (reconnecting) and more chat arrives. Its
// resume replays exactly what it had not processed, in order, tells it the
// last request processed, and the session goes on with the next seq.
func TestResumeReplaysExactlyOnce(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	a := e.rawJoin("r", "a", RoleHost)
	b := e.dial("r", "b", RoleParticipant)
	waitFor[Joined](t, b)
	a.readType("state") // b joined
	lockID := a.request(map[string]any{"type": "lock", "locked": true})
	if m := a.readType("ok"); m["id"] != float64(lockID) {
		t.Fatalf("lock answer %v", m)
	}
	for i := range 5 {
		if err := b.SendChat(ctx(t), 0, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if m := a.readType("chat"); m["data"] != chatData(fmt.Sprint("m", i)) {
			t.Fatalf("chat %d: %v", i, m)
		}
		if i == 2 {
			a.ack() // acknowledged up to m2; m3 and m4 processed, not acknowledged
		}
	}
	processed := a.seq
	a.drop()
	st := waitMatch(t, b, func(s StateChanged) bool {
		return len(s.State.Participants) == 2 && s.State.Participants[0].Reconnecting
	})
	if st.State.Participants[0].Identity != "a" || st.State.Participants[1].Reconnecting {
		t.Fatalf("roster while a is away: %+v", st.State.Participants)
	}
	if n := e.srv.Stats().Reconnecting; n != 1 {
		t.Fatalf("Stats.Reconnecting = %d", n)
	}
	for i := 5; i < 8; i++ {
		if err := b.SendChat(ctx(t), 0, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	old := a.secret
	m := a.resume()
	if m["last_id"] != float64(lockID) || m["resume"] == old || m["self"] == nil || m["state"] == nil {
		t.Fatalf("resumed %v", m)
	}
	if _, has := m["seq"]; has {
		t.Fatalf("resumed is sequenced: %v", m)
	}
	// Replayed: the state saying a is reconnecting, then m5..m7, each once;
	// then the state saying a is back.
	var chats []string
	for {
		m := a.read()
		if m["type"] == "chat" {
			chats = append(chats, m["data"].(string))
		}
		if m["type"] == "state" && !strings.Contains(fmt.Sprint(m["state"]), "reconnecting:true") && len(chats) == 3 {
			break
		}
	}
	want := []string{chatData("m5"), chatData("m6"), chatData("m7")}
	if fmt.Sprint(chats) != fmt.Sprint(want) {
		t.Fatalf("replayed chat %v, want %v (processed up to seq %v)", chats, want, processed)
	}
	waitMatch(t, b, func(s StateChanged) bool {
		return len(s.State.Participants) == 2 && !s.State.Participants[0].Reconnecting
	})
	// The session goes on.
	if err := b.SendChat(ctx(t), 0, []byte("m8")); err != nil {
		t.Fatal(err)
	}
	if m := a.readType("chat"); m["data"] != chatData("m8") {
		t.Fatalf("after resume: %v", m)
	}
	// A request id at or below last_id is not processed again.
	a.send(fmt.Sprintf(`{"v":1,"type":"lock","id":%d,"locked":false}`, lockID))
	if m := a.readType("error"); m["code"] != string(CodeBadRequest) || m["id"] != float64(lockID) {
		t.Fatalf("replayed request id: %v", m)
	}
	if st := e.srv.Stats(); st.Resumes != 1 || st.Reconnecting != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestResumeMisuse: a resume secret works once, for its own participant in
// its own room, within the window, and only while the outbox could keep
// everything; everything else is resume_failed, says why, closes, and is
// counted. Secrets are never shown to others.
func TestResumeMisuse(t *testing.T) {
	e := newEnv(t, Config{ResumeWindow: 400 * time.Millisecond, MaxOutbox: 8})
	e.room("r", RoomConfig{})
	e.room("other", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	p := e.rawJoin("r", "p", RoleParticipant)
	h.readType("state")

	t.Run("guessed", func(t *testing.T) {
		guess, _, err := newResumeSecret()
		if err != nil {
			t.Fatal(err)
		}
		r, m := e.rawResume("r", guess, 0)
		wantResumeFailed(t, r, m, "unknown")

	})
	t.Run("used", func(t *testing.T) {
		used := p.secret
		p.drop()
		p.resume()
		p.ack() // the client shows it got the new secret: the old one is spent
		p.readType("state")
		r, m := e.rawResume("r", used, p.seq)
		wantResumeFailed(t, r, m, "already used")
		// The failed attempt did not touch the session.
		id := p.request(map[string]any{"type": "consent", "granted": false})
		if m := p.readType("ok"); m["id"] != float64(id) {
			t.Fatalf("after a replay: %v", m)
		}
	})
	t.Run("resume only first", func(t *testing.T) {
		p.send(fmt.Sprintf(`{"v":1,"type":"resume","id":50,"room":"r","resume":%q,"seq":0}`, h.secret))
		if m := p.readType("error"); m["code"] != string(CodeBadRequest) {
			t.Fatalf("resume after join: %v", m)
		}
	})
	t.Run("wrong room", func(t *testing.T) {
		r, m := e.rawResume("other", p.secret, p.seq)
		wantResumeFailed(t, r, m, "another room")
	})
	t.Run("seq never sent", func(t *testing.T) {
		r, m := e.rawResume("r", p.secret, p.seq+1000)
		wantResumeFailed(t, r, m, "cannot replay")
	})
	t.Run("after the window", func(t *testing.T) {
		p.drop()
		h.readType("state") // p reconnecting
		st := h.readType("state")
		for strings.Contains(fmt.Sprint(st["state"]), "identity:p") {
			st = h.readType("state") // p removed after the window
		}
		r, m := e.rawResume("r", p.secret, p.seq)
		wantResumeFailed(t, r, m, "window")
	})
	t.Run("after outbox overflow", func(t *testing.T) {
		q := e.rawJoin("r", "q", RoleParticipant)
		h.readType("state")
		q.drop()
		h.readType("state") // q reconnecting
		for i := range 10 {
			id := h.request(map[string]any{"type": "lock", "locked": i%2 == 0})
			if m := h.readType("ok"); m["id"] != float64(id) {
				t.Fatal(m)
			}
		}
		eventually(t, "q removed at once", func() bool { return e.srv.Stats().ResumeWindowsEnded == 2 })
		r, m := e.rawResume("r", q.secret, q.seq)
		wantResumeFailed(t, r, m, "too many messages")
	})
	t.Run("after leaving", func(t *testing.T) {
		q := e.rawJoin("r", "q2", RoleParticipant)
		q.request(map[string]any{"type": "leave"})
		q.readType("ok")
		eventually(t, "q2 gone", func() bool { return e.srv.Stats().Participants == 1 })
		r, m := e.rawResume("r", q.secret, q.seq)
		wantResumeFailed(t, r, m, "ended")
	})
	// Nothing h read holds any secret p ever had, and the other way round.
	for _, pair := range [][2]*rawSession{{h, p}, {p, h}} {
		for _, secret := range pair[1].secrets {
			for _, m := range pair[0].seen {
				if strings.Contains(m, secret) {
					t.Fatalf("a secret of %p reached another participant: %s", pair[1], m)
				}
			}
		}
	}
	st := e.srv.Stats()
	want := map[string]uint64{"unknown": 1, "used": 1, "wrong_room": 1, "bad_seq": 1, "expired": 1, "overflow": 1, "closed": 1}
	for k, v := range want {
		if st.ResumeFailures[k] != v {
			t.Errorf("ResumeFailures[%s] = %d, want %d (%v)", k, st.ResumeFailures[k], v, st.ResumeFailures)
		}
	}
	if st.Rejected[CodeResumeFailed] != 7 || st.OutboxOverflows < 1 {
		t.Errorf("stats %+v", st)
	}
	mfs, err := e.srv.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"tresor_signaling_resumes_total", "tresor_signaling_resume_failures_total", "tresor_signaling_reconnecting",
		"tresor_signaling_resume_windows_ended_total", "tresor_signaling_outbox_overflows_total"} {
		if !names[n] {
			t.Errorf("no metric %s", n)
		}
	}
}

// TestResumeRetryAfterLostAnswer: a resume whose answer is lost with its
// connection can be tried again with the same secret, until the client's
// first message on a resumed connection shows it has the new one.
func TestResumeRetryAfterLostAnswer(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	first := h.secret
	h.drop()
	r, m := e.rawResume("r", first, h.seq)
	if m["type"] != "resumed" {
		t.Fatal(m)
	}
	lost := m["resume"].(string)
	r.ws.CloseNow() // the answer "never arrived"
	h.resume()      // with the first secret again
	if h.secret == lost || h.secret == first {
		t.Fatal("the retry did not get a fresh secret")
	}
	// The secret in the lost answer is spent; the first one is spent once
	// the client speaks on its new connection.
	r, m = e.rawResume("r", lost, h.seq)
	wantResumeFailed(t, r, m, "already used")
	h.request(map[string]any{"type": "lock", "locked": true})
	h.readType("ok")
	r, m = e.rawResume("r", first, h.seq)
	wantResumeFailed(t, r, m, "already used")
	if _, m := e.rawResume("r", h.secret, h.seq); m["type"] != "resumed" {
		t.Fatalf("the current secret: %v", m)
	}
}

// TestResumeReplacesOpenConnection: a resume while the old connection is
// still open (the server did not notice the drop) takes the session over;
// the old connection is told "replaced" and closed.
func TestResumeReplacesOpenConnection(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	old := h.rawConn
	h.resume()
	if m := old.nextOfType("error"); m["code"] != string(CodeReplaced) {
		t.Fatalf("old connection got %v", m)
	}
	id := h.request(map[string]any{"type": "lock", "locked": true})
	if m := h.readType("ok"); m["id"] != float64(id) {
		t.Fatal(m)
	}
}

// TestResumeWindowEnds: past the window a participant is removed as if it
// had left: it leaves the roster, its MLS Remove is queued, its media
// session is closed (only then: not during the window).
func TestResumeWindowEnds(t *testing.T) {
	fm := &fakeMedia{sends: make(map[string]func(MediaSignal))}
	e := newEnv(t, Config{Media: fm, ResumeWindow: 500 * time.Millisecond})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a)
	found(t, a)
	px := newCutProxy(t, e)
	b := e.dialVia(px, "r", "b", RoleParticipant, WithoutReconnect())
	waitFor[Joined](t, b)
	add(t, a, b, 0)
	if err := b.SendMedia(ctx(t), MediaSignal{Kind: SignalOffer, SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	fm.waitCall(t, "join r b")
	px.Cut()
	waitMatch(t, a, func(s StateChanged) bool {
		return len(s.State.Participants) == 2 && s.State.Participants[1].Reconnecting
	})
	start := time.Now()
	// Its media session survives the window…
	fm.mu.Lock()
	closed := strings.Contains(strings.Join(fm.calls, ","), "close b")
	fm.mu.Unlock()
	if closed {
		t.Fatal("media closed during the window")
	}
	// …and then it is gone: a Remove is asked for, media closed.
	req := waitMatch(t, a, func(r CommitRequested) bool { return len(r.Proposals) == 1 && r.Proposals[0].Kind == ProposalRemove })
	if req.Proposals[0].Participant != "b" || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("remove request %+v after %v", req, time.Since(start))
	}
	fm.waitCall(t, "close b")
	waitRoster(t, a, "a")
	if st := e.srv.Stats(); st.ResumeWindowsEnded != 1 || st.Reconnecting != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReconnectingCommitterSkipped: a committer whose connection drops is
// not waited for: the next member gets the commit request at once, not
// after CommitTimeout; and a member away is not chosen.
func TestReconnectingCommitterSkipped(t *testing.T) {
	e := newEnv(t, Config{CommitTimeout: time.Minute})
	e.room("r", RoomConfig{})
	pa := newCutProxy(t, e)
	a := e.dialVia(pa, "r", "a", RoleHost, WithoutReconnect())
	b := e.dial("r", "b", RoleParticipant)
	c := e.dial("r", "c", RoleParticipant)
	for _, x := range []*Client{a, b, c} {
		waitFor[Joined](t, x)
	}
	found(t, a)
	add(t, a, b, 0)
	add(t, a, c, 1, b)
	d := e.dial("r", "d", RoleParticipant)
	waitFor[Joined](t, d)
	if err := d.UploadKeyPackage(ctx(t), []byte("kp-d")); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, a, func(r CommitRequested) bool { return len(r.Proposals) == 1 })
	pa.Cut()
	start := time.Now()
	req := waitMatch(t, b, func(r CommitRequested) bool { return len(r.Proposals) == 1 })
	if time.Since(start) > 2*time.Second {
		t.Fatalf("failover took %v", time.Since(start))
	}
	st := waitMatch(t, c, func(s StateChanged) bool {
		return len(s.State.Participants) == 4 && s.State.Participants[0].Reconnecting
	})
	if !st.State.Participants[0].Member {
		t.Fatal("a reconnecting member is still a member")
	}
	if _, err := b.SendCommit(ctx(t), Commit{Epoch: 2, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("c2"), Welcome: []byte("w")}); err != nil {
		t.Fatal(err)
	}
	// The next proposal goes to b again, not to a, while a is away.
	e2 := e.dial("r", "e", RoleParticipant)
	waitFor[Joined](t, e2)
	if err := e2.UploadKeyPackage(ctx(t), []byte("kp-e")); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, b, func(r CommitRequested) bool { return len(r.Proposals) == 1 && r.Proposals[0].Participant == "e" })
	if n := e.srv.Stats().CommitTimeouts; n != 0 {
		t.Fatalf("%d commit timeouts: the failover waited", n)
	}
}

// TestGoingAway: Server.Close tells every client going_away before
// closing with 1001, and a Client takes it as a reason to reconnect.
func TestGoingAway(t *testing.T) {
	e := newEnv(t, Config{ResumeWindow: 300 * time.Millisecond})
	e.room("r", RoomConfig{})
	r := e.rawJoin("r", "raw", RoleHost)
	c := e.dial("r", "c", RoleParticipant, fastBackoff())
	waitFor[Joined](t, c)
	pending := e.raw() // connected, not joined: told too
	// The raw clients read while the server closes (it waits for their
	// close frames).
	type result struct {
		last   map[string]any
		status int
	}
	read := func(rc *rawConn) <-chan result {
		ch := make(chan result, 1)
		go func() {
			var res result
			for {
				c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, b, err := rc.ws.Read(c)
				cancel()
				if err != nil {
					res.status = int(websocket.CloseStatus(err))
					ch <- res
					return
				}
				res.last = nil
				json.Unmarshal(b, &res.last)
			}
		}()
		return ch
	}
	rr, pr := read(r.rawConn), read(pending)
	if err := e.srv.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan result{rr, pr} {
		res := <-ch
		if res.last["type"] != "going_away" || res.last["seq"] != nil || res.status != 1001 {
			t.Fatalf("last message %v, close status %d", res.last, res.status)
		}
	}
	waitFor[Reconnecting](t, c)
	// This server is gone for good: the window passes, the client closes.
	f := waitFor[ResumeFailed](t, c)
	if !strings.Contains(f.Err.Error(), "window") {
		t.Fatalf("resume failed: %v", f.Err)
	}
	waitClosed(t, c)
	if c.State() != ConnClosed || !isClosedErr(c.Err()) {
		t.Fatalf("state %v err %v", c.State(), c.Err())
	}
}

// TestAckLimits: acks have their own budget, so a client acking often does
// not spend its requests' rate; an ack of a seq never sent is refused.
func TestAckLimits(t *testing.T) {
	e := newEnv(t, Config{MessageRate: Rate{Per: 1, Burst: 5}})
	e.room("r", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	for range 30 {
		h.ack()
	}
	id := h.request(map[string]any{"type": "lock", "locked": true})
	if m := h.readType("ok"); m["id"] != float64(id) {
		t.Fatalf("after acks: %v", m)
	}
	h.send(`{"v":1,"type":"ack","seq":99999}`)
	if m := h.readType("error"); m["code"] != string(CodeBadRequest) {
		t.Fatalf("ack beyond: %v", m)
	}
	h.send(`{"v":1,"type":"ack"}`)
	if m := h.readType("error"); m["code"] != string(CodeBadRequest) {
		t.Fatalf("ack without seq: %v", m)
	}
}

// TestConnectedOverflowUnresumable: a client that never acknowledges (an
// old one) is served as before, but its session is no longer resumable
// once its outbox overflowed, and a drop then removes it at once.
func TestConnectedOverflowUnresumable(t *testing.T) {
	e := newEnv(t, Config{MaxOutbox: 4})
	e.room("r", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	for i := range 6 {
		id := h.request(map[string]any{"type": "lock", "locked": i%2 == 0})
		if m := h.readType("ok"); m["id"] != float64(id) {
			t.Fatal(m)
		}
	}
	if n := e.srv.Stats().OutboxOverflows; n != 1 {
		t.Fatalf("overflows %d", n)
	}
	h.drop()
	eventually(t, "removed at once", func() bool { return e.srv.Stats().Rooms == 0 })
	r, m := e.rawResume("r", h.secret, h.seq)
	wantResumeFailed(t, r, m, "too many messages")
}

// TestNoResumeSecretsInLogs: resume secrets never reach the log, also not
// when a resume is refused.
func TestNoResumeSecretsInLogs(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, Config{Logger: log})
	e.room("r", RoomConfig{})
	h := e.rawJoin("r", "h", RoleHost)
	old := h.secret
	h.drop()
	h.resume()
	h.request(map[string]any{"type": "lock", "locked": true})
	h.readType("ok")
	r, m := e.rawResume("r", old, 0)
	wantResumeFailed(t, r, m, "used")
	out := buf.String()
	if !strings.Contains(out, "resume refused") || !strings.Contains(out, "resumed") {
		t.Fatalf("expected resume logs:\n%s", out)
	}
	for _, s := range []string{old, h.secret, old[:16], h.secret[:16]} {
		if strings.Contains(out, s) {
			t.Fatalf("log contains a resume secret:\n%s", out)
		}
	}
}

// TestResumeDisabled: a negative ResumeWindow turns resume off: no secret,
// and a drop leaves at once.
func TestResumeDisabled(t *testing.T) {
	e := newEnv(t, Config{ResumeWindow: -1})
	e.room("r", RoomConfig{})
	r := e.raw()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": 1, "room": "r", "token": e.token("r", "h", RoleHost)})
	r.send(string(b))
	m := r.nextOfType("joined")
	if m["resume"] != nil {
		t.Fatalf("a secret with resume off: %v", m)
	}
	r.ws.CloseNow()
	eventually(t, "gone at once", func() bool { return e.srv.Stats().Rooms == 0 })
}

// TestGroupInfo: the delivery service keeps the latest GroupInfo — the
// founder's for epoch 0, then the one each accepted Commit carries — for
// members and admitted participants, never for a stale epoch.
func TestGroupInfo(t *testing.T) {
	e := newEnv(t, Config{MaxGroupInfoSize: 64})
	e.room("r", RoomConfig{WaitingRoom: true})
	a := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a)
	_, _, err := a.GroupInfo(ctx(t))
	wantCode(t, err, CodeNotFound)
	found(t, a)
	wantCode(t, a.PublishGroupInfo(ctx(t), 1, []byte("gi")), CodeConflict)
	wantCode(t, a.PublishGroupInfo(ctx(t), 0, bytes.Repeat([]byte("x"), 65)), CodeTooLarge)
	if err := a.PublishGroupInfo(ctx(t), 0, []byte("gi0")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, a.PublishGroupInfo(ctx(t), 0, []byte("another")), CodeConflict)
	b := e.dial("r", "b", RoleParticipant)
	waitFor[Waiting](t, b)
	_, _, err = b.GroupInfo(ctx(t))
	wantCode(t, err, CodeNotAdmitted)
	if err := a.Admit(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, b)
	wantCode(t, b.PublishGroupInfo(ctx(t), 0, []byte("gi")), CodeNotMember)
	if ep, gi, err := b.GroupInfo(ctx(t)); err != nil || ep != 0 || string(gi) != "gi0" {
		t.Fatalf("group info %d %q %v", ep, gi, err)
	}
	// A Commit's GroupInfo replaces it; one over the limit is refused.
	if err := b.UploadKeyPackage(ctx(t), []byte("kp-b")); err != nil {
		t.Fatal(err)
	}
	req := waitFor[CommitRequested](t, a)
	_, err = a.SendCommit(ctx(t), Commit{Epoch: 0, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("c0"), Welcome: []byte("w"), GroupInfo: bytes.Repeat([]byte("x"), 65)})
	wantCode(t, err, CodeTooLarge)
	if _, err := a.SendCommit(ctx(t), Commit{Epoch: 0, Proposals: []uint64{req.Proposals[0].ID}, Data: []byte("c0"), Welcome: []byte("w"), GroupInfo: []byte("gi1")}); err != nil {
		t.Fatal(err)
	}
	if ep, gi, err := b.GroupInfo(ctx(t)); err != nil || ep != 1 || string(gi) != "gi1" {
		t.Fatalf("group info %d %q %v", ep, gi, err)
	}
	// A Commit without one leaves none: the epoch-1 GroupInfo is stale.
	if _, err := b.SendCommit(ctx(t), Commit{Epoch: 1, Data: []byte("update")}); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.GroupInfo(ctx(t))
	wantCode(t, err, CodeNotFound)
}

// TestExternalCommit: a participant whose copy of the group fell behind
// rejoins with an external Commit from the room's GroupInfo: accepted like
// any Commit for the current epoch (first wins), relayed as external, and
// the sender is (still, or again) the member of its identity.
func TestExternalCommit(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a)
	// No group yet: nothing to join.
	_, err := a.SendCommit(ctx(t), Commit{Epoch: 0, Data: []byte("x"), External: true})
	wantCode(t, err, CodeNotFound)
	found(t, a)
	b := e.dial("r", "b", RoleParticipant)
	waitFor[Joined](t, b)
	add(t, a, b, 0)
	c := e.dial("r", "c", RoleParticipant)
	waitFor[Joined](t, c)
	add(t, a, c, 1, b)

	// b fell behind (say it missed a Commit): it resyncs at epoch 2.
	if _, err := b.SendCommit(ctx(t), Commit{Epoch: 1, Data: []byte("stale"), External: true}); err == nil {
		t.Fatal("an external commit on a past epoch was accepted")
	}
	got, err := b.SendCommit(ctx(t), Commit{Epoch: 2, Data: []byte("ext-b"), GroupInfo: []byte("gi3"), External: true})
	if err != nil || got != 3 {
		t.Fatalf("external commit: %d %v", got, err)
	}
	for _, x := range []*Client{a, c} {
		ev := waitMatch(t, x, func(r CommitReceived) bool { return r.Epoch == 2 })
		if !ev.External || ev.From != "b" || string(ev.Data) != "ext-b" {
			t.Fatalf("relayed %+v", ev)
		}
	}
	st := waitMatch(t, a, func(s StateChanged) bool { return s.State.Epoch == 3 }).State
	for _, p := range st.Participants {
		if !p.Member {
			t.Fatalf("%s not a member after the external commit: %+v", p.Identity, st)
		}
	}
	// Proposals by reference or a Welcome make no external commit.
	_, err = b.SendCommit(ctx(t), Commit{Epoch: 3, Proposals: []uint64{1}, Data: []byte("x"), External: true})
	wantCode(t, err, CodeBadRequest)
	_, err = b.SendCommit(ctx(t), Commit{Epoch: 3, Data: []byte("x"), Welcome: []byte("w"), External: true})
	wantCode(t, err, CodeBadRequest)

	// c rejoins from elsewhere (a new connection, which the server sees as
	// a new participant with a pending Remove for the old one) and resyncs
	// by external commit: it takes its identity's place, and the pending
	// Remove of its old leaf is dropped (the Commit removed it).
	c.Close()
	c2 := e.dial("r", "c", RoleParticipant)
	waitFor[Joined](t, c2)
	waitMatch(t, a, func(r CommitRequested) bool {
		return len(r.Proposals) == 1 && r.Proposals[0].Kind == ProposalRemove && r.Proposals[0].Participant == "c"
	})
	if ep, gi, err := c2.GroupInfo(ctx(t)); err != nil || ep != 3 || string(gi) != "gi3" {
		t.Fatalf("group info %d %q %v", ep, gi, err)
	}
	if _, err := c2.SendCommit(ctx(t), Commit{Epoch: 3, Data: []byte("ext-c"), External: true}); err != nil {
		t.Fatal(err)
	}
	// c is a member again, and no Remove is pending for it: the next
	// request covers only the next joiner.
	st = waitMatch(t, b, func(s StateChanged) bool { return s.State.Epoch == 4 }).State
	if len(st.Participants) != 3 {
		t.Fatalf("roster %+v", st.Participants)
	}
	for _, p := range st.Participants {
		if !p.Member {
			t.Fatalf("%s not a member: %+v", p.Identity, st)
		}
	}
	d := e.dial("r", "d", RoleParticipant)
	waitFor[Joined](t, d)
	if err := d.UploadKeyPackage(ctx(t), []byte("kp-d")); err != nil {
		t.Fatal(err)
	}
	req := waitMatch(t, a, func(r CommitRequested) bool { return r.Epoch == 4 && len(r.Proposals) > 0 })
	if len(req.Proposals) != 1 || req.Proposals[0].Participant != "d" {
		t.Fatalf("request after the resync %+v", req)
	}
}

// TestOutboxMemoryAtBound measures what a participant's outbox holds at its
// bound, for small messages (roster updates: the message bound is reached
// first) and for the largest chat messages (the byte bound is reached
// first), and checks the byte bound really bounds the memory.
func TestOutboxMemoryAtBound(t *testing.T) {
	cfg := Config{TokenKeys: []ed25519.PublicKey{make(ed25519.PublicKey, ed25519.PublicKeySize)}}
	for _, tc := range []struct {
		name string
		msg  func(i int) *message
	}{
		{"state updates of a 4-person room", func(i int) *message {
			st := &RoomState{Epoch: uint64(i)}
			for j := range 4 {
				st.Participants = append(st.Participants, Participant{Identity: fmt.Sprint("user-", j), Name: fmt.Sprint("Name ", j), Role: RoleParticipant, Member: true})
			}
			return &message{Type: typeState, State: st}
		}},
		{"16 KiB chat messages", func(i int) *message {
			return &message{Type: typeChat, Participant: "user-1", Epoch: ptr(uint64(i)), Data: bytes.Repeat([]byte{byte(i)}, DefaultMaxChatSize)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := newRoom(s, "r", &roomSettings{max: 1000})
			const n = 8
			ps := make([]*participant, n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			kept := 0
			for i := range ps {
				p := &participant{r: r}
				p.out.answered = true
				for k := 0; ; k++ {
					m := tc.msg(k)
					b, _ := encodeMessage(m)
					if len(p.out.kept)+1 > s.cfg.MaxOutbox || p.out.bytes+cap(b)+keptMsgOverhead+4096 > s.cfg.MaxOutboxBytes {
						break // the next one would overflow
					}
					p.send(m)
				}
				kept = len(p.out.kept)
				ps[i] = p
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			per := float64(after.HeapAlloc-before.HeapAlloc) / n
			t.Logf("at the bound: %d messages, %d counted bytes; heap %.0f KiB per participant (bound %d KiB)",
				kept, ps[0].out.bytes, per/1024, s.cfg.MaxOutboxBytes>>10)
			if per > 1.1*float64(s.cfg.MaxOutboxBytes) {
				t.Fatalf("an outbox at its bound holds %.0f bytes", per)
			}
			runtime.KeepAlive(ps)
		})
	}
}

// TestResumeWhileWaiting: a participant in the waiting room keeps its
// place there too; admitted while away, it learns so from the replay.
func TestResumeWhileWaiting(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	h := e.dial("r", "h", RoleHost)
	waitFor[Joined](t, h)
	w := e.rawJoin("r", "w", RoleParticipant)
	v := e.rawJoin("r", "v", RoleParticipant)
	w.drop()
	v.drop()
	st := waitMatch(t, h, func(s StateChanged) bool {
		return len(s.State.Waiting) == 2 && s.State.Waiting[0].Reconnecting && s.State.Waiting[1].Reconnecting
	}).State
	if st.Waiting[0].Identity != "w" {
		t.Fatalf("waiting room %+v", st.Waiting)
	}
	// v is still waiting when it resumes.
	if m := v.resume(); m["reason"] != "host" || m["self"] != nil || m["state"] != nil {
		t.Fatalf("resumed while waiting: %v", m)
	}
	// w was admitted while away: the answer shows it admitted (and back),
	// and the replay has its "joined".
	if err := h.Admit(ctx(t), "w"); err != nil {
		t.Fatal(err)
	}
	m := w.resume()
	self, _ := m["self"].(map[string]any)
	if self["identity"] != "w" || self["reconnecting"] != nil {
		t.Fatalf("resumed after admission: %v", m)
	}
	if j := w.readType("joined"); j["self"] == nil {
		t.Fatalf("joined %v", j)
	}
	waitMatch(t, h, func(s StateChanged) bool {
		return len(s.State.Participants) == 2 && !s.State.Participants[1].Reconnecting
	})
}
