package wire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// TestPrivateMessageVectors decrypts the PrivateMessages of
// message-protection.json for the suites that use SHA-256 and Ed25519 (1 and
// 3) and checks SenderData, SenderDataAAD, PrivateContentAAD,
// PrivateMessageContent (including its padding, which must re-encode to the
// exact plaintext) and FramedContentTBS for wire format mls_private_message
// against the real ciphertexts and signatures. The key derivation here is
// the minimum needed by the test (RFC 9420 §5.1.3, §6.3, §9) and is not
// package secrettree's.
func TestPrivateMessageVectors(t *testing.T) {
	var mp []struct {
		Suite                   int              `json:"cipher_suite"`
		GroupID                 vectors.HexBytes `json:"group_id"`
		Epoch                   uint64           `json:"epoch"`
		TreeHash                vectors.HexBytes `json:"tree_hash"`
		ConfirmedTranscriptHash vectors.HexBytes `json:"confirmed_transcript_hash"`
		SignaturePub            vectors.HexBytes `json:"signature_pub"`
		EncryptionSecret        vectors.HexBytes `json:"encryption_secret"`
		SenderDataSecret        vectors.HexBytes `json:"sender_data_secret"`
		Proposal                vectors.HexBytes `json:"proposal"`
		ProposalPriv            vectors.HexBytes `json:"proposal_priv"`
		Commit                  vectors.HexBytes `json:"commit"`
		CommitPriv              vectors.HexBytes `json:"commit_priv"`
		Application             vectors.HexBytes `json:"application"`
		ApplicationPriv         vectors.HexBytes `json:"application_priv"`
	}
	vectors.Load(t, "message-protection", &mp)
	checked := 0
	for i, v := range mp {
		var newAEAD func(key []byte) (cipher.AEAD, error)
		var nk int
		switch v.Suite {
		case 1:
			nk, newAEAD = 16, func(key []byte) (cipher.AEAD, error) {
				b, err := aes.NewCipher(key)
				if err != nil {
					return nil, err
				}
				return cipher.NewGCM(b)
			}
		case 3:
			nk, newAEAD = 32, chacha20poly1305.New
		default:
			continue // other AEADs and hashes belong to package suite
		}
		expand := func(secret []byte, label string, context []byte, length int) []byte {
			var b codec.Builder
			b.Uint16(uint16(length))
			b.Opaque([]byte("MLS 1.0 " + label))
			b.Opaque(context)
			info, _ := b.Bytes()
			out, err := hkdf.Expand(sha256.New, secret, string(info), length)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		open := func(key, nonce, aad, ct []byte) []byte {
			a, err := newAEAD(key)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := a.Open(nil, nonce, ct, aad)
			if err != nil {
				t.Fatalf("message-protection[%d]: AEAD open: %v", i, err)
			}
			return pt
		}
		gc := GroupContext{Version: MLS10, CipherSuite: CipherSuite(v.Suite), GroupID: v.GroupID, Epoch: v.Epoch,
			TreeHash: v.TreeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash}
		ctx, err := codec.Marshal(&gc)
		if err != nil {
			t.Fatal(err)
		}
		// Leaf 1 of a two-leaf secret tree is the root's right child.
		leafSecret := expand(v.EncryptionSecret, "tree", []byte("right"), 32)

		for _, c := range []struct {
			name       string
			msg, inner []byte
			ratchet    string
		}{
			{"proposal_priv", v.ProposalPriv, v.Proposal, "handshake"},
			{"commit_priv", v.CommitPriv, v.Commit, "handshake"},
			{"application_priv", v.ApplicationPriv, v.Application, "application"},
		} {
			name := fmt.Sprintf("message-protection[%d].%s", i, c.name)
			var m MLSMessage
			if err := codec.Unmarshal(c.msg, &m); err != nil {
				t.Fatal(err)
			}
			pm := m.PrivateMessage

			// Sender data (RFC 9420 §6.3.2).
			sample := pm.Ciphertext[:min(32, len(pm.Ciphertext))]
			sdAAD, err := pm.SenderDataAAD()
			if err != nil {
				t.Fatal(err)
			}
			sdBytes := open(expand(v.SenderDataSecret, "key", sample, nk), expand(v.SenderDataSecret, "nonce", sample, 12), sdAAD, pm.EncryptedSenderData)
			var sd SenderData
			roundTrip(t, name+" sender data", sdBytes, &sd)
			if sd.LeafIndex != 1 {
				t.Fatalf("%s: sender leaf %d, want 1", name, sd.LeafIndex)
			}

			// Content (RFC 9420 §6.3.1, §9.1).
			secret := expand(leafSecret, c.ratchet, nil, 32)
			for g := uint32(0); g < sd.Generation; g++ {
				secret = expand(secret, "secret", binary.BigEndian.AppendUint32(nil, g), 32)
			}
			gen := binary.BigEndian.AppendUint32(nil, sd.Generation)
			key, nonce := expand(secret, "key", gen, nk), expand(secret, "nonce", gen, 12)
			for j := range sd.ReuseGuard {
				nonce[j] ^= sd.ReuseGuard[j]
			}
			aad, err := pm.PrivateContentAAD()
			if err != nil {
				t.Fatal(err)
			}
			pt := open(key, nonce, aad, pm.Ciphertext)
			pc, err := UnmarshalPrivateMessageContent(pt, pm.ContentType)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			re, err := MarshalPrivateMessageContent(pc, pm.ContentType)
			if err != nil || !bytes.Equal(re, pt) {
				t.Fatalf("%s: PrivateMessageContent does not re-encode to the plaintext (%v)", name, err)
			}
			var inner []byte
			switch pm.ContentType {
			case ContentApplication:
				inner = pc.ApplicationData
			case ContentProposal:
				inner, err = codec.Marshal(pc.Proposal)
			case ContentCommit:
				inner, err = codec.Marshal(pc.Commit)
			}
			if err != nil || !bytes.Equal(inner, c.inner) {
				t.Errorf("%s: decrypted content differs from the raw value", name)
			}

			// Signature over the FramedContentTBS (RFC 9420 §6.1).
			fc := FramedContent{GroupID: pm.GroupID, Epoch: pm.Epoch, Sender: Sender{Type: SenderMember, LeafIndex: sd.LeafIndex},
				AuthenticatedData: pm.AuthenticatedData, ContentType: pm.ContentType,
				ApplicationData: pc.ApplicationData, Proposal: pc.Proposal, Commit: pc.Commit}
			tbs, err := FramedContentTBS(WireFormatPrivateMessage, &fc, ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !verifyWithLabel(t, v.SignaturePub, "FramedContentTBS", tbs, pc.Auth.Signature) {
				t.Errorf("%s: signature does not verify", name)
			}
			checked++
		}
	}
	if checked != 6 {
		t.Fatalf("checked %d private messages, want 6", checked)
	}
}
