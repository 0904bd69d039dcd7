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

	"github.com/tresor-dev/tresor/e2ee"
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

// mlsGroup is the client's seam to the MLS group: exactly the methods of
// *keys.Group it uses. Only the meeting's run goroutine calls it (keys is
// not safe for concurrent use).
type mlsGroup interface {
	Epoch() uint64
	Active() bool
	Self() keys.Member
	Members() []keys.Member
	CreateCommit(add [][]byte, remove []uint32) (*keys.Commit, error)
	MergePendingCommit() error
	ClearPendingCommit()
	HasPendingCommit() bool
	Process(msg []byte) (*keys.Message, error)
	Seal(data []byte) ([]byte, error)
	SFrameKeys() (*keys.EpochKeys, error)
	SecurityCode() (string, error)
	Close()
}

var _ mlsGroup = (*keys.Group)(nil)

// A Meeting is one participant's connection to a meeting: the signaling
// WebSocket, the MLS group that makes the keys, and the two pion peer
// connections (publish and subscribe) that carry SFrame-encrypted media.
//
// Its methods are safe for concurrent use. One goroutine owns the MLS group
// and handles every signaling event in order; the methods that touch the
// group hand it work and wait for the answer.
type Meeting struct {
	opts     options
	log      *slog.Logger
	sig      *signaling.Client
	events   *eventQueue
	keys     *keyRing
	media    *mediaConn
	kcfg     *keys.Config
	speakers *speakers

	ctx     context.Context
	cancel  context.CancelFunc
	cmds    chan func()
	runWG   sync.WaitGroup
	closed  sync.Once
	done    chan struct{}
	leaving atomic.Bool

	// Owned by the run goroutine.
	id           *keys.Identity
	kp           *keys.KeyPackage
	g            mlsGroup
	roster       map[uint32]keys.Member
	server       signaling.RoomState
	admitted     bool
	consentAsked string // the recording a ConsentRequested was pushed for
	rosterSince  time.Time
	rosterSent   bool
	epochSince   time.Time
	epochSent    bool
	rekeyTimer   *time.Timer
	recording    signaling.Recording
	recSeen      bool
	endReason    error
	expiries     []*time.Timer

	mu      sync.Mutex // guards the fields below
	self    signaling.Participant
	epoch   uint64
	code    string
	members []Member
	member  bool
	err     error
}

// Join connects to the meeting at url (the signaling server's WebSocket
// URL, ws:// or wss://) with the join token given by [WithToken], and
// returns once the server admitted the client or put it in the waiting room.
//
// After admission the client uploads an MLS KeyPackage; an existing member
// adds it with a Commit and the client joins the group from the Welcome (or
// it founds the group, if it is first). Media keys come from the group: until
// the client is a member, [LocalTrack.WriteSample] refuses frames and remote
// frames cannot be decrypted. Watch [Meeting.Events] for [EpochChanged].
func Join(ctx context.Context, url string, opts ...Option) (*Meeting, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	if o.token == "" {
		return nil, errors.New("tresor: no join token (use WithToken)")
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kr, err := newKeyRing(e2ee.Config{Logger: log}, o.keyLog)
	if err != nil {
		return nil, err
	}
	sigOpts := append([]signaling.Option{signaling.WithLogger(log)}, o.sigOpts...)
	if o.passcode != "" {
		sigOpts = append(sigOpts, signaling.WithPasscode(o.passcode))
	}
	if o.room != "" {
		sigOpts = append(sigOpts, signaling.WithRoom(o.room))
	}
	sig, err := signaling.Dial(ctx, url, o.token, sigOpts...)
	if err != nil {
		return nil, fmt.Errorf("tresor: join: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &Meeting{
		opts: o, log: log, sig: sig, events: newEventQueue(), keys: kr,
		kcfg: &keys.Config{Rand: o.rand, Logger: log},
		ctx:  mctx, cancel: cancel, cmds: make(chan func()), done: make(chan struct{}),
		roster: map[uint32]keys.Member{}, self: sig.Self(), speakers: newSpeakers(),
	}
	m.media, err = newMediaConn(m)
	if err != nil {
		cancel()
		sig.Close()
		m.events.stop()
		return nil, err
	}
	m.runWG.Add(1)
	go m.run()
	return m, nil
}

// Events returns the channel of meeting events (see [Event] for the types).
// Events are queued without bound so the meeting never stalls; read them
// promptly. The last event is [Closed]; the channel is closed after it, or
// at once after [Meeting.Close].
func (m *Meeting) Events() <-chan Event { return m.events.out }

// Self returns this client's entry in the server's roster (zero while
// waiting).
func (m *Meeting) Self() signaling.Participant {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// SecurityCode returns the current epoch and its security code (see
// keys.Group.SecurityCode), or ErrNotMember before the client joined the
// group. Everyone in the meeting should see the same code.
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

// Stats counts media frames received and rejected.
type Stats struct {
	// Decrypted frames were authenticated and delivered.
	Decrypted uint64
	// Rejected frames were dropped, by reason (RFC 9605 §4.4.4, §9.3):
	UnknownKey uint64 // no key for the KID (another epoch, or not a member)
	AuthFailed uint64 // the tag did not verify: modified or forged
	Replayed   uint64 // a CTR already accepted under the KID
	Malformed  uint64 // unparsable frame
	// SendingEpoch is the epoch of the key this client sends with.
	SendingEpoch uint64
}

// Rejected returns the total number of rejected frames.
func (s Stats) Rejected() uint64 { return s.UnknownKey + s.AuthFailed + s.Replayed + s.Malformed }

// Stats returns a snapshot of the frame counters.
func (m *Meeting) Stats() Stats {
	r := m.keys.stats()
	e, _ := m.keys.sendingEpoch()
	return Stats{Decrypted: r.Opened, UnknownKey: r.UnknownKey, AuthFailed: r.AuthFailed,
		Replayed: r.Replayed, Malformed: r.Malformed, SendingEpoch: e}
}

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

// SendChat sends a chat message, encrypted and signed for the group's
// current members as an MLS application message (RFC 9420 §6.3.1).
func (m *Meeting) SendChat(ctx context.Context, text string) error {
	var data []byte
	var epoch uint64
	var err error
	if derr := m.do(ctx, func() {
		if m.g == nil || !m.g.Active() {
			err = ErrNotMember
			return
		}
		epoch = m.g.Epoch()
		data, err = m.g.Seal([]byte(text))
	}); derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("tresor: chat: %w", err)
	}
	if err := m.sig.SendChat(ctx, epoch, data); err != nil {
		return fmt.Errorf("tresor: chat: %w", err)
	}
	return nil
}

// Consent gives (true) or withdraws (false) this participant's consent to
// the recording recordingID ([ConsentRequested].RecordingID). Consent
// belongs to that one recording: if it is no longer the current one, the
// error matches [signaling.ErrConflict] and nothing changes. A withdrawal
// may pass "" for the current recording.
func (m *Meeting) Consent(ctx context.Context, recordingID string, granted bool) error {
	if err := m.sig.Consent(ctx, recordingID, granted); err != nil {
		return fmt.Errorf("tresor: consent: %w", err)
	}
	return nil
}

// Signaling returns the signaling connection, for the meeting controls the
// client does not wrap (admit, remove, mute, lock, recording). Do not use it
// for MLS or media messages.
func (m *Meeting) Signaling() *signaling.Client { return m.sig }

// Rekey commits an MLS Update now (RFC 9420 §12.4, an empty Commit with a
// fresh path), moving the group to a new epoch with new media keys. It
// returns the new epoch, or an error if another member's Commit won.
func (m *Meeting) Rekey(ctx context.Context) (uint64, error) {
	var epoch uint64
	var err error
	if derr := m.do(ctx, func() {
		if m.g == nil || !m.g.Active() {
			err = ErrNotMember
			return
		}
		err = m.commit(nil, nil, nil)
		epoch = m.g.Epoch()
	}); derr != nil {
		return 0, derr
	}
	return epoch, err
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
		m.media.close()
		m.events.stop()
	})
	return nil
}

// run is the goroutine that owns the MLS group.
func (m *Meeting) run() {
	defer m.runWG.Done()
	defer close(m.done)
	check := time.NewTicker(max(min(m.opts.grace/4, 200*time.Millisecond), 20*time.Millisecond))
	defer check.Stop()
	m.rekeyTimer = time.NewTimer(time.Hour)
	m.rekeyTimer.Stop()
	defer m.rekeyTimer.Stop()
	defer m.teardown()
	sigEvents := m.sig.Events()
	for {
		select {
		case ev, ok := <-sigEvents:
			if !ok {
				err := m.sig.Err()
				if m.endReason != nil {
					err = fmt.Errorf("%w (%w)", m.endReason, err)
				}
				if m.ctx.Err() != nil || m.leaving.Load() {
					err = nil
				}
				m.mu.Lock()
				m.err = err
				m.mu.Unlock()
				m.events.push(&Closed{Err: err})
				m.events.close()
				return
			}
			m.handle(ev)
		case f := <-m.cmds:
			f()
		case <-m.rekeyTimer.C:
			if m.g != nil && m.g.Active() {
				if err := m.commit(nil, nil, nil); err != nil {
					if !errors.Is(err, signaling.ErrConflict) {
						m.log.Warn("tresor: periodic update failed", "err", err)
					}
					// A winning Commit resets the timer; otherwise retry.
					m.rekeyTimer.Reset(m.opts.rekey)
				}
			}
		case now := <-check.C:
			m.checkSync()
			if who, ok := m.speakers.update(now); ok {
				m.events.push(&ActiveSpeaker{Identity: who})
			}
		case <-m.ctx.Done():
			return
		}
	}
}

// teardown erases the group and every key; the run goroutine calls it last.
func (m *Meeting) teardown() {
	for _, t := range m.expiries {
		t.Stop()
	}
	m.keys.eraseAll()
	if m.g != nil {
		m.g.Close()
		m.g = nil
	}
	if m.kp != nil {
		m.kp.Erase()
	}
	m.mu.Lock()
	m.member = false
	m.mu.Unlock()
	go m.media.close() // the media goroutines end on their own; Close waits
}

func (m *Meeting) handle(ev signaling.Event) {
	m.log.Debug("tresor: event", "type", fmt.Sprintf("%T", ev))
	switch ev := ev.(type) {
	case signaling.Joined:
		m.server = ev.State
		m.mu.Lock()
		m.self = ev.Self
		m.mu.Unlock()
		m.recordingState(ev.State.Recording)
		if !m.admitted {
			m.admitted = true
			m.events.push(&Admitted{})
			m.startGroup()
			m.media.start()
		}
		m.checkConsent()
	case signaling.Waiting:
		m.recordingState(ev.Recording)
		if ev.Reason == "consent" {
			m.events.push(&ConsentRequested{Recorder: ev.Recording.Recorder, RecordingID: ev.Recording.ID, Waiting: true})
		}
	case signaling.StateChanged:
		m.server = ev.State
		m.recordingState(ev.State.Recording)
		m.checkConsent()
	case signaling.CreateGroup:
		m.createGroup()
	case signaling.CommitRequested:
		m.commitRequested(ev)
	case signaling.CommitReceived:
		m.commitReceived(ev)
	case signaling.WelcomeReceived:
		m.welcome(ev)
	case signaling.ChatReceived:
		m.chat(ev)
	case signaling.MediaReceived:
		m.media.signal(ev.Signal)
	case signaling.MuteRequested:
		m.events.push(&MuteRequested{By: ev.By, Source: ev.Source})
	case signaling.TrackStopped:
		m.events.push(&TrackStopped{By: ev.By, Source: ev.Source})
	case signaling.ServerError:
		if ev.Err != nil {
			m.log.Info("tresor: server error", "code", ev.Err.Code)
			if errors.Is(ev.Err, signaling.ErrKeyPackageExpired) {
				m.renewKeyPackage()
			}
		}
	case signaling.Removed:
		m.endReason = fmt.Errorf("%w by %s", ErrRemoved, ev.By)
	case signaling.Denied:
		m.endReason = ErrDenied
	case signaling.Ended:
		m.endReason = fmt.Errorf("%w (by %s)", ErrEnded, ev.By)
	}
}

// startGroup creates the MLS identity and KeyPackage and uploads it.
func (m *Meeting) startGroup() {
	name := m.Self().Identity
	id := m.opts.identity
	if id == nil {
		var err error
		id, err = keys.NewIdentity(m.opts.rand, name)
		if err != nil {
			m.fail(fmt.Errorf("tresor: identity: %w", err))
			return
		}
	}
	m.id = id
	m.uploadKeyPackage()
}

// renewKeyPackage replaces a KeyPackage the delivery service dropped
// because no Commit added this client in time (a committer refused or
// ignored it): nothing can add the client with the old one any more.
func (m *Meeting) renewKeyPackage() {
	if m.g != nil || m.id == nil || m.kp == nil {
		return // in the group already, or never uploaded one
	}
	m.log.Info("tresor: key package expired unused; uploading a fresh one")
	m.kp.Erase()
	m.kp = nil
	m.uploadKeyPackage()
}

// uploadKeyPackage makes a KeyPackage for m.id and hands it to the
// delivery service.
func (m *Meeting) uploadKeyPackage() {
	kp, err := keys.NewKeyPackage(m.id, m.kcfg)
	if err != nil {
		m.fail(fmt.Errorf("tresor: key package: %w", err))
		return
	}
	m.kp = kp
	ctx, cancel := context.WithTimeout(m.ctx, requestTimeout)
	defer cancel()
	if err := m.sig.UploadKeyPackage(ctx, kp.Bytes()); err != nil {
		m.fail(fmt.Errorf("tresor: upload key package: %w", err))
	}
}

// fail ends the meeting after an error the client cannot recover from.
func (m *Meeting) fail(err error) {
	m.log.Error("tresor: meeting failed", "err", err)
	m.sig.Close()
}

func (m *Meeting) createGroup() {
	if m.g != nil || m.id == nil {
		return
	}
	g, err := keys.NewGroup(m.id, m.kcfg)
	if err != nil {
		m.fail(fmt.Errorf("tresor: create group: %w", err))
		return
	}
	m.kp.Erase()
	m.kp = nil
	m.g = g
	m.newEpoch()
}

func (m *Meeting) welcome(ev signaling.WelcomeReceived) {
	if m.g != nil || m.kp == nil {
		return
	}
	g, err := keys.Join(m.id, m.kp, ev.Data, m.kcfg)
	if err != nil {
		m.log.Warn("tresor: rejected Welcome", "err", err)
		return
	}
	// The group now owns the KeyPackage's leaf key (keys.Join uses it
	// up); erasing the KeyPackage here would erase the group's leaf key.
	m.kp = nil
	m.g = g
	m.newEpoch()
}

// commitRequested builds the Commit the delivery service asked for. Every
// proposal is checked against the MLS state: an Add must carry a valid
// KeyPackage in the name of the participant it is for (RFC 9420 §10.1), and
// a Remove names leaves by the credential name.
func (m *Meeting) commitRequested(ev signaling.CommitRequested) {
	if m.g == nil || !m.g.Active() || ev.Epoch != m.g.Epoch() {
		return
	}
	self := m.g.Self().Leaf
	members := m.g.Members()
	var ids []uint64
	var adds [][]byte
	var removes []uint32
	for _, p := range ev.Proposals {
		switch p.Kind {
		case signaling.ProposalAdd:
			who, err := keys.VerifyKeyPackage(p.KeyPackage, time.Now())
			if err != nil || who.Name != p.Participant {
				m.log.Warn("tresor: refused to add an invalid KeyPackage", "participant", p.Participant, "err", err)
				continue
			}
			ids = append(ids, p.ID)
			adds = append(adds, p.KeyPackage)
		case signaling.ProposalRemove:
			ids = append(ids, p.ID)
			for _, mem := range members {
				if mem.Name == p.Participant && mem.Leaf != self && !slices.Contains(removes, mem.Leaf) {
					removes = append(removes, mem.Leaf)
				}
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := m.commit(ids, adds, removes); err != nil && !errors.Is(err, signaling.ErrConflict) {
		m.log.Warn("tresor: commit failed", "epoch", ev.Epoch, "err", err)
	}
}

// commit creates a Commit, offers it to the delivery service and merges it
// if accepted (RFC 9420 §12.4: one Commit per epoch, first wins).
func (m *Meeting) commit(ids []uint64, adds [][]byte, removes []uint32) error {
	if m.g.HasPendingCommit() {
		m.g.ClearPendingCommit()
	}
	epoch := m.g.Epoch()
	c, err := m.g.CreateCommit(adds, removes)
	if err != nil {
		return fmt.Errorf("tresor: create commit: %w", err)
	}
	ctx, cancel := context.WithTimeout(m.ctx, requestTimeout)
	defer cancel()
	if _, err := m.sig.SendCommit(ctx, signaling.Commit{Epoch: epoch, Proposals: ids, Data: c.Message, Welcome: c.Welcome}); err != nil {
		m.g.ClearPendingCommit()
		return fmt.Errorf("tresor: send commit: %w", err)
	}
	if err := m.g.MergePendingCommit(); err != nil {
		return fmt.Errorf("tresor: merge commit: %w", err)
	}
	m.newEpoch()
	return nil
}

func (m *Meeting) commitReceived(ev signaling.CommitReceived) {
	if m.g == nil || !m.g.Active() {
		return
	}
	if ev.Epoch != m.g.Epoch() {
		m.log.Info("tresor: commit for another epoch", "commit_epoch", ev.Epoch, "epoch", m.g.Epoch())
		return
	}
	if _, err := m.g.Process(ev.Data); err != nil {
		m.log.Warn("tresor: rejected commit", "epoch", ev.Epoch, "err", err)
		return
	}
	if !m.g.Active() {
		// This client was removed: it holds no keys of the new epoch.
		m.keys.eraseAll()
		m.mu.Lock()
		m.member = false
		m.mu.Unlock()
		m.rekeyTimer.Stop()
		return
	}
	m.newEpoch()
}

func (m *Meeting) chat(ev signaling.ChatReceived) {
	if m.g == nil || !m.g.Active() {
		return
	}
	msg, err := m.g.Process(ev.Data)
	if err != nil {
		m.log.Info("tresor: rejected chat message", "epoch", ev.Epoch, "err", err)
		return
	}
	if msg.Kind != keys.Application {
		return
	}
	m.events.push(&ChatMessage{From: msg.Sender.Name, Epoch: ev.Epoch, Text: string(msg.Data)})
}

// newEpoch installs the keys of the group's current epoch: the sender
// switches at once, receivers add every member's key and keep the previous
// epoch's keys for the grace window.
func (m *Meeting) newEpoch() {
	epoch := m.g.Epoch()
	members := m.g.Members()
	names := make(map[uint32]string, len(members))
	newRoster := make(map[uint32]keys.Member, len(members))
	for _, mem := range members {
		names[mem.Leaf] = mem.Name
		newRoster[mem.Leaf] = mem
	}
	ek, err := m.g.SFrameKeys()
	if err == nil {
		err = m.keys.install(ek, names)
	}
	if g, ok := m.g.(*keys.Group); ok && m.opts.epochLog != nil {
		m.opts.epochLog(g)
	}
	if err != nil {
		m.log.Error("tresor: installing epoch keys", "epoch", epoch, "err", err)
	}
	code, err := m.g.SecurityCode()
	if err != nil {
		m.log.Error("tresor: security code", "epoch", epoch, "err", err)
	}
	if epoch > 0 {
		t := time.AfterFunc(m.opts.grace, func() { m.keys.expire(epoch) })
		m.expiries = append(m.expiries, t)
		if len(m.expiries) > 8 {
			m.expiries = m.expiries[1:]
		}
	}
	self := m.g.Self().Leaf
	for leaf, mem := range m.roster {
		if n, ok := newRoster[leaf]; !ok || !slices.Equal(n.SignatureKey, mem.SignatureKey) {
			m.events.push(&ParticipantLeft{Member: toMember(mem)})
		}
	}
	var list []Member
	for _, mem := range members {
		if old, ok := m.roster[mem.Leaf]; (!ok || !slices.Equal(old.SignatureKey, mem.SignatureKey)) && mem.Leaf != self {
			m.events.push(&ParticipantJoined{Member: toMember(mem)})
		}
		list = append(list, toMember(mem))
	}
	m.roster = newRoster
	m.mu.Lock()
	m.epoch, m.code, m.members, m.member = epoch, code, list, true
	m.mu.Unlock()
	m.events.push(&EpochChanged{Epoch: epoch, SecurityCode: code, Members: slices.Clone(list)})
	if m.opts.rekey > 0 {
		// Stagger members by leaf so that they do not all commit at once.
		m.rekeyTimer.Reset(m.opts.rekey + m.opts.rekey*time.Duration(self%16)/32)
	}
}

func toMember(k keys.Member) Member {
	return Member{Identity: k.Name, Leaf: k.Leaf, SignatureKey: slices.Clone(k.SignatureKey)}
}

// recordingState reports a change of the room's recording state.
func (m *Meeting) recordingState(r signaling.Recording) {
	if m.recSeen && r == m.recording {
		return
	}
	m.recSeen, m.recording = true, r
	m.events.push(&RecordingChanged{Recording: r})
}

// checkConsent reports a recording request this participant has not
// answered.
func (m *Meeting) checkConsent() {
	rec := m.server.Recording
	if !rec.Requested {
		m.consentAsked = ""
		return
	}
	self := m.Self().Identity
	for _, p := range m.server.Participants {
		if p.Identity == self && !p.Consented && m.consentAsked != rec.ID && rec.Recorder != self {
			m.consentAsked = rec.ID
			m.events.push(&ConsentRequested{Recorder: rec.Recorder, RecordingID: rec.ID})
		}
	}
}

// checkSync compares the server's view with the MLS group and reports a
// difference that outlasts the grace window (the server updates its view
// when it accepts a Commit, the members when they process it).
func (m *Meeting) checkSync() {
	if m.g == nil || !m.g.Active() {
		return
	}
	now := time.Now()
	srv := serverMembers(m.server)
	var diff []string
	mls := map[string]bool{}
	for _, mem := range m.roster {
		mls[mem.Name] = true
		if !srv[mem.Name] {
			diff = append(diff, mem.Name)
		}
	}
	for name := range srv {
		if !mls[name] {
			diff = append(diff, name)
		}
	}
	slices.Sort(diff)
	diff = slices.Compact(diff)
	epoch := m.g.Epoch()
	// The server updates its roster and epoch when it accepts a Commit,
	// the members when they process it: compare rosters only at the same
	// epoch, and report an epoch difference only when the server is ahead
	// (a Commit this client never got), each only if it outlasts the grace
	// window.
	if len(diff) == 0 || m.server.Epoch != epoch {
		m.rosterSince, m.rosterSent = time.Time{}, false
	} else if m.rosterSince.IsZero() {
		m.rosterSince = now
	} else if !m.rosterSent && now.Sub(m.rosterSince) >= m.opts.grace {
		m.rosterSent = true
		m.log.Warn("tresor: server roster differs from the MLS roster", "participants", diff)
		m.events.push(&Mismatch{Kind: MismatchRoster, Participants: diff, ServerEpoch: m.server.Epoch, Epoch: epoch})
	}
	if m.server.Epoch <= epoch {
		m.epochSince, m.epochSent = time.Time{}, false
	} else if m.epochSince.IsZero() {
		m.epochSince = now
	} else if !m.epochSent && now.Sub(m.epochSince) >= m.opts.grace {
		m.epochSent = true
		m.log.Warn("tresor: server epoch ahead of the group's", "server_epoch", m.server.Epoch, "epoch", epoch)
		m.events.push(&Mismatch{Kind: MismatchEpoch, ServerEpoch: m.server.Epoch, Epoch: epoch})
	}
}

// reportKeys is called by a remote track whose frames have carried unknown
// keys for longer than the grace window.
func (m *Meeting) reportKeys(identity string) {
	m.mu.Lock()
	epoch := m.epoch
	m.mu.Unlock()
	m.log.Warn("tresor: frames under keys this client does not hold", "participant", identity, "epoch", epoch)
	m.events.push(&Mismatch{Kind: MismatchKeys, Participants: []string{identity}, Epoch: epoch})
}
