package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzHeader decodes arbitrary bytes as an SFrame header (RFC 9605 §4.3).
// Whatever decodes must re-encode to exactly the bytes consumed (the
// encoding is minimal, hence unique); whatever fails must fail with
// ErrMalformed. Seeds: the RFC's 289 header vectors.
func FuzzHeader(f *testing.F) {
	for _, h := range loadVectors(f).Header {
		f.Add([]byte(h.Encoded))
	}
	f.Add([]byte{0x80})
	f.Add([]byte{0x90, 0x00, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		kid, ctr, n, err := parseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if n < 1 || n > maxHeaderLen || n > len(b) {
			t.Fatalf("header length %d of %d bytes", n, len(b))
		}
		if enc := appendHeader(nil, kid, ctr); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("decoded %x as kid %d ctr %d, which encodes as %x", b[:n], kid, ctr, enc)
		}
	})
}

// fuzzKey is the fixed base key of the decryption fuzzers.
var fuzzKey = []byte("tresor fuzz base key, 32 bytes!!")

// genuineFrames are frames sealed under fuzzKey for KIDs 0 and 300, with
// metadata; only these may ever authenticate.
type genuine struct {
	suite            Suite
	codec            Codec // 0: bare Seal/Open
	data, meta, want []byte
}

func genuineFrames(t testing.TB) []genuine {
	var out []genuine
	for _, s := range []Suite{AES128GCMSHA256, AES256GCMSHA512, AES128CTRHMACSHA256_80} {
		for _, kid := range []uint64{0, 300} {
			snd, err := NewSender(Config{Suite: s})
			if err != nil {
				t.Fatal(err)
			}
			snd.SetKey(kid, fuzzKey)
			for i, pt := range [][]byte{nil, []byte("x"), []byte("a media frame payload")} {
				meta := []byte("meta")[:i]
				ct, err := snd.Seal(nil, pt, meta)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, genuine{s, 0, ct, meta, pt})
			}
			// Deterministic frames: the fuzzer's worker processes rebuild
			// this list and must get the same bytes.
			key := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 'k', 'e', 'y'}
			delta := []byte{0x31, 0x12, 0x00, 'd', 'e', 'l', 't', 'a'}
			for _, fr := range [][]byte{key, delta, key[:10]} {
				ct, err := snd.EncryptFrame(nil, CodecVP8, fr)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, genuine{s, CodecVP8, ct, nil, fr})
			}
		}
	}
	return out
}

// FuzzOpen feeds arbitrary (mutated) frames and metadata to a Receiver that
// holds the fuzz key for KIDs 0 and 300. Nothing may panic; every rejection
// must wrap one sentinel; and a frame authenticates only if it is, byte for
// byte, one the sender produced, decrypting to that frame's plaintext.
// Seeds: genuine frames of each suite, bare and VP8.
func FuzzOpen(f *testing.F) {
	frames := genuineFrames(f)
	suites := []Suite{AES128GCMSHA256, AES256GCMSHA512, AES128CTRHMACSHA256_80}
	for _, g := range frames {
		si := byte(0)
		for i, s := range suites {
			if s == g.suite {
				si = byte(i)
			}
		}
		f.Add(si, byte(g.codec), g.data, g.meta)
	}
	f.Fuzz(func(t *testing.T, suiteIdx, codec byte, data, meta []byte) {
		s := suites[int(suiteIdx)%len(suites)]
		c := Codec(codec % 3) // 0: bare Open, 1: Opus, 2: VP8
		r, err := NewReceiver(Config{Suite: s})
		if err != nil {
			t.Fatal(err)
		}
		r.Add(0, fuzzKey)
		r.Add(300, fuzzKey)
		var pt []byte
		if c == 0 {
			pt, err = r.Open(nil, data, meta)
		} else {
			pt, err = r.DecryptFrame(nil, c, data)
			meta = nil
		}
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			for _, e := range []error{ErrMalformed, ErrUnknownKey, ErrAuthentication, ErrReplay} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		for _, g := range frames {
			if g.suite != s || !bytes.Equal(g.data, data) {
				continue
			}
			if c == 0 && g.codec == 0 && bytes.Equal(g.meta, meta) && bytes.Equal(g.want, pt) {
				return
			}
			// An Opus frame has no prefix, so it is a bare frame with no
			// metadata; a VP8 frame must match a VP8 original.
			if (c == CodecOpus && g.codec == 0 && len(g.meta) == 0 || c == CodecVP8 && g.codec == CodecVP8) && bytes.Equal(g.want, pt) {
				return
			}
		}
		t.Fatalf("forged frame authenticated: suite %v codec %v data %x meta %x", s, c, data, meta)
	})
}

// FuzzSealOpen round-trips arbitrary frames and metadata through every
// suite and both codecs.
func FuzzSealOpen(f *testing.F) {
	f.Add(uint64(0), []byte("frame"), []byte("meta"), byte(0))
	f.Add(uint64(1<<63), []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xff}, []byte{}, byte(2))
	f.Fuzz(func(t *testing.T, kid uint64, frame, meta []byte, sel byte) {
		s := allSuites[int(sel)%len(allSuites)]
		snd, _ := NewSender(Config{Suite: s})
		rcv, _ := NewReceiver(Config{Suite: s})
		snd.SetKey(kid, fuzzKey)
		rcv.Add(kid, fuzzKey)
		ct, err := snd.Seal(nil, frame, meta)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := rcv.Open(nil, ct, meta)
		if err != nil || !bytes.Equal(pt, frame) {
			t.Fatalf("Seal/Open round trip: %v", err)
		}
		enc, err := snd.EncryptFrame(nil, CodecVP8, frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		dec, err := rcv.DecryptFrame(nil, CodecVP8, enc)
		if err != nil || !bytes.Equal(dec, frame) {
			t.Fatalf("VP8 round trip: %v", err)
		}
	})
}
