package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/demotoken"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
	"github.com/tresor-dev/tresor/web"
)

// signalPath is where the demo serves signaling, as PROTOCOL.md names it.
const signalPath = "/signal"

// hostTokenLife is the host token's lifetime: the host link is printed once
// and should work for the whole demo. (Guest tokens from /demo/token last
// demotoken.Lifetime.)
const hostTokenLife = 24 * time.Hour

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

	hostToken, err := auth.MintToken(developmentOnlyKey, auth.Claims{
		Room: cfg.Room, Identity: "host", Name: "Host", Role: signaling.RoleHost, Expiry: time.Now().Add(hostTokenLife),
	})
	if err != nil {
		return err
	}
	tokens := &demotoken.Handler{Key: developmentOnlyKey, Room: cfg.Room, Signal: signalPath, Logger: log}

	mux := http.NewServeMux()
	mux.Handle(signalPath, sig)
	mux.Handle(demotoken.Path, tokens)
	vouch := &demotoken.Voucher{Key: developmentOnlyKey, Logger: log}
	mux.Handle(demotoken.AuthorityPath, vouch)
	mux.Handle(demotoken.VouchPath, vouch)
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
A real deployment mints tokens in its own backend (auth.MintToken).
`, room, base, passcode, base, hostToken, udp, base, passcode, demotoken.Path)
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
