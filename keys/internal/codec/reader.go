package codec

import "encoding/binary"

// A Reader decodes RFC 9420 encodings from a byte slice. After the first
// error every method returns a zero value and Err and Finish report that error.
//
// Byte slices returned by Reader methods alias the input; callers that keep
// them past the input's lifetime must copy them.
type Reader struct {
	s   []byte
	err error
}

// NewReader returns a Reader over data.
func NewReader(data []byte) *Reader { return &Reader{s: data} }

// Err returns the first error recorded, if any.
func (r *Reader) Err() error { return r.err }

// SetError records err (if it is the first) and stops further reading.
// Decoders use it to reject values the encoding allows but the structure
// does not, such as an unknown enum value.
func (r *Reader) SetError(err error) {
	if r.err == nil {
		r.err = err
		r.s = nil
	}
}

// Empty reports whether all bytes have been consumed (or an error occurred).
func (r *Reader) Empty() bool { return len(r.s) == 0 }

// Len returns the number of bytes left.
func (r *Reader) Len() int { return len(r.s) }

// Finish returns the first error, or an error if any bytes remain.
func (r *Reader) Finish() error {
	if r.err != nil {
		return r.err
	}
	if len(r.s) != 0 {
		return malformed("%d trailing bytes", len(r.s))
	}
	return nil
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.s) {
		r.SetError(malformed("need %d bytes, have %d", n, len(r.s)))
		return nil
	}
	v := r.s[:n:n]
	r.s = r.s[n:]
	return v
}

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() uint16 {
	if p := r.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64() uint64 {
	if p := r.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// Bool reads a TLS boolean; any byte other than 0 or 1 is an error.
func (r *Reader) Bool() bool {
	switch v := r.Uint8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.SetError(malformed("boolean byte %d", v))
		return false
	}
}

// Varint reads a variable-length integer (RFC 9420 §2.1.2).
func (r *Reader) Varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := ReadVarint(r.s)
	if err != nil {
		r.SetError(err)
		return 0
	}
	r.s = r.s[n:]
	return v
}

// Raw reads exactly n bytes: a fixed-size array.
func (r *Reader) Raw(n int) []byte { return r.take(n) }

// Opaque reads the variable-size vector opaque<V>. An empty vector decodes
// as a non-nil empty slice when the input is valid.
func (r *Reader) Opaque() []byte {
	n := r.Varint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.s)) {
		r.SetError(malformed("vector length %d exceeds %d remaining bytes", n, len(r.s)))
		return nil
	}
	return r.take(int(n))
}

// Vector reads a variable-size vector and returns a Reader over its content.
// The caller reads elements until the sub-reader is Empty; errors in the
// sub-reader are propagated to r by the caller with Check, or by using
// VectorEach.
func (r *Reader) Vector() *Reader {
	content := r.Opaque()
	sub := &Reader{s: content}
	if r.err != nil {
		sub.err = r.err
	}
	return sub
}

// VectorEach reads a variable-size vector and calls f once per element until
// the vector's content is consumed. f reads one element from the sub-reader
// it is given. Errors in the content are recorded in r.
func (r *Reader) VectorEach(f func(r *Reader)) {
	sub := r.Vector()
	for r.err == nil && sub.err == nil && !sub.Empty() {
		before := sub.Len()
		f(sub)
		if sub.err == nil && sub.Len() == before {
			// An element that consumes nothing would loop forever.
			sub.SetError(malformed("vector element of zero bytes"))
		}
	}
	r.Check(sub)
}

// Check copies a sub-reader's error into r.
func (r *Reader) Check(sub *Reader) {
	if sub.err != nil {
		r.SetError(sub.err)
	}
}

// Optional reads the presence byte of a TLS optional<T> and reports whether
// T follows (RFC 9420 §2.1.1).
func (r *Reader) Optional() bool {
	switch v := r.Uint8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.SetError(malformed("optional presence byte %d", v))
		return false
	}
}

// Unmarshal reads v from r.
func (r *Reader) Unmarshal(v Unmarshaler) {
	if r.err == nil {
		v.UnmarshalMLS(r)
	}
}
