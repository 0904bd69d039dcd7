package framing

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/secrettree"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// protectionVector is one entry of message-protection.json (see
// keys/testdata/test-vectors.md, "Message Protection").
type protectionVector struct {
	Suite                   uint16           `json:"cipher_suite"`
	GroupID                 vectors.HexBytes `json:"group_id"`
	Epoch                   uint64           `json:"epoch"`
	TreeHash                vectors.HexBytes `json:"tree_hash"`
	ConfirmedTranscriptHash vectors.HexBytes `json:"confirmed_transcript_hash"`
	SignaturePriv           vectors.HexBytes `json:"signature_priv"`
	SignaturePub            vectors.HexBytes `json:"signature_pub"`
	EncryptionSecret        vectors.HexBytes `json:"encryption_secret"`
	SenderDataSecret        vectors.HexBytes `json:"sender_data_secret"`
	MembershipKey           vectors.HexBytes `json:"membership_key"`
	Proposal                vectors.HexBytes `json:"proposal"`
	ProposalPub             vectors.HexBytes `json:"proposal_pub"`
	ProposalPriv            vectors.HexBytes `json:"proposal_priv"`
	Commit                  vectors.HexBytes `json:"commit"`
	CommitPub               vectors.HexBytes `json:"commit_pub"`
	CommitPriv              vectors.HexBytes `json:"commit_priv"`
	Application             vectors.HexBytes `json:"application"`
	ApplicationPriv         vectors.HexBytes `json:"application_priv"`
}

// epochFor builds the framing epoch of a vector, with a fresh secret tree
// of two members.
func epochFor(t *testing.T, s *suite.Suite, v *protectionVector) *Epoch {
	t.Helper()
	gc := &wire.GroupContext{Version: wire.MLS10, CipherSuite: wire.CipherSuite(v.Suite), GroupID: v.GroupID,
		Epoch: v.Epoch, TreeHash: v.TreeHash, ConfirmedTranscriptHash: v.ConfirmedTranscriptHash}
	gcb, err := codec.Marshal(gc)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := secrettree.New(s, schedule.EncryptionSecret(bytes.Clone(v.EncryptionSecret)), 2, secrettree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &Epoch{Suite: s, GroupContext: gc, GroupContextBytes: gcb,
		SenderData: schedule.SenderDataSecret(v.SenderDataSecret), Membership: schedule.MembershipKey(v.MembershipKey), Tree: tree}
}

func lookupFor(pub []byte) KeyLookup {
	return func(c *wire.FramedContent) (suite.SignaturePublicKey, error) {
		if c.Sender.Type != wire.SenderMember || c.Sender.LeafIndex != 1 {
			return nil, errors.New("unknown sender")
		}
		return suite.SignaturePublicKey(pub), nil
	}
}

// raw returns the encoded proposal, commit or application data of content.
func raw(t *testing.T, c *wire.FramedContent) []byte {
	t.Helper()
	switch c.ContentType {
	case wire.ContentProposal:
		b, err := codec.Marshal(c.Proposal)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case wire.ContentCommit:
		b, err := codec.Marshal(c.Commit)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return c.ApplicationData
}

func decodeMessage(t *testing.T, b []byte) *wire.MLSMessage {
	t.Helper()
	var m wire.MLSMessage
	if err := codec.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestMessageProtectionVectors runs every suite-1 entry of
// message-protection.json as test-vectors.md describes: each given
// PublicMessage and PrivateMessage unprotects to the raw value; each raw value
// protected afresh (as PublicMessage with the membership key, as
// PrivateMessage with the secret tree) unprotects back; application data
// cannot be sent as a PublicMessage.
func TestMessageProtectionVectors(t *testing.T) {
	var all []protectionVector
	vectors.Load(t, "message-protection", &all)
	ran := 0
	for i := range all {
		v := &all[i]
		if v.Suite != 1 {
			continue // package suite implements only suite 1
		}
		s, err := suite.ByID(suite.ID(v.Suite))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := s.ParseSignaturePrivateKey(v.SignaturePriv)
		if err != nil {
			t.Fatal(err)
		}
		lookup := lookupFor(v.SignaturePub)
		for _, c := range []struct {
			name     string
			ct       wire.ContentType
			raw      []byte
			pub, prv []byte
		}{
			{"proposal", wire.ContentProposal, v.Proposal, v.ProposalPub, v.ProposalPriv},
			{"commit", wire.ContentCommit, v.Commit, v.CommitPub, v.CommitPriv},
			{"application", wire.ContentApplication, v.Application, nil, v.ApplicationPriv},
		} {
			t.Run(fmt.Sprintf("%d/%s", i, c.name), func(t *testing.T) {
				e := epochFor(t, s, v)

				// The given PublicMessage.
				if c.pub != nil {
					m := decodeMessage(t, c.pub)
					u, err := UnprotectPublic(e, m.PublicMessage, lookup)
					if err != nil {
						t.Fatalf("unprotect %s_pub: %v", c.name, err)
					}
					if !bytes.Equal(raw(t, &u.Content.Content), c.raw) {
						t.Fatalf("%s_pub: content differs from the raw value", c.name)
					}
				}

				// The given PrivateMessage.
				m := decodeMessage(t, c.prv)
				u, err := UnprotectPrivate(e, m.PrivateMessage, lookup)
				if err != nil {
					t.Fatalf("unprotect %s_priv: %v", c.name, err)
				}
				if !bytes.Equal(raw(t, &u.Content.Content), c.raw) {
					t.Fatalf("%s_priv: content differs from the raw value", c.name)
				}
				if err := u.Consume(); err != nil {
					t.Fatal(err)
				}
				if _, err := UnprotectPrivate(e, m.PrivateMessage, lookup); !errors.Is(err, ErrAuthentication) {
					t.Fatalf("replayed %s_priv: got %v, want ErrAuthentication", c.name, err)
				}

				// Fresh content from leaf 1, protected both ways.
				fc := &wire.FramedContent{GroupID: v.GroupID, Epoch: v.Epoch,
					Sender: wire.Sender{Type: wire.SenderMember, LeafIndex: 1}, ContentType: c.ct}
				switch c.ct {
				case wire.ContentProposal:
					fc.Proposal = new(wire.Proposal)
					if err := codec.Unmarshal(c.raw, fc.Proposal); err != nil {
						t.Fatal(err)
					}
				case wire.ContentCommit:
					fc.Commit = new(wire.Commit)
					if err := codec.Unmarshal(c.raw, fc.Commit); err != nil {
						t.Fatal(err)
					}
				default:
					fc.ApplicationData = c.raw
				}
				var auth wire.FramedContentAuthData
				if c.ct == wire.ContentCommit {
					// Any MAC-sized value: the confirmation tag is the
					// group's to check, not framing's.
					auth.ConfirmationTag = bytes.Repeat([]byte{7}, s.Nh())
				}

				for _, wf := range []wire.WireFormat{wire.WireFormatPublicMessage, wire.WireFormatPrivateMessage} {
					auth.Signature, err = Sign(e, priv, wf, fc)
					if err != nil {
						t.Fatal(err)
					}
					var enc []byte
					if wf == wire.WireFormatPublicMessage {
						pm, err := ProtectPublic(e, fc, auth)
						if c.ct == wire.ContentApplication {
							if !errors.Is(err, ErrInvalid) {
								t.Fatalf("application data as PublicMessage: got %v, want ErrInvalid", err)
							}
							continue
						}
						if err != nil {
							t.Fatal(err)
						}
						enc, err = codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wf, PublicMessage: pm})
						if err != nil {
							t.Fatal(err)
						}
					} else {
						pm, err := ProtectPrivate(e, rand.Reader, fc, auth, 32)
						if err != nil {
							t.Fatal(err)
						}
						enc, err = codec.Marshal(&wire.MLSMessage{Version: wire.MLS10, WireFormat: wf, PrivateMessage: pm})
						if err != nil {
							t.Fatal(err)
						}
					}
					// A receiver with its own copy of the epoch.
					r := epochFor(t, s, v)
					u, err := Unprotect(r, decodeMessage(t, enc), lookup)
					if err != nil {
						t.Fatalf("unprotect fresh %s (wire format %d): %v", c.name, wf, err)
					}
					if !bytes.Equal(raw(t, &u.Content.Content), c.raw) || u.Content.WireFormat != wf {
						t.Fatalf("fresh %s (wire format %d) does not round-trip", c.name, wf)
					}
					if c.ct == wire.ContentCommit && !bytes.Equal(u.Content.Auth.ConfirmationTag, auth.ConfirmationTag) {
						t.Fatal("confirmation tag not carried")
					}
				}
			})
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("no suite-1 vectors")
	}
	t.Logf("%d suite-1 message-protection cases", ran)
}
