package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// The tests in this file check the to-be-signed and to-be-MACed helpers
// against the vectors' real signatures, MACs and hashes: a TBS encoding that
// is off by one byte makes the signature fail. The encodings do not depend
// on the suite, so signatures are checked for the Ed25519 suites (1 and 3)
// only; the other signature schemes belong to package suite.

// ed25519Suite reports whether suite signs with Ed25519 (RFC 9420 §17.1).
func ed25519Suite(suite int) bool { return suite == 1 || suite == 3 }

// suiteHash returns the hash of an RFC 9420 §17.1 cipher suite.
func suiteHash(t *testing.T, suite int) func() hash.Hash {
	switch suite {
	case 1, 2, 3:
		return sha256.New
	case 4, 5, 6:
		return sha512.New
	case 7:
		return sha512.New384
	}
	t.Fatalf("unknown cipher suite %d", suite)
	return nil
}

// verifyWithLabel is VerifyWithLabel of RFC 9420 §5.1.2 for Ed25519:
//
//	struct {
//	    opaque label<V>;
//	    opaque content<V>;
//	} SignContent;
func verifyWithLabel(t *testing.T, pub []byte, label string, content, sig []byte) bool {
	t.Helper()
	var b codec.Builder
	b.Opaque([]byte("MLS 1.0 " + label))
	b.Opaque(content)
	msg, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

func mac(h func() hash.Hash, key, data []byte) []byte {
	m := hmac.New(h, key)
	m.Write(data)
	return m.Sum(nil)
}

func TestLeafNodeSignatures(t *testing.T) {
	checked := 0
	var tv []struct {
		Suite   int              `json:"cipher_suite"`
		Tree    vectors.HexBytes `json:"tree"`
		GroupID vectors.HexBytes `json:"group_id"`
	}
	vectors.Load(t, "tree-validation", &tv)
	for i, v := range tv {
		if !ed25519Suite(v.Suite) {
			continue
		}
		var tree RatchetTree
		if err := codec.Unmarshal(v.Tree, &tree); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(tree); n += 2 {
			if tree[n] == nil {
				continue
			}
			leaf := tree[n].Leaf
			tbs, err := leaf.LeafNodeTBS(v.GroupID, uint32(n/2))
			if err != nil {
				t.Fatal(err)
			}
			if !verifyWithLabel(t, leaf.SignatureKey, "LeafNodeTBS", tbs, leaf.Signature) {
				t.Errorf("tree-validation[%d] leaf %d (source %d): signature does not verify", i, n/2, leaf.Source)
			}
			// The same leaf bound to another position must not verify
			// unless its source is key_package, which binds no position.
			other, _ := leaf.LeafNodeTBS(v.GroupID, uint32(n/2)+1)
			if leaf.Source != SourceKeyPackage && verifyWithLabel(t, leaf.SignatureKey, "LeafNodeTBS", other, leaf.Signature) {
				t.Errorf("tree-validation[%d] leaf %d: signature verifies at the wrong index", i, n/2)
			}
			checked++
		}
	}

	var tk []struct {
		Suite       int              `json:"cipher_suite"`
		GroupID     vectors.HexBytes `json:"group_id"`
		UpdatePaths []struct {
			Sender     uint32           `json:"sender"`
			UpdatePath vectors.HexBytes `json:"update_path"`
		} `json:"update_paths"`
	}
	vectors.Load(t, "treekem", &tk)
	for i, v := range tk {
		if !ed25519Suite(v.Suite) {
			continue
		}
		for j, u := range v.UpdatePaths {
			var p UpdatePath
			if err := codec.Unmarshal(u.UpdatePath, &p); err != nil {
				t.Fatal(err)
			}
			if p.LeafNode.Source != SourceCommit {
				t.Fatalf("treekem[%d].update_paths[%d]: leaf source %d, want commit", i, j, p.LeafNode.Source)
			}
			tbs, err := p.LeafNode.LeafNodeTBS(v.GroupID, u.Sender)
			if err != nil {
				t.Fatal(err)
			}
			if !verifyWithLabel(t, p.LeafNode.SignatureKey, "LeafNodeTBS", tbs, p.LeafNode.Signature) {
				t.Errorf("treekem[%d].update_paths[%d]: leaf signature does not verify", i, j)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d leaf signatures checked", checked)
	}
	t.Logf("%d leaf signatures verified", checked)
}

func TestKeyPackageSignatures(t *testing.T) {
	checked := 0
	for _, file := range []string{"welcome", "passive-client-welcome", "passive-client-handling-commit", "passive-client-random"} {
		var es []struct {
			Suite      int              `json:"cipher_suite"`
			KeyPackage vectors.HexBytes `json:"key_package"`
		}
		vectors.Load(t, file, &es)
		for i, e := range es {
			if !ed25519Suite(e.Suite) {
				continue
			}
			var m MLSMessage
			if err := codec.Unmarshal(e.KeyPackage, &m); err != nil || m.KeyPackage == nil {
				t.Fatalf("%s[%d]: %v", file, i, err)
			}
			kp := m.KeyPackage
			tbs, err := kp.KeyPackageTBS()
			if err != nil {
				t.Fatal(err)
			}
			leaf := &kp.LeafNode
			if !verifyWithLabel(t, leaf.SignatureKey, "KeyPackageTBS", tbs, kp.Signature) {
				t.Errorf("%s[%d]: KeyPackage signature does not verify", file, i)
			}
			ltbs, err := leaf.LeafNodeTBS(nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !verifyWithLabel(t, leaf.SignatureKey, "LeafNodeTBS", ltbs, leaf.Signature) {
				t.Errorf("%s[%d]: LeafNode signature does not verify", file, i)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d key packages checked", checked)
	}
}

// TestFramingVectors checks FramedContentTBS, AuthenticatedContentTBM and
// the GroupContext encoding against the signatures and membership tags of
// message-protection.json.
func TestFramingVectors(t *testing.T) {
	var mp []struct {
		Suite                   int              `json:"cipher_suite"`
		GroupID                 vectors.HexBytes `json:"group_id"`
		Epoch                   uint64           `json:"epoch"`
		TreeHash                vectors.HexBytes `json:"tree_hash"`
		ConfirmedTranscriptHash vectors.HexBytes `json:"confirmed_transcript_hash"`
		SignaturePub            vectors.HexBytes `json:"signature_pub"`
		MembershipKey           vectors.HexBytes `json:"membership_key"`
		Proposal                vectors.HexBytes `json:"proposal"`
		ProposalPub             vectors.HexBytes `json:"proposal_pub"`
		Commit                  vectors.HexBytes `json:"commit"`
		CommitPub               vectors.HexBytes `json:"commit_pub"`
	}
	vectors.Load(t, "message-protection", &mp)
	for i, v := range mp {
		gc := GroupContext{Version: MLS10, CipherSuite: CipherSuite(v.Suite), GroupID: v.GroupID, Epoch: v.Epoch,
			TreeHash: v.TreeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash, Extensions: nil}
		ctx, err := codec.Marshal(&gc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name       string
			msg, inner []byte
		}{{"proposal_pub", v.ProposalPub, v.Proposal}, {"commit_pub", v.CommitPub, v.Commit}} {
			name := fmt.Sprintf("message-protection[%d].%s", i, c.name)
			var m MLSMessage
			if err := codec.Unmarshal(c.msg, &m); err != nil {
				t.Fatal(err)
			}
			pm := m.PublicMessage
			if pm.Content.Sender.Type != SenderMember || pm.Content.Sender.LeafIndex != 1 {
				t.Fatalf("%s: sender %+v, want member 1", name, pm.Content.Sender)
			}
			// The content must be the raw proposal or commit of the vector.
			var inner []byte
			if pm.Content.Proposal != nil {
				inner, err = codec.Marshal(pm.Content.Proposal)
			} else {
				inner, err = codec.Marshal(pm.Content.Commit)
			}
			if err != nil || !bytes.Equal(inner, c.inner) {
				t.Errorf("%s: content differs from the raw value (%v)", name, err)
			}
			tbs, err := FramedContentTBS(WireFormatPublicMessage, &pm.Content, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ed25519Suite(v.Suite) && !verifyWithLabel(t, v.SignaturePub, "FramedContentTBS", tbs, pm.Auth.Signature) {
				t.Errorf("%s: signature does not verify", name)
			}
			tbm, err := AuthenticatedContentTBM(tbs, pm.Content.ContentType, &pm.Auth)
			if err != nil {
				t.Fatal(err)
			}
			if tag := mac(suiteHash(t, v.Suite), v.MembershipKey, tbm); !hmac.Equal(tag, pm.MembershipTag) {
				t.Errorf("%s: membership tag does not verify", name)
			}
		}
	}
}

// TestFramedContentTBSRules checks which senders take a GroupContext.
func TestFramedContentTBSRules(t *testing.T) {
	ctx := []byte{1, 2, 3}
	for _, c := range []struct {
		sender  SenderType
		withCtx bool
	}{{SenderMember, true}, {SenderNewMemberCommit, true}, {SenderExternal, false}, {SenderNewMemberProposal, false}} {
		fc := &FramedContent{Sender: Sender{Type: c.sender}, ContentType: ContentApplication}
		with, errWith := FramedContentTBS(WireFormatPublicMessage, fc, ctx)
		without, errWithout := FramedContentTBS(WireFormatPublicMessage, fc, nil)
		if c.withCtx {
			if errWith != nil || errWithout == nil || !bytes.HasSuffix(with, ctx) {
				t.Errorf("sender %d: with ctx %v, without ctx %v", c.sender, errWith, errWithout)
			}
		} else if errWith == nil || errWithout != nil || len(without) == 0 {
			t.Errorf("sender %d: with ctx %v, without ctx %v", c.sender, errWith, errWithout)
		}
	}
}

// TestTranscriptHashVectors checks ConfirmedTranscriptHashInput and
// InterimTranscriptHashInput against transcript-hashes.json (RFC 9420 §8.2).
func TestTranscriptHashVectors(t *testing.T) {
	var th []struct {
		Suite                        int              `json:"cipher_suite"`
		ConfirmationKey              vectors.HexBytes `json:"confirmation_key"`
		AuthenticatedContent         vectors.HexBytes `json:"authenticated_content"`
		InterimTranscriptHashBefore  vectors.HexBytes `json:"interim_transcript_hash_before"`
		ConfirmedTranscriptHashAfter vectors.HexBytes `json:"confirmed_transcript_hash_after"`
		InterimTranscriptHashAfter   vectors.HexBytes `json:"interim_transcript_hash_after"`
	}
	vectors.Load(t, "transcript-hashes", &th)
	for i, v := range th {
		var ac AuthenticatedContent
		if err := codec.Unmarshal(v.AuthenticatedContent, &ac); err != nil {
			t.Fatal(err)
		}
		h := suiteHash(t, v.Suite)
		in, err := ConfirmedTranscriptHashInput(ac.WireFormat, &ac.Content, ac.Auth.Signature)
		if err != nil {
			t.Fatal(err)
		}
		hh := h()
		hh.Write(v.InterimTranscriptHashBefore)
		hh.Write(in)
		confirmed := hh.Sum(nil)
		if !bytes.Equal(confirmed, v.ConfirmedTranscriptHashAfter) {
			t.Errorf("transcript-hashes[%d]: confirmed transcript hash differs", i)
		}
		if tag := mac(h, v.ConfirmationKey, confirmed); !hmac.Equal(tag, ac.Auth.ConfirmationTag) {
			t.Errorf("transcript-hashes[%d]: confirmation tag differs", i)
		}
		in, err = InterimTranscriptHashInput(ac.Auth.ConfirmationTag)
		if err != nil {
			t.Fatal(err)
		}
		hh = h()
		hh.Write(confirmed)
		hh.Write(in)
		if !bytes.Equal(hh.Sum(nil), v.InterimTranscriptHashAfter) {
			t.Errorf("transcript-hashes[%d]: interim transcript hash differs", i)
		}
	}
	if _, err := ConfirmedTranscriptHashInput(WireFormatPublicMessage, &FramedContent{ContentType: ContentProposal}, nil); err == nil {
		t.Error("ConfirmedTranscriptHashInput accepted a proposal")
	}
}

// TestGroupContextVectors builds the GroupContext of every epoch of
// key-schedule.json and compares its encoding with the vector's.
func TestGroupContextVectors(t *testing.T) {
	var ks []struct {
		Suite   int              `json:"cipher_suite"`
		GroupID vectors.HexBytes `json:"group_id"`
		Epochs  []struct {
			TreeHash                vectors.HexBytes `json:"tree_hash"`
			ConfirmedTranscriptHash vectors.HexBytes `json:"confirmed_transcript_hash"`
			GroupContext            vectors.HexBytes `json:"group_context"`
		} `json:"epochs"`
	}
	vectors.Load(t, "key-schedule", &ks)
	n := 0
	for i, v := range ks {
		for e, ep := range v.Epochs {
			gc := GroupContext{Version: MLS10, CipherSuite: CipherSuite(v.Suite), GroupID: v.GroupID, Epoch: uint64(e),
				TreeHash: ep.TreeHash, ConfirmedTranscriptHash: ep.ConfirmedTranscriptHash}
			enc, err := codec.Marshal(&gc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, ep.GroupContext) {
				t.Errorf("key-schedule[%d] epoch %d: GroupContext encoding differs", i, e)
			}
			roundTrip(t, fmt.Sprintf("key-schedule[%d] epoch %d", i, e), ep.GroupContext, new(GroupContext))
			n++
		}
	}
	if n == 0 {
		t.Fatal("no epochs")
	}
}

// TestGroupInfoTBS checks that GroupInfoTBS is the GroupInfo encoding
// without its signature, for every messages.json GroupInfo.
func TestGroupInfoTBS(t *testing.T) {
	var vs []messagesVector
	vectors.Load(t, "messages", &vs)
	for i, v := range vs {
		var m MLSMessage
		if err := codec.Unmarshal(v.MLSGroupInfo, &m); err != nil {
			t.Fatal(err)
		}
		tbs, err := m.GroupInfo.GroupInfoTBS()
		if err != nil {
			t.Fatal(err)
		}
		var b codec.Builder
		b.Raw(tbs)
		b.Opaque(m.GroupInfo.Signature)
		enc, _ := b.Bytes()
		if !bytes.Equal(enc, v.MLSGroupInfo[4:]) {
			t.Fatalf("messages[%d]: GroupInfoTBS || signature differs from the GroupInfo", i)
		}
	}
}
