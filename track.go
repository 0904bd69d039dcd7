package tresor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/e2ee/piontrack"
	"github.com/tresor-dev/tresor/internal/keyring"
	"github.com/tresor-dev/tresor/keys"
)

// LocalTrack is a published track. Frames written to it are encrypted with
// this client's SFrame key of the current epoch (RFC 9605 §5.2) and then
// packetized; there is no way to send unencrypted media.
type LocalTrack struct {
	t      sampleWriter
	audio  *audioTrack // nil for video
	source Source
	sender *webrtc.RTPSender
}

type sampleWriter interface {
	WriteSample(media.Sample) error
	ID() string
}

// ID returns the track's ID (the MediaStreamTrack ID in the SDP).
func (t *LocalTrack) ID() string { return t.t.ID() }

// SetAudioLevel sets the audio level sent with the following frames of a
// microphone track, in -dBov from 0 (loudest) to 127 (silence), as RFC 6464
// defines it; other participants derive the active speaker from it. The SFU
// sees the level (it travels in a clear RTP header extension). It starts at
// 127. Video tracks ignore it.
func (t *LocalTrack) SetAudioLevel(level uint8) {
	if t.audio != nil {
		t.audio.level.Store(uint32(min(level, silenceLevel)))
	}
}

// Source returns what the track carries.
func (t *LocalTrack) Source() Source { return t.source }

// WriteSample encrypts one encoded frame (a VP8 frame or an Opus packet)
// and sends it. Before the client is a group member there is no key: the
// error then wraps e2ee.ErrUnknownKey and nothing is sent.
func (t *LocalTrack) WriteSample(s media.Sample) error {
	if err := t.t.WriteSample(s); err != nil {
		return fmt.Errorf("tresor: %w", err)
	}
	return nil
}

// maxFrameDelay bounds how long a video frame waits for a missing packet.
const maxFrameDelay = 500 * time.Millisecond

// keyFrameInterval is the least time between two key-frame requests a
// remote track sends by itself, and between two KeyFrameRequested events
// of a local track (the SFU is not trusted to pace its requests).
const keyFrameInterval = 500 * time.Millisecond

// errNoKeyFrames: audio has no key frames to ask for.
var errNoKeyFrames = errors.New("tresor: an audio track has no key frames")

// Frame is one decrypted media frame of a remote track: exactly the bytes
// the sender wrote.
type Frame struct {
	Data []byte
	// Epoch is the MLS epoch whose key the frame was encrypted with.
	Epoch uint64
	// RTPTimestamp is the frame's RTP timestamp (as rewritten by the SFU).
	RTPTimestamp uint32
}

// RemoteTrack is another participant's track. A goroutine reassembles its
// frames and decrypts them with that participant's keys only; frames that do
// not authenticate are dropped and counted.
type RemoteTrack struct {
	m           *Meeting
	tr          *webrtc.TrackRemote
	participant string
	codec       e2ee.Codec
	sb          *samplebuilder.SampleBuilder
	levelExt    uint8                  // negotiated RFC 6464 extension ID, 0 if none
	pc          *webrtc.PeerConnection // the subscribe connection, for key-frame requests

	frames chan Frame
	done   chan struct{}

	held   []heldFrame // owned by the loop goroutine
	keyGen uint64

	mu           sync.Mutex
	decrypted    uint64
	rejected     uint64
	dropped      uint64
	lost         uint64
	keyRequests  uint64
	lastKeyReq   time.Time
	unknownSince time.Time
	reported     bool
}

func newRemoteTrack(m *Meeting, tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) (*RemoteTrack, error) {
	var c e2ee.Codec
	var dp rtp.Depacketizer
	switch mime := tr.Codec().MimeType; {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		c, dp = e2ee.CodecVP8, &codecs.VP8Packet{}
	case strings.EqualFold(mime, webrtc.MimeTypeOpus):
		c = e2ee.CodecOpus
	default:
		return nil, fmt.Errorf("tresor: codec %q not supported", mime)
	}
	rate := tr.Codec().ClockRate
	if rate == 0 {
		return nil, errors.New("tresor: track without clock rate")
	}
	t := &RemoteTrack{m: m, tr: tr, participant: tr.StreamID(), codec: c, pc: m.media.sub,
		frames: make(chan Frame, max(m.opts.frameBuffer, 1)), done: make(chan struct{})}
	if c == e2ee.CodecVP8 {
		// A lost packet costs at most maxFrameDelay, not maxLate packets
		// (which at a low frame rate could be many seconds).
		t.sb = samplebuilder.New(piontrack.DefaultMaxLate, dp, rate, samplebuilder.WithMaxTimeDelay(maxFrameDelay))
	}
	if c == e2ee.CodecOpus && recv != nil {
		for _, e := range recv.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI && e.ID > 0 && e.ID < 256 {
				t.levelExt = uint8(e.ID)
			}
		}
	}
	return t, nil
}

// Participant returns the identity of the track's publisher, as the SFU
// labels it. Frames decrypt only under that member's keys, so a mislabelled
// track yields no frames.
func (t *RemoteTrack) Participant() string { return t.participant }

// Kind returns "audio" or "video".
func (t *RemoteTrack) Kind() string { return t.tr.Kind().String() }

// ID returns the publisher's track ID.
func (t *RemoteTrack) ID() string { return t.tr.ID() }

// ReadFrame returns the next decrypted frame, in arrival order. It fails
// with ErrClosed once the track ended and its frames were read, or with
// ctx's error.
func (t *RemoteTrack) ReadFrame(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-t.frames:
		if !ok {
			return Frame{}, ErrClosed
		}
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// TrackStats counts a remote track's frames.
type TrackStats struct {
	Decrypted uint64 // authenticated and delivered
	Rejected  uint64 // dropped: unknown key, forged, modified, replayed or malformed
	Dropped   uint64 // decrypted but not read in time (buffer full)
	// Lost counts the RTP packets of video frames given up as lost (never
	// received within the reassembly delay).
	Lost uint64
	// KeyFrameRequests counts the key-frame requests sent for the track.
	KeyFrameRequests uint64
}

// Stats returns the track's counters.
func (t *RemoteTrack) Stats() TrackStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrackStats{Decrypted: t.decrypted, Rejected: t.rejected, Dropped: t.dropped, Lost: t.lost,
		KeyFrameRequests: t.keyRequests}
}

// RequestKeyFrame asks the publisher for a key frame: an RTCP Picture Loss
// Indication (RFC 4585 §6.3.1), which the SFU merges with the other
// subscribers' requests and passes on; the publisher's application sees a
// [KeyFrameRequested] event (a browser's encoder answers by itself). A
// video track does this by itself after a lost or rejected frame, at most
// every half second, since the frames after it cannot be decoded until
// the next key frame; call it when the application needs a fresh start,
// for example to begin recording. Audio has no key frames: it returns an
// error.
func (t *RemoteTrack) RequestKeyFrame() error {
	if t.codec != e2ee.CodecVP8 {
		return errNoKeyFrames
	}
	t.mu.Lock()
	t.lastKeyReq = time.Now()
	t.mu.Unlock()
	return t.sendPLI()
}

// frameLost requests a key frame after a video frame was lost or rejected
// (other than as a replay), at most every keyFrameInterval.
func (t *RemoteTrack) frameLost() {
	if t.codec != e2ee.CodecVP8 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	if !t.lastKeyReq.IsZero() && now.Sub(t.lastKeyReq) < keyFrameInterval {
		t.mu.Unlock()
		return
	}
	t.lastKeyReq = now
	t.mu.Unlock()
	if err := t.sendPLI(); err != nil {
		t.m.log.Debug("tresor: key frame request", "participant", t.participant, "track", t.tr.ID(), "err", err)
	}
}

func (t *RemoteTrack) sendPLI() error {
	if err := t.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.tr.SSRC())}}); err != nil {
		return fmt.Errorf("tresor: request key frame: %w", err)
	}
	t.mu.Lock()
	t.keyRequests++
	t.mu.Unlock()
	return nil
}

func (t *RemoteTrack) loop() {
	defer close(t.done)
	defer close(t.frames)
	peer, err := t.m.keys.Peer(t.participant)
	if err != nil {
		return
	}
	for {
		pkt, _, err := t.tr.ReadRTP()
		if err != nil {
			return
		}
		if t.sb == nil {
			// Opus: every RTP packet carries one whole frame (RFC 7587
			// §4.2), so there is nothing to reassemble or wait for;
			// reordering is left to the application's jitter buffer and
			// the SFrame replay window.
			if len(pkt.Payload) == 0 {
				continue
			}
			t.process(peer, &media.Sample{Data: pkt.Payload, PacketTimestamp: pkt.Timestamp, RTPHeaders: []*rtp.Header{&pkt.Header}})
			continue
		}
		t.sb.Push(pkt)
		for s := t.sb.Pop(); s != nil; s = t.sb.Pop() {
			if s.PrevDroppedPackets > 0 {
				t.mu.Lock()
				t.lost += uint64(s.PrevDroppedPackets)
				t.mu.Unlock()
				t.frameLost()
			}
			t.process(peer, s)
		}
	}
}

// maxHeld bounds the frames a track holds back while it waits for the
// keys of the next epoch.
const maxHeld = 32

type heldFrame struct {
	s  *media.Sample
	at time.Time
}

// process decrypts a frame, or holds it back if it claims the next epoch
// (or any epoch, before this client has keys): a sender switches keys as
// soon as it applied a Commit, which may be just before this client
// applies it, or before a joiner processed its Welcome. Held frames are
// retried, in order, once new keys are installed, and decrypted (or
// rejected and counted) at the latest after the grace window.
func (t *RemoteTrack) process(peer *keyring.Peer, s *media.Sample) {
	t.retryHeld(peer)
	if len(t.held) > 0 || t.holdable(s) {
		if len(t.held) >= maxHeld {
			t.frame(peer, t.held[0].s)
			t.held = t.held[1:]
		}
		t.held = append(t.held, heldFrame{s, time.Now()})
		return
	}
	t.frame(peer, s)
}

func (t *RemoteTrack) holdable(s *media.Sample) bool {
	kid, ok := frameKID(t.codec, s.Data)
	if !ok {
		return false
	}
	if _, known := t.m.keys.EpochOf(t.participant, kid); known {
		return false
	}
	cur, member := t.m.keys.SendingEpoch()
	const mask = 1<<keys.SFrameEpochBits - 1
	return !member || kid&mask == (cur+1)&mask
}

func (t *RemoteTrack) retryHeld(peer *keyring.Peer) {
	if len(t.held) == 0 {
		return
	}
	gen := t.m.keys.Generation()
	now := time.Now()
	if gen == t.keyGen && now.Sub(t.held[0].at) < t.m.opts.grace {
		return
	}
	t.keyGen = gen
	i := 0
	for ; i < len(t.held); i++ {
		h := t.held[i]
		if now.Sub(h.at) < t.m.opts.grace && t.holdable(h.s) {
			break // still waiting for its keys; keep order
		}
		t.frame(peer, h.s)
	}
	t.held = t.held[i:]
}

func (t *RemoteTrack) frame(peer *keyring.Peer, s *media.Sample) {
	if f := t.m.opts.rawFrame; f != nil {
		f(t.participant, t.codec, s.Data)
	}
	kid, ok := frameKID(t.codec, s.Data)
	epoch, known := t.m.keys.EpochOf(t.participant, kid)
	data, err := peer.Receiver.DecryptFrame(nil, t.codec, s.Data)
	now := time.Now()
	t.mu.Lock()
	if err != nil {
		t.rejected++
		report := false
		if errors.Is(err, e2ee.ErrUnknownKey) || (ok && !known) {
			if t.unknownSince.IsZero() {
				t.unknownSince = now
			} else if !t.reported && now.Sub(t.unknownSince) >= t.m.opts.grace {
				t.reported, report = true, true
			}
		}
		t.mu.Unlock()
		if report {
			t.m.reportKeys(t.participant)
		}
		// A replay's original was delivered: nothing is missing.
		if !errors.Is(err, e2ee.ErrReplay) {
			t.frameLost()
		}
		return
	}
	t.decrypted++
	t.unknownSince, t.reported = time.Time{}, false
	if t.levelExt != 0 && len(s.RTPHeaders) > 0 {
		var lvl rtp.AudioLevelExtension
		if b := s.RTPHeaders[0].GetExtension(t.levelExt); b != nil && lvl.Unmarshal(b) == nil {
			t.m.speakers.observe(t.participant, lvl.Level, now)
		}
	}
	f := Frame{Data: data, Epoch: epoch, RTPTimestamp: s.PacketTimestamp}
	select {
	case t.frames <- f:
	default:
		// Drop the oldest frame: live media prefers fresh frames.
		select {
		case <-t.frames:
			t.dropped++
		default:
		}
		select {
		case t.frames <- f:
		default:
			t.dropped++
		}
	}
	t.mu.Unlock()
}
