package core

import "fmt"

// An Output is something the driver's host must do (send a message, install
// or erase keys) or report (an event). The set is closed: the types below.
type Output interface{ output() }

// Messages to send to the signaling server, in order.
type (
	// SendKeyPackage: upload the KeyPackage (request "key_package").
	SendKeyPackage struct{ Data []byte }
	// SendCommit: offer a Commit (request "commit"); report the answer
	// with [Driver.CommitResult]. Welcome is nil unless it adds members.
	SendCommit struct {
		Epoch     uint64
		Proposals []uint64
		Data      []byte
		Welcome   []byte
		// External marks this client's external Commit (RFC 9420
		// §12.4.3.2): its resync after it fell behind the group.
		External bool
	}
	// SendGroupInfo: publish the signed GroupInfo of Epoch (request
	// "group_info"), from which a member that fell behind resyncs. The
	// client whose Commit started an epoch publishes it.
	SendGroupInfo struct {
		Epoch uint64
		Data  []byte
	}
	// SendGetGroupInfo: ask for the latest GroupInfo (request
	// "get_group_info"); report the answer with [Driver.GroupInfoResult].
	SendGetGroupInfo struct{}
	// SendChat: relay an MLS application message (request "chat"): a chat
	// message or a signed recording consent, sealed in Epoch.
	SendChat struct {
		Epoch uint64
		Data  []byte
	}
	// SendConsent: tell the server this participant's answer to a
	// recording (request "consent").
	SendConsent struct {
		Recording string
		Granted   bool
	}
)

// SFrameKey is one member's SFrame key of an epoch (RFC 9605 §5.2), filed
// under the member's identity so that a track labelled with that identity
// decrypts only under that member's keys. BaseKey is secret.
type SFrameKey struct {
	Identity string
	Leaf     uint32
	KID      uint64
	BaseKey  []byte
}

// Key outputs. They carry secrets: the host applies them to its key ring and
// never logs them.
type (
	// InstallKeys: the group entered Epoch. Send with Own from now on,
	// accept every member's key, and keep the previous epochs' receiving
	// keys until an ExpireKeys. The host must erase the keys after use.
	InstallKeys struct {
		Epoch   uint64
		Own     SFrameKey
		Members []SFrameKey
	}
	// ExpireKeys: erase the receiving keys of every epoch before Before
	// (the grace window ended).
	ExpireKeys struct{ Before uint64 }
	// EraseKeys: erase every key, sending and receiving: this client left
	// the group or closed.
	EraseKeys struct{}
)

// Erase zeroes the base keys.
func (k *InstallKeys) Erase() {
	clear(k.Own.BaseKey)
	for _, m := range k.Members {
		clear(m.BaseKey)
	}
}

// String describes the keys without printing them.
func (k *InstallKeys) String() string {
	return fmt.Sprintf("core.InstallKeys(epoch %d, %d members, REDACTED)", k.Epoch, len(k.Members))
}

// Format prints [InstallKeys.String] for every verb.
func (k *InstallKeys) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// Member is a participant as the MLS group knows it: every name here comes
// from the member's credential, vouched for by the backend when Verified.
type Member struct {
	Leaf         uint32
	Identity     string
	Name         string
	Verified     bool
	SignatureKey []byte
}

// Events.
type (
	// EpochChanged: the group moved to a new epoch. Members is the MLS
	// roster; compare SecurityCode out loud.
	EpochChanged struct {
		Epoch        uint64
		SecurityCode string
		Members      []Member
	}
	// ParticipantJoined: a Commit added a member.
	ParticipantJoined struct{ Member Member }
	// ParticipantLeft: a Commit removed a member.
	ParticipantLeft struct{ Member Member }
	// GroupLeft: a Commit removed this client from the group; its keys
	// are erased.
	GroupLeft struct{}
	// ChatMessage: a chat message, signed by the MLS member From.
	ChatMessage struct {
		From  Member
		Epoch uint64
		Text  string
	}
	// ConsentRequested: the server asks this participant to consent to a
	// recording. Recorder is who records, as the server says, with the
	// name the MLS group knows it by when it is a member.
	ConsentRequested struct {
		Recording Recording
		Recorder  Member
		// Waiting: this client waits outside the meeting until it
		// consents (the recording is already running).
		Waiting bool
	}
	// RecordingChanged: the recording state changed, as the server says
	// (Recording) and as the group can prove (Verified: the recording is
	// active and every other member of the group sent a signed consent to
	// exactly this recording; Missing lists those who have not).
	RecordingChanged struct {
		Recording Recording
		Verified  bool
		Missing   []string
	}
	// Mismatch: the server and the group disagree for longer than the
	// grace window.
	Mismatch struct {
		Kind         MismatchKind
		Participants []string
		ServerEpoch  uint64
		Epoch        uint64
	}
	// Resynced: this client had fallen behind the group (it missed a
	// Commit) and rejoined it with an external Commit that replaced its
	// own leaf; it is at Epoch, with new keys.
	Resynced struct{ Epoch uint64 }
	// Warning: a message was refused or an operation failed; the driver
	// goes on. Message never holds a secret.
	Warning struct{ Message string }
)

// MismatchKind says what disagreed.
type MismatchKind int

// Kinds of [Mismatch].
const (
	// MismatchRoster: the server's list of group members differs from the
	// MLS roster.
	MismatchRoster MismatchKind = iota + 1
	// MismatchEpoch: the server's epoch differs from the group's (ahead: a
	// Commit was hidden from this client; behind: the server lies).
	MismatchEpoch
	// MismatchKeys: a member's frames carry keys this client does not
	// have (reported by the media host, not the driver).
	MismatchKeys
	// MismatchConsent: the server calls a recording active that not every
	// member consented to with a signed message.
	MismatchConsent
)

// String returns the kind's name ("roster", "epoch", "keys", "consent").
func (k MismatchKind) String() string {
	switch k {
	case MismatchRoster:
		return "roster"
	case MismatchEpoch:
		return "epoch"
	case MismatchKeys:
		return "keys"
	case MismatchConsent:
		return "consent"
	}
	return "unknown"
}

func (SendKeyPackage) output()    {}
func (SendCommit) output()        {}
func (SendChat) output()          {}
func (SendConsent) output()       {}
func (SendGroupInfo) output()     {}
func (SendGetGroupInfo) output()  {}
func (Resynced) output()          {}
func (*InstallKeys) output()      {}
func (ExpireKeys) output()        {}
func (EraseKeys) output()         {}
func (EpochChanged) output()      {}
func (ParticipantJoined) output() {}
func (ParticipantLeft) output()   {}
func (GroupLeft) output()         {}
func (ChatMessage) output()       {}
func (ConsentRequested) output()  {}
func (RecordingChanged) output()  {}
func (Mismatch) output()          {}
func (Warning) output()           {}
