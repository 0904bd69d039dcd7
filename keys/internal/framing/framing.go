// Package framing protects and unprotects MLS handshake and application
// messages (RFC 9420 §6): PublicMessage, which is signed and, for members,
// MACed with the membership key, and PrivateMessage, which is signed and then
// encrypted under keys from the secret tree.
//
//	                   FramedContent (group_id, epoch, sender, content)
//	                                │
//	         SignWithLabel(sig_priv, "FramedContentTBS", FramedContentTBS)
//	                                │
//	       ┌────────────────────────┴─────────────────────────┐
//	PublicMessage (§6.2)                              PrivateMessage (§6.3)
//	content ‖ auth ‖ membership_tag               sender data: AEAD(sender_data_key,
//	membership_tag = MAC(membership_key,             leaf ‖ generation ‖ reuse_guard)
//	                     AuthenticatedContentTBM)  content: AEAD(ratchet key[gen],
//	                                                 nonce[gen] ⊕ reuse_guard,
//	                                                 content ‖ auth ‖ padding)
//
// # Untrusted, then validated
//
// Unprotecting never changes anything before the message has authenticated.
// For a PrivateMessage the secret-tree key is only looked up
// (secrettree.Tree.DecryptionKey); the generation is consumed when the caller
// calls [Unprotected.Consume], which the group does only after it has also
// validated the content (for a Commit: after the confirmation tag and the new
// epoch check out). A message that fails any check leaves no trace.
//
// What this package checks: the group_id and epoch against the current epoch,
// the sender type against the wire format (§6), the membership tag (§6.2), the
// AEAD tags and zero padding (§6.3), and the signature (§6.1) under the key the
// caller's [KeyLookup] returns for the sender. What it leaves to the group:
// whether the sender is a member of the tree (the lookup fails if not), the
// confirmation tag of a Commit (§6.1, it needs the new epoch's key schedule)
// and every rule about the content itself.
package framing

import (
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/secrettree"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Errors callers act on. Every error this package returns wraps one of them
// or codec.ErrMalformed.
var (
	// ErrAuthentication means a signature, membership tag or AEAD tag did
	// not verify, or the sender data named a generation that cannot be
	// read. It is deliberately vague.
	ErrAuthentication = errors.New("mls framing: message authentication failed")
	// ErrWrongGroup means the message is for another group.
	ErrWrongGroup = errors.New("mls framing: message for another group")
	// ErrWrongEpoch means the message is for another epoch of the group.
	ErrWrongEpoch = errors.New("mls framing: message for another epoch")
	// ErrInvalid means a well-formed message that RFC 9420 §6 forbids, such
	// as application data in a PublicMessage or a non-member sender in a
	// PrivateMessage.
	ErrInvalid = errors.New("mls framing: message not allowed")
)

// Epoch is what framing needs from the current epoch of a group. The group
// owns every field; framing only reads them (and asks the secret tree for
// keys).
type Epoch struct {
	Suite *suite.Suite
	// GroupContext is the current GroupContext; GroupContextBytes its
	// encoding, which the signature of a member's message covers (§6.1).
	GroupContext      *wire.GroupContext
	GroupContextBytes []byte
	// SenderData keys the sender data of PrivateMessages (§6.3.2).
	SenderData schedule.SenderDataSecret
	// Membership keys the membership tags of PublicMessages (§6.2).
	Membership schedule.MembershipKey
	// Tree is the epoch's secret tree (§9). It is needed only for
	// PrivateMessage.
	Tree *secrettree.Tree
}

// KeyLookup returns the signature key of the sender of an authenticated
// content that has not been authenticated yet: for a member sender, the
// signature key of its leaf in the current tree; for a new_member_commit, the
// key of the leaf in the Commit's UpdatePath (§12.4.3.2). It must fail if the
// sender is unknown. c is untrusted.
type KeyLookup func(c *wire.FramedContent) (suite.SignaturePublicKey, error)

// Unprotected is a message whose signature (and membership tag or AEAD tags)
// verified. The group still has to validate the content.
type Unprotected struct {
	// Content is the message as hashed into the transcript (§8.2) and into
	// proposal references (§5.2), with the wire format it arrived in.
	Content wire.AuthenticatedContent

	tree    *secrettree.Tree
	leaf    uint32
	ratchet secrettree.RatchetType
	gen     uint32
	private bool
}

// Generation returns the secret-tree generation of a PrivateMessage, or 0.
func (u *Unprotected) Generation() uint32 { return u.gen }

// Consume deletes the secret-tree key of a PrivateMessage and moves the
// sender's ratchet forward (RFC 9420 §9.2), so that the message cannot be
// read again. Call it once the group has accepted the message. It is a no-op
// for a PublicMessage.
func (u *Unprotected) Consume() error {
	if !u.private {
		return nil
	}
	if err := u.tree.Consume(leafIndex(u.leaf), u.ratchet, u.gen); err != nil {
		return fmt.Errorf("mls framing: consume key: %w", err)
	}
	u.private = false
	return nil
}

// Sign returns the signature of a FramedContent sent as wire format wf (RFC
// 9420 §6.1):
//
//	signature = SignWithLabel(sig_priv, "FramedContentTBS", FramedContentTBS)
//
// The GroupContext is part of what is signed for member and new_member_commit
// senders.
func Sign(e *Epoch, key *suite.SignaturePrivateKey, wf wire.WireFormat, c *wire.FramedContent) ([]byte, error) {
	tbs, err := wire.FramedContentTBS(wf, c, contextFor(e, c.Sender.Type))
	if err != nil {
		return nil, fmt.Errorf("mls framing: FramedContentTBS: %w", err)
	}
	sig, err := e.Suite.SignWithLabel(key, "FramedContentTBS", tbs)
	if err != nil {
		return nil, fmt.Errorf("mls framing: sign: %w", err)
	}
	return sig, nil
}

// verify checks the signature of content c sent as wf (§6.1).
func verify(e *Epoch, lookup KeyLookup, wf wire.WireFormat, c *wire.FramedContent, sig []byte) error {
	pub, err := lookup(c)
	if err != nil {
		return err
	}
	tbs, err := wire.FramedContentTBS(wf, c, contextFor(e, c.Sender.Type))
	if err != nil {
		return fmt.Errorf("%w: FramedContentTBS: %w", codec.ErrMalformed, err)
	}
	if err := e.Suite.VerifyWithLabel(pub, "FramedContentTBS", tbs, sig); err != nil {
		return fmt.Errorf("%w: signature", ErrAuthentication)
	}
	return nil
}

func contextFor(e *Epoch, t wire.SenderType) []byte {
	switch t {
	case wire.SenderMember, wire.SenderNewMemberCommit:
		return e.GroupContextBytes
	}
	return nil
}

// checkEpoch compares the group_id and epoch a message claims with the
// current ones. group_id is public, so a plain comparison is fine.
func checkEpoch(e *Epoch, groupID []byte, epoch uint64) error {
	if string(groupID) != string(e.GroupContext.GroupID) {
		return ErrWrongGroup
	}
	if epoch != e.GroupContext.Epoch {
		return fmt.Errorf("%w: got %d, current %d", ErrWrongEpoch, epoch, e.GroupContext.Epoch)
	}
	return nil
}
