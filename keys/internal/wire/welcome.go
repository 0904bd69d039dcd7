package wire

import "github.com/tresor-dev/tresor/keys/internal/codec"

// GroupContext summarizes the state of a group in an epoch (RFC 9420 §8.1):
//
//	struct {
//	    ProtocolVersion version = mls10;
//	    CipherSuite cipher_suite;
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    opaque tree_hash<V>;
//	    opaque confirmed_transcript_hash<V>;
//	    Extension extensions<V>;
//	} GroupContext;
//
// It is defined here because GroupInfo carries it on the wire; package
// schedule derives secrets from its encoding. Version decodes as it is;
// checking it is validation.
type GroupContext struct {
	Version                 ProtocolVersion
	CipherSuite             CipherSuite
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

// MarshalMLS implements codec.Marshaler.
func (g *GroupContext) MarshalMLS(b *codec.Builder) {
	b.Uint16(uint16(g.Version))
	b.Uint16(uint16(g.CipherSuite))
	b.Opaque(g.GroupID)
	b.Uint64(g.Epoch)
	b.Opaque(g.TreeHash)
	b.Opaque(g.ConfirmedTranscriptHash)
	putExtensions(b, g.Extensions)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (g *GroupContext) UnmarshalMLS(r *codec.Reader) {
	g.Version = ProtocolVersion(r.Uint16())
	g.CipherSuite = CipherSuite(r.Uint16())
	g.GroupID = opaque(r)
	g.Epoch = r.Uint64()
	g.TreeHash = opaque(r)
	g.ConfirmedTranscriptHash = opaque(r)
	g.Extensions = getExtensions(r)
}

// GroupInfo describes a group to new members (RFC 9420 §12.4.3):
//
//	struct {
//	    GroupContext group_context;
//	    Extension extensions<V>;
//	    MAC confirmation_tag;
//	    uint32 signer;
//	    /* SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) */
//	    opaque signature<V>;
//	} GroupInfo;
//
// Signer is a leaf index.
type GroupInfo struct {
	GroupContext    GroupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          uint32
	Signature       []byte
}

// MarshalMLS implements codec.Marshaler.
func (g *GroupInfo) MarshalMLS(b *codec.Builder) {
	g.marshalTBS(b)
	b.Opaque(g.Signature)
}

func (g *GroupInfo) marshalTBS(b *codec.Builder) {
	g.GroupContext.MarshalMLS(b)
	putExtensions(b, g.Extensions)
	b.Opaque(g.ConfirmationTag)
	b.Uint32(g.Signer)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (g *GroupInfo) UnmarshalMLS(r *codec.Reader) {
	g.GroupContext.UnmarshalMLS(r)
	g.Extensions = getExtensions(r)
	g.ConfirmationTag = opaque(r)
	g.Signer = r.Uint32()
	g.Signature = opaque(r)
}

// GroupInfoTBS returns the encoding of the GroupInfoTBS that g's signature
// covers (RFC 9420 §12.4.3): every field of GroupInfo but the signature.
//
//	struct {
//	    GroupContext group_context;
//	    Extension extensions<V>;
//	    MAC confirmation_tag;
//	    uint32 signer;
//	} GroupInfoTBS;
func (g *GroupInfo) GroupInfoTBS() ([]byte, error) {
	var b codec.Builder
	g.marshalTBS(&b)
	return b.Bytes()
}

// PathSecret is the path secret a new member receives for the lowest common
// ancestor of its leaf and the committer's (RFC 9420 §12.4.3.1):
//
//	struct {
//	  opaque path_secret<V>;
//	} PathSecret;
//
// It is secret: never log or print it.
type PathSecret struct {
	PathSecret []byte
}

// MarshalMLS implements codec.Marshaler.
func (p *PathSecret) MarshalMLS(b *codec.Builder) { b.Opaque(p.PathSecret) }

// UnmarshalMLS implements codec.Unmarshaler.
func (p *PathSecret) UnmarshalMLS(r *codec.Reader) { p.PathSecret = opaque(r) }

// GroupSecrets are the secrets a Welcome encrypts to each new member
// (RFC 9420 §12.4.3.1):
//
//	struct {
//	  opaque joiner_secret<V>;
//	  optional<PathSecret> path_secret;
//	  PreSharedKeyID psks<V>;
//	} GroupSecrets;
//
// PathSecret is nil when absent. JoinerSecret and PathSecret are secret:
// never log or print them, and zero them once used.
type GroupSecrets struct {
	JoinerSecret []byte
	PathSecret   *PathSecret
	PSKs         []PreSharedKeyID
}

// MarshalMLS implements codec.Marshaler.
func (g *GroupSecrets) MarshalMLS(b *codec.Builder) {
	b.Opaque(g.JoinerSecret)
	b.Optional(g.PathSecret != nil, func(b *codec.Builder) { g.PathSecret.MarshalMLS(b) })
	b.Vector(func(b *codec.Builder) {
		for i := range g.PSKs {
			g.PSKs[i].MarshalMLS(b)
		}
	})
}

// UnmarshalMLS implements codec.Unmarshaler.
func (g *GroupSecrets) UnmarshalMLS(r *codec.Reader) {
	g.JoinerSecret = opaque(r)
	g.PathSecret = nil
	if r.Optional() {
		g.PathSecret = new(PathSecret)
		g.PathSecret.UnmarshalMLS(r)
	}
	g.PSKs = []PreSharedKeyID{}
	r.VectorEach(func(r *codec.Reader) {
		var p PreSharedKeyID
		p.UnmarshalMLS(r)
		g.PSKs = append(g.PSKs, p)
	})
}

// KeyPackageRef identifies a KeyPackage by its hash reference (RFC 9420
// §5.2):
//
//	opaque HashReference<V>;
//	HashReference KeyPackageRef;
type KeyPackageRef []byte

// EncryptedGroupSecrets is the GroupSecrets of one new member, encrypted to
// its KeyPackage's init key (RFC 9420 §12.4.3.1):
//
//	struct {
//	  KeyPackageRef new_member;
//	  HPKECiphertext encrypted_group_secrets;
//	} EncryptedGroupSecrets;
type EncryptedGroupSecrets struct {
	NewMember             KeyPackageRef
	EncryptedGroupSecrets HPKECiphertext
}

// MarshalMLS implements codec.Marshaler.
func (e *EncryptedGroupSecrets) MarshalMLS(b *codec.Builder) {
	b.Opaque(e.NewMember)
	e.EncryptedGroupSecrets.MarshalMLS(b)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (e *EncryptedGroupSecrets) UnmarshalMLS(r *codec.Reader) {
	e.NewMember = opaque(r)
	e.EncryptedGroupSecrets.UnmarshalMLS(r)
}

// Welcome brings new members into a group (RFC 9420 §12.4.3.1):
//
//	struct {
//	  CipherSuite cipher_suite;
//	  EncryptedGroupSecrets secrets<V>;
//	  opaque encrypted_group_info<V>;
//	} Welcome;
type Welcome struct {
	CipherSuite        CipherSuite
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

// MarshalMLS implements codec.Marshaler.
func (w *Welcome) MarshalMLS(b *codec.Builder) {
	b.Uint16(uint16(w.CipherSuite))
	b.Vector(func(b *codec.Builder) {
		for i := range w.Secrets {
			w.Secrets[i].MarshalMLS(b)
		}
	})
	b.Opaque(w.EncryptedGroupInfo)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (w *Welcome) UnmarshalMLS(r *codec.Reader) {
	w.CipherSuite = CipherSuite(r.Uint16())
	w.Secrets = []EncryptedGroupSecrets{}
	r.VectorEach(func(r *codec.Reader) {
		var e EncryptedGroupSecrets
		e.UnmarshalMLS(r)
		w.Secrets = append(w.Secrets, e)
	})
	w.EncryptedGroupInfo = opaque(r)
}
