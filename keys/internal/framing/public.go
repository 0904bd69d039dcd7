package framing

import (
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// ProtectPublic frames signed content c as a PublicMessage (RFC 9420 §6.2).
// auth carries the signature from [Sign] and, for a Commit, the confirmation
// tag. For a member sender it adds the membership tag:
//
//	membership_tag = MAC(membership_key, AuthenticatedContentTBM)
//
// Application data is never sent as a PublicMessage (§6.2: "Applications
// MUST use PrivateMessage to encrypt application messages").
func ProtectPublic(e *Epoch, c *wire.FramedContent, auth wire.FramedContentAuthData) (*wire.PublicMessage, error) {
	if c.ContentType == wire.ContentApplication {
		return nil, fmt.Errorf("%w: application data in a PublicMessage", ErrInvalid)
	}
	m := &wire.PublicMessage{Content: *c, Auth: auth}
	if c.Sender.Type == wire.SenderMember {
		tbm, err := tbm(e, c, &auth)
		if err != nil {
			return nil, err
		}
		m.MembershipTag = e.Suite.MAC(e.Membership, tbm)
	}
	return m, nil
}

// UnprotectPublic authenticates a PublicMessage (RFC 9420 §6.2): it checks
// the group and epoch, that the content is not application data, the
// membership tag of a member sender, and the signature under the key lookup
// returns. The Commit's confirmation tag is left to the group.
func UnprotectPublic(e *Epoch, m *wire.PublicMessage, lookup KeyLookup) (*Unprotected, error) {
	c := &m.Content
	if err := checkEpoch(e, c.GroupID, c.Epoch); err != nil {
		return nil, err
	}
	if c.ContentType == wire.ContentApplication {
		return nil, fmt.Errorf("%w: application data in a PublicMessage", ErrInvalid)
	}
	switch c.Sender.Type {
	case wire.SenderMember:
		tbm, err := tbm(e, c, &m.Auth)
		if err != nil {
			return nil, err
		}
		if !e.Suite.VerifyMAC(e.Membership, tbm, m.MembershipTag) {
			return nil, fmt.Errorf("%w: membership tag", ErrAuthentication)
		}
	case wire.SenderNewMemberCommit:
		if c.ContentType != wire.ContentCommit {
			return nil, fmt.Errorf("%w: new_member_commit sender of a proposal", ErrInvalid)
		}
	case wire.SenderNewMemberProposal:
		if c.ContentType != wire.ContentProposal {
			return nil, fmt.Errorf("%w: new_member_proposal sender of a commit", ErrInvalid)
		}
	case wire.SenderExternal:
		if c.ContentType != wire.ContentProposal {
			return nil, fmt.Errorf("%w: external sender of a commit", ErrInvalid)
		}
	}
	if err := verify(e, lookup, wire.WireFormatPublicMessage, c, m.Auth.Signature); err != nil {
		return nil, err
	}
	return &Unprotected{Content: wire.AuthenticatedContent{
		WireFormat: wire.WireFormatPublicMessage, Content: *c, Auth: m.Auth}}, nil
}

func tbm(e *Epoch, c *wire.FramedContent, auth *wire.FramedContentAuthData) ([]byte, error) {
	tbs, err := wire.FramedContentTBS(wire.WireFormatPublicMessage, c, contextFor(e, c.Sender.Type))
	if err != nil {
		return nil, fmt.Errorf("%w: FramedContentTBS: %w", codec.ErrMalformed, err)
	}
	out, err := wire.AuthenticatedContentTBM(tbs, c.ContentType, auth)
	if err != nil {
		return nil, fmt.Errorf("%w: AuthenticatedContentTBM: %w", codec.ErrMalformed, err)
	}
	return out, nil
}
