package codec

import (
	"encoding/binary"
	"fmt"
)

// A Builder appends RFC 9420 encodings to a byte slice. The zero value is
// ready to use. After the first error every method is a no-op and Bytes
// returns that error.
type Builder struct {
	buf []byte
	err error
}

// NewBuilder returns a Builder that appends to buf (which may be nil), so a
// caller can reuse a buffer.
func NewBuilder(buf []byte) *Builder { return &Builder{buf: buf} }

// Bytes returns the encoding built so far, or the first error.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.buf, nil
}

// Err returns the first error recorded, if any.
func (b *Builder) Err() error { return b.err }

// SetError records err (if it is the first) so that Bytes fails. Encoders use
// it to reject values that cannot be represented.
func (b *Builder) SetError(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Uint8 appends v.
func (b *Builder) Uint8(v uint8) {
	if b.err == nil {
		b.buf = append(b.buf, v)
	}
}

// Uint16 appends v in network byte order.
func (b *Builder) Uint16(v uint16) {
	if b.err == nil {
		b.buf = binary.BigEndian.AppendUint16(b.buf, v)
	}
}

// Uint32 appends v in network byte order.
func (b *Builder) Uint32(v uint32) {
	if b.err == nil {
		b.buf = binary.BigEndian.AppendUint32(b.buf, v)
	}
}

// Uint64 appends v in network byte order.
func (b *Builder) Uint64(v uint64) {
	if b.err == nil {
		b.buf = binary.BigEndian.AppendUint64(b.buf, v)
	}
}

// Bool appends a TLS boolean: one byte, 0 or 1.
func (b *Builder) Bool(v bool) {
	if v {
		b.Uint8(1)
	} else {
		b.Uint8(0)
	}
}

// Varint appends v as a variable-length integer (RFC 9420 §2.1.2).
func (b *Builder) Varint(v uint64) {
	if b.err != nil {
		return
	}
	var ok bool
	if b.buf, ok = AppendVarint(b.buf, v); !ok {
		b.err = fmt.Errorf("mls codec: value %d exceeds the varint range", v)
	}
}

// Raw appends p as it is: a fixed-size array such as opaque hash[32].
func (b *Builder) Raw(p []byte) {
	if b.err == nil {
		b.buf = append(b.buf, p...)
	}
}

// Opaque appends the variable-size vector opaque<V>: a varint length, then p.
func (b *Builder) Opaque(p []byte) {
	b.Varint(uint64(len(p)))
	b.Raw(p)
}

// Vector appends a variable-size vector whose content f writes: a varint
// length followed by the content (RFC 9420 §2.1.2). It is used for vectors of
// structs, such as Proposal proposals<V>.
func (b *Builder) Vector(f func(b *Builder)) {
	if b.err != nil {
		return
	}
	start := len(b.buf)
	f(b)
	if b.err != nil {
		return
	}
	content := len(b.buf) - start
	var hdr [4]byte
	h, ok := AppendVarint(hdr[:0], uint64(content))
	if !ok {
		b.err = fmt.Errorf("mls codec: vector of %d bytes exceeds the varint range", content)
		return
	}
	// Move the content right by the header's size and write the header
	// in front of it.
	b.buf = append(b.buf, h...)
	copy(b.buf[start+len(h):], b.buf[start:start+content])
	copy(b.buf[start:], h)
}

// Optional appends the TLS optional<T>: a presence byte, then T written by f
// when present (RFC 9420 §2.1.1).
func (b *Builder) Optional(present bool, f func(b *Builder)) {
	b.Bool(present)
	if present {
		f(b)
	}
}

// Marshal appends the encoding of v.
func (b *Builder) Marshal(v Marshaler) {
	if b.err == nil {
		v.MarshalMLS(b)
	}
}
