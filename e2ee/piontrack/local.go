package piontrack

import (
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/e2ee"
)

// LocalTrack is a [webrtc.TrackLocal] whose samples are SFrame-encrypted
// before pion packetizes them. Add it to a PeerConnection in place of the
// wrapped track. It deliberately does not expose the wrapped track's other
// write paths, so every frame it sends is encrypted.
//
// LocalTrack is safe for concurrent use.
type LocalTrack struct {
	track  *webrtc.TrackLocalStaticSample
	sender *e2ee.Sender
	codec  e2ee.Codec

	mu  sync.Mutex
	buf []byte // reused: pion's payloaders copy the sample
}

var _ webrtc.TrackLocal = (*LocalTrack)(nil)

// NewLocalTrack wraps track so that [LocalTrack.WriteSample] encrypts each
// sample with sender. The codec (VP8 or Opus) comes from track's codec
// capability.
func NewLocalTrack(track *webrtc.TrackLocalStaticSample, sender *e2ee.Sender) (*LocalTrack, error) {
	if track == nil || sender == nil {
		return nil, fmt.Errorf("piontrack: nil track or sender")
	}
	c, _, err := codecFor(track.Codec().MimeType)
	if err != nil {
		return nil, err
	}
	return &LocalTrack{track: track, sender: sender, codec: c}, nil
}

// WriteSample encrypts sample.Data as one SFrame frame with the codec's
// clear prefix (clear prefix ‖ SFrame header ‖ ciphertext ‖ tag) and writes
// it to the wrapped track. On an encryption error nothing is sent and the
// error wraps an e2ee sentinel (e.g. [e2ee.ErrCounterExhausted]).
func (t *LocalTrack) WriteSample(sample media.Sample) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	enc, err := t.sender.EncryptFrame(t.buf[:0], t.codec, sample.Data)
	if err != nil {
		return fmt.Errorf("piontrack: encrypting %v frame: %w", t.codec, err)
	}
	t.buf = enc
	sample.Data = enc
	return t.track.WriteSample(sample)
}

// Bind implements [webrtc.TrackLocal].
func (t *LocalTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return t.track.Bind(c)
}

// Unbind implements [webrtc.TrackLocal].
func (t *LocalTrack) Unbind(c webrtc.TrackLocalContext) error { return t.track.Unbind(c) }

// ID implements [webrtc.TrackLocal].
func (t *LocalTrack) ID() string { return t.track.ID() }

// RID implements [webrtc.TrackLocal].
func (t *LocalTrack) RID() string { return t.track.RID() }

// StreamID implements [webrtc.TrackLocal].
func (t *LocalTrack) StreamID() string { return t.track.StreamID() }

// Kind implements [webrtc.TrackLocal].
func (t *LocalTrack) Kind() webrtc.RTPCodecType { return t.track.Kind() }

// Codec returns the wrapped track's codec capability.
func (t *LocalTrack) Codec() webrtc.RTPCodecCapability { return t.track.Codec() }
