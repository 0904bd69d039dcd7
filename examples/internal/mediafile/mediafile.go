// Package mediafile reads and writes the media files of Tresor's examples:
// VP8 in IVF and Opus in Ogg (RFC 7845), through pion's ivfreader,
// oggreader, ivfwriter and oggwriter. The bot reads whole clips into frames
// and plays them in a loop; the recorder writes decrypted frames as they
// arrive.
//
// Frames here are whole encoded frames (one VP8 frame, one Opus packet),
// the unit Tresor encrypts with SFrame (RFC 9605), not RTP packets.
package mediafile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// maxFrames bounds a clip, so that a damaged file cannot exhaust memory.
const maxFrames = 100_000

// Frame is one encoded frame and how long it lasts.
type Frame struct {
	Data     []byte
	Duration time.Duration
	// Key is true for a VP8 key frame (RFC 6386 §9.1: the frame tag's P bit
	// is 0). Always false for audio.
	Key bool
}

// Clip is a short piece of media read into memory, played in a loop.
type Clip struct {
	Frames []Frame
	// Width and Height are the video size (0 for audio).
	Width, Height int
}

// Duration is the clip's length.
func (c *Clip) Duration() time.Duration {
	var d time.Duration
	for _, f := range c.Frames {
		d += f.Duration
	}
	return d
}

// ReadIVF reads a VP8 clip from an IVF file. Frame durations come from the
// frame timestamps and the file's time base; the first frame must be a key
// frame, so that a loop always restarts at one.
func ReadIVF(data []byte) (*Clip, error) {
	r, h, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("mediafile: ivf header: %w", err)
	}
	if h.FourCC != "VP80" {
		return nil, fmt.Errorf("mediafile: ivf: codec %q, want VP80", h.FourCC)
	}
	if h.TimebaseDenominator == 0 || h.TimebaseNumerator == 0 {
		return nil, errors.New("mediafile: ivf: zero time base")
	}
	// pion's reader reports each frame's pts (in units of the time base,
	// numerator/denominator seconds) multiplied by denominator/numerator:
	// a step of the reported timestamp lasts num²/den² seconds.
	num, den := float64(h.TimebaseNumerator), float64(h.TimebaseDenominator)
	step := num * num / (den * den)
	c := &Clip{Width: int(h.Width), Height: int(h.Height)}
	var stamps []uint64
	for {
		f, fh, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) || (err == nil && fh == nil) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("mediafile: ivf frame %d: %w", len(c.Frames), err)
		}
		if len(f) == 0 {
			return nil, fmt.Errorf("mediafile: ivf frame %d is empty", len(c.Frames))
		}
		if len(c.Frames) == maxFrames {
			return nil, fmt.Errorf("mediafile: ivf: more than %d frames", maxFrames)
		}
		c.Frames = append(c.Frames, Frame{Data: f, Key: f[0]&1 == 0})
		stamps = append(stamps, fh.Timestamp)
	}
	if len(c.Frames) == 0 {
		return nil, errors.New("mediafile: ivf: no frames")
	}
	if !c.Frames[0].Key {
		return nil, errors.New("mediafile: ivf: the first frame is not a key frame")
	}
	// A frame lasts until the next one starts; the last one as long as
	// the one before it. Damaged timestamps give 1/30 s.
	for i := range c.Frames {
		d := 33 * time.Millisecond
		if i+1 < len(stamps) && stamps[i+1] > stamps[i] {
			if s := float64(stamps[i+1]-stamps[i]) * step; s > 0 && s <= 1 {
				d = time.Duration(s * float64(time.Second))
			}
		} else if i > 0 {
			d = c.Frames[i-1].Duration
		}
		c.Frames[i].Duration = d
	}
	return c, nil
}

// ReadOgg reads an Opus clip from an Ogg file made with one packet per page
// (as ffmpeg's -page_duration 20000 writes it). Each packet's duration is
// the granule position step (RFC 7845 §4), except that the last packet is
// not end-trimmed.
func ReadOgg(data []byte) (*Clip, error) {
	r, h, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("mediafile: ogg header: %w", err)
	}
	if h.SampleRate == 0 {
		return nil, errors.New("mediafile: ogg: zero sample rate")
	}
	c := &Clip{}
	// Granule positions count 48 kHz samples whatever the input rate
	// (RFC 7845 §4).
	const rate = 48000
	// A page's granule position counts the samples decoded up to its
	// end, the pre-skip included (RFC 7845 §4), so steps are durations.
	var prev uint64
	for {
		payload, ph, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("mediafile: ogg page %d: %w", len(c.Frames), err)
		}
		if bytes.HasPrefix(payload, []byte("OpusTags")) || bytes.HasPrefix(payload, []byte("OpusHead")) || len(payload) == 0 {
			continue
		}
		if len(c.Frames) == maxFrames {
			return nil, fmt.Errorf("mediafile: ogg: more than %d packets", maxFrames)
		}
		d := 20 * time.Millisecond
		if g := ph.GranulePosition; g > prev && g-prev <= 120*rate/1000 {
			d = time.Duration(g-prev) * time.Second / rate
		}
		prev = max(prev, ph.GranulePosition)
		c.Frames = append(c.Frames, Frame{Data: payload, Duration: d})
	}
	if len(c.Frames) == 0 {
		return nil, errors.New("mediafile: ogg: no packets")
	}
	// The last page may end-trim its packet (RFC 7845 §4.5). In a loop every
	// packet is decoded whole, so it lasts as long as the one before it.
	if n := len(c.Frames); n > 1 && c.Frames[n-1].Duration < c.Frames[n-2].Duration {
		c.Frames[n-1].Duration = c.Frames[n-2].Duration
	}
	return c, nil
}
