// Package rtcpx walks compound RTCP packets (RFC 3550 §6.1) and decodes the
// few feedback messages the SFU acts on without allocating: generic NACK
// (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1), FIR (RFC 5104 §4.3.1) and
// transport-wide congestion control feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
//
// pion/rtcp decodes into freshly allocated structures; at one feedback
// packet per subscriber every 100 ms that was most of the SFU's steady-state
// garbage, hence this small decoder. Everything is bounds-checked: a
// malformed packet yields ErrMalformed and nothing else.
package rtcpx

import (
	"encoding/binary"
	"errors"
)

// ErrMalformed reports an RTCP packet that does not parse.
var ErrMalformed = errors.New("rtcpx: malformed RTCP")

// Kind is the kind of one RTCP packet.
type Kind uint8

// Kinds the SFU distinguishes.
const (
	KindOther Kind = iota
	KindNACK       // RTPFB FMT=1
	KindTWCC       // RTPFB FMT=15
	KindPLI        // PSFB FMT=1
	KindFIR        // PSFB FMT=4
	KindRR         // receiver report
)

const (
	ptRR    = 201
	ptRTPFB = 205
	ptPSFB  = 206
)

// Next splits the first packet off a compound RTCP packet b (RFC 3550
// §6.4): it returns the packet, its kind, and the rest.
//
//	 0                   1                   2                   3
//	|V=2|P|   FMT   |      PT       |             length            |
func Next(b []byte) (pkt []byte, kind Kind, rest []byte, err error) {
	if len(b) < 4 || b[0]>>6 != 2 {
		return nil, 0, nil, ErrMalformed
	}
	n := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
	if n > len(b) {
		return nil, 0, nil, ErrMalformed
	}
	pkt, rest = b[:n], b[n:]
	fmtv := b[0] & 0x1f
	switch b[1] {
	case ptRR:
		kind = KindRR
	case ptRTPFB:
		switch fmtv {
		case 1:
			kind = KindNACK
		case 15:
			kind = KindTWCC
		}
	case ptPSFB:
		switch fmtv {
		case 1:
			kind = KindPLI
		case 4:
			kind = KindFIR
		}
	}
	if kind != KindOther && kind != KindRR && n < 12 {
		return nil, 0, nil, ErrMalformed // feedback header: 2 SSRCs
	}
	return pkt, kind, rest, nil
}

// MediaSSRC is the media source SSRC of a feedback packet (RFC 4585 §6.1).
func MediaSSRC(pkt []byte) uint32 { return binary.BigEndian.Uint32(pkt[8:]) }

// ForEachNACK calls fn for every sequence number a generic NACK packet
// (RFC 4585 §6.2.1) reports lost:
//
//	|            PID                |             BLP               |
func ForEachNACK(pkt []byte, fn func(seq uint16)) {
	for fci := pkt[12:]; len(fci) >= 4; fci = fci[4:] {
		pid := binary.BigEndian.Uint16(fci)
		blp := binary.BigEndian.Uint16(fci[2:])
		fn(pid)
		for i := range uint16(16) {
			if blp&(1<<i) != 0 {
				fn(pid + i + 1)
			}
		}
	}
}

// TWCC packet status symbols.
const (
	notReceived = 0
	smallDelta  = 1
	largeDelta  = 2
)

// ForEachTWCC calls fn for every packet a transport-wide CC feedback packet
// reports, in sequence order: its transport-wide sequence number, whether it
// arrived, and if so its arrival time in microseconds relative to an
// arbitrary per-stream origin (reference time × 64 ms plus the receive
// deltas in 250 µs units).
//
//	|      base sequence number     |      packet status count      |
//	|                 reference time                | fb pkt. count |
//	|          packet chunk         |         packet chunk          |
//	|         recv delta            |  recv delta   | zero padding  |
func ForEachTWCC(pkt []byte, fn func(seq uint16, received bool, arrivalUs int64)) error {
	if len(pkt) < 20 {
		return ErrMalformed
	}
	base := binary.BigEndian.Uint16(pkt[12:])
	count := int(binary.BigEndian.Uint16(pkt[14:]))
	ref := int64(int32(binary.BigEndian.Uint32(pkt[16:]))>>8) * 64000 // 24-bit signed
	// First pass: find where the receive deltas start.
	p, n := 20, 0
	for n < count {
		if p+2 > len(pkt) {
			return ErrMalformed
		}
		n += symbols(binary.BigEndian.Uint16(pkt[p:]))
		p += 2
	}
	deltas := p
	// Second pass: statuses with their deltas.
	t := ref
	p, n = 20, 0
	for n < count {
		chunk := binary.BigEndian.Uint16(pkt[p:])
		p += 2
		k := min(symbols(chunk), count-n)
		for i := range k {
			st := symbol(chunk, i)
			seq := base + uint16(n)
			switch st {
			case notReceived:
				fn(seq, false, 0)
			case smallDelta:
				if deltas+1 > len(pkt) {
					return ErrMalformed
				}
				t += int64(pkt[deltas]) * 250
				deltas++
				fn(seq, true, t)
			case largeDelta:
				if deltas+2 > len(pkt) {
					return ErrMalformed
				}
				t += int64(int16(binary.BigEndian.Uint16(pkt[deltas:]))) * 250
				deltas += 2
				fn(seq, true, t)
			default:
				return ErrMalformed
			}
			n++
		}
	}
	return nil
}

// symbols is the number of packet statuses a chunk describes.
func symbols(chunk uint16) int {
	if chunk&0x8000 == 0 { // run length chunk: |T=0| S(2) | run length (13) |
		return int(chunk & 0x1fff)
	}
	if chunk&0x4000 == 0 { // status vector, 14 one-bit symbols
		return 14
	}
	return 7 // status vector, 7 two-bit symbols
}

// symbol is the i-th status of a chunk.
func symbol(chunk uint16, i int) int {
	if chunk&0x8000 == 0 {
		return int(chunk>>13) & 0x3
	}
	if chunk&0x4000 == 0 {
		return int(chunk>>(13-i)) & 0x1
	}
	return int(chunk>>(12-2*i)) & 0x3
}
