package wire

import "github.com/tresor-dev/tresor/keys/internal/codec"

// HPKECiphertext is the output of EncryptWithLabel (RFC 9420 §5.1.3, §12.4.1):
//
//	struct {
//	    opaque kem_output<V>;
//	    opaque ciphertext<V>;
//	} HPKECiphertext;
type HPKECiphertext struct {
	KEMOutput  []byte
	Ciphertext []byte
}

// MarshalMLS implements codec.Marshaler.
func (c *HPKECiphertext) MarshalMLS(b *codec.Builder) {
	b.Opaque(c.KEMOutput)
	b.Opaque(c.Ciphertext)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *HPKECiphertext) UnmarshalMLS(r *codec.Reader) {
	c.KEMOutput = opaque(r)
	c.Ciphertext = opaque(r)
}

// UpdatePathNode is one step of an UpdatePath: a new parent public key and
// its path secret encrypted to each node of the copath resolution
// (RFC 9420 §7.6):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    HPKECiphertext encrypted_path_secret<V>;
//	} UpdatePathNode;
type UpdatePathNode struct {
	EncryptionKey       HPKEPublicKey
	EncryptedPathSecret []HPKECiphertext
}

// MarshalMLS implements codec.Marshaler.
func (n *UpdatePathNode) MarshalMLS(b *codec.Builder) {
	b.Opaque(n.EncryptionKey)
	b.Vector(func(b *codec.Builder) {
		for i := range n.EncryptedPathSecret {
			n.EncryptedPathSecret[i].MarshalMLS(b)
		}
	})
}

// UnmarshalMLS implements codec.Unmarshaler.
func (n *UpdatePathNode) UnmarshalMLS(r *codec.Reader) {
	n.EncryptionKey = opaque(r)
	n.EncryptedPathSecret = []HPKECiphertext{}
	r.VectorEach(func(r *codec.Reader) {
		var c HPKECiphertext
		c.UnmarshalMLS(r)
		n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
	})
}

// UpdatePath is the committer's new leaf and direct path (RFC 9420 §7.6):
//
//	struct {
//	    LeafNode leaf_node;
//	    UpdatePathNode nodes<V>;
//	} UpdatePath;
type UpdatePath struct {
	LeafNode LeafNode
	Nodes    []UpdatePathNode
}

// MarshalMLS implements codec.Marshaler.
func (p *UpdatePath) MarshalMLS(b *codec.Builder) {
	p.LeafNode.MarshalMLS(b)
	b.Vector(func(b *codec.Builder) {
		for i := range p.Nodes {
			p.Nodes[i].MarshalMLS(b)
		}
	})
}

// UnmarshalMLS implements codec.Unmarshaler.
func (p *UpdatePath) UnmarshalMLS(r *codec.Reader) {
	p.LeafNode.UnmarshalMLS(r)
	p.Nodes = []UpdatePathNode{}
	r.VectorEach(func(r *codec.Reader) {
		var n UpdatePathNode
		n.UnmarshalMLS(r)
		p.Nodes = append(p.Nodes, n)
	})
}

// Commit applies a list of proposals and optionally refreshes the
// committer's path (RFC 9420 §12.4):
//
//	struct {
//	    ProposalOrRef proposals<V>;
//	    optional<UpdatePath> path;
//	} Commit;
//
// Path is nil when absent.
type Commit struct {
	Proposals []ProposalOrRef
	Path      *UpdatePath
}

// MarshalMLS implements codec.Marshaler.
func (c *Commit) MarshalMLS(b *codec.Builder) {
	b.Vector(func(b *codec.Builder) {
		for i := range c.Proposals {
			c.Proposals[i].MarshalMLS(b)
		}
	})
	b.Optional(c.Path != nil, func(b *codec.Builder) { c.Path.MarshalMLS(b) })
}

// UnmarshalMLS implements codec.Unmarshaler.
func (c *Commit) UnmarshalMLS(r *codec.Reader) {
	c.Proposals = []ProposalOrRef{}
	r.VectorEach(func(r *codec.Reader) {
		var p ProposalOrRef
		p.UnmarshalMLS(r)
		c.Proposals = append(c.Proposals, p)
	})
	c.Path = nil
	if r.Optional() {
		c.Path = new(UpdatePath)
		c.Path.UnmarshalMLS(r)
	}
}
