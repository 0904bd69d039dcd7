package tree

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

type treeKEMVector struct {
	CipherSuite             uint16           `json:"cipher_suite"`
	GroupID                 vectors.HexBytes `json:"group_id"`
	Epoch                   uint64           `json:"epoch"`
	ConfirmedTranscriptHash vectors.HexBytes `json:"confirmed_transcript_hash"`
	RatchetTree             vectors.HexBytes `json:"ratchet_tree"`
	LeavesPrivate           []struct {
		Index          uint32           `json:"index"`
		EncryptionPriv vectors.HexBytes `json:"encryption_priv"`
		SignaturePriv  vectors.HexBytes `json:"signature_priv"`
		PathSecrets    []struct {
			Node       uint32           `json:"node"`
			PathSecret vectors.HexBytes `json:"path_secret"`
		} `json:"path_secrets"`
	} `json:"leaves_private"`
	UpdatePaths []struct {
		Sender        uint32             `json:"sender"`
		UpdatePath    vectors.HexBytes   `json:"update_path"`
		PathSecrets   []vectors.HexBytes `json:"path_secrets"`
		CommitSecret  vectors.HexBytes   `json:"commit_secret"`
		TreeHashAfter vectors.HexBytes   `json:"tree_hash_after"`
	} `json:"update_paths"`
}

// groupContextFunc returns the provisional GroupContext encoder of a
// treekem vector: its fields with the given tree hash and no extensions.
func (v *treeKEMVector) groupContext(t testing.TB) func(treeHash []byte) ([]byte, error) {
	return func(treeHash []byte) ([]byte, error) {
		return codec.Marshal(&wire.GroupContext{
			Version: wire.MLS10, CipherSuite: wire.CipherSuite(v.CipherSuite), GroupID: v.GroupID,
			Epoch: v.Epoch, TreeHash: treeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash,
			Extensions: []wire.Extension{},
		})
	}
}

// TestTreeKEMVectors runs treekem.json as test-vectors.md prescribes: every
// member decrypts every UpdatePath to the published path secret and commit
// secret, the merged tree has the published tree hash, and a new UpdatePath
// created for the same sender decrypts to one commit secret for everyone.
func TestTreeKEMVectors(t *testing.T) {
	var vs []treeKEMVector
	vectors.Load(t, "treekem", &vs)
	passed, decaps, encaps := 0, 0, 0
	for i := range vs {
		v := &vs[i]
		t.Run(fmt.Sprintf("%d/suite%d", i, v.CipherSuite), func(t *testing.T) {
			s := suiteOrSkip(t, v.CipherSuite)
			tr := decodeTree(t, s, v.RatchetTree)
			privs := map[treemath.LeafIndex]*PrivateTree{}
			sigKeys := map[treemath.LeafIndex]*suite.SignaturePrivateKey{}
			for _, lp := range v.LeavesPrivate {
				l := treemath.LeafIndex(lp.Index)
				key, err := s.ParseHPKEPrivateKey(lp.EncryptionPriv)
				if err != nil {
					t.Fatal(err)
				}
				p := NewPrivateTree(s, l, key)
				for _, pp := range lp.PathSecrets {
					n, err := newPathNode(s, pp.PathSecret)
					if err != nil {
						t.Fatal(err)
					}
					p.path[treemath.NodeIndex(pp.Node)] = n
				}
				if err := p.Check(tr); err != nil {
					t.Fatalf("private state of leaf %d: %v", l, err)
				}
				privs[l] = p
				if sigKeys[l], err = s.ParseSignaturePrivateKey(lp.SignaturePriv); err != nil {
					t.Fatal(err)
				}
			}
			gc := v.groupContext(t)
			for _, up := range v.UpdatePaths {
				sender := treemath.LeafIndex(up.Sender)
				var path wire.UpdatePath
				if err := codec.Unmarshal(up.UpdatePath, &path); err != nil {
					t.Fatal(err)
				}
				merged := tr.Clone()
				if err := merged.MergeUpdatePath(sender, &path, v.GroupID, nil); err != nil {
					t.Fatalf("merging UpdatePath of leaf %d: %v", sender, err)
				}
				th, err := merged.TreeHash()
				if err != nil || !bytes.Equal(th, up.TreeHashAfter) {
					t.Fatalf("tree hash after UpdatePath of leaf %d = %x, %v; want %x", sender, th, err, up.TreeHashAfter)
				}
				ctx, err := gc(th)
				if err != nil {
					t.Fatal(err)
				}
				for j, p := range privs {
					if j == sender || tr.Leaf(j) == nil {
						continue
					}
					ps, commit, err := p.DecryptUpdatePath(merged, sender, &path, nil, ctx)
					if err != nil {
						t.Fatalf("leaf %d decrypting the path of leaf %d: %v", j, sender, err)
					}
					lca := treemath.CommonAncestor(sender.Node(), j.Node())
					if got := ps.PathSecret(lca); !bytes.Equal(got, up.PathSecrets[j]) {
						t.Errorf("leaf %d: path secret of node %d = %x, want %x", j, lca, got, up.PathSecrets[j])
					}
					if !bytes.Equal(commit, up.CommitSecret) {
						t.Errorf("leaf %d: commit secret = %x, want %x", j, commit, up.CommitSecret)
					}
					// The new state fits the merged tree; the old one is
					// untouched.
					next := p.clone()
					if err := next.Apply(merged, ps); err != nil {
						t.Errorf("leaf %d: applying path secrets: %v", j, err)
					}
					if err := p.Check(tr); err != nil {
						t.Fatalf("leaf %d: old private state changed: %v", j, err)
					}
					decaps++
				}

				// Re-encap: a new UpdatePath from the same sender.
				sig := sigKeys[sender]
				if sig == nil {
					t.Fatalf("no signature key for leaf %d", sender)
				}
				committerTree := tr.Clone()
				newPath, ps, newCommit, err := committerTree.CreateUpdatePath(sender, UpdatePathParams{
					Rand: rand.Reader, LeafNode: tr.Leaf(sender), SignatureKey: sig,
					GroupID: v.GroupID, GroupContext: gc,
				})
				if err != nil {
					t.Fatalf("CreateUpdatePath for leaf %d: %v", sender, err)
				}
				encoded, err := codec.Marshal(newPath)
				if err != nil {
					t.Fatal(err)
				}
				var decoded wire.UpdatePath
				if err := codec.Unmarshal(encoded, &decoded); err != nil {
					t.Fatal(err)
				}
				other := tr.Clone()
				if err := other.MergeUpdatePath(sender, &decoded, v.GroupID, nil); err != nil {
					t.Fatalf("merging the new UpdatePath of leaf %d: %v", sender, err)
				}
				if !bytes.Equal(encodeTree(t, other), encodeTree(t, committerTree)) {
					t.Fatalf("committer and receivers disagree on the tree after the new UpdatePath")
				}
				th, err = other.TreeHash()
				if err != nil {
					t.Fatal(err)
				}
				ctx, err = gc(th)
				if err != nil {
					t.Fatal(err)
				}
				for j, p := range privs {
					if j == sender || tr.Leaf(j) == nil {
						continue
					}
					_, commit, err := p.DecryptUpdatePath(other, sender, &decoded, nil, ctx)
					if err != nil {
						t.Fatalf("leaf %d decrypting the new path of leaf %d: %v", j, sender, err)
					}
					if !bytes.Equal(commit, newCommit) {
						t.Errorf("leaf %d: new commit secret differs from the committer's", j)
					}
					encaps++
				}
				committer := privs[sender].clone()
				if err := committer.Apply(committerTree, ps); err != nil {
					t.Errorf("committer applying its path secrets: %v", err)
				}
			}
			if !t.Failed() {
				passed++
			}
		})
	}
	t.Logf("treekem: %d of %d vectors passed (%d decryptions of published paths, %d of new paths); others skipped: unsupported suites", passed, len(vs), decaps, encaps)
}
