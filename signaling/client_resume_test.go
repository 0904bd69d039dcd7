package signaling

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// recorder collects a Client's events in the background.
type recorder struct {
	c    *Client
	mu   sync.Mutex
	evs  []Event
	done chan struct{}
}

func record(c *Client) *recorder {
	r := &recorder{c: c, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range c.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// chats returns the chat payloads received, by sender.
func (r *recorder) chats() map[string][]string {
	out := make(map[string][]string)
	for _, ev := range r.events() {
		if c, ok := ev.(ChatReceived); ok {
			out[c.From] = append(out[c.From], string(c.Data))
		}
	}
	return out
}

// lockChanges counts the changes of the room's lock the client saw.
func (r *recorder) lockChanges() int {
	n, locked := 0, false
	for _, ev := range r.events() {
		if s, ok := ev.(StateChanged); ok && s.State.Locked != locked {
			locked = s.State.Locked
			n++
		}
	}
	return n
}

func chaosConfig() Config {
	many := Rate{Per: 10000, Burst: 10000}
	return Config{MessageRate: many, ChatRate: many, RoomChatRate: many,
		ChatByteRate: Rate{Per: 1 << 30, Burst: 1 << 30}, RoomChatByteRate: Rate{Per: 1 << 30, Burst: 1 << 30}}
}

// TestClientResumesUnderCuts: several participants chat while the host
// locks and unlocks the room, and the network cuts the participants'
// connections at random moments — idle, with requests in flight, while
// events stream in. Every client resumes every time; every chat message
// and every lock change reaches every client exactly once, in order; every
// request completes exactly once (a request processed twice would relay
// its chat twice).
func TestClientResumesUnderCuts(t *testing.T) {
	e := newEnv(t, chaosConfig())
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	hr := record(h)
	const n, msgs, locks = 3, 100, 40
	var proxies []*cutProxy
	var clients []*Client
	var recs []*recorder
	for i := range n {
		px := newCutProxy(t, e)
		c := e.dialVia(px, "r", fmt.Sprint("p", i), RoleParticipant, fastBackoff())
		proxies, clients, recs = append(proxies, px), append(clients, c), append(recs, record(c))
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	until("everyone in the roster", func() bool {
		for _, r := range append(recs, hr) {
			ok := false
			for _, ev := range r.events() {
				if s, is := ev.(StateChanged); is && len(s.State.Participants) == n+1 {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	})

	// The network misbehaves while everyone talks.
	stop := make(chan struct{})
	var chaos sync.WaitGroup
	cuts := 0
	chaos.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rand.IntN(40)) * time.Millisecond):
				proxies[rand.IntN(n)].Cut()
				cuts++
			}
		}
	})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for k := range msgs {
				cx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := c.SendChat(cx, 0, fmt.Appendf(nil, "%d", k))
				cancel()
				if err != nil {
					t.Errorf("p%d chat %d: %v", i, k, err)
					return
				}
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		for k := range locks {
			if err := h.Lock(ctx(t), k%2 == 0); err != nil {
				t.Errorf("lock %d: %v", k, err)
				return
			}
			time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond)
		}
	})
	wg.Wait()
	// A few more cuts while idle.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	chaos.Wait()
	if t.Failed() {
		return
	}

	want := make([]string, msgs)
	for k := range want {
		want[k] = strconv.Itoa(k)
	}
	for i, r := range append(recs, hr) {
		until(fmt.Sprintf("client %d to get everything", i), func() bool {
			got := r.chats()
			for j := range n {
				if j != i && len(got[fmt.Sprint("p", j)]) < msgs {
					return false
				}
			}
			return r.lockChanges() >= locks
		})
		got := r.chats()
		for j := range n {
			from := fmt.Sprint("p", j)
			if j == i {
				if len(got[from]) != 0 {
					t.Errorf("client %d got its own chat", i)
				}
				continue
			}
			if fmt.Sprint(got[from]) != fmt.Sprint(want) {
				t.Errorf("client %d got from %s:\n%v\nwant each of 0..%d once, in order", i, from, got[from], msgs-1)
			}
		}
		if lc := r.lockChanges(); lc != locks {
			t.Errorf("client %d saw %d lock changes, want %d", i, lc, locks)
		}
	}
	// Each cut was followed by a resume, none failed.
	resumes := 0
	for i, r := range recs {
		until(fmt.Sprintf("p%d connected", i), func() bool { return clients[i].State() == ConnConnected })
		for _, ev := range r.events() {
			switch ev := ev.(type) {
			case Resumed:
				resumes++
			case ResumeFailed:
				t.Errorf("p%d: resume failed: %v", i, ev.Err)
			}
		}
	}
	st := e.srv.Stats()
	t.Logf("%d cuts, %d resumes (server: %d), resume failures %v", cuts, resumes, st.Resumes, st.ResumeFailures)
	if resumes == 0 || st.Resumes == 0 {
		t.Fatal("no resume happened")
	}
	if st.Participants != n+1 || st.Reconnecting != 0 {
		t.Fatalf("stats after the storm: %+v", st)
	}
	// No request was sent twice (the server refuses ids it processed
	// before a resume).
	if len(st.Rejected) != 0 {
		t.Fatalf("requests rejected during the storm: %v", st.Rejected)
	}
}

// TestClientDedupsBySeq: a scripted server sends a sequenced message twice
// and one out of order; the client delivers each once, and keeps going
// after a gap (which only a misbehaving server makes).
func TestClientDedupsBySeq(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(r.Context()); err != nil { // join
			return
		}
		secret, _, _ := newResumeSecret()
		for _, m := range []string{
			fmt.Sprintf(`{"v":1,"type":"joined","id":1,"self":{"identity":"p","role":"host"},"state":{"participants":[]},"resume":%q,"resume_window":30000}`, secret),
			`{"v":1,"type":"chat","seq":1,"participant":"x","epoch":0,"data":"MQ=="}`,
			`{"v":1,"type":"chat","seq":2,"participant":"x","epoch":0,"data":"Mg=="}`,
			`{"v":1,"type":"chat","seq":2,"participant":"x","epoch":0,"data":"Mg=="}`,
			`{"v":1,"type":"chat","seq":1,"participant":"x","epoch":0,"data":"MQ=="}`,
			`{"v":1,"type":"chat","seq":3,"participant":"x","epoch":0,"data":"Mw=="}`,
			`{"v":1,"type":"chat","seq":5,"participant":"x","epoch":0,"data":"NQ=="}`,
			`{"v":1,"type":"chat","seq":4,"participant":"x","epoch":0,"data":"NA=="}`,
		} {
			if ws.Write(r.Context(), websocket.MessageText, []byte(m)) != nil {
				return
			}
		}
		ws.Read(r.Context()) // until the client goes
	}))
	defer hs.Close()
	c, err := Dial(ctx(t), "ws"+strings.TrimPrefix(hs.URL, "http"), "tj1.x.y", WithRoom("r"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	for len(got) < 4 {
		got = append(got, string(waitFor[ChatReceived](t, c).Data))
	}
	if fmt.Sprint(got) != "[1 2 3 5]" {
		t.Fatalf("delivered %v, want 1 2 3 5 (4 came after 5)", got)
	}
	noEvent[ChatReceived](t, c, 100*time.Millisecond)
}

// TestClientRequestWaitsWhileReconnecting: a request made while the client
// is reconnecting waits, goes out once the session is resumed, and is
// processed once; State tells connected, reconnecting, connected.
func TestClientRequestWaitsWhileReconnecting(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleParticipant, fastBackoff())
	waitFor[Joined](t, p)
	waitRoster(t, h, "h", "p")
	if p.State() != ConnConnected {
		t.Fatalf("state %v", p.State())
	}
	px.Down()
	if ev := waitFor[Reconnecting](t, p); ev.Attempt != 1 || ev.Err == nil {
		t.Fatalf("first reconnecting event %+v", ev)
	}
	waitConnState(t, p, ConnReconnecting)
	done := make(chan error, 1)
	go func() { done <- p.SendChat(ctx(t), 0, []byte("while away")) }()
	waitMatch(t, p, func(r Reconnecting) bool { return r.Attempt >= 3 })
	select {
	case err := <-done:
		t.Fatalf("request returned while reconnecting: %v", err)
	default:
	}
	px.Up()
	waitFor[Resumed](t, p)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := waitFor[ChatReceived](t, h); string(c.Data) != "while away" || c.From != "p" {
		t.Fatalf("chat %+v", c)
	}
	noEvent[ChatReceived](t, h, 200*time.Millisecond)
	if p.State() != ConnConnected || p.Self().Identity != "p" {
		t.Fatalf("state %v self %+v", p.State(), p.Self())
	}
}

// TestClientAnswerLostInCut: the server processes a request, its answer
// is lost with the connection; after the resume the client does not send
// the request again (last_id covers it), the answer comes in the replay,
// and the request was processed exactly once.
func TestClientAnswerLostInCut(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleParticipant, fastBackoff())
	waitFor[Joined](t, p)
	waitRoster(t, h, "h", "p")
	px.Deaf()
	done := make(chan error, 1)
	go func() { done <- p.SendChat(ctx(t), 0, []byte("once")) }()
	waitFor[ChatReceived](t, h) // processed
	select {
	case err := <-done:
		t.Fatalf("answered through a deaf network: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	px.Cut()
	waitFor[Resumed](t, p)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	noEvent[ChatReceived](t, h, 300*time.Millisecond)
	if st := e.srv.Stats(); len(st.Rejected) != 0 || st.Resumes != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClientResumeWindowSpent: when the network stays away longer than the
// resume window, the client gives up: ResumeFailed, closed, requests fail.
func TestClientResumeWindowSpent(t *testing.T) {
	e := newEnv(t, Config{ResumeWindow: 300 * time.Millisecond})
	e.room("r", RoomConfig{})
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleHost, fastBackoff())
	waitFor[Joined](t, p)
	px.Down()
	waitFor[Reconnecting](t, p)
	done := make(chan error, 1)
	go func() { done <- p.SendChat(context.Background(), 0, []byte("x")) }()
	f := waitFor[ResumeFailed](t, p)
	if !errors.Is(f.Err, errWindowSpent) {
		t.Fatalf("resume failed: %v", f.Err)
	}
	waitClosed(t, p)
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("request in flight: %v", err)
	}
	if p.State() != ConnClosed || !errors.Is(p.Err(), errWindowSpent) {
		t.Fatalf("state %v err %v", p.State(), p.Err())
	}
}

// TestClientResumeRefused: a session removed while its client was away
// cannot be resumed: the server says resume_failed, the client reports
// ResumeFailed with that error and closes.
func TestClientResumeRefused(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleParticipant, fastBackoff())
	waitFor[Joined](t, p)
	px.Down()
	waitMatch(t, h, func(s StateChanged) bool {
		return len(s.State.Participants) == 2 && s.State.Participants[1].Reconnecting
	})
	if err := h.Remove(ctx(t), "p"); err != nil {
		t.Fatal(err)
	}
	px.Up()
	f := waitFor[ResumeFailed](t, p)
	var se *Error
	if !errors.As(f.Err, &se) || se.Code != CodeResumeFailed || !strings.Contains(se.Message, "ended") {
		t.Fatalf("resume failed: %v", f.Err)
	}
	waitClosed(t, p)
	if st := e.srv.Stats(); st.ResumeFailures["closed"] != 1 {
		t.Fatalf("stats %+v", st.ResumeFailures)
	}
}

// TestClientWithoutReconnect: with WithoutReconnect a drop closes the
// client, as before resume existed; so does the server ending the session.
func TestClientWithoutReconnect(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleParticipant, WithoutReconnect())
	waitFor[Joined](t, p)
	px.Cut()
	waitClosed(t, p)
	for ev := range p.Events() {
		if _, ok := ev.(Reconnecting); ok {
			t.Fatal("reconnecting without reconnect")
		}
	}
	// A removed client does not try either.
	q := e.dial("r", "q", RoleParticipant, fastBackoff())
	waitFor[Joined](t, q)
	if err := h.Remove(ctx(t), "q"); err != nil {
		t.Fatal(err)
	}
	waitFor[Removed](t, q)
	waitClosed(t, q)
	if q.State() != ConnClosed {
		t.Fatalf("state %v", q.State())
	}
}

// TestClientAcks: the client acknowledges what it processed, so the
// server's outbox for it stays small while it is connected.
func TestClientAcks(t *testing.T) {
	e := newEnv(t, chaosConfig())
	e.room("r", RoomConfig{})
	h := e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	waitFor[Joined](t, p)
	for i := range 100 {
		if err := h.SendChat(ctx(t), 0, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitMatch(t, p, func(c ChatReceived) bool { return string(c.Data) == "99" })
	kept := func() int {
		e.srv.mu.Lock()
		r := e.srv.rooms["r"]
		e.srv.mu.Unlock()
		r.mu.Lock()
		q := r.admitted["p"]
		r.mu.Unlock()
		q.out.mu.Lock()
		defer q.out.mu.Unlock()
		return len(q.out.kept)
	}
	// At most the messages since the last ack (every 32), once the acks
	// in flight arrived; the rest within about a second.
	eventually(t, "acks every 32 messages", func() bool { return kept() < ackEvery })
	start := time.Now()
	eventually(t, "everything acknowledged", func() bool { return kept() == 0 })
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("the last messages were acknowledged after %v", d)
	}
}

// TestBlinkResumeTime: a two-second network blink with the default
// backoff. It reports how long after the network came back the client was
// resumed (the backoff's next attempt dominates).
func TestBlinkResumeTime(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	px := newCutProxy(t, e)
	p := e.dialVia(px, "r", "p", RoleHost)
	waitFor[Joined](t, p)
	px.Down()
	time.Sleep(2 * time.Second)
	back := time.Now()
	px.Up()
	waitFor[Resumed](t, p)
	d := time.Since(back)
	t.Logf("resumed %v after the network came back (2 s blink, backoff 250 ms doubling to 5 s)", d.Round(time.Millisecond))
	if d > 3*time.Second {
		t.Fatalf("resumed only %v after the network was back", d)
	}
}

// BenchmarkResume measures a resume on loopback from the moment the
// network is back (a cut, with the first retry at once) to Resumed: dial,
// resume handshake, and the replay of what was missed (ops: one resume).
func BenchmarkResume(b *testing.B) {
	e := newEnv(b, Config{})
	e.room("r", RoomConfig{})
	px := newCutProxy(b, e)
	c, err := Dial(context.Background(), px.url(), e.token("r", "p", RoleHost),
		func(o *dialOptions) { o.backoffMin, o.backoffMax = time.Microsecond, time.Microsecond })
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	evs := c.Events()
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		px.Cut()
		var start time.Time
	wait:
		for ev := range evs {
			switch ev.(type) {
			case Reconnecting:
				if start.IsZero() {
					start = time.Now()
				}
			case Resumed:
				break wait
			}
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/resume")
}
