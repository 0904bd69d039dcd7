package signaling

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tresor-dev/tresor/auth"
)

// Code is a machine-readable error code carried in "error" messages and in
// [*Error]. PROTOCOL.md lists when each is sent.
type Code string

// Error codes.
const (
	CodeBadRequest         Code = "bad_request"         // malformed JSON, bad fields, wrong state
	CodeUnsupportedVersion Code = "unsupported_version" // "v" is not 1
	CodeUnknownType        Code = "unknown_type"        // unknown message type
	CodeTooLarge           Code = "too_large"           // message over the size limit (then closed), or chat over its size limit
	CodeRateLimited        Code = "rate_limited"        // too many messages, passcode failures or chat
	CodeInvalidToken       Code = "invalid_token"       // forged or malformed token
	CodeTokenExpired       Code = "token_expired"       // token past its expiry
	CodeWrongRoom          Code = "wrong_room"          // token is for another room
	CodeNoRoom             Code = "no_room"             // the room does not exist
	CodePasscodeRequired   Code = "passcode_required"   // the room has a passcode and none was given
	CodeWrongPasscode      Code = "wrong_passcode"      // the passcode does not match
	CodeLocked             Code = "locked"              // the meeting is locked
	CodeFull               Code = "full"                // the room is at its participant limit
	CodeBanned             Code = "banned"              // removed from this meeting earlier
	CodeEnded              Code = "ended"               // the meeting has ended
	CodeForbidden          Code = "forbidden"           // the role may not do this
	CodeNotAdmitted        Code = "not_admitted"        // still in the waiting room
	CodeNotFound           Code = "not_found"           // no such participant
	CodeNotMember          Code = "not_member"          // not an MLS group member
	CodeConflict           Code = "conflict"            // another Commit won this epoch (process it, retry), or the recording consented to is not the current one
	CodeReplaced           Code = "replaced"            // the same identity joined again elsewhere
	CodeMediaUnavailable   Code = "media_unavailable"   // the server runs without media
	CodeInternal           Code = "internal"            // server fault
	CodeResumeFailed       Code = "resume_failed"       // a resume was refused (unknown, used or expired secret, wrong room, outbox overflowed): join afresh

	// CodeKeyPackageExpired is an error event, not an answer: the client's
	// pending Add was dropped after [Config].KeyPackageTimeout without a
	// Commit covering it. Upload a fresh KeyPackage to try again.
	CodeKeyPackageExpired Code = "key_package_expired"
)

// Error is an error answer from the server, or an error event.
type Error struct {
	Code    Code
	Message string

	// blameless marks a refusal that is not the sender's fault (a busy
	// room): the server answers it without counting a strike.
	blameless bool
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "signaling: " + string(e.Code)
	}
	return fmt.Sprintf("signaling: %s: %s", e.Code, e.Message)
}

// Is matches another *Error with the same code, so callers can write
// errors.Is(err, signaling.ErrConflict).
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
	}
	return false
}

// Errors callers act on; match them with errors.Is.
var (
	// ErrConflict: another Commit was accepted for this epoch. Process it
	// (it arrives as a [CommitReceived] event) and build a new Commit.
	// From [Client.Consent]: the recording is no longer the current one
	// (a new one asks again).
	ErrConflict = &Error{Code: CodeConflict}
	// ErrForbidden: the caller's role may not perform the action.
	ErrForbidden = &Error{Code: CodeForbidden}
	// ErrKeyPackageExpired: the client's KeyPackage was pending too long
	// (a [ServerError] event); upload a fresh one.
	ErrKeyPackageExpired = &Error{Code: CodeKeyPackageExpired}
	// ErrClosed: the connection is closed.
	ErrClosed = errors.New("signaling: connection closed")
)

// tokenError maps a join token refused by [auth.VerifyToken] to its error
// code. The message says why, never what the token was.
func tokenError(err error) *Error {
	if errors.Is(err, auth.ErrTokenExpired) {
		return errorf(CodeTokenExpired, "token expired")
	}
	msg := "token rejected"
	if why, ok := strings.CutPrefix(err.Error(), auth.ErrInvalidToken.Error()+": "); ok {
		msg = why
	}
	return errorf(CodeInvalidToken, "%s", msg)
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
