package e2ee

import (
	"fmt"
	"math/bits"
)

// The SFrame header (RFC 9605 §4.3):
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//	|X|  K  |Y|  C  |   KID... (0 or K+1 bytes) |   CTR... (0 or C+1 bytes) |
//	+-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//
// A value in 0..7 is carried in K (or C) with X (or Y) clear. Otherwise X (or
// Y) is set, K (or C) holds the length minus one, and the value follows
// big-endian "with the minimum number of bytes required". The decoder
// enforces that minimality, so every header has exactly one encoding.

const maxHeaderLen = 1 + 8 + 8

// valueLen returns the number of bytes of the minimal big-endian encoding of
// v, for v >= 8.
func valueLen(v uint64) int {
	return (bits.Len64(v) + 7) / 8
}

// headerLen returns the encoded size of the header for kid and ctr.
func headerLen(kid, ctr uint64) int {
	n := 1
	if kid >= 8 {
		n += valueLen(kid)
	}
	if ctr >= 8 {
		n += valueLen(ctr)
	}
	return n
}

// appendHeader appends the SFrame header for kid and ctr to dst
// (RFC 9605 §4.3).
func appendHeader(dst []byte, kid, ctr uint64) []byte {
	var cfg byte
	var kl, cl int
	if kid < 8 {
		cfg = byte(kid) << 4
	} else {
		kl = valueLen(kid)
		cfg = 0x80 | byte(kl-1)<<4
	}
	if ctr < 8 {
		cfg |= byte(ctr)
	} else {
		cl = valueLen(ctr)
		cfg |= 0x08 | byte(cl-1)
	}
	dst = append(dst, cfg)
	dst = appendUint(dst, kid, kl)
	return appendUint(dst, ctr, cl)
}

// appendUint appends the n low-order bytes of v, big-endian.
func appendUint(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// parseHeader decodes the SFrame header at the start of b and returns the
// KID, the CTR and the header length. Its result is untrusted until the
// frame's tag verifies (the header is part of the AAD). Errors wrap
// [ErrMalformed].
func parseHeader(b []byte) (kid, ctr uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, fmt.Errorf("%w: empty header", ErrMalformed)
	}
	cfg := b[0]
	n = 1
	kid, n, err = parseField(b, n, cfg&0x80 != 0, uint64(cfg>>4&0x07), "KID")
	if err != nil {
		return 0, 0, 0, err
	}
	ctr, n, err = parseField(b, n, cfg&0x08 != 0, uint64(cfg&0x07), "CTR")
	if err != nil {
		return 0, 0, 0, err
	}
	return kid, ctr, n, nil
}

// parseField decodes one header field starting at b[off]: the value itself
// when extended is false, otherwise a big-endian integer of v+1 bytes.
func parseField(b []byte, off int, extended bool, v uint64, name string) (uint64, int, error) {
	if !extended {
		return v, off, nil
	}
	l := int(v) + 1
	if len(b)-off < l {
		return 0, 0, fmt.Errorf("%w: header truncated in %s", ErrMalformed, name)
	}
	var x uint64
	for _, c := range b[off : off+l] {
		x = x<<8 | uint64(c)
	}
	if x < 8 || valueLen(x) != l {
		return 0, 0, fmt.Errorf("%w: non-minimal %s encoding", ErrMalformed, name)
	}
	return x, off + l, nil
}
