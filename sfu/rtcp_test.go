package sfu_test

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// TestKeyFrameRequestsMergedAndThrottled: three subscribers flood PLI and
// FIR; the publisher sees at most one PLI per throttle window.
func TestKeyFrameRequestsMergedAndThrottled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const throttle = 200 * time.Millisecond
	s := newSFU(t, sfu.Config{PLIThrottle: throttle})
	api := newAPI(t, peertest.Config{})

	var mu sync.Mutex
	tracks := make([]*webrtc.TrackRemote, 3)
	var subs []*peertest.Client
	for i, id := range []string{"a", "b", "c"} {
		cl := join(t, ctx, s, api, "r", id, nil)
		cl.Sub.PC.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			mu.Lock()
			tracks[i] = tr
			mu.Unlock()
			peertest.Receive(tr, func(peertest.Received) {})
		})
		subs = append(subs, cl)
	}
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 1, 500, 20*time.Millisecond, stop)
	defer func() { close(stop); wg.Wait() }()
	eventually(t, 10*time.Second, "three subscribed tracks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return tracks[0] != nil && tracks[1] != nil && tracks[2] != nil
	})
	time.Sleep(2 * throttle) // let set-up requests pass

	before := snd.PLIs.Load()
	const flood = time.Second
	start := time.Now()
	sent := 0
	for time.Since(start) < flood {
		for i, cl := range subs {
			mu.Lock()
			ssrc := uint32(tracks[i].SSRC())
			mu.Unlock()
			var pkt rtcp.Packet = &rtcp.PictureLossIndication{MediaSSRC: ssrc}
			if sent%2 == 1 {
				pkt = &rtcp.FullIntraRequest{MediaSSRC: ssrc, FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: uint8(sent)}}}
			}
			if err := cl.Sub.PC.WriteRTCP([]rtcp.Packet{pkt}); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := snd.PLIs.Load() - before
	maxWant := int64(flood/throttle) + 2
	if in := metric(t, s, "key_frame_requests_in_total"); int(in) < sent {
		t.Fatalf("SFU read %v of %d key-frame requests", in, sent)
	}
	t.Logf("%d requests from subscribers became %d PLIs at the publisher (SFU: in %v, out %v)", sent, got, metric(t, s, "key_frame_requests_in_total"), metric(t, s, "key_frame_requests_out_total"))
	if got < 1 || got > maxWant {
		t.Fatalf("publisher got %d key-frame requests for %d sent; want 1..%d", got, sent, maxWant)
	}
}

// lossyNet is a vnet router dropping a share of UDP datagrams once enabled.
type lossyNet struct {
	router *vnet.Router
	on     atomic.Bool
	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	onlyTo string // when set, only datagrams to this IP are dropped
	seen   atomic.Int64
	lost   atomic.Int64
}

func newLossyNet(t *testing.T, rate float64) *lossyNet {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	ln := &lossyNet{router: r, rng: rand.New(rand.NewPCG(1, 2)), rate: rate}
	r.AddChunkFilter(func(c vnet.Chunk) bool {
		if !ln.on.Load() || c.Network() != "udp" {
			return true
		}
		if ln.onlyTo != "" {
			if a, ok := c.DestinationAddr().(*net.UDPAddr); !ok || a.IP.String() != ln.onlyTo {
				return true
			}
		}
		ln.seen.Add(1)
		ln.mu.Lock()
		drop := ln.rng.Float64() < ln.rate
		ln.mu.Unlock()
		if drop {
			ln.lost.Add(1)
		}
		return !drop
	})
	return ln
}

func (ln *lossyNet) host(t *testing.T, ip string) *vnet.Net {
	t.Helper()
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.router.AddNet(n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNACKRecoveryAtFivePercentLoss runs publisher, SFU and subscriber on a
// vnet that drops 5% of all UDP datagrams (media, RTCP, both hops) and
// requires ≥ 99% of the packets at the subscriber, recovered by NACKs
// answered from the SFU's packet cache.
func TestNACKRecoveryAtFivePercentLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln := newLossyNet(t, 0.05)
	sfuNet := ln.host(t, "10.0.0.1")
	pubNet := ln.host(t, "10.0.0.2")
	subNet := ln.host(t, "10.0.0.3")
	if err := ln.router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.router.Stop() })

	s := newSFU(t, sfu.Config{Net: sfuNet, UDPAddr: "10.0.0.1:7882"})
	sub := newCollector()
	join(t, ctx, s, newAPI(t, peertest.Config{Net: subNet}), "r", "sub", sub)
	pub := join(t, ctx, s, newAPI(t, peertest.Config{Net: pubNet}), "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 2, 1000, 20*time.Millisecond, stop)
	eventually(t, 10*time.Second, "subscriber receiving", func() bool { return sub.count() > 0 })
	close(stop)
	wg.Wait()

	ln.on.Store(true)
	var lo, hi uint64
	const frames = 200
	for i := range frames {
		first, last, _, err := snd.WriteFrame(0, 2, 1000, 900, false)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			lo = first
		}
		hi = last
		time.Sleep(5 * time.Millisecond)
	}
	total := int(hi - lo + 1)
	// Keep the stream going (uncounted) so that losses at the end are
	// detected too, give NACK rounds time to finish, and stop early once
	// everything is in.
	stop = make(chan struct{})
	wg = pump(t, snd, 0, 1, 200, 20*time.Millisecond, stop)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && sub.has(lo, hi) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	ln.on.Store(false)
	missing := sub.has(lo, hi)
	delivered := float64(total-missing) / float64(total)
	t.Logf("loss %.1f%% of %d datagrams; delivered %d/%d packets (%.2f%%)",
		100*float64(ln.lost.Load())/float64(max(ln.seen.Load(), 1)), ln.seen.Load(), total-missing, total, 100*delivered)
	if ln.lost.Load() == 0 {
		t.Fatal("the network dropped nothing: the test measured no loss")
	}
	if delivered < 0.99 {
		t.Fatalf("delivered %.2f%% of packets, want ≥ 99%%", 100*delivered)
	}
	if n := metric(t, s, "retransmits_total"); n == 0 {
		t.Fatal("no retransmission from the SFU's packet cache")
	} else {
		t.Logf("SFU: %v NACKed, %v retransmitted from cache, %v misses, %v repeats ignored",
			metric(t, s, "nacks_total"), n, metric(t, s, "nack_misses_total"), metric(t, s, "nack_repeats_ignored_total"))
		if missing > 0 {
			sub.mu.Lock()
			for i := lo; i <= hi; i++ {
				if _, ok := sub.got[i]; !ok {
					t.Logf("missing packet %d", i)
				}
			}
			sub.mu.Unlock()
		}
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.errs) > 0 {
		t.Fatalf("%d corrupted payloads: %v", len(sub.errs), sub.errs[0])
	}
}

// TestNACKStormBounded: a subscriber repeating NACKs for the same packets
// gets each packet again at most once per repeat interval, from the shared
// cache; the repeats are counted, not served.
func TestNACKStormBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	api := newAPI(t, peertest.Config{})
	var mu sync.Mutex
	var track *webrtc.TrackRemote
	var seqs []uint16
	sub := join(t, ctx, s, api, "r", "sub", nil)
	sub.Sub.PC.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mu.Lock()
		track = tr
		mu.Unlock()
		peertest.Receive(tr, func(r peertest.Received) {
			mu.Lock()
			seqs = append(seqs, r.Seq)
			mu.Unlock()
		})
	})
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 1, 300, 20*time.Millisecond, stop)
	eventually(t, 10*time.Second, "10 packets", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) >= 10
	})
	close(stop)
	wg.Wait()
	mu.Lock()
	ssrc := uint32(track.SSRC())
	first := seqs[len(seqs)-5] // five packets the SFU still has cached
	mu.Unlock()

	before := metric(t, s, "retransmits_total")
	nack := &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: []rtcp.NackPair{{PacketID: first, LostPackets: 0b1111}}}
	for range 20 { // 20 NACKs for the same 5 packets within a few ms
		if err := sub.Sub.PC.WriteRTCP([]rtcp.Packet{nack}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "NACKs processed", func() bool { return metric(t, s, "nacks_total") >= 100 })
	got := metric(t, s, "retransmits_total") - before
	ignored := metric(t, s, "nack_repeats_ignored_total")
	t.Logf("100 NACKed sequence numbers → %v retransmissions, %v repeats ignored", got, ignored)
	if got < 5 || got > 15 {
		t.Fatalf("%v retransmissions for 20 NACKs of 5 packets; want 5..15", got)
	}
	if ignored < 85 {
		t.Fatalf("only %v repeated NACKs ignored", ignored)
	}
}
