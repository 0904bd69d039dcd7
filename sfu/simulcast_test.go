package sfu_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// TestSimulcastSwitchNoSequenceGap publishes three simulcast layers and
// switches a subscriber low → high → mid. Each switch must start at a key
// frame of the new layer, and the subscriber must see one stream with
// consecutive sequence numbers and non-decreasing timestamps.
func TestSimulcastSwitchNoSequenceGap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{DisableBandwidthEstimation: true, PLIThrottle: 100 * time.Millisecond})
	api := newAPI(t, peertest.Config{})

	var mu sync.Mutex
	var got []peertest.Received
	sub, err := peertest.JoinSFU(ctx, s, api, "r", "sub", func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		peertest.Receive(tr, func(r peertest.Received) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	sub.Part.RequestLayer(sfu.LayerLow)

	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam", "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wgs []*sync.WaitGroup
	for layer := range 3 {
		wgs = append(wgs, pump(t, snd, layer, 2, 400*(layer+1), 20*time.Millisecond, stop))
	}
	defer func() {
		close(stop)
		for _, wg := range wgs {
			wg.Wait()
		}
	}()

	layerOf := func(r peertest.Received) int { return int(r.Index >> 56) }
	waitLayer := func(layer int) int {
		t.Helper()
		var at int
		eventually(t, 10*time.Second, "packets of the requested layer", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i := len(got) - 1; i >= 0; i-- {
				if layerOf(got[i]) == layer {
					// Find the first packet of this run of the layer.
					for at = i; at > 0 && layerOf(got[at-1]) == layer; at-- {
					}
					return len(got)-at > 10
				}
			}
			return false
		})
		return at
	}

	waitLayer(0)
	sub.Part.RequestLayer(sfu.LayerHigh)
	switchUp := waitLayer(2)
	if err := sub.Part.RequestTrackLayer("pub", "cam", sfu.LayerMid); err != nil {
		t.Fatal(err)
	}
	switchDown := waitLayer(1)
	if err := sub.Part.RequestTrackLayer("pub", "nope", sfu.LayerMid); err == nil {
		t.Fatal("RequestTrackLayer accepted an unknown track")
	}

	mu.Lock()
	defer mu.Unlock()
	for _, at := range []int{switchUp, switchDown} {
		if !got[at].Key {
			t.Errorf("switch to layer %d did not start at a key frame (packet %d)", layerOf(got[at]), at)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("sequence gap at packet %d: %d after %d (layers %d → %d)",
				i, got[i].Seq, got[i-1].Seq, layerOf(got[i-1]), layerOf(got[i]))
		}
		if d := int32(got[i].Timestamp - got[i-1].Timestamp); d < 0 {
			t.Fatalf("timestamp went back at packet %d: %d after %d", i, got[i].Timestamp, got[i-1].Timestamp)
		}
		if got[i].Err != nil {
			t.Fatalf("packet %d corrupted: %v", i, got[i].Err)
		}
	}
	t.Logf("%d packets, switched up at %d and down at %d, no gap", len(got), switchUp, switchDown)
}

// TestBandwidthEstimateDrivesLayer: with transport-wide CC feedback, a
// subscriber receives the top layer on a clean path and drops to the lowest
// layer when 30% of the packets towards it are lost (vnet), without any
// explicit request.
func TestBandwidthEstimateDrivesLayer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ln := newLossyNet(t, 0.30)
	sfuNet := ln.host(t, "10.0.0.1")
	pubNet := ln.host(t, "10.0.0.2")
	subNet := ln.host(t, "10.0.0.3")
	ln.onlyTo = "10.0.0.3"
	if err := ln.router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.router.Stop() })
	s := newSFU(t, sfu.Config{Net: sfuNet, UDPAddr: "10.0.0.1:7882", PLIThrottle: 100 * time.Millisecond})

	var mu sync.Mutex
	last := -1
	sub, err := peertest.JoinSFU(ctx, s, newAPI(t, peertest.Config{Net: subNet}), "r", "sub",
		func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			peertest.Receive(tr, func(r peertest.Received) {
				mu.Lock()
				last = int(r.Index >> 56)
				mu.Unlock()
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	pub := join(t, ctx, s, newAPI(t, peertest.Config{Net: pubNet}), "r", "pub", nil)
	snd, err := pub.AddVideo("cam", "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wgs []*sync.WaitGroup
	for layer := range 3 { // 1, 2, 4 packets of 300 B per 20 ms ≈ 0.13, 0.26, 0.52 Mbps with headers
		wgs = append(wgs, pump(t, snd, layer, 1<<layer, 300, 20*time.Millisecond, stop))
	}
	defer func() {
		close(stop)
		for _, wg := range wgs {
			wg.Wait()
		}
	}()
	layerIs := func(l int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return last == l
		}
	}
	eventually(t, 10*time.Second, "top layer on a clean path", layerIs(2))
	// Past the first bitrate measurement (1 s), the top layer must still
	// fit. A busy machine may step down meanwhile, and rightly: the peers
	// stamp arrival times when their reading goroutine gets the packet, so
	// when the process is short of CPU those times drift, the delay-based
	// estimator sees over-use (logged: +17 ms, then +37 ms, in one feedback
	// interval each, no loss) and cuts its estimate to 85% of the received
	// rate, which is below the top layer. Growing 8%/s, it is back above in
	// ln(1/0.85)/ln(1.08) ≈ 2.1 s, then a key frame switches up: the top
	// layer must be back within 3 s. A layer choice that excludes the top
	// layer on a clean path never comes back.
	time.Sleep(1500 * time.Millisecond)
	if !layerIs(2)() {
		t.Logf("left the top layer on a clean path (estimate %d bit/s); waiting for the estimate to recover",
			sub.Part.BandwidthEstimate())
		eventually(t, 3*time.Second, "the top layer back on a clean path", layerIs(2))
	}
	before := sub.Part.BandwidthEstimate()
	ln.on.Store(true)
	eventually(t, 15*time.Second, "lowest layer under 30% loss", layerIs(0))
	ln.on.Store(false)
	after := sub.Part.BandwidthEstimate()
	t.Logf("estimate %d bit/s on a clean path, %d bit/s after loss", before, after)
	if after >= before {
		t.Fatalf("estimate did not drop under loss: %d → %d", before, after)
	}
}

// TestPausedTopLayerFallsBack: when the publisher stops sending its top
// layer (as browsers do under congestion), a subscriber left on automatic
// layer choice moves to the next live layer.
func TestPausedTopLayerFallsBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{PLIThrottle: 100 * time.Millisecond})
	api := newAPI(t, peertest.Config{})
	var mu sync.Mutex
	last := -1
	sub, err := peertest.JoinSFU(ctx, s, api, "r", "sub", func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		peertest.Receive(tr, func(r peertest.Received) {
			mu.Lock()
			last = int(r.Index >> 56)
			mu.Unlock()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam", "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stops := []chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var wgs []*sync.WaitGroup
	for layer := range 3 {
		wgs = append(wgs, pump(t, snd, layer, 1, 300, 20*time.Millisecond, stops[layer]))
	}
	stopped := [3]bool{}
	defer func() {
		for i, c := range stops {
			if !stopped[i] {
				close(c)
			}
		}
		for _, wg := range wgs {
			wg.Wait()
		}
	}()
	layerIs := func(l int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return last == l
		}
	}
	eventually(t, 10*time.Second, "top layer", layerIs(2))
	close(stops[2])
	stopped[2] = true
	eventually(t, 5*time.Second, "fallback to the middle layer", layerIs(1))
}
