package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/examples/internal/teststack"
	"github.com/tresor-dev/tresor/internal/demotoken"
	"github.com/tresor-dev/tresor/signaling"
)

// syncBuffer is stdout for run, read while it writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// banner is what the demo printed.
type banner struct {
	base, passcode, hostLink, text string
}

// start runs the demo on loopback ports and returns what it printed and a
// function that stops it and returns run's error.
func start(t *testing.T, cfg config) (banner, func() error) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.UDP = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, out) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				runErr = errors.New("run did not return 10 s after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "DEVELOPMENT ONLY") {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 10 s:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	text := out.String()
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^  ` + name + `:\s+(\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %q line in:\n%s", name, text)
		}
		return m[1]
	}
	return banner{base: field("Meeting"), passcode: field("Passcode"), hostLink: field("Host link"), text: text}, stop
}

func (b banner) signalURL() string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(b.base, "/"), "http") + signalPath
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func dial(t *testing.T, b banner, token string, opts ...signaling.Option) (*signaling.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := signaling.Dial(ctx, b.signalURL(), token, opts...)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func next[T signaling.Event](t *testing.T, c *signaling.Client) T {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				var zero T
				t.Fatalf("events closed waiting for %T: %v", zero, c.Err())
			}
			if e, is := ev.(T); is {
				return e
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T within 5 s", zero)
		}
	}
}

func TestMeetingServesAndAdmits(t *testing.T) {
	b, stop := start(t, config{Room: "demo", WaitingRoom: true})
	if !regexp.MustCompile(`^\d{4}-\d{4}$`).MatchString(b.passcode) {
		t.Fatalf("passcode %q", b.passcode)
	}
	if strings.Contains(b.hostLink, b.passcode) {
		t.Fatal("the host link carries the passcode")
	}

	// The page loads.
	resp, body := get(t, b.base)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<html")) {
		t.Fatalf("page: %s %q %.80q", resp.Status, resp.Header.Get("Content-Type"), body)
	}

	// The host link's token (in the fragment) joins as host, without the
	// passcode and without waiting.
	u, err := url.Parse(b.hostLink)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("token") == "" || u.RawQuery != "" {
		t.Fatalf("host link %q: the token must be in the fragment only", b.hostLink)
	}
	host, err := dial(t, b, frag.Get("token"))
	if err != nil {
		t.Fatalf("host join: %v", err)
	}
	if j := next[signaling.Joined](t, host); j.Self.Role != signaling.RoleHost {
		t.Fatalf("host joined as %q", j.Self.Role)
	}

	// A guest token from the development endpoint needs the passcode, then
	// waits until the host admits it.
	resp, body = get(t, b.base+"demo/token?name=Ada")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %s %q", resp.Status, body)
	}
	var tr demotoken.Response
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Room != "demo" || tr.Signal != signalPath || !strings.HasPrefix(tr.Identity, "guest-") {
		t.Fatalf("token response %+v", tr)
	}
	var se *signaling.Error
	if _, err := dial(t, b, tr.Token); !errors.As(err, &se) || se.Code != signaling.CodePasscodeRequired {
		t.Fatalf("join without passcode: %v", err)
	}
	guest, err := dial(t, b, tr.Token, signaling.WithPasscode(b.passcode))
	if err != nil {
		t.Fatalf("guest join: %v", err)
	}
	next[signaling.Waiting](t, guest)
	if err := host.Admit(context.Background(), tr.Identity); err != nil {
		t.Fatal(err)
	}
	if j := next[signaling.Joined](t, guest); j.Self.Name != "Ada" || j.Self.Role != signaling.RoleParticipant {
		t.Fatalf("guest joined as %+v", j.Self)
	}

	// The SFU is behind signaling: a publish offer gets the SFU's answer.
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := guest.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalOffer, Direction: signaling.DirectionPublish, SDP: offer.SDP}); err != nil {
		t.Fatalf("media offer: %v", err)
	}
	for {
		m := next[signaling.MediaReceived](t, guest)
		if m.Signal.Kind == signaling.SignalAnswer {
			if m.Signal.Direction != signaling.DirectionPublish || !strings.HasPrefix(m.Signal.SDP, "v=0") {
				t.Fatalf("answer %+v", m.Signal)
			}
			break
		}
	}

	// Metrics of both servers.
	resp, body = get(t, b.base+"metrics")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("tresor_signaling_")) || !bytes.Contains(body, []byte("tresor_sfu_")) {
		t.Fatalf("metrics: %s\n%.300s", resp.Status, body)
	}

	// Shutdown says going_away to the clients and returns cleanly; the
	// client then tries to resume elsewhere (here nobody answers), so it
	// is reconnecting, or closed, at once.
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for guest.State() == signaling.ConnConnected {
		if time.Now().After(deadline) {
			t.Fatal("guest still connected after shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	guest.Close()
}

func TestTokenEndpointRefuses(t *testing.T) {
	b, _ := start(t, config{Passcode: "2468-1357"})
	if b.passcode != "2468-1357" {
		t.Fatalf("the -passcode given is not the one printed:\n%s", b.text)
	}
	for _, c := range []struct {
		query string
		code  int
	}{
		{"role=host", http.StatusForbidden},
		{"role=admin", http.StatusBadRequest},
		{"name=" + url.QueryEscape("a\x00b"), http.StatusBadRequest},
		{"name=" + strings.Repeat("x", demotoken.MaxNameLen+1), http.StatusBadRequest},
		{"name=Bo&role=cohost", http.StatusOK},
	} {
		if resp, body := get(t, b.base+"demo/token?"+c.query); resp.StatusCode != c.code {
			t.Errorf("%s: %s %q, want %d", c.query, resp.Status, body, c.code)
		}
	}
	resp, err := http.Post(b.base+"demo/token?role=host", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST role=host: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodDelete, b.base+"demo/token", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	// A token signed by another key (a previous run's) is refused.
	resp2, body := get(t, b.base+"demo/token")
	var tr demotoken.Response
	if err := json.Unmarshal(body, &tr); err != nil || resp2.StatusCode != http.StatusOK {
		t.Fatalf("token: %s %v", resp2.Status, err)
	}
	b2, _ := start(t, config{Passcode: "2468-1357"})
	var se *signaling.Error
	if _, err := dial(t, b2, tr.Token, signaling.WithPasscode("2468-1357")); !errors.As(err, &se) || se.Code != signaling.CodeInvalidToken {
		t.Fatalf("another run's token: %v", err)
	}
}

func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:80":     "http://localhost:80/",
		"[::]:8443":      "http://localhost:8443/",
		"[::1]:8080":     "http://[::1]:8080/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURL(a); got != want {
			t.Errorf("baseURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// The demo hosts an end-to-end encrypted meeting: the host joins with the
// Go client from the printed host link, a guest with a /demo/token token
// and the passcode, the host admits the guest, and the guest decrypts the
// host's frames.
func TestMeetingEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, stop := start(t, config{Room: "demo", WaitingRoom: true})
	u, err := url.Parse(b.hostLink)
	if err != nil {
		t.Fatal(err)
	}
	frag, _ := url.ParseQuery(u.Fragment)
	api := teststack.API(t)
	host, err := tresor.Join(ctx, b.signalURL(), frag.Get("token"), tresor.WithWebRTCAPI(api))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	r, err := demotoken.Fetch(ctx, nil, b.base, "Ada", signaling.RoleParticipant)
	if err != nil {
		t.Fatal(err)
	}
	guest, err := tresor.Join(ctx, r.Signal, r.Token, tresor.WithPasscode(b.passcode), tresor.WithWebRTCAPI(api))
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	if guest.Self().Identity != "" {
		t.Fatal("the guest skipped the waiting room")
	}
	if err := host.Signaling().Admit(ctx, r.Identity); err != nil {
		t.Fatal(err)
	}

	// Both reach the same epoch with the same security code.
	epoch := func(m *tresor.Meeting) (code string) {
		for ev := range m.Events() {
			if e, ok := ev.(*tresor.EpochChanged); ok && len(e.Members) == 2 {
				return e.SecurityCode
			}
		}
		return "" // events ended
	}
	codes := make(chan string, 1)
	go func() { codes <- epoch(host) }()
	guestCode := epoch(guest)
	if hc := <-codes; hc == "" || hc != guestCode {
		t.Fatalf("security codes differ: host %q, guest %q", hc, guestCode)
	}

	tr, err := host.Publish(ctx, signaling.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	stopWriting := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A VP8 key frame header (RFC 6386 §9.1) and an opaque body.
		frame := append([]byte{0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, bytes.Repeat([]byte("tresor"), 50)...)
		for {
			select {
			case <-stopWriting:
				return
			case <-time.After(30 * time.Millisecond):
			}
			_ = tr.WriteSample(media.Sample{Data: frame, Duration: 30 * time.Millisecond})
		}
	}()
	defer func() { close(stopWriting); wg.Wait() }()
	for ev := range guest.Events() {
		ta, ok := ev.(*tresor.TrackAdded)
		if !ok {
			continue
		}
		f, err := ta.Track.ReadFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ta.Track.Participant() != "host" || !bytes.HasSuffix(f.Data, []byte("tresortresor")) {
			t.Fatalf("frame from %s: %.20q", ta.Track.Participant(), f.Data)
		}
		break
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
