package sfu

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Source says what a published track carries. The SFU cannot look inside
// encrypted media, so the source is what the participant declared (see
// (*Participant).DeclareSource); permissions per source bind honest clients
// only.
type Source uint8

// Sources a track can be published from.
const (
	SourceCamera Source = iota + 1
	SourceMicrophone
	SourceScreen
	SourceScreenAudio
)

// String names the source ("camera", "microphone", "screen",
// "screen_audio").
func (s Source) String() string {
	switch s {
	case SourceCamera:
		return "camera"
	case SourceMicrophone:
		return "microphone"
	case SourceScreen:
		return "screen"
	case SourceScreenAudio:
		return "screen_audio"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Sources is a set of Source values.
type Sources uint8

// AllSources contains every Source.
const AllSources Sources = 1<<SourceCamera | 1<<SourceMicrophone | 1<<SourceScreen | 1<<SourceScreenAudio

// SourceSet returns the set holding srcs.
func SourceSet(srcs ...Source) Sources {
	var s Sources
	for _, src := range srcs {
		s |= 1 << src
	}
	return s
}

// Has reports whether src is in the set.
func (s Sources) Has(src Source) bool { return s&(1<<src) != 0 }

// Direction names one of a participant's two peer connections: the one it
// publishes on or the one it subscribes on (signaling.Direction is the same
// term on the wire). A connection's direction is not a participant's role.
type Direction uint8

const (
	// DirectionPublish is the connection the participant sends media on.
	// The participant always makes the offer on it.
	DirectionPublish Direction = iota + 1
	// DirectionSubscribe is the connection the participant receives media
	// on. The SFU always makes the offer on it.
	DirectionSubscribe
)

// String names the connection ("publish" or "subscribe").
func (d Direction) String() string {
	switch d {
	case DirectionPublish:
		return "publish"
	case DirectionSubscribe:
		return "subscribe"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Signaler is how the SFU talks to one participant. The signaling layer
// implements it; calls may come from any SFU goroutine, never while the SFU
// holds a lock, and should not block for long.
type Signaler interface {
	// SendOffer sends an SDP offer for the participant's subscribe
	// connection. The participant answers through HandleSubscribeAnswer.
	SendOffer(ctx context.Context, offer webrtc.SessionDescription) error
	// SendCandidate sends one trickled ICE candidate of the SFU's side of the
	// given connection (RFC 8838).
	SendCandidate(ctx context.Context, dir Direction, c webrtc.ICECandidateInit) error
}

// EventType is the kind of an Event.
type EventType uint8

// Event types.
const (
	// EventTrackPublished: a participant's track is being received.
	EventTrackPublished EventType = iota + 1
	// EventTrackUnpublished: a published track ended.
	EventTrackUnpublished
	// EventActiveSpeakers: the ordered list of active speakers changed.
	EventActiveSpeakers
)

// Event reports something that happened in a room.
type Event struct {
	Type        EventType
	Room        string
	Participant string   // publisher, for track events
	TrackID     string   // for track events
	Kind        string   // "audio" or "video", for track events
	Source      Source   // for track events
	Speakers    []string // loudest first, for EventActiveSpeakers
}

// JoinOption configures a participant at Join.
type JoinOption func(*joinOptions)

type joinOptions struct {
	canPublish Sources
	noAutoSub  bool
}

// WithAutoSubscribe sets whether the participant automatically receives
// every track published in the room (the default). A publish-only
// participant (a bot, a load generator) turns it off.
func WithAutoSubscribe(on bool) JoinOption {
	return func(o *joinOptions) { o.noAutoSub = !on }
}

// WithPublishSources limits what the participant may publish. By default a
// participant may publish every source.
func WithPublishSources(s Sources) JoinOption {
	return func(o *joinOptions) { o.canPublish = s }
}

// Layer is a simulcast layer: LayerLow, LayerMid, LayerHigh. RIDs "q", "h",
// "f" (quarter, half, full: the browsers' convention), "l"/"m" and "0"/"1"/"2"
// map to them; a track without simulcast has only LayerLow.
type Layer int8

// Simulcast layers.
const (
	LayerLow  Layer = 0
	LayerMid  Layer = 1
	LayerHigh Layer = 2
	// LayerAuto lets bandwidth estimation choose.
	LayerAuto Layer = -1
)

const maxLayers = 3

// layerForRID maps a RID to a layer index. The usual q/h/f and l/m/h names
// and 0/1/2 are recognized; anything else is ordered as it appears.
func layerForRID(rid string, seen int) Layer {
	switch rid {
	case "", "q", "l", "0", "low":
		return LayerLow
	case "h", "m", "1", "mid":
		return LayerMid
	case "f", "2", "high":
		return LayerHigh
	}
	if seen >= maxLayers {
		return LayerHigh
	}
	return Layer(seen)
}
