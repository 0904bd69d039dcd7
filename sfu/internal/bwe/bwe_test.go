package bwe

import (
	"testing"
	"time"
)

// feed simulates n packets of size bytes sent every interval, of which the
// receiver reports those for which lost(i) is false, arriving with an
// extra queuing delay of queue(i).
func feed(e *Estimator, start uint16, n int, interval time.Duration, t0 int64, lost func(int) bool, queue func(int) time.Duration) int64 {
	for i := range n {
		e.OnSent(start+uint16(i), 1200, t0+int64(i)*int64(interval))
	}
	e.Begin()
	for i := range n {
		rx := (t0 + int64(i)*int64(interval) + int64(queue(i)) + int64(5*time.Millisecond)) / 1000
		e.Packet(start+uint16(i), !lost(i), rx)
	}
	end := t0 + int64(n)*int64(interval)
	e.End(end)
	return end
}

func TestEstimatorGrowsWithoutLoss(t *testing.T) {
	e := New(Config{Initial: 1_000_000})
	now := int64(time.Second)
	for r := range 50 { // 5 s of feedback
		now = feed(e, uint16(r*10), 10, 10*time.Millisecond, now, func(int) bool { return false }, func(int) time.Duration { return 0 })
	}
	if got := e.Estimate(); got < 1_300_000 {
		t.Fatalf("estimate after 5 s without loss = %d, want growth past 1.3 Mbps", got)
	}
}

func TestEstimatorDropsOnLoss(t *testing.T) {
	e := New(Config{Initial: 2_000_000})
	now := int64(time.Second)
	now = feed(e, 0, 20, 5*time.Millisecond, now, func(i int) bool { return i%4 == 0 }, func(int) time.Duration { return 0 })
	if got := e.Estimate(); got > 1_800_000 {
		t.Fatalf("estimate after 25%% loss = %d, want < 1.8 Mbps", got)
	}
	_ = now
}

func TestEstimatorDropsOnQueueGrowth(t *testing.T) {
	e := New(Config{Initial: 5_000_000})
	// 10 packets of 1200 B every 5 ms = 1.92 Mbps sent, queue grows 3 ms per packet.
	feed(e, 0, 10, 5*time.Millisecond, int64(time.Second), func(int) bool { return false },
		func(i int) time.Duration { return time.Duration(i) * 3 * time.Millisecond })
	got := e.Estimate()
	// Received rate is 9×1200×8 bits over 9×8 ms = 1.2 Mbps; 85% of it ≈ 1.02 Mbps.
	if got > 1_100_000 || got < 900_000 {
		t.Fatalf("estimate after over-use = %d, want ≈ 1.02 Mbps", got)
	}
}

func TestEstimatorIgnoresUnknownPackets(t *testing.T) {
	e := New(Config{Initial: 1_000_000})
	e.Begin()
	for i := range 100 {
		e.Packet(uint16(i), false, 0) // never sent
	}
	e.End(int64(time.Second))
	if got := e.Estimate(); got != 1_000_000 {
		t.Fatalf("estimate moved to %d on feedback for unknown packets", got)
	}
}

func BenchmarkOnSent(b *testing.B) {
	e := New(Config{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.OnSent(uint16(i), 1200, int64(i))
	}
}
