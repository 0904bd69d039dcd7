package wire

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"

	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// TestTreeVectors round-trips every ratchet tree in the tree-validation,
// treekem and tree-operations vectors (all cipher suites: the encoding does
// not depend on the suite).
func TestTreeVectors(t *testing.T) {
	var validation []struct {
		Tree vectors.HexBytes `json:"tree"`
	}
	vectors.Load(t, "tree-validation", &validation)
	var treekem []struct {
		Tree vectors.HexBytes `json:"ratchet_tree"`
	}
	vectors.Load(t, "treekem", &treekem)
	var ops []struct {
		Before   vectors.HexBytes `json:"tree_before"`
		After    vectors.HexBytes `json:"tree_after"`
		Proposal vectors.HexBytes `json:"proposal"`
	}
	vectors.Load(t, "tree-operations", &ops)

	n := 0
	check := func(name string, data []byte) {
		n++
		var tree RatchetTree
		roundTrip(t, name, data, &tree)
	}
	for i, v := range validation {
		check(fmt.Sprintf("tree-validation[%d]", i), v.Tree)
	}
	for i, v := range treekem {
		check(fmt.Sprintf("treekem[%d]", i), v.Tree)
	}
	for i, v := range ops {
		check(fmt.Sprintf("tree-operations[%d].tree_before", i), v.Before)
		check(fmt.Sprintf("tree-operations[%d].tree_after", i), v.After)
	}
	if n != len(validation)+len(treekem)+2*len(ops) || n < 150 {
		t.Fatalf("only %d trees checked", n)
	}
}

func TestRatchetTreeRejects(t *testing.T) {
	var msgs []struct {
		Tree vectors.HexBytes `json:"ratchet_tree"`
	}
	vectors.Load(t, "messages", &msgs)
	tree := []byte(msgs[0].Tree)
	requireTruncationsFail(t, "ratchet_tree", tree, func() wireValue { return new(RatchetTree) })

	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", []byte{0x00}},
		{"one blank", []byte{0x01, 0x00}},
		{"bad optional byte", []byte{0x01, 0x02}},
		{"unknown node type", []byte{0x02, 0x01, 0x03}},
	} {
		var rt RatchetTree
		if err := unmarshal(c.data, &rt); err == nil {
			t.Errorf("%s: decoded", c.name)
		}
	}
	// A tree whose last entry is blank must be rejected on both sides.
	var rt RatchetTree
	if err := unmarshal(tree, &rt); err != nil {
		t.Fatal(err)
	}
	rt = append(rt, nil)
	if _, err := marshal(&rt); err == nil {
		t.Error("encoded a tree with a trailing blank")
	}
	// A parent node in a leaf position is rejected.
	parent := &Node{Type: NodeTypeParent, Parent: &ParentNode{}}
	bad := RatchetTree{parent}
	enc, err := marshal(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarshal(enc, &rt); err == nil {
		t.Error("decoded a parent node at index 0")
	}
}

// TestKeyPackageVectors round-trips every KeyPackage in the welcome and
// passive-client vectors and in messages.json.
func TestKeyPackageVectors(t *testing.T) {
	type entry struct {
		KeyPackage vectors.HexBytes `json:"key_package"`
	}
	var kps [][]byte
	for _, file := range []string{"welcome", "passive-client-welcome", "passive-client-handling-commit", "passive-client-random"} {
		var es []entry
		vectors.Load(t, file, &es)
		for _, e := range es {
			kps = append(kps, e.KeyPackage)
		}
	}
	var msgs []struct {
		KeyPackage vectors.HexBytes `json:"mls_key_package"`
	}
	vectors.Load(t, "messages", &msgs)
	for _, m := range msgs {
		kps = append(kps, m.KeyPackage)
	}
	for i, data := range kps {
		// Each is an MLSMessage: version mls10 (0x0001), wire format
		// mls_key_package (0x0005), then the KeyPackage.
		if len(data) < 4 || data[0] != 0 || data[1] != 1 || data[2] != 0 || data[3] != 5 {
			t.Fatalf("key package %d: not an MLSMessage(KeyPackage): %x", i, data[:min(4, len(data))])
		}
		var kp KeyPackage
		roundTrip(t, fmt.Sprintf("key package %d", i), data[4:], &kp)
		if t.Failed() {
			return
		}
		tbs, err := kp.KeyPackageTBS()
		if err != nil {
			t.Fatal(err)
		}
		sigField, _ := codec.AppendVarint(nil, uint64(len(kp.Signature)))
		if want := data[4 : len(data)-len(kp.Signature)-len(sigField)]; !bytes.Equal(tbs, want) {
			t.Fatalf("key package %d: TBS is not the prefix before the signature", i)
		}
	}
	if len(kps) < 300 {
		t.Fatalf("only %d key packages", len(kps))
	}
	requireTruncationsFail(t, "key package", kps[0][4:], func() wireValue { return new(KeyPackage) })
}
