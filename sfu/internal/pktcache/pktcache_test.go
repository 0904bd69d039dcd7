package pktcache

import (
	"bytes"
	"testing"
)

func TestCachePutGet(t *testing.T) {
	c := New(20)
	if c.Len() != 32 {
		t.Fatalf("Len = %d, want 32", c.Len())
	}
	buf := make([]byte, MaxPacket)
	for i := 0; i < 100; i++ {
		seq := uint16(65500 + i) // wraps around
		if !c.Put(seq, []byte{byte(i), 1, 2}) {
			t.Fatal("Put failed")
		}
	}
	// The last 32 packets are present, older ones are evicted.
	for i := 0; i < 100; i++ {
		seq := uint16(65500 + i)
		n, ok := c.Get(seq, buf)
		if want := i >= 68; ok != want {
			t.Fatalf("Get(%d) ok=%v, want %v", seq, ok, want)
		}
		if ok && !bytes.Equal(buf[:n], []byte{byte(i), 1, 2}) {
			t.Fatalf("Get(%d) = %x", seq, buf[:n])
		}
	}
	if c.Put(1, make([]byte, MaxPacket+1)) {
		t.Fatal("oversized packet stored")
	}
	if _, ok := c.Get(uint16(99-36), make([]byte, 1)); ok {
		t.Fatal("Get into short buffer succeeded")
	}
}

func BenchmarkPut(b *testing.B) {
	c := New(512)
	pkt := make([]byte, 1200)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Put(uint16(i), pkt)
	}
}
