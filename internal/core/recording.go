package core

import (
	"slices"
	"time"

	"github.com/tresor-dev/tresor/keys"
)

// Recording consent. The server runs the workflow (a host asks, everyone
// answers, the recording becomes active, joiners wait until they consent),
// but its word is not proof: each member also sends its answer as a signed
// MLS application message that names the exact recording (the server's id,
// the recorder, the time it was asked). A recording is Verified — which is
// what the recorder must check before it writes anything — only while the
// server calls it active and every other member of the group has sent a
// signed consent to exactly that recording. A withdrawal, or a member who
// has not consented, makes it unverified at once; a server that reuses one
// recording's consents for another, or calls a recording active early,
// gets a MismatchConsent once the grace window passed.
type recordingState struct {
	cur  Recording // the server's current recording
	seen bool

	verified bool
	missing  []string

	ids      []string                         // recordings remembered below, oldest first
	answers  map[string]bool                  // this participant's answers
	asked    map[string]bool                  // ConsentRequested was emitted
	sent     map[string]bool                  // the answer sent in the group (value: granted)
	consents map[string]map[string]appMessage // recording → member identity → signed answer

	unverifiedSince time.Time
	mismatchSent    bool
}

func newRecordingState() recordingState {
	return recordingState{answers: map[string]bool{}, asked: map[string]bool{}, sent: map[string]bool{},
		consents: map[string]map[string]appMessage{}}
}

// remember keeps what is known about the recording id, forgetting the
// oldest recording beyond maxRecordings.
func (rs *recordingState) remember(id string) {
	if slices.Contains(rs.ids, id) {
		return
	}
	rs.ids = append(rs.ids, id)
	if len(rs.ids) > maxRecordings {
		old := rs.ids[0]
		rs.ids = rs.ids[1:]
		delete(rs.answers, old)
		delete(rs.asked, old)
		delete(rs.sent, old)
		delete(rs.consents, old)
	}
}

func (rs *recordingState) deadline(grace time.Duration) time.Time {
	if rs.unverifiedSince.IsZero() || rs.mismatchSent {
		return time.Time{}
	}
	return rs.unverifiedSince.Add(grace)
}

// Consent gives (true) or withdraws (false) this participant's consent to
// the recording id: the server is told, and, once this client is a member,
// so is the group, in a signed message naming the recording.
func (d *Driver) Consent(now time.Time, id string, granted bool) ([]Output, error) {
	d.now = now
	if id == "" {
		return nil, errorString("core: consent to a recording without an id")
	}
	rs := &d.rec
	rs.remember(id)
	rs.answers[id] = granted
	d.emit(SendConsent{Recording: id, Granted: granted})
	if err := d.sendConsent(); err != nil {
		return nil, err
	}
	d.evalRecording(false)
	return d.take(), nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// sendConsent sends this participant's answer to the current recording in
// the group, unless it already did.
func (d *Driver) sendConsent() error {
	rs := &d.rec
	r := rs.cur
	granted, answered := rs.answers[r.ID]
	if !answered || !d.active() || r.Recorder == d.cfg.Self {
		return nil
	}
	if was, sent := rs.sent[r.ID]; sent && was == granted {
		return nil
	}
	data, err := encodeApp(appMessage{Type: appConsent, Recording: r.ID, Recorder: r.Recorder, AskedAt: r.AskedAt, Granted: granted})
	if err != nil {
		return err
	}
	if err := d.sendApp(data); err != nil {
		return err
	}
	rs.sent[r.ID] = granted
	return nil
}

// setRecording records the server's recording state.
func (d *Driver) setRecording(r Recording) {
	rs := &d.rec
	changed := !rs.seen || r != rs.cur
	rs.cur, rs.seen = r, true
	if r.ID != "" {
		rs.remember(r.ID)
	}
	d.askConsent(false)
	if changed {
		if err := d.sendConsent(); err != nil {
			d.warn("sending the recording consent failed", "err", err)
		}
	}
	d.evalRecording(changed)
}

// waiting handles the server's "waiting" message.
func (d *Driver) waiting(m ServerMessage) {
	if m.Recording != nil {
		d.setRecording(*m.Recording)
	}
	if m.Reason == "consent" {
		d.askConsent(true)
	}
}

// askConsent asks the user, once per recording, for an answer this
// participant has not given — whatever the server says it answered.
func (d *Driver) askConsent(waiting bool) {
	rs := &d.rec
	r := rs.cur
	if !r.Requested || r.ID == "" || r.Recorder == d.cfg.Self || rs.asked[r.ID] {
		return
	}
	if _, answered := rs.answers[r.ID]; answered {
		return
	}
	if !waiting && !d.present() {
		return
	}
	rs.asked[r.ID] = true
	d.emit(ConsentRequested{Recording: r, Recorder: d.recorder(r), Waiting: waiting})
}

// present reports whether the server lists this participant in the room.
func (d *Driver) present() bool {
	return slices.ContainsFunc(d.server.Participants, func(p Participant) bool { return p.Identity == d.cfg.Self })
}

// recorder describes who records: the MLS member of that identity, or,
// while it is none, what the server says (unverified).
func (d *Driver) recorder(r Recording) Member {
	for _, m := range d.roster {
		if m.Identity == r.Recorder {
			return memberOf(m)
		}
	}
	name := r.Recorder
	for _, p := range d.server.Participants {
		if p.Identity == r.Recorder && p.Name != "" {
			name = p.Name
		}
	}
	return Member{Identity: r.Recorder, Name: name}
}

// consentReceived files a member's signed answer to a recording.
func (d *Driver) consentReceived(sender keys.Member, a appMessage) {
	rs := &d.rec
	// Only recordings the server announced are remembered, so that a
	// member cannot push the current one out with made-up ids.
	if !slices.Contains(rs.ids, a.Recording) {
		d.log.Info("tresor: consent to an unknown recording", "sender", sender.Leaf)
		return
	}
	byMember := rs.consents[a.Recording]
	if byMember == nil {
		byMember = map[string]appMessage{}
		rs.consents[a.Recording] = byMember
	}
	byMember[sender.Identity] = a
	d.evalRecording(false)
}

// recordingMembersChanged re-checks the recording after an epoch change: a
// new member must consent, and this client, new in the group, sends the
// answer it gave while it waited.
func (d *Driver) recordingMembersChanged() {
	if err := d.sendConsent(); err != nil {
		d.warn("sending the recording consent failed", "err", err)
	}
	d.evalRecording(false)
}

// evalRecording decides whether the current recording is verified and
// reports a change.
func (d *Driver) evalRecording(changed bool) {
	rs := &d.rec
	r := rs.cur
	var missing []string
	verified := false
	if r.Active && d.active() {
		recorderIn := false
		for _, m := range d.roster {
			if m.Identity == r.Recorder {
				recorderIn = true
				continue
			}
			if c, ok := rs.consents[r.ID][m.Identity]; !ok || !c.Granted || !c.matches(r) {
				missing = append(missing, m.Identity)
			}
		}
		if !recorderIn {
			missing = append(missing, r.Recorder)
		}
		verified = len(missing) == 0
	}
	if changed || verified != rs.verified || !slices.Equal(missing, rs.missing) {
		rs.verified, rs.missing = verified, missing
		d.emit(RecordingChanged{Recording: r, Verified: verified, Missing: slices.Clone(missing)})
	}
	if r.Active && d.active() && !verified {
		if rs.unverifiedSince.IsZero() {
			rs.unverifiedSince = d.now
		}
	} else {
		rs.unverifiedSince, rs.mismatchSent = time.Time{}, false
	}
}

// checkRecording reports a recording the server calls active without proof
// of everyone's consent, once the grace window has passed.
func (d *Driver) checkRecording() {
	rs := &d.rec
	if rs.unverifiedSince.IsZero() || rs.mismatchSent || d.now.Sub(rs.unverifiedSince) < d.cfg.Grace {
		return
	}
	rs.mismatchSent = true
	epoch, _ := d.Epoch()
	d.log.Warn("tresor: the server calls a recording active without everyone's signed consent", "missing", rs.missing)
	d.emit(Mismatch{Kind: MismatchConsent, Participants: slices.Clone(rs.missing), ServerEpoch: d.server.Epoch, Epoch: epoch})
}
