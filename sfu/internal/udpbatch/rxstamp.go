package udpbatch

import (
	"encoding/binary"
	"sync/atomic"
)

// rxSlots is the size of the SFU's receive-time table: enough for every
// RTP packet received in the time one packet takes to be read, decrypted
// and forwarded, at any rate the SFU can sustain.
const rxSlots = 1 << 13

// RxTable maps (SSRC, sequence number) of recently received RTP datagrams
// to their receive time. Every field is atomic and a reader checks the key
// before and after reading the time, so a torn read is a miss. Concurrent
// writers to one slot (two packets hashing alike at the same instant) can
// leave a key with the other packet's time; the SFU has one writer.
type RxTable struct {
	key []atomic.Uint64 // 1<<48 | ssrc<<16 | seq, 0 when empty
	at  []atomic.Int64  // unix nanoseconds
}

// NewRxTable returns a table of slots entries (rounded up to a power of 2).
func NewRxTable(slots int) *RxTable {
	n := 16
	for n < slots && n < 1<<24 {
		n <<= 1
	}
	return &RxTable{key: make([]atomic.Uint64, n), at: make([]atomic.Int64, n)}
}

func (t *RxTable) slot(ssrc uint32, seq uint16) (uint64, int) {
	k := 1<<48 | uint64(ssrc)<<16 | uint64(seq)
	return k, int((uint32(seq) + ssrc*2654435761) & uint32(len(t.key)-1)) //nolint:gosec // len is at most 1<<24
}

// Record remembers at (unix nanoseconds) as the receive time of datagram b
// if b is RTP or SRTP.
func (t *RxTable) Record(b []byte, at int64) {
	if ssrc, seq, ok := rtpIDs(b); ok {
		t.put(ssrc, seq, at)
	}
}

// Get returns the receive time of the RTP packet with this SSRC and
// sequence number if it is still in the table.
func (t *RxTable) Get(ssrc uint32, seq uint16) (int64, bool) { return t.get(ssrc, seq) }

// rtpIDs returns the SSRC and sequence number of an RTP or SRTP datagram
// (both in clear in SRTP, RFC 3711 §3.1). RTCP (packet types 192–223 in the
// second byte, RFC 5761 §4), STUN and DTLS are not RTP.
func rtpIDs(b []byte) (ssrc uint32, seq uint16, ok bool) {
	if len(b) < 12 || b[0]&0xc0 != 0x80 || (b[1] >= 192 && b[1] <= 223) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4]), true
}

func (t *RxTable) put(ssrc uint32, seq uint16, at int64) {
	k, i := t.slot(ssrc, seq)
	t.key[i].Store(0)
	t.at[i].Store(at)
	t.key[i].Store(k)
}

func (t *RxTable) get(ssrc uint32, seq uint16) (int64, bool) {
	k, i := t.slot(ssrc, seq)
	if t.key[i].Load() != k {
		return 0, false
	}
	at := t.at[i].Load()
	if t.key[i].Load() != k {
		return 0, false
	}
	return at, true
}
