package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// cutProxy is a TCP proxy in front of the test server that a test can
// cut, as a network does: Cut closes every connection through it at once
// (no WebSocket close frame either way), Down makes it refuse new
// connections until Up. One proxy per participant cuts just that one.
type cutProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool
	deaf  bool // server → client bytes are lost
	wg    sync.WaitGroup
}

func newCutProxy(t testing.TB, e *testEnv) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: e.hs.Listener.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// url is the WebSocket URL through the proxy.
func (p *cutProxy) url() string { return "ws://" + p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			toClient := dst == in
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				p.mu.Lock()
				lost := toClient && p.deaf
				p.mu.Unlock()
				if n > 0 && !lost {
					if _, err := dst.Write(buf[:n]); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(out, in)
		go pipe(in, out)
	}
}

// Cut closes every connection through the proxy.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deaf = false
	for c := range p.conns {
		// RST rather than FIN where possible: a network that fails does
		// not say goodbye.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// Deaf loses everything the server sends from now on, until Cut (which
// ends it): requests get through, answers do not.
func (p *cutProxy) Deaf() {
	p.mu.Lock()
	p.deaf = true
	p.mu.Unlock()
}

// Down cuts and refuses connections until Up.
func (p *cutProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Cut()
}

func (p *cutProxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// dialVia joins through proxy p.
func (e *testEnv) dialVia(p *cutProxy, room, id string, role Role, opts ...Option) *Client {
	e.t.Helper()
	c, err := Dial(ctx(e.t), p.url(), e.token(room, id, role), opts...)
	if err != nil {
		e.t.Fatalf("dial %s: %v", id, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// fastBackoff makes a Client retry quickly (tests only).
func fastBackoff() Option {
	return func(o *dialOptions) { o.backoffMin, o.backoffMax = 5*time.Millisecond, 50*time.Millisecond }
}

// rawSession is a hand-driven participant that keeps what the resume
// protocol needs: its secret, the last seq it processed, its request ids.
type rawSession struct {
	*rawConn
	e      *testEnv
	room   string
	secret string
	seq    float64
	id     int

	secrets []string // every secret it was given
	seen    []string // every message it read, raw
}

// rawJoin joins with a raw connection and reads the join answer.
func (e *testEnv) rawJoin(room, id string, role Role) *rawSession {
	e.t.Helper()
	r := e.raw()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": 1, "room": room, "token": e.token(room, id, role)})
	r.send(string(b))
	m := r.next()
	if m == nil || (m["type"] != "joined" && m["type"] != "waiting") || m["id"] != 1.0 {
		e.t.Fatalf("join answer %v", m)
	}
	if _, has := m["seq"]; has {
		e.t.Fatalf("the join answer is sequenced: %v", m)
	}
	secret, _ := m["resume"].(string)
	if len(secret) != 43 || m["resume_window"] == nil {
		e.t.Fatalf("join answer without a resume secret and window: %v", m)
	}
	return &rawSession{rawConn: r, e: e, room: room, secret: secret, id: 1, secrets: []string{secret}, seen: []string{fmt.Sprint(m)}}
}

// read reads the next message and checks its seq follows the last.
func (s *rawSession) read() map[string]any {
	s.t.Helper()
	m := s.next()
	if m == nil {
		s.t.Fatal("connection closed")
	}
	s.seen = append(s.seen, fmt.Sprint(m))
	if seq, ok := m["seq"].(float64); ok {
		if seq != s.seq+1 {
			s.t.Fatalf("seq %v after %v: %v", seq, s.seq, m)
		}
		s.seq = seq
	}
	return m
}

// readType skips messages until one of type typ.
func (s *rawSession) readType(typ string) map[string]any {
	s.t.Helper()
	for range 200 {
		if m := s.read(); m["type"] == typ {
			return m
		}
	}
	s.t.Fatalf("no %s", typ)
	return nil
}

func (s *rawSession) request(fields map[string]any) int {
	s.t.Helper()
	s.id++
	fields["v"], fields["id"] = 1, s.id
	b, _ := json.Marshal(fields)
	s.send(string(b))
	return s.id
}

func (s *rawSession) ack() {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "ack", "seq": s.seq})
	s.send(string(b))
}

// drop closes the WebSocket's TCP connection without a close frame.
func (s *rawSession) drop() { s.ws.CloseNow() }

// resume opens a new connection and resumes with secret and seq; it
// returns the first answer (resumed or error).
func (e *testEnv) rawResume(room, secret string, seq float64) (*rawConn, map[string]any) {
	e.t.Helper()
	r := e.raw()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "resume", "id": 1, "room": room, "resume": secret, "seq": seq})
	r.send(string(b))
	m := r.next()
	if m == nil {
		e.t.Fatal("closed without an answer to resume")
	}
	return r, m
}

// resume resumes s on a new connection, keeping its seq.
func (s *rawSession) resume() map[string]any {
	s.t.Helper()
	r, m := s.e.rawResume(s.room, s.secret, s.seq)
	if m["type"] != "resumed" {
		s.t.Fatalf("resume: %v", m)
	}
	s.rawConn = r
	s.secret = m["resume"].(string)
	s.secrets = append(s.secrets, s.secret)
	s.seen = append(s.seen, fmt.Sprint(m))
	return m
}

// wantResumeFailed checks a resume answer is resume_failed naming why.
func wantResumeFailed(t *testing.T, r *rawConn, m map[string]any, word string) {
	t.Helper()
	if m["type"] != "error" || m["code"] != string(CodeResumeFailed) {
		t.Fatalf("want resume_failed, got %v", m)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, word) {
		t.Fatalf("resume_failed message %q does not say %q", msg, word)
	}
	if st := r.closeStatus(); st != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v after resume_failed", st)
	}
}

// waitState waits until the Client's state is want.
func waitConnState(t *testing.T, c *Client, want ConnState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %v, want %v", c.State(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isClosedErr(err error) bool { return errors.Is(err, ErrClosed) }
