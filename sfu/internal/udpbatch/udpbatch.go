// Package udpbatch batches the SFU's UDP writes: between Begin and End, the
// datagrams written to the shared ICE UDP port are queued and sent with one
// sendmmsg(2) system call per batch (golang.org/x/net/ipv4 WriteBatch; on
// systems without sendmmsg it falls back to one call per datagram).
//
// Fanning one packet out to 50 subscribers is then one system call instead
// of 50. Every End flushes whatever is queued, so a datagram waits at most
// for the fan-out section during which it was written; outside of sections
// writes go straight to the socket.
package udpbatch

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// MaxBatch is the most datagrams sent per system call.
const MaxBatch = 64

const maxDatagram = 1500

// Conn is a batching *net.UDPConn (IPv4). It implements net.PacketConn and
// pion/ice's AddrPortReaderWriter, which the ICE UDP mux uses for its
// writes.
type Conn struct {
	*net.UDPConn
	pc *ipv4.PacketConn

	mu    sync.Mutex
	depth int
	n     int
	msgs  []ipv4.Message
	bufs  [][]byte
	addrs map[netip.AddrPort]*net.UDPAddr

	// Batches and Datagrams count what went out batched; Errors counts
	// failed batch sends.
	Batches, Datagrams, Errors atomic.Uint64
}

// New wraps c.
func New(c *net.UDPConn) *Conn {
	b := &Conn{UDPConn: c, pc: ipv4.NewPacketConn(c), msgs: make([]ipv4.Message, MaxBatch),
		bufs: make([][]byte, MaxBatch), addrs: make(map[netip.AddrPort]*net.UDPAddr)}
	backing := make([]byte, MaxBatch*maxDatagram)
	for i := range b.msgs {
		b.bufs[i] = backing[i*maxDatagram : (i+1)*maxDatagram : (i+1)*maxDatagram]
		b.msgs[i].Buffers = make([][]byte, 1)
	}
	return b
}

// Begin starts a section in which writes are queued. Sections may overlap
// (one per forwarding goroutine).
func (c *Conn) Begin() {
	c.mu.Lock()
	c.depth++
	c.mu.Unlock()
}

// End ends a section and sends everything queued.
func (c *Conn) End() {
	c.mu.Lock()
	c.depth--
	c.flushLocked()
	c.mu.Unlock()
}

// ReadFromAddrPort reads one datagram (pion/ice AddrPortReaderWriter).
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort writes one datagram, queued when inside a section (pion/ice
// AddrPortReaderWriter). b is copied; the caller may reuse it at once.
func (c *Conn) WriteToAddrPort(b []byte, ap netip.AddrPort) (int, error) {
	c.mu.Lock()
	if c.depth == 0 || len(b) > maxDatagram {
		c.mu.Unlock()
		return c.UDPConn.WriteToUDPAddrPort(b, ap)
	}
	ua := c.addrs[ap]
	if ua == nil {
		if len(c.addrs) >= 1<<16 {
			clear(c.addrs) // bound the cache; it refills from live peers
		}
		ua = net.UDPAddrFromAddrPort(ap)
		c.addrs[ap] = ua
	}
	m := &c.msgs[c.n]
	m.Buffers[0] = c.bufs[c.n][:copy(c.bufs[c.n], b)]
	m.Addr = ua
	c.n++
	if c.n == MaxBatch {
		c.flushLocked()
	}
	c.mu.Unlock()
	return len(b), nil
}

func (c *Conn) flushLocked() {
	if c.n == 0 {
		return
	}
	for sent := 0; sent < c.n; {
		k, err := c.pc.WriteBatch(c.msgs[sent:c.n], 0)
		if err != nil || k <= 0 {
			c.Errors.Add(1)
			break
		}
		sent += k
	}
	c.Batches.Add(1)
	c.Datagrams.Add(uint64(c.n))
	c.n = 0
}
