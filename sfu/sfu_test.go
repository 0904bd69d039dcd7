package sfu_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// collector records what one subscriber receives.
type collector struct {
	mu     sync.Mutex
	got    map[uint64]peertest.Received
	order  []peertest.Received
	errs   []error
	first  time.Time
	tracks map[string]bool
}

func newCollector() *collector {
	return &collector{got: map[uint64]peertest.Received{}, tracks: map[string]bool{}}
}

func (c *collector) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	c.mu.Lock()
	c.tracks[t.StreamID()+"/"+t.ID()] = true
	c.mu.Unlock()
	peertest.Receive(t, func(r peertest.Received) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.Err != nil {
			c.errs = append(c.errs, r.Err)
			return
		}
		if len(c.order) == 0 {
			c.first = time.Now()
		}
		c.got[r.Index] = r
		c.order = append(c.order, r)
	})
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *collector) has(lo, hi uint64) (missing int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := lo; i <= hi; i++ {
		if _, ok := c.got[i]; !ok {
			missing++
		}
	}
	return missing
}

func newSFU(t testing.TB, cfg sfu.Config) *sfu.SFU {
	t.Helper()
	s, err := sfu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newAPI(t testing.TB, cfg peertest.Config) *webrtc.API {
	t.Helper()
	api, err := peertest.NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func join(t testing.TB, ctx context.Context, s *sfu.SFU, api *webrtc.API, room, id string, c *collector, opts ...sfu.JoinOption) *peertest.Client {
	t.Helper()
	var onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	if c != nil {
		onTrack = c.onTrack
	}
	cl, err := peertest.JoinSFU(ctx, s, api, room, id, onTrack, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pump writes video frames every interval until stop is closed.
func pump(t testing.TB, s *peertest.Sender, layer, npkts, size int, interval time.Duration, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, _, _, err := s.WriteFrame(layer, npkts, size, 3000, false); err != nil {
				t.Errorf("write frame: %v", err)
				return
			}
		}
	}()
	return &wg
}

func TestOnePublisherFiveSubscribersByteIdentical(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	api := newAPI(t, peertest.Config{})

	subs := make([]*collector, 5)
	clients := make([]*peertest.Client, 5)
	for i := range subs {
		subs[i] = newCollector()
		clients[i] = join(t, ctx, s, api, "r", fmt.Sprintf("sub%d", i), subs[i])
	}
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}

	// Warm up until every subscriber receives (each starts at a key frame).
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 3, 1100, 10*time.Millisecond, stop)
	eventually(t, 10*time.Second, "all subscribers receiving", func() bool {
		for _, c := range subs {
			if c.count() == 0 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()

	// Measured phase: 150 packets, all must arrive at all five, intact.
	var lo, hi uint64
	for i := range 50 {
		first, last, _, err := snd.WriteFrame(0, 3, 1100, 3000, false)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			lo = first
		}
		hi = last
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "all packets at all subscribers", func() bool {
		for _, c := range subs {
			if c.has(lo, hi) != 0 {
				return false
			}
		}
		return true
	})
	if got, want := metric(t, s, "packets_out_total"), float64(5*(hi-lo+1)); got < want {
		t.Errorf("packets_out_total = %v, want ≥ %v", got, want)
	}
	// Transport-wide CC feedback reached the estimator: without loss it grows
	// from the 1 Mbps initial value.
	if est := clients[0].Part.BandwidthEstimate(); est <= 1_000_000 {
		t.Errorf("bandwidth estimate %d did not move from its initial 1 Mbps", est)
	}
	// Steady-state forwarding allocates nothing: one more packet through
	// the real down track, SRTP and socket.
	synthetic := make([]byte, 1100)
	peertest.FillPayload(synthetic, true, false, false, 1<<40, time.Now().UnixNano())
	fwd, err := sfu.TestingOnlyForwarder(clients[0].Part, "pub", "cam", synthetic)
	if err != nil {
		t.Fatal(err)
	}
	if !fwd() {
		t.Fatal("forwarder wrote nothing")
	}
	if allocs := testing.AllocsPerRun(200, func() { fwd() }); allocs != 0 {
		t.Errorf("forwarding one packet to one subscriber allocates %v times, want 0", allocs)
	}
	if d, b := metric(t, s, "batched_datagrams_total"), metric(t, s, "write_batches_total"); d < float64(5*(hi-lo+1)) || b == 0 || d/b < 2 {
		t.Errorf("write batching: %v datagrams in %v batches", d, b)
	}
	if got := metric(t, s, "participants"); got != 6 {
		t.Errorf("participants gauge = %v, want 6", got)
	}
	if got := metric(t, s, "rooms"); got != 1 {
		t.Errorf("rooms gauge = %v, want 1", got)
	}
	forwarded := metric(t, s, "forward_latency_seconds")
	if forwarded == 0 {
		t.Error("forward latency histogram is empty")
	}
	// Every forwarded packet's socket receive time is found (a few may be
	// overwritten in the table; none should be under this light load).
	if got := metric(t, s, "residence_seconds"); got < 0.95*forwarded {
		t.Errorf("residence histogram has %v samples for %v forwarded packets", got, forwarded)
	}
	for i, c := range subs {
		c.mu.Lock()
		if len(c.errs) > 0 {
			t.Errorf("sub%d: %d corrupted payloads, first: %v", i, len(c.errs), c.errs[0])
		}
		if !c.order[0].Key {
			t.Errorf("sub%d: first packet is not a key frame start: %+v", i, c.order[:3])
		}
		// Sequence numbers are consecutive in arrival order for the measured
		// phase (loopback does not reorder at this rate).
		prev := c.got[lo].Seq
		for idx := lo + 1; idx <= hi; idx++ {
			if c.got[idx].Seq != prev+1 {
				t.Errorf("sub%d: packet %d has seq %d after %d", i, idx, c.got[idx].Seq, prev)
				break
			}
			prev = c.got[idx].Seq
		}
		c.mu.Unlock()
	}
}

func TestLateSubscriberGetsKeyFrameWithinOneSecond(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	api := newAPI(t, peertest.Config{})

	early := newCollector()
	join(t, ctx, s, api, "r", "early", early)
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 2, 1000, 33*time.Millisecond, stop)
	defer func() { close(stop); wg.Wait() }()
	eventually(t, 10*time.Second, "early subscriber receiving", func() bool { return early.count() > 0 })
	// Let the early stream run past the PLI throttle window so the next key
	// frame exists only if the late subscriber's request reaches the
	// publisher.
	time.Sleep(700 * time.Millisecond)

	late := newCollector()
	start := time.Now()
	cl := join(t, ctx, s, api, "r", "late", late)
	eventually(t, 5*time.Second, "late subscriber receiving", func() bool { return late.count() > 0 })
	late.mu.Lock()
	first, firstAt := late.order[0], late.first
	late.mu.Unlock()
	if !first.Key {
		t.Fatal("late subscriber's first packet is not a key frame start")
	}
	// The SFU can deliver nothing before the subscriber's connection is up
	// (ICE + DTLS, slow under -race on a busy machine), so the 1 s budget
	// runs from then; the time from Join is logged too.
	connected := cl.SubConnectedAt()
	if connected.IsZero() {
		t.Fatal("subscribe connection never reported connected")
	}
	t.Logf("late subscriber: key frame %v after joining, %v after its connection came up",
		firstAt.Sub(start), firstAt.Sub(connected))
	if d := firstAt.Sub(connected); d > time.Second {
		t.Fatalf("late subscriber waited %v for a key frame after connecting, want ≤ 1s", d)
	}
}

// TestNoMediaKeyImports proves the SFU cannot hold a media key: it imports
// neither the keys nor the e2ee package, directly or indirectly.
func TestNoMediaKeyImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for _, pkg := range []string{"github.com/tresor-dev/tresor/sfu", "github.com/tresor-dev/tresor/sfu/...",
		"github.com/tresor-dev/tresor/cmd/sfuload"} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s returned only %d packages", pkg, len(deps))
		}
		for _, d := range deps {
			for _, banned := range []string{"github.com/tresor-dev/tresor/keys", "github.com/tresor-dev/tresor/e2ee"} {
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
