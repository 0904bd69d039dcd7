// Package teststack runs the demo's server side in a test: a real SFU on a
// loopback UDP port, the real signaling server driving it through
// sfumedia, and the development token and vouching endpoints, on an
// httptest server at 127.0.0.1. The examples' tests join it with real clients.
package teststack

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/demotoken"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
)

// Room is the stack's room.
const Room = "demo"

// Stack is a running server side.
type Stack struct {
	t testing.TB
	// URL is the demo's http:// URL ("http://127.0.0.1:port/").
	URL string
	// SignalURL is the signaling WebSocket URL.
	SignalURL string
	// Server is the signaling server.
	Server *signaling.Server
	// SFU is the SFU.
	SFU *sfu.SFU
	key ed25519.PrivateKey
}

// New starts a stack whose room has the settings rc. Everything is closed
// when the test ends.
func New(t testing.TB, rc signaling.RoomConfig) *Stack {
	t.Helper()
	s, err := sfu.New(sfu.Config{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := signaling.NewServer(signaling.Config{TokenKeys: []ed25519.PublicKey{pub}, Media: sfumedia.New(s), CommitTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateRoom(Room, rc); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signal", srv)
	mux.Handle(demotoken.Path, &demotoken.Handler{Key: priv, Room: Room, Signal: "/signal"})
	vouch := &demotoken.Voucher{Key: priv}
	mux.Handle(demotoken.AuthorityPath, vouch)
	mux.Handle(demotoken.VouchPath, vouch)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("signaling close: %v", err)
		}
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("sfu close: %v", err)
		}
	})
	return &Stack{t: t, URL: hs.URL + "/", SignalURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/signal", Server: srv, SFU: s, key: priv}
}

// Token mints a join token for the stack's room.
func (s *Stack) Token(identity string, role signaling.Role) string {
	s.t.Helper()
	tok, err := auth.MintToken(s.key, auth.Claims{Room: Room, Identity: identity, Name: identity, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// Vouched returns the options that make a client of identity a member the
// stack's backend vouched for, which accepts only such members.
func (s *Stack) Vouched(identity string) []tresor.Option {
	voucher := func(_ context.Context, key []byte) ([]byte, error) {
		return auth.MintAssertion(s.key, auth.Assertion{Room: Room, Identity: identity, Name: identity, SignatureKey: key, Expiry: time.Now().Add(time.Hour)})
	}
	return []tresor.Option{tresor.WithAuthority(s.key.Public().(ed25519.PublicKey)), tresor.WithVoucher(voucher)}
}

// API is the Go client's pion API (tresor.NewAPI) gathering only
// 127.0.0.1 host candidates.
func API(t testing.TB) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api, err := tresor.NewAPI(se)
	if err != nil {
		t.Fatal(err)
	}
	return api
}
