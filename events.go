package tresor

import (
	"sync"

	"github.com/tresor-dev/tresor/signaling"
)

// An Event is something that happened in the meeting. Receive events from
// [Meeting.Events] and switch on the concrete type; the set is closed:
//
//	*Admitted, *ParticipantJoined, *ParticipantLeft, *EpochChanged,
//	*TrackAdded, *ChatMessage, *ActiveSpeaker, *ConsentRequested,
//	*RecordingChanged, *MuteRequested, *TrackStopped, *KeyFrameRequested,
//	*Mismatch, *Closed
type Event interface{ isEvent() }

// Member is a participant as the MLS group knows it (RFC 9420 §4.1): the
// roster a client displays comes from the group, never from the server.
type Member struct {
	// Identity is the name in the member's MLS credential, which Tresor
	// sets to the participant's identity in its join token.
	Identity string
	// Leaf is the member's leaf index in the ratchet tree; it appears in
	// the member's SFrame KIDs (RFC 9605 §5.2).
	Leaf uint32
	// SignatureKey is the member's Ed25519 public key.
	SignatureKey []byte
}

// Admitted: the client left the waiting room and is in the meeting.
type Admitted struct{}

// ParticipantJoined: a Commit added a member to the MLS group.
type ParticipantJoined struct{ Member Member }

// ParticipantLeft: a Commit removed a member from the MLS group.
type ParticipantLeft struct{ Member Member }

// EpochChanged: the group moved to a new epoch (a join, a leave or the
// periodic Update). Compare SecurityCode out loud with the others: equal
// codes mean the same members and the same keys (see keys.Group.SecurityCode).
type EpochChanged struct {
	Epoch        uint64
	SecurityCode string
	Members      []Member
}

// TrackAdded: another participant's track arrived. Read its decrypted frames
// with [RemoteTrack.ReadFrame].
type TrackAdded struct{ Track *RemoteTrack }

// ChatMessage: a chat message, authenticated by the MLS group (RFC 9420
// §6.3). From is the sender according to the group, not the server.
type ChatMessage struct {
	From  string
	Epoch uint64
	Text  string
}

// ActiveSpeaker: the loudest remote participant changed. It is derived from
// the audio levels (RFC 6464) that senders put in a clear RTP header
// extension of frames that decrypted, so only members are considered; the
// level values themselves are not authenticated.
type ActiveSpeaker struct{ Identity string }

// ConsentRequested: a host asked to record the meeting on Recorder's machine;
// answer with [Meeting.Consent] and RecordingID. Recording starts only when
// everyone consented to this recording; each new recording asks again.
type ConsentRequested struct {
	Recorder string
	// RecordingID names the recording asked about ([signaling.Recording].ID).
	RecordingID string
	// Waiting is true when this client waits outside the meeting until it
	// consents (a recording is already running).
	Waiting bool
}

// RecordingChanged: the room's recording state changed (requested, active
// once everyone consented, or stopped). Recording happens on the recorder's
// machine; the server only tracks consent.
type RecordingChanged struct{ Recording signaling.Recording }

// MuteRequested: a host asks this participant to mute a source. Media is
// end-to-end encrypted, so only the participant can mute; the application
// decides (and may call [Meeting.Unpublish]).
type MuteRequested struct {
	By     string
	Source Source
}

// TrackStopped: a host made the SFU stop forwarding this participant's track
// of a source.
type TrackStopped struct {
	By     string
	Source Source
}

// KeyFrameRequested: a subscriber lost a frame of the video track or joined
// late, and asks for a key frame (the SFU merges subscribers' requests);
// the next frame written to Track should be one, as the frames after a
// loss cannot be decoded until then. At most one every half second per
// track.
type KeyFrameRequested struct{ Track *LocalTrack }

// MismatchKind says what disagreed.
type MismatchKind int

// Kinds of [Mismatch].
const (
	// MismatchRoster: at the same epoch, the server's list of group
	// members differs from the MLS roster for longer than the grace window
	// (the server announces someone who is not in the group, or hides
	// someone who is).
	MismatchRoster MismatchKind = iota + 1
	// MismatchEpoch: the server says the group is at a later epoch than
	// this client's for longer than the grace window (a Commit was hidden
	// from it).
	MismatchEpoch
	// MismatchKeys: a member's frames carry keys this client does not
	// have for longer than the grace window: one of the two was left
	// behind in an older epoch, or the frames are forged.
	MismatchKeys
)

// String returns the kind's name ("roster", "epoch", "keys").
func (k MismatchKind) String() string {
	switch k {
	case MismatchRoster:
		return "roster"
	case MismatchEpoch:
		return "epoch"
	case MismatchKeys:
		return "keys"
	}
	return "unknown"
}

// Mismatch: the server and the MLS group disagree, or this client and
// another member are in different epochs. Tresor never trusts the server's
// view; this event tells the user to compare security codes.
type Mismatch struct {
	Kind MismatchKind
	// Participants are the identities concerned: server-only and MLS-only
	// entries for MismatchRoster, the sender for MismatchKeys.
	Participants []string
	// ServerEpoch and Epoch are the server's and this client's epochs.
	ServerEpoch, Epoch uint64
}

// Closed: the meeting ended for this client; Err says why: nil after
// Meeting.Close or Leave, an error matching [ErrRemoved], [ErrDenied] or
// [ErrEnded] when a host ended it, otherwise the connection's error. No
// event follows.
type Closed struct{ Err error }

func (*Admitted) isEvent()          {}
func (*ParticipantJoined) isEvent() {}
func (*ParticipantLeft) isEvent()   {}
func (*EpochChanged) isEvent()      {}
func (*TrackAdded) isEvent()        {}
func (*ChatMessage) isEvent()       {}
func (*ConsentRequested) isEvent()  {}
func (*ActiveSpeaker) isEvent()     {}
func (*RecordingChanged) isEvent()  {}
func (*MuteRequested) isEvent()     {}
func (*TrackStopped) isEvent()      {}
func (*KeyFrameRequested) isEvent() {}
func (*Mismatch) isEvent()          {}
func (*Closed) isEvent()            {}

// eventQueue delivers events in order without ever blocking the producer:
// events wait in an unbounded slice until the application reads them.
type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	kick   chan struct{}
	out    chan Event
	closed bool
	done   chan struct{}
}

func newEventQueue() *eventQueue {
	e := &eventQueue{kick: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
	go e.loop()
	return e
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// close delivers what is queued (while someone reads), then closes the
// channel. stop abandons undelivered events.
func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *eventQueue) stop() {
	select {
	case <-e.done:
	default:
		close(e.done)
	}
}

func (e *eventQueue) loop() {
	defer close(e.out)
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			closed := e.closed
			e.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-e.kick:
				continue
			case <-e.done:
				return
			}
		}
		ev := e.q[0]
		e.q[0] = nil
		e.q = e.q[1:]
		e.mu.Unlock()
		select {
		case e.out <- ev:
		case <-e.done:
			return
		}
	}
}

// serverMembers returns the identities the server counts as MLS members.
func serverMembers(st signaling.RoomState) map[string]bool {
	out := map[string]bool{}
	for _, p := range st.Participants {
		if p.Member {
			out[p.Identity] = true
		}
	}
	return out
}
