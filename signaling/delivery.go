package signaling

import (
	"slices"
	"time"
)

// delivery is a room's MLS delivery service (RFC 9420 §16.2-3; RFC 9750
// §5). It never parses MLS: KeyPackages, Commits and Welcomes are opaque
// bytes. What it does know is the order of things:
//
//   - members: who is in the MLS group, in the order they joined it (the
//     founder first, then each Add in the order accepted Commits covered
//     them). The server does not know leaf indices; this order stands in for
//     "lowest index" when choosing a committer.
//   - epoch: how many Commits it has accepted since the group was founded.
//   - pending: Adds (a joiner's uploaded KeyPackage) and Removes (a member
//     left or was removed) waiting for a Commit.
//
// The committer for pending proposals is the first online member in join
// order that has not timed out; if it does not commit within CommitTimeout,
// the next one is asked. Any member may commit (e.g. a periodic Update), but
// exactly one Commit is accepted per epoch: the first that names the
// current epoch. Later ones get a "conflict" error: their sender processes
// the accepted Commit, which the server relays to every member, and
// retries. A Commit also names the pending proposals it covers; covered Adds
// need a Welcome, which the server hands to the joiners.
//
// A member whose connection dropped (reconnecting: its place is kept for
// the resume window) is still a member, but is not asked to commit: the
// committer's role fails over from it at once, and it is asked again only
// once it has resumed and its turn comes.
//
// When no member is online (everyone left), the group is gone: the next
// joiner with a KeyPackage founds a new one at epoch 0 ("group_create").
//
// The service also keeps the room's latest GroupInfo (RFC 9420 §12.4.3),
// opaque and signed by a member: the one the last accepted Commit carried,
// or the founder's for epoch 0. From it a participant whose copy of the
// group fell behind rejoins with an external Commit (RFC 9420 §12.4.3.2),
// which is accepted like any Commit for the current epoch and keeps (or
// makes) its sender a member. Members accept such a Commit only as a resync
// of the same vouched identity; the server cannot tell and does not try.
//
// An Add that no accepted Commit covers within KeyPackageTimeout (the
// committers found its KeyPackage invalid, or ignore it) is dropped, and
// its uploader gets error key_package_expired so that it can upload a
// fresh one; otherwise a bad KeyPackage would stay pending, and be offered
// to every committer, for as long as its uploader stays. Removes never
// expire: a member who left must leave the group.
type delivery struct {
	r       *room
	epoch   uint64
	members []*participant
	member  map[*participant]bool
	pending []*proposal
	nextID  uint64
	version uint64 // bumped whenever pending changes

	committer *participant
	sent      uint64 // version last sent to the committer
	skipped   map[*participant]bool
	timer     *time.Timer
	timerGen  uint64
	stopped   bool

	// The expiry timer, for the earliest pending Add's deadline (expiryAt).
	expiry    *time.Timer
	expiryAt  time.Time
	expiryGen uint64

	// The latest GroupInfo and the epoch it is for; nil when the last
	// accepted Commit carried none.
	groupInfo      []byte
	groupInfoEpoch uint64
}

// commitMsg is a "commit" request's content.
type commitMsg struct {
	epoch     uint64
	proposals []uint64
	data      []byte
	welcome   []byte
	groupInfo []byte
	external  bool
}

type proposal struct {
	id         uint64
	kind       ProposalKind
	p          *participant
	keyPackage []byte
	deadline   time.Time // for an Add: when it expires
}

func (d *delivery) init(r *room) {
	d.r = r
	d.member = make(map[*participant]bool)
	d.skipped = make(map[*participant]bool)
}

func (d *delivery) isMember(p *participant) bool { return d.member[p] }

func (d *delivery) onlineMembers() int {
	n := 0
	for _, m := range d.members {
		if !m.gone {
			n++
		}
	}
	return n
}

func (d *delivery) changed() { d.version++ }

// keyPackage queues an Add for p with its KeyPackage (RFC 9420 §10), or
// makes p the founder of a new group when no member is online.
func (d *delivery) keyPackage(p *participant, kp []byte) *Error {
	if d.member[p] {
		return errorf(CodeBadRequest, "already a group member")
	}
	deadline := time.Now().Add(d.r.s.cfg.KeyPackageTimeout)
	for _, pr := range d.pending {
		if pr.kind == ProposalAdd && pr.p == p {
			// A fresh KeyPackage replaces the old one, with a fresh chance.
			pr.keyPackage, pr.deadline = kp, deadline
			d.changed()
			d.schedule()
			return nil
		}
	}
	d.nextID++
	d.pending = append(d.pending, &proposal{id: d.nextID, kind: ProposalAdd, p: p, keyPackage: kp, deadline: deadline})
	d.changed()
	d.schedule()
	return nil
}

// left handles a participant leaving the room: its pending Add is dropped,
// and a member gets a pending Remove.
func (d *delivery) left(p *participant) {
	d.pending = slices.DeleteFunc(d.pending, func(pr *proposal) bool { return pr.kind == ProposalAdd && pr.p == p })
	if d.member[p] {
		d.nextID++
		d.pending = append(d.pending, &proposal{id: d.nextID, kind: ProposalRemove, p: p})
	}
	d.changed()
	d.schedule()
}

// schedule makes sure someone is working on the pending proposals: it
// founds a group when needed and asks a committer.
func (d *delivery) schedule() {
	if d.stopped {
		return
	}
	defer d.armExpiry()
	if d.onlineMembers() == 0 {
		d.found()
	}
	if len(d.pending) == 0 {
		d.stopTimer()
		d.committer = nil
		return
	}
	if d.committer == nil || d.committer.gone || d.committer.reconnecting {
		d.committer = d.choose()
		if d.committer == nil {
			d.stopTimer()
			return
		}
		d.sent = 0
		d.startTimer()
	}
	if d.sent != d.version {
		d.sent = d.version
		d.committer.send(&message{Type: typeCommitRequest, Epoch: ptr(d.epoch), Pending: d.pendingView()})
	}
}

// found starts a new group with the earliest pending joiner as its only
// member; the old group's members are all gone.
func (d *delivery) found() {
	d.members = nil
	clear(d.member)
	d.pending = slices.DeleteFunc(d.pending, func(pr *proposal) bool { return pr.kind == ProposalRemove })
	d.committer = nil
	if len(d.pending) == 0 {
		return
	}
	f := d.pending[0].p
	d.pending = d.pending[1:]
	d.members = []*participant{f}
	d.member[f] = true
	d.epoch = 0
	d.groupInfo = nil
	d.changed()
	f.send(&message{Type: typeGroupCreate, Epoch: ptr(uint64(0))})
	d.r.broadcastStateLocked()
}

// choose returns the first online member in join order that is connected
// and has not timed out; when all have timed out, it starts over.
func (d *delivery) choose() *participant {
	for range 2 {
		for _, m := range d.members {
			if !m.gone && !m.reconnecting && !d.skipped[m] {
				return m
			}
		}
		clear(d.skipped)
	}
	return nil
}

func (d *delivery) pendingView() []Proposal {
	out := make([]Proposal, len(d.pending))
	for i, pr := range d.pending {
		out[i] = Proposal{ID: pr.id, Kind: pr.kind, Participant: pr.p.identity, KeyPackage: pr.keyPackage}
	}
	return out
}

func (d *delivery) startTimer() {
	d.stopTimer()
	d.timerGen++
	gen, r := d.timerGen, d.r
	d.timer = time.AfterFunc(r.s.cfg.CommitTimeout, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		d.timeout(gen)
	})
}

func (d *delivery) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// timeout fails over to the next member when the committer stayed silent.
func (d *delivery) timeout(gen uint64) {
	if d.stopped || gen != d.timerGen || d.committer == nil {
		return
	}
	d.r.s.stats.commitTimeout()
	d.r.s.log.Info("signaling: committer timed out, failing over", "room", d.r.name, "epoch", d.epoch)
	d.skipped[d.committer] = true
	d.committer = nil
	d.timer = nil
	d.schedule()
}

// armExpiry sets the expiry timer for the earliest pending Add.
func (d *delivery) armExpiry() {
	var next time.Time
	for _, pr := range d.pending {
		if pr.kind == ProposalAdd && (next.IsZero() || pr.deadline.Before(next)) {
			next = pr.deadline
		}
	}
	if d.expiry != nil && next.Equal(d.expiryAt) {
		return
	}
	d.stopExpiry()
	if next.IsZero() {
		return
	}
	d.expiryGen++
	gen, r := d.expiryGen, d.r
	d.expiryAt = next
	d.expiry = time.AfterFunc(time.Until(next), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		d.expire(gen)
	})
}

func (d *delivery) stopExpiry() {
	if d.expiry != nil {
		d.expiry.Stop()
		d.expiry = nil
		d.expiryAt = time.Time{}
	}
}

// expire drops the Adds past their deadline, tells their uploaders, and
// asks for the remaining proposals.
func (d *delivery) expire(gen uint64) {
	if d.stopped || gen != d.expiryGen {
		return
	}
	d.expiry, d.expiryAt = nil, time.Time{}
	now := time.Now()
	var expired []*participant
	d.pending = slices.DeleteFunc(d.pending, func(pr *proposal) bool {
		if pr.kind == ProposalAdd && !now.Before(pr.deadline) {
			expired = append(expired, pr.p)
			return true
		}
		return false
	})
	for _, p := range expired {
		d.r.s.stats.keyPackageExpired()
		d.r.s.log.Info("signaling: pending add expired", "room", d.r.name, "epoch", d.epoch)
		p.send(&message{Type: typeError, Code: CodeKeyPackageExpired,
			Message: "no commit added you in time; upload a fresh KeyPackage"})
	}
	if len(expired) > 0 {
		d.changed()
	}
	d.schedule()
}

// reconnecting fails the committer's role over at once from a member
// whose connection dropped.
func (d *delivery) reconnecting(p *participant) {
	if d.committer == p {
		d.r.s.log.Info("signaling: committer reconnecting, failing over", "room", d.r.name, "epoch", d.epoch)
		d.committer = nil
		d.stopTimer()
		d.schedule()
	}
}

// resumed makes sure someone works on pending proposals once a member is
// back (it may be the only one).
func (d *delivery) resumed(*participant) { d.schedule() }

// publishGroupInfo keeps a member's GroupInfo for the current epoch (the
// founder's for epoch 0; committers send theirs with the Commit). The first
// one for an epoch stays: a later one is a conflict, so that no member can
// replace the committer's.
func (d *delivery) publishGroupInfo(p *participant, epoch uint64, data []byte) *Error {
	if !d.member[p] {
		return errorf(CodeNotMember, "only group members may publish a GroupInfo")
	}
	if max := d.r.s.cfg.MaxGroupInfoSize; len(data) > max {
		return errorf(CodeTooLarge, "GroupInfo of %d bytes; the limit is %d", len(data), max)
	}
	if epoch != d.epoch {
		return errorf(CodeConflict, "the group is at epoch %d", d.epoch)
	}
	if d.groupInfo != nil && d.groupInfoEpoch == d.epoch {
		return errorf(CodeConflict, "a GroupInfo for epoch %d is already kept", d.epoch)
	}
	d.groupInfo, d.groupInfoEpoch = data, epoch
	return nil
}

// groupInfoFor returns the latest GroupInfo and its epoch.
func (d *delivery) groupInfoFor() (uint64, []byte, *Error) {
	if d.groupInfo == nil {
		return 0, nil, errorf(CodeNotFound, "no GroupInfo for the current epoch")
	}
	return d.groupInfoEpoch, d.groupInfo, nil
}

// stop cancels the timers for good (room ended or server closing).
func (d *delivery) stop() {
	d.stopped = true
	d.stopTimer()
	d.stopExpiry()
}

// commit accepts p's Commit if it is the first for the current epoch and
// every proposal it claims to cover is still pending (RFC 9420 §12.4).
//
// An external Commit (RFC 9420 §12.4.3.2) covers no pending proposals
// (message.validate) and may come from any admitted participant: it is how
// one whose copy of the group fell behind gets back in, removing its own
// old leaf and adding a new one. The member list is by identity, so the
// sender takes the place of any earlier entry of its identity (or joins the
// end), and pending proposals about that identity are dropped: the Commit
// settled them.
func (d *delivery) commit(p *participant, id uint64, cm commitMsg) *Error {
	if !cm.external && !d.member[p] {
		return errorf(CodeNotMember, "only group members may commit")
	}
	if cm.external && len(d.members) == 0 {
		return errorf(CodeNotFound, "there is no group to join")
	}
	if max := d.r.s.cfg.MaxGroupInfoSize; len(cm.groupInfo) > max {
		return errorf(CodeTooLarge, "GroupInfo of %d bytes; the limit is %d", len(cm.groupInfo), max)
	}
	if cm.epoch != d.epoch {
		return errorf(CodeConflict, "the group is at epoch %d", d.epoch)
	}
	var covered []*proposal
	for _, id := range cm.proposals {
		i := slices.IndexFunc(d.pending, func(pr *proposal) bool { return pr.id == id })
		if i < 0 {
			return errorf(CodeConflict, "proposal %d is no longer pending", id)
		}
		if slices.Contains(covered, d.pending[i]) {
			return errorf(CodeBadRequest, "proposal %d listed twice", id)
		}
		covered = append(covered, d.pending[i])
	}
	var added []*participant
	for _, pr := range covered {
		if pr.kind == ProposalAdd {
			added = append(added, pr.p)
		}
	}
	if len(added) > 0 && len(cm.welcome) == 0 {
		return errorf(CodeBadRequest, "a commit that adds members needs a welcome")
	}
	if len(added) == 0 && len(cm.welcome) > 0 {
		return errorf(CodeBadRequest, "a welcome without added members")
	}

	// Accepted: this is the epoch's one Commit.
	built := d.epoch
	d.epoch++
	for _, pr := range covered {
		if pr.kind == ProposalRemove {
			d.members = slices.DeleteFunc(d.members, func(m *participant) bool { return m == pr.p })
			delete(d.member, pr.p)
		}
	}
	d.pending = slices.DeleteFunc(d.pending, func(pr *proposal) bool { return slices.Contains(covered, pr) })
	for _, a := range added {
		d.members = append(d.members, a)
		d.member[a] = true
	}
	if cm.external {
		d.externalJoined(p)
	}
	if len(cm.groupInfo) > 0 {
		d.groupInfo, d.groupInfoEpoch = cm.groupInfo, d.epoch
	} else {
		d.groupInfo = nil
	}
	d.changed()
	// The committer hears first, so its answer precedes any new request.
	p.send(&message{Type: typeOK, ID: id, Epoch: ptr(d.epoch)})
	for _, m := range d.members {
		if m != p && !m.gone && !slices.Contains(added, m) {
			m.send(&message{Type: typeCommit, Participant: p.identity, Epoch: ptr(built), Data: cm.data, External: cm.external})
		}
	}
	for _, a := range added {
		a.send(&message{Type: typeWelcome, Participant: p.identity, Epoch: ptr(d.epoch), Data: cm.welcome})
	}
	d.committer = nil
	clear(d.skipped)
	d.stopTimer()
	d.schedule()
	d.r.broadcastStateLocked()
	return nil
}

// externalJoined makes p, whose external Commit was accepted, the member
// of its identity: in the place of an earlier entry of that identity (an
// earlier connection's), or at the end.
func (d *delivery) externalJoined(p *participant) {
	same := func(m *participant) bool { return m.identity == p.identity }
	for _, m := range d.members {
		if same(m) {
			delete(d.member, m)
		}
	}
	if at := slices.IndexFunc(d.members, same); at < 0 {
		d.members = append(d.members, p)
	} else {
		d.members[at] = p
		tail := slices.DeleteFunc(d.members[at+1:], same)
		d.members = d.members[:at+1+len(tail)]
	}
	d.member[p] = true
	d.pending = slices.DeleteFunc(d.pending, func(pr *proposal) bool { return pr.p.identity == p.identity })
	d.r.s.log.Info("signaling: external commit accepted", "room", d.r.name, "epoch", d.epoch)
}
