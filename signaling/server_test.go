package signaling

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/auth"
)

func TestJoinWithoutWaitingRoom(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	alice := e.dial("r", "alice", RoleHost)
	j := waitFor[Joined](t, alice)
	if j.Self.Identity != "alice" || j.Self.Role != RoleHost || j.Self.Name != "Name alice" {
		t.Fatalf("self = %+v", j.Self)
	}
	if !j.Self.Permissions.Screen {
		t.Fatal("host may share the screen by default")
	}
	bob := e.dial("r", "bob", RoleParticipant)
	jb := waitFor[Joined](t, bob)
	if jb.Self.Permissions.Screen || !jb.Self.Permissions.Camera {
		t.Fatalf("participant default permissions = %+v", jb.Self.Permissions)
	}
	if !sameIDs(jb.State.Participants, []string{"alice", "bob"}) {
		t.Fatalf("bob's roster = %+v", jb.State.Participants)
	}
	waitRoster(t, alice, "alice", "bob")
	if err := bob.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitRoster(t, alice, "alice")
	if st := e.srv.Stats(); st.Participants != 1 || st.Rooms != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestJoinRefused(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	e.room("other", RoomConfig{})
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := auth.MintToken(otherKey, auth.Claims{Room: "r", Identity: "mallory", Role: RoleHost, Expiry: time.Now().Add(time.Hour)})
	expired, _ := auth.MintToken(e.key, auth.Claims{Room: "r", Identity: "late", Role: RoleParticipant, Expiry: time.Now().Add(-time.Second)})
	good := e.token("r", "alice", RoleParticipant)
	tampered := strings.Replace(good, good[10:14], "AAAA", 1)
	tests := []struct {
		name  string
		token string
		opts  []Option
		code  Code
	}{
		{"forged", forged, nil, CodeInvalidToken},
		{"expired", expired, nil, CodeTokenExpired},
		{"tampered", tampered, []Option{WithRoom("r")}, CodeInvalidToken},
		{"garbage", "not-a-token", []Option{WithRoom("r")}, CodeInvalidToken},
		{"wrong room", good, []Option{WithRoom("other")}, CodeWrongRoom},
		{"no room", e.token("nowhere", "alice", RoleHost), nil, CodeNoRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(ctx(t), e.url, tt.token, tt.opts...)
			wantCode(t, err, tt.code)
		})
	}
	st := e.srv.Stats()
	if st.Rejected[CodeInvalidToken] != 3 || st.Rejected[CodeTokenExpired] != 1 || st.Rejected[CodeWrongRoom] != 1 {
		t.Fatalf("rejections = %v", st.Rejected)
	}
}

func TestSecretsInURLRefused(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{Passcode: "1234"})
	for _, q := range []string{"?passcode=1234", "?PassCode=1", "?pwd=1", "?token=x"} {
		resp, err := http.Get(e.hs.URL + "/" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", q, resp.StatusCode)
		}
		_, err = Dial(ctx(t), e.url+"/"+q, e.token("r", "a", RoleHost))
		if err == nil {
			t.Fatalf("%s: dial succeeded", q)
		}
	}
	// Harmless query parameters are fine.
	c := e.dial("r", "h", RoleHost)
	c.Close()
	c2, err := Dial(ctx(t), e.url+"/?lang=en", e.token("r", "h2", RoleHost))
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
}

func TestPasscode(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{Passcode: "correct horse"})
	_, err := e.dialErr("r", "a", RoleParticipant)
	wantCode(t, err, CodePasscodeRequired)
	_, err = e.dialErr("r", "a", RoleParticipant, WithPasscode("wrong"))
	wantCode(t, err, CodeWrongPasscode)
	if st := e.srv.Stats(); st.Rooms != 0 {
		t.Fatalf("refused joins left %d live rooms", st.Rooms)
	}
	e.dial("r", "a", RoleParticipant, WithPasscode("correct horse"))
	// Hosts need no passcode.
	e.dial("r", "h", RoleHost)
}

func TestPasscodeRateLimit(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	e := newEnv(t, Config{Now: clock, PasscodeRate: Rate{Per: 1.0 / 60, Burst: 3}})
	e.room("r", RoomConfig{Passcode: "sesame"})
	e.room("r2", RoomConfig{Passcode: "sesame"})
	addr := func(a string) Option { return WithHTTPHeader(http.Header{"X-Test-Addr": {a}}) }
	token := func(room string) string {
		tok, _ := auth.MintToken(e.key, auth.Claims{Room: room, Identity: "x", Role: RoleParticipant, Expiry: now.Add(time.Hour)})
		return tok
	}
	dial := func(room, pass, a string) error {
		c, err := Dial(ctx(t), e.url, token(room), WithPasscode(pass), addr(a))
		if err == nil {
			c.Close()
		}
		return err
	}
	// Per address: three failures, then even the right passcode is refused.
	for range 3 {
		wantCode(t, dial("r", "guess", "10.0.0.1"), CodeWrongPasscode)
	}
	wantCode(t, dial("r2", "sesame", "10.0.0.1"), CodeRateLimited)
	// r has had three failures too: refused from any address.
	wantCode(t, dial("r", "sesame", "10.0.0.2"), CodeRateLimited)
	// r2 from another address is fine.
	if err := dial("r2", "sesame", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	// A minute later one attempt is available again.
	now = now.Add(61 * time.Second)
	if err := dial("r", "sesame", "10.0.0.3"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Stats().Rejected[CodeRateLimited]; got != 2 {
		t.Fatalf("rate_limited count = %d", got)
	}
}

func TestRoomsSource(t *testing.T) {
	e := newEnv(t, Config{Rooms: func(_ context.Context, name string) (*RoomConfig, error) {
		if name == "dyn" {
			return &RoomConfig{WaitingRoom: true}, nil
		}
		return nil, nil
	}})
	e.dial("dyn", "h", RoleHost)
	_, err := e.dialErr("nope", "h", RoleHost)
	wantCode(t, err, CodeNoRoom)
	p := e.dial("dyn", "p", RoleParticipant)
	if w := waitFor[Waiting](t, p); w.Reason != "host" {
		t.Fatalf("waiting reason %q", w.Reason)
	}
}

func TestServerClose(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost)
	b := e.dial("r", "b", RoleParticipant)
	if err := e.srv.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, a)
	waitClosed(t, b)
	_, err := e.dialErr("r", "c", RoleHost)
	if err == nil {
		t.Fatal("joined a closed server")
	}
}
