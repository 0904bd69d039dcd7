package demotoken

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/signaling"
)

func TestFetch(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, &Handler{Key: priv, Room: "demo", Signal: "/signal"})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	r, err := Fetch(ctx, nil, hs.URL+"/", "Ada Lovelace", signaling.RoleCohost)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ws" + strings.TrimPrefix(hs.URL, "http") + "/signal"; r.Signal != want {
		t.Fatalf("signal URL %q, want %q", r.Signal, want)
	}
	c, err := auth.VerifyToken(r.Token, []ed25519.PublicKey{pub}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Room != "demo" || c.Name != "Ada Lovelace" || c.Role != signaling.RoleCohost || c.Identity != r.Identity ||
		c.Expiry.Before(time.Now().Add(Lifetime-time.Minute)) {
		t.Fatalf("claims %+v", c)
	}
	r2, err := Fetch(ctx, nil, hs.URL, "Ada Lovelace", "")
	if err != nil || r2.Identity == r.Identity {
		t.Fatalf("second token: %v, identity %q (must be fresh)", err, r2.Identity)
	}

	for _, bad := range []struct {
		base string
		role signaling.Role
	}{
		{hs.URL, signaling.RoleHost}, // refused by the endpoint
		{"ws://" + strings.TrimPrefix(hs.URL, "http://"), signaling.RoleParticipant},
		{"not a url", signaling.RoleParticipant},
	} {
		if _, err := Fetch(ctx, nil, bad.base, "x", bad.role); err == nil {
			t.Errorf("Fetch(%q, %q) succeeded", bad.base, bad.role)
		}
	}

	// A server that points the client elsewhere is not followed.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"token":"tj1.x.y","signal":"http://203.0.113.1/signal"}`))
	}))
	defer evil.Close()
	if _, err := Fetch(ctx, nil, evil.URL, "x", ""); err == nil {
		t.Fatal("followed a signaling URL on another host")
	}
}

func TestSignalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/":     "ws://127.0.0.1:8080/signal",
		"https://meet.example":       "wss://meet.example/signal",
		"ws://127.0.0.1:8080/signal": "ws://127.0.0.1:8080/signal",
		"wss://x.example/other":      "wss://x.example/other",
		"ftp://x":                    "",
		"127.0.0.1:8080":             "",
	} {
		got, err := SignalURL(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("SignalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
