package udpbatch

import (
	"encoding/binary"
	"sync/atomic"
)

// rxSlots is the size of the receive-time table: enough for every RTP
// packet received in the time one packet takes to be read, decrypted and
// forwarded, at any rate the SFU can sustain.
const rxSlots = 1 << 13

// rxTable maps (SSRC, sequence number) of recently received RTP datagrams
// to their receive time. One goroutine writes (the socket reader), any may
// read; every field is atomic and a reader checks the key before and after
// reading the time, so a torn read is reported as a miss.
type rxTable struct {
	key [rxSlots]atomic.Uint64 // 1<<48 | ssrc<<16 | seq, 0 when empty
	at  [rxSlots]atomic.Int64  // unix nanoseconds
}

func rxKey(ssrc uint32, seq uint16) (uint64, int) {
	k := 1<<48 | uint64(ssrc)<<16 | uint64(seq)
	return k, int((uint32(seq) + ssrc*2654435761) & (rxSlots - 1))
}

// rtpIDs returns the SSRC and sequence number of an RTP or SRTP datagram
// (both in clear in SRTP, RFC 3711 §3.1). RTCP (packet types 192–223 in the
// second byte, RFC 5761 §4), STUN and DTLS are not RTP.
func rtpIDs(b []byte) (ssrc uint32, seq uint16, ok bool) {
	if len(b) < 12 || b[0]&0xc0 != 0x80 || (b[1] >= 192 && b[1] <= 223) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4]), true
}

func (t *rxTable) put(ssrc uint32, seq uint16, at int64) {
	k, i := rxKey(ssrc, seq)
	t.key[i].Store(0)
	t.at[i].Store(at)
	t.key[i].Store(k)
}

func (t *rxTable) get(ssrc uint32, seq uint16) (int64, bool) {
	k, i := rxKey(ssrc, seq)
	if t.key[i].Load() != k {
		return 0, false
	}
	at := t.at[i].Load()
	if t.key[i].Load() != k {
		return 0, false
	}
	return at, true
}
