package tresor

import (
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/signaling"
)

// An Event is something that happened in the meeting. Receive events from
// [Meeting.Events] and switch on the concrete type; the set is closed:
//
//	*Admitted, *ParticipantJoined, *ParticipantLeft, *EpochChanged,
//	*LeftGroup, *Resynced, *Reconnecting, *Reconnected, *TrackAdded,
//	*ChatMessage, *ActiveSpeaker, *ConsentRequested, *RecordingChanged,
//	*MuteRequested, *TrackStopped, *KeyFrameRequested, *Mismatch, *Closed
type Event interface{ isEvent() }

// Member is a participant as the MLS group knows it (RFC 9420 §4.1): the
// roster a client displays comes from the group, never from the server.
type Member struct {
	// Identity is the participant's identity (its join token's subject)
	// as its MLS credential names it: vouched for by the application's
	// backend when Verified. No two members of a meeting share one.
	Identity string
	// Name is the display name: the backend's, when Verified.
	Name string
	// Verified says the backend vouched for the member's key, identity
	// and name in this room ([WithAuthority]). Without an Authority no
	// member is verified: show that names are unconfirmed.
	Verified bool
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

// LeftGroup: a Commit removed this client from the MLS group (a host
// removed it, or the server and the group disagree). Its keys are erased:
// it can neither send nor read media.
type LeftGroup struct{}

// Resynced: this client had fallen behind the MLS group (it missed a
// Commit, and could decrypt nothing that followed) and rejoined it by
// itself with an external Commit (RFC 9420 §12.4.3.2) that replaced its
// own leaf: it is at Epoch with new keys. The members accept such a Commit
// only from the same vouched identity.
type Resynced struct{ Epoch uint64 }

// Reconnecting: the connection to the signaling server dropped; the client
// is reconnecting by itself (Attempt counts the tries) and keeps its place
// in the meeting for the server's resume window. Media may still flow.
type Reconnecting struct {
	Attempt int
	Err     error
}

// Reconnected: the client resumed its session: nothing it was sent
// meanwhile is lost or repeated, and its requests went through once.
type Reconnected struct{}

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

// ChatMessage: a chat message, encrypted and signed by a member of the MLS
// group (RFC 9420 §6.3). From is the member whose leaf signed it, never a
// name the server chose.
type ChatMessage struct {
	From  Member
	Epoch uint64
	Text  string
}

// ActiveSpeaker: the loudest remote participant changed. It is derived from
// the audio levels (RFC 6464) that senders put in a clear RTP header
// extension of frames that decrypted, so only members are considered; the
// level values themselves are not authenticated.
type ActiveSpeaker struct{ Identity string }

// ConsentRequested: a host asked to record the meeting on the Recorder's
// machine; answer with [Meeting.Consent] for Recording.ID. Each recording
// asks anew; a consent belongs to one recording only. Show who records:
// Recorder is the MLS member of the recorder's identity (its name vouched
// for when Verified), or, before it is one, what the server says.
type ConsentRequested struct {
	Recording Recording
	Recorder  Member
	// Waiting is true when this client waits outside the meeting until it
	// consents (a recording is already running).
	Waiting bool
}

// Recording is a room's recording state, as the server reports it.
type Recording = signaling.Recording

// RecordingChanged: the recording state changed. Recording is the server's
// word; Verified is the group's proof: the recording is active and every
// other member of the MLS group sent a signed consent to exactly this
// recording. A recorder writes only while Verified (examples/recorder);
// Missing lists the members whose consent is not proven. Recording happens
// on the recorder's machine; the server only tracks consent.
type RecordingChanged struct {
	Recording Recording
	Verified  bool
	Missing   []string
}

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
	// MismatchRoster: the server's list of group members differs from the
	// MLS roster for longer than the grace window, whatever epoch it
	// claims (the server announces someone who is not in the group, or
	// hides someone who is).
	MismatchRoster = MismatchKind(core.MismatchRoster)
	// MismatchEpoch: the server's epoch differs from this client's for
	// longer than the grace window: ahead, a Commit was hidden from it;
	// behind, the server lies.
	MismatchEpoch = MismatchKind(core.MismatchEpoch)
	// MismatchKeys: a member's frames carry keys this client does not
	// have for longer than the grace window: one of the two was left
	// behind in an older epoch, or the frames are forged.
	MismatchKeys = MismatchKind(core.MismatchKeys)
	// MismatchConsent: the server calls a recording active for longer
	// than the grace window while not every member sent a signed consent
	// to it (Participants lists who did not).
	MismatchConsent = MismatchKind(core.MismatchConsent)
)

// String returns the kind's name ("roster", "epoch", "keys", "consent").
func (k MismatchKind) String() string { return core.MismatchKind(k).String() }

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
func (*LeftGroup) isEvent()         {}
func (*Resynced) isEvent()          {}
func (*Reconnecting) isEvent()      {}
func (*Reconnected) isEvent()       {}
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
