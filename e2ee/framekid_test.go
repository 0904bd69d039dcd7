package e2ee

import (
	"errors"
	"testing"
)

// TestFrameKID checks FrameKID against frames sealed by EncryptFrame for
// short and long KIDs, after each codec's clear prefix.
func TestFrameKID(t *testing.T) {
	vp8Key := append([]byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, make([]byte, 50)...)
	vp8Delta := append([]byte{0x11, 0, 0}, make([]byte, 50)...)
	opus := append([]byte{0x78}, make([]byte, 50)...)
	for _, kid := range []uint64{0, 7, 8, 0x1ff, 0x10203, 1<<56 | 5} {
		s, err := NewSender(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetKey(kid, make([]byte, 16)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			c     Codec
			frame []byte
		}{{CodecVP8, vp8Key}, {CodecVP8, vp8Delta}, {CodecOpus, opus}} {
			enc, err := s.EncryptFrame(nil, tc.c, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FrameKID(tc.c, enc)
			if err != nil || got != kid {
				t.Errorf("%v frame with KID %#x: read %#x, %v", tc.c, kid, got, err)
			}
			for n := range enc[:min(len(enc), 20)] {
				FrameKID(tc.c, enc[:n]) // truncated: must not panic
			}
		}
	}
	if _, err := FrameKID(CodecVP8, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty frame: err = %v, want ErrMalformed", err)
	}
}

// FuzzFrameKID: FrameKID never panics and agrees with a frame that
// EncryptFrame sealed under the KID it reads.
func FuzzFrameKID(f *testing.F) {
	f.Add(uint8(CodecVP8), []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0x91, 0x01, 0xff, 0})
	f.Add(uint8(CodecOpus), []byte{0x17})
	f.Add(uint8(CodecOpus), []byte{0xf0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, c uint8, data []byte) {
		codec := Codec(c%2 + 1)
		kid, err := FrameKID(codec, data)
		if err != nil {
			return
		}
		// Any KID that was read must round-trip through a real header.
		s, err := NewSender(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetKey(kid, make([]byte, 16)); err != nil {
			t.Fatal(err)
		}
		enc, err := s.EncryptFrame(nil, codec, []byte{0x11, 0, 0, 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := FrameKID(codec, enc); err != nil || got != kid {
			t.Fatalf("KID %#x read back as %#x, %v", kid, got, err)
		}
	})
}
