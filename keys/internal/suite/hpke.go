package suite

import (
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// HPKEPublicKey is an encoded HPKE public key (RFC 9420 §5.1.1,
// SerializePublicKey of RFC 9180 §4), without the length prefix of its wire
// form. For X25519 it is 32 bytes. Public keys are not secret.
type HPKEPublicKey []byte

// An HPKEPrivateKey is a KEM private key of one cipher suite: a leaf's
// encryption key, a KeyPackage init key, or a TreeKEM parent-node key. It
// cannot be compared with == and prints as REDACTED.
type HPKEPrivateKey struct {
	suite *Suite
	sk    kem.PrivateKey
	pub   HPKEPublicKey
}

func (s *Suite) newHPKEPrivateKey(sk kem.PrivateKey) (*HPKEPrivateKey, error) {
	pub, err := sk.Public().MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &HPKEPrivateKey{suite: s, sk: sk, pub: pub}, nil
}

// DeriveKeyPair implements KEM.DeriveKeyPair of RFC 9180 §7.1.3 for the
// suite's KEM. MLS uses it for the keys of TreeKEM nodes (RFC 9420 §7.4:
// node_priv, node_pub = KEM.DeriveKeyPair(node_secret)) and for the external
// key pair (§8.3). The secret must be Nh bytes; for the suites implemented
// that equals the KEM's seed size, which circl requires.
func (s *Suite) DeriveKeyPair(secret []byte) (*HPKEPrivateKey, error) {
	scheme := s.kem.Scheme()
	if len(secret) != scheme.SeedSize() {
		return nil, fmt.Errorf("mls: DeriveKeyPair: secret is %d bytes, want %d", len(secret), scheme.SeedSize())
	}
	_, sk := scheme.DeriveKeyPair(secret)
	k, err := s.newHPKEPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("mls: DeriveKeyPair: %w", err)
	}
	return k, nil
}

// GenerateHPKEKey returns a fresh KEM key pair, reading a seed from rand
// (crypto/rand.Reader outside tests) and deriving the pair from it as RFC
// 9180 §7.1.3 allows.
func (s *Suite) GenerateHPKEKey(rand io.Reader) (*HPKEPrivateKey, error) {
	seed := make([]byte, s.kem.Scheme().SeedSize())
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("mls: generating an HPKE key: %w", err)
	}
	return s.DeriveKeyPair(seed)
}

// ParseHPKEPrivateKey decodes a private key serialized with the KEM's
// SerializePrivateKey (RFC 9180 §7.1.2), the format of the MLS test vectors.
func (s *Suite) ParseHPKEPrivateKey(encoded []byte) (*HPKEPrivateKey, error) {
	sk, err := s.kem.Scheme().UnmarshalBinaryPrivateKey(encoded)
	if err != nil {
		return nil, fmt.Errorf("mls: parsing an HPKE private key: %w", err)
	}
	k, err := s.newHPKEPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("mls: parsing an HPKE private key: %w", err)
	}
	return k, nil
}

// ValidateHPKEPublicKey reports whether pub decodes as a public key of the
// suite's KEM (RFC 9420 §7.3 asks that leaf and node keys be valid).
func (s *Suite) ValidateHPKEPublicKey(pub HPKEPublicKey) error {
	if _, err := s.kem.Scheme().UnmarshalBinaryPublicKey(pub); err != nil {
		return fmt.Errorf("mls: invalid HPKE public key: %w", err)
	}
	return nil
}

// Public returns the public key of k.
func (k *HPKEPrivateKey) Public() HPKEPublicKey { return append(HPKEPublicKey(nil), k.pub...) }

// Bytes returns the private key serialized with SerializePrivateKey (RFC
// 9180 §7.1.2). The result is secret.
func (k *HPKEPrivateKey) Bytes() ([]byte, error) {
	if k.sk == nil {
		return nil, errors.New("mls: HPKE private key is erased")
	}
	b, err := k.sk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("mls: serializing an HPKE private key: %w", err)
	}
	return b, nil
}

// Erase drops the private key so that k can no longer decrypt. circl keeps
// the key bytes inside its own value, which Erase cannot reach; they become
// garbage once no other reference to k's key remains.
func (k *HPKEPrivateKey) Erase() { k.sk = nil }

// String returns a redacted placeholder: private keys are never printed.
func (HPKEPrivateKey) String() string { return "suite.HPKEPrivateKey(REDACTED)" }

// Format prints a redacted placeholder for every verb.
func (k HPKEPrivateKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// encryptContext encodes RFC 9420 §5.1.3 EncryptContext:
//
//	struct {
//	    opaque label<V> = "MLS 1.0 " + Label;
//	    opaque context<V>;
//	} EncryptContext;
func encryptContext(label string, context []byte) ([]byte, error) {
	b := codec.NewBuilder(make([]byte, 0, len(labelPrefix)+len(label)+len(context)+8))
	b.Opaque([]byte(labelPrefix + label))
	b.Opaque(context)
	return b.Bytes()
}

// EncryptWithLabel implements RFC 9420 §5.1.3, HPKE base mode with the
// labeled context as info and an empty AAD:
//
//	EncryptWithLabel(PublicKey, Label, Context, Plaintext) =
//	    SealBase(PublicKey, EncryptContext, "", Plaintext)
//
// It reads the ephemeral key from rand (crypto/rand.Reader outside tests).
func (s *Suite) EncryptWithLabel(rand io.Reader, pub HPKEPublicKey, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	info, err := encryptContext(label, context)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: EncryptWithLabel %q: %w", label, err)
	}
	pk, err := s.kem.Scheme().UnmarshalBinaryPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: EncryptWithLabel %q: public key: %w", label, err)
	}
	sender, err := s.hpke.NewSender(pk, info)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: EncryptWithLabel %q: %w", label, err)
	}
	enc, sealer, err := sender.Setup(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: EncryptWithLabel %q: %w", label, err)
	}
	ct, err := sealer.Seal(plaintext, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: EncryptWithLabel %q: %w", label, err)
	}
	return enc, ct, nil
}

var errDecrypt = errors.New("mls: DecryptWithLabel: decryption failed")

// DecryptWithLabel implements RFC 9420 §5.1.3:
//
//	DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext) =
//	    OpenBase(KEMOutput, PrivateKey, EncryptContext, "", Ciphertext)
//
// Every failure after the key checks returns the same uninformative error.
func (s *Suite) DecryptWithLabel(key *HPKEPrivateKey, label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	if key == nil || key.suite != s || key.sk == nil {
		return nil, errors.New("mls: DecryptWithLabel: key is erased or of another cipher suite")
	}
	info, err := encryptContext(label, context)
	if err != nil {
		return nil, fmt.Errorf("mls: DecryptWithLabel %q: %w", label, err)
	}
	receiver, err := s.hpke.NewReceiver(key.sk, info)
	if err != nil {
		return nil, errDecrypt
	}
	opener, err := receiver.Setup(kemOutput)
	if err != nil {
		return nil, errDecrypt
	}
	pt, err := opener.Open(ciphertext, nil)
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}

// SetupBaseSExport runs HPKE's SetupBaseS (RFC 9180 §5.1.1) to pub with
// info and exports a secret from the resulting context (RFC 9180 §5.3):
//
//	kem_output, context = SetupBaseS(pub, info)
//	exported = context.Export(exporterContext, length)
//
// MLS uses it for external joins (RFC 9420 §8.3). It reads the ephemeral
// key from rand (crypto/rand.Reader outside tests). exported is secret.
func (s *Suite) SetupBaseSExport(rand io.Reader, pub HPKEPublicKey, info, exporterContext []byte, length uint16) (kemOutput, exported []byte, err error) {
	pk, err := s.kem.Scheme().UnmarshalBinaryPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: HPKE export: public key: %w", err)
	}
	sender, err := s.hpke.NewSender(pk, info)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: HPKE export: %w", err)
	}
	enc, ctx, err := sender.Setup(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls: HPKE export: %w", err)
	}
	return enc, ctx.Export(exporterContext, uint(length)), nil
}

// SetupBaseRExport is the receiver side of [Suite.SetupBaseSExport]:
//
//	context = SetupBaseR(kem_output, key, info)
//	exported = context.Export(exporterContext, length)
//
// A malformed kemOutput returns an error; any other kemOutput yields a
// secret, which matches the sender's only if kemOutput is genuine.
func (s *Suite) SetupBaseRExport(key *HPKEPrivateKey, kemOutput, info, exporterContext []byte, length uint16) ([]byte, error) {
	if key == nil || key.suite != s || key.sk == nil {
		return nil, errors.New("mls: HPKE export: key is erased or of another cipher suite")
	}
	receiver, err := s.hpke.NewReceiver(key.sk, info)
	if err != nil {
		return nil, fmt.Errorf("mls: HPKE export: %w", err)
	}
	ctx, err := receiver.Setup(kemOutput)
	if err != nil {
		return nil, fmt.Errorf("mls: HPKE export: invalid kem_output: %w", err)
	}
	return ctx.Export(exporterContext, uint(length)), nil
}
