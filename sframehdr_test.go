package tresor

import (
	"testing"

	"github.com/tresor-dev/tresor/e2ee"
)

// TestFrameKID checks frameKID against frames sealed by package e2ee for
// short and long KIDs, after each codec's clear prefix.
func TestFrameKID(t *testing.T) {
	vp8Key := append([]byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, make([]byte, 50)...)
	vp8Delta := append([]byte{0x11, 0, 0}, make([]byte, 50)...)
	opus := append([]byte{0x78}, make([]byte, 50)...)
	for _, kid := range []uint64{0, 7, 8, 0x1ff, 0x10203, 1<<56 | 5} {
		s, err := e2ee.NewSender(e2ee.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetKey(kid, make([]byte, 16)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			c     e2ee.Codec
			frame []byte
		}{{e2ee.CodecVP8, vp8Key}, {e2ee.CodecVP8, vp8Delta}, {e2ee.CodecOpus, opus}} {
			enc, err := s.EncryptFrame(nil, tc.c, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := frameKID(tc.c, enc)
			if !ok || got != kid {
				t.Errorf("%v frame with KID %#x: read %#x, %v", tc.c, kid, got, ok)
			}
			for n := range enc[:min(len(enc), 20)] {
				frameKID(tc.c, enc[:n]) // truncated: must not panic
			}
		}
	}
	if _, ok := frameKID(e2ee.CodecVP8, nil); ok {
		t.Error("empty frame parsed")
	}
}

// FuzzFrameKID: frameKID never panics and agrees with a frame that e2ee
// sealed under the KID it reads.
func FuzzFrameKID(f *testing.F) {
	f.Add(uint8(e2ee.CodecVP8), []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0x91, 0x01, 0xff, 0})
	f.Add(uint8(e2ee.CodecOpus), []byte{0x17})
	f.Add(uint8(e2ee.CodecOpus), []byte{0xf0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, c uint8, data []byte) {
		codec := e2ee.Codec(c%2 + 1)
		kid, ok := frameKID(codec, data)
		if !ok {
			return
		}
		// Any KID that was read must round-trip through a real header.
		s, err := e2ee.NewSender(e2ee.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetKey(kid, make([]byte, 16)); err != nil {
			t.Fatal(err)
		}
		frame := append([]byte{0x11, 0, 0}, 1)
		enc, err := s.EncryptFrame(nil, codec, frame)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := frameKID(codec, enc); !ok || got != kid {
			t.Fatalf("KID %#x read back as %#x, %v", kid, got, ok)
		}
	})
}
