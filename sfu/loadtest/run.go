package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
	"github.com/tresor-dev/tresor/sfu/internal/udpbatch"
)

// Mode selects the server under test.
type Mode string

// Modes.
const (
	// ModeSFU is Tresor's SFU.
	ModeSFU Mode = "sfu"
	// ModeBarePion is pion's broadcast example pattern: Read from the
	// TrackRemote, Write to one TrackLocalStaticRTP shared by all
	// subscribers, default interceptors.
	ModeBarePion Mode = "bare"
)

// Config describes one load run.
type Config struct {
	Mode        Mode
	Publishers  int
	Subscribers int
	// BitrateBps per publisher (default 1 Mbps); Payload bytes per packet
	// (default 1100, an SFrame-encrypted video packet); FPS (default 30).
	BitrateBps int
	Payload    int
	FPS        int
	// Paced spreads each frame's packets out the way a sender's pacer does,
	// at 2.5 times BitrateBps (libwebrtc's default pacing factor), instead
	// of sending them back to back. A burst makes the later packets of a
	// frame queue behind the earlier ones' fan-out, so unpaced is the
	// harder case and the default.
	Paced bool
	// Packets per publisher in the measured phase (default 10 s of media).
	Packets int
	// Command starts the child process running PeersMain on its stdin and
	// stdout.
	Command func() *exec.Cmd
	// SFU configures the SFU in ModeSFU.
	SFU sfu.Config
	// OnMeasure, when set, is called with true as the measured phase starts
	// and false when it ends (to profile only steady-state forwarding).
	OnMeasure func(start bool)
}

// Result is what a run measured. CPU and allocations are the server
// process's only: the peers run in the child.
type Result struct {
	Mode                 Mode
	Publishers           int
	Subscribers          int
	PPS                  int // packets per second per publisher
	Expected, Delivered  int64
	Seconds              float64
	DeliveredPerSec      float64
	CPUMicrosPerPacket   float64 // server CPU (user+sys) per delivered packet
	DeliveredPerCPUSec   float64 // = 1e6 / CPUMicrosPerPacket
	AllocsPerPacket      float64
	BytesAllocPerPacket  float64
	P50Ms, P99Ms, MeanMs float64 // publisher → subscriber, through the server
	MemPerSubscriber     float64 // bytes of live heap per subscriber
	Corrupt              int64
	// AddedP50Ms, AddedP99Ms and AddedWithin2Ms are the latency the server
	// adds (its residence time): from the kernel's receipt of a publisher's
	// datagram on the server's UDP socket (SO_TIMESTAMPNS) to the return of
	// the system call that sends the last subscriber's copy (the SFU's
	// sendmmsg; the bare loop's last write, i.e. TrackLocalStaticRTP.Write
	// returning). On loopback a datagram is in the receiver's socket buffer
	// when that call returns. Quantiles are interpolated within histogram
	// buckets; AddedWithin2Ms is the exact fraction at or below 2 ms (a
	// bucket bound).
	AddedP50Ms, AddedP99Ms, AddedWithin2Ms float64
	// CopyP50Ms and CopyP99Ms are the latency added to each delivered copy,
	// measured in the peer process: the kernel's receipt of the copy on the
	// subscriber's socket (SO_TIMESTAMPNS) minus the publisher's timestamp,
	// taken just before its pion WriteRTP. This counts every copy (not only
	// the last of a fan-out) and ends where the network path ends; it also
	// includes the publisher's own send path (pion interceptors, SRTP, the
	// sendto), which a direct path would have too, so it is an upper bound
	// on what the server adds. CopyN is the number of samples.
	CopyP50Ms, CopyP99Ms float64
	CopyN                int64
	// CopyP50ByPosMs and CopyP99ByPosMs break the per-copy latency down by
	// the packet's position in its frame (index 0 is the first packet).
	// Sent back to back, a frame's later packets wait for the earlier
	// ones' fan-out.
	CopyP50ByPosMs, CopyP99ByPosMs []float64
	// FanoutP50Ms and FanoutP99Ms (ModeSFU only) are the forwarding loop's
	// share of that: from TrackRemote.Read returning the decrypted packet to
	// the last subscriber's send (forward_latency_seconds).
	FanoutP50Ms, FanoutP99Ms float64
}

func (r Result) String() string {
	s := fmt.Sprintf("%-4s pubs=%d subs=%d pps/pub=%d delivered=%d/%d (%.0f/s) cpu=%.2fµs/pkt (%.0f pkt/cpu-s) "+
		"allocs=%.3f/pkt (%.0f B/pkt) e2e latency p50=%.2fms p99=%.2fms mem/sub=%.1fKiB",
		r.Mode, r.Publishers, r.Subscribers, r.PPS, r.Delivered, r.Expected, r.DeliveredPerSec, r.CPUMicrosPerPacket,
		r.DeliveredPerCPUSec, r.AllocsPerPacket, r.BytesAllocPerPacket, r.P50Ms, r.P99Ms, r.MemPerSubscriber/1024)
	s += fmt.Sprintf(" added p50=%.3fms p99=%.3fms (≤2ms: %.2f%%) per-copy p50=%.3fms p99=%.3fms (n=%d)",
		r.AddedP50Ms, r.AddedP99Ms, 100*r.AddedWithin2Ms, r.CopyP50Ms, r.CopyP99Ms, r.CopyN)
	if len(r.CopyP99ByPosMs) > 1 {
		s += " per-copy by position in frame p50/p99=" + msList(r.CopyP50ByPosMs) + "/" + msList(r.CopyP99ByPosMs)
	}
	if r.Mode == ModeSFU {
		s += fmt.Sprintf(" fan-out p50=%.3fms p99=%.3fms", r.FanoutP50Ms, r.FanoutP99Ms)
	}
	return s
}

// msList formats milliseconds as "[a b c]ms".
func msList(v []float64) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.2f", x)
	}
	return s + "]ms"
}

// pacingFactor is libwebrtc's default: its pacer sends at 2.5 times the
// target bitrate.
const pacingFactor = 2.5

// gap is the time between a frame's packets when Paced.
func (cfg Config) gap() time.Duration {
	if !cfg.Paced {
		return 0
	}
	return time.Duration(float64(cfg.Payload*8) / (pacingFactor * float64(cfg.BitrateBps)) * float64(time.Second))
}

type server interface {
	join(id string, pub bool) error
	publishOffer(id string, offer webrtc.SessionDescription) (webrtc.SessionDescription, error)
	subscribeAnswer(id string, answer webrtc.SessionDescription) error
	candidate(id string, dir int, c webrtc.ICECandidateInit) error
	tracks() int
	fanout() *dto.Histogram // nil if not measured
	added() *dto.Histogram  // nil if not measured
	close() error
}

// histQuantile estimates quantile q of the observations made between two
// snapshots of a cumulative Prometheus histogram, interpolating linearly
// within the bucket.
func histQuantile(h0, h1 *dto.Histogram, q float64) float64 {
	total := float64(h1.GetSampleCount() - h0.GetSampleCount())
	if total == 0 {
		return 0
	}
	b0, b1 := h0.GetBucket(), h1.GetBucket()
	prevBound, prevCount := 0.0, 0.0
	for i := range b1 {
		c := float64(b1[i].GetCumulativeCount() - b0[i].GetCumulativeCount())
		if c >= q*total {
			bound := b1[i].GetUpperBound()
			if c == prevCount {
				return bound
			}
			return prevBound + (bound-prevBound)*(q*total-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = b1[i].GetUpperBound(), c
	}
	return prevBound
}

// histFractionBelow is the fraction of observations between two snapshots
// that were at most bound, which must be a bucket bound.
func histFractionBelow(h0, h1 *dto.Histogram, bound float64) float64 {
	total := float64(h1.GetSampleCount() - h0.GetSampleCount())
	if total == 0 {
		return 0
	}
	b0, b1 := h0.GetBucket(), h1.GetBucket()
	for i := range b1 {
		if b1[i].GetUpperBound() == bound {
			return float64(b1[i].GetCumulativeCount()-b0[i].GetCumulativeCount()) / total
		}
	}
	return 0
}

// Run performs one load run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Publishers <= 0 {
		cfg.Publishers = 1
	}
	if cfg.BitrateBps <= 0 {
		cfg.BitrateBps = 1_000_000
	}
	if cfg.Payload <= 0 {
		cfg.Payload = 1100
	}
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	perFrame := max(1, cfg.BitrateBps/8/cfg.FPS/cfg.Payload)
	pps := perFrame * cfg.FPS
	if cfg.Packets <= 0 {
		cfg.Packets = 10 * pps
	}
	res := Result{Mode: cfg.Mode, Publishers: cfg.Publishers, Subscribers: cfg.Subscribers, PPS: pps}

	cmd := cfg.Command()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, fmt.Errorf("loadtest: stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, fmt.Errorf("loadtest: stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("loadtest: start peers: %w", err)
	}
	var c *conn
	defer func() {
		if c != nil {
			c.close()
			time.Sleep(10 * time.Millisecond) // let "quit" out
		}
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	c = newConn(stdout, stdin)

	var srv server
	switch cfg.Mode {
	case ModeSFU:
		srv, err = newSFUServer(ctx, c, cfg.SFU)
	case ModeBarePion:
		srv, err = newBareServer(c)
	default:
		err = fmt.Errorf("loadtest: unknown mode %q", cfg.Mode)
	}
	if err != nil {
		return res, err
	}
	defer srv.close()

	if err := c.send(msg{Op: "setup", Setup: &Setup{Publishers: cfg.Publishers, Subscribers: cfg.Subscribers,
		Payload: cfg.Payload, PPS: pps, PerFrame: perFrame, Gap: cfg.gap()}}); err != nil {
		return res, err
	}
	ready := make(chan struct{}, 1)
	stats := make(chan *PeerStats, 1)
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr <- dispatch(c, srv, ready, stats)
	}()

	wait := func(what string, cond func() bool, d time.Duration) error {
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				return fmt.Errorf("loadtest: timed out waiting for %s", what)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-readErr:
				return fmt.Errorf("loadtest: peers ended while waiting for %s: %w", what, err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	}
	if err := wait("publishers", func() bool { return srv.tracks() >= cfg.Publishers }, 30*time.Second); err != nil {
		return res, err
	}
	heapBase := liveHeap()
	if err := c.send(msg{Op: "subs"}); err != nil {
		return res, err
	}
	got := false
	if err := wait("subscribers", func() bool {
		select {
		case <-ready:
			got = true
		default:
		}
		return got
	}, 60*time.Second); err != nil {
		return res, err
	}
	time.Sleep(500 * time.Millisecond) // warm up: key frames, estimators, caches
	if cfg.Subscribers > 0 {
		res.MemPerSubscriber = float64(liveHeap()-heapBase) / float64(cfg.Subscribers)
	}

	hist0, added0 := srv.fanout(), srv.added()
	var ms0, ms1 runtime.MemStats
	if cfg.OnMeasure != nil {
		cfg.OnMeasure(true)
	}
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	if err := c.send(msg{Op: "measure", N: cfg.Packets}); err != nil {
		return res, err
	}
	var st *PeerStats
	select {
	case st = <-stats:
	case err := <-readErr:
		return res, fmt.Errorf("loadtest: peers ended: %w", err)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	cpu1 := cpuTime()
	runtime.ReadMemStats(&ms1)
	if cfg.OnMeasure != nil {
		cfg.OnMeasure(false)
	}
	_ = c.send(msg{Op: "quit"})

	if h0, h1 := hist0, srv.fanout(); h0 != nil && h1 != nil {
		res.FanoutP50Ms = 1000 * histQuantile(h0, h1, 0.50)
		res.FanoutP99Ms = 1000 * histQuantile(h0, h1, 0.99)
	}
	if h0, h1 := added0, srv.added(); h0 != nil && h1 != nil {
		res.AddedP50Ms = 1000 * histQuantile(h0, h1, 0.50)
		res.AddedP99Ms = 1000 * histQuantile(h0, h1, 0.99)
		res.AddedWithin2Ms = histFractionBelow(h0, h1, 2e-3)
	}
	res.Expected, res.Delivered, res.Seconds = st.Expected, st.Delivered, st.Seconds
	res.P50Ms, res.P99Ms, res.MeanMs, res.Corrupt = st.P50Ms, st.P99Ms, st.MeanMs, st.Corrupt
	res.CopyP50Ms, res.CopyP99Ms, res.CopyN = st.CopyP50Ms, st.CopyP99Ms, st.CopyN
	res.CopyP50ByPosMs, res.CopyP99ByPosMs = st.CopyP50ByPosMs, st.CopyP99ByPosMs
	if st.Delivered > 0 {
		d := float64(st.Delivered)
		res.DeliveredPerSec = d / st.Seconds
		res.CPUMicrosPerPacket = float64((cpu1 - cpu0).Microseconds()) / d
		if res.CPUMicrosPerPacket > 0 {
			res.DeliveredPerCPUSec = 1e6 / res.CPUMicrosPerPacket
		}
		res.AllocsPerPacket = float64(ms1.Mallocs-ms0.Mallocs) / d
		res.BytesAllocPerPacket = float64(ms1.TotalAlloc-ms0.TotalAlloc) / d
	}
	return res, nil
}

func dispatch(c *conn, srv server, ready chan<- struct{}, stats chan<- *PeerStats) error {
	for {
		m, err := c.recv()
		if err != nil {
			return err
		}
		switch m.Op {
		case "join":
			err = srv.join(m.ID, m.Pub)
		case "offer":
			if m.SDP == nil {
				return errors.New("loadtest: offer without SDP")
			}
			var ans webrtc.SessionDescription
			if ans, err = srv.publishOffer(m.ID, *m.SDP); err == nil {
				err = c.send(msg{Op: "answer", ID: m.ID, SDP: &ans})
			}
		case "answer":
			if m.SDP == nil {
				return errors.New("loadtest: answer without SDP")
			}
			err = srv.subscribeAnswer(m.ID, *m.SDP)
		case "cand":
			if m.Cand != nil {
				err = srv.candidate(m.ID, m.Dir, *m.Cand)
			}
		case "ready":
			ready <- struct{}{}
		case "stats":
			stats <- m.Stats
		}
		if err != nil {
			return err
		}
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// sfuServer drives Tresor's SFU.
type sfuServer struct {
	ctx  context.Context
	c    *conn
	s    *sfu.SFU
	mu   sync.Mutex
	part map[string]*sfu.Participant
	pubs map[string]bool
	n    int
}

func newSFUServer(ctx context.Context, c *conn, cfg sfu.Config) (*sfuServer, error) {
	srv := &sfuServer{ctx: ctx, c: c, part: map[string]*sfu.Participant{}, pubs: map[string]bool{}}
	user := cfg.OnEvent
	cfg.OnEvent = func(e sfu.Event) {
		if e.Type == sfu.EventTrackPublished {
			srv.mu.Lock()
			srv.n++
			srv.mu.Unlock()
		}
		if user != nil {
			user(e)
		}
	}
	s, err := sfu.New(cfg)
	if err != nil {
		return nil, err
	}
	srv.s = s
	return srv, nil
}

type sfuSignaler struct {
	srv *sfuServer
	id  string
	pub bool
}

func (g sfuSignaler) SendOffer(_ context.Context, offer webrtc.SessionDescription) error {
	if g.pub {
		return nil // publishers in a load run receive nothing
	}
	return g.srv.c.send(msg{Op: "offer", ID: g.id, SDP: &offer})
}

func (g sfuSignaler) SendCandidate(_ context.Context, dir sfu.Direction, c webrtc.ICECandidateInit) error {
	if (dir == sfu.DirectionPublish) != g.pub {
		return nil // the child has only the one connection this peer uses
	}
	return g.srv.c.send(msg{Op: "cand", ID: g.id, Cand: &c})
}

func (srv *sfuServer) join(id string, pub bool) error {
	var opts []sfu.JoinOption
	if pub {
		opts = append(opts, sfu.WithAutoSubscribe(false))
	}
	p, err := srv.s.Join(srv.ctx, "load", id, sfuSignaler{srv: srv, id: id, pub: pub}, opts...)
	if err != nil {
		return err
	}
	srv.mu.Lock()
	srv.part[id] = p
	srv.pubs[id] = pub
	srv.mu.Unlock()
	return nil
}

func (srv *sfuServer) get(id string) (*sfu.Participant, error) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	p := srv.part[id]
	if p == nil {
		return nil, fmt.Errorf("loadtest: unknown participant %q", id)
	}
	return p, nil
}

func (srv *sfuServer) publishOffer(id string, offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	p, err := srv.get(id)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	return p.HandlePublishOffer(srv.ctx, offer)
}

func (srv *sfuServer) subscribeAnswer(id string, answer webrtc.SessionDescription) error {
	p, err := srv.get(id)
	if err != nil {
		return err
	}
	return p.HandleSubscribeAnswer(srv.ctx, answer)
}

func (srv *sfuServer) candidate(id string, _ int, c webrtc.ICECandidateInit) error {
	p, err := srv.get(id)
	if err != nil {
		return err
	}
	srv.mu.Lock()
	pub := srv.pubs[id]
	srv.mu.Unlock()
	dir := sfu.DirectionSubscribe
	if pub {
		dir = sfu.DirectionPublish
	}
	return p.AddICECandidate(dir, c)
}

func (srv *sfuServer) tracks() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.n
}

func (srv *sfuServer) close() error { return srv.s.Close() }

func (srv *sfuServer) fanout() *dto.Histogram {
	return srv.histogram("tresor_sfu_forward_latency_seconds")
}

func (srv *sfuServer) added() *dto.Histogram { return srv.histogram("tresor_sfu_residence_seconds") }

func (srv *sfuServer) histogram(name string) *dto.Histogram {
	g := srv.s.Gatherer()
	if g == nil {
		return nil
	}
	mfs, err := g.Gather()
	if err != nil {
		return nil
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	return nil
}

func (b *bareServer) fanout() *dto.Histogram { return nil }

func (b *bareServer) added() *dto.Histogram {
	var m dto.Metric
	if err := b.residence.Write(&m); err != nil {
		return nil
	}
	return m.GetHistogram()
}

// latencyBuckets are the SFU's (package sfu, metrics.go), so that both
// servers' quantiles are interpolated alike.
var latencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 750e-6, 1e-3, 1.25e-3, 1.5e-3, 1.75e-3, 2e-3,
	2.5e-3, 3e-3, 4e-3, 5e-3, 7.5e-3, 10e-3, 20e-3, 50e-3, 100e-3}

// bareServer is pion's broadcast example, one PeerConnection per peer,
// sharing one UDP port like the SFU so that only the forwarding differs.
type bareServer struct {
	c         *conn
	api       *webrtc.API
	udp       *udpbatch.Conn
	residence prometheus.Histogram
	conn      io.Closer
	mu        sync.Mutex
	pcs       map[string]*peertest.Peer
	loc       []*webrtc.TrackLocalStaticRTP
	wg        sync.WaitGroup
}

func newBareServer(c *conn) (*bareServer, error) {
	api, udp, closer, err := bareAPI()
	if err != nil {
		return nil, err
	}
	return &bareServer{c: c, api: api, udp: udp, conn: closer, pcs: map[string]*peertest.Peer{},
		residence: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "residence_seconds", Buckets: latencyBuckets})}, nil
}

func (b *bareServer) join(id string, pub bool) error {
	p, err := peertest.New(b.api)
	if err != nil {
		return err
	}
	p.PC.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			j := c.ToJSON()
			_ = b.c.send(msg{Op: "cand", ID: id, Cand: &j})
		}
	})
	b.mu.Lock()
	b.pcs[id] = p
	locals := append([]*webrtc.TrackLocalStaticRTP(nil), b.loc...)
	b.mu.Unlock()
	if pub {
		p.PC.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, "video", remote.StreamID())
			if err != nil {
				return
			}
			b.mu.Lock()
			b.loc = append(b.loc, local)
			b.mu.Unlock()
			// Ask for a key frame (the broadcast example sends PLI on a timer).
			_ = p.PC.WriteRTCP(pliFor(remote))
			buf := make([]byte, 1500)
			ssrc := uint32(remote.SSRC())
			for {
				n, _, err := remote.Read(buf)
				if err != nil {
					return
				}
				if _, err := local.Write(buf[:n]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
					return
				}
				if n >= 4 {
					if rx, ok := b.udp.RxTime(ssrc, binary.BigEndian.Uint16(buf[2:4])); ok {
						b.residence.Observe(float64(time.Now().UnixNano()-rx) / 1e9)
					}
				}
			}
		})
		return nil
	}
	for _, l := range locals {
		sender, err := p.PC.AddTrack(l)
		if err != nil {
			return err
		}
		b.wg.Add(1)
		go func() { // read RTCP so interceptors (NACK responder, reports) run
			defer b.wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	offer, err := p.Offer()
	if err != nil {
		return err
	}
	return b.c.send(msg{Op: "offer", ID: id, SDP: &offer})
}

func (b *bareServer) peer(id string) (*peertest.Peer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pcs[id]
	if p == nil {
		return nil, fmt.Errorf("loadtest: unknown peer %q", id)
	}
	return p, nil
}

func (b *bareServer) publishOffer(id string, offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	p, err := b.peer(id)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	return p.Answer(offer)
}

func (b *bareServer) subscribeAnswer(id string, answer webrtc.SessionDescription) error {
	p, err := b.peer(id)
	if err != nil {
		return err
	}
	return p.SetRemoteDescription(answer)
}

func (b *bareServer) candidate(id string, _ int, c webrtc.ICECandidateInit) error {
	p, err := b.peer(id)
	if err != nil {
		return err
	}
	return p.AddICECandidate(c)
}

func (b *bareServer) tracks() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.loc)
}

func (b *bareServer) close() error {
	b.mu.Lock()
	pcs := make([]*peertest.Peer, 0, len(b.pcs))
	for _, p := range b.pcs {
		pcs = append(pcs, p)
	}
	b.mu.Unlock()
	for _, p := range pcs {
		_ = p.Close()
	}
	b.wg.Wait()
	return b.conn.Close()
}
