package keys

import (
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/framing"
	"github.com/tresor-dev/tresor/keys/internal/group"
	"github.com/tresor-dev/tresor/keys/internal/secrettree"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/tree"
)

// Errors that callers act on. Every error this package returns wraps exactly
// one of them (test with errors.Is). A message or Welcome that fails leaves
// the Group exactly as it was.
var (
	// ErrMalformed: the bytes are not a valid RFC 9420 encoding of what
	// was expected. Drop the message.
	ErrMalformed = errors.New("keys: malformed message")
	// ErrAuthentication: a signature, MAC, AEAD tag or confirmation tag
	// did not verify, or the message was already read (a replay). Drop
	// the message; it may be forged. Deliberately says no more.
	ErrAuthentication = errors.New("keys: authentication failed")
	// ErrWrongEpoch: the message belongs to another epoch of the group.
	// Drop it (late) or wait for the Commit that leads to it (early).
	ErrWrongEpoch = errors.New("keys: message for another epoch")
	// ErrWrongGroup: the message belongs to another group, or the
	// Welcome is addressed to another KeyPackage.
	ErrWrongGroup = errors.New("keys: message for another group")
	// ErrNotMember: the sender is not a member, or this member was
	// removed from the group and can no longer send or read.
	ErrNotMember = errors.New("keys: not a member")
	// ErrInvalid: an authentic message or KeyPackage that breaks a rule
	// of RFC 9420 (proposal validity §12.2, tree validity §7.9, lifetimes
	// §7.2, …). Drop it and distrust its sender.
	ErrInvalid = errors.New("keys: invalid message")
	// ErrUnsupported: a valid MLS feature Tresor does not implement
	// (other cipher suites, ReInit, external senders, PSKs it does not
	// hold).
	ErrUnsupported = errors.New("keys: unsupported feature")
	// ErrPendingCommit: CreateCommit while a Commit is pending, or
	// MergePendingCommit with none pending.
	ErrPendingCommit = errors.New("keys: pending commit")
	// ErrPendingProposals: Seal while proposals received in this epoch
	// are not committed yet. RFC 9420 §12.4 requires a Commit first:
	// create one (it covers them), and seal once it is merged.
	ErrPendingProposals = errors.New("keys: proposals to commit first")
)

// classify maps an error of the internal packages to the exported sentinel
// callers act on, keeping the detail (which never holds secrets) as text.
func classify(step string, err error) error {
	var sentinel error
	switch {
	case errors.Is(err, framing.ErrAuthentication), errors.Is(err, group.ErrAuthentication),
		errors.Is(err, secrettree.ErrGeneration):
		sentinel = ErrAuthentication
	case errors.Is(err, framing.ErrWrongEpoch):
		sentinel = ErrWrongEpoch
	case errors.Is(err, framing.ErrWrongGroup), errors.Is(err, group.ErrNotForUs):
		sentinel = ErrWrongGroup
	case errors.Is(err, group.ErrNotMember):
		sentinel = ErrNotMember
	case errors.Is(err, group.ErrPendingCommit):
		sentinel = ErrPendingCommit
	case errors.Is(err, group.ErrPendingProposals):
		sentinel = ErrPendingProposals
	case errors.Is(err, group.ErrUnsupported), errors.Is(err, suite.ErrUnsupported):
		sentinel = ErrUnsupported
	case errors.Is(err, codec.ErrMalformed):
		sentinel = ErrMalformed
	case errors.Is(err, group.ErrInvalid), errors.Is(err, framing.ErrInvalid), errors.Is(err, tree.ErrInvalid):
		sentinel = ErrInvalid
	default:
		sentinel = ErrInvalid
	}
	return fmt.Errorf("%w: %s: %v", sentinel, step, err)
}
