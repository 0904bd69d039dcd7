package core

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tresor-dev/tresor/internal/testonly"
	"github.com/tresor-dev/tresor/keys"
)

// Defaults of [Config].
const (
	DefaultGrace = 2 * time.Second
	DefaultRekey = 5 * time.Minute
)

// Bounds on what the driver keeps for later.
const (
	maxHeld       = 1024 // server messages held while a Commit is in flight
	maxQueued     = 64   // application messages waiting for a Commit
	maxRecordings = 8    // recordings whose consents are remembered
)

// minRenewal is the least time between two KeyPackage renewals.
const minRenewal = 10 * time.Second

// Errors callers act on.
var (
	// ErrNotMember: the client is not (yet, or any more) a member of the
	// group.
	ErrNotMember = errors.New("not a member of the group")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("already started")
)

// Config configures a [Driver].
type Config struct {
	// Self is this participant's identity, as its join token names it.
	Self string
	// Identity is the participant's MLS identity. Its name must be Self;
	// with an Authority it must carry the backend's assertion
	// (keys.Identity.SetAssertion). Nil makes a fresh identity named
	// Self at Start, which only a group without an Authority accepts.
	Identity *keys.Identity
	// Authority is the backend that vouches for members. Nil: names are
	// self-chosen and every member shows as unverified.
	Authority *keys.Authority
	// Grace is how long the previous epoch's receiving keys are kept, and
	// how long a disagreement with the server may last before it is
	// reported; zero means DefaultGrace.
	Grace time.Duration
	// Rekey is the interval of the periodic Update; zero means
	// DefaultRekey, negative disables it.
	Rekey time.Duration
	// Rand is the source of randomness; nil means crypto/rand. Only tests
	// set it.
	Rand io.Reader
	// Logger receives the driver's logs (never a secret); nil discards.
	Logger *slog.Logger
}

// Stats counts what the driver refused.
type Stats struct {
	// Processed and Rejected count MLS messages (commits, chat, consents,
	// proposals) by whether the group accepted them.
	Processed, Rejected uint64
	// Mislabelled counts accepted MLS messages the server labelled as
	// something else (a chat message sent as "commit" or the reverse).
	Mislabelled uint64
	// RefusedKeyPackages counts Adds this client refused to commit.
	RefusedKeyPackages uint64
}

// A Driver is one participant's meeting logic (see the package
// documentation). It is not safe for concurrent use: its host calls it from
// one goroutine (or the browser worker's one thread).
type Driver struct {
	cfg  Config
	kcfg *keys.Config
	log  *slog.Logger
	now  time.Time // the time of the input being handled
	out  []Output

	id      *keys.Identity
	started bool
	kp      *keys.KeyPackage
	g       *keys.Group
	roster  []keys.Member

	// inflight is the Commit this client offered, until CommitResult;
	// held are the server messages that arrived meanwhile, handled after
	// it (the server answers the committer before it relays anything
	// built on the new epoch, but the host may report the answer after
	// later messages).
	inflight *inflight
	held     []ServerMessage
	// queued are application messages (plaintext) waiting for the Commit
	// that RFC 9420 §12.4 requires before sending application data.
	queued [][]byte

	server      RoomState
	serverKnown bool

	rekeyAt   time.Time
	expiries  []expiry
	renewedAt time.Time // the last KeyPackage renewal
	sync      syncState
	resync    resyncState
	rec       recordingState
	stats     Stats
}

type inflight struct {
	epoch    uint64
	rekey    bool
	external *keys.Group // the group an external Commit makes (resync)
}

type expiry struct {
	before uint64
	at     time.Time
}

// New returns a driver. It does nothing until the host calls [Driver.Start]
// (when the server admits the participant) and feeds it server messages.
func New(cfg Config) (*Driver, error) {
	if cfg.Self == "" {
		return nil, errors.New("core: no participant identity")
	}
	if cfg.Identity != nil && cfg.Identity.Name() != cfg.Self {
		return nil, fmt.Errorf("core: MLS identity %q is not the participant %q", cfg.Identity.Name(), cfg.Self)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Rekey == 0 {
		cfg.Rekey = DefaultRekey
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg, log: log, id: cfg.Identity, rec: newRecordingState()}
	// The previous epoch's chat and consents still read for the grace
	// window, as its media keys do (RFC 9420 §14): a message sealed just
	// before a Commit may arrive just after it.
	d.kcfg = &keys.Config{Rand: cfg.Rand, Now: func() time.Time { return d.now }, Logger: log, Authority: cfg.Authority,
		KeepPastEpoch: true}
	return d, nil
}

// take returns the outputs of the current input.
func (d *Driver) take() []Output {
	out := d.out
	d.out = nil
	return out
}

func (d *Driver) emit(o Output) { d.out = append(d.out, o) }

func (d *Driver) warn(msg string, args ...any) {
	d.log.Warn("tresor: "+msg, args...)
	d.emit(Warning{Message: msg})
}

// active reports whether the client is a member of the group.
func (d *Driver) active() bool { return d.g != nil && d.g.Active() }

// Start creates the MLS identity (unless the Config gave one) and a
// KeyPackage, and asks for its upload: call it once, when the server
// admitted the participant. An identity the group's Authority would refuse
// fails here, with a clear error, rather than at every member.
func (d *Driver) Start(now time.Time) ([]Output, error) {
	d.now = now
	if d.started {
		return nil, ErrStarted
	}
	if d.id == nil {
		id, err := keys.NewIdentity(d.cfg.Rand, d.cfg.Self)
		if err != nil {
			return nil, fmt.Errorf("core: identity: %w", err)
		}
		d.id = id
	}
	if d.cfg.Authority == nil {
		d.log.Warn("tresor: no backend Authority configured: members' names are not verified")
	}
	kp, err := keys.NewKeyPackage(d.id, d.kcfg)
	if err != nil {
		return nil, fmt.Errorf("core: KeyPackage: %w", err)
	}
	d.started = true
	d.kp = kp
	d.emit(SendKeyPackage{Data: kp.Bytes()})
	return d.take(), nil
}

// Receive handles a message from the server.
func (d *Driver) Receive(now time.Time, m ServerMessage) []Output {
	d.now = now
	// Chat is not held: a member's message sealed in the current epoch
	// must be read before this client's Commit moves the group on. (A
	// Commit the server labels "chat" is then processed early; only a
	// server that accepted two Commits for one epoch can make that matter,
	// and the clients' codes then differ.)
	if d.inflight != nil {
		switch m.Type {
		case TypeGroupCreate, TypeCommitRequest, TypeCommit, TypeWelcome:
			d.hold(m)
			return d.take()
		}
	}
	d.receive(m)
	return d.take()
}

// hold keeps m until the answer to this client's Commit in flight.
func (d *Driver) hold(m ServerMessage) {
	if len(d.held) >= maxHeld {
		d.warn("too many messages while a Commit is in flight; dropping the oldest")
		d.held = d.held[1:]
	}
	d.held = append(d.held, m)
}

func (d *Driver) receive(m ServerMessage) {
	switch m.Type {
	case TypeJoined, TypeState:
		if m.State != nil {
			d.setState(*m.State)
		}
	case TypeWaiting:
		d.waiting(m)
	case TypeGroupCreate:
		d.createGroup()
	case TypeCommitRequest:
		d.commitRequested(m)
	case TypeCommit, TypeChat:
		d.mls(m)
	case TypeWelcome:
		d.welcome(m)
	case TypeError:
		if m.Code == CodeKeyPackageExpired {
			d.renewKeyPackage()
		}
	}
}

// renewKeyPackage replaces a KeyPackage the delivery service dropped because
// no Commit added this client in time (a committer refused or ignored it):
// nothing can add the client with the old one any more.
//
// The server could send the error again and again: a client renews at most
// once per minRenewal.
func (d *Driver) renewKeyPackage() {
	if d.g != nil || d.kp == nil {
		return // in the group already, or never uploaded one
	}
	if !d.renewedAt.IsZero() && d.now.Sub(d.renewedAt) < minRenewal {
		d.log.Info("tresor: KeyPackage renewal asked for again too soon; ignored")
		return
	}
	d.renewedAt = d.now
	kp, err := keys.NewKeyPackage(d.id, d.kcfg)
	if err != nil {
		d.warn("renewing the KeyPackage failed", "err", err)
		return
	}
	d.log.Info("tresor: KeyPackage expired unused; uploading a fresh one")
	d.kp.Erase()
	d.kp = kp
	d.emit(SendKeyPackage{Data: kp.Bytes()})
}

// CommitResult reports the server's answer to the last [SendCommit]:
// accepted, or refused with the error code reason ("conflict" when another
// Commit won the epoch). Messages held meanwhile are then handled.
func (d *Driver) CommitResult(now time.Time, accepted bool, reason string) []Output {
	d.now = now
	inf := d.inflight
	if inf == nil {
		return d.take()
	}
	d.inflight = nil
	switch {
	case inf.external != nil && accepted:
		d.resynced(inf.external)
	case inf.external != nil:
		inf.external.Close()
		d.warn("the server refused the resync: "+reason, "epoch", inf.epoch)
	case !d.active():
	case accepted:
		if err := d.g.MergePendingCommit(); err != nil {
			d.warn("merging the accepted Commit failed", "err", err)
		} else {
			d.newEpoch(nil, nil)
			d.publishGroupInfo()
		}
	default:
		d.g.ClearPendingCommit()
		if reason != "conflict" {
			d.warn("the server refused a Commit: "+reason, "epoch", inf.epoch)
			d.dropQueued()
		}
		if inf.rekey && d.cfg.Rekey > 0 {
			d.rekeyAt = now.Add(d.cfg.Rekey)
		}
	}
	held := d.held
	d.held = nil
	for i, m := range held {
		if d.inflight != nil {
			d.held = append(d.held, held[i:]...)
			break
		}
		d.receive(m)
	}
	return d.take()
}

// Tick runs what is due at now: erasing expired keys, the periodic Update,
// and reporting disagreements with the server. Call it at [Driver.Deadline].
func (d *Driver) Tick(now time.Time) []Output {
	d.now = now
	for len(d.expiries) > 0 && !now.Before(d.expiries[0].at) {
		d.emit(ExpireKeys{Before: d.expiries[0].before})
		d.expiries = d.expiries[1:]
		if d.active() && len(d.expiries) == 0 {
			d.g.ForgetPastEpoch()
		}
	}
	if !d.rekeyAt.IsZero() && !now.Before(d.rekeyAt) {
		d.rekeyAt = time.Time{}
		if d.active() && d.inflight == nil {
			d.commit(nil, nil, nil, true)
		}
	}
	d.checkSync()
	d.checkRecording()
	return d.take()
}

// Deadline returns when [Driver.Tick] is next due, or the zero time.
func (d *Driver) Deadline() time.Time {
	var t time.Time
	earliest := func(c time.Time) {
		if !c.IsZero() && (t.IsZero() || c.Before(t)) {
			t = c
		}
	}
	earliest(d.rekeyAt)
	if len(d.expiries) > 0 {
		earliest(d.expiries[0].at)
	}
	earliest(d.sync.deadline(d.cfg.Grace))
	earliest(d.resync.deadline())
	earliest(d.rec.deadline(d.cfg.Grace))
	return t
}

// SendChat seals a chat message for the group. If the group owes a Commit
// first (RFC 9420 §12.4: proposals were received) or one is in flight, the
// message waits for it.
func (d *Driver) SendChat(now time.Time, text string) ([]Output, error) {
	d.now = now
	if !d.active() {
		return nil, ErrNotMember
	}
	if len(text) > maxChatText {
		return nil, fmt.Errorf("core: chat message of %d bytes, at most %d", len(text), maxChatText)
	}
	data, err := encodeApp(appMessage{Type: appChat, Text: text})
	if err != nil {
		return nil, err
	}
	if err := d.sendApp(data); err != nil {
		return nil, err
	}
	return d.take(), nil
}

// Rekey commits an Update now (RFC 9420 §12.4, an empty Commit with a fresh
// path). Nothing happens while another Commit of this client is in flight.
func (d *Driver) Rekey(now time.Time) ([]Output, error) {
	d.now = now
	if !d.active() {
		return nil, ErrNotMember
	}
	if d.inflight == nil {
		d.commit(nil, nil, nil, true)
	}
	return d.take(), nil
}

// Close erases every secret the driver holds.
func (d *Driver) Close() []Output {
	if d.kp != nil {
		d.kp.Erase()
		d.kp = nil
	}
	if d.g != nil {
		d.g.Close()
		d.g = nil
	}
	clear(d.queued)
	if d.inflight != nil && d.inflight.external != nil {
		d.inflight.external.Close()
	}
	d.queued, d.held, d.inflight = nil, nil, nil
	d.rekeyAt, d.expiries = time.Time{}, nil
	d.emit(EraseKeys{})
	return d.take()
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats { return d.stats }

// Epoch returns the group's epoch, and false before the client is a member.
func (d *Driver) Epoch() (uint64, bool) {
	if !d.active() {
		return 0, false
	}
	return d.g.Epoch(), true
}

// IdentityKey returns the public key of the MLS identity (after Start, or
// at once when the Config gave one), for the backend to vouch for.
func (d *Driver) IdentityKey() []byte {
	if d.id == nil {
		return nil
	}
	return d.id.PublicKey()
}

// TestingOnlyEpochSecrets returns copies of the current epoch's secrets
// (see internal/testonly), or nil outside the group. Tests only.
func (d *Driver) TestingOnlyEpochSecrets() map[string][]byte {
	if !d.active() {
		return nil
	}
	return testonly.EpochSecrets(d.g)
}
