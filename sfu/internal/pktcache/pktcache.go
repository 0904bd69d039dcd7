// Package pktcache keeps the most recent RTP packets of one incoming stream so
// that the SFU answers every subscriber's NACK (RFC 4585 §6.2.1) from a single
// copy: one cache per publisher stream, never one per subscriber.
package pktcache

import "sync"

// MaxPacket is the largest RTP packet the cache stores, in bytes.
const MaxPacket = 1500

type slot struct {
	seq   uint16
	n     uint16
	valid bool
	data  [MaxPacket]byte
}

// Cache is a ring of packets indexed by RTP sequence number. It is safe for
// one writer and any number of concurrent readers.
type Cache struct {
	mu    sync.Mutex
	mask  uint16
	slots []slot
}

// New returns a cache holding the last size packets. size is rounded up to a
// power of two between 16 and 32768.
func New(size int) *Cache {
	n := 16
	for n < size && n < 32768 {
		n <<= 1
	}
	return &Cache{mask: uint16(n - 1), slots: make([]slot, n)}
}

// Put stores pkt, whose RTP sequence number is seq. Packets longer than
// MaxPacket are not stored and Put reports false.
func (c *Cache) Put(seq uint16, pkt []byte) bool {
	if len(pkt) > MaxPacket {
		return false
	}
	c.mu.Lock()
	s := &c.slots[seq&c.mask]
	s.seq, s.n, s.valid = seq, uint16(len(pkt)), true
	copy(s.data[:], pkt)
	c.mu.Unlock()
	return true
}

// Get copies the packet with sequence number seq into dst and returns its
// length. It reports false when that packet is no longer (or never was) in
// the cache or dst is too short.
func (c *Cache) Get(seq uint16, dst []byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if !s.valid || s.seq != seq || len(dst) < int(s.n) {
		return 0, false
	}
	return copy(dst, s.data[:s.n]), true
}

// Len is the number of packets the cache can hold.
func (c *Cache) Len() int { return len(c.slots) }
