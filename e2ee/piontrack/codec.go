package piontrack

import (
	"fmt"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/e2ee"
)

// codecFor maps a negotiated MIME type to the e2ee codec that decides the
// clear prefix, and to a fresh depacketizer for reassembly.
func codecFor(mimeType string) (e2ee.Codec, func() rtp.Depacketizer, error) {
	switch {
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP8):
		return e2ee.CodecVP8, func() rtp.Depacketizer { return &codecs.VP8Packet{} }, nil
	case strings.EqualFold(mimeType, webrtc.MimeTypeOpus):
		return e2ee.CodecOpus, func() rtp.Depacketizer { return &codecs.OpusPacket{} }, nil
	}
	return 0, nil, fmt.Errorf("piontrack: codec %q not supported (VP8 and Opus are)", mimeType)
}
