package signaling

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/auth"
)

// testEnv is a real signaling server on loopback with a backend key.
type testEnv struct {
	t   testing.TB
	srv *Server
	hs  *httptest.Server
	url string
	key ed25519.PrivateKey
}

func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TokenKeys = append(cfg.TokenKeys, pub)
	if cfg.ClientAddr == nil {
		// Lets tests act as several remote addresses over loopback.
		cfg.ClientAddr = func(r *http.Request) string {
			if a := r.Header.Get("X-Test-Addr"); a != "" {
				return a
			}
			return "127.0.0.1"
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	e := &testEnv{t: t, srv: srv, hs: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http"), key: priv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("server close: %v", err)
		}
		hs.Close()
	})
	return e
}

func (e *testEnv) token(room, id string, role Role) string {
	e.t.Helper()
	tok, err := auth.MintToken(e.key, auth.Claims{Room: room, Identity: id, Name: "Name " + id, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *testEnv) room(name string, rc RoomConfig) {
	e.t.Helper()
	if err := e.srv.CreateRoom(name, rc); err != nil {
		e.t.Fatal(err)
	}
}

// dial joins and fails the test on error.
func (e *testEnv) dial(room, id string, role Role, opts ...Option) *Client {
	e.t.Helper()
	c, err := e.dialErr(room, id, role, opts...)
	if err != nil {
		e.t.Fatalf("dial %s: %v", id, err)
	}
	return c
}

func (e *testEnv) dialErr(room, id string, role Role, opts ...Option) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, e.url, e.token(room, id, role), opts...)
	if err == nil {
		e.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFor reads events until one of type T arrives, skipping others.
func waitFor[T Event](t *testing.T, c *Client) T {
	t.Helper()
	return waitMatch(t, c, func(T) bool { return true })
}

// waitMatch reads events until one of type T satisfies ok.
func waitMatch[T Event](t *testing.T, c *Client, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				var zero T
				t.Fatalf("events closed waiting for %T (err %v)", zero, c.Err())
			}
			if e, is := ev.(T); is && ok(e) {
				return e
			}
		case <-timeout:
			var zero T
			t.Fatalf("timed out waiting for %T", zero)
		}
	}
}

// noEvent fails if an event of type T arrives within d.
func noEvent[T Event](t *testing.T, c *Client, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				return
			}
			if _, is := ev.(T); is {
				t.Fatalf("unexpected %T: %+v", ev, ev)
			}
		case <-timeout:
			return
		}
	}
}

// waitRoster waits until c's roster lists exactly ids (in any order).
func waitRoster(t *testing.T, c *Client, ids ...string) RoomState {
	t.Helper()
	return waitMatch(t, c, func(e StateChanged) bool { return sameIDs(e.State.Participants, ids) }).State
}

func sameIDs(ps []Participant, ids []string) bool {
	if len(ps) != len(ids) {
		return false
	}
	for _, id := range ids {
		found := false
		for _, p := range ps {
			found = found || p.Identity == id
		}
		if !found {
			return false
		}
	}
	return true
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

// waitClosed waits for the connection to end.
func waitClosed(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
}

func asError(err error, target **Error) bool { return errors.As(err, target) }
