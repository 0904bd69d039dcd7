package loadtest

import (
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"github.com/tresor-dev/tresor/sfu/internal/udpbatch"
)

// stampNet is the operating system's network whose UDP sockets record the
// kernel receive time (SO_TIMESTAMPNS) of every RTP datagram they read in
// one table shared by all of them. The subscribers use it, so that a copy's
// arrival is timed when it reaches the subscriber's socket, before the
// peer process's own scheduling and SRTP work.
type stampNet struct {
	transport.Net
	tab *udpbatch.RxTable
}

func newStampNet() (*stampNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &stampNet{Net: n, tab: udpbatch.NewRxTable(1 << 16)}, nil
}

// ListenUDP opens a socket whose reads are timestamped.
func (n *stampNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	sc := &stampConn{UDPConn: c, tab: n.tab}
	if u, ok := c.(*net.UDPConn); ok && udpbatch.EnableKernelStamps(u) == nil {
		sc.oob = make([]byte, udpbatch.OOBSize)
	}
	return sc, nil
}

type stampConn struct {
	transport.UDPConn
	tab *udpbatch.RxTable
	mu  sync.Mutex // guards oob
	oob []byte     // nil without kernel timestamps
}

// ReadFrom is what pion/ice's receive loop calls on a wrapped connection.
func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.oob == nil {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err == nil {
			c.tab.Record(b[:n], time.Now().UnixNano())
		}
		return n, addr, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, oobn, _, addr, err := c.UDPConn.ReadMsgUDP(b, c.oob)
	if err != nil {
		return n, nil, err
	}
	at, ok := udpbatch.KernelStamp(c.oob[:oobn])
	if !ok {
		at = time.Now().UnixNano()
	}
	c.tab.Record(b[:n], at)
	return n, addr, nil
}
