package signaling

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tresor-dev/tresor/auth"
)

// room is one meeting. Its mutex guards everything below it; network writes
// only queue (conn.send), and calls into Media run after the lock is
// released (see effects).
type room struct {
	s    *Server
	name string
	set  *roomSettings

	mu       sync.Mutex
	dead     bool // dropped from the server (empty or ended); joiners retry
	locked   bool
	admitted map[string]*participant
	order    []*participant // admitted, in admission order (the roster)
	waiting  []*participant // in arrival order
	banned   map[string]bool
	allowed  map[Role]bool // roles that skip the waiting room (hosts always)
	rec      Recording
	ds       delivery

	// The room's chat budget (Config.RoomChatRate, RoomChatByteRate).
	chatMsgs, chatBytes bucket
}

// participant is one person in a room, admitted or waiting, connected or
// reconnecting (resume.go).
type participant struct {
	r        *room
	identity string
	name     string
	role     Role

	// out is its connection and sequenced outbox; every message to it goes
	// through send (resume.go).
	out outbox

	// reqMu is held while one of its requests is handled and while a
	// resume takes the participant over, so that the two never overlap.
	// It guards lastID and floor.
	reqMu  sync.Mutex
	lastID uint64 // the highest request id processed
	floor  uint64 // lastID at the last resume: ids up to it are not processed again

	// Guarded by r.mu.
	admitted bool
	approved bool   // a host admitted it, or its role skips the waiting room
	consent  string // the recording it consents to ("": none)
	gone     bool
	perms    Permissions

	// Session resume (resume.go), guarded by r.mu.
	resumable bool       // it has a resume secret
	hash      resumeHash // of its current resume secret
	// The secret its last resume presented, valid until its first message
	// on the resumed connection (resume.go); set and cleared under both
	// r.mu and reqMu, so that either lock guards reading it.
	prevHash     resumeHash
	hasPrev      bool
	reconnecting bool // its connection dropped; its place is kept
	window       *time.Timer
	windowGen    uint64
	endClass     string // why its session ended, for a failed resume

	// Its chat budget (Config.ChatRate, ChatByteRate).
	chatMsgs, chatBytes bucket

	media mediaSlot
}

// effects are actions to run after the room lock is released.
type effects []func()

func (fx *effects) add(f func()) { *fx = append(*fx, f) }

func (fx effects) run() {
	for _, f := range fx {
		f()
	}
}

func newRoom(s *Server, name string, st *roomSettings) *room {
	r := &room{s: s, name: name, set: st, admitted: make(map[string]*participant), banned: make(map[string]bool), allowed: maps.Clone(st.preAllowed)}
	r.ds.init(r)
	return r
}

// info is p's roster entry; the caller holds r.mu.
func (p *participant) info() Participant {
	return Participant{Identity: p.identity, Name: p.name, Role: p.role, Permissions: p.perms, Consented: p.r.consentedLocked(p), Member: p.r.ds.isMember(p), Reconnecting: p.reconnecting}
}

// join places an authenticated client in the room, admitted or waiting.
func (r *room) join(c *conn, claims *auth.Claims, id uint64) *Error {
	for range 3 {
		e, retry := r.tryJoin(c, claims, id)
		if !retry {
			return e
		}
		// The room was dropped as we arrived; look it up again.
		nr, e := r.s.lookupRoom(context.Background(), r.name)
		if e != nil {
			return e
		}
		r = nr
	}
	return errorf(CodeInternal, "room busy")
}

func (r *room) tryJoin(c *conn, claims *auth.Claims, id uint64) (*Error, bool) {
	secret, hash, err := newResumeSecret()
	if err != nil {
		r.s.log.Error("signaling: cannot join", "room", r.name, "err", err)
		return errorf(CodeInternal, "cannot join now"), false
	}
	var fx effects
	defer func() { fx.run() }()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return nil, true
	}
	if r.banned[claims.Identity] {
		return errorf(CodeBanned, "you were removed from this meeting"), false
	}
	if r.locked && !moderator(claims.Role) {
		return errorf(CodeLocked, "the meeting is locked"), false
	}
	old := r.find(claims.Identity)
	n := len(r.order) + len(r.waiting)
	if old != nil {
		n--
	}
	if n >= r.set.max {
		return errorf(CodeFull, "the meeting is full"), false
	}
	p := &participant{r: r, identity: claims.Identity, name: claims.Name, role: claims.Role}
	p.out.c = c
	p.perms = Permissions{Camera: true, Microphone: true, Screen: moderator(claims.Role) || r.set.screen}
	p.approved = !r.set.waitingRoom || r.allowed[claims.Role]
	r.issueSecretLocked(p, secret, hash)
	c.p = p
	r.waiting = append(r.waiting, p)
	// The same identity joining again (a reload, a second device) replaces
	// the earlier connection. The new one is already in, so the room does
	// not empty in between.
	if old != nil {
		old.send(&message{Type: typeError, Code: CodeReplaced, Message: "you joined again from elsewhere"})
		old.closeConn(websocket.StatusPolicyViolation, "replaced")
		r.removeLocked(old, &fx)
	}
	r.s.log.Info("signaling: joined", "room", r.name, "role", p.role)
	if !r.tryAdmitLocked(p, id, &fx) {
		r.sendWaitingLocked(p, id)
		r.broadcastStateLocked()
	}
	return nil, false
}

// dropIfEmpty forgets a room that a refused join looked up but nobody is in,
// so failed joins leave nothing behind.
func (r *room) dropIfEmpty() {
	r.mu.Lock()
	empty := !r.dead && len(r.order) == 0 && len(r.waiting) == 0
	if empty {
		r.dead = true
		r.ds.stop()
	}
	r.mu.Unlock()
	if empty {
		r.s.dropRoom(r, false)
	}
}

// find returns the participant with this identity, admitted or waiting.
func (r *room) find(identity string) *participant {
	if p := r.admitted[identity]; p != nil {
		return p
	}
	for _, p := range r.waiting {
		if p.identity == identity {
			return p
		}
	}
	return nil
}

// removeLocked takes p out of the room: out of the roster or waiting room,
// out of recording consent, and out of the MLS group through a pending
// Remove (delivery service). It drops the room when it becomes empty.
func (r *room) removeLocked(p *participant, fx *effects) {
	if p.gone {
		return
	}
	p.gone = true
	r.endSessionLocked(p)
	fx.add(p.media.close)
	if p.admitted {
		delete(r.admitted, p.identity)
		r.order = deleteP(r.order, p)
		r.ds.left(p)
		r.recordingLeftLocked(p)
	} else {
		r.waiting = deleteP(r.waiting, p)
	}
	if len(r.order) == 0 && len(r.waiting) == 0 && !r.dead {
		r.dead = true
		r.ds.stop()
		fx.add(func() { r.s.dropRoom(r, false) })
		return
	}
	r.broadcastStateLocked()
}

func deleteP(ps []*participant, p *participant) []*participant {
	for i, q := range ps {
		if q == p {
			return append(ps[:i], ps[i+1:]...)
		}
	}
	return ps
}

// stateFor builds the room state as participant p may see it.
func (r *room) stateFor(p *participant) *RoomState {
	st := &RoomState{Participants: make([]Participant, 0, len(r.order)), Locked: r.locked, Recording: r.rec, Epoch: r.ds.epoch}
	for _, q := range r.order {
		st.Participants = append(st.Participants, q.info())
	}
	if moderator(p.role) {
		for _, q := range r.waiting {
			st.Waiting = append(st.Waiting, q.info())
		}
		for _, role := range []Role{RoleHost, RoleCohost, RoleParticipant} {
			if r.allowed[role] || !r.set.waitingRoom {
				st.PreAllowed = append(st.PreAllowed, role)
			}
		}
	}
	return st
}

// broadcastStateLocked sends the room state to every admitted participant.
// Waiting participants get nothing but their own "waiting" updates.
func (r *room) broadcastStateLocked() {
	for _, p := range r.order {
		p.send(&message{Type: typeState, State: r.stateFor(p)})
	}
}

// handle runs one request from a joined participant.
func (r *room) handle(ctx context.Context, p *participant, m *message) *Error {
	switch m.Type {
	case typeMedia:
		// Media calls may block: they run without the room lock.
		return r.media(ctx, p, m)
	}
	var fx effects
	e := r.handleLocked(p, m, &fx)
	fx.run()
	return e
}

func (r *room) handleLocked(p *participant, m *message, fx *effects) *Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return errorf(CodeBadRequest, "no longer in the meeting")
	}
	// A waiting participant may only consent to recording (or leave).
	if !p.admitted && m.Type != typeConsent {
		return errorf(CodeNotAdmitted, "waiting for a host to admit you")
	}
	var reply *message
	var e *Error
	switch m.Type {
	case typeAdmit:
		e = r.admitLocked(p, m.Participant, fx)
	case typeDeny:
		e = r.denyLocked(p, m.Participant, fx)
	case typeRemove:
		e = r.removeByHostLocked(p, m.Participant, fx)
	case typeMute:
		e = r.muteLocked(p, m.Participant, m.Source)
	case typeStopTrack:
		e = r.stopTrackLocked(p, m.Participant, m.Source, fx)
	case typePermission:
		e = r.permissionLocked(p, m.Participant, m.Source, *m.Allowed, fx)
	case typeLock:
		e = r.lockLocked(p, *m.Locked)
	case typePreAllow:
		e = r.preAllowLocked(p, m.Roles, fx)
	case typeEnd:
		if p.role != RoleHost {
			e = errorf(CodeForbidden, "only a host may end the meeting")
			break
		}
		// Answer before "ended", which closes every connection.
		p.send(&message{Type: typeOK, ID: m.ID})
		r.endLocked(p, fx)
		return nil
	case typeConsent:
		e = r.consentLocked(p, m.Rec.id, *m.Granted, fx)
	case typeStartRecording:
		var rec Recording
		if rec, e = r.startRecordingLocked(p); e == nil {
			reply = &message{Rec: recStateField(rec)}
		}
	case typeStopRecording:
		e = r.stopRecordingLocked(p)
	case typeChat:
		e = r.chatLocked(p, *m.Epoch, m.Data)
	case typeKeyPackage:
		e = r.ds.keyPackage(p, m.Data)
	case typeCommit:
		// commit answers itself, before it relays the Commit.
		cm := commitMsg{epoch: *m.Epoch, proposals: m.Proposals, data: m.Data, welcome: m.Welcome, groupInfo: m.GroupInfo, external: m.External}
		if e = r.ds.commit(p, m.ID, cm); e == nil {
			return nil
		}
	case typeGroupInfo:
		e = r.ds.publishGroupInfo(p, *m.Epoch, m.Data)
	case typeGetGroupInfo:
		var epoch uint64
		var data []byte
		if epoch, data, e = r.ds.groupInfoFor(); e == nil {
			reply = &message{Epoch: ptr(epoch), Data: data}
		}
	default:
		e = errorf(CodeUnknownType, "unknown message type %q", m.Type)
	}
	if e != nil {
		r.s.log.Info("signaling: request refused", "room", r.name, "type", m.Type, "code", e.Code)
		return e
	}
	if reply == nil {
		reply = &message{}
	}
	reply.Type, reply.ID = typeOK, m.ID
	p.send(reply)
	return nil
}

// moderatorTarget checks that actor may act on the participant identity and
// returns it. Cohosts may not act on hosts; nobody acts on themselves.
func (r *room) moderatorTarget(actor *participant, identity string, waitingToo bool) (*participant, *Error) {
	if !moderator(actor.role) {
		return nil, errorf(CodeForbidden, "only hosts and cohosts may do this")
	}
	t := r.admitted[identity]
	if t == nil && waitingToo {
		for _, q := range r.waiting {
			if q.identity == identity {
				t = q
			}
		}
	}
	if t == nil {
		return nil, errorf(CodeNotFound, "no such participant")
	}
	if t == actor {
		return nil, errorf(CodeBadRequest, "cannot do this to yourself")
	}
	if t.role == RoleHost && actor.role != RoleHost {
		return nil, errorf(CodeForbidden, "cohosts may not act on a host")
	}
	return t, nil
}

// removeByHostLocked removes a participant (admitted or waiting) and bans
// its identity from rejoining. If it was an MLS member, the delivery service
// asks a committer for a Remove.
func (r *room) removeByHostLocked(actor *participant, identity string, fx *effects) *Error {
	t, e := r.moderatorTarget(actor, identity, true)
	if e != nil {
		return e
	}
	r.banned[t.identity] = true
	t.send(&message{Type: typeRemoved, Participant: actor.identity})
	t.closeConn(websocket.StatusNormalClosure, "removed")
	r.removeLocked(t, fx)
	return nil
}

// muteLocked asks a participant to mute a source. Media is end-to-end
// encrypted, so the server cannot mute; the client does (or the host stops
// the track).
func (r *room) muteLocked(actor *participant, identity string, src Source) *Error {
	t, e := r.moderatorTarget(actor, identity, false)
	if e != nil {
		return e
	}
	t.send(&message{Type: typeMuteRequest, Participant: actor.identity, Source: src})
	return nil
}

// stopTrackLocked makes the SFU stop forwarding a participant's track.
func (r *room) stopTrackLocked(actor *participant, identity string, src Source, fx *effects) *Error {
	t, e := r.moderatorTarget(actor, identity, false)
	if e != nil {
		return e
	}
	fx.add(func() { t.media.stopTrack(src) })
	t.send(&message{Type: typeTrackStopped, Participant: actor.identity, Source: src})
	return nil
}

// permissionLocked allows or forbids a participant to publish a source.
func (r *room) permissionLocked(actor *participant, identity string, src Source, allowed bool, fx *effects) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may do this")
	}
	t := r.admitted[identity]
	if t == nil {
		return errorf(CodeNotFound, "no such participant")
	}
	if t.role == RoleHost && actor.role != RoleHost {
		return errorf(CodeForbidden, "cohosts may not act on a host")
	}
	t.perms.set(src, allowed)
	fx.add(func() { t.media.setPermission(src, allowed) })
	r.broadcastStateLocked()
	return nil
}

// lockLocked locks or unlocks the meeting: while locked, only hosts and
// cohosts may join; people already waiting stay.
func (r *room) lockLocked(actor *participant, locked bool) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may lock the meeting")
	}
	r.locked = locked
	r.broadcastStateLocked()
	return nil
}

// endLocked ends the meeting for everyone; the room cannot be joined again.
func (r *room) endLocked(actor *participant, fx *effects) {
	everyone := append(append([]*participant(nil), r.order...), r.waiting...)
	r.dead = true
	r.ds.stop()
	for _, p := range everyone {
		p.gone = true
		p.send(&message{Type: typeEnded, Participant: actor.identity})
		p.closeConn(websocket.StatusNormalClosure, "meeting ended")
		r.endSessionLocked(p)
		fx.add(p.media.close)
	}
	r.order, r.waiting = nil, nil
	clear(r.admitted)
	fx.add(func() { r.s.dropRoom(r, true) })
	r.s.log.Info("signaling: meeting ended", "room", r.name)
}

// chatLocked relays an MLS application message (RFC 9420 §6.3.1
// PrivateMessage) as opaque bytes to every other admitted participant,
// within the size limit and the sender's and the room's chat budgets: the
// server sends each message to everyone, so without them one sender could
// fill every receiver's send queue. The sender's budget is checked first
// and is a fraction of the room's, so one sender alone cannot spend the
// room's; a message over the room's budget is not the sender's fault and
// costs it no strike.
func (r *room) chatLocked(p *participant, epoch uint64, data []byte) *Error {
	cfg := &r.s.cfg
	if len(data) > cfg.MaxChatSize {
		return errorf(CodeTooLarge, "chat message of %d bytes; the limit is %d", len(data), cfg.MaxChatSize)
	}
	now, n := r.s.now(), float64(len(data))
	if !p.chatMsgs.has(cfg.ChatRate, now, 1) || !p.chatBytes.has(cfg.ChatByteRate, now, n) {
		return errorf(CodeRateLimited, "sending chat too fast; slow down")
	}
	if !r.chatMsgs.has(cfg.RoomChatRate, now, 1) || !r.chatBytes.has(cfg.RoomChatByteRate, now, n) {
		e := errorf(CodeRateLimited, "the meeting's chat is busy; try again shortly")
		e.blameless = true
		return e
	}
	p.chatMsgs.spend(1)
	p.chatBytes.spend(n)
	r.chatMsgs.spend(1)
	r.chatBytes.spend(n)
	for _, q := range r.order {
		if q != p {
			q.send(&message{Type: typeChat, Participant: p.identity, Epoch: ptr(epoch), Data: data})
		}
	}
	return nil
}
