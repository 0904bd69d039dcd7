package signaling

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tresor-dev/tresor/auth"
)

// Config configures a [Server]. The zero value of every field but TokenKeys
// is a safe default.
type Config struct {
	// TokenKeys are the app backend's Ed25519 public keys; a join token
	// must verify under one of them. Several keys allow rotation.
	TokenKeys []ed25519.PublicKey

	// Rooms looks up the settings of a room that was not created with
	// [Server.CreateRoom], when its first participant joins. It returns
	// (nil, nil) when there is no such room. Nil: only created rooms exist.
	Rooms func(ctx context.Context, room string) (*RoomConfig, error)

	// Media connects participants to the SFU. Nil runs signaling only.
	Media Media

	// Registerer receives the server's Prometheus metrics (the counters of
	// [Server.Stats]). Nil creates a new registry, returned by
	// [Server.Gatherer]; the global registry is never used implicitly.
	Registerer prometheus.Registerer

	// Logger receives the server's logs; nil discards them. Logs never
	// contain passcodes, tokens or MLS payloads.
	Logger *slog.Logger

	// Now is the clock for token expiry and rate limits; nil is time.Now.
	Now func() time.Time

	// MaxMessageSize bounds a WebSocket message in bytes; a larger message
	// closes the connection with status 1009. Default DefaultMaxMessageSize.
	MaxMessageSize int64

	// MessageRate limits each connection's messages. Default 50/s, burst 100.
	MessageRate Rate

	// PasscodeRate limits the failed passcode attempts of one source
	// against one room, counted separately per (room, remote address) and
	// per (room, identity), so that one attacker — one address, or one
	// token's identity — is limited without limiting anyone else. Default
	// 5 at once, then one per 12 s.
	PasscodeRate Rate

	// PasscodeRoomRate bounds the failed passcode attempts against one
	// room from all sources together (a distributed guesser), and those of
	// one remote address across all rooms (so that one address cannot keep
	// the argon2id hashing busy). An attempt counts here only once its
	// source's own PasscodeRate allowed it, so one source alone uses at
	// most PasscodeRate of it. It must be at least PasscodeRate; the
	// default is ten times PasscodeRate's default: 50 at once, then one per
	// 1.2 s.
	PasscodeRoomRate Rate

	// MaxChatSize bounds the data of one chat message (the MLS application
	// message, in bytes after base64 decoding); a larger one is answered
	// with too_large. Default DefaultMaxChatSize.
	MaxChatSize int

	// ChatRate and ChatByteRate limit each sender's chat, in messages and
	// in bytes of data per second; RoomChatRate and RoomChatByteRate limit
	// the chat of a whole room, which the server relays to everyone in it.
	// Over either budget a message is answered with rate_limited and not
	// relayed. Defaults: 5 messages/s (burst 20) and 32 KiB/s (burst 64
	// KiB) per sender; 20 messages/s (burst 60) and 128 KiB/s (burst 256
	// KiB) per room. The byte bursts must hold a MaxChatSize message.
	ChatRate         Rate
	ChatByteRate     Rate
	RoomChatRate     Rate
	RoomChatByteRate Rate

	// MaxStrikes is how many rejected messages (malformed, unauthorized,
	// rate-limited) a connection may send at once before it is closed with
	// status 1008; the allowance refills at MaxStrikes per minute.
	// Default 20.
	MaxStrikes int

	// JoinTimeout bounds the time from connecting to the "join" message.
	// Default 10 s.
	JoinTimeout time.Duration

	// CommitTimeout is how long the delivery service waits for the chosen
	// committer before it asks the next member. Default 10 s.
	CommitTimeout time.Duration

	// KeyPackageTimeout bounds how long an Add (an uploaded KeyPackage)
	// stays pending: if no accepted Commit covered it by then (the
	// committers refused its KeyPackage, or ignore it), it is dropped and
	// its uploader gets error key_package_expired, so that it can upload a
	// fresh one; the other pending proposals go on. Removes never expire.
	// Default 60 s.
	KeyPackageTimeout time.Duration

	// MaxConns bounds the server's open WebSocket connections. Over it the
	// HTTP upgrade is refused with 503. Default 10000.
	MaxConns int

	// MaxConnsPerAddr bounds the open connections from one remote address
	// (see ClientAddr). Over it the upgrade is refused with 429. Default
	// 100, so that an office behind one NAT fits.
	MaxConnsPerAddr int

	// MaxPendingConns and MaxPendingConnsPerAddr bound the connections that
	// have not joined yet (no accepted "join": at most JoinTimeout each),
	// in all and per remote address. Over either the upgrade is refused
	// (503 and 429). Defaults 1000 and 10.
	MaxPendingConns        int
	MaxPendingConnsPerAddr int

	// ResumeWindow is how long a participant whose connection dropped
	// keeps its place — admission or waiting, consent, MLS membership,
	// media session — for a resume with its resume secret (PROTOCOL.md,
	// "Resume"). Past it the participant is removed as if it had left.
	// Default 30 s: long enough for a Wi-Fi blink, a switch to mobile data
	// or a laptop lid closed and opened, short enough that a participant
	// who is really gone leaves the roster, and the MLS group, soon.
	// Negative: no resume (a dropped connection leaves at once).
	ResumeWindow time.Duration

	// MaxOutbox and MaxOutboxBytes bound each participant's outbox: the
	// messages sent to it and not yet acknowledged, kept for a resume.
	// Bytes count the memory the encoded messages hold plus 32 bytes each. A connected
	// client acknowledges at least every second and every 32 messages, so
	// its outbox stays small; the bounds are for a participant that is away
	// (or does not acknowledge), and an outbox over either can no longer
	// be replayed: the session is not resumable, and an away participant
	// is removed at once. Defaults 1024 messages and 1 MiB: the whole chat
	// budget of a room over the default window (RoomChatRate: 60 + 20 × 30
	// = 660 messages) with room for roster changes, several of the largest
	// MLS messages (a Welcome: up to MaxMessageSize), and still little
	// next to what SendQueue lets a slow reader hold.
	MaxOutbox      int
	MaxOutboxBytes int

	// MaxGroupInfoSize bounds the MLS GroupInfo a committer or founder
	// publishes, which the server keeps (one per room) for participants
	// to resync from; larger ones are refused with too_large. Default
	// DefaultMaxGroupInfoSize.
	MaxGroupInfoSize int

	// WriteTimeout bounds one write to a client. Default 10 s.
	WriteTimeout time.Duration

	// SendQueue is how many messages may wait for a slow client before it
	// is disconnected. Default 256.
	SendQueue int

	// OriginPatterns are the browser origins allowed besides the server's
	// own host (see websocket.AcceptOptions).
	OriginPatterns []string

	// ClientAddr returns the remote address used for rate limiting and
	// connection limits; nil uses the host part of http.Request.RemoteAddr.
	// Set it when the server runs behind a trusted reverse proxy: without
	// it every client shares the proxy's address, and so its limits
	// (MaxConnsPerAddr, MaxPendingConnsPerAddr, PasscodeRate). IPv6
	// addresses count per /64 prefix (one host usually holds a whole /64).
	ClientAddr func(*http.Request) string
}

// RoomConfig is a room's settings, from [Server.CreateRoom] or [Config].Rooms.
type RoomConfig struct {
	// Passcode, if set, is hashed with argon2id by CreateRoom and then
	// forgotten. Use PasscodeHash to hand over an already hashed passcode
	// (from [auth.HashPasscode]); set at most one of the two. Every role but
	// host must present the passcode in its "join" message.
	Passcode     string
	PasscodeHash string

	// WaitingRoom holds joiners until a host or cohost admits them. Hosts
	// never wait; PreAllowed lists further roles that skip the waiting room.
	WaitingRoom bool
	PreAllowed  []Role

	// ParticipantsMayShareScreen is the initial screen-share permission of
	// the participant role (hosts and cohosts always start with it).
	ParticipantsMayShareScreen bool

	// MaxParticipants bounds admitted plus waiting participants. Default 1000.
	MaxParticipants int
}

// roomSettings is a validated RoomConfig.
type roomSettings struct {
	passcode    *auth.PasscodeHash // nil: no passcode
	waitingRoom bool
	preAllowed  map[Role]bool
	screen      bool
	max         int
}

func (rc *RoomConfig) settings() (*roomSettings, error) {
	st := &roomSettings{waitingRoom: rc.WaitingRoom, screen: rc.ParticipantsMayShareScreen, max: rc.MaxParticipants, preAllowed: map[Role]bool{RoleHost: true}}
	if st.max <= 0 {
		st.max = 1000
	}
	for _, r := range rc.PreAllowed {
		if !r.Valid() {
			return nil, fmt.Errorf("signaling: room config: unknown role %q", r)
		}
		st.preAllowed[r] = true
	}
	hash := rc.PasscodeHash
	if rc.Passcode != "" {
		if hash != "" {
			return nil, fmt.Errorf("signaling: room config: both Passcode and PasscodeHash set")
		}
		var err error
		if hash, err = auth.HashPasscode(rc.Passcode); err != nil {
			return nil, err
		}
	}
	if hash != "" {
		h, err := auth.ParsePasscodeHash(hash)
		if err != nil {
			return nil, fmt.Errorf("signaling: room config: %w", err)
		}
		st.passcode = h
	}
	return st, nil
}

// Server is the signaling server: an http.Handler that upgrades each request
// to a WebSocket speaking the protocol in PROTOCOL.md. All state belongs to
// the Server; several servers can run in one process.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	stats    *counters
	passcode *passcodeLimits
	hashSem  chan struct{} // bounds concurrent argon2id computations
	gath     prometheus.Gatherer
	resumes  *resumeRegistry
	closing  atomic.Bool // Close was called: dropped connections leave at once

	mu         sync.Mutex
	closed     bool
	slots      connSlots
	refuseLog  bucket // bounds the logging of refused connections
	configured map[string]*roomSettings
	rooms      map[string]*room
	ended      map[string]bool
	conns      map[*conn]struct{}
	wg         sync.WaitGroup
}

// NewServer returns a server with cfg's settings filled in with defaults.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.TokenKeys) == 0 {
		return nil, errors.New("signaling: config: no token keys")
	}
	for _, k := range cfg.TokenKeys {
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("signaling: config: bad token key size")
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MessageRate.Per <= 0 || cfg.MessageRate.Burst < 1 {
		cfg.MessageRate = Rate{Per: 50, Burst: 100}
	}
	if !cfg.PasscodeRate.valid() {
		cfg.PasscodeRate = Rate{Per: 1.0 / 12, Burst: 5}
	}
	if !cfg.PasscodeRoomRate.valid() {
		cfg.PasscodeRoomRate = Rate{Per: 10 * cfg.PasscodeRate.Per, Burst: 10 * cfg.PasscodeRate.Burst}
	}
	if cfg.PasscodeRoomRate.Per < cfg.PasscodeRate.Per || cfg.PasscodeRoomRate.Burst < cfg.PasscodeRate.Burst {
		return nil, errors.New("signaling: config: PasscodeRoomRate below PasscodeRate: one attacker could exhaust a room's passcode attempts")
	}
	if cfg.MaxChatSize <= 0 {
		cfg.MaxChatSize = DefaultMaxChatSize
	}
	for _, r := range []struct {
		rate     *Rate
		def      Rate
		name     string
		minBurst float64
	}{
		{&cfg.ChatRate, Rate{Per: 5, Burst: 20}, "ChatRate", 1},
		{&cfg.ChatByteRate, Rate{Per: 32 << 10, Burst: max(64<<10, float64(cfg.MaxChatSize))}, "ChatByteRate", float64(cfg.MaxChatSize)},
		{&cfg.RoomChatRate, Rate{Per: 20, Burst: 60}, "RoomChatRate", 1},
		{&cfg.RoomChatByteRate, Rate{Per: 128 << 10, Burst: max(256<<10, float64(cfg.MaxChatSize))}, "RoomChatByteRate", float64(cfg.MaxChatSize)},
	} {
		if !r.rate.valid() {
			*r.rate = r.def
		}
		if r.rate.Burst < r.minBurst {
			return nil, fmt.Errorf("signaling: config: %s burst %v cannot hold a chat message of MaxChatSize %d bytes", r.name, r.rate.Burst, cfg.MaxChatSize)
		}
	}
	if cfg.MaxStrikes <= 0 {
		cfg.MaxStrikes = 20
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 10 * time.Second
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 10 * time.Second
	}
	if cfg.KeyPackageTimeout <= 0 {
		cfg.KeyPackageTimeout = 60 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10000
	}
	if cfg.MaxConnsPerAddr <= 0 {
		cfg.MaxConnsPerAddr = 100
	}
	if cfg.MaxPendingConns <= 0 {
		cfg.MaxPendingConns = 1000
	}
	if cfg.MaxPendingConnsPerAddr <= 0 {
		cfg.MaxPendingConnsPerAddr = 10
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 256
	}
	if cfg.ResumeWindow == 0 {
		cfg.ResumeWindow = 30 * time.Second
	}
	if cfg.MaxOutbox <= 0 {
		cfg.MaxOutbox = 1024
	}
	if cfg.MaxOutboxBytes <= 0 {
		cfg.MaxOutboxBytes = 1 << 20
	}
	if cfg.MaxGroupInfoSize <= 0 {
		cfg.MaxGroupInfoSize = DefaultMaxGroupInfoSize
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		stats:      newCounters(),
		passcode:   newPasscodeLimits(&cfg),
		slots:      connSlots{openBy: make(map[string]int), pendingBy: make(map[string]int)},
		hashSem:    make(chan struct{}, 2),
		configured: make(map[string]*roomSettings),
		rooms:      make(map[string]*room),
		ended:      make(map[string]bool),
		conns:      make(map[*conn]struct{}),
		resumes:    newResumeRegistry(),
	}
	reg := cfg.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, s.gath = r, r
	}
	if err := reg.Register(newCollector(s)); err != nil {
		return nil, fmt.Errorf("signaling: register metrics: %w", err)
	}
	return s, nil
}

// CreateRoom registers a room's settings; the app backend calls it before
// handing out tokens. The passcode, if any, is hashed here and not kept.
func (s *Server) CreateRoom(name string, rc RoomConfig) error {
	if name == "" || len(name) > maxRoomLen {
		return errors.New("signaling: create room: invalid name")
	}
	st, err := rc.settings()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.configured[name]; ok {
		return fmt.Errorf("signaling: create room %q: already exists", name)
	}
	delete(s.ended, name)
	s.configured[name] = st
	return nil
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{}
	s.stats.snapshot(&st)
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	st.Connections, st.PendingConnections = s.slots.open, s.slots.pending
	s.mu.Unlock()
	st.Rooms = len(rooms)
	for _, r := range rooms {
		r.mu.Lock()
		st.Participants += len(r.order)
		st.Waiting += len(r.waiting)
		for _, p := range r.order {
			if p.reconnecting {
				st.Reconnecting++
			}
		}
		for _, p := range r.waiting {
			if p.reconnecting {
				st.Reconnecting++
			}
		}
		r.mu.Unlock()
	}
	return st
}

// Close tells every client {"type":"going_away"} — reconnect, perhaps to
// another server, rather than give up — then closes its connection with
// status 1001 (going away), and waits for the handlers to return, or for
// ctx to be done. Places kept for a resume are given up.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		r.ds.stop()
		for _, p := range append(slices.Clone(r.order), r.waiting...) {
			if p.window != nil {
				p.window.Stop()
			}
		}
		r.mu.Unlock()
	}
	for _, c := range conns {
		c.send(&message{Type: typeGoingAway})
		c.closeWith(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.ws.CloseNow()
		}
		return fmt.Errorf("signaling: close: %w", ctx.Err())
	}
}

// secretQueryKeys are query parameters that would put a secret in a URL,
// where proxies and browsers log it.
var secretQueryKeys = []string{"passcode", "password", "pwd", "pass", "pin", "token"}

// ServeHTTP upgrades the request to a WebSocket and serves one client.
// A request whose URL carries a passcode or token is refused with 400.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k := range r.URL.Query() {
		for _, bad := range secretQueryKeys {
			if strings.EqualFold(k, bad) {
				s.stats.reject(CodeBadRequest)
				s.log.Warn("signaling: secret in URL refused", "param", bad, "addr", s.clientAddr(r))
				http.Error(w, "signaling: passcodes and tokens must not be sent in the URL; send them in the join message", http.StatusBadRequest)
				return
			}
		}
	}
	addr := s.clientAddr(r)
	key := addrKey(addr)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "signaling: server shutting down", http.StatusServiceUnavailable)
		return
	}
	// Connection limits apply before the upgrade, so a refusal costs a
	// plain HTTP answer.
	if reason, status := s.slots.acquireLocked(&s.cfg, key); reason != "" {
		logIt := s.refuseLog.take(Rate{Per: 1, Burst: 10}, s.now())
		s.mu.Unlock()
		s.stats.refuse(reason)
		if logIt {
			s.log.Warn("signaling: connection refused", "reason", reason, "addr", addr)
		}
		w.Header().Set("Retry-After", "10")
		http.Error(w, refusalMessages[reason], status)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	pending := true
	defer func() {
		s.mu.Lock()
		s.slots.releaseLocked(key, pending)
		s.mu.Unlock()
	}()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.log.Debug("signaling: websocket accept failed", "err", err)
		return
	}
	ws.SetReadLimit(s.cfg.MaxMessageSize)
	c := newConn(s, ws, addr)
	c.joined = func() {
		s.mu.Lock()
		if pending {
			pending = false
			s.slots.joinedLocked(key)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.writeLoop()
	keep := c.serve(r.Context())
	c.finish(keep)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) strikeRate() Rate {
	n := float64(s.cfg.MaxStrikes)
	return Rate{Per: n / 60, Burst: n}
}

func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.ClientAddr != nil {
		return s.cfg.ClientAddr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// lookupRoom returns the live room for name, creating it from its settings.
func (s *Server) lookupRoom(ctx context.Context, name string) (*room, *Error) {
	s.mu.Lock()
	if s.ended[name] {
		s.mu.Unlock()
		return nil, errorf(CodeEnded, "the meeting has ended")
	}
	if r := s.rooms[name]; r != nil {
		s.mu.Unlock()
		return r, nil
	}
	st := s.configured[name]
	s.mu.Unlock()
	if st == nil && s.cfg.Rooms != nil {
		rc, err := s.cfg.Rooms(ctx, name)
		if err != nil {
			s.log.Error("signaling: room settings lookup failed", "room", name, "err", err)
			return nil, errorf(CodeInternal, "room settings unavailable")
		}
		if rc != nil {
			if st, err = rc.settings(); err != nil {
				s.log.Error("signaling: bad room settings", "room", name, "err", err)
				return nil, errorf(CodeInternal, "room settings invalid")
			}
		}
	}
	if st == nil {
		return nil, errorf(CodeNoRoom, "no such room")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errorf(CodeInternal, "server shutting down")
	}
	if r := s.rooms[name]; r != nil {
		return r, nil
	}
	r := newRoom(s, name, st)
	s.rooms[name] = r
	return r, nil
}

// dropRoom forgets a live room once it is empty or ended.
func (s *Server) dropRoom(r *room, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	if ended {
		delete(s.configured, r.name)
		s.ended[r.name] = true
	}
}
