// Package schedule implements the MLS key schedule (RFC 9420 §8): the chain
// of secrets that turns the previous epoch's init_secret, a Commit's
// commit_secret and any pre-shared keys into the secrets of a new epoch.
//
// As in the TLS 1.3 key schedule of crypto/tls, each stage is its own type
// and can derive only the next one, so nothing is derived out of order:
//
//	InitSecret (init_secret[n-1], or random for epoch 0)
//	   │ Joiner(commit_secret, GroupContext[n])
//	   ▼   joiner_secret = ExpandWithLabel(Extract(init_secret, commit_secret),
//	JoinerSecret                           "joiner", GroupContext[n], Nh)
//	   │ ── WelcomeSecret(psk_secret) ─► WelcomeSecret = DeriveSecret(
//	   │                                     Extract(joiner_secret, psk_secret), "welcome")
//	   │ EpochSecret(psk_secret, GroupContext[n])
//	   ▼   epoch_secret = ExpandWithLabel(Extract(joiner_secret, psk_secret),
//	EpochSecret                           "epoch", GroupContext[n], Nh)
//	   │ Derive()
//	   ▼   DeriveSecret(epoch_secret, label) for each secret of §8's table
//	Epoch { sender data, encryption, exporter, external, confirm,
//	        membership, resumption, authentication; Init = init_secret[n] }
//
// GroupContext[n] is passed in encoded form (wire.GroupContext); the PSK
// secret comes from [ComputePSKSecret] (§8.4). The package also holds the
// functions keyed by epoch secrets: MLS-Exporter (§8.5), the external key
// pair and external init (§8.3), the transcript hashes (§8.2), and the confirmation and
// membership tags (§6.1, §6.2).
//
// # Erasure
//
// Every stage and every derived secret can be zeroed: stages with Erase,
// the []byte-based secrets with clear or [Epoch.Erase]. Forward secrecy
// needs each secret deleted as soon as it is no longer needed (as RFC 9420
// §9.2 spells out for the secret tree). A member
// keeps, for the lifetime of an epoch: sender_data_secret, the secret tree
// built from encryption_secret (encryption_secret itself can go once the tree
// is built), exporter_secret, confirmation_key, membership_key,
// epoch_authenticator and the external key pair if it publishes one. Only
// two secrets outlive the epoch: init_secret, which must be erased once the
// next epoch's joiner_secret is derived, and resumption_psk, which is kept
// only as long as the application wants to resume from this epoch.
// joiner_secret, welcome_secret and epoch_secret are needed only while the
// epoch is being set up and should be erased right after.
//
// Secrets print as REDACTED and are never put in errors.
package schedule

import (
	"errors"
	"fmt"
	"io"

	"github.com/tresor-dev/tresor/keys/internal/suite"
)

// errErased is returned when a stage is used after Erase.
var errErased = errors.New("mls: key schedule: secret used after Erase")

// secret is the state shared by the stage types: a suite and Nh secret
// bytes.
type secret struct {
	suite *suite.Suite
	b     []byte
}

func newSecret(s *suite.Suite, b []byte, what string) (secret, error) {
	if s == nil {
		return secret{}, fmt.Errorf("mls: key schedule: %s: no cipher suite", what)
	}
	if len(b) != s.Nh() {
		return secret{}, fmt.Errorf("mls: key schedule: %s is %d bytes, want %d", what, len(b), s.Nh())
	}
	return secret{suite: s, b: append([]byte(nil), b...)}, nil
}

// Erase zeroes the secret; later derivations from it fail.
func (s *secret) Erase() {
	clear(s.b)
	s.b = nil
}

// Format prints a redacted placeholder for every verb.
func (secret) Format(f fmt.State, _ rune) { io.WriteString(f, "REDACTED") }

// InitSecret is init_secret (RFC 9420 §8): the output of an epoch that
// feeds the next one. For a new group's first epoch it is a fresh random
// value ([GenerateInitSecret]); after an external join it is exported from
// HPKE (§8.3).
type InitSecret struct{ secret }

// NewInitSecret returns an InitSecret holding a copy of b, which must be Nh
// bytes.
func NewInitSecret(s *suite.Suite, b []byte) (*InitSecret, error) {
	sec, err := newSecret(s, b, "init_secret")
	if err != nil {
		return nil, err
	}
	return &InitSecret{sec}, nil
}

// GenerateInitSecret returns the random init_secret of a new group's epoch
// 0 (RFC 9420 §8: "a fresh random value of size KDF.Nh"), read from rand
// (crypto/rand.Reader outside tests).
func GenerateInitSecret(s *suite.Suite, rand io.Reader) (*InitSecret, error) {
	b := make([]byte, s.Nh())
	defer clear(b)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("mls: key schedule: generating init_secret: %w", err)
	}
	return NewInitSecret(s, b)
}

// TestingOnlyBytes returns the live init_secret buffer (nil once erased),
// so that tests can look for it in what an untrusted server saw and check
// that it is zeroed. It returns a secret: never call it outside tests.
func (i *InitSecret) TestingOnlyBytes() []byte { return i.b }

// Joiner derives joiner_secret (RFC 9420 §8):
//
//	joiner_secret = ExpandWithLabel(KDF.Extract(init_secret, commit_secret),
//	                                "joiner", GroupContext_[n], KDF.Nh)
//
// commitSecret is the commit_secret of the Commit's UpdatePath (§7.4), or
// nil for a Commit without a path, which stands for the all-zero vector.
// groupContext is the encoded GroupContext of the new epoch.
func (i *InitSecret) Joiner(commitSecret, groupContext []byte) (*JoinerSecret, error) {
	if i.b == nil {
		return nil, errErased
	}
	s := i.suite
	if commitSecret == nil {
		commitSecret = make([]byte, s.Nh())
	}
	if len(commitSecret) != s.Nh() {
		return nil, fmt.Errorf("mls: key schedule: commit_secret is %d bytes, want %d", len(commitSecret), s.Nh())
	}
	prk := s.Extract(i.b, commitSecret)
	defer clear(prk)
	b, err := s.ExpandWithLabel(prk, "joiner", groupContext, uint16(s.Nh()))
	if err != nil {
		return nil, fmt.Errorf("mls: key schedule: joiner_secret: %w", err)
	}
	return &JoinerSecret{secret{suite: s, b: b}}, nil
}

// JoinerSecret is joiner_secret (RFC 9420 §8). A new member receives it in
// the Welcome's GroupSecrets (§12.4.3.1); existing members derive it with
// [InitSecret.Joiner].
type JoinerSecret struct{ secret }

// NewJoinerSecret returns a JoinerSecret holding a copy of b (for a joiner:
// GroupSecrets.joiner_secret), which must be Nh bytes.
func NewJoinerSecret(s *suite.Suite, b []byte) (*JoinerSecret, error) {
	sec, err := newSecret(s, b, "joiner_secret")
	if err != nil {
		return nil, err
	}
	return &JoinerSecret{sec}, nil
}

// Bytes returns a copy of joiner_secret, for the GroupSecrets a committer
// encrypts to each new member. The result is secret.
func (j *JoinerSecret) Bytes() []byte { return append([]byte(nil), j.b...) }

// member returns KDF.Extract(joiner_secret, psk_secret), the intermediate
// secret that both welcome_secret and epoch_secret come from.
func (j *JoinerSecret) member(psk *PSKSecret) ([]byte, error) {
	if j.b == nil || psk == nil || psk.b == nil {
		return nil, errErased
	}
	if psk.suite != j.suite {
		return nil, errors.New("mls: key schedule: psk_secret of another cipher suite")
	}
	return j.suite.Extract(j.b, psk.b), nil
}

// WelcomeSecret derives welcome_secret (RFC 9420 §8):
//
//	welcome_secret = DeriveSecret(KDF.Extract(joiner_secret, psk_secret), "welcome")
func (j *JoinerSecret) WelcomeSecret(psk *PSKSecret) (*WelcomeSecret, error) {
	m, err := j.member(psk)
	if err != nil {
		return nil, err
	}
	defer clear(m)
	b, err := j.suite.DeriveSecret(m, "welcome")
	if err != nil {
		return nil, fmt.Errorf("mls: key schedule: welcome_secret: %w", err)
	}
	return &WelcomeSecret{secret{suite: j.suite, b: b}}, nil
}

// EpochSecret derives epoch_secret (RFC 9420 §8):
//
//	epoch_secret = ExpandWithLabel(KDF.Extract(joiner_secret, psk_secret),
//	                               "epoch", GroupContext_[n], KDF.Nh)
func (j *JoinerSecret) EpochSecret(psk *PSKSecret, groupContext []byte) (*EpochSecret, error) {
	m, err := j.member(psk)
	if err != nil {
		return nil, err
	}
	defer clear(m)
	b, err := j.suite.ExpandWithLabel(m, "epoch", groupContext, uint16(j.suite.Nh()))
	if err != nil {
		return nil, fmt.Errorf("mls: key schedule: epoch_secret: %w", err)
	}
	return &EpochSecret{secret{suite: j.suite, b: b}}, nil
}

// WelcomeSecret is welcome_secret (RFC 9420 §8, §12.4.3.1): it keys the
// encryption of the GroupInfo in a Welcome.
type WelcomeSecret struct{ secret }

// KeyNonce derives the key and nonce that encrypt the Welcome's GroupInfo
// (RFC 9420 §12.4.3.1):
//
//	welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)
//	welcome_key   = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)
//
// Both are secret.
func (w *WelcomeSecret) KeyNonce() (key, nonce []byte, err error) {
	if w.b == nil {
		return nil, nil, errErased
	}
	s := w.suite
	if key, err = s.ExpandWithLabel(w.b, "key", nil, uint16(s.Nk())); err != nil {
		return nil, nil, fmt.Errorf("mls: key schedule: welcome_key: %w", err)
	}
	if nonce, err = s.ExpandWithLabel(w.b, "nonce", nil, uint16(s.Nn())); err != nil {
		return nil, nil, fmt.Errorf("mls: key schedule: welcome_nonce: %w", err)
	}
	return key, nonce, nil
}

// SealGroupInfo encrypts an encoded GroupInfo for a Welcome's
// encrypted_group_info (RFC 9420 §12.4.3.1), with an empty AAD. Each
// welcome_secret encrypts exactly one GroupInfo, so the nonce is never reused.
func (w *WelcomeSecret) SealGroupInfo(groupInfo []byte) ([]byte, error) {
	key, nonce, err := w.KeyNonce()
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return w.suite.Seal(nil, key, nonce, nil, groupInfo)
}

// OpenGroupInfo decrypts a Welcome's encrypted_group_info.
func (w *WelcomeSecret) OpenGroupInfo(encryptedGroupInfo []byte) ([]byte, error) {
	key, nonce, err := w.KeyNonce()
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return w.suite.Open(nil, key, nonce, nil, encryptedGroupInfo)
}

// EpochSecret is epoch_secret (RFC 9420 §8), from which all the secrets of
// the epoch are derived.
type EpochSecret struct{ secret }

// Derive derives the secrets of the epoch and the init_secret of the next
// one (RFC 9420 §8, table "Epoch-derived secrets"):
//
//	Label            Secret               Purpose
//	"sender data"    sender_data_secret   Deriving keys to encrypt sender data
//	"encryption"     encryption_secret    Deriving message encryption keys (via the secret tree)
//	"exporter"       exporter_secret      Deriving exported secrets
//	"external"       external_secret      Deriving the external init key
//	"confirm"        confirmation_key     Computing the confirmation MAC for an epoch
//	"membership"     membership_key       Computing the membership MAC for a PublicMessage
//	"resumption"     resumption_psk       Proving membership in this epoch (via a PSK injected later)
//	"authentication" epoch_authenticator  Confirming that two clients have the same view of the group
//	"init"           init_secret          The next epoch's init_secret
//
// The caller should erase the EpochSecret once Derive has returned.
func (e *EpochSecret) Derive() (*Epoch, error) {
	if e.b == nil {
		return nil, errErased
	}
	ep := &Epoch{suite: e.suite}
	var init []byte
	for _, d := range []struct {
		label string
		dst   *[]byte
	}{
		{"sender data", (*[]byte)(&ep.SenderData)},
		{"encryption", (*[]byte)(&ep.Encryption)},
		{"exporter", (*[]byte)(&ep.Exporter)},
		{"external", (*[]byte)(&ep.External)},
		{"confirm", (*[]byte)(&ep.Confirmation)},
		{"membership", (*[]byte)(&ep.Membership)},
		{"resumption", (*[]byte)(&ep.Resumption)},
		{"authentication", (*[]byte)(&ep.Authenticator)},
		{"init", &init},
	} {
		b, err := e.suite.DeriveSecret(e.b, d.label)
		if err != nil {
			ep.Erase()
			clear(init)
			return nil, fmt.Errorf("mls: key schedule: %s secret: %w", d.label, err)
		}
		*d.dst = b
	}
	ep.Init = &InitSecret{secret{suite: e.suite, b: init}}
	return ep, nil
}
