package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

type hexBytes = vectors.HexBytes

// suiteFor returns the suite under test or skips t with the reason.
func suiteFor(t *testing.T, id uint16) *suite.Suite {
	t.Helper()
	s, err := suite.ByID(suite.ID(id))
	if errors.Is(err, suite.ErrUnsupported) {
		t.Skipf("cipher suite %d not implemented (only suite 1 is)", id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// groupContext encodes a GroupContext with no extensions (RFC 9420 §8.1),
// as key-schedule.json prescribes.
func groupContext(suite uint16, groupID []byte, epoch uint64, treeHash, cth []byte) []byte {
	var b codec.Builder
	b.Uint16(1) // mls10
	b.Uint16(suite)
	b.Opaque(groupID)
	b.Uint64(epoch)
	b.Opaque(treeHash)
	b.Opaque(cth)
	b.Opaque(nil) // extensions<V>
	out, err := b.Bytes()
	if err != nil {
		panic(err)
	}
	return out
}

// TestKeyScheduleVectors runs every epoch of every implemented suite in
// key-schedule.json (mlswg mls-implementations): GroupContext, every
// derived secret, the next init_secret, external_pub and MLS-Exporter.
func TestKeyScheduleVectors(t *testing.T) {
	var tests []struct {
		CipherSuite       uint16   `json:"cipher_suite"`
		GroupID           hexBytes `json:"group_id"`
		InitialInitSecret hexBytes `json:"initial_init_secret"`
		Epochs            []struct {
			TreeHash                hexBytes `json:"tree_hash"`
			CommitSecret            hexBytes `json:"commit_secret"`
			PSKSecret               hexBytes `json:"psk_secret"`
			ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
			GroupContext            hexBytes `json:"group_context"`
			JoinerSecret            hexBytes `json:"joiner_secret"`
			WelcomeSecret           hexBytes `json:"welcome_secret"`
			InitSecret              hexBytes `json:"init_secret"`
			SenderDataSecret        hexBytes `json:"sender_data_secret"`
			EncryptionSecret        hexBytes `json:"encryption_secret"`
			ExporterSecret          hexBytes `json:"exporter_secret"`
			EpochAuthenticator      hexBytes `json:"epoch_authenticator"`
			ExternalSecret          hexBytes `json:"external_secret"`
			ConfirmationKey         hexBytes `json:"confirmation_key"`
			MembershipKey           hexBytes `json:"membership_key"`
			ResumptionPSK           hexBytes `json:"resumption_psk"`
			ExternalPub             hexBytes `json:"external_pub"`
			Exporter                struct {
				Label   string   `json:"label"`
				Context hexBytes `json:"context"`
				Length  uint16   `json:"length"`
				Secret  hexBytes `json:"secret"`
			} `json:"exporter"`
		} `json:"epochs"`
	}
	vectors.Load(t, "key-schedule", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("suite%d", tc.CipherSuite), func(t *testing.T) {
			t.Parallel()
			s := suiteFor(t, tc.CipherSuite)
			init, err := NewInitSecret(s, tc.InitialInitSecret)
			if err != nil {
				t.Fatal(err)
			}
			for n, v := range tc.Epochs {
				gc := groupContext(tc.CipherSuite, tc.GroupID, uint64(n), v.TreeHash, v.ConfirmedTranscriptHash)
				if !bytes.Equal(gc, v.GroupContext) {
					t.Fatalf("epoch %d: GroupContext = %x; want %x", n, gc, v.GroupContext)
				}
				joiner, err := init.Joiner(v.CommitSecret, gc)
				if err != nil {
					t.Fatal(err)
				}
				init.Erase()
				psk := &PSKSecret{secret{suite: s, b: v.PSKSecret}}
				welcome, err := joiner.WelcomeSecret(psk)
				if err != nil {
					t.Fatal(err)
				}
				es, err := joiner.EpochSecret(psk, gc)
				if err != nil {
					t.Fatal(err)
				}
				ep, err := es.Derive()
				if err != nil {
					t.Fatal(err)
				}
				es.Erase()
				for _, c := range []struct {
					name      string
					got, want []byte
				}{
					{"joiner_secret", joiner.Bytes(), v.JoinerSecret},
					{"welcome_secret", welcome.b, v.WelcomeSecret},
					{"init_secret", ep.Init.b, v.InitSecret},
					{"sender_data_secret", ep.SenderData, v.SenderDataSecret},
					{"encryption_secret", ep.Encryption, v.EncryptionSecret},
					{"exporter_secret", ep.Exporter, v.ExporterSecret},
					{"epoch_authenticator", ep.Authenticator, v.EpochAuthenticator},
					{"external_secret", ep.External, v.ExternalSecret},
					{"confirmation_key", ep.Confirmation, v.ConfirmationKey},
					{"membership_key", ep.Membership, v.MembershipKey},
					{"resumption_psk", ep.Resumption, v.ResumptionPSK},
				} {
					if !bytes.Equal(c.got, c.want) {
						t.Errorf("epoch %d: %s = %x; want %x", n, c.name, c.got, c.want)
					}
				}
				ext, err := ep.ExternalKeyPair()
				if err != nil || !bytes.Equal(ext.Public(), v.ExternalPub) {
					t.Errorf("epoch %d: external_pub = %x, %v; want %x", n, ext.Public(), err, v.ExternalPub)
				}
				x := v.Exporter
				out, err := ep.Export(x.Label, x.Context, x.Length)
				if err != nil || !bytes.Equal(out, x.Secret) {
					t.Errorf("epoch %d: MLS-Exporter = %x, %v; want %x", n, out, err, x.Secret)
				}
				joiner.Erase()
				init = ep.Init
				ep.Erase()
			}
		})
	}
}

// TestPSKSecretVectors checks every entry of psk_secret.json for the
// implemented suites: the PSKs are external, each named by a PreSharedKeyID
// with its psk_id and psk_nonce.
func TestPSKSecretVectors(t *testing.T) {
	var tests []struct {
		CipherSuite uint16 `json:"cipher_suite"`
		PSKs        []struct {
			PSKID    hexBytes `json:"psk_id"`
			PSK      hexBytes `json:"psk"`
			PSKNonce hexBytes `json:"psk_nonce"`
		} `json:"psks"`
		PSKSecret hexBytes `json:"psk_secret"`
	}
	vectors.Load(t, "psk_secret", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d/suite%d/%dpsks", i, tc.CipherSuite, len(tc.PSKs)), func(t *testing.T) {
			s := suiteFor(t, tc.CipherSuite)
			var psks []PSK
			for _, p := range tc.PSKs {
				// PreSharedKeyID { psktype = external(1); opaque psk_id<V>; opaque psk_nonce<V> }
				var b codec.Builder
				b.Uint8(1)
				b.Opaque(p.PSKID)
				b.Opaque(p.PSKNonce)
				id, err := b.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				psks = append(psks, PSK{ID: id, Secret: p.PSK})
			}
			got, err := ComputePSKSecret(s, psks)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.b, tc.PSKSecret) {
				t.Errorf("psk_secret = %x; want %x", got.b, tc.PSKSecret)
			}
		})
	}
}

// TestTranscriptHashVectors checks every entry of transcript-hashes.json
// for the implemented suites: the confirmation tag of the Commit verifies
// under confirmation_key, and both transcript hashes match.
func TestTranscriptHashVectors(t *testing.T) {
	var tests []struct {
		CipherSuite                  uint16   `json:"cipher_suite"`
		ConfirmationKey              hexBytes `json:"confirmation_key"`
		AuthenticatedContent         hexBytes `json:"authenticated_content"`
		InterimTranscriptHashBefore  hexBytes `json:"interim_transcript_hash_before"`
		ConfirmedTranscriptHashAfter hexBytes `json:"confirmed_transcript_hash_after"`
		InterimTranscriptHashAfter   hexBytes `json:"interim_transcript_hash_after"`
	}
	vectors.Load(t, "transcript-hashes", &tests)
	if len(tests) == 0 {
		t.Fatal("no vectors")
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("suite%d", tc.CipherSuite), func(t *testing.T) {
			s := suiteFor(t, tc.CipherSuite)
			// AuthenticatedContent is wire_format || FramedContent ||
			// signature<V> || confirmation_tag<V>, and
			// ConfirmedTranscriptHashInput is the same without the
			// confirmation tag. The tag is an Nh-byte MAC, so the last
			// 1+Nh bytes are its one-byte varint length and the MAC;
			// InterimTranscriptHashInput is exactly those bytes.
			// (Decoding with package wire is left to wire's own tests.)
			ac, nh := tc.AuthenticatedContent, s.Nh()
			if len(ac) < 1+nh || ac[len(ac)-1-nh] != byte(nh) {
				t.Fatalf("authenticated_content does not end in a %d-byte confirmation_tag", nh)
			}
			cin, iin := ac[:len(ac)-1-nh], ac[len(ac)-1-nh:]
			tag := iin[1:]
			confirmed := ConfirmedTranscriptHash(s, tc.InterimTranscriptHashBefore, cin)
			if !bytes.Equal(confirmed, tc.ConfirmedTranscriptHashAfter) {
				t.Errorf("confirmed_transcript_hash = %x; want %x", confirmed, tc.ConfirmedTranscriptHashAfter)
			}
			ep := &Epoch{suite: s, Confirmation: ConfirmationKey(tc.ConfirmationKey)}
			if !ep.VerifyConfirmationTag(confirmed, tag) {
				t.Error("confirmation_tag does not verify")
			}
			bad := append([]byte(nil), tag...)
			bad[0] ^= 1
			if ep.VerifyConfirmationTag(confirmed, bad) {
				t.Error("a modified confirmation_tag verifies")
			}
			interim := InterimTranscriptHash(s, confirmed, iin)
			if !bytes.Equal(interim, tc.InterimTranscriptHashAfter) {
				t.Errorf("interim_transcript_hash = %x; want %x", interim, tc.InterimTranscriptHashAfter)
			}
		})
	}
}
