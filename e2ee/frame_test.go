package e2ee

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// vp8Frame returns a VP8-shaped frame of n bytes: a key frame (frame tag bit
// 0 clear, start code 9d 01 2a, 640x480) or a delta frame.
func vp8Frame(key bool, n int) []byte {
	f := make([]byte, n)
	rand.Read(f)
	if n == 0 {
		return f
	}
	if key {
		f[0] &^= 0x01
		if n >= 10 {
			copy(f[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
		}
	} else {
		f[0] |= 0x01
	}
	return f
}

func TestFrameLayout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		codec  Codec
		frame  []byte
		prefix int
	}{
		{"VP8 key frame", CodecVP8, vp8Frame(true, 1500), 10},
		{"VP8 key frame, prefix only", CodecVP8, vp8Frame(true, 10), 10},
		{"VP8 delta frame", CodecVP8, vp8Frame(false, 300), 3},
		{"VP8 delta frame, prefix only", CodecVP8, vp8Frame(false, 3), 3},
		{"Opus", CodecOpus, []byte{0x78, 1, 2, 3, 4, 5}, 0},
		{"Opus, one byte", CodecOpus, []byte{0xfc}, 0},
		{"Opus, empty", CodecOpus, []byte{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snd, rcv := newPair(t, AES128GCMSHA256, 300)
			enc, err := snd.EncryptFrame(nil, tc.codec, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			// clear prefix ‖ SFrame header ‖ ciphertext ‖ tag
			if !bytes.Equal(enc[:tc.prefix], tc.frame[:tc.prefix]) {
				t.Fatalf("clear prefix %x, want %x", enc[:tc.prefix], tc.frame[:tc.prefix])
			}
			kid, ctr, hl, err := parseHeader(enc[tc.prefix:])
			if err != nil || kid != 300 || ctr != 0 {
				t.Fatalf("header after prefix: kid %d ctr %d %v", kid, ctr, err)
			}
			if want := len(tc.frame) + hl + AES128GCMSHA256.Overhead(); len(enc) != want {
				t.Fatalf("encrypted frame is %d bytes, want %d", len(enc), want)
			}
			if len(tc.frame) > tc.prefix+4 && bytes.Contains(enc, tc.frame[tc.prefix:]) {
				t.Fatal("payload appears in the clear")
			}
			dec, err := rcv.DecryptFrame(nil, tc.codec, enc)
			if err != nil || !bytes.Equal(dec, tc.frame) {
				t.Fatalf("DecryptFrame = %x, %v", dec, err)
			}
			// The clear prefix is authenticated: changing any byte of it
			// (including the VP8 key-frame bit, which moves the header)
			// fails.
			for i := 0; i < tc.prefix; i++ {
				snd2, rcv2 := newPair(t, AES128GCMSHA256, 1)
				enc2, _ := snd2.EncryptFrame(nil, tc.codec, tc.frame)
				enc2[i] ^= 0x40
				if i == 0 {
					enc2[0] ^= 0x41 // flip the P bit too
				}
				if _, err := rcv2.DecryptFrame(nil, tc.codec, enc2); err == nil {
					t.Fatalf("changed prefix byte %d accepted", i)
				}
			}
		})
	}
}

func TestShortFrames(t *testing.T) {
	snd, rcv := newPair(t, AES128CTRHMACSHA256_80, 1)
	for n := 0; n < 10; n++ {
		_, err := snd.EncryptFrame(nil, CodecVP8, vp8Frame(true, n))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte VP8 key frame: %v", n, err)
		}
	}
	for n := 0; n < 3; n++ {
		_, err := snd.EncryptFrame(nil, CodecVP8, vp8Frame(false, n))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte VP8 delta frame: %v", n, err)
		}
	}
	if st := snd.Stats(); st.Malformed != 13 || st.Sealed != 0 {
		t.Errorf("sender stats %+v", st)
	}
	// Receiving: everything shorter than prefix + header + tag is malformed.
	enc, _ := snd.EncryptFrame(nil, CodecVP8, vp8Frame(true, 10))
	for n := 0; n < len(enc); n++ {
		if _, err := rcv.DecryptFrame(nil, CodecVP8, enc[:n]); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthentication) {
			t.Errorf("%d of %d bytes: %v", n, len(enc), err)
		}
	}
	if _, err := snd.EncryptFrame(nil, Codec(99), []byte("x")); err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("unknown codec: %v", err)
	}
}

// With room in dst, a GCM frame costs no allocation, sealing or opening.
func TestZeroAlloc(t *testing.T) {
	for _, s := range []Suite{AES128GCMSHA256, AES256GCMSHA512} {
		snd, rcv := newPair(t, s, 1<<20)
		frame := vp8Frame(true, 1200)
		enc := make([]byte, 0, 2048)
		dec := make([]byte, 0, 2048)
		var err error
		if a := testing.AllocsPerRun(100, func() {
			enc, err = snd.EncryptFrame(enc[:0], CodecVP8, frame)
			if err != nil {
				t.Fatal(err)
			}
			dec, err = rcv.DecryptFrame(dec[:0], CodecVP8, enc)
			if err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocs per frame", s, a)
		}
		if !bytes.Equal(dec, frame) {
			t.Fatal("round trip mismatch")
		}
	}
}
