package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
	"github.com/tresor-dev/tresor/web"
)

// Paths the demo serves. The signaling path is the one PROTOCOL.md names.
const (
	signalPath = "/signal"
	tokenPath  = "/demo/token"
)

// Token lifetimes. A join token only has to outlive the join itself (a
// client that reconnects fetches a new one); the host link is printed once
// and should work for the whole demo.
const (
	guestTokenLife = time.Hour
	hostTokenLife  = 24 * time.Hour
	maxNameLen     = 64
)

// config is the demo's configuration (see the flags in main.go).
type config struct {
	Addr        string
	UDP         string
	Room        string
	Passcode    string
	WaitingRoom bool
	Logger      *slog.Logger
}

// run serves the demo meeting until ctx is done, then shuts down: clients
// are told the server is going away (WebSocket status 1001), HTTP requests
// in flight finish, the SFU closes. What people need to join is printed to
// stdout.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Room == "" {
		cfg.Room = "demo"
	}
	passcode := cfg.Passcode
	if passcode == "" {
		var err error
		if passcode, err = randomPasscode(); err != nil {
			return err
		}
	}

	// DEVELOPMENT ONLY. A real deployment keeps the token signing key in
	// its own backend and never in the process that serves the meeting.
	developmentOnlyKeyPub, developmentOnlyKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("development key: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	udp := cfg.UDP
	if udp == "" {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "" // every interface, like the HTTP listener
		}
		udp = net.JoinHostPort(host, "0")
	}
	media, err := sfu.New(sfu.Config{UDPAddr: udp, Logger: log.With("component", "sfu")})
	if err != nil {
		return err
	}
	defer media.Close()
	sig, err := signaling.NewServer(signaling.Config{
		TokenKeys: []ed25519.PublicKey{developmentOnlyKeyPub},
		Media:     sfumedia.New(media, sfumedia.WithLogger(log.With("component", "sfumedia"))),
		Logger:    log.With("component", "signaling"),
	})
	if err != nil {
		return err
	}
	if err := sig.CreateRoom(cfg.Room, signaling.RoomConfig{
		Passcode:                   passcode,
		WaitingRoom:                cfg.WaitingRoom,
		ParticipantsMayShareScreen: true,
	}); err != nil {
		return err
	}

	hostToken, err := signaling.MintToken(developmentOnlyKey, signaling.Claims{
		Room: cfg.Room, Identity: "host", Name: "Host", Role: signaling.RoleHost, Expiry: time.Now().Add(hostTokenLife),
	})
	if err != nil {
		return err
	}
	tokens := &tokenHandler{key: developmentOnlyKey, room: cfg.Room, log: log}

	mux := http.NewServeMux()
	mux.Handle(signalPath, sig)
	mux.Handle(tokenPath, tokens)
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{sig.Gatherer(), media.Gatherer()}, promhttp.HandlerOpts{}))
	mux.Handle("/", web.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	base := baseURL(ln.Addr())
	printBanner(stdout, cfg.Room, base, passcode, hostToken, media.Addr())
	log.Info("meeting: serving", "http", ln.Addr().String(), "udp", media.Addr().String(), "room", cfg.Room)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("meeting: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// WebSockets are hijacked connections, which http.Server.Shutdown does
	// not wait for: close them through the signaling server first.
	sigErr := sig.Close(sctx)
	httpErr := hs.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return errors.Join(sigErr, httpErr, media.Close())
}

// printBanner tells the person who started the demo how to join.
func printBanner(w io.Writer, room, base, passcode, hostToken string, udp net.Addr) {
	fmt.Fprintf(w, `Tresor demo meeting %q

  Meeting:   %s
  Passcode:  %s
  Host link: %s#token=%s

Share the meeting URL and, separately, the passcode: the passcode is never
part of a link. Keep the host link to yourself: whoever opens it is the host.
The join token sits after '#', which the browser never sends to a server, so
it stays out of server and proxy logs (it does stay in your browser history).

Media (SFU) on udp %s. A Go participant: go run ./examples/bot -url %s -passcode %s

DEVELOPMENT ONLY: join tokens are signed with a key generated at start, and
%s hands participant tokens to anyone who can reach this port.
A real deployment mints tokens in its own backend (signaling.MintToken).
`, room, base, passcode, base, hostToken, udp, base, passcode, tokenPath)
}

// baseURL is the http URL of the listener, with an unspecified host
// (0.0.0.0, ::) shown as localhost.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}).String()
}

// randomPasscode returns 8 random decimal digits as "1234-5678". The
// signaling server limits guesses (5, then one per 12 s per room and per
// address), so 10^8 possibilities are plenty for a demo.
func randomPasscode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", fmt.Errorf("passcode: %w", err)
	}
	s := fmt.Sprintf("%08d", n.Int64())
	return s[:4] + "-" + s[4:], nil
}

// tokenHandler is the DEVELOPMENT-ONLY token endpoint: it mints a join token
// for anyone who asks, as a participant or a cohost (the host token is only
// in the printed host link). Joining still needs the passcode, and, with the
// waiting room on, the host's admission. In a real deployment the app's
// backend authenticates its user first and then mints the token.
//
//	GET /demo/token?name=Ada&role=participant
//	→ {"token":"tj1…","room":"demo","identity":"guest-…","signal":"/signal"}
type tokenHandler struct {
	key  ed25519.PrivateKey
	room string
	log  *slog.Logger
}

type tokenResponse struct {
	Token    string `json:"token"`
	Room     string `json:"room"`
	Identity string `json:"identity"`
	Signal   string `json:"signal"`
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	name := strings.TrimSpace(r.Form.Get("name"))
	if name == "" {
		name = "Guest"
	}
	if !validName(name) {
		http.Error(w, fmt.Sprintf("name: 1 to %d bytes of text without control characters", maxNameLen), http.StatusBadRequest)
		return
	}
	role := signaling.Role(r.Form.Get("role"))
	switch role {
	case "":
		role = signaling.RoleParticipant
	case signaling.RoleParticipant, signaling.RoleCohost:
	case signaling.RoleHost:
		http.Error(w, "host tokens are only in the host link printed at start", http.StatusForbidden)
		return
	default:
		http.Error(w, "role: participant or cohost", http.StatusBadRequest)
		return
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	id := "guest-" + hex.EncodeToString(b[:])
	tok, err := signaling.MintToken(h.key, signaling.Claims{Room: h.room, Identity: id, Name: name, Role: role, Expiry: time.Now().Add(guestTokenLife)})
	if err != nil {
		h.log.Warn("meeting: mint token", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.log.Info("meeting: development token issued", "identity", id, "role", role)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(tokenResponse{Token: tok, Room: h.room, Identity: id, Signal: signalPath})
}

func validName(s string) bool {
	if len(s) > maxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
