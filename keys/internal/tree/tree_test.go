package tree

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

func suite1(t testing.TB) *suite.Suite {
	t.Helper()
	s, err := suite.ByID(suite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validationTrees loads the tree-validation vectors and returns a function
// that builds suite-1 tree number i and returns it with its group ID.
func validationTrees(t *testing.T) func(t *testing.T, i int) (*Tree, []byte) {
	t.Helper()
	var vs []struct {
		CipherSuite uint16           `json:"cipher_suite"`
		Tree        vectors.HexBytes `json:"tree"`
		GroupID     vectors.HexBytes `json:"group_id"`
	}
	vectors.Load(t, "tree-validation", &vs)
	return func(t *testing.T, i int) (*Tree, []byte) {
		t.Helper()
		for _, v := range vs {
			if v.CipherSuite == 1 {
				if i == 0 {
					return decodeTree(t, suite1(t), v.Tree), v.GroupID
				}
				i--
			}
		}
		t.Fatal("no such vector")
		return nil, nil
	}
}

// TestValidateRejects checks that Validate notices each kind of damage a
// malicious Welcome could carry.
func TestValidateRejects(t *testing.T) {
	validationTree := validationTrees(t)
	// Vector 10: get_tree(7) plus an Add, so it has unmerged leaves.
	cases := map[string]func(tr *Tree){
		"parent key replaced": func(tr *Tree) {
			p := *tr.nodes[3].parent
			p.EncryptionKey = append([]byte(nil), p.EncryptionKey...)
			p.EncryptionKey[0] ^= 1
			tr.set(3, nil, &p)
		},
		"parent hash replaced": func(tr *Tree) {
			p := *tr.nodes[1].parent
			p.ParentHash = append([]byte(nil), p.ParentHash...)
			p.ParentHash[0] ^= 1
			tr.set(1, nil, &p)
		},
		"leaf signature": func(tr *Tree) {
			l := *tr.nodes[2].leaf
			l.Signature = append([]byte(nil), l.Signature...)
			l.Signature[0] ^= 1
			tr.set(2, &l, nil)
		},
		"leaf identity": func(tr *Tree) {
			l := *tr.nodes[4].leaf
			l.Credential.Identity = []byte("mallory")
			tr.set(4, &l, nil)
		},
		"duplicate encryption key": func(tr *Tree) {
			p := *tr.nodes[1].parent
			p.EncryptionKey = tr.nodes[0].leaf.EncryptionKey
			tr.set(1, nil, &p)
		},
		"duplicate leaf": func(tr *Tree) {
			tr.set(12, tr.nodes[2].leaf, nil)
		},
		"unmerged leaf not below": func(tr *Tree) {
			p := *tr.nodes[1].parent
			p.UnmergedLeaves = append(p.UnmergedLeaves, 3)
			tr.set(1, nil, &p)
		},
		"parent with blank subtree": func(tr *Tree) {
			// Blank leaves 0 and 1 under a non-blank parent 1.
			tr.set(0, nil, nil)
			tr.set(2, nil, nil)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			tr, groupID := validationTree(t, 10)
			if err := tr.Validate(groupID, nil); err != nil {
				t.Fatalf("undamaged tree: %v", err)
			}
			damage(tr)
			err := tr.Validate(groupID, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("wrong group", func(t *testing.T) {
		tr, _ := validationTree(t, 10)
		if err := tr.Validate([]byte("another group"), nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate = %v, want ErrInvalid", err)
		}
	})
}

// TestFromRatchetTreeShape checks the shape rules of RFC 9420 §12.4.3.3.
func TestFromRatchetTreeShape(t *testing.T) {
	s := suite1(t)
	leaf := &wire.Node{Type: wire.NodeTypeLeaf, Leaf: &wire.LeafNode{}}
	parent := &wire.Node{Type: wire.NodeTypeParent, Parent: &wire.ParentNode{}}
	bad := map[string]wire.RatchetTree{
		"empty":            {},
		"trailing blank":   {leaf, nil, nil},
		"ends with parent": {leaf, parent},
		"parent at leaf":   {parent},
		"leaf at parent":   {leaf, leaf, leaf},
	}
	bad["unmerged leaf outside the tree"] = wire.RatchetTree{leaf, {Type: wire.NodeTypeParent, Parent: &wire.ParentNode{UnmergedLeaves: []uint32{5000}}}, leaf}
	bad["unmerged leaf wrapping around"] = wire.RatchetTree{leaf, {Type: wire.NodeTypeParent, Parent: &wire.ParentNode{UnmergedLeaves: []uint32{1 << 31}}}, leaf}
	bad["unmerged leaf in another subtree"] = wire.RatchetTree{leaf, parent, leaf, {Type: wire.NodeTypeParent, Parent: &wire.ParentNode{}}, leaf, {Type: wire.NodeTypeParent, Parent: &wire.ParentNode{UnmergedLeaves: []uint32{0}}}, leaf}
	for name, rt := range bad {
		if _, err := FromRatchetTree(s, rt); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// Five nodes (three leaves) extend to a tree of four leaves.
	tr, err := FromRatchetTree(s, wire.RatchetTree{leaf, nil, nil, nil, leaf})
	if err != nil {
		t.Fatal(err)
	}
	if tr.LeafCount() != 4 || len(tr.RatchetTree()) != 5 {
		t.Fatalf("leaf count %d, re-encoded %d nodes", tr.LeafCount(), len(tr.RatchetTree()))
	}
	if got := tr.FilteredDirectPath(0); len(got) != 1 || got[0] != treemath.NodeIndex(3) {
		t.Fatalf("filtered direct path of leaf 0 = %v, want [3]", got)
	}
}

// clone returns a copy of p that shares no secrets with it.
func (p *PrivateTree) clone() *PrivateTree {
	q := &PrivateTree{suite: p.suite, leaf: p.leaf, path: make(map[treemath.NodeIndex]*pathNode, len(p.path))}
	cloneKey := func(k *suite.HPKEPrivateKey) *suite.HPKEPrivateKey {
		b, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		c, err := p.suite.ParseHPKEPrivateKey(b)
		if err != nil {
			panic(err)
		}
		return c
	}
	if p.leafKey != nil {
		q.leafKey = cloneKey(p.leafKey)
	}
	for x, n := range p.path {
		q.path[x] = &pathNode{secret: bytes.Clone(n.secret), key: cloneKey(n.key)}
	}
	return q
}
