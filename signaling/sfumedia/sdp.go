package sfumedia

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// offeredTrack is a track a client's publish offer sends.
type offeredTrack struct {
	id   string
	kind webrtc.RTPCodecType
}

// publishedTracks returns the tracks a publish offer sends: for each audio
// or video media section that is not recvonly or inactive, the track ID of
// its a=msid:<stream> <track> attribute (RFC 8830 §2) or, from older
// clients, of an a=ssrc:<ssrc> msid:<stream> <track> attribute (RFC 5576
// §4.1). These are the IDs the SFU knows the tracks by (pion's
// TrackRemote.ID). Sections without a track ID are skipped.
func publishedTracks(offer string) ([]offeredTrack, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		// pion's error may quote the offending line; keep only the step.
		return nil, fmt.Errorf("sfumedia: publish offer: malformed SDP")
	}
	var out []offeredTrack
	seen := map[string]bool{}
	for _, md := range sd.MediaDescriptions {
		var kind webrtc.RTPCodecType
		switch md.MediaName.Media {
		case "audio":
			kind = webrtc.RTPCodecTypeAudio
		case "video":
			kind = webrtc.RTPCodecTypeVideo
		default:
			continue
		}
		if _, ok := md.Attribute(sdp.AttrKeyRecvOnly); ok {
			continue
		}
		if _, ok := md.Attribute(sdp.AttrKeyInactive); ok {
			continue
		}
		id := ""
		if v, ok := md.Attribute(sdp.AttrKeyMsid); ok {
			if f := strings.Fields(v); len(f) == 2 {
				id = f[1]
			}
		}
		if id == "" {
			for _, a := range md.Attributes {
				if a.Key != sdp.AttrKeySSRC {
					continue
				}
				if f := strings.Fields(a.Value); len(f) == 3 && strings.HasPrefix(f[1], "msid:") {
					id = f[2]
					break
				}
			}
		}
		if id == "" || seen[id] {
			continue
		}
		if len(out) >= maxTracks {
			return nil, fmt.Errorf("sfumedia: publish offer: more than %d tracks", maxTracks)
		}
		seen[id] = true
		out = append(out, offeredTrack{id: id, kind: kind})
	}
	return out, nil
}
