package sfumedia_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
)

// stack is a real signaling server with a real SFU behind the adapter, on
// loopback.
type stack struct {
	t   *testing.T
	sfu *sfu.SFU
	srv *signaling.Server
	url string
	key ed25519.PrivateKey
	api *webrtc.API
}

func newStack(t *testing.T, rc signaling.RoomConfig) *stack {
	t.Helper()
	s, err := sfu.New(sfu.Config{PLIThrottle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := signaling.NewServer(signaling.Config{TokenKeys: []ed25519.PublicKey{pub}, Media: sfumedia.New(s)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateRoom("r", rc); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
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
	return &stack{t: t, sfu: s, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http"), key: priv, api: clientAPI(t)}
}

// clientAPI is a pion API for client peers on the loopback interface.
func clientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// client is a participant speaking only through signaling: a publish and a
// subscribe peer connection, with the SFU's signals from the event stream.
type client struct {
	t        *testing.T
	id       string
	sig      *signaling.Client
	pub, sub *webrtc.PeerConnection
	done     chan struct{}
	closing  atomic.Bool // set when the test ends; later errors are expected

	mu      sync.Mutex
	pending map[signaling.Direction][]webrtc.ICECandidateInit // target → queued until the remote description
	packets map[string]int                                    // "stream/track" → packets received
	others  []signaling.Event                                 // non-media events
}

func (st *stack) join(id string, role signaling.Role, opts ...signaling.Option) *client {
	t := st.t
	t.Helper()
	tok, err := auth.MintToken(st.key, auth.Claims{Room: "r", Identity: id, Name: id, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sc, err := signaling.Dial(ctx, st.url, tok, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	c := &client{t: t, id: id, sig: sc, done: make(chan struct{}),
		pending: map[signaling.Direction][]webrtc.ICECandidateInit{}, packets: map[string]int{}}
	if c.pub, err = st.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if c.sub, err = st.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	for target, pc := range map[signaling.Direction]*webrtc.PeerConnection{signaling.DirectionPublish: c.pub, signaling.DirectionSubscribe: c.sub} {
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand == nil {
				return
			}
			j := cand.ToJSON()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Errors after the test ended (connection closed) are expected.
			_ = c.sig.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalCandidate, Direction: target,
				Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment})
		})
	}
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		key := tr.StreamID() + "/" + tr.ID()
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			c.mu.Lock()
			c.packets[key]++
			c.mu.Unlock()
		}
	})
	go c.loop()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	c.closing.Store(true)
	c.sig.Close()
	<-c.done
	c.pub.Close()
	c.sub.Close()
}

// loop applies the SFU's signals: answers on the publish connection, offers
// on the subscribe connection (answered back), and trickled candidates.
func (c *client) loop() {
	defer close(c.done)
	for ev := range c.sig.Events() {
		m, ok := ev.(signaling.MediaReceived)
		if !ok {
			c.mu.Lock()
			c.others = append(c.others, ev)
			c.mu.Unlock()
			continue
		}
		if err := c.apply(m.Signal); err != nil && !c.closing.Load() {
			c.t.Errorf("%s: %v", c.id, err)
		}
	}
}

func (c *client) pc(target signaling.Direction) (*webrtc.PeerConnection, error) {
	switch target {
	case signaling.DirectionPublish:
		return c.pub, nil
	case signaling.DirectionSubscribe:
		return c.sub, nil
	}
	return nil, fmt.Errorf("signal with target %q", target)
}

func (c *client) apply(s signaling.MediaSignal) error {
	pc, err := c.pc(s.Direction)
	if err != nil {
		return err
	}
	switch s.Kind {
	case signaling.SignalAnswer:
		if s.Direction != signaling.DirectionPublish {
			return fmt.Errorf("answer for %s", s.Direction)
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP}); err != nil {
			return err
		}
		return c.flush(s.Direction, pc)
	case signaling.SignalOffer:
		if s.Direction != signaling.DirectionSubscribe {
			return fmt.Errorf("offer for %s", s.Direction)
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			return err
		}
		if err := c.flush(s.Direction, pc); err != nil {
			return err
		}
		ans, err := pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := pc.SetLocalDescription(ans); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = c.sig.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalAnswer, Direction: signaling.DirectionSubscribe, SDP: pc.LocalDescription().SDP})
		if errors.Is(err, signaling.ErrClosed) {
			return nil
		}
		return err
	case signaling.SignalCandidate:
		ci := webrtc.ICECandidateInit{Candidate: s.Candidate, SDPMid: s.SDPMid, SDPMLineIndex: s.SDPMLineIndex, UsernameFragment: s.UsernameFragment}
		c.mu.Lock()
		if pc.RemoteDescription() == nil {
			c.pending[s.Direction] = append(c.pending[s.Direction], ci)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		return pc.AddICECandidate(ci)
	}
	return fmt.Errorf("unexpected signal %q", s.Kind)
}

func (c *client) flush(target signaling.Direction, pc *webrtc.PeerConnection) error {
	c.mu.Lock()
	cs := c.pending[target]
	delete(c.pending, target)
	c.mu.Unlock()
	for _, ci := range cs {
		if err := pc.AddICECandidate(ci); err != nil {
			return err
		}
	}
	return nil
}

// publish offers the publish connection through signaling.
func (c *client) publish(ctx context.Context) {
	c.t.Helper()
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	if err := c.sig.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalOffer, Direction: signaling.DirectionPublish, SDP: offer.SDP}); err != nil {
		c.t.Fatalf("%s: publish offer: %v", c.id, err)
	}
}

func (c *client) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets[key]
}

// sendTrack is a published track written with samples every 20 ms.
type sendTrack struct {
	track *webrtc.TrackLocalStaticSample
	video bool
}

func (c *client) addTrack(id string, video bool) *sendTrack {
	c.t.Helper()
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if video {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	tr, err := webrtc.NewTrackLocalStaticSample(codec, id, c.id)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.pub.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		c.t.Fatal(err)
	}
	return &sendTrack{track: tr, video: video}
}

// pump writes samples to every track until stop is closed. Video frames are
// VP8 key frames (frame tag bit P=0, RFC 6386 §9.1), so every subscriber
// starts at once; the rest of each frame is opaque, as SFrame ciphertext is.
func pump(tracks []*sendTrack, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		frame := make([]byte, 300)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, t := range tracks {
				if err := t.track.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}); err != nil {
					return
				}
			}
		}
	}()
	return &wg
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stalled reports whether key's packet count stops growing: it must stay
// put for d within 5 s (packets already in flight may still land first).
// A forwarded stream (a packet every 20 ms) never pauses that long.
func stalled(c *client, key string, d time.Duration) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n := c.count(key)
		time.Sleep(d)
		if c.count(key) == n {
			return true
		}
	}
	return false
}

func TestPublishSubscribeThroughSignaling(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := newStack(t, signaling.RoomConfig{ParticipantsMayShareScreen: true})
	host := st.join("host", signaling.RoleHost)
	p := st.join("pub", signaling.RoleParticipant)

	// The publisher: camera and microphone undeclared (the SFU's defaults
	// by kind), a screen share with its audio declared as "screen".
	tracks := []*sendTrack{p.addTrack("cam", true), p.addTrack("mic", false), p.addTrack("scr", true), p.addTrack("scr-audio", false)}
	for _, id := range []string{"scr", "scr-audio"} {
		if err := p.sig.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalTrack, TrackID: id, Source: signaling.SourceScreen}); err != nil {
			t.Fatalf("declare %s: %v", id, err)
		}
	}
	p.publish(ctx)
	stop := make(chan struct{})
	wg := pump(tracks, stop)
	defer func() { close(stop); wg.Wait() }()

	// The subscriber has nothing to send: it offers a publish connection
	// with one receive-only section (an offer without any media section
	// has no ICE credentials), which opens its media session; the SFU then
	// offers it the tracks on the subscribe connection.
	if _, err := host.pub.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	host.publish(ctx)
	keys := []string{"pub/cam", "pub/mic", "pub/scr", "pub/scr-audio"}
	eventually(t, 15*time.Second, "every track at the subscriber", func() bool {
		for _, k := range keys {
			if host.count(k) < 10 {
				return false
			}
		}
		return true
	})
	if st := p.pub.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("publish connection %s", st)
	}

	// Forbidding screen share stops the screen's video and audio, and
	// nothing else.
	if err := host.sig.AllowScreen(ctx, "pub", false); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pub/scr", "pub/scr-audio"} {
		if !stalled(host, k, 400*time.Millisecond) {
			t.Fatalf("%s still forwarded after screen share was forbidden", k)
		}
	}
	for _, k := range []string{"pub/cam", "pub/mic"} {
		n := host.count(k)
		eventually(t, 3*time.Second, k+" still flowing", func() bool { return host.count(k) > n+5 })
	}

	// Allowing it again resumes it.
	if err := host.sig.AllowScreen(ctx, "pub", true); err != nil {
		t.Fatal(err)
	}
	n := host.count("pub/scr")
	eventually(t, 5*time.Second, "screen resumes", func() bool { return host.count("pub/scr") > n+5 })

	// Stopping the (undeclared) microphone unpublishes it: the SFU
	// renegotiates it away and forwards no more of it.
	if err := host.sig.StopTrack(ctx, "pub", signaling.SourceMicrophone); err != nil {
		t.Fatal(err)
	}
	if !stalled(host, "pub/mic", 400*time.Millisecond) {
		t.Fatal("microphone still forwarded after stop_track")
	}
	n = host.count("pub/cam")
	eventually(t, 3*time.Second, "camera still flowing", func() bool { return host.count("pub/cam") > n+5 })
}

func TestSignalErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := newStack(t, signaling.RoomConfig{})
	h := st.join("host", signaling.RoleHost)
	c := h.sig
	bad := []signaling.MediaSignal{
		{Kind: signaling.SignalOffer, Direction: signaling.DirectionSubscribe, SDP: "v=0"}, // the SFU offers on subscribe
		{Kind: signaling.SignalOffer, Direction: signaling.DirectionPublish, SDP: "not sdp"},
		{Kind: signaling.SignalAnswer, Direction: signaling.DirectionPublish, SDP: "v=0"}, // the client offers on publish
		{Kind: signaling.SignalAnswer, Direction: signaling.DirectionSubscribe, SDP: "v=0"},
		{Kind: signaling.SignalCandidate, Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}, // no target
		{Kind: signaling.SignalTrack, TrackID: "x", Source: "camera"},                            // accepted (control)
	}
	for i, s := range bad {
		err := c.SendMedia(ctx, s)
		if i == len(bad)-1 {
			if err != nil {
				t.Fatalf("valid track declaration refused: %v", err)
			}
			continue
		}
		var e *signaling.Error
		if !errors.As(err, &e) || e.Code != signaling.CodeBadRequest {
			t.Errorf("signal %d (%s/%s): err %v, want bad_request", i, s.Kind, s.Direction, err)
		}
	}
	// Too many declared tracks are refused.
	var err error
	for i := 0; i < 70 && err == nil; i++ {
		err = c.SendMedia(ctx, signaling.MediaSignal{Kind: signaling.SignalTrack, TrackID: fmt.Sprint("t", i), Source: signaling.SourceCamera})
	}
	if err == nil {
		t.Fatal("70 track declarations accepted")
	}
}

// A participant that reconnects (signaling replaces its old connection)
// gets a new SFU session even while the old one is still leaving.
func TestReconnectReplacesSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := newStack(t, signaling.RoomConfig{})
	sub := st.join("sub", signaling.RoleHost)
	if _, err := sub.pub.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	sub.publish(ctx)
	for round := range 2 {
		p := st.join("pub", signaling.RoleHost)
		tr := p.addTrack(fmt.Sprint("cam", round), true)
		p.publish(ctx)
		stop := make(chan struct{})
		wg := pump([]*sendTrack{tr}, stop)
		key := fmt.Sprint("pub/cam", round)
		eventually(t, 15*time.Second, key+" at the subscriber", func() bool { return sub.count(key) > 10 })
		close(stop)
		wg.Wait()
		// Round 0 leaves its connection open: round 1's join replaces it.
	}
	r, err := st.sfu.Room("r")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Participants(); !slices.Equal(got, []string{"pub", "sub"}) {
		t.Fatalf("SFU room has %v", got)
	}
}

// Join waits for a session of the same identity that is still leaving, and
// gives up when the context ends.
func TestJoinWaitsForPreviousSession(t *testing.T) {
	s, err := sfu.New(sfu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := sfumedia.New(s)
	nop := func(signaling.MediaSignal) {}
	first, err := m.Join(context.Background(), "r", "p", nop)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := m.Join(short, "r", "p", nop); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second join while the first stays: %v", err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		first.Close()
	}()
	second, err := m.Join(context.Background(), "r", "p", nop)
	if err != nil {
		t.Fatalf("join after the previous session left: %v", err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if err := second.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := second.Signal(context.Background(), signaling.MediaSignal{Kind: signaling.SignalTrack, TrackID: "a", Source: signaling.SourceCamera}); err == nil {
		t.Fatal("signal after Close accepted")
	}
}
