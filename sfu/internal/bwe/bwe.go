// Package bwe estimates the bandwidth towards one subscriber from
// transport-wide congestion control feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01).
//
// It is a reduced Google congestion control (draft-ietf-rmcat-gcc-02):
//
//   - loss-based (§6): above 10% loss the estimate shrinks by half the loss
//     rate, below 2% it grows by 8% per second;
//   - delay-based (§5, simplified): when the one-way queuing delay grows
//     across a feedback interval by more than a threshold (the sum of
//     inter-arrival minus inter-departure times), the path is over-used and
//     the estimate drops to 85% of the rate actually received.
//
// Recording a sent packet is allocation-free and O(1), so it can run on
// the forwarding path for every packet. pion's gcc package does the full
// algorithm but allocates several objects per packet sent.
package bwe

import (
	"math"
	"sync"
	"time"
)

// historySize is how many sent packets the estimator remembers (16 bytes
// each). Feedback arrives about every 100 ms, so 1024 covers connections
// of up to ~10k packets/s; older packets are ignored, not misattributed.
const historySize = 1024

type sent struct {
	at    int64 // ns
	seq   uint16
	size  uint16
	valid bool
}

// Config bounds the estimate, in bits/s.
type Config struct {
	Initial, Min, Max int
	// OveruseThreshold is the queuing-delay growth within one feedback
	// interval that counts as over-use. Default 10 ms.
	OveruseThreshold time.Duration
}

// Estimator is one subscriber connection's estimate. Safe for concurrent
// use.
type Estimator struct {
	cfg Config

	mu        sync.Mutex
	hist      [historySize]sent
	estimate  float64
	lastFB    int64
	lastState string

	// scratch for one feedback packet
	fbLost, fbRecv      int
	fbBytes             int
	fbFirstRx, fbLastRx int64
	fbPrevRx, fbPrevTx  int64
	fbHavePrev          bool
	fbGradient          int64 // ns
}

// New returns an estimator.
func New(cfg Config) *Estimator {
	if cfg.Min <= 0 {
		cfg.Min = 100_000
	}
	if cfg.Max <= 0 {
		cfg.Max = 20_000_000
	}
	if cfg.Initial <= 0 {
		cfg.Initial = 1_000_000
	}
	if cfg.OveruseThreshold <= 0 {
		cfg.OveruseThreshold = 10 * time.Millisecond
	}
	return &Estimator{cfg: cfg, estimate: float64(cfg.Initial)}
}

// OnSent records that the packet with transport-wide sequence number seq and
// size bytes left at nowNs.
func (e *Estimator) OnSent(seq uint16, size int, nowNs int64) {
	e.mu.Lock()
	e.hist[int(seq)%historySize] = sent{seq: seq, valid: true, size: uint16(min(size, math.MaxUint16)), at: nowNs}
	e.mu.Unlock()
}

// Begin, Packet and End feed one feedback packet: Begin, then Packet for each
// status in sequence order (as rtcpx.ForEachTWCC reports them), then End.
func (e *Estimator) Begin() {
	e.mu.Lock()
	e.fbLost, e.fbRecv, e.fbBytes = 0, 0, 0
	e.fbFirstRx, e.fbLastRx = 0, 0
	e.fbHavePrev, e.fbGradient = false, 0
}

// Packet adds one packet status between Begin and End.
func (e *Estimator) Packet(seq uint16, received bool, arrivalUs int64) {
	s := &e.hist[int(seq)%historySize]
	if !s.valid || s.seq != seq {
		return // not ours or too old
	}
	if !received {
		e.fbLost++
		return
	}
	e.fbRecv++
	rx := arrivalUs * 1000
	if e.fbRecv == 1 {
		e.fbFirstRx = rx // the rate counts the bytes that arrived after it
	} else {
		e.fbBytes += int(s.size)
	}
	e.fbLastRx = rx
	if e.fbHavePrev {
		// Inter-arrival minus inter-departure: positive when the queue grows.
		e.fbGradient += (rx - e.fbPrevRx) - (s.at - e.fbPrevTx)
	}
	e.fbPrevRx, e.fbPrevTx, e.fbHavePrev = rx, s.at, true
}

// End applies the feedback packet at nowNs.
func (e *Estimator) End(nowNs int64) {
	defer e.mu.Unlock()
	dt := 0.1
	if e.lastFB != 0 {
		dt = math.Min(1, math.Max(0.001, float64(nowNs-e.lastFB)/1e9))
	}
	e.lastFB = nowNs
	total := e.fbLost + e.fbRecv
	if total == 0 {
		return
	}
	loss := float64(e.fbLost) / float64(total)
	var rxRate float64
	if span := e.fbLastRx - e.fbFirstRx; span > int64(time.Millisecond) {
		rxRate = float64(e.fbBytes) * 8 * 1e9 / float64(span)
	}
	switch {
	case e.fbGradient > int64(e.cfg.OveruseThreshold) && rxRate > 0:
		e.estimate = math.Min(e.estimate, 0.85*rxRate)
		e.lastState = "overuse"
	case loss > 0.10:
		e.estimate *= 1 - 0.5*loss
		e.lastState = "loss"
	case loss < 0.02:
		e.estimate *= math.Pow(1.08, dt)
		e.lastState = "increase"
	default:
		e.lastState = "hold"
	}
	e.estimate = math.Max(float64(e.cfg.Min), math.Min(float64(e.cfg.Max), e.estimate))
}

// Estimate is the current estimate in bits/s.
func (e *Estimator) Estimate() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.estimate)
}
