package signaling

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Recording consent. Recording happens on one participant's machine (the
// recorder, the host who asked); the server only keeps the consent state
// and shows it to everyone:
//
//  1. A host or cohost sends start_recording: a new recording is Requested,
//     with a fresh random ID, its recorder and the time it was asked.
//     Nobody has consented to it yet, whatever they said about earlier
//     recordings.
//  2. Everyone present consents to that recording (consent granted=true
//     naming its ID; a consent naming another recording is refused with
//     "conflict"). When the last one has, the recording becomes Active and
//     the recorder may record.
//  3. Someone joining while it is Active waits (reason "consent") until it
//     consents to it, even when already admitted by a host.
//  4. An admitted participant may withdraw (consent granted=false): the
//     recording stops at once (Requested and Active false) and must be
//     requested again, as a new recording. Someone in the waiting room who
//     withdraws does not stop it for everyone: it stays waiting (it will
//     not join while this recording runs) and may leave.
//  5. The recorder leaving, or stop_recording, stops it too.

// newRecordingID returns 128 bits from crypto/rand in hex: unguessable, so
// that a consent cannot be given in advance to a recording not yet asked.
func newRecordingID() (string, error) {
	var b [recordingIDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("signaling: recording id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// consentedLocked reports whether p consents to the current recording.
func (r *room) consentedLocked(p *participant) bool {
	return r.rec.ID != "" && p.consent == r.rec.ID
}

// consentLocked records p's consent to the recording id, or its
// withdrawal (id may then be empty).
func (r *room) consentLocked(p *participant, id string, granted bool, fx *effects) *Error {
	if id != "" && id != r.rec.ID {
		return errorf(CodeConflict, "that recording is not the current one")
	}
	if !granted {
		p.consent = ""
		if !p.admitted {
			// "I won't join while this is recorded": the recording goes
			// on for the others; p keeps waiting, or leaves.
			r.sendWaitingLocked(p, 0)
			r.broadcastStateLocked()
			return nil
		}
		if r.rec.Requested {
			r.s.log.Info("signaling: recording stopped, consent withdrawn", "room", r.name)
			r.rec = Recording{}
			r.notifyWaitingLocked()
		}
		r.broadcastStateLocked()
		return nil
	}
	p.consent = id
	if !p.admitted {
		if r.tryAdmitLocked(p, 0, fx) {
			r.maybeStartRecordingLocked()
		} else {
			r.sendWaitingLocked(p, 0)
			r.broadcastStateLocked()
		}
		return nil
	}
	r.maybeStartRecordingLocked()
	r.broadcastStateLocked()
	return nil
}

// startRecordingLocked requests a new recording made by actor and returns
// it. Asking again for one's own requested recording returns it unchanged.
func (r *room) startRecordingLocked(actor *participant) (Recording, *Error) {
	if !moderator(actor.role) {
		return Recording{}, errorf(CodeForbidden, "only hosts and cohosts may record")
	}
	if r.rec.Requested {
		if r.rec.Recorder != actor.identity {
			return Recording{}, errorf(CodeBadRequest, "another recording is already requested")
		}
		return r.rec, nil
	}
	id, err := newRecordingID()
	if err != nil {
		r.s.log.Error("signaling: cannot start a recording", "room", r.name, "err", err)
		return Recording{}, errorf(CodeInternal, "cannot start a recording")
	}
	r.rec = Recording{ID: id, Requested: true, Recorder: actor.identity, AskedAt: r.s.now().UnixMilli()}
	r.maybeStartRecordingLocked()
	r.notifyWaitingLocked()
	r.broadcastStateLocked()
	return r.rec, nil
}

// stopRecordingLocked stops a recording; the recorder or a moderator may.
func (r *room) stopRecordingLocked(actor *participant) *Error {
	if !moderator(actor.role) && actor.identity != r.rec.Recorder {
		return errorf(CodeForbidden, "only hosts, cohosts and the recorder may stop recording")
	}
	r.rec = Recording{}
	r.notifyWaitingLocked()
	r.broadcastStateLocked()
	return nil
}

// maybeStartRecordingLocked makes a requested recording active once every
// present (admitted) participant has consented to it.
func (r *room) maybeStartRecordingLocked() {
	if !r.rec.Requested || r.rec.Active {
		return
	}
	for _, q := range r.order {
		if !r.consentedLocked(q) {
			return
		}
	}
	r.rec.Active = true
	r.s.log.Info("signaling: recording active", "room", r.name)
	r.notifyWaitingLocked()
}

// recordingLeftLocked updates the recording when p leaves: the recorder
// leaving stops it; anyone else leaving may complete the consents.
func (r *room) recordingLeftLocked(p *participant) {
	if r.rec.Requested && r.rec.Recorder == p.identity {
		r.rec = Recording{}
		r.notifyWaitingLocked()
		return
	}
	r.maybeStartRecordingLocked()
}
