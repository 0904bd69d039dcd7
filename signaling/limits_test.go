package signaling

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dialFrom opens a WebSocket as remote address addr without joining. It
// returns the HTTP status of a refused upgrade and its body.
func (e *testEnv) dialFrom(addr string) (*websocket.Conn, int, string) {
	e.t.Helper()
	ws, resp, err := websocket.Dial(ctx(e.t), e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Test-Addr": {addr}}})
	if err == nil {
		e.t.Cleanup(func() { ws.CloseNow() })
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		e.t.Fatalf("dial from %s: %v", addr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return nil, resp.StatusCode, string(body)
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnjoinedConnectionsLimited: one address cannot hold more than a few
// connections that never join (each may linger for the join timeout);
// other addresses are unaffected, and joining frees the slot. Default
// configuration, so that it runs against any server version: without the
// limit every connection is accepted.
func TestUnjoinedConnectionsLimited(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	var idle []*websocket.Conn
	for i := range 10 {
		ws, status, body := e.dialFrom("10.9.9.9")
		if ws == nil {
			t.Fatalf("connection %d refused: %d %s", i, status, body)
		}
		idle = append(idle, ws)
	}
	ws, status, body := e.dialFrom("10.9.9.9")
	if ws != nil || status != http.StatusTooManyRequests || !strings.Contains(body, "have not joined") {
		t.Fatalf("11th unjoined connection from one address: %d %q", status, body)
	}
	// Another address is unaffected.
	if ws, status, _ := e.dialFrom("10.9.9.10"); ws == nil {
		t.Fatalf("another address refused: %d", status)
	}
	// One of the ten joins: its slot is free for another connection.
	b, _ := json.Marshal(map[string]any{"v": 1, "type": "join", "id": 1, "room": "r", "token": e.token("r", "j", RoleHost)})
	if err := idle[0].Write(ctx(t), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	rc := &rawConn{t: t, ws: idle[0]}
	rc.nextOfType("joined")
	eventually(t, "a free slot", func() bool {
		ws, _, _ := e.dialFrom("10.9.9.9")
		return ws != nil
	})
}

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, Config{MaxConns: 5, MaxConnsPerAddr: 3, MaxPendingConns: 4, MaxPendingConnsPerAddr: 2})
	e.room("r", RoomConfig{})
	want := func(addr string, status int, body string) {
		t.Helper()
		ws, got, b := e.dialFrom(addr)
		if ws != nil {
			ws.CloseNow()
		}
		if got != status || !strings.Contains(b, body) {
			t.Fatalf("from %s: %d %q, want %d %q", addr, got, b, status, body)
		}
	}
	join := func(addr, id string) *Client {
		t.Helper()
		c, err := Dial(ctx(t), e.url, e.token("r", id, RoleHost), WithHTTPHeader(http.Header{"X-Test-Addr": {addr}}))
		if err != nil {
			t.Fatalf("join %s from %s: %v", id, addr, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Pending per address: two.
	a1, _, _ := e.dialFrom("10.0.0.1")
	a2, _, _ := e.dialFrom("10.0.0.1")
	if a1 == nil || a2 == nil {
		t.Fatal("refused below the limit")
	}
	want("10.0.0.1", http.StatusTooManyRequests, "not joined")
	// Pending in all: four.
	b1, _, _ := e.dialFrom("10.0.0.2")
	b2, _, _ := e.dialFrom("10.0.0.2")
	want("10.0.0.3", http.StatusServiceUnavailable, "joining")
	// Joined connections no longer count as pending, but still as open.
	b1.CloseNow()
	b2.CloseNow()
	eventually(t, "released slots", func() bool { return e.srv.Stats().Connections == 2 })
	join("10.0.0.4", "h1")
	join("10.0.0.4", "h2")
	join("10.0.0.4", "h3")
	want("10.0.0.4", http.StatusTooManyRequests, "too many connections from your address")
	// Open in all: five (a1, a2 and three joined).
	eventually(t, "joined", func() bool { st := e.srv.Stats(); return st.PendingConnections == 2 && st.Connections == 5 })
	want("10.0.0.5", http.StatusServiceUnavailable, "too many connections")

	st := e.srv.Stats()
	wantRefused := map[string]uint64{"pending_per_addr": 1, "pending": 1, "conns_per_addr": 1, "conns": 1}
	for k, v := range wantRefused {
		if st.Refused[k] != v {
			t.Errorf("refused %s = %d, want %d (all: %v)", k, st.Refused[k], v, st.Refused)
		}
	}
	// Everything is released when the connections end.
	a1.CloseNow()
	a2.CloseNow()
	eventually(t, "released slots", func() bool { st := e.srv.Stats(); return st.PendingConnections == 0 && st.Connections == 3 })
	want("10.0.0.5", http.StatusSwitchingProtocols, "")
	// The refusals are metrics too.
	mfs, err := e.srv.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "tresor_signaling_refused_total" {
			for _, m := range mf.GetMetric() {
				n += int(m.GetCounter().GetValue())
			}
		}
	}
	if n != 4 {
		t.Fatalf("tresor_signaling_refused_total sums to %d, want 4", n)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"::ffff:192.0.2.7":        "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2::9":         "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not an address":          "not an address",
		"proxy-client-id-1234567": "proxy-client-id-1234567",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJoinTimeoutFreesSlot: a connection that never joins gives its slot
// back when the join timeout closes it.
func TestJoinTimeoutFreesSlot(t *testing.T) {
	e := newEnv(t, Config{JoinTimeout: 100 * time.Millisecond, MaxPendingConnsPerAddr: 1})
	ws, _, _ := e.dialFrom("10.0.0.1")
	if ws == nil {
		t.Fatal("refused")
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := ws.Read(c); err == nil {
		t.Fatal("read a message from a connection that never joined")
	}
	eventually(t, "the slot back", func() bool { ws, _, _ := e.dialFrom("10.0.0.1"); return ws != nil })
}
