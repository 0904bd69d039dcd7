package codec

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// TestDeserializationVectors runs deserialization.json of the MLS interop
// vectors: each vlbytes_header must decode to its length and re-encode to the
// same bytes.
func TestDeserializationVectors(t *testing.T) {
	f, err := os.Open("../../testdata/deserialization.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Header string `json:"vlbytes_header"`
		Length uint64 `json:"length"`
	}
	if err := json.NewDecoder(zr).Decode(&vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vectors {
		hdr, err := hex.DecodeString(v.Header)
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := ReadVarint(hdr)
		if err != nil || n != len(hdr) || got != v.Length {
			t.Errorf("ReadVarint(%s) = %d, %d, %v; want %d, %d", v.Header, got, n, err, v.Length, len(hdr))
		}
		enc, ok := AppendVarint(nil, v.Length)
		if !ok || !bytes.Equal(enc, hdr) {
			t.Errorf("AppendVarint(%d) = %x; want %s", v.Length, enc, v.Header)
		}
	}
}

func TestVarintRejects(t *testing.T) {
	for _, in := range []string{"", "40", "4000", "403f", "800000", "80003fff", "c0", "ffffffffffffffff"} {
		b, _ := hex.DecodeString(in)
		if _, _, err := ReadVarint(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("ReadVarint(%q) error = %v; want ErrMalformed", in, err)
		}
	}
	if _, ok := AppendVarint(nil, MaxVarint+1); ok {
		t.Error("AppendVarint accepted 2^30")
	}
}

type sample struct {
	A   uint8
	B   uint16
	C   uint32
	D   uint64
	E   bool
	F   []byte
	G   []uint16
	H   *uint32
	Fix []byte
}

func (s *sample) MarshalMLS(b *Builder) {
	b.Uint8(s.A)
	b.Uint16(s.B)
	b.Uint32(s.C)
	b.Uint64(s.D)
	b.Bool(s.E)
	b.Opaque(s.F)
	b.Vector(func(b *Builder) {
		for _, g := range s.G {
			b.Uint16(g)
		}
	})
	b.Optional(s.H != nil, func(b *Builder) { b.Uint32(*s.H) })
	b.Raw(s.Fix)
}

func (s *sample) UnmarshalMLS(r *Reader) {
	s.A = r.Uint8()
	s.B = r.Uint16()
	s.C = r.Uint32()
	s.D = r.Uint64()
	s.E = r.Bool()
	s.F = r.Opaque()
	s.G = nil
	r.VectorEach(func(r *Reader) { s.G = append(s.G, r.Uint16()) })
	s.H = nil
	if r.Optional() {
		h := r.Uint32()
		s.H = &h
	}
	s.Fix = r.Raw(4)
}

func TestRoundTrip(t *testing.T) {
	h := uint32(7)
	in := &sample{A: 1, B: 0x0203, C: 0x04050607, D: 1<<63 + 9, E: true,
		F: bytes.Repeat([]byte{0xaa}, 70), G: []uint16{1, 2, 3}, H: &h, Fix: []byte{9, 9, 9, 9}}
	enc, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "01" + "0203" + "04050607" + "8000000000000009" + "01" +
		"4046" + hex.EncodeToString(in.F) + "06000100020003" + "0100000007" + "09090909"
	if got := hex.EncodeToString(enc); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	var out sample
	if err := Unmarshal(enc, &out); err != nil {
		t.Fatal(err)
	}
	re, _ := Marshal(&out)
	if !bytes.Equal(re, enc) {
		t.Fatal("re-encoding differs")
	}
	// Every truncation fails cleanly; a trailing byte is rejected.
	for i := range enc {
		if err := Unmarshal(enc[:i], &out); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: err = %v", i, err)
		}
	}
	if err := Unmarshal(append(enc, 0), &out); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: err = %v", err)
	}
}

func TestVectorHeaderGrows(t *testing.T) {
	// A vector whose content needs a 4-byte length header.
	content := bytes.Repeat([]byte{1}, 20000)
	var b Builder
	b.Vector(func(b *Builder) { b.Raw(content) })
	enc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc[:4], []byte{0x80, 0x00, 0x4e, 0x20}) || !bytes.Equal(enc[4:], content) {
		t.Fatalf("bad vector encoding: % x...", enc[:8])
	}
	r := NewReader(enc)
	if got := r.Opaque(); !bytes.Equal(got, content) || r.Finish() != nil {
		t.Fatal("round trip failed")
	}
}

func TestBadBytes(t *testing.T) {
	r := NewReader([]byte{2})
	r.Bool()
	if !errors.Is(r.Finish(), ErrMalformed) {
		t.Error("bool 2 accepted")
	}
	r = NewReader([]byte{5})
	r.Optional()
	if !errors.Is(r.Finish(), ErrMalformed) {
		t.Error("optional 5 accepted")
	}
	r = NewReader([]byte{0x03, 0x01})
	r.Opaque()
	if !errors.Is(r.Finish(), ErrMalformed) {
		t.Error("over-long vector accepted")
	}
	// An element decoder that reads nothing must not loop forever.
	r = NewReader([]byte{0x01, 0x00})
	r.VectorEach(func(r *Reader) {})
	if !errors.Is(r.Finish(), ErrMalformed) {
		t.Error("zero-size elements accepted")
	}
}

func FuzzDecode(f *testing.F) {
	h := uint32(1)
	seed, _ := Marshal(&sample{F: []byte("x"), G: []uint16{5}, H: &h, Fix: make([]byte, 4)})
	f.Add(seed)
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		if err := Unmarshal(data, &s); err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		re, err := Marshal(&s)
		if err != nil || !bytes.Equal(re, data) {
			t.Fatalf("decode/encode mismatch: %x -> %x (%v)", data, re, err)
		}
	})
}
