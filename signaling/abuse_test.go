package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawConn is a hand-driven WebSocket for sending what no Client would.
type rawConn struct {
	t  testing.TB
	ws *websocket.Conn
}

func (e *testEnv) raw() *rawConn {
	e.t.Helper()
	ws, _, err := websocket.Dial(ctx(e.t), e.url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(4 << 20)
	e.t.Cleanup(func() { ws.CloseNow() })
	return &rawConn{t: e.t, ws: ws}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if err := r.ws.Write(ctx(r.t), websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// next reads the next message; it returns nil when the connection closed.
func (r *rawConn) next() map[string]any {
	r.t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := r.ws.Read(c)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatalf("server sent bad JSON %q", b)
	}
	return m
}

// nextOfType skips messages until one of type typ.
func (r *rawConn) nextOfType(typ string) map[string]any {
	r.t.Helper()
	for range 100 {
		m := r.next()
		if m == nil {
			r.t.Fatalf("closed while waiting for %s", typ)
		}
		if m["type"] == typ {
			return m
		}
	}
	r.t.Fatalf("no %s", typ)
	return nil
}

// rawState is a room state as a raw client reads it: the wire's own field
// names, independent of the package's types.
type rawState struct {
	Participants []rawParticipant `json:"participants"`
	Waiting      []rawParticipant `json:"waiting"`
	Locked       bool             `json:"locked"`
	Recording    struct {
		ID        string `json:"id"`
		Requested bool   `json:"requested"`
		Active    bool   `json:"active"`
		Recorder  string `json:"recorder"`
	} `json:"recording"`
}

type rawParticipant struct {
	Identity  string `json:"identity"`
	Consented bool   `json:"consented"`
}

// nextState skips messages until a "state" whose room state satisfies ok.
func (r *rawConn) nextState(ok func(rawState) bool) rawState {
	r.t.Helper()
	for range 100 {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, b, err := r.ws.Read(c)
		cancel()
		if err != nil {
			r.t.Fatalf("closed while waiting for a state: %v", err)
		}
		var m struct {
			Type  string    `json:"type"`
			State *rawState `json:"state"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("server sent bad JSON %q", b)
		}
		if m.Type == "state" && m.State != nil && ok(*m.State) {
			return *m.State
		}
	}
	r.t.Fatal("no such state")
	return rawState{}
}

func (r *rawConn) closeStatus() websocket.StatusCode {
	r.t.Helper()
	for range 1000 {
		_, _, err := r.ws.Read(ctx(r.t))
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
	r.t.Fatal("connection not closed")
	return 0
}

func (e *testEnv) rawJoined(room, id string, role Role) *rawConn {
	r := e.raw()
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": 1, "room": room, "token": e.token(room, id, role)})
	r.send(string(b))
	if m := r.nextOfType("joined"); m["id"] != 1.0 {
		e.t.Fatalf("joined answer %v", m)
	}
	return r
}

func TestBadMessages(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	r := e.rawJoined("r", "h", RoleHost)
	tests := []struct {
		msg  string
		code Code
	}{
		{`{not json`, CodeBadRequest},
		{`[]`, CodeBadRequest},
		{`{"v":2,"type":"lock","id":5,"locked":true}`, CodeUnsupportedVersion},
		{`{"v":1,"id":6}`, CodeBadRequest},
		{`{"v":1,"type":"teleport","id":7}`, CodeUnknownType},
		{`{"v":1,"type":"lock","id":8}`, CodeBadRequest},
		{`{"v":1,"type":"admit","id":9,"participant":""}`, CodeBadRequest},
		{`{"v":1,"type":"mute","id":10,"participant":"x","source":"radio"}`, CodeBadRequest},
		{`{"v":1,"type":"commit","id":11,"data":"AAAA"}`, CodeBadRequest},
		{`{"v":1,"type":"chat","id":12,"epoch":0,"data":"not base64!"}`, CodeBadRequest},
		{`{"v":1,"type":"join","id":13,"room":"r","token":"x"}`, CodeBadRequest},
		{`{"v":1,"type":"media","id":14,"signal":{"kind":"offer"}}`, CodeBadRequest},
		{`{"v":1,"type":"media","id":15,"signal":{"kind":"answer","target":"sideways","sdp":"v=0"}}`, CodeBadRequest},
		{`{"v":1,"type":"media","id":16,"signal":{"kind":"track","trackId":"t","source":"radio"}}`, CodeBadRequest},
		{"\xff\xfe", CodeBadRequest},
	}
	for _, tt := range tests {
		r.send(tt.msg)
		m := r.nextOfType("error")
		if Code(m["code"].(string)) != tt.code {
			t.Errorf("%q: code %v, want %s", tt.msg, m["code"], tt.code)
		}
		if m["message"] == "" {
			t.Errorf("%q: no message", tt.msg)
		}
	}
	// A binary message is not part of the protocol.
	if err := r.ws.Write(ctx(t), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if m := r.nextOfType("error"); m["code"] != string(CodeBadRequest) {
		t.Fatalf("binary: %v", m)
	}
	// Still connected and working.
	r.send(`{"v":1,"type":"lock","id":20,"locked":true}`)
	if m := r.nextOfType("ok"); m["id"] != 20.0 {
		t.Fatalf("ok %v", m)
	}
	st := e.srv.Stats()
	if st.Rejected[CodeBadRequest] < 10 || st.Rejected[CodeUnknownType] != 1 || st.Rejected[CodeUnsupportedVersion] != 1 {
		t.Fatalf("counts %v", st.Rejected)
	}
}

func TestJoinFirst(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	r := e.raw()
	r.send(`{"v":1,"type":"lock","id":1,"locked":true}`)
	if m := r.nextOfType("error"); m["code"] != string(CodeBadRequest) {
		t.Fatalf("got %v", m)
	}
	if st := r.closeStatus(); st != websocket.StatusPolicyViolation {
		t.Fatalf("close status %v", st)
	}
}

func TestJoinTimeout(t *testing.T) {
	e := newEnv(t, Config{JoinTimeout: 100 * time.Millisecond})
	r := e.raw()
	start := time.Now()
	r.closeStatus()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

func TestTooManyErrors(t *testing.T) {
	e := newEnv(t, Config{MaxStrikes: 5})
	e.room("r", RoomConfig{})
	e.dial("r", "h", RoleHost)
	r := e.rawJoined("r", "p", RoleParticipant)
	for range 5 {
		r.send(`{"v":1,"type":"end","id":3}`) // forbidden for a participant
	}
	if st := r.closeStatus(); st != websocket.StatusPolicyViolation {
		t.Fatalf("close status %v", st)
	}
	if st := e.srv.Stats(); st.Disconnected["too_many_errors"] != 1 || st.Rejected[CodeForbidden] != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOversizedMessage(t *testing.T) {
	e := newEnv(t, Config{MaxMessageSize: 1024})
	e.room("r", RoomConfig{})
	r := e.rawJoined("r", "h", RoleHost)
	r.send(`{"v":1,"type":"chat","id":2,"epoch":0,"data":"` + strings.Repeat("A", 2000) + `"}`)
	if st := r.closeStatus(); st != websocket.StatusMessageTooBig {
		t.Fatalf("close status %v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Stats().Disconnected["too_large"] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", e.srv.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A Client sees a clear error for its request.
	c := e.dial("r", "c", RoleHost)
	err := c.SendChat(ctx(t), 0, make([]byte, 2000))
	if !errors.Is(err, ErrClosed) || websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized chat: %v", err)
	}
}

func TestFlood(t *testing.T) {
	now := time.Unix(0, 0)
	e := newEnv(t, Config{Now: func() time.Time { return now }, MessageRate: Rate{Per: 1, Burst: 10}, MaxStrikes: 10})
	e.room("r", RoomConfig{})
	e.dial("r", "h", RoleHost)
	r := e.rawJoined("r", "p", RoleParticipant)
	// The join used one token. With the clock stopped, 9 more pass, then
	// every message is refused until the connection is closed.
	for i := range 40 {
		r.ws.Write(ctx(t), websocket.MessageText, []byte(`{"v":1,"type":"chat","id":`+itoa(i+2)+`,"epoch":0,"data":"AA=="}`))
	}
	oks, limited := 0, 0
	for {
		m := r.next()
		if m == nil {
			break
		}
		switch {
		case m["type"] == "ok":
			oks++
		case m["code"] == string(CodeRateLimited):
			limited++
		}
	}
	if oks != 9 || limited != 10 {
		t.Fatalf("oks %d, rate limited %d", oks, limited)
	}
	if st := e.srv.Stats(); st.Disconnected["too_many_errors"] != 1 || st.Rejected[CodeRateLimited] != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
