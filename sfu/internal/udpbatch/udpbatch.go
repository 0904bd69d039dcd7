// Package udpbatch batches the SFU's UDP writes: between Begin and End, the
// datagrams written to the shared ICE UDP port are queued and sent with one
// sendmmsg(2) system call per batch (golang.org/x/net/ipv4 WriteBatch; on
// systems without sendmmsg it falls back to one call per datagram).
//
// Fanning one packet out to 50 subscribers is then one system call instead
// of 50. Every End flushes whatever is queued, so a datagram waits at most
// for the fan-out section during which it was written; outside of sections
// writes go straight to the socket.
//
// With EnableRxTimestamps the Conn also remembers when each RTP datagram it
// read was received (the kernel's SO_TIMESTAMPNS time on Linux), keyed by
// SSRC and sequence number, so that the SFU can measure its residence time:
// from the datagram's arrival on the socket to the sendmmsg(2) that sends
// the last copy (RxTime).
package udpbatch

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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

	noBatch bool // NewUnbatched: writes always go straight out

	rx     atomic.Pointer[RxTable] // nil until EnableRxTimestamps
	kernel bool                    // SO_TIMESTAMPNS is on
	readMu sync.Mutex              // guards oob (pion reads from one goroutine)
	oob    []byte

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

// NewUnbatched wraps c without write batching (Begin and End do nothing),
// for receive timestamps alone.
func NewUnbatched(c *net.UDPConn) *Conn {
	return &Conn{UDPConn: c, noBatch: true}
}

// EnableRxTimestamps starts recording the receive time of RTP datagrams.
// The time is the kernel's (SO_TIMESTAMPNS, socket(7)) where available:
// it includes the time a datagram waited in the socket buffer for the
// reader. Elsewhere it is the time the read returned, and the error says
// why; recording is on in both cases. Call it before the first read.
func (c *Conn) EnableRxTimestamps() error {
	err := EnableKernelStamps(c.UDPConn)
	c.readMu.Lock()
	c.kernel = err == nil
	if c.kernel {
		c.oob = make([]byte, OOBSize)
	}
	c.readMu.Unlock()
	c.rx.Store(NewRxTable(rxSlots))
	return err
}

// RxTime returns when the RTP (or SRTP) datagram with this SSRC and
// sequence number was received, in unix nanoseconds (wall clock), if it is
// still remembered (the most recent few thousand are).
func (c *Conn) RxTime(ssrc uint32, seq uint16) (int64, bool) {
	t := c.rx.Load()
	if t == nil {
		return 0, false
	}
	return t.get(ssrc, seq)
}

// Begin starts a section in which writes are queued. Sections may overlap
// (one per forwarding goroutine).
func (c *Conn) Begin() {
	if c.noBatch {
		return
	}
	c.mu.Lock()
	c.depth++
	c.mu.Unlock()
}

// End ends a section and sends everything queued.
func (c *Conn) End() {
	if c.noBatch {
		return
	}
	c.mu.Lock()
	c.depth--
	c.flushLocked()
	c.mu.Unlock()
}

// ReadFromAddrPort reads one datagram (pion/ice AddrPortReaderWriter).
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	t := c.rx.Load()
	if t == nil {
		return c.UDPConn.ReadFromUDPAddrPort(b)
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	n, oobn, _, ap, err := c.UDPConn.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return n, ap, err
	}
	if ssrc, seq, ok := rtpIDs(b[:n]); ok {
		at, ok := int64(0), false
		if c.kernel {
			at, ok = KernelStamp(c.oob[:oobn])
		}
		if !ok {
			at = time.Now().UnixNano()
		}
		t.put(ssrc, seq, at)
	}
	return n, ap, nil
}

// ReadFrom reads one datagram (net.PacketConn), recording its receive time
// like ReadFromAddrPort.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.rx.Load() == nil {
		return c.UDPConn.ReadFrom(b)
	}
	n, ap, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// WriteToAddrPort writes one datagram, queued when inside a section (pion/ice
// AddrPortReaderWriter). b is copied; the caller may reuse it at once.
func (c *Conn) WriteToAddrPort(b []byte, ap netip.AddrPort) (int, error) {
	if c.noBatch {
		return c.UDPConn.WriteToUDPAddrPort(b, ap)
	}
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
