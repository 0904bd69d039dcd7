package signaling

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRestartSignalValidation: a "restart" media signal names the
// subscribe connection (the client restarts the publish connection with
// its own offer) and carries nothing else.
func TestRestartSignalValidation(t *testing.T) {
	for _, tc := range []struct {
		s  MediaSignal
		ok bool
	}{
		{MediaSignal{Kind: SignalRestart, Direction: DirectionSubscribe}, true},
		{MediaSignal{Kind: SignalRestart, Direction: DirectionPublish}, false},
		{MediaSignal{Kind: SignalRestart}, false},
		{MediaSignal{Kind: SignalRestart, Direction: "sideways"}, false},
		{MediaSignal{Kind: SignalRestart, Direction: DirectionSubscribe, SDP: "v=0"}, false},
		{MediaSignal{Kind: SignalRestart, Direction: DirectionSubscribe, Candidate: "candidate:1"}, false},
		{MediaSignal{Kind: SignalRestart, Direction: DirectionSubscribe, TrackID: "t", Source: SourceCamera}, false},
	} {
		if err := tc.s.validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: validate = %v, want ok %v", tc.s, err, tc.ok)
		}
	}
	b, err := json.Marshal(MediaSignal{Kind: SignalRestart, Direction: DirectionSubscribe})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"kind":"restart","target":"subscribe"}` {
		t.Fatalf("restart signal on the wire: %s", b)
	}
}

// TestRestartSignalRelay: the server relays a valid restart signal to the
// participant's media session and refuses invalid ones (bad_request)
// without bothering the SFU. The raw connection sends what the Go client
// would refuse to.
func TestRestartSignalRelay(t *testing.T) {
	fm := &fakeMedia{sends: make(map[string]func(MediaSignal))}
	e := newEnv(t, Config{Media: fm})
	e.room("r", RoomConfig{})
	r := e.rawJoined("r", "p", RoleHost)
	answer := func(id int) map[string]any {
		t.Helper()
		for range 100 {
			m := r.next()
			if m == nil {
				t.Fatalf("closed while waiting for the answer to %d", id)
			}
			if m["id"] == float64(id) && (m["type"] == "ok" || m["type"] == "error") {
				return m
			}
		}
		t.Fatalf("no answer to %d", id)
		return nil
	}
	for i, sig := range []string{
		`{"kind":"restart","target":"publish"}`,
		`{"kind":"restart"}`,
		`{"kind":"restart","target":"subscribe","sdp":"v=0"}`,
	} {
		id := 10 + i
		r.send(fmt.Sprintf(`{"v":1,"type":"media","id":%d,"signal":%s}`, id, sig))
		if m := answer(id); m["type"] != "error" || m["code"] != string(CodeBadRequest) {
			t.Errorf("%s: answered %v, want bad_request", sig, m)
		}
	}
	r.send(`{"v":1,"type":"media","id":20,"signal":{"kind":"restart","target":"subscribe"}}`)
	if m := answer(20); m["type"] != "ok" {
		t.Fatalf("valid restart answered %v", m)
	}
	fm.waitCall(t, "signal p restart subscribe")
	fm.mu.Lock()
	defer fm.mu.Unlock()
	for _, call := range fm.calls {
		if strings.HasPrefix(call, "signal p restart") && call != "signal p restart subscribe" {
			t.Errorf("the SFU was handed an invalid restart: %q", call)
		}
	}
}
