// Package codec implements the wire encoding of RFC 9420: the TLS presentation
// language (RFC 8446 §3) with variable-size vectors whose lengths are QUIC-style
// variable-length integers (RFC 9420 §2.1.2).
//
// Encoding appends to a [Builder]; decoding reads from a [Reader]. Both keep
// the first error and turn every later call into a no-op, so a struct's
// encoder or decoder is a straight list of fields followed by one error check:
//
//	r := codec.NewReader(data)
//	v.Version = r.Uint16()
//	v.GroupID = r.Opaque()
//	if err := r.Finish(); err != nil { ... }
//
// A Reader never panics on hostile input: every length is checked against the
// bytes that remain before anything is sliced or allocated.
package codec

import (
	"errors"
	"fmt"
)

// MaxVarint is the largest value a variable-length integer can carry
// (2^30 − 1): RFC 9420 §2.1.2 allows one, two and four byte encodings.
const MaxVarint = 1<<30 - 1

// ErrMalformed is returned (wrapped) for any input that is not a valid
// encoding: truncated data, a length beyond what remains, a non-minimal or
// reserved varint, an invalid optional or boolean byte, or trailing bytes.
var ErrMalformed = errors.New("mls codec: malformed encoding")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// AppendVarint appends v as an RFC 9420 §2.1.2 variable-length integer in the
// minimum number of bytes. It reports false if v exceeds MaxVarint.
func AppendVarint(b []byte, v uint64) ([]byte, bool) {
	switch {
	case v < 1<<6:
		return append(b, byte(v)), true
	case v < 1<<14:
		return append(b, byte(v>>8)|0x40, byte(v)), true
	case v < 1<<30:
		return append(b, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v)), true
	default:
		return b, false
	}
}

// ReadVarint decodes a variable-length integer from the front of b and
// returns it with the number of bytes used. Following RFC 9420 §2.1.2, the
// two-bit prefix 0b11 is invalid and a value must use the minimum encoding.
func ReadVarint(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, malformed("varint: no data")
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0]), 1, nil
	case 1:
		if len(b) < 2 {
			return 0, 0, malformed("varint: truncated")
		}
		v = uint64(b[0]&0x3f)<<8 | uint64(b[1])
		if v < 1<<6 {
			return 0, 0, malformed("varint: non-minimal encoding")
		}
		return v, 2, nil
	case 2:
		if len(b) < 4 {
			return 0, 0, malformed("varint: truncated")
		}
		v = uint64(b[0]&0x3f)<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if v < 1<<14 {
			return 0, 0, malformed("varint: non-minimal encoding")
		}
		return v, 4, nil
	default:
		return 0, 0, malformed("varint: reserved prefix 0b11")
	}
}

// Marshaler is implemented by every RFC 9420 structure that can be encoded.
type Marshaler interface {
	MarshalMLS(b *Builder)
}

// Unmarshaler is implemented by every RFC 9420 structure that can be decoded.
// UnmarshalMLS reads exactly the structure's fields; errors are recorded in r.
type Unmarshaler interface {
	UnmarshalMLS(r *Reader)
}

// Marshal returns the encoding of v.
func Marshal(v Marshaler) ([]byte, error) {
	var b Builder
	v.MarshalMLS(&b)
	return b.Bytes()
}

// Unmarshal decodes data into v and requires that every byte is consumed.
func Unmarshal(data []byte, v Unmarshaler) error {
	r := NewReader(data)
	v.UnmarshalMLS(r)
	return r.Finish()
}
