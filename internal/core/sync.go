package core

import (
	"slices"
	"time"
)

// syncState tracks disagreements between the server's view of the room and
// the group: each is reported once it has lasted the grace window (the
// server updates its view when it accepts a Commit, members when they
// process it, so a short disagreement is normal), and again after it ended
// and came back.
type syncState struct {
	rosterSince, epochSince time.Time
	rosterSent, epochSent   bool
}

func (s *syncState) reset() { *s = syncState{} }

// deadline is when a disagreement being timed is due to be reported.
func (s *syncState) deadline(grace time.Duration) time.Time {
	var t time.Time
	if !s.rosterSince.IsZero() && !s.rosterSent {
		t = s.rosterSince.Add(grace)
	}
	if !s.epochSince.IsZero() && !s.epochSent {
		if e := s.epochSince.Add(grace); t.IsZero() || e.Before(t) {
			t = e
		}
	}
	return t
}

// setState records the server's view of the room.
func (d *Driver) setState(st RoomState) {
	d.server, d.serverKnown = st, true
	d.setRecording(st.Recording)
	d.checkSync()
}

// checkSync compares the server's list of group members and its epoch with
// the group's. Any persistent difference is reported, whichever side is
// ahead: a server that claims an older epoch cannot hide a phantom member
// that way. Rosters are compared as multisets of identities, so a second
// entry under a member's identity counts too.
func (d *Driver) checkSync() {
	d.checkResync()
	if !d.serverKnown || !d.active() {
		d.sync.reset()
		return
	}
	count := map[string]int{}
	for _, p := range d.server.Participants {
		if p.Member {
			count[p.Identity]++
		}
	}
	for _, m := range d.roster {
		count[m.Identity]--
	}
	var diff []string
	for id, n := range count {
		if n != 0 {
			diff = append(diff, id)
		}
	}
	slices.Sort(diff)
	epoch := d.g.Epoch()
	s := &d.sync
	if len(diff) == 0 {
		s.rosterSince, s.rosterSent = time.Time{}, false
	} else if s.rosterSince.IsZero() {
		s.rosterSince = d.now
	} else if !s.rosterSent && d.now.Sub(s.rosterSince) >= d.cfg.Grace {
		s.rosterSent = true
		d.log.Warn("tresor: the server's roster differs from the MLS roster", "participants", diff)
		d.emit(Mismatch{Kind: MismatchRoster, Participants: diff, ServerEpoch: d.server.Epoch, Epoch: epoch})
	}
	if d.server.Epoch == epoch {
		s.epochSince, s.epochSent = time.Time{}, false
	} else if s.epochSince.IsZero() {
		s.epochSince = d.now
	} else if !s.epochSent && d.now.Sub(s.epochSince) >= d.cfg.Grace {
		s.epochSent = true
		d.log.Warn("tresor: the server's epoch differs from the group's", "server_epoch", d.server.Epoch, "epoch", epoch)
		d.emit(Mismatch{Kind: MismatchEpoch, ServerEpoch: d.server.Epoch, Epoch: epoch})
	}
}
