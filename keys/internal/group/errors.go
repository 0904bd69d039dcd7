package group

import "errors"

// Errors callers act on. Every error of this package wraps one of them, an
// error of package framing, or codec.ErrMalformed.
var (
	// ErrAuthentication means a signature, MAC, AEAD tag or confirmation
	// tag did not verify. It is deliberately vague.
	ErrAuthentication = errors.New("mls group: authentication failed")
	// ErrInvalid means an authenticated message or Welcome that breaks a
	// rule of RFC 9420 (proposal validity §12.2, tree validity §7.9, …).
	ErrInvalid = errors.New("mls group: invalid")
	// ErrNotForUs means a Welcome holds no secrets for our KeyPackage.
	ErrNotForUs = errors.New("mls group: Welcome is not for this KeyPackage")
	// ErrUnsupported means a valid feature this implementation does not
	// support (external PSKs it does not hold, ReInit, external senders).
	ErrUnsupported = errors.New("mls group: unsupported")
	// ErrNotMember means a message from a sender that is not a member, or
	// that our own member was removed.
	ErrNotMember = errors.New("mls group: not a member")
	// ErrPendingCommit means an operation that needs no pending Commit
	// while one is pending, or the reverse.
	ErrPendingCommit = errors.New("mls group: pending commit")
	// ErrPendingProposals means application data while proposals
	// received in this epoch are not yet committed (RFC 9420 §12.4: such a
	// member "MUST send a Commit message before sending application
	// data").
	ErrPendingProposals = errors.New("mls group: proposals to commit first")
)
