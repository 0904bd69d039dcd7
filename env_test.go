package tresor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
)

// env is the project's own server on loopback: an SFU on one UDP port and a
// signaling server driving it through sfumedia, plus the app backend's token
// key. Hostile tests put taps in front of both (hostile_test.go).
type env struct {
	t    testing.TB
	sfu  *sfu.SFU
	srv  *signaling.Server
	hs   *httptest.Server
	url  string
	key  ed25519.PrivateKey
	room string
}

type envConfig struct {
	sfuConn net.PacketConn // wraps the SFU's UDP socket when set
	sigCfg  signaling.Config
	room    signaling.RoomConfig
	handler func(e *env) string // replaces the WebSocket URL (a proxy)
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	s, err := sfu.New(sfu.Config{UDPConn: cfg.sfuConn, DisableBandwidthEstimation: true})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.sigCfg
	sc.TokenKeys = []ed25519.PublicKey{pub}
	sc.Media = sfumedia.New(s)
	if sc.CommitTimeout == 0 {
		sc.CommitTimeout = 2 * time.Second
	}
	srv, err := signaling.NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sfu: s, srv: srv, key: priv, room: "room"}
	if err := srv.CreateRoom(e.room, cfg.room); err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewServer(srv)
	e.url = "ws" + strings.TrimPrefix(e.hs.URL, "http")
	if cfg.handler != nil {
		e.url = cfg.handler(e)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		e.hs.Close()
		s.Close()
	})
	return e
}

func (e *env) token(id string, role signaling.Role) string {
	e.t.Helper()
	tok, err := auth.MintToken(e.key, auth.Claims{Room: e.room, Identity: id, Name: "Name " + id, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// vouched returns the options that make id a member the backend vouched
// for, in a meeting that accepts only such members.
func (e *env) vouched(id string) []Option {
	voucher := func(_ context.Context, key []byte) ([]byte, error) {
		return auth.MintAssertion(e.key, auth.Assertion{Room: e.room, Identity: id, Name: "Name " + id, SignatureKey: key, Expiry: time.Now().Add(time.Hour)})
	}
	return []Option{WithAuthority(e.key.Public().(ed25519.PublicKey)), WithVoucher(voucher)}
}

// dbgLog, when TRESOR_TEST_LOG is set, prints every client's logs.
var dbgLog = func() *slog.Logger {
	if os.Getenv("TRESOR_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}()

// loopbackAPI is a pion API that uses only 127.0.0.1 UDP host candidates.
func loopbackAPI(t testing.TB, tweak func(*webrtc.SettingEngine)) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if tweak != nil {
		tweak(&se)
	}
	api, err := NewAPI(se)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// client is a Meeting under test with an event log.
type client struct {
	t  testing.TB
	id string
	m  *Meeting

	mu       sync.Mutex
	events   []Event
	tracks   []*RemoteTrack
	got      map[string]map[uint32][]byte // "publisher/kind" → seq → frame
	epochs   map[string]uint64            // "publisher/kind" → epoch of the last frame
	firstAt  map[string]map[uint64]time.Time
	dups     int // frames delivered twice
	readers  sync.WaitGroup
	cancelRd context.CancelFunc
}

func (e *env) join(id string, role signaling.Role, opts ...Option) *client {
	e.t.Helper()
	c, err := e.joinErr(id, role, opts...)
	if err != nil {
		e.t.Fatalf("join %s: %v", id, err)
	}
	return c
}

func (e *env) joinErr(id string, role signaling.Role, opts ...Option) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all := append([]Option{WithWebRTCAPI(loopbackAPI(e.t, nil)), WithGraceWindow(500 * time.Millisecond)}, opts...)
	if dbgLog != nil {
		all = append(all, WithLogger(dbgLog.With("client", id)))
	}
	m, err := Join(ctx, e.url, e.token(id, role), all...)
	if err != nil {
		return nil, err
	}
	rctx, rcancel := context.WithCancel(context.Background())
	c := &client{t: e.t, id: id, m: m, got: map[string]map[uint32][]byte{}, epochs: map[string]uint64{},
		firstAt: map[string]map[uint64]time.Time{}, cancelRd: rcancel}
	c.readers.Add(1)
	go c.readEvents(rctx)
	e.t.Cleanup(c.close)
	return c, nil
}

func (c *client) close() {
	c.m.Close()
	c.cancelRd()
	c.readers.Wait()
}

func (c *client) readEvents(ctx context.Context) {
	defer c.readers.Done()
	for ev := range c.m.Events() {
		c.mu.Lock()
		c.events = append(c.events, ev)
		c.mu.Unlock()
		if ta, ok := ev.(*TrackAdded); ok {
			c.mu.Lock()
			c.tracks = append(c.tracks, ta.Track)
			c.mu.Unlock()
			c.readers.Add(1)
			go c.readTrack(ctx, ta.Track)
		}
	}
}

func (c *client) readTrack(ctx context.Context, rt *RemoteTrack) {
	defer c.readers.Done()
	key := rt.Participant() + "/" + rt.Kind()
	for {
		f, err := rt.ReadFrame(ctx)
		if err != nil {
			return
		}
		seq := frameSeq(f.Data)
		c.mu.Lock()
		if c.got[key] == nil {
			c.got[key] = map[uint32][]byte{}
			c.firstAt[key] = map[uint64]time.Time{}
		}
		if _, dup := c.got[key][seq]; dup {
			c.dups++
		}
		c.got[key][seq] = f.Data
		c.epochs[key] = f.Epoch
		if _, ok := c.firstAt[key][f.Epoch]; !ok {
			c.firstAt[key][f.Epoch] = time.Now()
		}
		c.mu.Unlock()
	}
}

// received returns the frames from publisher's track of kind.
func (c *client) received(publisher, kind string) map[uint32][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[uint32][]byte{}
	for k, v := range c.got[publisher+"/"+kind] {
		out[k] = v
	}
	return out
}

func (c *client) lastEpoch(publisher, kind string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.epochs[publisher+"/"+kind]
	return e, ok
}

// eventsOf returns the events of type T received so far.
func eventsOf[T Event](c *client) []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []T
	for _, ev := range c.events {
		if v, ok := ev.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// testFrame is frame seq of sender id for kind: deterministic, so a
// receiver can check every byte. The sequence number follows the clear
// prefix of VP8 key frames (10 bytes; every frame here is a key frame so
// the prefix length is fixed), and then a marker, a per-frame pattern.
func testFrame(id, kind string, seq uint32) []byte {
	var f []byte
	if kind == "video" {
		f = make([]byte, 10, 1200)
		f[0] = 0x10 // key frame (P bit clear), show_frame
		copy(f[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	} else {
		f = []byte{0x78} // Opus TOC
		f = append(f, make([]byte, 9)...)
	}
	f = binary.BigEndian.AppendUint32(f, seq)
	f = append(f, plainMarker...)
	f = append(f, id...)
	f = append(f, 0)
	n := 60
	if kind == "video" {
		n = 400 + int(seq%7)*150
	}
	for i := range n {
		f = append(f, byte(int(seq)*31+i))
	}
	return f
}

// plainMarker appears in every plaintext frame; it must never appear in
// anything the server sees.
var plainMarker = []byte("TRESOR-PLAINTEXT-MARKER")

func frameSeq(f []byte) uint32 {
	if len(f) < 14 {
		return 0
	}
	return binary.BigEndian.Uint32(f[10:14])
}

// sender publishes a camera and a microphone track and writes test frames
// until stopped. Frames written before the client has keys are refused by
// the client and not counted as sent.
type sender struct {
	id     string
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	sent   map[string]map[uint32]bool
	tracks map[string]*LocalTrack
}

func (c *client) publish(ctx context.Context, interval time.Duration) *sender {
	c.t.Helper()
	s := &sender{id: c.id, stop: make(chan struct{}), sent: map[string]map[uint32]bool{}, tracks: map[string]*LocalTrack{}}
	for kind, src := range map[string]Source{"video": signaling.SourceCamera, "audio": signaling.SourceMicrophone} {
		lt, err := c.m.Publish(ctx, src)
		if err != nil {
			c.t.Fatalf("%s: publish %s: %v", c.id, kind, err)
		}
		s.tracks[kind] = lt
		s.sent[kind] = map[uint32]bool{}
	}
	for kind, lt := range s.tracks {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for seq := uint32(1); ; seq++ {
				select {
				case <-s.stop:
					return
				case <-tick.C:
				}
				if err := lt.WriteSample(media.Sample{Data: testFrame(c.id, kind, seq), Duration: interval}); err == nil {
					s.mu.Lock()
					s.sent[kind][seq] = true
					s.mu.Unlock()
				}
			}
		}()
	}
	c.t.Cleanup(s.halt)
	return s
}

func (s *sender) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

func (s *sender) sentSeqs(kind string) map[uint32]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint32]bool{}
	for k := range s.sent[kind] {
		out[k] = true
	}
	return out
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged waits until every client is a member at the same epoch with n
// members and the same security code.
func converged(t testing.TB, d time.Duration, cs ...*client) (uint64, string) {
	t.Helper()
	return convergedN(t, d, len(cs), cs...)
}

// convergedN waits until the clients are members at the same epoch with n
// members and the same security code.
func convergedN(t testing.TB, d time.Duration, n int, cs ...*client) (uint64, string) {
	t.Helper()
	var epoch uint64
	var code string
	eventually(t, d, fmt.Sprintf("%d clients in one epoch", len(cs)), func() bool {
		for i, c := range cs {
			e, k, err := c.m.SecurityCode()
			if err != nil || len(c.m.Members()) != n {
				return false
			}
			if i == 0 {
				epoch, code = e, k
			} else if e != epoch || k != code {
				return false
			}
		}
		return true
	})
	return epoch, code
}

// checkFrames checks that every frame rx got from tx's track is exactly
// what tx wrote, and that it got at least min of them.
func checkFrames(t testing.TB, rx *client, tx *sender, kind string, min int) {
	t.Helper()
	got := rx.received(tx.id, kind)
	if len(got) < min {
		t.Fatalf("%s got %d %s frames from %s, want ≥ %d", rx.id, len(got), kind, tx.id, min)
	}
	sent := tx.sentSeqs(kind)
	for seq, data := range got {
		if !sent[seq] {
			t.Fatalf("%s got %s frame %d from %s that was never sent", rx.id, kind, seq, tx.id)
		}
		if want := testFrame(tx.id, kind, seq); !bytes.Equal(data, want) {
			t.Fatalf("%s: %s frame %d from %s differs from what was sent", rx.id, kind, seq, tx.id)
		}
	}
}

// goroutineLeakCheck fails the test if goroutines started during it are
// still running shortly after cleanup.
func goroutineLeakCheck(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
