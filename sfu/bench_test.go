package sfu_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
	"github.com/tresor-dev/tresor/sfu/loadtest"
)

// peerProcessEnv makes the test binary run the load peers (publishers and
// subscribers) instead of tests, so that benchmarks measure the server's CPU
// and allocations alone.
const peerProcessEnv = "TRESOR_SFU_LOAD_PEERS"

func TestMain(m *testing.M) {
	if os.Getenv(peerProcessEnv) == "1" {
		if err := loadtest.PeersMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func peerCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), peerProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	return cmd
}

// benchForward runs one publisher at 1 Mbps (30 fps, 1100-byte opaque
// payloads, i.e. SFrame-sized) to subs subscribers. b.N is the number of
// packets delivered (one packet to one subscriber); the publisher sends
// b.N/subs packets in real time. Reported: cpu-us/pkt (server process CPU
// per delivered packet), added-p50-ms and added-p99-ms (the latency the
// server adds: kernel receipt of the publisher's datagram on the server's
// socket to the send of the last subscriber's copy), copy-p50-ms and
// copy-p99-ms (every copy: its kernel receipt on the subscriber's socket
// minus the publisher's send timestamp), p99-ms and p50-ms
// (end to end, publisher to subscriber application, including both peers'
// SRTP and scheduling of the peer process), allocs/pkt, delivered/s,
// mem-KiB/sub.
//
// With paced, the publisher spreads each frame's three packets 3.5 ms apart
// (a pacer at 2.5 × 1 Mbps, as browsers send) instead of back to back.
func benchForward(b *testing.B, mode loadtest.Mode, subs int, paced bool) {
	packets := max(b.N/subs, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := loadtest.Config{Mode: mode, Publishers: 1, Subscribers: subs, Packets: packets, Paced: paced, Command: peerCommand}
	if path := os.Getenv("TRESOR_SFU_STEADY_MEMPROFILE"); path != "" {
		// Profile allocations of the measured (steady-state) phase only.
		cfg.OnMeasure = func(start bool) {
			if start {
				runtime.MemProfileRate = 1
				return
			}
			runtime.MemProfileRate = 0
			f, err := os.Create(path)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
	if path := os.Getenv("TRESOR_SFU_STEADY_CPUPROFILE"); path != "" {
		cfg.OnMeasure = func(start bool) {
			if start {
				f, err := os.Create(path)
				if err == nil {
					_ = pprof.StartCPUProfile(f)
				}
				return
			}
			pprof.StopCPUProfile()
		}
	}
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if res.Delivered < res.Expected*99/100 {
		b.Fatalf("delivered %d of %d packets", res.Delivered, res.Expected)
	}
	if res.Corrupt > 0 {
		b.Fatalf("%d corrupted packets", res.Corrupt)
	}
	b.ReportMetric(res.CPUMicrosPerPacket, "cpu-us/pkt")
	b.ReportMetric(res.P99Ms, "p99-ms")
	b.ReportMetric(res.P50Ms, "p50-ms")
	b.ReportMetric(res.AllocsPerPacket, "allocs/pkt")
	b.ReportMetric(res.DeliveredPerSec, "delivered/s")
	b.ReportMetric(res.MemPerSubscriber/1024, "mem-KiB/sub")
	b.ReportMetric(res.AddedP50Ms, "added-p50-ms")
	b.ReportMetric(res.AddedP99Ms, "added-p99-ms")
	b.ReportMetric(res.CopyP50Ms, "copy-p50-ms")
	b.ReportMetric(res.CopyP99Ms, "copy-p99-ms")
	if mode == loadtest.ModeSFU {
		b.ReportMetric(res.FanoutP99Ms, "fanout-p99-ms")
	}
	b.ReportMetric(0, "ns/op") // wall time per op is set by the media rate, not by the server
	b.Logf("%v", res)
}

// BenchmarkForward measures Tresor's SFU. Run with a fixed count, e.g.
// -bench Forward -benchtime=20000x (each run sets up real peers).
func BenchmarkForward(b *testing.B) {
	for _, subs := range []int{10, 50} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchForward(b, loadtest.ModeSFU, subs, false) })
	}
}

// BenchmarkForwardBarePion is the baseline: pion's broadcast example
// (TrackRemote.Read → one TrackLocalStaticRTP.Write, default interceptors)
// on the same single UDP port, with the same peers and media.
func BenchmarkForwardBarePion(b *testing.B) {
	for _, subs := range []int{10, 50} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchForward(b, loadtest.ModeBarePion, subs, false) })
	}
}

// BenchmarkForwardPaced is BenchmarkForward with a paced publisher: a
// frame's packets arrive 3.5 ms apart instead of back to back, so none
// waits for another's fan-out.
func BenchmarkForwardPaced(b *testing.B) {
	b.Run("subs=50", func(b *testing.B) { benchForward(b, loadtest.ModeSFU, 50, true) })
}

// BenchmarkForwardBarePionPaced is BenchmarkForwardBarePion with the
// paced publisher of BenchmarkForwardPaced.
func BenchmarkForwardBarePionPaced(b *testing.B) {
	b.Run("subs=50", func(b *testing.B) { benchForward(b, loadtest.ModeBarePion, 50, true) })
}

// TestLoadHarness runs the harness briefly in both modes, so that the
// benchmarks' machinery (child peer process, signaling, measurement) is
// exercised by every test run.
func TestLoadHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a peer process; skipped in -short mode")
	}
	for _, run := range []struct {
		mode  loadtest.Mode
		paced bool
	}{{loadtest.ModeSFU, false}, {loadtest.ModeBarePion, false}, {loadtest.ModeSFU, true}} {
		mode := run.mode
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := loadtest.Run(ctx, loadtest.Config{Mode: mode, Publishers: 1, Subscribers: 2, Packets: 30,
			Paced: run.paced, Command: peerCommand})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if res.Delivered != res.Expected || res.Expected != 60 || res.Corrupt != 0 {
			t.Fatalf("%s: %v", mode, res)
		}
		if res.CPUMicrosPerPacket <= 0 || res.P99Ms <= 0 || res.AddedP99Ms <= 0 || res.AddedWithin2Ms <= 0 ||
			res.CopyP99Ms <= 0 || res.CopyN < res.Delivered*9/10 || len(res.CopyP99ByPosMs) != 3 {
			t.Fatalf("%s: no measurement: %v", mode, res)
		}
		t.Logf("%v", res)
	}
}

// BenchmarkDownTrackWrite measures one forwarded packet to one subscriber
// in isolation: header rewrite, extensions, SRTP and the socket write.
func BenchmarkDownTrackWrite(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newSFU(b, sfu.Config{})
	api := newAPI(b, peertest.Config{})
	sub := newCollector()
	cl := join(b, ctx, s, api, "r", "sub", sub)
	pub := join(b, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		b.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(b, snd, 0, 1, 1100, 10*time.Millisecond, stop)
	eventually(b, 10*time.Second, "subscriber receiving", func() bool { return sub.count() > 0 })
	close(stop)
	wg.Wait()
	payload := make([]byte, 1100)
	peertest.FillPayload(payload, true, false, false, 1<<40, 0)
	fwd, err := sfu.TestingOnlyForwarder(cl.Part, "pub", "cam", payload)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !fwd() {
			b.Fatal("not forwarded")
		}
	}
}
