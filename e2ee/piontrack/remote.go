package piontrack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// DefaultMaxDelay is how long, in RTP media time, the sample builder waits
// for a missing packet before it drops the frame, when
// [RemoteConfig.MaxDelay] is zero.
const DefaultMaxDelay = 500 * time.Millisecond

// RemoteConfig configures a [RemoteTrack]. The zero value is valid.
type RemoteConfig struct {
	// MaxLate is the sample builder's reorder/loss tolerance in packets
	// (see samplebuilder.New). Zero selects DefaultMaxLate.
	MaxLate uint16

	// MaxDelay bounds how long a frame with a missing packet is waited
	// for (samplebuilder.WithMaxTimeDelay). It is measured in RTP media
	// time, not wall-clock time: the incomplete frame is dropped once a
	// packet arrives whose RTP timestamp is more than MaxDelay (at the
	// track's clock rate) newer than the frame's. Whichever of MaxLate and
	// MaxDelay is reached first gives up on the frame; without a time
	// bound, a lost packet at a low packet rate (e.g. 15 fps video,
	// ~30 packets/s) would stall the track for many seconds.
	//
	// Zero selects DefaultMaxDelay. The sample builder works in whole
	// milliseconds, so MaxDelay must be at least 1 ms; a negative value
	// or one that does not fit in an RTP timestamp distance (2^31 ticks)
	// is an error.
	MaxDelay time.Duration
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

	droppedPackets atomic.Uint64
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
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	// samplebuilder.WithMaxTimeDelay truncates to whole milliseconds and
	// treats a result of zero ticks as "no time bound"; its timestamp
	// distances are at most 2^31.
	if ticks := int64(params.ClockRate) * cfg.MaxDelay.Milliseconds() / 1000; ticks <= 0 || ticks >= 1<<31 {
		return nil, fmt.Errorf("piontrack: MaxDelay %v out of range at clock rate %d", cfg.MaxDelay, params.ClockRate)
	}
	return &RemoteTrack{
		track:    track,
		receiver: receiver,
		codec:    c,
		sb: samplebuilder.New(cfg.MaxLate, depacketizer(), params.ClockRate,
			samplebuilder.WithMaxTimeDelay(cfg.MaxDelay)),
	}, nil
}

// DroppedPackets returns how many RTP sequence numbers the sample builder
// skipped without delivering them in a frame: lost packets and the
// received remains of their frames (given up after MaxLate packets or
// MaxDelay), and padding. Such frames never reach decryption, so the
// [e2ee.Receiver] does not count them as authentication failures. The
// count grows when the next frame is reassembled, by that frame's
// [media.Sample.PrevDroppedPackets].
func (t *RemoteTrack) DroppedPackets() uint64 { return t.droppedPackets.Load() }

// ReadSample blocks until the next frame is reassembled, then decrypts it.
// It returns the decrypted frame (clear prefix ‖ plaintext, exactly what the
// sender wrote) or an error. A frame that lost a packet is never returned,
// not even in part: the sample builder drops it (see
// [RemoteConfig.MaxDelay] and [RemoteTrack.DroppedPackets]) and ReadSample
// goes on with the next whole frame. (pion's samplebuilder, as of webrtc
// v4.2.26, also discards the first packet after a dropped partial VP8
// frame, so the frame that follows a damaged one is usually lost too; a
// VP8 decoder cannot use that delta frame without its reference anyway.)
// Errors:
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
			t.droppedPackets.Add(uint64(s.PrevDroppedPackets))
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
