// Package peertest provides real pion peers for the SFU's tests,
// benchmarks and the sfuload command: loopback (or vnet) peer connections
// with trickle-ICE queues, media senders that write E2EE-sized opaque
// payloads with a verifiable pattern, and receivers that check them.
//
// The payloads stand in for SFrame ciphertext: apart from the VP8 payload
// descriptor and first VP8 header byte (clear, as with Tresor's E2EE), every
// byte is opaque to the SFU.
package peertest

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/internal/trickle"
)

// Config configures a Peer.
type Config struct {
	// Net, when set, is a vnet network the peer lives on; otherwise the peer
	// uses the loopback interface only.
	Net transport.Net
	// Loopback keeps the peer on the loopback interface even with Net set
	// (for a Net that wraps the operating system's network).
	Loopback bool
	// NoInterceptors disables pion's default interceptors (NACK, reports,
	// TWCC). Load peers use it to keep their own CPU cost low.
	NoInterceptors bool
}

// Peer is a client-side peer connection with a trickle-ICE queue.
type Peer struct {
	PC *webrtc.PeerConnection

	// DropOvertaking makes the peer hold candidates only before its first
	// remote description, as a peer that does not follow ICE sessions
	// does: after it, a candidate of an ICE restart that overtakes the
	// restart's description reaches pion, which drops it (its ufrag is
	// not the current description's). Tests use it to show that the SFU's
	// own gates suffice.
	DropOvertaking bool

	pending trickle.Gate // candidates before their session's remote description

	mu   sync.Mutex
	seen map[string]chan struct{} // ICE ufrag → closed once a candidate of it came
}

// NewAPI returns a pion API for client peers.
func NewAPI(cfg Config) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peertest: codecs: %w", err)
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("peertest: extension: %w", err)
		}
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	ir := &interceptor.Registry{}
	if !cfg.NoInterceptors {
		if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithInterceptorLoggerFactory(lf)); err != nil {
			return nil, fmt.Errorf("peertest: interceptors: %w", err)
		}
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// Like the SFU: NACK-recovered packets may arrive more than pion's
	// default 64 packets late.
	se.SetSRTPReplayProtectionWindow(1024)
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	if cfg.Net == nil || cfg.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// New creates a peer from api.
func New(api *webrtc.API) (*Peer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("peertest: new peer connection: %w", err)
	}
	return &Peer{PC: pc}, nil
}

// AddICECandidate adds a remote candidate, queueing it until the remote
// description of its ICE session is set.
func (p *Peer) AddICECandidate(c webrtc.ICECandidateInit) error {
	if u := trickle.CandidateUfrag(c); u != "" {
		ch := p.seenCh(u)
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	if p.DropOvertaking && p.PC.RemoteDescription() != nil {
		return p.PC.AddICECandidate(c)
	}
	if p.pending.Hold(c) {
		return nil
	}
	return p.PC.AddICECandidate(c)
}

func (p *Peer) seenCh(ufrag string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]chan struct{}{}
	}
	ch := p.seen[ufrag]
	if ch == nil {
		ch = make(chan struct{})
		p.seen[ufrag] = ch
	}
	return ch
}

// WaitCandidate waits up to d for a remote candidate of the ICE session
// ufrag to be added, and reports whether one was.
func (p *Peer) WaitCandidate(ufrag string, d time.Duration) bool {
	select {
	case <-p.seenCh(ufrag):
		return true
	case <-time.After(d):
		return false
	}
}

// SetRemoteDescription sets the remote description and adds queued
// candidates.
func (p *Peer) SetRemoteDescription(sd webrtc.SessionDescription) error {
	if err := p.PC.SetRemoteDescription(sd); err != nil {
		return err
	}
	for _, c := range p.pending.Open(sd.SDP) {
		if err := p.PC.AddICECandidate(c); err != nil {
			return err
		}
	}
	return nil
}

// Answer applies a remote offer and returns the local answer.
func (p *Peer) Answer(offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if err := p.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("peertest: set offer: %w", err)
	}
	ans, err := p.PC.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("peertest: create answer: %w", err)
	}
	if err := p.PC.SetLocalDescription(ans); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("peertest: set answer: %w", err)
	}
	return *p.PC.LocalDescription(), nil
}

// Offer creates and sets a local offer.
func (p *Peer) Offer() (webrtc.SessionDescription, error) {
	offer, err := p.PC.CreateOffer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("peertest: create offer: %w", err)
	}
	if err := p.PC.SetLocalDescription(offer); err != nil {
		return webrtc.SessionDescription{}, fmt.Errorf("peertest: set offer: %w", err)
	}
	return *p.PC.LocalDescription(), nil
}

// Close closes the peer connection.
func (p *Peer) Close() error { return p.PC.Close() }

// Payload layout written by senders (all of it opaque to the SFU except the
// first two bytes of a video packet):
//
//	video: | VP8 descriptor (1) | VP8 header byte (1) | index (8) | sent ns (8) | filler |
//	audio: | index (8) | sent ns (8) | filler |
//
// The filler is a function of the index, so a receiver can check every byte.
const (
	videoPrefix = 2
	// MinPayload is the smallest payload size senders accept.
	MinPayload = videoPrefix + 16
)

// FillPayload writes a payload of len(dst) bytes for packet index idx sent at
// sentNanos. For video, start marks the first packet of a frame and key a
// key frame.
func FillPayload(dst []byte, video, start, key bool, idx uint64, sentNanos int64) {
	off := 0
	if video {
		dst[0] = 0x00
		if start {
			dst[0] = 0x10 // S=1, PID=0 (RFC 7741 §4.2)
		}
		dst[1] = 0x01 // P=1: inter frame (RFC 6386 §9.1)
		if key {
			dst[1] = 0x00
		}
		off = videoPrefix
	}
	binary.BigEndian.PutUint64(dst[off:], idx)
	binary.BigEndian.PutUint64(dst[off+8:], uint64(sentNanos)) //nolint:gosec // time
	for i := off + 16; i < len(dst); i++ {
		dst[i] = byte(idx*131 + uint64(i)*7)
	}
}

// CheckPayload verifies a payload written by FillPayload and returns its
// index and send time.
func CheckPayload(p []byte, video bool) (idx uint64, sentNanos int64, err error) {
	off := 0
	if video {
		off = videoPrefix
	}
	if len(p) < off+16 {
		return 0, 0, fmt.Errorf("peertest: payload too short (%d bytes)", len(p))
	}
	idx = binary.BigEndian.Uint64(p[off:])
	sentNanos = int64(binary.BigEndian.Uint64(p[off+8:])) //nolint:gosec // time
	for i := off + 16; i < len(p); i++ {
		if p[i] != byte(idx*131+uint64(i)*7) {
			return idx, sentNanos, fmt.Errorf("peertest: packet %d: byte %d differs", idx, i)
		}
	}
	return idx, sentNanos, nil
}

// IsKeyStart reports whether a video payload written by FillPayload starts a
// key frame.
func IsKeyStart(p []byte) bool { return len(p) >= 2 && p[0] == 0x10 && p[1]&1 == 0 }

func afterPoll() <-chan time.Time { return time.After(10 * time.Millisecond) }
