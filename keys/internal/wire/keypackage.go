package wire

import "github.com/tresor-dev/tresor/keys/internal/codec"

// KeyPackage is a client's signed offer to be added to groups (RFC 9420
// §10):
//
//	struct {
//	    ProtocolVersion version;
//	    CipherSuite cipher_suite;
//	    HPKEPublicKey init_key;
//	    LeafNode leaf_node;
//	    Extension extensions<V>;
//	    /* SignWithLabel(., "KeyPackageTBS", KeyPackageTBS) */
//	    opaque signature<V>;
//	} KeyPackage;
//
// Version and CipherSuite decode as they are; checking them against the
// group is validation (§10.1).
type KeyPackage struct {
	Version     ProtocolVersion
	CipherSuite CipherSuite
	InitKey     HPKEPublicKey
	LeafNode    LeafNode
	Extensions  []Extension
	Signature   []byte
}

// MarshalMLS implements codec.Marshaler.
func (k *KeyPackage) MarshalMLS(b *codec.Builder) {
	k.marshalTBS(b)
	b.Opaque(k.Signature)
}

func (k *KeyPackage) marshalTBS(b *codec.Builder) {
	b.Uint16(uint16(k.Version))
	b.Uint16(uint16(k.CipherSuite))
	b.Opaque(k.InitKey)
	k.LeafNode.MarshalMLS(b)
	putExtensions(b, k.Extensions)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (k *KeyPackage) UnmarshalMLS(r *codec.Reader) {
	k.Version = ProtocolVersion(r.Uint16())
	k.CipherSuite = CipherSuite(r.Uint16())
	k.InitKey = opaque(r)
	k.LeafNode.UnmarshalMLS(r)
	k.Extensions = getExtensions(r)
	k.Signature = opaque(r)
}

// KeyPackageTBS returns the encoding of the KeyPackageTBS that k's signature
// covers (RFC 9420 §10): every field of KeyPackage but the signature.
//
//	struct {
//	    ProtocolVersion version;
//	    CipherSuite cipher_suite;
//	    HPKEPublicKey init_key;
//	    LeafNode leaf_node;
//	    Extension extensions<V>;
//	} KeyPackageTBS;
func (k *KeyPackage) KeyPackageTBS() ([]byte, error) {
	var b codec.Builder
	k.marshalTBS(&b)
	return b.Bytes()
}
