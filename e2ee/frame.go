package e2ee

import (
	"errors"
	"fmt"
	"log/slog"
)

// Codec selects how much of a media frame stays in the clear in front of
// the SFrame header. The clear prefix is passed to SFrame as metadata, so it
// is authenticated (RFC 9605 §4.4.3: AAD = header ‖ metadata) but readable by
// the SFU and by the receiver's depacketizer and decoder.
type Codec uint8

// Supported codecs.
const (
	// CodecOpus keeps nothing in the clear: the whole Opus packet is
	// encrypted.
	CodecOpus Codec = 1

	// CodecVP8 keeps the start of the VP8 frame in the clear: the 10-byte
	// uncompressed data chunk of a key frame (3-byte frame tag, start code,
	// width and height) or the 3-byte frame tag of a delta frame
	// (RFC 6386 §9.1). This lets the SFU and browsers see key frames and
	// dimensions.
	CodecVP8 Codec = 2
)

// VP8 clear prefix sizes (RFC 6386 §9.1).
const (
	vp8KeyFramePrefix   = 10
	vp8DeltaFramePrefix = 3
)

// String returns the codec's name.
func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecVP8:
		return "VP8"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// clearPrefixLen returns the length of the clear prefix of frame, which is
// either a plaintext frame or an encrypted one: the prefix is the same bytes
// in both. For VP8, bit 0 of the frame tag's first byte is 0 for a key frame
// (RFC 6386 §9.1). It fails with ErrMalformed if frame is shorter than the
// prefix.
func (c Codec) clearPrefixLen(frame []byte) (int, error) {
	switch c {
	case CodecOpus:
		return 0, nil
	case CodecVP8:
		if len(frame) == 0 {
			return 0, fmt.Errorf("%w: empty VP8 frame", ErrMalformed)
		}
		n := vp8DeltaFramePrefix
		if frame[0]&0x01 == 0 {
			n = vp8KeyFramePrefix
		}
		if len(frame) < n {
			return 0, fmt.Errorf("%w: %d-byte VP8 frame shorter than its %d-byte clear prefix", ErrMalformed, len(frame), n)
		}
		return n, nil
	}
	return 0, fmt.Errorf("e2ee: unsupported codec %v", c)
}

// FrameKID returns the KID that data, an encrypted frame for codec c,
// claims in its SFrame header (RFC 9605 §4.3), read behind the clear prefix
// without decrypting. The KID is unauthenticated until the frame decrypts
// under it: use it only to choose keys or to report that a frame's key is
// missing. Errors wrap [ErrMalformed].
func FrameKID(c Codec, data []byte) (uint64, error) {
	n, err := c.clearPrefixLen(data)
	if err != nil {
		return 0, err
	}
	kid, _, _, err := parseHeader(data[n:])
	return kid, err
}

// EncryptFrame encrypts a whole media frame for codec c and appends
//
//	clear prefix ‖ SFrame header ‖ ciphertext ‖ tag
//
// to dst, with the clear prefix authenticated as SFrame metadata. dst must
// not overlap frame. A VP8 frame shorter than its clear prefix fails with
// [ErrMalformed]; other errors are those of [Sender.Seal].
func (s *Sender) EncryptFrame(dst []byte, c Codec, frame []byte) ([]byte, error) {
	n, err := c.clearPrefixLen(frame)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			s.stats.malformed.Add(1)
		}
		s.cfg.Logger.Warn("e2ee: frame refused", slog.String("codec", c.String()), slog.Int("len", len(frame)))
		return nil, err
	}
	start := len(dst)
	dst = append(dst, frame[:n]...)
	out, err := s.Seal(dst, frame[n:], frame[:n])
	if err != nil {
		clear(dst[start:])
		return nil, err
	}
	return out, nil
}

// DecryptFrame reverses [Sender.EncryptFrame]: it authenticates and decrypts
// data, an encrypted frame for codec c, and appends the original frame
// (clear prefix ‖ plaintext) to dst. dst must not overlap data. Errors are
// those of [Receiver.Open]; data shorter than its clear prefix fails with
// [ErrMalformed].
func (r *Receiver) DecryptFrame(dst []byte, c Codec, data []byte) ([]byte, error) {
	n, err := c.clearPrefixLen(data)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			r.stats.malformed.Add(1)
		}
		r.cfg.Logger.Warn("e2ee: frame refused", slog.String("codec", c.String()), slog.Int("len", len(data)))
		return nil, err
	}
	dst = append(dst, data[:n]...)
	return r.Open(dst, data[n:], data[:n])
}
