package wire

import (
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// WireFormat says which kind of message an MLSMessage carries (RFC 9420 §6,
// §17.2):
//
//	uint16 WireFormat;
//
// Decoding an MLSMessage rejects any value other than the five below.
type WireFormat uint16

// Wire formats registered by RFC 9420 §17.2.
const (
	WireFormatPublicMessage  WireFormat = 1 // mls_public_message
	WireFormatPrivateMessage WireFormat = 2 // mls_private_message
	WireFormatWelcome        WireFormat = 3 // mls_welcome
	WireFormatGroupInfo      WireFormat = 4 // mls_group_info
	WireFormatKeyPackage     WireFormat = 5 // mls_key_package
)

// ContentType says what a FramedContent carries (RFC 9420 §6):
//
//	enum {
//	    reserved(0),
//	    application(1),
//	    proposal(2),
//	    commit(3),
//	    (255)
//	} ContentType;
type ContentType uint8

// Content types of RFC 9420 §6.
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

func (ct ContentType) valid() bool { return ct >= ContentApplication && ct <= ContentCommit }

// SenderType says who sent a message (RFC 9420 §6):
//
//	enum {
//	    reserved(0),
//	    member(1),
//	    external(2),
//	    new_member_proposal(3),
//	    new_member_commit(4),
//	    (255)
//	} SenderType;
type SenderType uint8

// Sender types of RFC 9420 §6.
const (
	SenderMember            SenderType = 1
	SenderExternal          SenderType = 2
	SenderNewMemberProposal SenderType = 3
	SenderNewMemberCommit   SenderType = 4
)

// Sender identifies the sender of a message (RFC 9420 §6):
//
//	struct {
//	    SenderType sender_type;
//	    select (Sender.sender_type) {
//	        case member:
//	            uint32 leaf_index;
//	        case external:
//	            uint32 sender_index;
//	        case new_member_commit:
//	        case new_member_proposal:
//	            struct{};
//	    };
//	} Sender;
//
// LeafIndex is encoded for members; SenderIndex, an index into the group's
// external_senders extension, for external senders.
type Sender struct {
	Type        SenderType
	LeafIndex   uint32 // member
	SenderIndex uint32 // external
}

// MarshalMLS implements codec.Marshaler.
func (s *Sender) MarshalMLS(b *codec.Builder) {
	b.Uint8(uint8(s.Type))
	switch s.Type {
	case SenderMember:
		b.Uint32(s.LeafIndex)
	case SenderExternal:
		b.Uint32(s.SenderIndex)
	case SenderNewMemberProposal, SenderNewMemberCommit:
	default:
		b.SetError(fmt.Errorf("wire: cannot encode sender type %d", s.Type))
	}
}

// UnmarshalMLS implements codec.Unmarshaler.
func (s *Sender) UnmarshalMLS(r *codec.Reader) {
	*s = Sender{Type: SenderType(r.Uint8())}
	switch s.Type {
	case SenderMember:
		s.LeafIndex = r.Uint32()
	case SenderExternal:
		s.SenderIndex = r.Uint32()
	case SenderNewMemberProposal, SenderNewMemberCommit:
	default:
		r.SetError(malformed("unknown sender type %d", s.Type))
	}
}

// content is the select over ContentType shared by FramedContent and
// PrivateMessageContent: exactly one of its fields is used, as the content
// type says.
type content struct {
	ApplicationData []byte    // application
	Proposal        *Proposal // proposal
	Commit          *Commit   // commit
}

func (c *content) marshal(b *codec.Builder, ct ContentType) {
	switch {
	case ct == ContentApplication:
		b.Opaque(c.ApplicationData)
	case ct == ContentProposal && c.Proposal != nil:
		c.Proposal.MarshalMLS(b)
	case ct == ContentCommit && c.Commit != nil:
		c.Commit.MarshalMLS(b)
	default:
		b.SetError(fmt.Errorf("wire: cannot encode content of type %d without its body", ct))
	}
}

func (c *content) unmarshal(r *codec.Reader, ct ContentType) {
	*c = content{}
	switch ct {
	case ContentApplication:
		c.ApplicationData = opaque(r)
	case ContentProposal:
		c.Proposal = new(Proposal)
		c.Proposal.UnmarshalMLS(r)
	case ContentCommit:
		c.Commit = new(Commit)
		c.Commit.UnmarshalMLS(r)
	default:
		r.SetError(malformed("unknown content type %d", ct))
	}
}

// FramedContent is the content of a handshake or application message before
// it is signed and protected (RFC 9420 §6):
//
//	struct {
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    Sender sender;
//	    opaque authenticated_data<V>;
//
//	    ContentType content_type;
//	    select (FramedContent.content_type) {
//	        case application:
//	          opaque application_data<V>;
//	        case proposal:
//	          Proposal proposal;
//	        case commit:
//	          Commit commit;
//	    };
//	} FramedContent;
//
// Exactly one of ApplicationData, Proposal and Commit is used, as ContentType
// says.
type FramedContent struct {
	GroupID           []byte
	Epoch             uint64
	Sender            Sender
	AuthenticatedData []byte
	ContentType       ContentType
	ApplicationData   []byte    // application
	Proposal          *Proposal // proposal
	Commit            *Commit   // commit
}

func (c *FramedContent) body() *content {
	return &content{ApplicationData: c.ApplicationData, Proposal: c.Proposal, Commit: c.Commit}
}

// MarshalMLS implements codec.Marshaler.
func (c *FramedContent) MarshalMLS(b *codec.Builder) {
	b.Opaque(c.GroupID)
	b.Uint64(c.Epoch)
	c.Sender.MarshalMLS(b)
	b.Opaque(c.AuthenticatedData)
	b.Uint8(uint8(c.ContentType))
	c.body().marshal(b, c.ContentType)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *FramedContent) UnmarshalMLS(r *codec.Reader) {
	*c = FramedContent{}
	c.GroupID = opaque(r)
	c.Epoch = r.Uint64()
	c.Sender.UnmarshalMLS(r)
	c.AuthenticatedData = opaque(r)
	c.ContentType = ContentType(r.Uint8())
	var body content
	body.unmarshal(r, c.ContentType)
	c.ApplicationData, c.Proposal, c.Commit = body.ApplicationData, body.Proposal, body.Commit
}

// FramedContentAuthData authenticates a FramedContent (RFC 9420 §6.1):
//
//	opaque MAC<V>;
//
//	struct {
//	    /* SignWithLabel(., "FramedContentTBS", FramedContentTBS) */
//	    opaque signature<V>;
//	    select (FramedContent.content_type) {
//	        case commit:
//	            /* MAC(confirmation_key,
//	                   GroupContext.confirmed_transcript_hash) */
//	            MAC confirmation_tag;
//	        case application:
//	        case proposal:
//	            struct{};
//	    };
//	} FramedContentAuthData;
//
// Its encoding depends on the content type of the content it authenticates,
// so it is encoded as part of the structures that hold both.
type FramedContentAuthData struct {
	Signature       []byte
	ConfirmationTag []byte // commit
}

func (a *FramedContentAuthData) marshal(b *codec.Builder, ct ContentType) {
	b.Opaque(a.Signature)
	if ct == ContentCommit {
		b.Opaque(a.ConfirmationTag)
	}
}

func (a *FramedContentAuthData) unmarshal(r *codec.Reader, ct ContentType) {
	*a = FramedContentAuthData{Signature: opaque(r)}
	if ct == ContentCommit {
		a.ConfirmationTag = opaque(r)
	}
}

// AuthenticatedContent is a FramedContent with its authentication data, as
// hashed into the transcript and signed (RFC 9420 §6.1):
//
//	struct {
//	    WireFormat wire_format;
//	    FramedContent content;
//	    FramedContentAuthData auth;
//	} AuthenticatedContent;
type AuthenticatedContent struct {
	WireFormat WireFormat
	Content    FramedContent
	Auth       FramedContentAuthData
}

// MarshalMLS implements codec.Marshaler.
func (a *AuthenticatedContent) MarshalMLS(b *codec.Builder) {
	b.Uint16(uint16(a.WireFormat))
	a.Content.MarshalMLS(b)
	a.Auth.marshal(b, a.Content.ContentType)
}

// UnmarshalMLS implements codec.Unmarshaler. Only the two framing wire
// formats can carry content, so any other wire format is rejected.
func (a *AuthenticatedContent) UnmarshalMLS(r *codec.Reader) {
	a.WireFormat = WireFormat(r.Uint16())
	if r.Err() == nil && a.WireFormat != WireFormatPublicMessage && a.WireFormat != WireFormatPrivateMessage {
		r.SetError(malformed("wire format %d cannot carry framed content", a.WireFormat))
	}
	a.Content.UnmarshalMLS(r)
	a.Auth.unmarshal(r, a.Content.ContentType)
}

// FramedContentTBS returns the encoding of the FramedContentTBS that a
// message's signature covers (RFC 9420 §6.1):
//
//	struct {
//	    ProtocolVersion version = mls10;
//	    WireFormat wire_format;
//	    FramedContent content;
//	    select (FramedContentTBS.content.sender.sender_type) {
//	        case member:
//	        case new_member_commit:
//	            GroupContext context;
//	        case external:
//	        case new_member_proposal:
//	            struct{};
//	    };
//	} FramedContentTBS;
//
// groupContext is the encoded GroupContext of the epoch (see GroupContext);
// it is required for member and new_member_commit senders and must be nil
// for the others.
func FramedContentTBS(wf WireFormat, c *FramedContent, groupContext []byte) ([]byte, error) {
	var b codec.Builder
	b.Uint16(uint16(MLS10))
	b.Uint16(uint16(wf))
	c.MarshalMLS(&b)
	switch c.Sender.Type {
	case SenderMember, SenderNewMemberCommit:
		if groupContext == nil {
			return nil, fmt.Errorf("wire: FramedContentTBS for sender type %d needs the GroupContext", c.Sender.Type)
		}
		b.Raw(groupContext)
	default:
		if groupContext != nil {
			return nil, fmt.Errorf("wire: FramedContentTBS for sender type %d takes no GroupContext", c.Sender.Type)
		}
	}
	return b.Bytes()
}

// AuthenticatedContentTBM returns the encoding of the AuthenticatedContentTBM
// that a PublicMessage's membership_tag covers (RFC 9420 §6.2):
//
//	struct {
//	  FramedContentTBS content_tbs;
//	  FramedContentAuthData auth;
//	} AuthenticatedContentTBM;
//
// contentTBS is the output of FramedContentTBS for the same content.
func AuthenticatedContentTBM(contentTBS []byte, ct ContentType, auth *FramedContentAuthData) ([]byte, error) {
	b := codec.NewBuilder(append([]byte(nil), contentTBS...))
	auth.marshal(b, ct)
	return b.Bytes()
}

// ConfirmedTranscriptHashInput returns the encoding of the
// ConfirmedTranscriptHashInput of a Commit (RFC 9420 §8.2):
//
//	struct {
//	    WireFormat wire_format;
//	    FramedContent content; /* with content_type == commit */
//	    opaque signature<V>;
//	} ConfirmedTranscriptHashInput;
func ConfirmedTranscriptHashInput(wf WireFormat, c *FramedContent, signature []byte) ([]byte, error) {
	if c.ContentType != ContentCommit {
		return nil, fmt.Errorf("wire: transcript hash input for content type %d, want commit", c.ContentType)
	}
	var b codec.Builder
	b.Uint16(uint16(wf))
	c.MarshalMLS(&b)
	b.Opaque(signature)
	return b.Bytes()
}

// InterimTranscriptHashInput returns the encoding of the
// InterimTranscriptHashInput (RFC 9420 §8.2):
//
//	struct {
//	    MAC confirmation_tag;
//	} InterimTranscriptHashInput;
func InterimTranscriptHashInput(confirmationTag []byte) ([]byte, error) {
	var b codec.Builder
	b.Opaque(confirmationTag)
	return b.Bytes()
}

// PublicMessage is a signed, unencrypted handshake message (RFC 9420 §6.2):
//
//	struct {
//	    FramedContent content;
//	    FramedContentAuthData auth;
//	    select (PublicMessage.content.sender.sender_type) {
//	        case member:
//	            MAC membership_tag;
//	        case external:
//	        case new_member_commit:
//	        case new_member_proposal:
//	            struct{};
//	    };
//	} PublicMessage;
//
// MembershipTag is encoded only for member senders.
type PublicMessage struct {
	Content       FramedContent
	Auth          FramedContentAuthData
	MembershipTag []byte // member
}

// MarshalMLS implements codec.Marshaler.
func (m *PublicMessage) MarshalMLS(b *codec.Builder) {
	m.Content.MarshalMLS(b)
	m.Auth.marshal(b, m.Content.ContentType)
	if m.Content.Sender.Type == SenderMember {
		b.Opaque(m.MembershipTag)
	}
}

// UnmarshalMLS implements codec.Unmarshaler.
func (m *PublicMessage) UnmarshalMLS(r *codec.Reader) {
	*m = PublicMessage{}
	m.Content.UnmarshalMLS(r)
	m.Auth.unmarshal(r, m.Content.ContentType)
	if m.Content.Sender.Type == SenderMember {
		m.MembershipTag = opaque(r)
	}
}

// PrivateMessage is an encrypted handshake or application message
// (RFC 9420 §6.3):
//
//	struct {
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    ContentType content_type;
//	    opaque authenticated_data<V>;
//	    opaque encrypted_sender_data<V>;
//	    opaque ciphertext<V>;
//	} PrivateMessage;
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

// MarshalMLS implements codec.Marshaler.
func (m *PrivateMessage) MarshalMLS(b *codec.Builder) {
	b.Opaque(m.GroupID)
	b.Uint64(m.Epoch)
	b.Uint8(uint8(m.ContentType))
	b.Opaque(m.AuthenticatedData)
	b.Opaque(m.EncryptedSenderData)
	b.Opaque(m.Ciphertext)
}

// UnmarshalMLS implements codec.Unmarshaler. An unknown content type is
// rejected: the ciphertext could not be parsed once decrypted.
func (m *PrivateMessage) UnmarshalMLS(r *codec.Reader) {
	m.GroupID = opaque(r)
	m.Epoch = r.Uint64()
	m.ContentType = ContentType(r.Uint8())
	if r.Err() == nil && !m.ContentType.valid() {
		r.SetError(malformed("unknown content type %d", m.ContentType))
	}
	m.AuthenticatedData = opaque(r)
	m.EncryptedSenderData = opaque(r)
	m.Ciphertext = opaque(r)
}

// PrivateContentAAD returns the encoding of the PrivateContentAAD, the
// additional data of a PrivateMessage's content encryption (RFC 9420 §6.3.1):
//
//	struct {
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    ContentType content_type;
//	    opaque authenticated_data<V>;
//	} PrivateContentAAD;
func (m *PrivateMessage) PrivateContentAAD() ([]byte, error) {
	var b codec.Builder
	b.Opaque(m.GroupID)
	b.Uint64(m.Epoch)
	b.Uint8(uint8(m.ContentType))
	b.Opaque(m.AuthenticatedData)
	return b.Bytes()
}

// SenderDataAAD returns the encoding of the SenderDataAAD, the additional
// data of a PrivateMessage's sender data encryption (RFC 9420 §6.3.2):
//
//	struct {
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    ContentType content_type;
//	} SenderDataAAD;
func (m *PrivateMessage) SenderDataAAD() ([]byte, error) {
	var b codec.Builder
	b.Opaque(m.GroupID)
	b.Uint64(m.Epoch)
	b.Uint8(uint8(m.ContentType))
	return b.Bytes()
}

// PrivateMessageContent is the plaintext of a PrivateMessage's ciphertext
// (RFC 9420 §6.3.1):
//
//	struct {
//	    select (PrivateMessage.content_type) {
//	        case application:
//	          opaque application_data<V>;
//	        case proposal:
//	          Proposal proposal;
//	        case commit:
//	          Commit commit;
//	    };
//
//	    FramedContentAuthData auth;
//	    opaque padding[length_of_padding];
//	} PrivateMessageContent;
//
// The content type is not part of the plaintext: it comes from the
// PrivateMessage, so this type is encoded and decoded with
// MarshalPrivateMessageContent and UnmarshalPrivateMessageContent.
type PrivateMessageContent struct {
	ApplicationData []byte    // application
	Proposal        *Proposal // proposal
	Commit          *Commit   // commit
	Auth            FramedContentAuthData
	// Padding is the number of zero bytes that follow the content.
	Padding int
}

// MarshalPrivateMessageContent encodes c for a PrivateMessage of content
// type ct, followed by c.Padding zero bytes (RFC 9420 §6.3.1).
func MarshalPrivateMessageContent(c *PrivateMessageContent, ct ContentType) ([]byte, error) {
	if c.Padding < 0 {
		return nil, fmt.Errorf("wire: negative padding %d", c.Padding)
	}
	var b codec.Builder
	body := content{ApplicationData: c.ApplicationData, Proposal: c.Proposal, Commit: c.Commit}
	body.marshal(&b, ct)
	c.Auth.marshal(&b, ct)
	b.Raw(make([]byte, c.Padding))
	return b.Bytes()
}

// UnmarshalPrivateMessageContent decodes the plaintext of a PrivateMessage
// of content type ct. Everything after the authentication data is padding,
// and "the padding field MUST be filled with all zero bytes. A receiver MUST
// verify that there are no non-zero bytes in the padding field" (RFC 9420
// §6.3.1), so a non-zero byte there is an error.
func UnmarshalPrivateMessageContent(data []byte, ct ContentType) (*PrivateMessageContent, error) {
	r := codec.NewReader(data)
	var body content
	body.unmarshal(r, ct)
	c := &PrivateMessageContent{ApplicationData: body.ApplicationData, Proposal: body.Proposal, Commit: body.Commit}
	c.Auth.unmarshal(r, ct)
	if err := r.Err(); err != nil {
		return nil, err
	}
	padding := r.Raw(r.Len())
	for _, p := range padding {
		if p != 0 {
			return nil, malformed("non-zero byte in PrivateMessageContent padding")
		}
	}
	c.Padding = len(padding)
	if err := r.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// SenderData identifies the sender of a PrivateMessage and the ratchet
// generation of its key (RFC 9420 §6.3.2):
//
//	struct {
//	    uint32 leaf_index;
//	    uint32 generation;
//	    opaque reuse_guard[4];
//	} SenderData;
type SenderData struct {
	LeafIndex  uint32
	Generation uint32
	ReuseGuard [4]byte
}

// MarshalMLS implements codec.Marshaler.
func (s *SenderData) MarshalMLS(b *codec.Builder) {
	b.Uint32(s.LeafIndex)
	b.Uint32(s.Generation)
	b.Raw(s.ReuseGuard[:])
}

// UnmarshalMLS implements codec.Unmarshaler.
func (s *SenderData) UnmarshalMLS(r *codec.Reader) {
	s.LeafIndex = r.Uint32()
	s.Generation = r.Uint32()
	copy(s.ReuseGuard[:], r.Raw(4))
}

// MLSMessage is the outermost MLS message (RFC 9420 §6):
//
//	struct {
//	    ProtocolVersion version = mls10;
//	    WireFormat wire_format;
//	    select (MLSMessage.wire_format) {
//	        case mls_public_message:
//	            PublicMessage public_message;
//	        case mls_private_message:
//	            PrivateMessage private_message;
//	        case mls_welcome:
//	            Welcome welcome;
//	        case mls_group_info:
//	            GroupInfo group_info;
//	        case mls_key_package:
//	            KeyPackage key_package;
//	    };
//	} MLSMessage;
//
// Exactly the field named by WireFormat is set. Decoding rejects versions
// other than mls10 (a later version may lay out the message differently) and
// unknown wire formats.
type MLSMessage struct {
	Version        ProtocolVersion
	WireFormat     WireFormat
	PublicMessage  *PublicMessage
	PrivateMessage *PrivateMessage
	Welcome        *Welcome
	GroupInfo      *GroupInfo
	KeyPackage     *KeyPackage
}

// wireValue is a decodable and encodable wire structure: the body of a
// select such as MLSMessage or Proposal.
type wireValue interface {
	codec.Marshaler
	codec.Unmarshaler
}

// body returns the variant named by m.WireFormat, or nil if it is unknown or
// unset. With alloc, a missing variant of a known wire format is allocated.
func (m *MLSMessage) body(alloc bool) wireValue {
	switch m.WireFormat {
	case WireFormatPublicMessage:
		if alloc {
			m.PublicMessage = new(PublicMessage)
		}
		if m.PublicMessage != nil {
			return m.PublicMessage
		}
	case WireFormatPrivateMessage:
		if alloc {
			m.PrivateMessage = new(PrivateMessage)
		}
		if m.PrivateMessage != nil {
			return m.PrivateMessage
		}
	case WireFormatWelcome:
		if alloc {
			m.Welcome = new(Welcome)
		}
		if m.Welcome != nil {
			return m.Welcome
		}
	case WireFormatGroupInfo:
		if alloc {
			m.GroupInfo = new(GroupInfo)
		}
		if m.GroupInfo != nil {
			return m.GroupInfo
		}
	case WireFormatKeyPackage:
		if alloc {
			m.KeyPackage = new(KeyPackage)
		}
		if m.KeyPackage != nil {
			return m.KeyPackage
		}
	}
	return nil
}

// MarshalMLS implements codec.Marshaler.
func (m *MLSMessage) MarshalMLS(b *codec.Builder) {
	if m.Version != MLS10 {
		b.SetError(fmt.Errorf("wire: cannot encode MLSMessage of version %d", m.Version))
		return
	}
	body := m.body(false)
	if body == nil {
		b.SetError(fmt.Errorf("wire: cannot encode MLSMessage of wire format %d without its body", m.WireFormat))
		return
	}
	b.Uint16(uint16(m.Version))
	b.Uint16(uint16(m.WireFormat))
	body.MarshalMLS(b)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (m *MLSMessage) UnmarshalMLS(r *codec.Reader) {
	*m = MLSMessage{Version: ProtocolVersion(r.Uint16()), WireFormat: WireFormat(r.Uint16())}
	if r.Err() != nil {
		return
	}
	if m.Version != MLS10 {
		r.SetError(malformed("unsupported protocol version %d", m.Version))
		return
	}
	body := m.body(true)
	if body == nil {
		r.SetError(malformed("unknown wire format %d", m.WireFormat))
		return
	}
	body.UnmarshalMLS(r)
}
