// Package hostile holds the taps and tamperers of Tresor's hostile-server
// test suite (the root package's hostile_test.go): a wrapper for the SFU's
// UDP socket that records and may rewrite every datagram, a WebSocket proxy
// in front of the signaling server that records and may rewrite every
// message, and the DTLS-SRTP arithmetic that lets a test decrypt the SFU's
// hop-by-hop SRTP with pion/srtp, as the SFU itself can.
//
// It is test support with no compatibility promise; nothing in it is used
// by Tresor's clients or servers.
package hostile

import (
	"net"
	"slices"
	"sync"
)

// Datagram is one UDP datagram through the SFU's socket.
type Datagram struct {
	// Out is true for a datagram the SFU sent, false for one it received.
	Out  bool
	Peer string // the remote address
	Data []byte
}

// UDPTap wraps the SFU's UDP socket (sfu.Config.UDPConn): it records every
// datagram, follows the DTLS handshakes in them (see Session), lets a
// test rewrite what the SFU sends, and cuts peers off (Block).
type UDPTap struct {
	net.PacketConn

	mu       sync.Mutex
	record   bool
	log      []Datagram
	sessions map[string]*Session
	onWrite  func(peer string, b []byte) [][]byte
	blocked  func(peer string) bool
}

// NewUDPTap wraps conn.
func NewUDPTap(conn net.PacketConn) *UDPTap {
	return &UDPTap{PacketConn: conn, record: true, sessions: map[string]*Session{}}
}

// SetRecord turns recording on or off (it starts on).
func (t *UDPTap) SetRecord(on bool) {
	t.mu.Lock()
	t.record = on
	t.mu.Unlock()
}

// OnWrite sets a function that sees every datagram the SFU sends and
// returns the datagrams to send instead (none drops it). Nil restores
// pass-through.
func (t *UDPTap) OnWrite(f func(peer string, b []byte) [][]byte) {
	t.mu.Lock()
	t.onWrite = f
	t.mu.Unlock()
}

// Block sets a function that says which peers (remote addresses) are cut
// off: every datagram to or from them is dropped, both ways, as when a
// participant's network is down. Dropped datagrams are not recorded. Nil
// restores the network.
func (t *UDPTap) Block(f func(peer string) bool) {
	t.mu.Lock()
	t.blocked = f
	t.mu.Unlock()
}

func (t *UDPTap) isBlocked(peer string) bool {
	t.mu.Lock()
	f := t.blocked
	t.mu.Unlock()
	return f != nil && f(peer)
}

// Datagrams returns a copy of the recorded datagrams.
func (t *UDPTap) Datagrams() []Datagram {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.log)
}

// Session returns the DTLS handshake parameters seen with peer.
func (t *UDPTap) Session(peer string) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sessions[peer]
	if !ok {
		return Session{}, false
	}
	return *s, true
}

func (t *UDPTap) observe(out bool, peer string, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.record {
		t.log = append(t.log, Datagram{Out: out, Peer: peer, Data: slices.Clone(b)})
	}
	if IsDTLS(b) {
		s := t.sessions[peer]
		if s == nil {
			s = &Session{}
			t.sessions[peer] = s
		}
		s.observe(!out, b)
	}
}

// ReadFrom implements net.PacketConn.
func (t *UDPTap) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := t.PacketConn.ReadFrom(b)
		if err == nil && addr != nil {
			peer := addr.String()
			if t.isBlocked(peer) {
				continue
			}
			t.observe(false, peer, b[:n])
		}
		return n, addr, err
	}
}

// WriteTo implements net.PacketConn.
func (t *UDPTap) WriteTo(b []byte, addr net.Addr) (int, error) {
	peer := addr.String()
	if t.isBlocked(peer) {
		return len(b), nil // lost on the way, as UDP may be
	}
	t.mu.Lock()
	f := t.onWrite
	t.mu.Unlock()
	if f == nil {
		t.observe(true, peer, b)
		return t.PacketConn.WriteTo(b, addr)
	}
	for _, p := range f(peer, b) {
		t.observe(true, peer, p)
		if _, err := t.PacketConn.WriteTo(p, addr); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Demultiplexing of one UDP port (RFC 7983 §7).

// IsDTLS reports whether a datagram is DTLS (first byte 20–63).
func IsDTLS(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

// IsRTP reports whether a datagram is RTP (first byte 128–191, and a
// payload type outside the RTCP range of RFC 5761 §4).
func IsRTP(b []byte) bool {
	return len(b) >= 12 && b[0] >= 128 && b[0] <= 191 && !(b[1] >= 192 && b[1] <= 223)
}

// IsRTCP reports whether a datagram is RTCP (RFC 5761 §4).
func IsRTCP(b []byte) bool {
	return len(b) >= 8 && b[0] >= 128 && b[0] <= 191 && b[1] >= 192 && b[1] <= 223
}
