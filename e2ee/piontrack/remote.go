package piontrack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/tresor-dev/tresor/e2ee"
)

// DefaultMaxLate is how many RTP packets the sample builder waits for a
// missing packet before it gives up on a frame, when [RemoteConfig.MaxLate]
// is zero.
const DefaultMaxLate = 256

// RemoteConfig configures a [RemoteTrack]. The zero value is valid.
type RemoteConfig struct {
	// MaxLate is the sample builder's reorder/loss tolerance in packets
	// (see samplebuilder.New). Zero selects DefaultMaxLate.
	MaxLate uint16
}

// RemoteTrack reads whole SFrame-encrypted frames from a
// [webrtc.TrackRemote] and decrypts them.
//
// ReadSample is meant for one reading goroutine; concurrent calls are
// serialized.
type RemoteTrack struct {
	track    *webrtc.TrackRemote
	receiver *e2ee.Receiver
	codec    e2ee.Codec

	mu sync.Mutex
	sb *samplebuilder.SampleBuilder
}

// NewRemoteTrack returns a RemoteTrack that reassembles track's RTP packets
// into frames with pion's samplebuilder and the codec's depacketizer and
// decrypts them with receiver. The codec comes from track's negotiated
// codec; VP8 and Opus are supported.
func NewRemoteTrack(track *webrtc.TrackRemote, receiver *e2ee.Receiver, cfg RemoteConfig) (*RemoteTrack, error) {
	if track == nil || receiver == nil {
		return nil, fmt.Errorf("piontrack: nil track or receiver")
	}
	params := track.Codec()
	c, depacketizer, err := codecFor(params.MimeType)
	if err != nil {
		return nil, err
	}
	if cfg.MaxLate == 0 {
		cfg.MaxLate = DefaultMaxLate
	}
	if params.ClockRate == 0 {
		return nil, fmt.Errorf("piontrack: track has no clock rate")
	}
	return &RemoteTrack{
		track:    track,
		receiver: receiver,
		codec:    c,
		sb:       samplebuilder.New(cfg.MaxLate, depacketizer(), params.ClockRate),
	}, nil
}

// ReadSample blocks until the next frame is reassembled, then decrypts it.
// It returns the decrypted frame (clear prefix ‖ plaintext, exactly what the
// sender wrote) or an error:
//
//   - a per-frame error wrapping [e2ee.ErrAuthentication],
//     [e2ee.ErrUnknownKey], [e2ee.ErrReplay] or [e2ee.ErrMalformed]: that
//     frame is dropped and the caller may call ReadSample again;
//   - ctx's error if ctx ends first;
//   - the track's read error (io.EOF once the track ends), which is final.
func (t *RemoteTrack) ReadSample(ctx context.Context) (*media.Sample, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		if s := t.sb.Pop(); s != nil {
			data, err := t.receiver.DecryptFrame(nil, t.codec, s.Data)
			if err != nil {
				return nil, fmt.Errorf("piontrack: %v frame at RTP timestamp %d: %w", t.codec, s.PacketTimestamp, err)
			}
			s.Data = data
			return s, nil
		}
		pkt, err := t.readRTP(ctx)
		if err != nil {
			return nil, err
		}
		t.sb.Push(pkt)
	}
}

// readRTP reads one packet, giving up when ctx ends: a cancelled context
// moves the track's read deadline to now, which unblocks the read.
func (t *RemoteTrack) readRTP(ctx context.Context) (*rtp.Packet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.track.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("piontrack: %w", err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = t.track.SetReadDeadline(time.Now())
		close(fired)
	})
	pkt, _, err := t.track.ReadRTP()
	if !stop() {
		<-fired // the deadline was moved; wait so the next read can reset it
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	return pkt, nil
}
