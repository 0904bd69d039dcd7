package signaling

import (
	"context"
	"encoding/json"
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

	// front holds what the writer sends before anything on out: a resume's
	// answer and replay (resume.go). kick wakes the writer for it.
	frontMu sync.Mutex
	front   [][]byte
	kick    chan struct{}

	// Reader goroutine only.
	rate    bucket
	acks    bucket
	strikes bucket
	p       *participant
}

type outbound struct {
	data   []byte
	close  bool
	code   websocket.StatusCode
	reason string
}

// ackRate is the budget acks draw on before the connection's message rate
// (Config.MessageRate): a client acks at least once a second and once per
// 32 messages, so 10/s (burst 40) covers a client receiving over 300
// messages a second, or a resume's replay of a full outbox (1024 messages,
// 32 acks), without spending the budget of its requests. Acks beyond it
// count as ordinary messages.
var ackRate = Rate{Per: 10, Burst: 40}

func newConn(s *Server, ws *websocket.Conn, addr string) *conn {
	return &conn{
		s: s, ws: ws, addr: addr,
		out:        make(chan outbound, s.cfg.SendQueue),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		kick:       make(chan struct{}, 1),
	}
}

// send queues m for the client without a sequence number: what goes out
// before the participant's session exists (a refused join or resume) or
// outside it (going_away, replaced). Messages to a participant go through
// participant.send instead.
func (c *conn) send(m *message) {
	if c.closing.Load() {
		return
	}
	b, err := encodeMessage(m)
	if err != nil {
		c.s.log.Error("signaling: dropping unencodable message", "type", m.Type, "err", err)
		return
	}
	c.sendData(m.Type, b)
}

// sendData queues an encoded message. It never blocks: a client whose queue
// is full is too slow and is disconnected (its place is kept for a resume,
// as for any dropped connection).
func (c *conn) sendData(typ string, b []byte) {
	if c.closing.Load() {
		return
	}
	select {
	case c.out <- outbound{data: b}:
	default:
		c.s.stats.disconnect("slow_client")
		c.s.log.Warn("signaling: client too slow, disconnecting", "addr", c.addr, "type", typ)
		c.closing.Store(true)
		// send may run under a room lock; CloseNow may wait for a close
		// handshake in progress, so it runs on its own.
		go c.ws.CloseNow()
	}
}

// setFront hands the writer messages to send before anything queued on
// out. The caller holds the participant's outbox lock, and sets front
// before the participant's next message can be queued.
func (c *conn) setFront(msgs [][]byte) {
	c.frontMu.Lock()
	c.front = append(c.front, msgs...)
	c.frontMu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
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
		var o outbound
		have := false
		select {
		case o = <-c.out:
			have = true
		case <-c.kick:
		case <-c.quit:
			return
		}
		if !c.writeFront() {
			c.ws.CloseNow()
			return
		}
		if !have {
			continue
		}
		if o.close {
			c.ws.Close(o.code, o.reason)
			return
		}
		if !c.write(o.data) {
			c.ws.CloseNow()
			return
		}
	}
}

// writeFront writes what setFront handed over, in order.
func (c *conn) writeFront() bool {
	c.frontMu.Lock()
	front := c.front
	c.front = nil
	c.frontMu.Unlock()
	for _, b := range front {
		if !c.write(b) {
			return false
		}
	}
	return true
}

func (c *conn) write(b []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b) == nil
}

// finish runs when the reader stops: the participant keeps its place for a
// resume if the connection dropped (keep), or leaves; the writer gets a
// moment to flush, and the socket is released.
func (c *conn) finish(keep bool) {
	if c.p != nil {
		c.p.r.connEnded(c.p, c, keep)
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	select {
	case <-c.writerDone:
	case <-time.After(c.s.cfg.WriteTimeout):
	}
	c.quitOnce.Do(func() { close(c.quit) })
	c.ws.CloseNow()
}

// answer sends an answer or error: through the participant's outbox once
// the connection has one, directly before.
func (c *conn) answer(m *message) {
	if p := c.p; p != nil {
		// The caller holds p.reqMu (process).
		p.lastID = max(p.lastID, m.ID)
		p.send(m)
		return
	}
	c.send(m)
}

// reject answers a bad message with an error, counts it, and closes the
// connection once it has sent too many (MaxStrikes at once, refilled at
// MaxStrikes per minute, so a long meeting's occasional mistakes add up to
// nothing). It reports whether to go on reading.
func (c *conn) reject(id uint64, e *Error) bool {
	c.s.stats.reject(e.Code)
	c.answer(&message{Type: typeError, ID: id, Code: e.Code, Message: e.Message})
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
	c.answer(&message{Type: typeError, ID: id, Code: e.Code, Message: e.Message})
}

// readFailed handles the end of reading and reports whether the
// participant keeps its place for a resume: yes when the connection
// dropped, no when the client closed it on purpose (status 1000 or 1001,
// as a browser leaving the page does) or sent an oversized message.
func (c *conn) readFailed(err error) (keep bool) {
	if errors.Is(err, websocket.ErrMessageTooBig) {
		c.s.stats.reject(CodeTooLarge)
		c.s.stats.disconnect("too_large")
		c.s.log.Warn("signaling: oversized message, disconnected", "addr", c.addr)
		return false
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return false
	}
	return true
}

// check applies the message rate, then decodes and validates one message,
// answering what is wrong with it. It returns nil, true for a rejected
// message and nil, false to stop. Acks draw on their own budget first
// (ackRate).
func (c *conn) check(typ websocket.MessageType, data []byte) (*message, bool) {
	now := c.s.now()
	free := c.p != nil && len(data) <= maxAckLen && isAck(data) && c.acks.take(ackRate, now)
	if !free && !c.rate.take(c.s.cfg.MessageRate, now) {
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

// isAck reports whether a short message is an ack, without the full decode.
func isAck(data []byte) bool {
	var probe struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Type == typeAck
}

func knownClientType(t string) bool {
	switch t {
	case typeJoin, typeLeave, typeAdmit, typeDeny, typeRemove, typeMute, typeStopTrack, typePermission,
		typeLock, typePreAllow, typeEnd, typeConsent, typeStartRecording, typeStopRecording, typeKeyPackage,
		typeCommit, typeChat, typeMedia, typeResume, typeAck, typeGroupInfo, typeGetGroupInfo:
		return true
	}
	return false
}

// serve runs the join or resume handshake, then the message loop. It
// reports whether the participant keeps its place for a resume (the
// connection dropped) rather than leaving now.
func (c *conn) serve(ctx context.Context) (keep bool) {
	jctx, cancel := context.WithTimeout(ctx, c.s.cfg.JoinTimeout)
	var m *message
	for m == nil {
		typ, data, err := c.ws.Read(jctx)
		if err != nil {
			cancel()
			c.readFailed(err)
			return false
		}
		var ok bool
		if m, ok = c.check(typ, data); !ok {
			cancel()
			return false
		}
	}
	cancel()
	switch m.Type {
	case typeJoin:
		if e := c.join(ctx, m); e != nil {
			c.s.stats.reject(e.Code)
			c.s.log.Info("signaling: join refused", "room", m.Room, "addr", c.addr, "code", e.Code)
			c.send(&message{Type: typeError, ID: m.ID, Code: e.Code, Message: e.Message})
			c.closeWith(websocket.StatusPolicyViolation, string(e.Code))
			return false
		}
	case typeResume:
		if e, class := c.resume(m); e != nil {
			c.s.stats.reject(e.Code)
			if e.Code == CodeResumeFailed {
				c.s.stats.resumeFailed(class)
			}
			// The room may be anyone's guess; the secret is never logged.
			c.s.log.Info("signaling: resume refused", "addr", c.addr, "code", e.Code, "why", class)
			c.send(&message{Type: typeError, ID: m.ID, Code: e.Code, Message: e.Message})
			c.closeWith(websocket.StatusPolicyViolation, string(e.Code))
			return false
		}
	default:
		c.reject(m.ID, errorf(CodeBadRequest, "the first message must be join or resume"))
		c.closeWith(websocket.StatusPolicyViolation, "join first")
		return false
	}
	if c.joined != nil {
		c.joined()
	}
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return c.readFailed(err)
		}
		p := c.p
		p.reqMu.Lock()
		if !p.out.current(c) {
			// A resume took the participant over: this connection is done.
			p.reqMu.Unlock()
			return false
		}
		goOn := c.process(ctx, typ, data)
		p.reqMu.Unlock()
		if !goOn {
			return false
		}
	}
}

// process handles one message from a joined participant; the caller holds
// p.reqMu. It reports whether to go on reading.
func (c *conn) process(ctx context.Context, typ websocket.MessageType, data []byte) bool {
	p := c.p
	if p.hasPrev {
		// The client has the secret of its last resume: the one before
		// is spent.
		p.r.mu.Lock()
		p.retirePrev(resumeUsed)
		p.r.mu.Unlock()
	}
	m, ok := c.check(typ, data)
	if m == nil {
		return ok
	}
	// Every request with an id is answered once; lastID tells a resuming
	// client which of its requests were.
	if m.ID != 0 && m.Type != typeAck {
		if m.ID <= p.floor {
			return c.reject(m.ID, errorf(CodeBadRequest, "request id %d was processed before the resume", m.ID))
		}
		defer func() { p.lastID = max(p.lastID, m.ID) }()
	}
	switch m.Type {
	case typeAck:
		if err := p.out.ack(*m.Seq); err != nil {
			return c.reject(0, errorf(CodeBadRequest, "%v", err))
		}
		return true
	case typeJoin, typeResume:
		return c.reject(m.ID, errorf(CodeBadRequest, "already joined"))
	case typeLeave:
		p.send(&message{Type: typeOK, ID: m.ID})
		return false
	}
	if e := p.r.handle(ctx, p, m); e != nil {
		switch {
		case e.blameless, e.Code == CodeConflict, e.Code == CodeNotFound, e.Code == CodeInternal, e.Code == CodeMediaUnavailable:
			// Races, busy rooms and server-side trouble, not abuse.
			c.fail(m.ID, e)
		default:
			return c.reject(m.ID, e)
		}
	}
	return true
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
