package wire

import (
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// Add proposes adding the client of a KeyPackage (RFC 9420 §12.1.1):
//
//	struct {
//	    KeyPackage key_package;
//	} Add;
type Add struct {
	KeyPackage KeyPackage
}

// MarshalMLS implements codec.Marshaler.
func (a *Add) MarshalMLS(b *codec.Builder) { a.KeyPackage.MarshalMLS(b) }

// UnmarshalMLS implements codec.Unmarshaler.
func (a *Add) UnmarshalMLS(r *codec.Reader) { a.KeyPackage.UnmarshalMLS(r) }

// Update proposes replacing the sender's leaf (RFC 9420 §12.1.2):
//
//	struct {
//	    LeafNode leaf_node;
//	} Update;
type Update struct {
	LeafNode LeafNode
}

// MarshalMLS implements codec.Marshaler.
func (u *Update) MarshalMLS(b *codec.Builder) { u.LeafNode.MarshalMLS(b) }

// UnmarshalMLS implements codec.Unmarshaler.
func (u *Update) UnmarshalMLS(r *codec.Reader) { u.LeafNode.UnmarshalMLS(r) }

// Remove proposes removing the member at a leaf index (RFC 9420 §12.1.3):
//
//	struct {
//	    uint32 removed;
//	} Remove;
type Remove struct {
	Removed uint32 // leaf index
}

// MarshalMLS implements codec.Marshaler.
func (p *Remove) MarshalMLS(b *codec.Builder) { b.Uint32(p.Removed) }

// UnmarshalMLS implements codec.Unmarshaler.
func (p *Remove) UnmarshalMLS(r *codec.Reader) { p.Removed = r.Uint32() }

// PSKType says where a pre-shared key comes from (RFC 9420 §8.4):
//
//	enum {
//	  reserved(0),
//	  external(1),
//	  resumption(2),
//	  (255)
//	} PSKType;
type PSKType uint8

// PSK types of RFC 9420 §8.4.
const (
	PSKExternal   PSKType = 1
	PSKResumption PSKType = 2
)

// ResumptionPSKUsage says why a resumption PSK is used (RFC 9420 §8.4):
//
//	enum {
//	  reserved(0),
//	  application(1),
//	  reinit(2),
//	  branch(3),
//	  (255)
//	} ResumptionPSKUsage;
type ResumptionPSKUsage uint8

// Resumption PSK usages of RFC 9420 §8.4.
const (
	UsageApplication ResumptionPSKUsage = 1
	UsageReInit      ResumptionPSKUsage = 2
	UsageBranch      ResumptionPSKUsage = 3
)

// PreSharedKeyID names a pre-shared key (RFC 9420 §8.4):
//
//	struct {
//	  PSKType psktype;
//	  select (PreSharedKeyID.psktype) {
//	    case external:
//	      opaque psk_id<V>;
//
//	    case resumption:
//	      ResumptionPSKUsage usage;
//	      opaque psk_group_id<V>;
//	      uint64 psk_epoch;
//	  };
//	  opaque psk_nonce<V>;
//	} PreSharedKeyID;
//
// PSKID is encoded for external PSKs; Usage, PSKGroupID and PSKEpoch for
// resumption PSKs. Decoding rejects unknown PSK types and usages.
type PreSharedKeyID struct {
	Type       PSKType
	PSKID      []byte             // external
	Usage      ResumptionPSKUsage // resumption
	PSKGroupID []byte             // resumption
	PSKEpoch   uint64             // resumption
	PSKNonce   []byte
}

// MarshalMLS implements codec.Marshaler.
func (p *PreSharedKeyID) MarshalMLS(b *codec.Builder) {
	b.Uint8(uint8(p.Type))
	switch p.Type {
	case PSKExternal:
		b.Opaque(p.PSKID)
	case PSKResumption:
		b.Uint8(uint8(p.Usage))
		b.Opaque(p.PSKGroupID)
		b.Uint64(p.PSKEpoch)
	default:
		b.SetError(fmt.Errorf("wire: cannot encode PSK type %d", p.Type))
	}
	b.Opaque(p.PSKNonce)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (p *PreSharedKeyID) UnmarshalMLS(r *codec.Reader) {
	*p = PreSharedKeyID{Type: PSKType(r.Uint8())}
	switch p.Type {
	case PSKExternal:
		p.PSKID = opaque(r)
	case PSKResumption:
		p.Usage = ResumptionPSKUsage(r.Uint8())
		if r.Err() == nil && (p.Usage < UsageApplication || p.Usage > UsageBranch) {
			r.SetError(malformed("unknown resumption PSK usage %d", p.Usage))
		}
		p.PSKGroupID = opaque(r)
		p.PSKEpoch = r.Uint64()
	default:
		r.SetError(malformed("unknown PSK type %d", p.Type))
	}
	p.PSKNonce = opaque(r)
}

// PreSharedKey proposes injecting a PSK into the key schedule (RFC 9420
// §12.1.4):
//
//	struct {
//	    PreSharedKeyID psk;
//	} PreSharedKey;
type PreSharedKey struct {
	PSK PreSharedKeyID
}

// MarshalMLS implements codec.Marshaler.
func (p *PreSharedKey) MarshalMLS(b *codec.Builder) { p.PSK.MarshalMLS(b) }

// UnmarshalMLS implements codec.Unmarshaler.
func (p *PreSharedKey) UnmarshalMLS(r *codec.Reader) { p.PSK.UnmarshalMLS(r) }

// ReInit proposes restarting the group with new parameters (RFC 9420
// §12.1.5):
//
//	struct {
//	    opaque group_id<V>;
//	    ProtocolVersion version;
//	    CipherSuite cipher_suite;
//	    Extension extensions<V>;
//	} ReInit;
type ReInit struct {
	GroupID     []byte
	Version     ProtocolVersion
	CipherSuite CipherSuite
	Extensions  []Extension
}

// MarshalMLS implements codec.Marshaler.
func (p *ReInit) MarshalMLS(b *codec.Builder) {
	b.Opaque(p.GroupID)
	b.Uint16(uint16(p.Version))
	b.Uint16(uint16(p.CipherSuite))
	putExtensions(b, p.Extensions)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (p *ReInit) UnmarshalMLS(r *codec.Reader) {
	p.GroupID = opaque(r)
	p.Version = ProtocolVersion(r.Uint16())
	p.CipherSuite = CipherSuite(r.Uint16())
	p.Extensions = getExtensions(r)
}

// ExternalInit carries the KEM output of an external join (RFC 9420
// §12.1.6):
//
//	struct {
//	  opaque kem_output<V>;
//	} ExternalInit;
type ExternalInit struct {
	KEMOutput []byte
}

// MarshalMLS implements codec.Marshaler.
func (p *ExternalInit) MarshalMLS(b *codec.Builder) { b.Opaque(p.KEMOutput) }

// UnmarshalMLS implements codec.Unmarshaler.
func (p *ExternalInit) UnmarshalMLS(r *codec.Reader) { p.KEMOutput = opaque(r) }

// GroupContextExtensions proposes replacing the GroupContext's extensions
// (RFC 9420 §12.1.7):
//
//	struct {
//	  Extension extensions<V>;
//	} GroupContextExtensions;
type GroupContextExtensions struct {
	Extensions []Extension
}

// MarshalMLS implements codec.Marshaler.
func (p *GroupContextExtensions) MarshalMLS(b *codec.Builder) { putExtensions(b, p.Extensions) }

// UnmarshalMLS implements codec.Unmarshaler.
func (p *GroupContextExtensions) UnmarshalMLS(r *codec.Reader) { p.Extensions = getExtensions(r) }

// Proposal is a proposed change to the group (RFC 9420 §12.1):
//
//	struct {
//	    ProposalType proposal_type;
//	    select (Proposal.proposal_type) {
//	        case add:                      Add;
//	        case update:                   Update;
//	        case remove:                   Remove;
//	        case psk:                      PreSharedKey;
//	        case reinit:                   ReInit;
//	        case external_init:            ExternalInit;
//	        case group_context_extensions: GroupContextExtensions;
//	    };
//	} Proposal;
//
// Exactly the field named by Type is set. A proposal of any other type is
// rejected when decoding: its body has no length prefix, so it can be neither
// skipped nor kept (RFC 9420 §13 lets an extension define new proposal types,
// which this implementation does not support).
type Proposal struct {
	Type                   ProposalType
	Add                    *Add
	Update                 *Update
	Remove                 *Remove
	PreSharedKey           *PreSharedKey
	ReInit                 *ReInit
	ExternalInit           *ExternalInit
	GroupContextExtensions *GroupContextExtensions
}

// body returns the variant named by p.Type, or nil if it is unknown or unset.
// With alloc, a missing variant of a known type is allocated first.
func (p *Proposal) body(alloc bool) wireValue {
	switch p.Type {
	case ProposalAdd:
		if alloc {
			p.Add = new(Add)
		}
		if p.Add != nil {
			return p.Add
		}
	case ProposalUpdate:
		if alloc {
			p.Update = new(Update)
		}
		if p.Update != nil {
			return p.Update
		}
	case ProposalRemove:
		if alloc {
			p.Remove = new(Remove)
		}
		if p.Remove != nil {
			return p.Remove
		}
	case ProposalPSK:
		if alloc {
			p.PreSharedKey = new(PreSharedKey)
		}
		if p.PreSharedKey != nil {
			return p.PreSharedKey
		}
	case ProposalReInit:
		if alloc {
			p.ReInit = new(ReInit)
		}
		if p.ReInit != nil {
			return p.ReInit
		}
	case ProposalExternalInit:
		if alloc {
			p.ExternalInit = new(ExternalInit)
		}
		if p.ExternalInit != nil {
			return p.ExternalInit
		}
	case ProposalGroupContextExtensions:
		if alloc {
			p.GroupContextExtensions = new(GroupContextExtensions)
		}
		if p.GroupContextExtensions != nil {
			return p.GroupContextExtensions
		}
	}
	return nil
}

// MarshalMLS implements codec.Marshaler.
func (p *Proposal) MarshalMLS(b *codec.Builder) {
	body := p.body(false)
	if body == nil {
		b.SetError(fmt.Errorf("wire: cannot encode proposal of type %d without its body", p.Type))
		return
	}
	b.Uint16(uint16(p.Type))
	body.MarshalMLS(b)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (p *Proposal) UnmarshalMLS(r *codec.Reader) {
	*p = Proposal{Type: ProposalType(r.Uint16())}
	if r.Err() != nil {
		return
	}
	body := p.body(true)
	if body == nil {
		r.SetError(malformed("unsupported proposal type %d", p.Type))
		return
	}
	body.UnmarshalMLS(r)
}

// ProposalRef identifies a proposal by its hash reference (RFC 9420 §5.2,
// §12.4):
//
//	opaque HashReference<V>;
//	HashReference ProposalRef;
type ProposalRef []byte

// ProposalOrRefType says whether a Commit carries a proposal or a reference
// to one (RFC 9420 §12.4):
//
//	enum {
//	  reserved(0),
//	  proposal(1),
//	  reference(2),
//	  (255)
//	} ProposalOrRefType;
type ProposalOrRefType uint8

// ProposalOrRef types of RFC 9420 §12.4.
const (
	ProposalOrRefProposal  ProposalOrRefType = 1
	ProposalOrRefReference ProposalOrRefType = 2
)

// ProposalOrRef is one entry of a Commit's proposal list (RFC 9420 §12.4):
//
//	struct {
//	  ProposalOrRefType type;
//	  select (ProposalOrRef.type) {
//	    case proposal:  Proposal proposal;
//	    case reference: ProposalRef reference;
//	  };
//	} ProposalOrRef;
//
// Proposal is set for an inline proposal, Reference for a reference.
type ProposalOrRef struct {
	Type      ProposalOrRefType
	Proposal  *Proposal
	Reference ProposalRef
}

// MarshalMLS implements codec.Marshaler.
func (p *ProposalOrRef) MarshalMLS(b *codec.Builder) {
	b.Uint8(uint8(p.Type))
	switch {
	case p.Type == ProposalOrRefProposal && p.Proposal != nil:
		p.Proposal.MarshalMLS(b)
	case p.Type == ProposalOrRefReference:
		b.Opaque(p.Reference)
	default:
		b.SetError(fmt.Errorf("wire: cannot encode ProposalOrRef of type %d", p.Type))
	}
}

// UnmarshalMLS implements codec.Unmarshaler.
func (p *ProposalOrRef) UnmarshalMLS(r *codec.Reader) {
	*p = ProposalOrRef{Type: ProposalOrRefType(r.Uint8())}
	switch p.Type {
	case ProposalOrRefProposal:
		p.Proposal = new(Proposal)
		p.Proposal.UnmarshalMLS(r)
	case ProposalOrRefReference:
		p.Reference = opaque(r)
	default:
		r.SetError(malformed("unknown ProposalOrRef type %d", p.Type))
	}
}
