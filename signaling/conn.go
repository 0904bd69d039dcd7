package signaling

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tresor-dev/tresor/auth"
)

// conn is the server side of one WebSocket. Its reader runs in the HTTP
// handler's goroutine (serve); its writer drains a bounded queue, so that no
// room lock is ever held across network I/O.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	addr   string
	joined func() // releases the connection's not-yet-joined slot

	out        chan outbound
	quit       chan struct{}
	writerDone chan struct{}
	closing    atomic.Bool
	closeOnce  sync.Once
	quitOnce   sync.Once

	// Reader goroutine only.
	rate    bucket
	strikes bucket
	p       *participant
}

type outbound struct {
	data   []byte
	close  bool
	code   websocket.StatusCode
	reason string
}

func newConn(s *Server, ws *websocket.Conn, addr string) *conn {
	return &conn{
		s: s, ws: ws, addr: addr,
		out:        make(chan outbound, s.cfg.SendQueue),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

// send queues m for the client. It never blocks: a client whose queue is
// full is too slow and is disconnected.
func (c *conn) send(m *message) {
	if c.closing.Load() {
		return
	}
	b, err := encodeMessage(m)
	if err != nil {
		c.s.log.Error("signaling: dropping unencodable message", "type", m.Type, "err", err)
		return
	}
	select {
	case c.out <- outbound{data: b}:
	default:
		c.s.stats.disconnect("slow_client")
		c.s.log.Warn("signaling: client too slow, disconnecting", "addr", c.addr)
		c.closing.Store(true)
		// send may run under a room lock; CloseNow may wait for a close
		// handshake in progress, so it runs on its own.
		go c.ws.CloseNow()
	}
}

// closeWith closes the connection after the messages already queued.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		select {
		case c.out <- outbound{close: true, code: code, reason: reason}:
		default:
			go c.ws.CloseNow() // queue full: the client is not reading anyway
		}
	})
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case o := <-c.out:
			if o.close {
				c.ws.Close(o.code, o.reason)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, o.data)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		case <-c.quit:
			return
		}
	}
}

// finish runs when the reader stops: it leaves the room, lets the writer
// flush for a moment, and releases the socket.
func (c *conn) finish() {
	if c.p != nil {
		c.p.r.leave(c.p)
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	select {
	case <-c.writerDone:
	case <-time.After(c.s.cfg.WriteTimeout):
	}
	c.quitOnce.Do(func() { close(c.quit) })
	c.ws.CloseNow()
}

// reject answers a bad message with an error, counts it, and closes the
// connection once it has sent too many (MaxStrikes at once, refilled at
// MaxStrikes per minute, so a long meeting's occasional mistakes add up to
// nothing). It reports whether to go on reading.
func (c *conn) reject(id uint64, e *Error) bool {
	c.s.stats.reject(e.Code)
	c.send(&message{Type: typeError, ID: id, Code: e.Code, Message: e.Message})
	// The MaxStrikes-th strike in quick succession empties the bucket.
	if !c.strikes.take(c.s.strikeRate(), c.s.now()) || c.strikes.tokens < 1 {
		c.s.stats.disconnect("too_many_errors")
		c.s.log.Warn("signaling: too many bad messages, disconnecting", "addr", c.addr, "last", e.Code)
		c.closeWith(websocket.StatusPolicyViolation, "too many bad messages")
		return false
	}
	return true
}

// fail answers a request with an error without counting a strike: the
// request was well-formed but cannot be done now (a Commit conflict, a
// participant who just left).
func (c *conn) fail(id uint64, e *Error) {
	c.s.stats.reject(e.Code)
	c.send(&message{Type: typeError, ID: id, Code: e.Code, Message: e.Message})
}

// read reads and decodes one message, answering envelope errors itself.
// It returns nil, true for a rejected message and nil, false to stop.
func (c *conn) read(ctx context.Context) (*message, bool) {
	typ, data, err := c.ws.Read(ctx)
	if err != nil {
		if errors.Is(err, websocket.ErrMessageTooBig) {
			c.s.stats.reject(CodeTooLarge)
			c.s.stats.disconnect("too_large")
			c.s.log.Warn("signaling: oversized message, disconnected", "addr", c.addr)
		}
		return nil, false
	}
	if !c.rate.take(c.s.cfg.MessageRate, c.s.now()) {
		return nil, c.reject(0, errorf(CodeRateLimited, "too many messages"))
	}
	if typ != websocket.MessageText {
		return nil, c.reject(0, errorf(CodeBadRequest, "binary messages are not part of the protocol"))
	}
	m, err := decodeMessage(data)
	if err != nil {
		var id uint64
		code := CodeBadRequest
		if m != nil {
			id = m.ID
		}
		if errors.Is(err, errVersion) {
			code = CodeUnsupportedVersion
		}
		return nil, c.reject(id, &Error{Code: code, Message: err.Error()})
	}
	if err := m.validate(); err != nil {
		code := CodeBadRequest
		if !knownClientType(m.Type) {
			code = CodeUnknownType
		}
		return nil, c.reject(m.ID, &Error{Code: code, Message: err.Error()})
	}
	return m, true
}

func knownClientType(t string) bool {
	switch t {
	case typeJoin, typeLeave, typeAdmit, typeDeny, typeRemove, typeMute, typeStopTrack, typePermission,
		typeLock, typePreAllow, typeEnd, typeConsent, typeStartRecording, typeStopRecording, typeKeyPackage,
		typeCommit, typeChat, typeMedia:
		return true
	}
	return false
}

// serve runs the join handshake, then the message loop.
func (c *conn) serve(ctx context.Context) {
	jctx, cancel := context.WithTimeout(ctx, c.s.cfg.JoinTimeout)
	var m *message
	for m == nil {
		var ok bool
		m, ok = c.read(jctx)
		if !ok {
			cancel()
			return
		}
	}
	cancel()
	if m.Type != typeJoin {
		c.reject(m.ID, errorf(CodeBadRequest, "the first message must be join"))
		c.closeWith(websocket.StatusPolicyViolation, "join first")
		return
	}
	if e := c.join(ctx, m); e != nil {
		c.s.stats.reject(e.Code)
		c.s.log.Info("signaling: join refused", "room", m.Room, "addr", c.addr, "code", e.Code)
		c.send(&message{Type: typeError, ID: m.ID, Code: e.Code, Message: e.Message})
		c.closeWith(websocket.StatusPolicyViolation, string(e.Code))
		return
	}
	if c.joined != nil {
		c.joined()
	}
	for {
		m, ok := c.read(ctx)
		if !ok {
			return
		}
		if m == nil {
			continue
		}
		if m.Type == typeJoin {
			if !c.reject(m.ID, errorf(CodeBadRequest, "already joined")) {
				return
			}
			continue
		}
		if m.Type == typeLeave {
			c.send(&message{Type: typeOK, ID: m.ID})
			return
		}
		if e := c.p.r.handle(ctx, c.p, m); e != nil {
			switch {
			case e.blameless, e.Code == CodeConflict, e.Code == CodeNotFound, e.Code == CodeInternal, e.Code == CodeMediaUnavailable:
				// Races, busy rooms and server-side trouble, not abuse.
				c.fail(m.ID, e)
			default:
				if !c.reject(m.ID, e) {
					return
				}
			}
		}
	}
}

// join verifies the token and passcode, then places the client in its room.
func (c *conn) join(ctx context.Context, m *message) *Error {
	s := c.s
	claims, err := auth.VerifyToken(m.Token, s.cfg.TokenKeys, s.now())
	if err != nil {
		return tokenError(err)
	}
	if claims.Room != m.Room {
		return errorf(CodeWrongRoom, "the token is for another room")
	}
	r, e := s.lookupRoom(ctx, m.Room)
	if e != nil {
		return e
	}
	if r.set.passcode != nil && claims.Role != RoleHost {
		if e := c.checkPasscode(ctx, r, claims.Identity, m.Passcode); e != nil {
			r.dropIfEmpty()
			return e
		}
	}
	return r.join(c, claims, m.ID)
}

// checkPasscode checks a room passcode for identity. Failed attempts are
// rate-limited per source (see passcodeLimits); once a limit is exhausted
// the server refuses without hashing, so a flood costs it nothing. The
// passcode is never logged.
func (c *conn) checkPasscode(ctx context.Context, r *room, identity, passcode string) *Error {
	s := c.s
	if passcode == "" {
		return errorf(CodePasscodeRequired, "this meeting needs a passcode")
	}
	// Every attempt reserves its tokens before hashing, so concurrent
	// guesses cannot overrun the limit; a right passcode gives them back.
	refund, ok := s.passcode.reserve(r.name, addrKey(c.addr), identity)
	if !ok {
		return errorf(CodeRateLimited, "too many wrong passcodes; try again later")
	}
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		refund()
		return errorf(CodeInternal, "cancelled")
	}
	ok = r.set.passcode.Verify(passcode)
	<-s.hashSem
	if !ok {
		return errorf(CodeWrongPasscode, "wrong passcode")
	}
	refund()
	return nil
}
