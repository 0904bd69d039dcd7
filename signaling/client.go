package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/queue"
)

// Option configures [Dial].
type Option func(*dialOptions)

type dialOptions struct {
	passcode    string
	room        string
	http        *http.Client
	header      http.Header
	log         *slog.Logger
	readLimit   int64
	noReconnect bool

	// Reconnection backoff: the first wait, and the most any wait grows to.
	backoffMin, backoffMax time.Duration
}

// WithPasscode sends the meeting passcode in the join message (never in the
// URL: the server refuses URLs that carry one).
func WithPasscode(passcode string) Option { return func(o *dialOptions) { o.passcode = passcode } }

// WithRoom names the room to join; the default is the room in the token.
func WithRoom(room string) Option { return func(o *dialOptions) { o.room = room } }

// WithHTTPClient sets the HTTP client used for the WebSocket handshake (also
// when reconnecting).
func WithHTTPClient(c *http.Client) Option { return func(o *dialOptions) { o.http = c } }

// WithHTTPHeader adds headers to the WebSocket handshake request (also when
// reconnecting).
func WithHTTPHeader(h http.Header) Option { return func(o *dialOptions) { o.header = h } }

// WithLogger sets the client's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *dialOptions) { o.log = l } }

// WithReadLimit bounds messages from the server (default 4 MiB: a room
// state with a large roster).
func WithReadLimit(n int64) Option { return func(o *dialOptions) { o.readLimit = n } }

// WithoutReconnect turns automatic reconnection off: the Client closes when
// its connection drops, as it does when the server ends the session.
func WithoutReconnect() Option { return func(o *dialOptions) { o.noReconnect = true } }

// ConnState says whether a [Client] is connected ([Client.State]).
type ConnState int

// The connection states. A Client starts connected, may go to reconnecting
// and back any number of times, and ends closed.
const (
	// ConnConnected: the client has a connection and a session.
	ConnConnected ConnState = iota + 1
	// ConnReconnecting: the connection dropped; the client is trying to
	// resume its session on a new one. Requests wait.
	ConnReconnecting
	// ConnClosed: the client is closed for good ([Client.Err] says why).
	ConnClosed
)

func (s ConnState) String() string {
	switch s {
	case ConnConnected:
		return "connected"
	case ConnReconnecting:
		return "reconnecting"
	case ConnClosed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// Acknowledgements: the client acks what it processed at least this often,
// and at the latest after ackEvery messages (PROTOCOL.md, "Resume").
const (
	ackInterval = time.Second
	ackEvery    = 32
)

// writeTimeout bounds one write to the server; a write that takes longer
// drops the connection (and the client resumes on a new one).
const writeTimeout = 10 * time.Second

// Client is one participant's signaling connection. Its methods are safe
// for concurrent use; each request blocks until the server answers or ctx
// is done, and returns an [*Error] when the server refuses it.
//
// When its connection drops unexpectedly — not after [Client.Leave] or
// [Client.Close], and not when the server removed, denied, replaced or
// ended it — the Client reconnects by itself (unless [WithoutReconnect])
// and resumes its session within the server's resume window: it emits
// [Reconnecting] for each attempt, then [Resumed]; requests in flight keep
// waiting and are answered once; no event is lost or repeated. If the
// session cannot be resumed it emits [ResumeFailed] and closes; the
// application then dials afresh.
type Client struct {
	url  string
	room string
	opts dialOptions
	log  *slog.Logger

	ctx    context.Context // done once Close was called
	cancel context.CancelFunc

	mu        sync.Mutex
	state     ConnState
	cur       *clientConn // nil while reconnecting
	nextID    uint64
	pending   map[uint64]*request // nil once closed
	self      Participant
	err       error
	secret    string        // the current resume secret (never logged)
	window    time.Duration // the server's resume window
	seq       uint64        // the last sequenced message processed
	terminal  bool          // the server ended the session: no reconnecting
	goingAway bool          // the server said going_away on this connection
	closed    bool          // Close was called

	done   chan struct{}           // closed when the Client is closed for good
	events *queue.Unbounded[Event] // closed after done, stopped by Close
}

// request is a request waiting for its answer.
type request struct {
	data   []byte        // encoded, to resend after a resume
	ch     chan *message // capacity 1
	resend bool          // false for join: a session cannot rejoin itself
}

// clientConn is one WebSocket of a Client; requests and acks go out
// through its queue, in order, written by its own goroutine.
type clientConn struct {
	ws    *websocket.Conn
	out   *queue.Unbounded[[]byte]
	acked uint64 // the last seq acked on it; guarded by Client.mu
}

// Dial connects to the signaling server at url (ws:// or wss://), joins
// with the join token, and returns once the server has admitted the client
// or placed it in the waiting room; the first event is [Joined] or
// [Waiting]. A refused join returns an [*Error] (invalid_token,
// wrong_passcode, locked, ...). The url and options are used again to
// reconnect; the token is not (a resume does not need it).
func Dial(ctx context.Context, url, token string, opts ...Option) (*Client, error) {
	o := dialOptions{readLimit: 4 << 20, backoffMin: 250 * time.Millisecond, backoffMax: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.room == "" {
		o.room = auth.UnverifiedRoom(token)
	}
	ws, err := o.dial(ctx, url)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url: url, room: o.room, opts: o, log: o.log,
		ctx: cctx, cancel: cancel,
		state:   ConnConnected,
		pending: make(map[uint64]*request),
		done:    make(chan struct{}),
		events:  queue.NewUnbounded[Event](),
	}
	cc := c.newConn(ws)
	c.cur = cc
	go c.run(cc)
	if _, err := c.call(ctx, &message{Type: typeJoin, Room: o.room, Token: token, Passcode: o.passcode}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (o *dialOptions) dial(ctx context.Context, url string) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: o.http, HTTPHeader: o.header})
	if err != nil {
		return nil, fmt.Errorf("signaling: dial: %w", err)
	}
	ws.SetReadLimit(o.readLimit)
	return ws, nil
}

// newConn wraps ws and starts its writer.
func (c *Client) newConn(ws *websocket.Conn) *clientConn {
	cc := &clientConn{ws: ws, out: queue.NewUnbounded[[]byte]()}
	go c.writeLoop(cc)
	return cc
}

// Events returns the channel of server events, and of the client's own
// [Reconnecting], [Resumed] and [ResumeFailed]. Events are queued without
// bound so the client never stalls; read them promptly. Each server event
// arrives exactly once, in the server's order, across resumes too. The
// channel is closed after the Client closed and the queued events were
// delivered (or at once after Close).
func (c *Client) Events() <-chan Event { return c.events.Out() }

// Done is closed when the Client has closed for good (not while it
// reconnects).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the Client closed, or nil while it is open (connected or
// reconnecting). The error matches [ErrClosed]; websocket.CloseStatus(err)
// gives the server's close status (1008 policy violation, 1009 message too
// big, ...); after a [ResumeFailed] it wraps that event's error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State says whether the Client is connected, reconnecting or closed.
func (c *Client) State() ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Self returns the client's roster entry as of its admission or its last
// resume (zero while waiting).
func (c *Client) Self() Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// Close closes the connection without waiting for queued events, and stops
// reconnecting. The server takes a close as leaving.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.cur
	c.mu.Unlock()
	c.events.Stop()
	select {
	case <-c.done:
		return nil // closed already
	default:
	}
	var err error
	if cc != nil {
		// The close frame tells the server the client leaves (a drop
		// would keep its place for a resume).
		err = cc.ws.Close(websocket.StatusNormalClosure, "")
	}
	c.cancel() // ends reconnecting, if that is what the client is doing
	<-c.done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("signaling: close: %w", err)
	}
	return nil
}

// Leave tells the server the client leaves, then closes.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.call(ctx, &message{Type: typeLeave})
	c.Close()
	return err
}

// run reads the connections one after the other: it owns the session's
// sequence numbers and the reconnecting.
func (c *Client) run(cc *clientConn) {
	defer c.finish()
	for {
		err := c.readConn(cc)
		cc.out.Stop()
		cc.ws.CloseNow()
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
		if !c.mayResume(err) {
			c.setErr(fmt.Errorf("%w: %w", ErrClosed, err))
			return
		}
		c.log.Info("signaling: connection lost, resuming", "err", err)
		if cc = c.reconnect(err); cc == nil {
			return
		}
	}
}

// finish closes the Client for good: requests still waiting fail, and the
// events end.
func (c *Client) finish() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.state = ConnClosed
	c.secret = ""
	if c.err == nil {
		c.err = ErrClosed
	}
	c.mu.Unlock()
	for _, r := range pending {
		close(r.ch)
	}
	close(c.done)
	c.events.Close() // deliver what is queued, then close the channel
	c.cancel()
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// readConn handles cc's messages until it ends, and returns why.
func (c *Client) readConn(cc *clientConn) error {
	for {
		_, data, err := cc.ws.Read(context.Background())
		if err != nil {
			return err
		}
		m, err := decodeMessage(data)
		if err != nil {
			c.log.Warn("signaling: bad message from server", "err", err)
			continue
		}
		c.handle(cc, m)
	}
}

// handle processes one message: sequenced messages exactly once, in order.
func (c *Client) handle(cc *clientConn, m *message) {
	c.mu.Lock()
	if m.Seq != nil {
		switch seq := *m.Seq; {
		case seq <= c.seq:
			c.mu.Unlock()
			return // a duplicate
		case seq != c.seq+1:
			// An honest server never skips one on a connection; a hostile
			// one can hide messages anyway. Going on (rather than
			// resuming in a loop) lets the MLS checks above this package
			// notice what is missing.
			c.log.Warn("signaling: gap in the server's messages", "want", c.seq+1, "got", seq)
		}
		c.seq = *m.Seq
		if c.seq-cc.acked >= ackEvery {
			cc.acked = c.seq
			if b, err := encodeMessage(&message{Type: typeAck, Seq: ptr(c.seq)}); err == nil {
				cc.out.Push(b)
			}
		}
	}
	switch m.Type {
	case typeGoingAway:
		c.goingAway = true
		c.mu.Unlock()
		return
	case typeRemoved, typeDenied, typeEnded:
		c.terminal = true
	case typeError:
		if m.Code == CodeReplaced {
			c.terminal = true
		}
	case typeJoined, typeWaiting:
		if m.Resume != "" {
			c.secret, c.window = m.Resume, time.Duration(m.ResumeWindow)*time.Millisecond
		}
	}
	if m.Type == typeJoined && m.Self != nil {
		c.self = *m.Self
	}
	var answered *request
	if m.ID != 0 && (m.Type == typeOK || m.Type == typeError || m.Type == typeJoined || m.Type == typeWaiting) {
		answered = c.pending[m.ID]
		delete(c.pending, m.ID)
	}
	c.mu.Unlock()
	if answered != nil {
		answered.ch <- m
	}
	if m.ID != 0 && (m.Type == typeOK || m.Type == typeError) {
		// An answer, even to a request whose caller gave up, is no event.
		return
	}
	if e, ok := toEvent(m); ok {
		c.events.Push(e)
	}
}

// writeLoop writes cc's queue in order, and acks every ackInterval what was
// processed since the last ack.
func (c *Client) writeLoop(cc *clientConn) {
	tick := time.NewTicker(ackInterval)
	defer tick.Stop()
	for {
		var b []byte
		select {
		case d, ok := <-cc.out.Out():
			if !ok {
				return
			}
			b = d
		case <-tick.C:
			c.mu.Lock()
			if c.seq > cc.acked {
				cc.acked = c.seq
				b, _ = encodeMessage(&message{Type: typeAck, Seq: ptr(c.seq)})
			}
			c.mu.Unlock()
			if b == nil {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := cc.ws.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			cc.ws.CloseNow() // the reader sees the drop
			return
		}
	}
}

// mayResume reports whether the end of a connection (err) calls for a
// resume: the client has a session and is not closing, the server did not
// end it, and the connection dropped rather than closed: no close frame,
// or the server going away or restarting.
func (c *Client) mayResume(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.terminal || c.opts.noReconnect || c.secret == "" || c.window <= 0 {
		return false
	}
	if c.goingAway {
		return true
	}
	switch websocket.CloseStatus(err) {
	case -1, websocket.StatusGoingAway, websocket.StatusAbnormalClosure, websocket.StatusInternalError,
		websocket.StatusServiceRestart, websocket.StatusTryAgainLater, websocket.StatusBadGateway:
		return true
	}
	return false
}

// errWindowSpent: the resume window passed without a successful resume.
var errWindowSpent = errors.New("signaling: the resume window passed")

// reconnect tries to resume the session on a new connection, with
// exponential backoff (backoffMin doubling up to backoffMax, each wait
// drawn from its upper half), until the resume window is spent. It returns
// the new connection, or nil when the Client is to close.
func (c *Client) reconnect(cause error) *clientConn {
	c.mu.Lock()
	c.state = ConnReconnecting
	c.goingAway = false
	deadline := time.Now().Add(c.window)
	c.mu.Unlock()
	delay := c.opts.backoffMin
	for attempt := 1; ; attempt++ {
		c.events.Push(Reconnecting{Attempt: attempt, Err: cause})
		wait := delay/2 + rand.N(delay/2+1)
		if left := time.Until(deadline); wait > left {
			wait = left
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
		if !time.Now().Before(deadline) {
			c.resumeFailed(fmt.Errorf("%w (last: %w)", errWindowSpent, cause))
			return nil
		}
		cc, err := c.tryResume(deadline)
		if err == nil {
			return cc
		}
		if c.ctx.Err() != nil {
			return nil
		}
		var se *Error
		if errors.As(err, &se) && se.Code == CodeResumeFailed {
			c.resumeFailed(err)
			return nil
		}
		c.log.Info("signaling: resume attempt failed", "attempt", attempt, "err", err)
		cause = err
		delay = min(2*delay, c.opts.backoffMax)
	}
}

func (c *Client) resumeFailed(err error) {
	c.log.Warn("signaling: cannot resume; the session is over", "err", err)
	c.events.Push(ResumeFailed{Err: err})
	c.setErr(fmt.Errorf("%w: %w", ErrClosed, err))
}

// tryResume dials, sends "resume" and reads the answer. On "resumed" it
// installs the new connection and resends the requests the server did not
// process (ids above last_id), in order, before any new one.
func (c *Client) tryResume(deadline time.Time) (*clientConn, error) {
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	ws, err := c.opts.dial(ctx, c.url)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	seq := c.seq
	req, err := encodeMessage(&message{Type: typeResume, Room: c.room, Resume: c.secret, Seq: &seq})
	c.mu.Unlock()
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if err := ws.Write(ctx, websocket.MessageText, req); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("signaling: resume: %w", err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("signaling: resume: %w", err)
	}
	m, err := decodeMessage(data)
	switch {
	case err != nil:
		ws.CloseNow()
		return nil, fmt.Errorf("signaling: resume: %w", err)
	case m.Type == typeError:
		ws.CloseNow()
		return nil, &Error{Code: m.Code, Message: m.Message}
	case m.Type != typeResumed || m.Resume == "" || m.LastID == nil:
		ws.CloseNow()
		return nil, fmt.Errorf("signaling: resume: unexpected answer %q", m.Type)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		ws.CloseNow()
		return nil, ErrClosed
	}
	cc := &clientConn{ws: ws, out: queue.NewUnbounded[[]byte](), acked: seq}
	c.secret = m.Resume
	if m.ResumeWindow > 0 {
		c.window = time.Duration(m.ResumeWindow) * time.Millisecond
	}
	if m.Self != nil {
		c.self = *m.Self
	}
	// An ack first: it tells the server the new secret arrived, so that
	// the one just used is spent.
	if b, err := encodeMessage(&message{Type: typeAck, Seq: ptr(seq)}); err == nil {
		cc.out.Push(b)
	}
	ids := make([]uint64, 0, len(c.pending))
	for id, r := range c.pending {
		if id > *m.LastID && r.resend {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		cc.out.Push(c.pending[id].data)
	}
	c.cur, c.state = cc, ConnConnected
	c.mu.Unlock()
	go c.writeLoop(cc)
	c.log.Info("signaling: resumed", "resent", len(ids))
	c.events.Push(Resumed{})
	return cc, nil
}

// call sends a request and waits for its answer. While the client
// reconnects the request waits, and goes out once the session is resumed.
func (c *Client) call(ctx context.Context, m *message) (*message, error) {
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("signaling: %s: %w", m.Type, errors.Join(ErrClosed, err))
	}
	c.nextID++
	m.ID = c.nextID
	b, err := encodeMessage(m)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	r := &request{data: b, ch: make(chan *message, 1), resend: m.Type != typeJoin}
	c.pending[m.ID] = r
	if c.cur != nil {
		c.cur.out.Push(b)
	}
	c.mu.Unlock()
	select {
	case a, ok := <-r.ch:
		if !ok {
			return nil, fmt.Errorf("signaling: %s: %w", m.Type, c.Err())
		}
		if a.Type == typeError {
			return nil, &Error{Code: a.Code, Message: a.Message}
		}
		return a, nil
	case <-ctx.Done():
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("signaling: %s: %w", m.Type, ctx.Err())
	}
}

func (c *Client) do(ctx context.Context, m *message) error {
	_, err := c.call(ctx, m)
	return err
}

// Admit lets a waiting participant in (host, cohost).
func (c *Client) Admit(ctx context.Context, identity string) error {
	return c.do(ctx, &message{Type: typeAdmit, Participant: identity})
}

// Deny turns a waiting participant away (host, cohost).
func (c *Client) Deny(ctx context.Context, identity string) error {
	return c.do(ctx, &message{Type: typeDeny, Participant: identity})
}

// Remove removes a participant and bars its identity from rejoining; if it
// was an MLS member, a committer is asked to Commit its Remove (host,
// cohost; cohosts not on hosts).
func (c *Client) Remove(ctx context.Context, identity string) error {
	return c.do(ctx, &message{Type: typeRemove, Participant: identity})
}

// Mute asks a participant to mute a source (host, cohost).
func (c *Client) Mute(ctx context.Context, identity string, src Source) error {
	return c.do(ctx, &message{Type: typeMute, Participant: identity, Source: src})
}

// StopTrack makes the SFU stop forwarding a participant's track (host,
// cohost).
func (c *Client) StopTrack(ctx context.Context, identity string, src Source) error {
	return c.do(ctx, &message{Type: typeStopTrack, Participant: identity, Source: src})
}

// SetPermission allows or forbids a participant to publish a source (host,
// cohost); the SFU enforces it.
func (c *Client) SetPermission(ctx context.Context, identity string, src Source, allowed bool) error {
	return c.do(ctx, &message{Type: typePermission, Participant: identity, Source: src, Allowed: &allowed})
}

// AllowScreen allows or forbids a participant to share its screen.
func (c *Client) AllowScreen(ctx context.Context, identity string, allowed bool) error {
	return c.SetPermission(ctx, identity, SourceScreen, allowed)
}

// Lock locks (or unlocks) the meeting: only hosts and cohosts may join a
// locked meeting (host, cohost).
func (c *Client) Lock(ctx context.Context, locked bool) error {
	return c.do(ctx, &message{Type: typeLock, Locked: &locked})
}

// PreAllow sets the roles that skip the waiting room from now on (hosts
// always do; no roles: everyone else waits) and admits the waiting
// participants of those roles (host, cohost).
func (c *Client) PreAllow(ctx context.Context, roles ...Role) error {
	if roles == nil {
		roles = []Role{}
	}
	return c.do(ctx, &message{Type: typePreAllow, Roles: roles})
}

// End ends the meeting for everyone (host).
func (c *Client) End(ctx context.Context) error {
	return c.do(ctx, &message{Type: typeEnd})
}

// Consent gives (true) or withdraws (false) consent to the recording whose
// [Recording].ID is recordingID. Consent belongs to that one recording: if
// it is no longer the current one, the server refuses with an error
// matching [ErrConflict] and nothing changes. A withdrawal may pass "" for
// the current recording. An admitted participant withdrawing stops the
// recording; one in the waiting room stays there (it will not join while
// this recording runs) and may leave. A participant waiting with reason
// "consent" is admitted once it consents.
func (c *Client) Consent(ctx context.Context, recordingID string, granted bool) error {
	if (granted || recordingID != "") && !validRecordingID(recordingID) {
		return errors.New("signaling: consent: missing or invalid recording id")
	}
	return c.do(ctx, &message{Type: typeConsent, Granted: &granted, Rec: recIDField(recordingID)})
}

// StartRecording asks to record on this client's machine (host, cohost)
// and returns the new recording, which becomes active once everyone
// consented to it (the recorder too: pass its ID to [Client.Consent]).
// Asking again while one's own recording is requested returns that one.
func (c *Client) StartRecording(ctx context.Context) (Recording, error) {
	r, err := c.call(ctx, &message{Type: typeStartRecording})
	if err != nil {
		return Recording{}, err
	}
	if r.Rec.state == nil {
		return Recording{}, errors.New("signaling: start_recording: answer without recording")
	}
	return *r.Rec.state, nil
}

// StopRecording stops the recording (host, cohost, the recorder).
func (c *Client) StopRecording(ctx context.Context) error {
	return c.do(ctx, &message{Type: typeStopRecording})
}

// SendChat relays an MLS application message (RFC 9420 §6.3.1), encrypted
// by the caller in epoch, to everyone else in the meeting.
func (c *Client) SendChat(ctx context.Context, epoch uint64, data []byte) error {
	return c.do(ctx, &message{Type: typeChat, Epoch: &epoch, Data: data})
}

// UploadKeyPackage hands the delivery service this client's MLS KeyPackage
// (RFC 9420 §10). The answer is either a [CreateGroupRequested] event (nobody else is
// in the group) or, later, a [WelcomeReceived] event.
func (c *Client) UploadKeyPackage(ctx context.Context, keyPackage []byte) error {
	return c.do(ctx, &message{Type: typeKeyPackage, Data: keyPackage})
}

// Commit is an MLS Commit (RFC 9420 §12.4) as the delivery service sees it.
type Commit struct {
	// Epoch is the epoch the Commit was built on.
	Epoch uint64
	// Proposals are the IDs of the pending proposals (from
	// [CommitRequested]) the Commit covers; none for a plain Update.
	Proposals []uint64
	// Data is the MLSMessage carrying the Commit.
	Data []byte
	// Welcome is the MLSMessage carrying the Welcome; required exactly when
	// Proposals include an Add.
	Welcome []byte
	// GroupInfo is the committer's signed GroupInfo of the new epoch (RFC
	// 9420 §12.4.3), which the server keeps for participants to resync
	// from ([Client.GroupInfo]); optional, at most [Config].MaxGroupInfoSize.
	GroupInfo []byte
	// External marks an external Commit (RFC 9420 §12.4.3.2), built from
	// the room's GroupInfo by a participant whose copy of the group fell
	// behind: it removes the sender's old leaf and adds a new one. It
	// covers no Proposals and has no Welcome.
	External bool
}

// SendCommit offers a Commit. It returns the new epoch if the Commit was
// accepted; if another Commit won the epoch it returns an error matching
// [ErrConflict]: process the [CommitReceived] event and retry.
func (c *Client) SendCommit(ctx context.Context, cm Commit) (uint64, error) {
	r, err := c.call(ctx, &message{Type: typeCommit, Epoch: &cm.Epoch, Proposals: cm.Proposals, Data: cm.Data, Welcome: cm.Welcome, GroupInfo: cm.GroupInfo, External: cm.External})
	if err != nil {
		return 0, err
	}
	if r.Epoch == nil {
		return 0, errors.New("signaling: commit: answer without epoch")
	}
	return *r.Epoch, nil
}

// SendMedia sends an SDP offer or answer or an ICE candidate to the SFU.
func (c *Client) SendMedia(ctx context.Context, s MediaSignal) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("signaling: media: %w", err)
	}
	return c.do(ctx, &message{Type: typeMedia, Signal: &s})
}

// PublishGroupInfo hands the server the group's GroupInfo for epoch (RFC
// 9420 §12.4.3), signed by this member: the founder does so for epoch 0;
// committers send theirs with the Commit ([Commit].GroupInfo). Only
// members may, only for the current epoch, and only the first for an epoch
// is kept (a later one gets an error matching [ErrConflict]).
func (c *Client) PublishGroupInfo(ctx context.Context, epoch uint64, groupInfo []byte) error {
	return c.do(ctx, &message{Type: typeGroupInfo, Epoch: &epoch, Data: groupInfo})
}

// GroupInfo returns the room's latest GroupInfo and the epoch it is for,
// from which a participant whose copy of the group fell behind builds an
// external Commit. Without one the error has code not_found. The server
// does not read it; verify it (RFC 9420 §12.4.3.1) before use.
func (c *Client) GroupInfo(ctx context.Context) (epoch uint64, groupInfo []byte, err error) {
	r, err := c.call(ctx, &message{Type: typeGetGroupInfo})
	if err != nil {
		return 0, nil, err
	}
	if r.Epoch == nil || len(r.Data) == 0 {
		return 0, nil, errors.New("signaling: get_group_info: answer without epoch or data")
	}
	return *r.Epoch, r.Data, nil
}
