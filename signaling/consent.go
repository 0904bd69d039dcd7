package signaling

// Recording consent. Recording happens on one participant's machine (the
// recorder, the host who asked); the server only keeps the consent state
// and shows it to everyone:
//
//  1. A host or cohost sends start_recording: the recording is Requested.
//  2. Everyone present consents (consent granted=true). When the last one
//     has, the recording becomes Active and the recorder may record.
//  3. Someone joining while it is Active waits (reason "consent") until it
//     consents, even when already admitted by a host.
//  4. Anyone may withdraw (consent granted=false): the recording stops at
//     once (Requested and Active false) and must be requested again.
//  5. The recorder leaving, or stop_recording, stops it too.

// consentLocked records p's consent or its withdrawal.
func (r *room) consentLocked(p *participant, granted bool, fx *effects) *Error {
	p.consented = granted
	if !granted {
		if r.rec.Requested || r.rec.Active {
			r.s.log.Info("signaling: recording stopped, consent withdrawn", "room", r.name)
			r.rec = Recording{}
			r.notifyWaitingLocked()
		}
		r.broadcastStateLocked()
		return nil
	}
	if !p.admitted {
		if r.tryAdmitLocked(p, 0, fx) {
			r.maybeStartRecordingLocked()
		} else {
			p.send(&message{Type: typeWaiting, Reason: p.waitReason(), Rec: ptr(r.rec)})
		}
		return nil
	}
	r.maybeStartRecordingLocked()
	r.broadcastStateLocked()
	return nil
}

// startRecordingLocked requests a recording made by actor.
func (r *room) startRecordingLocked(actor *participant) *Error {
	if !moderator(actor.role) {
		return errorf(CodeForbidden, "only hosts and cohosts may record")
	}
	if r.rec.Requested && r.rec.Recorder != actor.identity {
		return errorf(CodeBadRequest, "another recording is already requested")
	}
	r.rec.Requested, r.rec.Recorder = true, actor.identity
	r.maybeStartRecordingLocked()
	r.broadcastStateLocked()
	return nil
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
// present (admitted) participant has consented.
func (r *room) maybeStartRecordingLocked() {
	if !r.rec.Requested || r.rec.Active {
		return
	}
	for _, q := range r.order {
		if !q.consented {
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
