package core

import (
	"slices"
	"time"

	"github.com/tresor-dev/tresor/keys"
)

// Resync (RFC 9420 §12.4.3.2). A member that missed a Commit can never
// process the ones that follow: it is stuck in an old epoch. When the
// server's epoch has been ahead of the group's for resyncDelay, the driver
// asks for the latest GroupInfo — which the member that started each epoch
// publishes — and rejoins with an external Commit that replaces its own old
// leaf. keys checks the GroupInfo (a member's signature, the tree, every
// leaf vouched for), and every member accepts the external Commit only as
// such a resync of the same vouched identity: a server that lies about the
// epoch can make a member resync (a new epoch for everyone, at most once
// per resyncBackoff), never add anyone.
const (
	resyncDelay   = 500 * time.Millisecond
	resyncBackoff = 5 * time.Second
)

type resyncState struct {
	behindSince time.Time // the server's epoch has been ahead since
	asked       bool      // a GroupInfo request is out
	lastTry     time.Time
}

func (r *resyncState) deadline() time.Time {
	if r.behindSince.IsZero() || r.asked {
		return time.Time{}
	}
	t := r.behindSince.Add(resyncDelay)
	if next := r.lastTry.Add(resyncBackoff); !r.lastTry.IsZero() && next.After(t) {
		t = next
	}
	return t
}

// checkResync starts a resync once the server has been ahead long enough.
func (d *Driver) checkResync() {
	r := &d.resync
	if !d.serverKnown || !d.active() || d.server.Epoch <= d.g.Epoch() {
		r.behindSince = time.Time{}
		return
	}
	if r.behindSince.IsZero() {
		r.behindSince = d.now
	}
	if r.asked || d.inflight != nil || d.now.Before(r.deadline()) {
		return
	}
	r.asked, r.lastTry = true, d.now
	d.log.Info("tresor: behind the group; asking for its GroupInfo to resync", "epoch", d.g.Epoch(), "server_epoch", d.server.Epoch)
	d.emit(SendGetGroupInfo{})
}

// GroupInfoResult reports the answer to [SendGetGroupInfo]: the latest
// GroupInfo and the epoch the server says it is of, or the error code reason
// ("not_found" when none was published). A GroupInfo of a later epoch than
// the group's starts the external Commit.
func (d *Driver) GroupInfoResult(now time.Time, epoch uint64, data []byte, reason string) []Output {
	d.now = now
	d.resync.asked = false
	switch {
	case reason != "" || len(data) == 0:
		d.warn("no GroupInfo to resync from: "+reason, "epoch", epoch)
	case !d.active() || d.inflight != nil || epoch <= d.g.Epoch():
	default:
		g, c, err := keys.JoinExternal(d.id, data, d.kcfg)
		if err != nil {
			d.stats.Rejected++
			d.warn("refused the GroupInfo to resync from", "err", err)
			break
		}
		d.inflight = &inflight{epoch: c.Epoch - 1, external: g}
		d.emit(SendCommit{Epoch: c.Epoch - 1, Data: c.Message, External: true})
	}
	return d.take()
}

// resynced installs the group an accepted external Commit made.
func (d *Driver) resynced(g *keys.Group) {
	if err := g.MergePendingCommit(); err != nil {
		d.warn("merging the accepted external Commit failed", "err", err)
		g.Close()
		return
	}
	old := d.g
	d.g = g
	old.Close()
	// Our old leaf left and our new one came: not a participant event.
	self := g.Self().Identity
	d.roster = slices.DeleteFunc(slices.Clone(d.roster), func(m keys.Member) bool { return m.Identity == self })
	d.resync = resyncState{}
	d.newEpoch(nil, nil)
	d.publishGroupInfo()
	d.emit(Resynced{Epoch: g.Epoch()})
}

// publishGroupInfo publishes the GroupInfo of the epoch this client's
// Commit (or its founding of the group) started.
func (d *Driver) publishGroupInfo() {
	gi, err := d.g.GroupInfo()
	if err != nil {
		d.warn("making the GroupInfo failed", "err", err)
		return
	}
	d.emit(SendGroupInfo{Epoch: d.g.Epoch(), Data: gi})
}
