// Package sfumedia connects Tresor's signaling server to its SFU: it
// implements [signaling.Media] on top of an [*sfu.SFU], so that one process
// can run both (as examples/meeting does):
//
//	s, _ := sfu.New(sfu.Config{UDPAddr: ":7882"})
//	srv, _ := signaling.NewServer(signaling.Config{TokenKeys: keys, Media: sfumedia.New(s)})
//
// # Signals
//
// Each participant has two peer connections on the SFU (see package sfu):
// on the publish connection the client offers, on the subscribe connection
// the SFU offers. The signal's Direction ("target" on the wire) names the connection
// (signaling/PROTOCOL.md, "Media"):
//
//	client → SFU   offer     target "publish" (or none)   → HandlePublishOffer; the answer goes back
//	client → SFU   answer    target "subscribe" (or none) → HandleSubscribeAnswer
//	client → SFU   candidate target "publish"|"subscribe" → AddICECandidate (trickle ICE, RFC 8838)
//	client → SFU   track     trackId + source             → DeclareSource
//	client → SFU   restart   target "subscribe"           → RestartSubscribeICE; an ICE-restart offer follows
//	SFU → client   offer     target "subscribe"           (Signaler.SendOffer)
//	SFU → client   candidate target "publish"|"subscribe" (Signaler.SendCandidate)
//
// The signaling server opens a participant's SFU session on its first media
// signal, so a client offers on its publish connection first. A client with
// nothing to send offers one recvonly (or inactive) media section: an offer
// without any media section carries no ICE credentials and is refused. The
// SFU then offers the room's tracks on the subscribe connection.
//
// # Sources
//
// Signaling has three sources (camera, microphone, screen); the SFU has four,
// because a screen share may carry audio. "screen" maps to [sfu.SourceScreen]
// for a video track and [sfu.SourceScreenAudio] for an audio track; a
// permission on "screen" applies to both. The adapter learns each published
// track's kind from the a=msid lines (RFC 8830 §2) of the client's publish
// offers, so that a host's stop_track also reaches tracks the client never
// declared (undeclared audio is the microphone, undeclared video the camera,
// as in the SFU).
//
// Like the SFU, the adapter never sees a media key: the media it routes is
// SFrame ciphertext (RFC 9605), and it imports neither keys nor e2ee.
package sfumedia

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
)

// maxTracks bounds the tracks one participant may declare or offer, so that
// a client cannot grow the adapter's maps without bound.
const maxTracks = 64

// rejoinWait bounds how long Join waits for a participant's earlier session
// to leave the SFU when the same identity reconnects (signaling replaces the
// old connection, and the two may briefly overlap).
const rejoinWait = 3 * time.Second

// Option configures the adapter.
type Option func(*Media)

// WithLogger sets the adapter's logger (default: discard). Logs never
// contain SDP bodies or ICE candidates.
func WithLogger(l *slog.Logger) Option {
	return func(m *Media) {
		if l != nil {
			m.log = l
		}
	}
}

// WithJoinOptions passes options to every [sfu.SFU.Join].
func WithJoinOptions(opts ...sfu.JoinOption) Option {
	return func(m *Media) { m.joinOpts = append(m.joinOpts, opts...) }
}

// Media adapts an SFU to [signaling.Media]. Create it with New; it is safe
// for concurrent use.
type Media struct {
	sfu      *sfu.SFU
	log      *slog.Logger
	joinOpts []sfu.JoinOption
}

var _ signaling.Media = (*Media)(nil)

// New returns a [signaling.Media] that joins participants to s. The caller
// keeps ownership of s and closes it after the signaling server.
func New(s *sfu.SFU, opts ...Option) *Media {
	m := &Media{sfu: s, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Join implements [signaling.Media]: it adds participant to the SFU room of
// the same name. If the participant's previous session (a connection that
// signaling just replaced) is still leaving, Join waits for it briefly.
func (m *Media) Join(ctx context.Context, room, participant string, send func(signaling.MediaSignal)) (signaling.MediaSession, error) {
	s := &session{send: send, log: m.log, declared: map[string]signaling.Source{}, kinds: map[string]webrtc.RTPCodecType{}}
	deadline := time.Now().Add(rejoinWait)
	for {
		p, err := m.sfu.Join(ctx, room, participant, s, m.joinOpts...)
		if err == nil {
			s.mu.Lock()
			s.p = p
			s.mu.Unlock()
			return s, nil
		}
		if !errors.Is(err, sfu.ErrDuplicateParticipant) || time.Now().After(deadline) {
			return nil, fmt.Errorf("sfumedia: join: %w", err)
		}
		m.log.Debug("sfumedia: waiting for the participant's previous session to leave", "room", room)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sfumedia: join: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one participant's media session. It is both the SFU's
// Signaler for the participant and the signaling server's MediaSession.
type session struct {
	send func(signaling.MediaSignal)
	log  *slog.Logger

	mu       sync.Mutex
	p        *sfu.Participant // nil until the SFU's Join returns
	closed   bool
	declared map[string]signaling.Source    // track ID → declared source
	kinds    map[string]webrtc.RTPCodecType // track ID → kind, from publish offers
}

// SendOffer implements [sfu.Signaler]: the SFU's offer on the subscribe
// connection.
func (s *session) SendOffer(_ context.Context, offer webrtc.SessionDescription) error {
	s.send(signaling.MediaSignal{Kind: signaling.SignalOffer, Direction: signaling.DirectionSubscribe, SDP: offer.SDP})
	return nil
}

// SendCandidate implements [sfu.Signaler]: one of the SFU's ICE candidates.
func (s *session) SendCandidate(_ context.Context, dir sfu.Direction, c webrtc.ICECandidateInit) error {
	target, err := targetOf(dir)
	if err != nil {
		return err
	}
	s.send(signaling.MediaSignal{Kind: signaling.SignalCandidate, Direction: target, Candidate: c.Candidate,
		SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment})
	return nil
}

func targetOf(dir sfu.Direction) (signaling.Direction, error) {
	switch dir {
	case sfu.DirectionPublish:
		return signaling.DirectionPublish, nil
	case sfu.DirectionSubscribe:
		return signaling.DirectionSubscribe, nil
	}
	return "", fmt.Errorf("sfumedia: unknown connection dir %d", dir)
}

func (s *session) participant() (*sfu.Participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, sfu.ErrClosed
	}
	return s.p, nil
}

// Signal implements [signaling.MediaSession].
func (s *session) Signal(ctx context.Context, sig signaling.MediaSignal) error {
	p, err := s.participant()
	if err != nil {
		return fmt.Errorf("sfumedia: %s: %w", sig.Kind, err)
	}
	switch sig.Kind {
	case signaling.SignalOffer:
		if sig.Direction != "" && sig.Direction != signaling.DirectionPublish {
			return fmt.Errorf("sfumedia: offer for the %q connection: only the publish connection takes the client's offers", sig.Direction)
		}
		tracks, err := publishedTracks(sig.SDP)
		if err != nil {
			return err
		}
		if err := s.learn(p, tracks); err != nil {
			return err
		}
		answer, err := p.HandlePublishOffer(ctx, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sig.SDP})
		if err != nil {
			return fmt.Errorf("sfumedia: publish offer: %w", err)
		}
		s.send(signaling.MediaSignal{Kind: signaling.SignalAnswer, Direction: signaling.DirectionPublish, SDP: answer.SDP})
		return nil
	case signaling.SignalAnswer:
		if sig.Direction != "" && sig.Direction != signaling.DirectionSubscribe {
			return fmt.Errorf("sfumedia: answer for the %q connection: only the subscribe connection takes the client's answers", sig.Direction)
		}
		if err := p.HandleSubscribeAnswer(ctx, webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sig.SDP}); err != nil {
			return fmt.Errorf("sfumedia: subscribe answer: %w", err)
		}
		return nil
	case signaling.SignalCandidate:
		var dir sfu.Direction
		switch sig.Direction {
		case signaling.DirectionPublish:
			dir = sfu.DirectionPublish
		case signaling.DirectionSubscribe:
			dir = sfu.DirectionSubscribe
		default:
			return errors.New("sfumedia: candidate without a target: say which connection (publish or subscribe) it is for")
		}
		c := webrtc.ICECandidateInit{Candidate: sig.Candidate, SDPMid: sig.SDPMid, SDPMLineIndex: sig.SDPMLineIndex, UsernameFragment: sig.UsernameFragment}
		if err := p.AddICECandidate(dir, c); err != nil {
			return fmt.Errorf("sfumedia: %s candidate: %w", sig.Direction, err)
		}
		return nil
	case signaling.SignalTrack:
		return s.declare(p, sig.TrackID, sig.Source)
	case signaling.SignalRestart:
		if sig.Direction != signaling.DirectionSubscribe {
			return fmt.Errorf("sfumedia: restart for the %q connection: only the subscribe connection is restarted on request (the client restarts the publish connection with its own offer)", sig.Direction)
		}
		if err := p.RestartSubscribeICE(); err != nil {
			return fmt.Errorf("sfumedia: restart: %w", err)
		}
		return nil
	}
	return fmt.Errorf("sfumedia: unknown signal kind %q", sig.Kind)
}

// learn records the kinds of the tracks a publish offer carries and
// re-declares declared tracks whose SFU source depends on the kind.
func (s *session) learn(p *sfu.Participant, tracks []offeredTrack) error {
	type decl struct {
		id  string
		src sfu.Source
	}
	var redeclare []decl
	s.mu.Lock()
	for _, t := range tracks {
		if _, known := s.kinds[t.id]; !known && s.countLocked() >= maxTracks {
			s.mu.Unlock()
			return fmt.Errorf("sfumedia: more than %d tracks", maxTracks)
		}
		old, known := s.kinds[t.id]
		s.kinds[t.id] = t.kind
		if src, ok := s.declared[t.id]; ok && (!known || old != t.kind) {
			redeclare = append(redeclare, decl{t.id, sfuSource(src, t.kind)})
		}
	}
	s.mu.Unlock()
	for _, d := range redeclare {
		p.DeclareSource(d.id, d.src)
	}
	return nil
}

// countLocked is the number of distinct track IDs known. s.mu is held.
func (s *session) countLocked() int {
	n := len(s.kinds)
	for id := range s.declared {
		if _, ok := s.kinds[id]; !ok {
			n++
		}
	}
	return n
}

func (s *session) declare(p *sfu.Participant, trackID string, src signaling.Source) error {
	if !validSource(src) {
		return fmt.Errorf("sfumedia: unknown source %q", src)
	}
	s.mu.Lock()
	_, known := s.kinds[trackID]
	if _, dup := s.declared[trackID]; !dup && !known && s.countLocked() >= maxTracks {
		s.mu.Unlock()
		return fmt.Errorf("sfumedia: more than %d tracks", maxTracks)
	}
	s.declared[trackID] = src
	kind := s.kinds[trackID]
	s.mu.Unlock()
	p.DeclareSource(trackID, sfuSource(src, kind))
	return nil
}

func validSource(src signaling.Source) bool {
	switch src {
	case signaling.SourceCamera, signaling.SourceMicrophone, signaling.SourceScreen:
		return true
	}
	return false
}

// sfuSource maps a signaling source to the SFU's. "screen" is the screen
// video or, for an audio track, the screen's audio. A track whose kind is
// not known yet counts as video; learn corrects it when the offer arrives.
func sfuSource(src signaling.Source, kind webrtc.RTPCodecType) sfu.Source {
	switch src {
	case signaling.SourceMicrophone:
		return sfu.SourceMicrophone
	case signaling.SourceScreen:
		if kind == webrtc.RTPCodecTypeAudio {
			return sfu.SourceScreenAudio
		}
		return sfu.SourceScreen
	}
	return sfu.SourceCamera
}

// sfuSources is every SFU source a signaling source covers.
func sfuSources(src signaling.Source) ([]sfu.Source, error) {
	switch src {
	case signaling.SourceCamera:
		return []sfu.Source{sfu.SourceCamera}, nil
	case signaling.SourceMicrophone:
		return []sfu.Source{sfu.SourceMicrophone}, nil
	case signaling.SourceScreen:
		return []sfu.Source{sfu.SourceScreen, sfu.SourceScreenAudio}, nil
	}
	return nil, fmt.Errorf("sfumedia: unknown source %q", src)
}

// effectiveSource is the signaling source of a track: declared, or by kind
// as the SFU defaults (audio: microphone, video: camera).
func (s *session) effectiveSourceLocked(id string) signaling.Source {
	if src, ok := s.declared[id]; ok {
		return src
	}
	if s.kinds[id] == webrtc.RTPCodecTypeAudio {
		return signaling.SourceMicrophone
	}
	return signaling.SourceCamera
}

// SetPublishPermission implements [signaling.MediaSession]. A forbidden
// track stays connected but the SFU forwards it to no one.
func (s *session) SetPublishPermission(src signaling.Source, allowed bool) error {
	srcs, err := sfuSources(src)
	if err != nil {
		return err
	}
	p, err := s.participant()
	if err != nil {
		return fmt.Errorf("sfumedia: permission: %w", err)
	}
	for _, x := range srcs {
		p.SetPublishPermission(x, allowed)
	}
	return nil
}

// StopTrack implements [signaling.MediaSession]: the SFU unpublishes every
// track of the participant that carries src (declared, or by kind), and
// renegotiates the subscribers without it.
func (s *session) StopTrack(src signaling.Source) error {
	if !validSource(src) {
		return fmt.Errorf("sfumedia: unknown source %q", src)
	}
	p, err := s.participant()
	if err != nil {
		return fmt.Errorf("sfumedia: stop track: %w", err)
	}
	s.mu.Lock()
	var ids []string
	seen := map[string]bool{}
	for id := range s.kinds {
		seen[id] = true
		if s.effectiveSourceLocked(id) == src {
			ids = append(ids, id)
		}
	}
	for id, d := range s.declared {
		if !seen[id] && d == src {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, id := range ids {
		// A track offered but not (or no longer) published is not an error:
		// there is nothing to stop.
		if err := p.StopTrack(id); err != nil && !errors.Is(err, sfu.ErrUnknownTrack) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sfumedia: stop %s: %w", src, err)
	}
	s.log.Debug("sfumedia: stopped tracks", "source", string(src), "tracks", len(ids))
	return nil
}

// Close implements [signaling.MediaSession]: the participant leaves the SFU
// room.
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	p := s.p
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Close(); err != nil && !errors.Is(err, sfu.ErrClosed) {
		return fmt.Errorf("sfumedia: close: %w", err)
	}
	return nil
}
