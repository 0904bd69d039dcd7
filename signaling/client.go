package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/queue"
)

// Option configures [Dial].
type Option func(*dialOptions)

type dialOptions struct {
	passcode  string
	room      string
	http      *http.Client
	header    http.Header
	log       *slog.Logger
	readLimit int64
}

// WithPasscode sends the meeting passcode in the join message (never in the
// URL: the server refuses URLs that carry one).
func WithPasscode(passcode string) Option { return func(o *dialOptions) { o.passcode = passcode } }

// WithRoom names the room to join; the default is the room in the token.
func WithRoom(room string) Option { return func(o *dialOptions) { o.room = room } }

// WithHTTPClient sets the HTTP client used for the WebSocket handshake.
func WithHTTPClient(c *http.Client) Option { return func(o *dialOptions) { o.http = c } }

// WithHTTPHeader adds headers to the WebSocket handshake request.
func WithHTTPHeader(h http.Header) Option { return func(o *dialOptions) { o.header = h } }

// WithLogger sets the client's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *dialOptions) { o.log = l } }

// WithReadLimit bounds messages from the server (default 4 MiB: a room
// state with a large roster).
func WithReadLimit(n int64) Option { return func(o *dialOptions) { o.readLimit = n } }

// Client is one participant's signaling connection. Its methods are safe
// for concurrent use; each request blocks until the server answers or ctx
// is done, and returns an [*Error] when the server refuses it.
type Client struct {
	ws     *websocket.Conn
	log    *slog.Logger
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan *message
	self    Participant
	err     error

	done   chan struct{}           // closed when the reader stops
	events *queue.Unbounded[Event] // closed when the reader stops, stopped by Close
}

// Dial connects to the signaling server at url (ws:// or wss://), joins
// with the join token, and returns once the server has admitted the client
// or placed it in the waiting room; the first event is [Joined] or
// [Waiting]. A refused join returns an [*Error] (invalid_token,
// wrong_passcode, locked, ...).
func Dial(ctx context.Context, url, token string, opts ...Option) (*Client, error) {
	o := dialOptions{readLimit: 4 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.room == "" {
		o.room = auth.UnverifiedRoom(token)
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: o.http, HTTPHeader: o.header})
	if err != nil {
		return nil, fmt.Errorf("signaling: dial: %w", err)
	}
	ws.SetReadLimit(o.readLimit)
	c := &Client{
		ws: ws, log: o.log,
		pending: make(map[uint64]chan *message),
		done:    make(chan struct{}),
		events:  queue.NewUnbounded[Event](),
	}
	go c.readLoop()
	if _, err := c.call(ctx, &message{Type: typeJoin, Room: o.room, Token: token, Passcode: o.passcode}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Events returns the channel of server events. Events are queued without
// bound so the client never stalls; read them promptly. The channel is
// closed after the connection ends and the queued events were delivered (or
// at once after Close).
func (c *Client) Events() <-chan Event { return c.events.Out() }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open. The error
// matches [ErrClosed]; websocket.CloseStatus(err) gives the server's close
// status (1008 policy violation, 1009 message too big, ...).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Self returns the client's roster entry as of its admission (zero while
// waiting).
func (c *Client) Self() Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// Close closes the connection without waiting for queued events.
func (c *Client) Close() error {
	c.events.Stop()
	select {
	case <-c.done:
		return nil // the server closed it already
	default:
	}
	err := c.ws.Close(websocket.StatusNormalClosure, "")
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

func (c *Client) readLoop() {
	defer func() {
		c.mu.Lock()
		pending := c.pending
		c.pending = nil
		c.mu.Unlock()
		for _, ch := range pending {
			close(ch)
		}
		close(c.done)
		c.events.Close() // deliver what is queued, then close the channel
	}()
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("%w: %w", ErrClosed, err)
			c.mu.Unlock()
			return
		}
		m, err := decodeMessage(data)
		if err != nil {
			c.log.Warn("signaling: bad message from server", "err", err)
			continue
		}
		if m.Type == typeJoined && m.Self != nil {
			c.mu.Lock()
			c.self = *m.Self
			c.mu.Unlock()
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
				if m.Type != typeJoined && m.Type != typeWaiting {
					continue
				}
			}
		}
		if e, ok := toEvent(m); ok {
			c.events.Push(e)
		}
	}
}

// call sends a request and waits for its answer.
func (c *Client) call(ctx context.Context, m *message) (*message, error) {
	m.ID = c.nextID.Add(1)
	ch := make(chan *message, 1)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("signaling: %s: %w", m.Type, errors.Join(ErrClosed, err))
	}
	c.pending[m.ID] = ch
	c.mu.Unlock()
	fail := func(err error) (*message, error) {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		return nil, err
	}
	b, err := encodeMessage(m)
	if err != nil {
		return fail(err)
	}
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fail(fmt.Errorf("signaling: %s: %w", m.Type, err))
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("signaling: %s: %w", m.Type, c.Err())
		}
		if r.Type == typeError {
			return nil, &Error{Code: r.Code, Message: r.Message}
		}
		return r, nil
	case <-ctx.Done():
		return fail(fmt.Errorf("signaling: %s: %w", m.Type, ctx.Err()))
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
}

// SendCommit offers a Commit. It returns the new epoch if the Commit was
// accepted; if another Commit won the epoch it returns an error matching
// [ErrConflict]: process the [CommitReceived] event and retry.
func (c *Client) SendCommit(ctx context.Context, cm Commit) (uint64, error) {
	r, err := c.call(ctx, &message{Type: typeCommit, Epoch: &cm.Epoch, Proposals: cm.Proposals, Data: cm.Data, Welcome: cm.Welcome})
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
