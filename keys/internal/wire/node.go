package wire

import (
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// HPKEPublicKey is an encoded HPKE public key (RFC 9420 §5.1.1):
//
//	opaque HPKEPublicKey<V>;
type HPKEPublicKey []byte

// SignaturePublicKey is an encoded signature public key (RFC 9420 §5.1.1):
//
//	opaque SignaturePublicKey<V>;
type SignaturePublicKey []byte

// LeafNodeSource says why a LeafNode was created (RFC 9420 §7.2):
//
//	enum {
//	    reserved(0),
//	    key_package(1),
//	    update(2),
//	    commit(3),
//	    (255)
//	} LeafNodeSource;
type LeafNodeSource uint8

// Leaf node sources of RFC 9420 §7.2.
const (
	SourceKeyPackage LeafNodeSource = 1
	SourceUpdate     LeafNodeSource = 2
	SourceCommit     LeafNodeSource = 3
)

// LeafNode is a member's leaf in the ratchet tree (RFC 9420 §7.2):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    SignaturePublicKey signature_key;
//	    Credential credential;
//	    Capabilities capabilities;
//
//	    LeafNodeSource leaf_node_source;
//	    select (LeafNode.leaf_node_source) {
//	        case key_package:
//	            Lifetime lifetime;
//	        case update:
//	            struct{};
//	        case commit:
//	            opaque parent_hash<V>;
//	    };
//
//	    Extension extensions<V>;
//	    /* SignWithLabel(., "LeafNodeTBS", LeafNodeTBS) */
//	    opaque signature<V>;
//	} LeafNode;
//
// Lifetime is encoded only when Source is SourceKeyPackage, ParentHash only
// when it is SourceCommit.
type LeafNode struct {
	EncryptionKey HPKEPublicKey
	SignatureKey  SignaturePublicKey
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	Lifetime      Lifetime // key_package
	ParentHash    []byte   // commit
	Extensions    []Extension
	Signature     []byte
}

// MarshalMLS implements codec.Marshaler.
func (n *LeafNode) MarshalMLS(b *codec.Builder) {
	n.marshalContent(b)
	b.Opaque(n.Signature)
}

// marshalContent writes every field before the signature.
func (n *LeafNode) marshalContent(b *codec.Builder) {
	b.Opaque(n.EncryptionKey)
	b.Opaque(n.SignatureKey)
	n.Credential.MarshalMLS(b)
	n.Capabilities.MarshalMLS(b)
	b.Uint8(uint8(n.Source))
	switch n.Source {
	case SourceKeyPackage:
		n.Lifetime.MarshalMLS(b)
	case SourceUpdate:
	case SourceCommit:
		b.Opaque(n.ParentHash)
	default:
		b.SetError(fmt.Errorf("wire: cannot encode leaf node source %d", n.Source))
	}
	putExtensions(b, n.Extensions)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (n *LeafNode) UnmarshalMLS(r *codec.Reader) {
	*n = LeafNode{}
	n.EncryptionKey = opaque(r)
	n.SignatureKey = opaque(r)
	n.Credential.UnmarshalMLS(r)
	n.Capabilities.UnmarshalMLS(r)
	n.Source = LeafNodeSource(r.Uint8())
	switch n.Source {
	case SourceKeyPackage:
		n.Lifetime.UnmarshalMLS(r)
	case SourceUpdate:
	case SourceCommit:
		n.ParentHash = opaque(r)
	default:
		r.SetError(malformed("unknown leaf node source %d", n.Source))
	}
	n.Extensions = getExtensions(r)
	n.Signature = opaque(r)
}

// LeafNodeTBS returns the encoding of the LeafNodeTBS that n's signature
// covers (RFC 9420 §7.2):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    SignaturePublicKey signature_key;
//	    Credential credential;
//	    Capabilities capabilities;
//
//	    LeafNodeSource leaf_node_source;
//	    select (LeafNodeTBS.leaf_node_source) {
//	        case key_package:
//	            Lifetime lifetime;
//	        case update:
//	            struct{};
//	        case commit:
//	            opaque parent_hash<V>;
//	    };
//
//	    Extension extensions<V>;
//
//	    select (LeafNodeTBS.leaf_node_source) {
//	        case key_package:
//	            struct{};
//	        case update:
//	            opaque group_id<V>;
//	            uint32 leaf_index;
//	        case commit:
//	            opaque group_id<V>;
//	            uint32 leaf_index;
//	    };
//	} LeafNodeTBS;
//
// groupID and leafIndex are used only for the update and commit sources,
// which bind the leaf to its group and position.
func (n *LeafNode) LeafNodeTBS(groupID []byte, leafIndex uint32) ([]byte, error) {
	var b codec.Builder
	n.marshalContent(&b)
	if n.Source == SourceUpdate || n.Source == SourceCommit {
		b.Opaque(groupID)
		b.Uint32(leafIndex)
	}
	return b.Bytes()
}

// ParentNode is an interior node of the ratchet tree (RFC 9420 §7.1):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    opaque parent_hash<V>;
//	    uint32 unmerged_leaves<V>;
//	} ParentNode;
//
// UnmergedLeaves are leaf indices.
type ParentNode struct {
	EncryptionKey  HPKEPublicKey
	ParentHash     []byte
	UnmergedLeaves []uint32
}

// MarshalMLS implements codec.Marshaler.
func (n *ParentNode) MarshalMLS(b *codec.Builder) {
	b.Opaque(n.EncryptionKey)
	b.Opaque(n.ParentHash)
	putUint32s(b, n.UnmergedLeaves)
}

// UnmarshalMLS implements codec.Unmarshaler.
func (n *ParentNode) UnmarshalMLS(r *codec.Reader) {
	n.EncryptionKey = opaque(r)
	n.ParentHash = opaque(r)
	n.UnmergedLeaves = getUint32s(r)
}

// NodeType says whether a Node is a leaf or a parent (RFC 9420 §7.8):
//
//	enum {
//	    reserved(0),
//	    leaf(1),
//	    parent(2),
//	    (255)
//	} NodeType;
type NodeType uint8

// Node types of RFC 9420 §7.8.
const (
	NodeTypeLeaf   NodeType = 1
	NodeTypeParent NodeType = 2
)

// Node is a non-blank node of the ratchet tree (RFC 9420 §7.8):
//
//	struct {
//	    NodeType node_type;
//	    select (Node.node_type) {
//	        case leaf:   LeafNode leaf_node;
//	        case parent: ParentNode parent_node;
//	    };
//	} Node;
//
// Exactly one of Leaf and Parent is set, as Type says.
type Node struct {
	Type   NodeType
	Leaf   *LeafNode
	Parent *ParentNode
}

// MarshalMLS implements codec.Marshaler.
func (n *Node) MarshalMLS(b *codec.Builder) {
	b.Uint8(uint8(n.Type))
	switch {
	case n.Type == NodeTypeLeaf && n.Leaf != nil:
		n.Leaf.MarshalMLS(b)
	case n.Type == NodeTypeParent && n.Parent != nil:
		n.Parent.MarshalMLS(b)
	default:
		b.SetError(fmt.Errorf("wire: cannot encode node of type %d without its content", n.Type))
	}
}

// UnmarshalMLS implements codec.Unmarshaler.
func (n *Node) UnmarshalMLS(r *codec.Reader) {
	*n = Node{Type: NodeType(r.Uint8())}
	switch n.Type {
	case NodeTypeLeaf:
		n.Leaf = new(LeafNode)
		n.Leaf.UnmarshalMLS(r)
	case NodeTypeParent:
		n.Parent = new(ParentNode)
		n.Parent.UnmarshalMLS(r)
	default:
		r.SetError(malformed("unknown node type %d", n.Type))
	}
}

// RatchetTree is the tree as it is sent in the ratchet_tree extension of a
// GroupInfo or out of band (RFC 9420 §12.4.3.3):
//
//	optional<Node> ratchet_tree<V>;
//
// Entry i is node i of the array representation (Appendix C); nil is a blank
// node. "The sender MUST NOT include blank nodes after the last non-blank
// node. The receiver MUST check that the last node in ratchet_tree is
// non-blank", so decoding rejects an empty tree and trailing blanks, and
// encoding refuses to produce them. Decoding also checks that even entries
// are leaves and odd entries are parents, since nothing else can be placed
// in the array. Extending the tree to a full 2^(d+1)−1 nodes and every other
// tree rule belong to the tree package.
type RatchetTree []*Node

// MarshalMLS implements codec.Marshaler.
func (t *RatchetTree) MarshalMLS(b *codec.Builder) {
	if len(*t) == 0 || (*t)[len(*t)-1] == nil {
		b.SetError(fmt.Errorf("wire: ratchet tree is empty or ends with a blank node"))
		return
	}
	b.Vector(func(b *codec.Builder) {
		for _, n := range *t {
			b.Optional(n != nil, func(b *codec.Builder) { n.MarshalMLS(b) })
		}
	})
}

// UnmarshalMLS implements codec.Unmarshaler.
func (t *RatchetTree) UnmarshalMLS(r *codec.Reader) {
	nodes := RatchetTree{}
	r.VectorEach(func(r *codec.Reader) {
		if !r.Optional() {
			nodes = append(nodes, nil)
			return
		}
		n := new(Node)
		n.UnmarshalMLS(r)
		want := NodeTypeLeaf
		if len(nodes)%2 == 1 {
			want = NodeTypeParent
		}
		if r.Err() == nil && n.Type != want {
			r.SetError(malformed("ratchet tree node %d has type %d, want %d", len(nodes), n.Type, want))
		}
		nodes = append(nodes, n)
	})
	if r.Err() == nil && (len(nodes) == 0 || nodes[len(nodes)-1] == nil) {
		r.SetError(malformed("ratchet tree is empty or ends with a blank node"))
	}
	if r.Err() != nil {
		nodes = nil
	}
	*t = nodes
}
