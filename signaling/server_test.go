package signaling

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
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

// passcodeDialer joins room r as identity from an address at a fixed clock.
type passcodeDialer struct {
	t   *testing.T
	e   *testEnv
	now *time.Time
}

func (d passcodeDialer) dial(room, identity, pass, addr string) error {
	tok, err := auth.MintToken(d.e.key, auth.Claims{Room: room, Identity: identity, Role: RoleParticipant, Expiry: d.now.Add(time.Hour)})
	if err != nil {
		d.t.Fatal(err)
	}
	c, err := Dial(ctx(d.t), d.e.url, tok, WithPasscode(pass), WithHTTPHeader(http.Header{"X-Test-Addr": {addr}}))
	if err == nil {
		c.Close()
	}
	return err
}

// TestPasscodeAttackerCannotLockOutRoom: one token holder hammering wrong
// passcodes is limited, from one address or several, with one identity or
// several; someone else with the right passcode still gets in. (With one
// bucket per room, the attacker's failures locked the room.)
func TestPasscodeAttackerCannotLockOutRoom(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := newEnv(t, Config{Now: func() time.Time { return now }})
	e.room("r", RoomConfig{Passcode: "sesame"})
	d := passcodeDialer{t, e, &now}
	// Defaults: 5 failures at once per (room, address) and per (room,
	// identity), then one per 12 s.
	wrong, limited := 0, 0
	for range 20 {
		err := d.dial("r", "mallory", "guess", "10.0.0.66")
		var se *Error
		switch {
		case asError(err, &se) && se.Code == CodeWrongPasscode:
			wrong++
		case asError(err, &se) && se.Code == CodeRateLimited:
			limited++
		default:
			t.Fatalf("attempt: %v", err)
		}
	}
	if wrong != 5 || limited != 15 {
		t.Fatalf("attacker: %d wrong passcodes checked, %d rate limited; want 5 and 15", wrong, limited)
	}
	// The attacker is still limited from another address (its identity)
	// and with another identity (its address), even with the right
	// passcode.
	wantCode(t, d.dial("r", "mallory", "sesame", "10.0.0.67"), CodeRateLimited)
	wantCode(t, d.dial("r", "mallory-2", "sesame", "10.0.0.66"), CodeRateLimited)
	// Everyone else gets in with the right passcode, at once.
	if err := d.dial("r", "alice", "sesame", "10.0.0.1"); err != nil {
		t.Fatalf("a participant with the right passcode: %v", err)
	}
	// And may still mistype.
	wantCode(t, d.dial("r", "bob", "sesame?", "10.0.0.2"), CodeWrongPasscode)
	if err := d.dial("r", "bob", "sesame", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
}

func TestPasscodeRateLimit(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	e := newEnv(t, Config{Now: func() time.Time { return now },
		PasscodeRate: Rate{Per: 1.0 / 60, Burst: 3}, PasscodeRoomRate: Rate{Per: 1.0 / 60, Burst: 6}})
	e.room("r", RoomConfig{Passcode: "sesame"})
	e.room("r2", RoomConfig{Passcode: "sesame"})
	d := passcodeDialer{t, e, &now}
	// Per (room, address): three failures, then even the right passcode
	// is refused, without hashing.
	for range 3 {
		wantCode(t, d.dial("r", "x", "guess", "10.0.0.1"), CodeWrongPasscode)
	}
	wantCode(t, d.dial("r", "y", "sesame", "10.0.0.1"), CodeRateLimited)
	// Per (room, identity): x has failed three times in r, from anywhere.
	wantCode(t, d.dial("r", "x", "sesame", "10.0.0.2"), CodeRateLimited)
	// Another room is another budget, for the same address and identity.
	if err := d.dial("r2", "x", "sesame", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	// IPv6 addresses count per /64.
	for range 3 {
		wantCode(t, d.dial("r2", "v6-a", "guess", "2001:db8:1:2::1"), CodeWrongPasscode)
	}
	wantCode(t, d.dial("r2", "v6-b", "sesame", "2001:db8:1:2:ffff::9"), CodeRateLimited)
	if err := d.dial("r2", "v6-c", "sesame", "2001:db8:1:3::1"); err != nil {
		t.Fatal(err)
	}
	// Room-wide: many sources failing together exhaust the room's budget
	// (PasscodeRoomRate: 6; three failed already), then nobody gets in
	// until it refills.
	for i := range 3 {
		wantCode(t, d.dial("r", fmt.Sprint("z", i), "guess", fmt.Sprint("10.0.1.", i)), CodeWrongPasscode)
	}
	wantCode(t, d.dial("r", "alice", "sesame", "10.0.2.1"), CodeRateLimited)
	// A minute later one attempt is available again.
	now = now.Add(61 * time.Second)
	if err := d.dial("r", "alice", "sesame", "10.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Stats().Rejected[CodeRateLimited]; got != 4 {
		t.Fatalf("rate_limited count = %d", got)
	}
	// A room budget below the per-source one is refused: one attacker
	// could exhaust it.
	_, err := NewServer(Config{TokenKeys: e.srv.cfg.TokenKeys, PasscodeRate: Rate{Per: 1, Burst: 5}, PasscodeRoomRate: Rate{Per: 1, Burst: 4}})
	if err == nil {
		t.Fatal("accepted PasscodeRoomRate below PasscodeRate")
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
	e := newEnv(t, Config{ResumeWindow: 200 * time.Millisecond})
	e.room("r", RoomConfig{})
	a := e.dial("r", "a", RoleHost, WithoutReconnect())
	b := e.dial("r", "b", RoleParticipant, fastBackoff())
	if err := e.srv.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// a does not try to reconnect; b does, until its window is spent.
	waitClosed(t, a)
	waitFor[ResumeFailed](t, b)
	waitClosed(t, b)
	_, err := e.dialErr("r", "c", RoleHost)
	if err == nil {
		t.Fatal("joined a closed server")
	}
}
