package tresor

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor/e2ee"
)

// audioTrack is an Opus track that SFrame-encrypts each packet (Opus frames
// fit one RTP packet) and puts the sender's audio level in the RFC 6464
// header extension. The level is metadata the SFU sees, as the threat model
// says; the audio itself is encrypted like every other frame.
type audioTrack struct {
	*webrtc.TrackLocalStaticRTP
	sender *e2ee.Sender

	extID atomic.Uint32 // negotiated extension ID, 0 if none
	level atomic.Uint32 // -dBov, 0 (loudest) to 127 (silence)

	mu  sync.Mutex
	pk  rtp.Packetizer
	buf []byte
}

func newAudioTrack(id, stream string, sender *e2ee.Sender) (*audioTrack, error) {
	raw, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, id, stream)
	if err != nil {
		return nil, err
	}
	t := &audioTrack{TrackLocalStaticRTP: raw, sender: sender,
		pk: rtp.NewPacketizer(1200, 0, 0, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)}
	t.level.Store(127)
	return t, nil
}

// Bind implements webrtc.TrackLocal and learns the audio level extension's
// negotiated ID.
func (t *audioTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, e := range c.HeaderExtensions() {
		if e.URI == sdp.AudioLevelURI {
			t.extID.Store(uint32(e.ID))
		}
	}
	return t.TrackLocalStaticRTP.Bind(c)
}

// WriteSample encrypts one Opus packet and sends it with the current level.
func (t *audioTrack) WriteSample(s media.Sample) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	enc, err := t.sender.EncryptFrame(t.buf[:0], e2ee.CodecOpus, s.Data)
	if err != nil {
		return fmt.Errorf("encrypting Opus frame: %w", err)
	}
	t.buf = enc
	samples := uint32(s.Duration.Seconds() * 48000)
	level := uint8(t.level.Load())
	ext, _ := rtp.AudioLevelExtension{Level: level, Voice: level < silenceLevel}.Marshal()
	id := uint8(t.extID.Load())
	for _, p := range t.pk.Packetize(enc, samples) {
		if id != 0 {
			if err := p.Header.SetExtension(id, ext); err != nil {
				return err
			}
		}
		if err := t.WriteRTP(p); err != nil {
			return err
		}
	}
	return nil
}

// Active-speaker detection (RFC 6464 levels, 0 = loudest, 127 = silence).
const (
	// silenceLevel and above (-dBov) counts as not speaking.
	silenceLevel = 127
	// speakingLevel: a participant is speaking while its smoothed level
	// is at most this many -dBov.
	speakingLevel = 70
	// speakerHold is how long a level reading counts.
	speakerHold = 600 * time.Millisecond
)

// speakers tracks the remote participants' audio levels.
type speakers struct {
	mu      sync.Mutex
	level   map[string]float64 // smoothed -dBov
	seen    map[string]time.Time
	current string
}

func newSpeakers() *speakers {
	return &speakers{level: map[string]float64{}, seen: map[string]time.Time{}}
}

// observe records one level reading of participant.
func (s *speakers) observe(participant string, level uint8, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.level[participant]
	if !ok || now.Sub(s.seen[participant]) > speakerHold {
		l = float64(level)
	} else {
		l = 0.7*l + 0.3*float64(level)
	}
	s.level[participant], s.seen[participant] = l, now
}

// update returns the new active speaker if it changed: the loudest
// participant speaking now, or the previous one while nobody else is.
func (s *speakers) update(now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bestLevel := "", float64(speakingLevel)+0.5
	for p, l := range s.level {
		if now.Sub(s.seen[p]) > speakerHold {
			continue
		}
		if l < bestLevel || (l == bestLevel && p < best) {
			best, bestLevel = p, l
		}
	}
	if best == "" || best == s.current {
		return "", false
	}
	s.current = best
	return best, true
}
