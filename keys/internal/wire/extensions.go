package wire

import "github.com/tresor-dev/tresor/keys/internal/codec"

// This file holds the contents of the extensions registered by RFC 9420
// §17.3. An Extension keeps its extension_data opaque; these types decode it
// with codec.Unmarshal(ext.Data, &v) and encode it with codec.Marshal.
// (The ratchet_tree extension's data is a RatchetTree.)

// ApplicationID is the data of the application_id extension (RFC 9420
// §5.3.3):
//
//	opaque application_id<V>;
type ApplicationID []byte

// MarshalMLS implements codec.Marshaler.
func (a *ApplicationID) MarshalMLS(b *codec.Builder) { b.Opaque(*a) }

// UnmarshalMLS implements codec.Unmarshaler.
func (a *ApplicationID) UnmarshalMLS(r *codec.Reader) { *a = opaque(r) }

// RequiredCapabilities is the data of the required_capabilities extension
// (RFC 9420 §11.1):
//
//	struct {
//	    ExtensionType extension_types<V>;
//	    ProposalType proposal_types<V>;
//	    CredentialType credential_types<V>;
//	} RequiredCapabilities;
type RequiredCapabilities struct {
	ExtensionTypes  []ExtensionType
	ProposalTypes   []ProposalType
	CredentialTypes []CredentialType
}

// MarshalMLS implements codec.Marshaler.
func (c *RequiredCapabilities) MarshalMLS(b *codec.Builder) {
	putUint16s(b, c.ExtensionTypes)
	putUint16s(b, c.ProposalTypes)
	putUint16s(b, c.CredentialTypes)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *RequiredCapabilities) UnmarshalMLS(r *codec.Reader) {
	c.ExtensionTypes = getUint16s[ExtensionType](r)
	c.ProposalTypes = getUint16s[ProposalType](r)
	c.CredentialTypes = getUint16s[CredentialType](r)
}

// ExternalPub is the data of the external_pub extension (RFC 9420
// §12.4.3.2):
//
//	struct {
//	    HPKEPublicKey external_pub;
//	} ExternalPub;
type ExternalPub struct {
	ExternalPub HPKEPublicKey
}

// MarshalMLS implements codec.Marshaler.
func (e *ExternalPub) MarshalMLS(b *codec.Builder) { b.Opaque(e.ExternalPub) }

// UnmarshalMLS implements codec.Unmarshaler.
func (e *ExternalPub) UnmarshalMLS(r *codec.Reader) { e.ExternalPub = opaque(r) }

// ExternalSender is a party outside the group allowed to send proposals
// (RFC 9420 §12.1.8.1):
//
//	struct {
//	  SignaturePublicKey signature_key;
//	  Credential credential;
//	} ExternalSender;
type ExternalSender struct {
	SignatureKey SignaturePublicKey
	Credential   Credential
}

// MarshalMLS implements codec.Marshaler.
func (e *ExternalSender) MarshalMLS(b *codec.Builder) {
	b.Opaque(e.SignatureKey)
	e.Credential.MarshalMLS(b)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (e *ExternalSender) UnmarshalMLS(r *codec.Reader) {
	e.SignatureKey = opaque(r)
	e.Credential.UnmarshalMLS(r)
}

// ExternalSenders is the data of the external_senders extension (RFC 9420
// §12.1.8.1):
//
//	ExternalSender external_senders<V>;
type ExternalSenders []ExternalSender

// MarshalMLS implements codec.Marshaler.
func (e *ExternalSenders) MarshalMLS(b *codec.Builder) {
	b.Vector(func(b *codec.Builder) {
		for i := range *e {
			(*e)[i].MarshalMLS(b)
		}
	})
}

// UnmarshalMLS implements codec.Unmarshaler.
func (e *ExternalSenders) UnmarshalMLS(r *codec.Reader) {
	s := ExternalSenders{}
	r.VectorEach(func(r *codec.Reader) {
		var x ExternalSender
		x.UnmarshalMLS(r)
		s = append(s, x)
	})
	*e = s
}

// DuplicateExtension returns an extension type that appears more than once
// in exts, and whether there is one (RFC 9420 §13.4: "Any field containing
// a list of extensions MUST NOT have more than one extension of any given
// type"). Decoding leaves that check to the callers that validate.
func DuplicateExtension(exts []Extension) (ExtensionType, bool) {
	seen := make(map[ExtensionType]bool, len(exts))
	for _, e := range exts {
		if seen[e.Type] {
			return e.Type, true
		}
		seen[e.Type] = true
	}
	return 0, false
}
