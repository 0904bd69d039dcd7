package wire

import (
	"bytes"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// ProtocolVersion is an MLS protocol version (RFC 9420 §6):
//
//	enum {
//	    reserved(0),
//	    mls10(1),
//	    (65535)
//	} ProtocolVersion;
type ProtocolVersion uint16

// MLS10 is the version defined by RFC 9420.
const MLS10 ProtocolVersion = 1

// CipherSuite is an MLS cipher suite identifier (RFC 9420 §5.1, §17.1). It is
// a plain uint16 on the wire; which suites are supported is decided by
// package suite, not here.
type CipherSuite uint16

// ExtensionType identifies an extension (RFC 9420 §13.3, §17.3).
type ExtensionType uint16

// Extension types registered by RFC 9420 §17.3.
const (
	ExtensionApplicationID        ExtensionType = 1 // application_id (LeafNode)
	ExtensionRatchetTree          ExtensionType = 2 // ratchet_tree (GroupInfo)
	ExtensionRequiredCapabilities ExtensionType = 3 // required_capabilities (GroupContext)
	ExtensionExternalPub          ExtensionType = 4 // external_pub (GroupInfo)
	ExtensionExternalSenders      ExtensionType = 5 // external_senders (GroupContext)
)

// ProposalType identifies a proposal (RFC 9420 §12.1, §17.4).
type ProposalType uint16

// Proposal types registered by RFC 9420 §17.4.
const (
	ProposalAdd                    ProposalType = 1
	ProposalUpdate                 ProposalType = 2
	ProposalRemove                 ProposalType = 3
	ProposalPSK                    ProposalType = 4
	ProposalReInit                 ProposalType = 5
	ProposalExternalInit           ProposalType = 6
	ProposalGroupContextExtensions ProposalType = 7
)

// CredentialType identifies a credential format (RFC 9420 §5.3, §17.5).
type CredentialType uint16

// Credential types registered by RFC 9420 §17.5.
const (
	CredentialBasic CredentialType = 1
	CredentialX509  CredentialType = 2
)

// IsGREASE reports whether v is one of the GREASE values of RFC 9420 §13.5
// (0x0A0A, 0x1A1A, …, 0xEAEA), which implementations insert into capability
// lists to keep unknown values decodable.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>12 == (v>>4)&0x0f && v != 0xfafa
}

// Credential binds an identity to a signature key (RFC 9420 §5.3):
//
//	struct {
//	    opaque cert_data<V>;
//	} Certificate;
//
//	struct {
//	    CredentialType credential_type;
//	    select (Credential.credential_type) {
//	        case basic:
//	            opaque identity<V>;
//	        case x509:
//	            Certificate certificates<V>;
//	    };
//	} Credential;
//
// Only the field of Type is encoded. A credential of any other type cannot be
// decoded: its length is not on the wire.
type Credential struct {
	Type         CredentialType
	Identity     []byte   // basic
	Certificates [][]byte // x509: DER certificates, leaf first
}

// MarshalMLS implements codec.Marshaler.
func (c *Credential) MarshalMLS(b *codec.Builder) {
	b.Uint16(uint16(c.Type))
	switch c.Type {
	case CredentialBasic:
		b.Opaque(c.Identity)
	case CredentialX509:
		b.Vector(func(b *codec.Builder) {
			for _, cert := range c.Certificates {
				b.Opaque(cert)
			}
		})
	default:
		b.SetError(fmt.Errorf("wire: cannot encode credential type %d", c.Type))
	}
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *Credential) UnmarshalMLS(r *codec.Reader) {
	*c = Credential{Type: CredentialType(r.Uint16())}
	switch c.Type {
	case CredentialBasic:
		c.Identity = opaque(r)
	case CredentialX509:
		c.Certificates = [][]byte{}
		r.VectorEach(func(r *codec.Reader) { c.Certificates = append(c.Certificates, opaque(r)) })
	default:
		r.SetError(malformed("unknown credential type %d", c.Type))
	}
}

// Capabilities lists what a client supports (RFC 9420 §7.2):
//
//	struct {
//	    ProtocolVersion versions<V>;
//	    CipherSuite cipher_suites<V>;
//	    ExtensionType extensions<V>;
//	    ProposalType proposals<V>;
//	    CredentialType credentials<V>;
//	} Capabilities;
//
// The lists may hold unknown and GREASE values; they decode as they are.
type Capabilities struct {
	Versions     []ProtocolVersion
	CipherSuites []CipherSuite
	Extensions   []ExtensionType
	Proposals    []ProposalType
	Credentials  []CredentialType
}

// MarshalMLS implements codec.Marshaler.
func (c *Capabilities) MarshalMLS(b *codec.Builder) {
	putUint16s(b, c.Versions)
	putUint16s(b, c.CipherSuites)
	putUint16s(b, c.Extensions)
	putUint16s(b, c.Proposals)
	putUint16s(b, c.Credentials)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *Capabilities) UnmarshalMLS(r *codec.Reader) {
	c.Versions = getUint16s[ProtocolVersion](r)
	c.CipherSuites = getUint16s[CipherSuite](r)
	c.Extensions = getUint16s[ExtensionType](r)
	c.Proposals = getUint16s[ProposalType](r)
	c.Credentials = getUint16s[CredentialType](r)
}

// Extension is one extension (RFC 9420 §13.3):
//
//	struct {
//	    ExtensionType extension_type;
//	    opaque extension_data<V>;
//	} Extension;
//
// Data is kept opaque: extensions of any type, known or not, round-trip.
// Helpers in extensions.go decode the contents of the types registered by
// RFC 9420.
type Extension struct {
	Type ExtensionType
	Data []byte
}

// MarshalMLS implements codec.Marshaler.
func (e *Extension) MarshalMLS(b *codec.Builder) {
	b.Uint16(uint16(e.Type))
	b.Opaque(e.Data)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (e *Extension) UnmarshalMLS(r *codec.Reader) {
	e.Type = ExtensionType(r.Uint16())
	e.Data = opaque(r)
}

// Lifetime bounds when a KeyPackage's leaf may be used (RFC 9420 §7.2), in
// seconds since the Unix epoch:
//
//	struct {
//	    uint64 not_before;
//	    uint64 not_after;
//	} Lifetime;
type Lifetime struct {
	NotBefore uint64
	NotAfter  uint64
}

// MarshalMLS implements codec.Marshaler.
func (l *Lifetime) MarshalMLS(b *codec.Builder) {
	b.Uint64(l.NotBefore)
	b.Uint64(l.NotAfter)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (l *Lifetime) UnmarshalMLS(r *codec.Reader) {
	l.NotBefore = r.Uint64()
	l.NotAfter = r.Uint64()
}

// putExtensions writes Extension extensions<V>.
func putExtensions(b *codec.Builder, exts []Extension) {
	b.Vector(func(b *codec.Builder) {
		for i := range exts {
			exts[i].MarshalMLS(b)
		}
	})
}

// getExtensions reads Extension extensions<V>. Duplicate extension types are
// a semantic error (RFC 9420 §13.4) left to the caller.
func getExtensions(r *codec.Reader) []Extension {
	exts := []Extension{}
	r.VectorEach(func(r *codec.Reader) {
		var e Extension
		e.UnmarshalMLS(r)
		exts = append(exts, e)
	})
	return exts
}

func putUint16s[T ~uint16](b *codec.Builder, vs []T) {
	b.Vector(func(b *codec.Builder) {
		for _, v := range vs {
			b.Uint16(uint16(v))
		}
	})
}

func getUint16s[T ~uint16](r *codec.Reader) []T {
	vs := []T{}
	r.VectorEach(func(r *codec.Reader) { vs = append(vs, T(r.Uint16())) })
	return vs
}

func putUint32s(b *codec.Builder, vs []uint32) {
	b.Vector(func(b *codec.Builder) {
		for _, v := range vs {
			b.Uint32(v)
		}
	})
}

func getUint32s(r *codec.Reader) []uint32 {
	vs := []uint32{}
	r.VectorEach(func(r *codec.Reader) { vs = append(vs, r.Uint32()) })
	return vs
}

// opaque reads opaque<V> and copies it, so decoded values never alias the
// caller's buffer.
func opaque(r *codec.Reader) []byte {
	p := r.Opaque()
	if p == nil {
		return nil
	}
	return bytes.Clone(p)
}

// malformed returns an error wrapping codec.ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("wire: %w: %s", codec.ErrMalformed, fmt.Sprintf(format, args...))
}
