package piontrack

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/tresor-dev/tresor/e2ee"
)

// TestWireCarriesCiphertext reads the VP8 track as the SFU would, without
// decrypting: each reassembled RTP frame keeps the codec's clear prefix
// byte-identical, is exactly one SFrame header and tag longer than the
// original, and does not contain the original payload.
func TestWireCarriesCiphertext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := newKey(t)
	snd, _ := e2ee.NewSender(e2ee.Config{})
	if err := snd.SetKey(0x0105, key); err != nil {
		t.Fatal(err)
	}
	rcv, _ := e2ee.NewReceiver(e2ee.Config{})
	if err := rcv.Add(0x0105, key); err != nil {
		t.Fatal(err)
	}
	tracks := call(t, ctx, snd)
	video := tracks["video"]
	sb := samplebuilder.New(DefaultMaxLate, &codecs.VP8Packet{}, video.Codec().ClockRate)
	for seen := 0; seen < 30; {
		pkt, _, err := video.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			wire := s.Data
			// Learn which frame this is by decrypting a copy.
			dec, err := rcv.DecryptFrame(nil, e2ee.CodecVP8, wire)
			if err != nil {
				t.Fatal(err)
			}
			orig := vp8TestFrame(frameIndex(e2ee.CodecVP8, dec))
			prefix := 3
			if orig[0]&1 == 0 {
				prefix = 10
			}
			if !bytes.Equal(wire[:prefix], orig[:prefix]) {
				t.Fatalf("clear prefix changed on the wire")
			}
			// KID 0x0105 takes 2 header bytes, CTR 0..7 none, up to 65535 2.
			if extra := len(wire) - len(orig); extra < 3+16 || extra > 5+16 {
				t.Fatalf("wire frame is %d bytes longer than the original", extra)
			}
			if bytes.Contains(wire, orig[prefix:prefix+16]) {
				t.Fatalf("plaintext payload visible on the wire")
			}
			seen++
		}
	}
}
