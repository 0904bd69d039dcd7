package auth

import "unicode/utf8"

// Role is what a participant may do in a meeting. The backend sets it in
// the join token ([Claims]); the signaling server enforces it
// (signaling.Role is this type, and its documentation lists what each role
// may do).
type Role string

// The roles.
const (
	// RoleHost runs the meeting: every moderation action, ending the
	// meeting, no waiting room and no passcode.
	RoleHost Role = "host"
	// RoleCohost moderates like a host, except that it may not act on a
	// host or end the meeting.
	RoleCohost Role = "cohost"
	// RoleParticipant takes part; it may not moderate.
	RoleParticipant Role = "participant"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	return r == RoleHost || r == RoleCohost || r == RoleParticipant
}

// Limits on the fields of a join token. Identities and names come from the
// backend, but are still bounded so that a roster cannot grow without
// limit; the signaling server applies the same limits to the fields of its
// messages.
const (
	MaxRoomLen     = 128  // bytes of a room name
	MaxIdentityLen = 128  // bytes of an identity
	MaxNameLen     = 128  // bytes of a display name
	MaxTokenLen    = 2048 // bytes of an encoded join token
	MaxPasscodeLen = 128  // bytes of a passcode
)

// ValidIdentity reports whether s may be an identity: 1 to [MaxIdentityLen]
// bytes of UTF-8 without control characters (so that an identity has one
// text form and cannot forge lines in logs).
func ValidIdentity(s string) bool {
	if s == "" || len(s) > MaxIdentityLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
