package core

// ServerMessage is a message from the signaling server, as far as the driver
// needs it: the fields of signaling/PROTOCOL.md with the same JSON names, so
// that the browser hands the driver the very JSON it received. The Go client
// fills it from package signaling's events.
//
// Every field is a claim of the server's.
type ServerMessage struct {
	// Type is the protocol message type: "joined", "state", "waiting",
	// "group_create", "commit_request", "commit", "welcome", "chat" or
	// "error". Other types are ignored.
	Type string `json:"type"`
	// Epoch is the epoch the message names (commit_request, commit, chat).
	Epoch *uint64 `json:"epoch,omitempty"`
	// Pending are the proposals of a commit_request.
	Pending []Proposal `json:"pending,omitempty"`
	// Data is the MLS message of a commit, welcome or chat.
	Data []byte `json:"data,omitempty"`
	// Participant names the sender of a commit or chat, per the server.
	Participant string `json:"participant,omitempty"`
	// Reason says why a participant waits: "host" or "consent".
	Reason string `json:"reason,omitempty"`
	// Self is this participant's roster entry (joined).
	Self *Participant `json:"self,omitempty"`
	// State is the room state (joined, state).
	State *RoomState `json:"state,omitempty"`
	// Recording is the recording state sent to a waiting participant.
	Recording *Recording `json:"recording,omitempty"`
	// Code is the error code of an unsolicited "error".
	Code string `json:"code,omitempty"`

	retried bool // held once already while a Commit was in flight
}

// Proposal is a group change the server asks the committer to make.
type Proposal struct {
	ID          uint64 `json:"id"`
	Kind        string `json:"kind"` // "add" or "remove"
	Participant string `json:"participant"`
	KeyPackage  []byte `json:"key_package,omitempty"`
}

// Participant is one entry of the server's roster.
type Participant struct {
	Identity  string `json:"identity"`
	Name      string `json:"name,omitempty"`
	Consented bool   `json:"consented,omitempty"`
	Member    bool   `json:"member,omitempty"`
}

// RoomState is the server's view of the room.
type RoomState struct {
	Participants []Participant `json:"participants"`
	Recording    Recording     `json:"recording"`
	Epoch        uint64        `json:"epoch"`
}

// Recording is the server's recording state: one recording, with an ID the
// server chose, the recorder's identity and the time it was asked (Unix
// milliseconds).
type Recording struct {
	ID        string `json:"id,omitempty"`
	Requested bool   `json:"requested,omitempty"`
	Active    bool   `json:"active,omitempty"`
	Recorder  string `json:"recorder,omitempty"`
	AskedAt   int64  `json:"asked_at,omitempty"`
}

// Message types the driver handles.
const (
	TypeJoined        = "joined"
	TypeState         = "state"
	TypeWaiting       = "waiting"
	TypeGroupCreate   = "group_create"
	TypeCommitRequest = "commit_request"
	TypeCommit        = "commit"
	TypeWelcome       = "welcome"
	TypeChat          = "chat"
	TypeError         = "error"
)

// CodeKeyPackageExpired is the error the delivery service sends when no
// Commit added this client's KeyPackage in time (signaling/PROTOCOL.md).
const CodeKeyPackageExpired = "key_package_expired"

// Proposal kinds.
const (
	ProposalAdd    = "add"
	ProposalRemove = "remove"
)
