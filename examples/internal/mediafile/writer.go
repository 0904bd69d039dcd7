package mediafile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// FrameWriter writes whole encoded frames to a media file.
type FrameWriter interface {
	// WriteFrame writes one frame with its RTP timestamp (RFC 3550 §5.1:
	// 90 kHz for video, 48 kHz for Opus).
	WriteFrame(data []byte, rtpTimestamp uint32) error
	// Close finishes the file (the IVF frame count, the Ogg end of
	// stream) and closes it.
	Close() error
}

// Create returns a FrameWriter for a track of the given MIME type
// (webrtc.MimeTypeVP8 → IVF, webrtc.MimeTypeOpus → Ogg) at path.
func Create(path, mimeType string) (FrameWriter, error) {
	switch mimeType {
	case webrtc.MimeTypeVP8:
		return &ivfFile{path: path}, nil
	case webrtc.MimeTypeOpus:
		// WebRTC's Opus is "opus/48000/2" (RFC 7587 §7); mono packets
		// decode to both channels.
		w, err := oggwriter.New(path, 48000, 2)
		if err != nil {
			return nil, fmt.Errorf("mediafile: ogg: %w", err)
		}
		return &oggFile{w: w}, nil
	}
	return nil, fmt.Errorf("mediafile: no file format for %q", mimeType)
}

// ivfFile writes VP8 frames to IVF. The file is created at the first key
// frame (frames before it cannot be decoded), with the picture size read
// from that frame's header (RFC 6386 §9.1).
type ivfFile struct {
	path string
	w    *ivfwriter.IVFWriter
}

func (v *ivfFile) WriteFrame(data []byte, ts uint32) error {
	if len(data) == 0 {
		return nil
	}
	if v.w == nil {
		width, height, ok := vp8KeyFrameSize(data)
		if !ok {
			return nil // wait for a key frame
		}
		f, err := os.Create(v.path)
		if err != nil {
			return fmt.Errorf("mediafile: %w", err)
		}
		w, err := ivfwriter.NewWith(f, ivfwriter.WithCodec(webrtc.MimeTypeVP8),
			ivfwriter.WithWidthAndHeight(width, height),
			ivfwriter.WithDirectPTS(), ivfwriter.WithFrameRate(1, 90000))
		if err != nil {
			f.Close()
			return fmt.Errorf("mediafile: ivf: %w", err)
		}
		v.w = w
	}
	// The writer depacketizes RTP: hand it the frame as one packet with a
	// one-byte VP8 payload descriptor (RFC 7741 §4.2: S=1, partition 0).
	payload := make([]byte, 1+len(data))
	payload[0] = 0x10
	copy(payload[1:], data)
	if err := v.w.WriteRTP(&rtp.Packet{Header: rtp.Header{Marker: true, Timestamp: ts}, Payload: payload}); err != nil {
		return fmt.Errorf("mediafile: ivf: %w", err)
	}
	return nil
}

func (v *ivfFile) Close() error {
	if v.w == nil {
		return nil
	}
	// IVFWriter.Close rewrites the frame count in the header through the
	// file, then closes it.
	if err := v.w.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("mediafile: ivf close: %w", err)
	}
	return nil
}

// vp8KeyFrameSize returns the size in a VP8 key frame's header: a 3-byte
// frame tag with P=0, the start code 9d 01 2a, then 14-bit width and height
// (RFC 6386 §9.1).
func vp8KeyFrameSize(f []byte) (w, h uint16, ok bool) {
	if len(f) < 10 || f[0]&1 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint16(f[6:]) & 0x3fff, binary.LittleEndian.Uint16(f[8:]) & 0x3fff, true
}

// oggFile writes Opus packets to Ogg, one packet per page.
type oggFile struct {
	w *oggwriter.OggWriter
}

func (o *oggFile) WriteFrame(data []byte, ts uint32) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.w.WriteRTP(&rtp.Packet{Header: rtp.Header{Timestamp: ts}, Payload: data}); err != nil {
		return fmt.Errorf("mediafile: ogg: %w", err)
	}
	return nil
}

func (o *oggFile) Close() error {
	// OggWriter.Close ends the stream (an EOS page, RFC 3533 §6) and
	// closes the file.
	if err := o.w.Close(); err != nil {
		return fmt.Errorf("mediafile: ogg close: %w", err)
	}
	return nil
}
