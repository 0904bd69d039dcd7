package schedule

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/tresor-dev/tresor/keys/internal/suite"
)

// The secrets derived from epoch_secret (RFC 9420 §8), each its own type so
// that one cannot be passed where another is meant. They are Nh bytes, print
// as REDACTED and are zeroed by [Epoch.Erase].
type (
	// SenderDataSecret is sender_data_secret: keys the encryption of
	// PrivateMessage sender data (§6.3.2).
	SenderDataSecret []byte
	// EncryptionSecret is encryption_secret: the root of the secret
	// tree (§9).
	EncryptionSecret []byte
	// ExporterSecret is exporter_secret: the source of MLS-Exporter
	// (§8.5).
	ExporterSecret []byte
	// ExternalSecret is external_secret: the seed of the external key
	// pair (§8.3).
	ExternalSecret []byte
	// ConfirmationKey is confirmation_key: keys the confirmation tag of
	// a Commit (§6.1).
	ConfirmationKey []byte
	// MembershipKey is membership_key: keys the membership tag of a
	// PublicMessage from a member (§6.2).
	MembershipKey []byte
	// ResumptionPSK is resumption_psk: a PSK that later proves
	// membership in this epoch (§8.6).
	ResumptionPSK []byte
	// EpochAuthenticator is epoch_authenticator: equal for every member
	// with the same view of the epoch (§8.7). It is not secret towards
	// members, but outsiders must not learn it.
	EpochAuthenticator []byte
)

func redact(f fmt.State, name string) { io.WriteString(f, "schedule."+name+"(REDACTED)") }

// Format prints a redacted placeholder for every verb.
func (SenderDataSecret) Format(f fmt.State, _ rune) { redact(f, "SenderDataSecret") }

// Format prints a redacted placeholder for every verb.
func (EncryptionSecret) Format(f fmt.State, _ rune) { redact(f, "EncryptionSecret") }

// Format prints a redacted placeholder for every verb.
func (ExporterSecret) Format(f fmt.State, _ rune) { redact(f, "ExporterSecret") }

// Format prints a redacted placeholder for every verb.
func (ExternalSecret) Format(f fmt.State, _ rune) { redact(f, "ExternalSecret") }

// Format prints a redacted placeholder for every verb.
func (ConfirmationKey) Format(f fmt.State, _ rune) { redact(f, "ConfirmationKey") }

// Format prints a redacted placeholder for every verb.
func (MembershipKey) Format(f fmt.State, _ rune) { redact(f, "MembershipKey") }

// Format prints a redacted placeholder for every verb.
func (ResumptionPSK) Format(f fmt.State, _ rune) { redact(f, "ResumptionPSK") }

// Format prints a redacted placeholder for every verb.
func (EpochAuthenticator) Format(f fmt.State, _ rune) { redact(f, "EpochAuthenticator") }

// Epoch holds the secrets of one epoch (RFC 9420 §8) and the init_secret of
// the next. See the package documentation for which of them to keep and
// when to erase them.
type Epoch struct {
	suite *suite.Suite

	SenderData    SenderDataSecret
	Encryption    EncryptionSecret
	Exporter      ExporterSecret
	External      ExternalSecret
	Confirmation  ConfirmationKey
	Membership    MembershipKey
	Resumption    ResumptionPSK
	Authenticator EpochAuthenticator

	// Init is the init_secret of the next epoch.
	Init *InitSecret
}

// Suite returns the cipher suite of the epoch.
func (e *Epoch) Suite() *suite.Suite { return e.suite }

// Erase zeroes every secret of the epoch. It leaves Init alone: the next
// init_secret outlives the epoch until the next joiner_secret has been
// derived from it, and is erased then with [InitSecret.Erase].
func (e *Epoch) Erase() {
	for _, b := range [][]byte{e.SenderData, e.Encryption, e.Exporter, e.External,
		e.Confirmation, e.Membership, e.Resumption, e.Authenticator} {
		clear(b)
	}
	*e = Epoch{suite: e.suite, Init: e.Init}
}

// Export implements MLS-Exporter (RFC 9420 §8.5):
//
//	MLS-Exporter(Label, Context, Length) =
//	    ExpandWithLabel(DeriveSecret(exporter_secret, Label),
//	                    "exported", Hash(Context), Length)
//
// Tresor derives the SFrame base keys this way (RFC 9605 §5.2). The result is
// secret.
func (e *Epoch) Export(label string, context []byte, length uint16) ([]byte, error) {
	if e.Exporter == nil {
		return nil, errErased
	}
	s := e.suite
	d, err := s.DeriveSecret(e.Exporter, label)
	if err != nil {
		return nil, fmt.Errorf("mls: MLS-Exporter: %w", err)
	}
	defer clear(d)
	out, err := s.ExpandWithLabel(d, "exported", s.Hash(context), length)
	if err != nil {
		return nil, fmt.Errorf("mls: MLS-Exporter: %w", err)
	}
	return out, nil
}

// ExternalKeyPair derives the external key pair that lets a non-member join
// by an external Commit (RFC 9420 §8.3):
//
//	external_priv, external_pub = KEM.DeriveKeyPair(external_secret)
//
// external_pub goes into the GroupInfo's external_pub extension.
func (e *Epoch) ExternalKeyPair() (*suite.HPKEPrivateKey, error) {
	if e.External == nil {
		return nil, errErased
	}
	k, err := e.suite.DeriveKeyPair(e.External)
	if err != nil {
		return nil, fmt.Errorf("mls: external key pair: %w", err)
	}
	return k, nil
}

// ConfirmationTag computes a Commit's confirmation tag (RFC 9420 §6.1):
//
//	confirmation_tag = MAC(confirmation_key, GroupContext.confirmed_transcript_hash)
//
// with the confirmation_key and confirmed transcript hash of the epoch the
// Commit creates.
func (e *Epoch) ConfirmationTag(confirmedTranscriptHash []byte) ([]byte, error) {
	if e.Confirmation == nil {
		return nil, errErased
	}
	return e.suite.MAC(e.Confirmation, confirmedTranscriptHash), nil
}

// VerifyConfirmationTag reports whether tag is the confirmation tag of
// confirmedTranscriptHash, comparing in constant time.
func (e *Epoch) VerifyConfirmationTag(confirmedTranscriptHash, tag []byte) bool {
	want, err := e.ConfirmationTag(confirmedTranscriptHash)
	return err == nil && subtle.ConstantTimeCompare(want, tag) == 1
}

// MembershipTag computes a PublicMessage's membership tag (RFC 9420 §6.2):
//
//	membership_tag = MAC(membership_key, AuthenticatedContentTBM)
//
// authenticatedContentTBM is the encoding from wire.AuthenticatedContentTBM.
func (e *Epoch) MembershipTag(authenticatedContentTBM []byte) ([]byte, error) {
	if e.Membership == nil {
		return nil, errErased
	}
	return e.suite.MAC(e.Membership, authenticatedContentTBM), nil
}

// VerifyMembershipTag reports whether tag is the membership tag of
// authenticatedContentTBM, comparing in constant time.
func (e *Epoch) VerifyMembershipTag(authenticatedContentTBM, tag []byte) bool {
	want, err := e.MembershipTag(authenticatedContentTBM)
	return err == nil && subtle.ConstantTimeCompare(want, tag) == 1
}

// externalInitLabel is the HPKE exporter context of an external join (RFC
// 9420 §8.3).
const externalInitLabel = "MLS 1.0 external init secret"

// ExternalInit is the joiner's side of an external join (RFC 9420 §8.3):
//
//	kem_output, context = SetupBaseS(external_pub, "")
//	init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
//
// externalPub comes from the GroupInfo's external_pub extension; kemOutput
// goes into the Commit's ExternalInit proposal. The ephemeral key is read
// from rand (crypto/rand.Reader outside tests).
func ExternalInit(s *suite.Suite, rand io.Reader, externalPub suite.HPKEPublicKey) (kemOutput []byte, init *InitSecret, err error) {
	kemOutput, b, err := s.SetupBaseSExport(rand, externalPub, nil, []byte(externalInitLabel), uint16(s.Nh()))
	if err != nil {
		return nil, nil, fmt.Errorf("mls: external init: %w", err)
	}
	return kemOutput, &InitSecret{secret{suite: s, b: b}}, nil
}

// ExternalInitSecret is the members' side of an external join (RFC 9420
// §8.3): it recovers the init_secret that the joiner's ExternalInit
// proposal carries, using this epoch's external key pair:
//
//	context = SetupBaseR(kem_output, external_priv, "")
//	init_secret = context.export("MLS 1.0 external init secret", KDF.Nh)
//
// It replaces this epoch's Init for the external Commit.
func (e *Epoch) ExternalInitSecret(kemOutput []byte) (*InitSecret, error) {
	key, err := e.ExternalKeyPair()
	if err != nil {
		return nil, err
	}
	defer key.Erase()
	b, err := e.suite.SetupBaseRExport(key, kemOutput, nil, []byte(externalInitLabel), uint16(e.suite.Nh()))
	if err != nil {
		return nil, fmt.Errorf("mls: external init: %w", err)
	}
	return &InitSecret{secret{suite: e.suite, b: b}}, nil
}
