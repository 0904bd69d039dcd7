package signaling

import (
	"slices"

	"github.com/coder/websocket"
)

// The waiting room. A joiner is admitted when two things hold:
//
//   - approved: the room has no waiting room, its role is pre-allowed (hosts
//     always are), or a host or cohost admitted it; and
//   - consented: no recording is active, or it consented to recording.
//
// Until then it receives only "waiting" messages (why it waits and the
// recording state): no roster, no media, no group messages.

// waitReason says what a waiting participant waits for.
func (p *participant) waitReason() string {
	if !p.approved {
		return "host"
	}
	return "consent"
}

// tryAdmitLocked admits p if it may be admitted now, sending "joined" (with
// the request id that caused it, if p's own) to it and the new state to the
// others. It reports whether p was admitted.
func (r *room) tryAdmitLocked(p *participant, id uint64, fx *effects) bool {
	if p.admitted || p.gone || !p.approved || (r.rec.Active && !r.consentedLocked(p)) {
		return false
	}
	r.waiting = deleteP(r.waiting, p)
	p.admitted = true
	r.admitted[p.identity] = p
	r.order = append(r.order, p)
	self := p.info()
	p.send(&message{Type: typeJoined, ID: id, Self: &self, State: r.stateFor(p)})
	r.broadcastStateLocked()
	return true
}

// admitLocked lets a waiting participant in (once it has consented, if a
// recording is running).
func (r *room) admitLocked(actor *participant, identity string, fx *effects) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may admit")
	}
	t := r.findWaiting(identity)
	if t == nil {
		return errorf(CodeNotFound, "nobody of that identity is waiting")
	}
	t.approved = true
	if !r.tryAdmitLocked(t, 0, fx) {
		r.sendWaitingLocked(t, 0)
		r.broadcastStateLocked()
	}
	return nil
}

// denyLocked turns a waiting participant away and closes its connection.
func (r *room) denyLocked(actor *participant, identity string, fx *effects) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may deny")
	}
	t := r.findWaiting(identity)
	if t == nil {
		return errorf(CodeNotFound, "nobody of that identity is waiting")
	}
	t.send(&message{Type: typeDenied})
	t.closeConn(websocket.StatusNormalClosure, "denied")
	r.removeLocked(t, fx)
	return nil
}

func (r *room) findWaiting(identity string) *participant {
	for _, q := range r.waiting {
		if q.identity == identity {
			return q
		}
	}
	return nil
}

// sendWaitingLocked tells p, who waits, why it waits and the recording
// state; id is the request it answers, if any.
func (r *room) sendWaitingLocked(p *participant, id uint64) {
	p.send(&message{Type: typeWaiting, ID: id, Reason: p.waitReason(), Rec: recStateField(r.rec)})
}

// notifyWaitingLocked tells everyone in the waiting room the recording state.
func (r *room) notifyWaitingLocked() {
	for _, q := range r.waiting {
		r.sendWaitingLocked(q, 0)
	}
}

// preAllowLocked sets which roles skip the waiting room from now on (hosts
// always do) and admits the waiting participants of those roles.
func (r *room) preAllowLocked(actor *participant, roles []Role, fx *effects) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may pre-allow roles")
	}
	r.allowed = map[Role]bool{RoleHost: true}
	for _, role := range roles {
		r.allowed[role] = true
	}
	for _, q := range slices.Clone(r.waiting) {
		if !q.approved && r.allowed[q.role] {
			q.approved = true
			if !r.tryAdmitLocked(q, 0, fx) {
				r.sendWaitingLocked(q, 0)
			}
		}
	}
	r.broadcastStateLocked()
	return nil
}
