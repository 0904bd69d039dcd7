package signaling

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/tresor-dev/tresor/auth"
)

// Version is the protocol version carried in every message's "v" field.
// A peer that receives a different version answers with an error of code
// [CodeUnsupportedVersion]. See PROTOCOL.md.
const Version = 1

// DefaultMaxMessageSize is the largest WebSocket message, in bytes, that a
// server accepts unless [Config].MaxMessageSize says otherwise. It leaves
// room for an MLS Welcome carrying the ratchet tree of a group of a few
// hundred members, base64-encoded (RFC 9420 §12.4.3).
const DefaultMaxMessageSize = 256 << 10

// DefaultMaxChatSize is the largest chat message data, in bytes, that a
// server relays unless [Config].MaxChatSize says otherwise: a long text
// message in an MLS PrivateMessage (RFC 9420 §6.3) with room to spare.
const DefaultMaxChatSize = 16 << 10

// DefaultMaxGroupInfoSize is the largest MLS GroupInfo, in bytes, that a
// server keeps for a room unless [Config].MaxGroupInfoSize says otherwise.
// A GroupInfo (RFC 9420 §12.4.3) is a few hundred bytes plus its
// extensions; with the ratchet_tree extension it is about the size of a
// Welcome, so this matches the room DefaultMaxMessageSize leaves for one.
const DefaultMaxGroupInfoSize = 128 << 10

// Message types. Client→server requests are answered with "ok" or "error"
// carrying the request's id; the other server→client types are events.
// PROTOCOL.md documents each one.
const (
	// client → server
	typeJoin           = "join"
	typeLeave          = "leave"
	typeAdmit          = "admit"
	typeDeny           = "deny"
	typeRemove         = "remove"
	typeMute           = "mute"
	typeStopTrack      = "stop_track"
	typePermission     = "permission"
	typeLock           = "lock"
	typePreAllow       = "pre_allow"
	typeEnd            = "end"
	typeConsent        = "consent"
	typeStartRecording = "start_recording"
	typeStopRecording  = "stop_recording"
	typeKeyPackage     = "key_package"
	typeCommit         = "commit" // also server → client
	typeChat           = "chat"   // also server → client
	typeMedia          = "media"  // also server → client
	typeResume         = "resume"
	typeAck            = "ack"
	typeGroupInfo      = "group_info"
	typeGetGroupInfo   = "get_group_info"

	// server → client
	typeOK            = "ok"
	typeError         = "error"
	typeJoined        = "joined"
	typeWaiting       = "waiting"
	typeDenied        = "denied"
	typeRemoved       = "removed"
	typeEnded         = "ended"
	typeState         = "state"
	typeMuteRequest   = "mute_request"
	typeTrackStopped  = "track_stopped"
	typeGroupCreate   = "group_create"
	typeCommitRequest = "commit_request"
	typeWelcome       = "welcome"
	typeResumed       = "resumed"
	typeGoingAway     = "going_away"
)

// Field limits. Identities, names, rooms, tokens and passcodes follow the
// join token's limits (package auth); the rest bound what a message may
// ask of the server.
const (
	maxIdentityLen = auth.MaxIdentityLen
	maxRoomLen     = auth.MaxRoomLen
	maxTokenLen    = auth.MaxTokenLen
	maxPasscodeLen = auth.MaxPasscodeLen
	maxProposals   = 1024
	maxSDPLen      = 64 << 10
	maxCandLen     = 1024
	// maxAckLen bounds a message that may draw on the ack budget
	// (conn.process): an ack is {"v":1,"type":"ack","seq":N}, under 60
	// bytes even with the largest N.
	maxAckLen = 128
)

// message is the one JSON object every WebSocket text message carries. It is
// flat: each type uses the subset of fields PROTOCOL.md lists for it, and
// [message.validate] checks that subset before anything acts on it.
// Binary payloads ([]byte) are base64 (standard alphabet, padded), as
// encoding/json writes them.
type message struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	ID   uint64 `json:"id,omitempty"`

	// join
	Room     string `json:"room,omitempty"`
	Token    string `json:"token,omitempty"`
	Passcode string `json:"passcode,omitempty"`

	// host actions, events about a participant
	Participant string `json:"participant,omitempty"`
	Source      Source `json:"source,omitempty"`
	Allowed     *bool  `json:"allowed,omitempty"`
	Locked      *bool  `json:"locked,omitempty"`
	Granted     *bool  `json:"granted,omitempty"`
	Roles       []Role `json:"roles,omitempty"`

	// delivery service and chat
	Epoch     *uint64    `json:"epoch,omitempty"`
	Proposals []uint64   `json:"proposals,omitempty"`
	Pending   []Proposal `json:"pending,omitempty"`
	Data      []byte     `json:"data,omitempty"`
	Welcome   []byte     `json:"welcome,omitempty"`
	// GroupInfo is the committer's signed GroupInfo of the new epoch in a
	// "commit" (RFC 9420 §12.4.3), opaque; External marks an external
	// Commit (RFC 9420 §12.4.3.2), in a "commit" either way.
	GroupInfo []byte `json:"group_info,omitempty"`
	External  bool   `json:"external,omitempty"`

	// session resume (resume.go): Seq numbers every server → client message
	// after the join answer, and names the last one processed in "ack" and
	// "resume"; Resume is a resume secret (join answer, "resume",
	// "resumed"); ResumeWindow is how long a dropped session is kept, in
	// milliseconds; LastID is the highest request id processed ("resumed").
	Seq          *uint64 `json:"seq,omitempty"`
	Resume       string  `json:"resume,omitempty"`
	ResumeWindow int64   `json:"resume_window,omitempty"`
	LastID       *uint64 `json:"last_id,omitempty"`

	// media
	Signal *MediaSignal `json:"signal,omitempty"`

	// server → client
	Code    Code         `json:"code,omitempty"`
	Message string       `json:"message,omitempty"`
	Reason  string       `json:"reason,omitempty"`
	Self    *Participant `json:"self,omitempty"`
	State   *RoomState   `json:"state,omitempty"`

	// recording: a recording id in "consent", the recording state in
	// "waiting" and in the answer to "start_recording".
	Rec recordingField `json:"recording,omitzero"`
}

// recordingField is the "recording" field of a message. It is a string
// (a recording id, [Recording].ID) in a client's "consent" and an object
// (the [Recording] state) in the server's "waiting" and in its answer to
// "start_recording"; which one a message type may carry is checked by
// [message.validate].
type recordingField struct {
	id    string
	state *Recording
}

func recIDField(id string) recordingField      { return recordingField{id: id} }
func recStateField(r Recording) recordingField { return recordingField{state: &r} }

// IsZero reports an absent field (for omitzero).
func (f recordingField) IsZero() bool { return f.id == "" && f.state == nil }

// MarshalJSON writes the object if there is one, else the id.
func (f recordingField) MarshalJSON() ([]byte, error) {
	if f.state != nil {
		return json.Marshal(f.state)
	}
	return json.Marshal(f.id)
}

// UnmarshalJSON reads a string (an id) or an object (a recording state).
func (f *recordingField) UnmarshalJSON(b []byte) error {
	*f = recordingField{}
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &f.id)
	case len(b) > 0 && b[0] == '{':
		f.state = new(Recording)
		return json.Unmarshal(b, f.state)
	}
	return fmt.Errorf("recording: neither a recording id nor a recording object")
}

// recordingIDLen is the length of a recording id: 128 random bits in hex.
const recordingIDLen = 32

// validRecordingID reports whether s has the form of a recording id (32
// lowercase hex digits). Only the server makes them; a client merely
// repeats one.
func validRecordingID(s string) bool {
	if len(s) != recordingIDLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Role is what a participant may do in a meeting. It is set by the app's
// backend in the join token ([auth.Claims]); it is the auth package's type,
// so that a backend minting tokens needs only auth.
//
//	action                                host  cohost  participant
//	admit, deny a waiting joiner           ✓      ✓
//	remove, ask to mute, stop a track,     ✓      ✓ (not on a host)
//	  allow/forbid a source
//	lock / unlock the meeting              ✓      ✓
//	pre-allow roles past the waiting room  ✓      ✓
//	end the meeting                        ✓
//	start / stop recording                 ✓      ✓      (stop: the recorder too)
//	consent / withdraw, chat, MLS, media   ✓      ✓      ✓
type Role = auth.Role

// The roles. See [Role] for what each may do.
const (
	RoleHost        = auth.RoleHost
	RoleCohost      = auth.RoleCohost
	RoleParticipant = auth.RoleParticipant
)

// moderator reports whether r may run host actions.
func moderator(r Role) bool { return r == RoleHost || r == RoleCohost }

// Source is a kind of media a participant publishes; publish permissions are
// per source.
type Source string

// The media sources.
const (
	SourceCamera     Source = "camera"
	SourceMicrophone Source = "microphone"
	SourceScreen     Source = "screen"
)

func (s Source) valid() bool {
	return s == SourceCamera || s == SourceMicrophone || s == SourceScreen
}

// Permissions says which sources a participant may publish. The server
// enforces them through the SFU's publish permissions ([MediaSession]).
type Permissions struct {
	Camera     bool `json:"camera"`
	Microphone bool `json:"microphone"`
	Screen     bool `json:"screen"`
}

func (p *Permissions) set(s Source, allowed bool) {
	switch s {
	case SourceCamera:
		p.Camera = allowed
	case SourceMicrophone:
		p.Microphone = allowed
	case SourceScreen:
		p.Screen = allowed
	}
}

// Allowed reports whether source s may be published.
func (p Permissions) Allowed(s Source) bool {
	switch s {
	case SourceCamera:
		return p.Camera
	case SourceMicrophone:
		return p.Microphone
	case SourceScreen:
		return p.Screen
	}
	return false
}

// Participant is one entry of the server's roster. It is what the server
// knows, not what the MLS group says: clients display the MLS roster (see the
// package documentation).
type Participant struct {
	Identity    string      `json:"identity"`
	Name        string      `json:"name,omitempty"`
	Role        Role        `json:"role"`
	Permissions Permissions `json:"permissions"`
	// Consented is true while the participant consents to the current
	// recording ([Recording].ID). Consent belongs to one recording: a new
	// recording starts with nobody consented.
	Consented bool `json:"consented,omitempty"`
	// Member is true once the delivery service counts the participant as an
	// MLS group member (after the Commit that added it was accepted).
	Member bool `json:"member,omitempty"`
	// Reconnecting is true while the participant's connection is lost and
	// the server keeps its place for a resume ([Config].ResumeWindow).
	Reconnecting bool `json:"reconnecting,omitempty"`
}

// Recording is a room's recording state, shown to everyone (also to people in
// the waiting room). Recording happens on the recorder's own machine; the
// server only tracks consent. Each request to record is a new recording
// with a new ID, and consent is given to one recording ([Client.Consent]
// names it), never carried over to the next.
type Recording struct {
	// ID identifies this recording: 128 random bits in hex, fresh for each
	// start_recording. Empty when no recording is requested.
	ID string `json:"id,omitempty"`
	// Requested is true once a host asked to record; recording becomes
	// Active when every present participant has consented to it.
	Requested bool `json:"requested,omitempty"`
	// Active is true while the recorder may record.
	Active bool `json:"active,omitempty"`
	// Recorder is the identity of the participant who records.
	Recorder string `json:"recorder,omitempty"`
	// AskedAt is when the recording was requested, in unix milliseconds
	// (the server's clock).
	AskedAt int64 `json:"asked_at,omitempty"`
}

// RoomState is the state every admitted participant sees.
type RoomState struct {
	Participants []Participant `json:"participants"`
	// Waiting lists the waiting room; only hosts and cohosts receive it.
	Waiting []Participant `json:"waiting,omitempty"`
	// PreAllowed lists the roles that skip the waiting room (all of them
	// when the room has none); only hosts and cohosts receive it.
	PreAllowed []Role    `json:"pre_allowed,omitempty"`
	Locked     bool      `json:"locked,omitempty"`
	Recording  Recording `json:"recording"`
	// Epoch is the MLS epoch the delivery service has reached.
	Epoch uint64 `json:"epoch"`
}

// ProposalKind says whether a pending proposal adds or removes a member.
type ProposalKind string

// The proposal kinds the delivery service asks committers to cover.
const (
	ProposalAdd    ProposalKind = "add"
	ProposalRemove ProposalKind = "remove"
)

// Proposal is a pending group change the committer must cover in a Commit
// (RFC 9420 §12.1.1 Add, §12.1.3 Remove). The server does not build MLS
// proposals: the committer builds them by value from this description.
type Proposal struct {
	ID          uint64       `json:"id"`
	Kind        ProposalKind `json:"kind"`
	Participant string       `json:"participant"`
	// KeyPackage is the joiner's MLS KeyPackage (RFC 9420 §10), opaque to
	// the server; set for Add.
	KeyPackage []byte `json:"key_package,omitempty"`
}

// MediaSignal is an SDP offer or answer, a trickled ICE candidate, a track
// declaration or an ICE-restart request between a client and the SFU. Its JSON fields match the browser's
// RTCSessionDescriptionInit and RTCIceCandidateInit, and pion's
// webrtc.SessionDescription and webrtc.ICECandidateInit.
type MediaSignal struct {
	// Kind is what the signal carries.
	Kind SignalKind `json:"kind"`
	// Direction names the peer connection, for SFUs that keep two per
	// participant: publish (the client sends media and makes the offer)
	// or subscribe (the client receives media; the SFU makes the offer).
	// Empty when there is one connection. On the wire it is "target".
	Direction Direction `json:"target,omitempty"`
	// SDP is set for offers and answers.
	SDP string `json:"sdp,omitempty"`
	// Candidate fields are set for "candidate"; an empty Candidate means
	// end of candidates.
	Candidate        string  `json:"candidate,omitempty"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
	// TrackID and Source are set for "track": the client declares that its
	// track TrackID (the MediaStreamTrack id, as in the SDP msid) carries
	// Source, so that publish permissions and StopTrack apply to it.
	TrackID string `json:"trackId,omitempty"`
	Source  Source `json:"source,omitempty"`
}

// SignalKind is what a [MediaSignal] carries.
type SignalKind string

// The media signal kinds.
const (
	SignalOffer     SignalKind = "offer"
	SignalAnswer    SignalKind = "answer"
	SignalCandidate SignalKind = "candidate"
	SignalTrack     SignalKind = "track"
	// SignalRestart (client → SFU, Direction subscribe, nothing else) asks
	// the SFU to restart ICE on the subscribe connection, where the SFU
	// offers: it answers with an ICE-restart offer (RFC 8445 §9). The
	// client restarts the publish connection itself, with its own offer.
	SignalRestart SignalKind = "restart"
)

// Direction names one of a participant's two peer connections with the SFU
// (the same term as sfu.Direction): the one it publishes on, or the one it
// subscribes on.
type Direction string

// The directions.
const (
	DirectionPublish   Direction = "publish"
	DirectionSubscribe Direction = "subscribe"
)

func (s *MediaSignal) validate() error {
	if s.Direction != "" && s.Direction != DirectionPublish && s.Direction != DirectionSubscribe {
		return fmt.Errorf("unknown media target %q", s.Direction)
	}
	switch s.Kind {
	case SignalOffer, SignalAnswer:
		if s.SDP == "" || len(s.SDP) > maxSDPLen {
			return fmt.Errorf("media %s: sdp missing or too long", s.Kind)
		}
	case SignalCandidate:
		if len(s.Candidate) > maxCandLen {
			return fmt.Errorf("media candidate too long")
		}
	case SignalTrack:
		if s.TrackID == "" || len(s.TrackID) > maxIdentityLen*2 || !s.Source.valid() {
			return fmt.Errorf("media track: missing or invalid trackId or source")
		}
	case SignalRestart:
		if s.Direction != DirectionSubscribe {
			return fmt.Errorf("media restart: target must be %q (the client restarts the publish connection with its own offer)", DirectionSubscribe)
		}
		if s.SDP != "" || s.Candidate != "" || s.TrackID != "" || s.Source != "" {
			return fmt.Errorf("media restart: carries no sdp, candidate or track")
		}
	default:
		return fmt.Errorf("unknown media kind %q", s.Kind)
	}
	return nil
}

// decodeMessage parses one WebSocket text message. It checks only the
// envelope (JSON, version, type present); [message.validate] checks fields.
func decodeMessage(data []byte) (*message, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("message is not UTF-8")
	}
	m := new(message)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if m.V != Version {
		return m, errVersion
	}
	if m.Type == "" {
		return m, fmt.Errorf("missing type")
	}
	return m, nil
}

var errVersion = fmt.Errorf("unsupported protocol version")

func encodeMessage(m *message) ([]byte, error) {
	m.V = Version
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("signaling: encoding %s: %w", m.Type, err)
	}
	return b, nil
}

func ptr[T any](v T) *T { return &v }

func validIdentity(s string) bool { return auth.ValidIdentity(s) }

// validate checks that a client→server message carries the fields its type
// needs, within limits. Unknown types are an error.
func (m *message) validate() error {
	needParticipant := func() error {
		if !validIdentity(m.Participant) {
			return fmt.Errorf("%s: missing or invalid participant", m.Type)
		}
		return nil
	}
	needSource := func() error {
		if !m.Source.valid() {
			return fmt.Errorf("%s: missing or invalid source", m.Type)
		}
		return nil
	}
	switch m.Type {
	case typeJoin:
		if m.Room == "" || len(m.Room) > maxRoomLen || !utf8.ValidString(m.Room) {
			return fmt.Errorf("join: missing or invalid room")
		}
		if m.Token == "" || len(m.Token) > maxTokenLen {
			return fmt.Errorf("join: missing or oversized token")
		}
		if len(m.Passcode) > maxPasscodeLen {
			return fmt.Errorf("join: passcode too long")
		}
	case typeResume:
		if m.Room == "" || len(m.Room) > maxRoomLen || !utf8.ValidString(m.Room) {
			return fmt.Errorf("resume: missing or invalid room")
		}
		if _, err := parseResumeSecret(m.Resume); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if m.Seq == nil {
			return fmt.Errorf("resume: missing seq")
		}
	case typeAck:
		if m.Seq == nil {
			return fmt.Errorf("ack: missing seq")
		}
	case typeGroupInfo:
		if m.Epoch == nil {
			return fmt.Errorf("group_info: missing epoch")
		}
		if len(m.Data) == 0 {
			return fmt.Errorf("group_info: missing data")
		}
	case typeLeave, typeEnd, typeStartRecording, typeStopRecording, typeGetGroupInfo:
	case typeAdmit, typeDeny, typeRemove:
		return needParticipant()
	case typeMute, typeStopTrack:
		if err := needParticipant(); err != nil {
			return err
		}
		return needSource()
	case typePermission:
		if err := needParticipant(); err != nil {
			return err
		}
		if err := needSource(); err != nil {
			return err
		}
		if m.Allowed == nil {
			return fmt.Errorf("permission: missing allowed")
		}
	case typeLock:
		if m.Locked == nil {
			return fmt.Errorf("lock: missing locked")
		}
	case typePreAllow:
		if len(m.Roles) > 3 {
			return fmt.Errorf("pre_allow: too many roles")
		}
		for _, r := range m.Roles {
			if !r.Valid() {
				return fmt.Errorf("pre_allow: unknown role %q", r)
			}
		}
	case typeConsent:
		if m.Granted == nil {
			return fmt.Errorf("consent: missing granted")
		}
		if m.Rec.state != nil {
			return fmt.Errorf("consent: recording must be a recording id")
		}
		// Consent names the recording it is for; a withdrawal may omit it.
		if (*m.Granted || m.Rec.id != "") && !validRecordingID(m.Rec.id) {
			return fmt.Errorf("consent: missing or invalid recording id")
		}
	case typeKeyPackage:
		if len(m.Data) == 0 {
			return fmt.Errorf("key_package: missing data")
		}
	case typeCommit:
		if m.Epoch == nil {
			return fmt.Errorf("commit: missing epoch")
		}
		if len(m.Data) == 0 {
			return fmt.Errorf("commit: missing data")
		}
		if len(m.Proposals) > maxProposals {
			return fmt.Errorf("commit: too many proposals")
		}
		// An external Commit covers no proposals by reference and adds
		// nobody (RFC 9420 §12.4.3.2): it only puts its sender in.
		if m.External && (len(m.Proposals) > 0 || len(m.Welcome) > 0) {
			return fmt.Errorf("commit: an external commit covers no pending proposals and has no welcome")
		}
	case typeChat:
		if m.Epoch == nil {
			return fmt.Errorf("chat: missing epoch")
		}
		if len(m.Data) == 0 {
			return fmt.Errorf("chat: missing data")
		}
	case typeMedia:
		if m.Signal == nil {
			return fmt.Errorf("media: missing signal")
		}
		return m.Signal.validate()
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	return nil
}
