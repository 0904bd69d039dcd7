package udpbatch

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestBatchedWritesArriveInOrder(t *testing.T) {
	src := New(listen(t))
	dst := [2]*net.UDPConn{listen(t), listen(t)}
	var aps [2]netip.AddrPort
	for i, d := range dst {
		aps[i] = d.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	const n = 150 // more than two full batches
	src.Begin()
	for i := range n {
		if _, err := src.WriteToAddrPort([]byte{byte(i), byte(i >> 8), 0xAB}, aps[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	src.End()
	// Outside a section, writes go straight out.
	if _, err := src.WriteToAddrPort([]byte{0xff, 0xff, 0xAB}, aps[0]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for i := range n {
		d := dst[i%2]
		_ = d.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, _, err := d.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := []byte{byte(i), byte(i >> 8), 0xAB}; !bytes.Equal(buf[:k], want) {
			t.Fatalf("datagram %d = %x, want %x", i, buf[:k], want)
		}
	}
	k, _, err := dst[0].ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:k], []byte{0xff, 0xff, 0xAB}) {
		t.Fatalf("direct write: %x %v", buf[:k], err)
	}
	if got := src.Datagrams.Load(); got != n {
		t.Fatalf("batched %d datagrams, want %d", got, n)
	}
	if b := src.Batches.Load(); b != 3 { // 64 + 64 + 22
		t.Fatalf("%d batches, want 3", b)
	}
}

func BenchmarkBatchedWrite(b *testing.B) {
	src := New(listen(b))
	dst := listen(b)
	ap := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	go func() {
		buf := make([]byte, 2000)
		for {
			if _, _, err := dst.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	pkt := make([]byte, 1200)
	b.ReportAllocs()
	for b.Loop() {
		src.Begin()
		for range 50 {
			_, _ = src.WriteToAddrPort(pkt, ap)
		}
		src.End()
	}
}

func BenchmarkDirectWrite(b *testing.B) {
	src := listen(b)
	dst := listen(b)
	ap := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	go func() {
		buf := make([]byte, 2000)
		for {
			if _, _, err := dst.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	pkt := make([]byte, 1200)
	b.ReportAllocs()
	for b.Loop() {
		for range 50 {
			_, _ = src.WriteToUDPAddrPort(pkt, ap)
		}
	}
}

func TestRxTimestamps(t *testing.T) {
	c := New(listen(t))
	if err := c.EnableRxTimestamps(); err != nil {
		t.Logf("no kernel timestamps: %v", err) // still recorded at read time
	}
	src := listen(t)
	to := c.LocalAddr().(*net.UDPAddr)
	rtp := []byte{0x80, 96, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0xaa}
	rtcp := []byte{0x80, 201, 0x12, 0x35, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef}
	before := time.Now().UnixNano()
	for _, p := range [][]byte{rtp, rtcp, {0, 1, 2}} {
		if _, err := src.WriteToUDP(p, to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	for range 3 {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := c.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().UnixNano()
	at, ok := c.RxTime(0xdeadbeef, 0x1234)
	if !ok || at < before || at > after {
		t.Fatalf("RxTime = %d, %v; want within [%d, %d]", at, ok, before, after)
	}
	if _, ok := c.RxTime(0xdeadbeef, 0x1235); ok {
		t.Fatal("RTCP datagram recorded as RTP")
	}
	if _, ok := c.RxTime(0xdeadbeef, 0x1236); ok {
		t.Fatal("unknown packet has a receive time")
	}
}

func TestKernelStampMalformed(t *testing.T) {
	for _, oob := range [][]byte{nil, {1, 2, 3}, make([]byte, 64), {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 0x23, 0, 0, 0}} {
		if _, ok := KernelStamp(oob); ok {
			t.Fatalf("kernelStamp(%x) found a time", oob)
		}
	}
}

// BenchmarkBatchedFanout is the system's share of one packet's fan-out:
// 50 SRTP-sized datagrams to 50 loopback sockets, each read by its own
// goroutine, in one batch. On loopback the kernel also runs each
// receiver's network stack inside the sender's sendmmsg(2), so this is the
// least a forwarding server can spend per packet at 50 subscribers here,
// before any user-space work.
func BenchmarkBatchedFanout(b *testing.B) {
	src := New(listen(b))
	var dsts []netip.AddrPort
	for range 50 {
		dst := listen(b)
		dsts = append(dsts, dst.LocalAddr().(*net.UDPAddr).AddrPort())
		go func() {
			buf := make([]byte, 2000)
			for {
				if _, _, err := dst.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	pkt := make([]byte, 1130) // 1100-byte payload, RTP header, SRTP tag
	b.ReportAllocs()
	for b.Loop() {
		src.Begin()
		for _, ap := range dsts {
			_, _ = src.WriteToAddrPort(pkt, ap)
		}
		src.End()
	}
}
