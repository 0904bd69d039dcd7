package signaling

import (
	"context"
	"errors"
	"sync"
)

// Media is the server's view of the SFU. The server calls Join for an
// admitted participant the first time that participant sends a media signal,
// and relays signals both ways. A nil Media in [Config] runs signaling
// without media: media messages are answered with [CodeMediaUnavailable].
//
// The server calls Media and MediaSession methods without holding any of its
// locks, from the goroutine serving the participant concerned (or the host
// acting on it), so implementations may block briefly; send may be called
// from any goroutine at any time until Close returns, and never blocks.
type Media interface {
	// Join opens a media session for participant (the identity from its
	// join token) in room. send delivers the SFU's own signals (offers,
	// answers, ICE candidates) to the participant.
	Join(ctx context.Context, room, participant string, send func(MediaSignal)) (MediaSession, error)
}

// MediaSession is one participant's media connection on the SFU.
type MediaSession interface {
	// Signal hands the SFU an offer, answer or ICE candidate from the
	// participant.
	Signal(ctx context.Context, s MediaSignal) error
	// SetPublishPermission allows or forbids publishing a source. Forbidding
	// a source also stops any track of that source being forwarded.
	SetPublishPermission(source Source, allowed bool) error
	// StopTrack stops forwarding the participant's track of that source
	// (a host action); the participant may publish again if permitted.
	StopTrack(source Source) error
	// Close leaves the SFU room.
	Close() error
}

// mediaSlot holds a participant's media session, created on its first media
// signal. Its own mutex (not the room's) guards it, because Media calls may
// block.
type mediaSlot struct {
	mu      sync.Mutex
	session MediaSession
	closed  bool
}

// media relays a client's media signal to the SFU, joining on first use and
// applying the participant's publish permissions.
func (r *room) media(ctx context.Context, p *participant, m *message) *Error {
	if r.s.cfg.Media == nil {
		return errorf(CodeMediaUnavailable, "this server runs without media")
	}
	r.mu.Lock()
	admitted, gone := p.admitted, p.gone
	r.mu.Unlock()
	if gone {
		return errorf(CodeBadRequest, "no longer in the meeting")
	}
	if !admitted {
		return errorf(CodeNotAdmitted, "waiting for a host to admit you")
	}
	sess, err := p.media.open(ctx, r, p)
	if err != nil {
		r.s.log.Warn("signaling: media join failed", "room", r.name, "err", err)
		return errorf(CodeInternal, "media unavailable")
	}
	if err := sess.Signal(ctx, *m.Signal); err != nil {
		r.s.log.Info("signaling: media signal refused", "room", r.name, "kind", m.Signal.Kind, "err", err)
		return errorf(CodeBadRequest, "media signal refused by the SFU")
	}
	p.send(&message{Type: typeOK, ID: m.ID})
	return nil
}

func (s *mediaSlot) open(ctx context.Context, r *room, p *participant) (MediaSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("participant left")
	}
	if s.session != nil {
		return s.session, nil
	}
	// The SFU's signals go through the participant's outbox, so that they
	// reach it across a resume too.
	sess, err := r.s.cfg.Media.Join(ctx, r.name, p.identity, func(sig MediaSignal) {
		p.send(&message{Type: typeMedia, Signal: &sig})
	})
	if err != nil {
		return nil, err
	}
	// Read the permissions only now: a change made while joining is
	// applied here or by the effect that follows it (it waits for s.mu).
	r.mu.Lock()
	perms := p.perms
	r.mu.Unlock()
	for _, src := range []Source{SourceCamera, SourceMicrophone, SourceScreen} {
		if err := sess.SetPublishPermission(src, perms.Allowed(src)); err != nil {
			sess.Close()
			return nil, err
		}
	}
	s.session = sess
	return sess, nil
}

func (s *mediaSlot) setPermission(src Source, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != nil {
		s.session.SetPublishPermission(src, allowed)
	}
}

func (s *mediaSlot) stopTrack(src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != nil {
		s.session.StopTrack(src)
	}
}

func (s *mediaSlot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.session != nil {
		s.session.Close()
		s.session = nil
	}
}
