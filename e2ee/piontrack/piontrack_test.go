package piontrack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	mrand "math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/e2ee"
)

// loopbackAPI returns a pion API that gathers only UDP4 candidates on
// 127.0.0.1, without mDNS, with only the given interceptors (so no NACK
// retransmissions).
func loopbackAPI(t *testing.T, interceptors ...interceptor.Factory) *webrtc.API {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	for _, f := range interceptors {
		ir.Add(f)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir))
}

// vp8TestFrame is frame number i of the test's VP8-shaped stream: every 10th
// is a key frame (frame tag P bit clear, start code, 640x480), others are
// delta frames; sizes range from one to several RTP packets. The frame
// number is stored right after the clear prefix so the receiver can check
// which frame it got.
func vp8TestFrame(i uint32) []byte {
	rng := mrand.New(mrand.NewPCG(uint64(i), 8))
	key := i%10 == 0
	n := 40 + rng.IntN(2500)
	if key {
		n = 3000 + rng.IntN(3000)
	}
	f := make([]byte, n)
	for j := range f {
		f[j] = byte(rng.Uint32())
	}
	if key {
		f[0] &^= 0x01
		copy(f[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		binary.BigEndian.PutUint32(f[10:], i)
	} else {
		f[0] |= 0x01
		binary.BigEndian.PutUint32(f[3:], i)
	}
	return f
}

func opusTestFrame(i uint32) []byte {
	rng := mrand.New(mrand.NewPCG(uint64(i), 6))
	f := make([]byte, 20+rng.IntN(200))
	for j := range f {
		f[j] = byte(rng.Uint32())
	}
	f[0] = 0x78 // TOC: SILK wideband 20 ms, one frame
	binary.BigEndian.PutUint32(f[1:], i)
	return f
}

func frameIndex(codec e2ee.Codec, f []byte) uint32 {
	switch {
	case codec == e2ee.CodecOpus:
		return binary.BigEndian.Uint32(f[1:])
	case f[0]&1 == 0:
		return binary.BigEndian.Uint32(f[10:])
	default:
		return binary.BigEndian.Uint32(f[3:])
	}
}

type stream struct {
	mime  string
	kind  string
	codec e2ee.Codec
	frame func(uint32) []byte
	dur   time.Duration
}

var streams = []stream{
	{webrtc.MimeTypeVP8, "video", e2ee.CodecVP8, vp8TestFrame, 33 * time.Millisecond},
	{webrtc.MimeTypeOpus, "audio", e2ee.CodecOpus, opusTestFrame, 20 * time.Millisecond},
}

// connect negotiates pcA (offerer, sender) with pcB on loopback and waits
// until they are connected. pcB's remote tracks arrive on the returned
// channel.
func connect(t *testing.T, ctx context.Context, pcA, pcB *webrtc.PeerConnection) <-chan *webrtc.TrackRemote {
	t.Helper()
	remotes := make(chan *webrtc.TrackRemote, 4)
	pcB.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { remotes <- tr })
	connected := make(chan struct{})
	var once sync.Once
	pcA.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})

	offer, err := pcA.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gatherA := webrtc.GatheringCompletePromise(pcA)
	if err := pcA.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gatherA
	if err := pcB.SetRemoteDescription(*pcA.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := pcB.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gatherB := webrtc.GatheringCompletePromise(pcB)
	if err := pcB.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gatherB
	if err := pcA.SetRemoteDescription(*pcB.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("PeerConnections did not connect")
	}

	return remotes
}

// call connects a sending and a receiving PeerConnection on loopback; the
// sender publishes one VP8 and one Opus track wrapped in LocalTrack and
// writes frames until ctx ends. It returns the receiver's remote tracks.
func call(t *testing.T, ctx context.Context, snd *e2ee.Sender) map[string]*webrtc.TrackRemote {
	t.Helper()
	api := loopbackAPI(t)
	pcA, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pcA.Close() })
	pcB, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pcB.Close() })

	var locals []*LocalTrack
	for _, s := range streams {
		raw, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: s.mime}, s.kind, "tresor")
		if err != nil {
			t.Fatal(err)
		}
		lt, err := NewLocalTrack(raw, snd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pcA.AddTrack(lt); err != nil {
			t.Fatal(err)
		}
		locals = append(locals, lt)
	}

	remotes := connect(t, ctx, pcA, pcB)

	// Write frames at a steady pace until the test is done.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for i, lt := range locals {
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for n := uint32(0); n < 2000; n++ {
				if err := lt.WriteSample(media.Sample{Data: streams[i].frame(n), Duration: streams[i].dur}); err != nil {
					t.Errorf("WriteSample: %v", err)
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}

	got := map[string]*webrtc.TrackRemote{}
	for len(got) < 2 {
		select {
		case tr := <-remotes:
			got[tr.Kind().String()] = tr
		case <-ctx.Done():
			t.Fatal("remote tracks did not arrive")
		}
	}
	return got
}

func newKey(t *testing.T) []byte {
	k := make([]byte, e2ee.AES128GCMSHA256.KeySize())
	rand.Read(k)
	return k
}

// TestLoopbackCall sends VP8-shaped and Opus frames through two real pion
// PeerConnections on 127.0.0.1; every frame arrives byte-identical, in
// order, with no gap.
func TestLoopbackCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := newKey(t)
	snd, _ := e2ee.NewSender(e2ee.Config{})
	if err := snd.SetKey(0x0105, key); err != nil {
		t.Fatal(err)
	}
	rcv, _ := e2ee.NewReceiver(e2ee.Config{})
	if err := rcv.Add(0x0105, key); err != nil {
		t.Fatal(err)
	}
	tracks := call(t, ctx, snd)

	const want = 60
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			rt, err := NewRemoteTrack(tracks[s.kind], rcv, RemoteConfig{})
			if err != nil {
				t.Error(err)
				return
			}
			var last uint32
			for n := 0; n < want; n++ {
				smp, err := rt.ReadSample(ctx)
				if err != nil {
					t.Errorf("%s frame %d: %v", s.kind, n, err)
					return
				}
				idx := frameIndex(s.codec, smp.Data)
				if !bytes.Equal(smp.Data, s.frame(idx)) {
					t.Errorf("%s frame %d (#%d) differs from what was sent", s.kind, n, idx)
					return
				}
				if n > 0 && idx != last+1 {
					t.Errorf("%s: frame #%d after #%d", s.kind, idx, last)
				}
				last = idx
			}
		})
	}
	wg.Wait()
	cancel()
	st := rcv.Stats()
	if st.Opened < 2*want || st.AuthFailed+st.Malformed+st.Replayed+st.UnknownKey != 0 {
		t.Errorf("receiver stats %+v", st)
	}
}

// TestLoopbackWrongKey: a receiver holding a different key for the KID gets
// an authentication error for every frame and never a sample.
func TestLoopbackWrongKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snd, _ := e2ee.NewSender(e2ee.Config{})
	if err := snd.SetKey(7, newKey(t)); err != nil {
		t.Fatal(err)
	}
	rcv, _ := e2ee.NewReceiver(e2ee.Config{})
	if err := rcv.Add(7, newKey(t)); err != nil {
		t.Fatal(err)
	}
	tracks := call(t, ctx, snd)

	const want = 40
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			rt, err := NewRemoteTrack(tracks[s.kind], rcv, RemoteConfig{})
			if err != nil {
				t.Error(err)
				return
			}
			for n := 0; n < want; n++ {
				smp, err := rt.ReadSample(ctx)
				if smp != nil {
					t.Errorf("%s: got a sample with the wrong key", s.kind)
					return
				}
				if !errors.Is(err, e2ee.ErrAuthentication) {
					t.Errorf("%s frame %d: err = %v, want ErrAuthentication", s.kind, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if st := rcv.Stats(); st.Opened != 0 || st.AuthFailed < 2*want {
		t.Errorf("receiver stats %+v", st)
	}
}

func TestUnsupportedCodec(t *testing.T) {
	raw, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	snd, _ := e2ee.NewSender(e2ee.Config{})
	if _, err := NewLocalTrack(raw, snd); err == nil {
		t.Fatal("H.264 track accepted")
	}
}

func TestReadSampleHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snd, _ := e2ee.NewSender(e2ee.Config{})
	key := newKey(t)
	snd.SetKey(1, key)
	rcv, _ := e2ee.NewReceiver(e2ee.Config{})
	rcv.Add(1, key)
	// Run a call, then read with an already-expiring context after the
	// sender stopped: ReadSample must return the context's error promptly.
	callCtx, stopSending := context.WithCancel(ctx)
	tracks := call(t, callCtx, snd)
	rt, err := NewRemoteTrack(tracks["audio"], rcv, RemoteConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.ReadSample(ctx); err != nil {
		t.Fatal(err)
	}
	stopSending()
	time.Sleep(50 * time.Millisecond)
	for { // drain what is already buffered
		short, c := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		_, err := rt.ReadSample(short)
		c()
		if errors.Is(err, context.DeadlineExceeded) {
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("ReadSample returned %v after the deadline", d)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
