package signaling

// Event is something the server tells a [Client]; receive them from
// [Client.Events] and switch on the concrete type. The set is closed.
type Event interface{ event() }

// Joined: the client is admitted to the meeting (at once, or after waiting).
type Joined struct {
	Self  Participant
	State RoomState
}

// Waiting: the client is in the waiting room. Reason is "host" (waiting for
// a host to admit it) or "consent" (a recording is running: call
// [Client.Consent] with Recording.ID to be admitted, or leave). Sent again
// when the recording changes.
type Waiting struct {
	Reason    string
	Recording Recording
}

// Denied: a host turned the client away. The connection closes.
type Denied struct{}

// Removed: a host removed the client. The connection closes.
type Removed struct{ By string }

// Ended: a host ended the meeting. The connection closes.
type Ended struct{ By string }

// StateChanged: the roster, lock, recording or epoch changed.
type StateChanged struct{ State RoomState }

// MuteRequested: a host asks the client to mute a source.
type MuteRequested struct {
	By     string
	Source Source
}

// TrackStopped: a host made the SFU stop forwarding one of the client's
// tracks.
type TrackStopped struct {
	By     string
	Source Source
}

// CreateGroupRequested: the client is the first member; it creates the MLS group at
// epoch 0 (RFC 9420 §11) and then commits the pending proposals it is asked
// for.
type CreateGroupRequested struct{ Epoch uint64 }

// CommitRequested: the delivery service chose the client to commit these
// pending proposals on top of Epoch. Build the Add and Remove proposals by
// value, commit (RFC 9420 §12.4), and send it with [Client.SendCommit]. A
// newer request replaces an older one.
type CommitRequested struct {
	Epoch     uint64
	Proposals []Proposal
}

// CommitReceived: From's Commit, built on Epoch, was accepted; process it
// to reach Epoch+1. External marks an external Commit (RFC 9420
// §12.4.3.2): accept it only as a resync of From's own vouched identity
// (it removes From's old leaf and adds its new one).
type CommitReceived struct {
	From     string
	Epoch    uint64
	Data     []byte
	External bool
}

// WelcomeReceived: the client was added to the group; Epoch is the epoch
// the Welcome (RFC 9420 §12.4.3.1) puts it in.
type WelcomeReceived struct {
	From  string
	Epoch uint64
	Data  []byte
}

// ChatReceived: an MLS application message from From, sent in Epoch.
type ChatReceived struct {
	From  string
	Epoch uint64
	Data  []byte
}

// MediaReceived: an SDP offer or answer or an ICE candidate from the SFU.
type MediaReceived struct{ Signal MediaSignal }

// ServerError: an error not tied to a request (e.g. rate limiting, or
// "replaced" when the same identity joined elsewhere).
type ServerError struct{ Err *Error }

// Reconnecting: the connection dropped and the client is trying to resume
// its session, for the Attempt-th time; Err is why the connection dropped
// or the previous attempt failed. Requests wait meanwhile.
type Reconnecting struct {
	Attempt int
	Err     error
}

// Resumed: the session continues on a new connection. Nothing was lost:
// the events missed meanwhile follow, each once, and requests in flight
// are answered.
type Resumed struct{}

// ResumeFailed: the session cannot be resumed — the server refused (its
// error has code resume_failed) or the resume window passed. The client
// closes; join afresh with [Dial].
type ResumeFailed struct{ Err error }

func (Joined) event()               {}
func (Reconnecting) event()         {}
func (Resumed) event()              {}
func (ResumeFailed) event()         {}
func (Waiting) event()              {}
func (Denied) event()               {}
func (Removed) event()              {}
func (Ended) event()                {}
func (StateChanged) event()         {}
func (MuteRequested) event()        {}
func (TrackStopped) event()         {}
func (CreateGroupRequested) event() {}
func (CommitRequested) event()      {}
func (CommitReceived) event()       {}
func (WelcomeReceived) event()      {}
func (ChatReceived) event()         {}
func (MediaReceived) event()        {}
func (ServerError) event()          {}

// toEvent converts a server message to an event; ok is false for replies
// and unknown types (ignored for forward compatibility).
func toEvent(m *message) (Event, bool) {
	var epoch uint64
	if m.Epoch != nil {
		epoch = *m.Epoch
	}
	switch m.Type {
	case typeJoined:
		e := Joined{}
		if m.Self != nil {
			e.Self = *m.Self
		}
		if m.State != nil {
			e.State = *m.State
		}
		return e, true
	case typeWaiting:
		e := Waiting{Reason: m.Reason}
		if m.Rec.state != nil {
			e.Recording = *m.Rec.state
		}
		return e, true
	case typeDenied:
		return Denied{}, true
	case typeRemoved:
		return Removed{By: m.Participant}, true
	case typeEnded:
		return Ended{By: m.Participant}, true
	case typeState:
		if m.State == nil {
			return nil, false
		}
		return StateChanged{State: *m.State}, true
	case typeMuteRequest:
		return MuteRequested{By: m.Participant, Source: m.Source}, true
	case typeTrackStopped:
		return TrackStopped{By: m.Participant, Source: m.Source}, true
	case typeGroupCreate:
		return CreateGroupRequested{Epoch: epoch}, true
	case typeCommitRequest:
		return CommitRequested{Epoch: epoch, Proposals: m.Pending}, true
	case typeCommit:
		return CommitReceived{From: m.Participant, Epoch: epoch, Data: m.Data, External: m.External}, true
	case typeWelcome:
		return WelcomeReceived{From: m.Participant, Epoch: epoch, Data: m.Data}, true
	case typeChat:
		return ChatReceived{From: m.Participant, Epoch: epoch, Data: m.Data}, true
	case typeMedia:
		if m.Signal == nil {
			return nil, false
		}
		return MediaReceived{Signal: *m.Signal}, true
	case typeError:
		return ServerError{Err: &Error{Code: m.Code, Message: m.Message}}, true
	}
	return nil, false
}
