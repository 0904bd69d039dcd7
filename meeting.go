package tresor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/internal/keyring"
	"github.com/tresor-dev/tresor/internal/queue"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

// Errors callers act on.
var (
	// ErrNotMember: the client is not (yet, or any more) a member of the
	// meeting's MLS group, so it holds no keys to send with.
	ErrNotMember = errors.New("tresor: not a member of the group")
	// ErrNotAdmitted: the client is in the waiting room.
	ErrNotAdmitted = errors.New("tresor: waiting to be admitted")
	// ErrRemoved, ErrDenied and ErrEnded say why the server ended the
	// meeting for this client (Meeting.Err, Closed.Err): a host removed
	// it, turned it away from the waiting room, or ended the meeting.
	ErrRemoved = errors.New("tresor: removed from the meeting")
	ErrDenied  = errors.New("tresor: denied entry")
	ErrEnded   = errors.New("tresor: the meeting ended")
	// ErrClosed: the meeting handle is closed.
	ErrClosed = errors.New("tresor: meeting closed")
)

// requestTimeout bounds one request to the signaling server made by the
// client itself (commits, media signals).
const requestTimeout = 10 * time.Second

// A Meeting is one participant's connection to a meeting: the signaling
// WebSocket, the MLS group that makes the keys, and the two pion peer
// connections (publish and subscribe) that carry SFrame-encrypted media.
//
// The meeting logic (the MLS group, the roster, recording consent, checking
// the server) is internal/core's Driver, the same code the browser runs; a
// Meeting feeds it from the network and carries out what it returns. Its
// methods are safe for concurrent use: one goroutine owns the driver and
// handles every signaling event in order; the methods that touch it hand it
// work; requests to the server go out in order from another goroutine.
type Meeting struct {
	opts     options
	log      *slog.Logger
	sig      *signaling.Client
	events   *queue.Unbounded[Event]
	keys     *keyring.Ring
	media    *mediaConn
	speakers *speakers
	outbox   *outbox

	ctx     context.Context
	cancel  context.CancelFunc
	cmds    chan func()
	results chan commitAnswer
	runWG   sync.WaitGroup
	closed  sync.Once
	done    chan struct{}
	leaving atomic.Bool

	// Owned by the run goroutine.
	d         *core.Driver
	admitted  bool
	endReason error
	timer     *time.Timer

	mu      sync.Mutex // guards the fields below
	self    signaling.Participant
	epoch   uint64
	code    string
	members []Member
	member  bool
	err     error
	group   core.Stats // the driver's counters, after each input
}

// commitAnswer is the server's answer to a Commit, for the driver, and for
// the caller waiting for it (Rekey), if any.
type commitAnswer struct {
	err  error
	wait chan<- error
}

// Join connects to the meeting at url (the signaling server's WebSocket
// URL, ws:// or wss://) with the join token the application's backend
// minted (auth.MintToken), and returns once the server admitted the client
// or put it in the waiting room.
//
// After admission the client uploads an MLS KeyPackage; an existing member
// adds it with a Commit and the client joins the group from the Welcome (or
// it founds the group, if it is first). Media keys come from the group: until
// the client is a member, [LocalTrack.WriteSample] refuses frames and remote
// frames cannot be decrypted. Watch [Meeting.Events] for [EpochChanged].
//
// With [WithAuthority] the client accepts only members the backend vouched
// for, and needs the backend's assertion for itself ([WithIdentity] or
// [WithVoucher]); Join fails at once without one.
func Join(ctx context.Context, url, token string, opts ...Option) (*Meeting, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	if token == "" {
		return nil, errors.New("tresor: no join token")
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	room := o.room
	if room == "" {
		room = auth.UnverifiedRoom(token)
	}
	id, err := o.mlsIdentity(ctx, auth.UnverifiedIdentity(token), room)
	if err != nil {
		return nil, err
	}
	ring, err := keyring.New(e2ee.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tresor: %w", err)
	}
	sigOpts := append([]signaling.Option{signaling.WithLogger(log)}, o.sigOpts...)
	if o.passcode != "" {
		sigOpts = append(sigOpts, signaling.WithPasscode(o.passcode))
	}
	if o.room != "" {
		sigOpts = append(sigOpts, signaling.WithRoom(o.room))
	}
	sig, err := signaling.Dial(ctx, url, token, sigOpts...)
	if err != nil {
		return nil, fmt.Errorf("tresor: join: %w", err)
	}
	self := sig.Self().Identity
	if self == "" { // in the waiting room: the server has not said yet
		self = auth.UnverifiedIdentity(token)
	}
	cfg := core.Config{Self: self, Identity: id, Grace: o.grace, Rekey: o.rekey, Rand: o.rand, Logger: log}
	if cfg.Rekey <= 0 {
		cfg.Rekey = -1
	}
	if len(o.authority) > 0 {
		cfg.Authority = &keys.Authority{Keys: o.authority, Room: room}
	}
	d, err := core.New(cfg)
	if err != nil {
		sig.Close()
		return nil, fmt.Errorf("tresor: join: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &Meeting{
		opts: o, log: log, sig: sig, events: queue.NewUnbounded[Event](), keys: ring, d: d,
		ctx: mctx, cancel: cancel, cmds: make(chan func()), results: make(chan commitAnswer, 1), done: make(chan struct{}),
		self: sig.Self(), speakers: newSpeakers(),
	}
	m.outbox = newOutbox(mctx, log)
	m.media, err = newMediaConn(m)
	if err != nil {
		cancel()
		sig.Close()
		m.events.Stop()
		return nil, err
	}
	m.runWG.Add(1)
	go m.run()
	return m, nil
}

// mlsIdentity returns the identity the meeting uses: the one given, or a
// fresh one named after the token's subject, with the backend's assertion
// from the Voucher when it has none.
func (o *options) mlsIdentity(ctx context.Context, subject, room string) (*keys.Identity, error) {
	id := o.identity
	if id == nil && o.voucher == nil && len(o.authority) == 0 {
		return nil, nil // the driver makes an unverified one
	}
	if id == nil {
		var err error
		if id, err = keys.NewIdentity(o.rand, subject); err != nil {
			return nil, fmt.Errorf("tresor: identity: %w", err)
		}
	}
	if o.voucher != nil {
		a, err := o.voucher(ctx, id.PublicKey())
		if err != nil {
			return nil, fmt.Errorf("tresor: vouching for the identity: %w", err)
		}
		if err := id.SetAssertion(a); err != nil {
			return nil, fmt.Errorf("tresor: %w", err)
		}
	}
	if len(o.authority) > 0 {
		// Fail now, not at every member.
		cfg := &keys.Config{Authority: &keys.Authority{Keys: o.authority, Room: room}}
		if _, err := keys.NewKeyPackage(id, cfg); err != nil {
			return nil, fmt.Errorf("tresor: the backend has not vouched for this identity in room %q: %w", room, err)
		}
	}
	return id, nil
}

// Events returns the channel of meeting events (see [Event] for the types).
// Events are queued without bound so the meeting never stalls; read them
// promptly. The last event is [Closed]; the channel is closed after it, or
// at once after [Meeting.Close].
func (m *Meeting) Events() <-chan Event { return m.events.Out() }

// Self returns this client's entry in the server's roster (zero while
// waiting).
func (m *Meeting) Self() signaling.Participant {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// SecurityCode returns the current epoch and its security code (see
// keys.Group.SecurityCode: 40 digits), or ErrNotMember before the client
// joined the group. Everyone in the meeting should see the same code.
func (m *Meeting) SecurityCode() (epoch uint64, code string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.member {
		return 0, "", ErrNotMember
	}
	return m.epoch, m.code, nil
}

// Members returns the MLS roster of the current epoch, in leaf order.
func (m *Meeting) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.members)
}

// Err returns why the meeting ended, or nil while it runs or after a clean
// Close or Leave.
func (m *Meeting) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Done is closed when the meeting has ended (Close, Leave, or the server
// ending the connection).
func (m *Meeting) Done() <-chan struct{} { return m.done }

// do runs f on the run goroutine and waits for it.
func (m *Meeting) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case m.cmds <- func() { defer close(done); f() }:
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-m.done:
		return ErrClosed
	}
}

// wait waits for the answer to a request the run goroutine queued.
func (m *Meeting) wait(ctx context.Context, answer <-chan error) error {
	select {
	case err := <-answer:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrClosed
	}
}

// SendChat sends a chat message, encrypted and signed for the group's
// current members as an MLS application message (RFC 9420 §6.3.1). It
// returns once the server relayed it; if the group first owes a Commit
// (RFC 9420 §12.4), the message follows that Commit and SendChat returns at
// once.
func (m *Meeting) SendChat(ctx context.Context, text string) error {
	answer := make(chan error, 1)
	var err error
	if derr := m.do(ctx, func() {
		var outs []core.Output
		if outs, err = m.d.SendChat(time.Now(), text); err == nil {
			if !m.apply(outs, answer) {
				answer <- nil
			}
		}
	}); derr != nil {
		return derr
	}
	if err == nil {
		err = m.wait(ctx, answer)
	}
	if errors.Is(err, core.ErrNotMember) {
		err = ErrNotMember
	}
	if err != nil {
		return fmt.Errorf("tresor: chat: %w", err)
	}
	return nil
}

// Consent gives (true) or withdraws (false) this participant's consent to
// the recording recordingID ([ConsentRequested].Recording.ID): the server
// is told, and so, in a signed MLS message naming that recording, is every
// member. Consent belongs to that one recording: if it is no longer the
// current one, the error matches [signaling.ErrConflict].
func (m *Meeting) Consent(ctx context.Context, recordingID string, granted bool) error {
	answer := make(chan error, 1)
	var err error
	if derr := m.do(ctx, func() {
		var outs []core.Output
		if outs, err = m.d.Consent(time.Now(), recordingID, granted); err == nil {
			m.apply(outs, answer)
		}
	}); derr != nil {
		return derr
	}
	if err == nil {
		err = m.wait(ctx, answer)
	}
	if err != nil {
		return fmt.Errorf("tresor: consent: %w", err)
	}
	return nil
}

// ConnectionState says whether the signaling connection is up, being
// resumed after a drop ([Reconnecting]), or closed.
func (m *Meeting) ConnectionState() signaling.ConnState { return m.sig.State() }

// Signaling returns the signaling connection, for the meeting controls the
// client does not wrap (admit, remove, mute, lock, recording). Do not use it
// for MLS or media messages.
func (m *Meeting) Signaling() *signaling.Client { return m.sig }

// Rekey commits an MLS Update now (RFC 9420 §12.4, an empty Commit with a
// fresh path), moving the group to a new epoch with new media keys. It
// returns the new epoch, or an error if another member's Commit won.
func (m *Meeting) Rekey(ctx context.Context) (uint64, error) {
	answer := make(chan error, 1)
	var err error
	if derr := m.do(ctx, func() {
		var outs []core.Output
		if outs, err = m.d.Rekey(time.Now()); err == nil && !m.apply(outs, answer) {
			err = errors.New("no Commit was sent: another one of this client is in flight, or creating it failed")
		}
	}); derr != nil {
		return 0, derr
	}
	if err == nil {
		err = m.wait(ctx, answer)
	}
	if errors.Is(err, core.ErrNotMember) {
		err = ErrNotMember
	}
	if err != nil {
		return 0, fmt.Errorf("tresor: rekey: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch, nil
}

// Leave tells the server the participant leaves (the group then commits its
// Remove), and closes the meeting.
func (m *Meeting) Leave(ctx context.Context) error {
	m.leaving.Store(true)
	err := m.sig.Leave(ctx)
	m.Close()
	if err != nil && !errors.Is(err, signaling.ErrClosed) {
		return fmt.Errorf("tresor: leave: %w", err)
	}
	return nil
}

// Close closes the connections and erases every key. Undelivered events are
// dropped and the Events channel is closed. Close waits for the meeting's
// goroutines to end.
func (m *Meeting) Close() error {
	m.closed.Do(func() {
		m.cancel()
		m.sig.Close()
		m.runWG.Wait()
		m.outbox.wait()
		m.media.close()
		m.events.Stop()
	})
	return nil
}
