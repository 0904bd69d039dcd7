package suite

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// SignaturePublicKey is the encoded public key of the suite's signature
// scheme (RFC 9420 §5.1.2), without the length prefix of its wire form. For
// Ed25519 it is the 32-byte key of RFC 8032. Public keys are not secret.
type SignaturePublicKey []byte

// A SignaturePrivateKey is a signing key of one cipher suite. It cannot be
// compared with == and prints as REDACTED; [SignaturePrivateKey.Erase] zeroes
// it.
type SignaturePrivateKey struct {
	suite *Suite
	key   []byte // scheme-specific; for Ed25519 the 64-byte seed||public
	pub   SignaturePublicKey
}

// signatureScheme is a signature algorithm of a cipher suite.
type signatureScheme interface {
	// generate returns a new private key (in the form sign expects) and
	// its public key, reading randomness from rand.
	generate(rand io.Reader) (priv []byte, pub []byte, err error)
	// parse turns an encoded private key (the vectors' format) into the
	// form sign expects and its public key.
	parse(encoded []byte) (priv []byte, pub []byte, err error)
	// encode returns the private key in the format parse accepts.
	encode(priv []byte) []byte
	sign(priv, msg []byte) ([]byte, error)
	verify(pub, msg, sig []byte) bool
}

// ed25519Scheme is Ed25519 (RFC 8032) with the private key encoded as its
// 32-byte seed.
type ed25519Scheme struct{}

func (ed25519Scheme) generate(rand io.Reader) ([]byte, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	return priv, pub, err
}

func (ed25519Scheme) parse(seed []byte) ([]byte, []byte, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, nil, fmt.Errorf("Ed25519 private key is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return priv, priv.Public().(ed25519.PublicKey), nil
}

func (ed25519Scheme) encode(priv []byte) []byte {
	return append([]byte(nil), ed25519.PrivateKey(priv).Seed()...)
}

func (ed25519Scheme) sign(priv, msg []byte) ([]byte, error) {
	return ed25519.Sign(priv, msg), nil
}

func (ed25519Scheme) verify(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

// GenerateSignatureKey returns a new signing key, reading randomness from
// rand (crypto/rand.Reader outside tests).
func (s *Suite) GenerateSignatureKey(rand io.Reader) (*SignaturePrivateKey, error) {
	priv, pub, err := s.sig.generate(rand)
	if err != nil {
		return nil, fmt.Errorf("mls: generating a signature key: %w", err)
	}
	return &SignaturePrivateKey{suite: s, key: priv, pub: pub}, nil
}

// ParseSignaturePrivateKey decodes a signing key in the format of the MLS
// test vectors (for Ed25519 the 32-byte RFC 8032 seed).
func (s *Suite) ParseSignaturePrivateKey(encoded []byte) (*SignaturePrivateKey, error) {
	priv, pub, err := s.sig.parse(encoded)
	if err != nil {
		return nil, fmt.Errorf("mls: parsing a signature private key: %w", err)
	}
	return &SignaturePrivateKey{suite: s, key: priv, pub: pub}, nil
}

// Public returns the public key of k.
func (k *SignaturePrivateKey) Public() SignaturePublicKey {
	return append(SignaturePublicKey(nil), k.pub...)
}

// Bytes returns the encoded private key, in the format
// [Suite.ParseSignaturePrivateKey] accepts, or nil once erased. The result
// is secret.
func (k *SignaturePrivateKey) Bytes() []byte {
	if k.key == nil {
		return nil
	}
	return k.suite.sig.encode(k.key)
}

// Erase zeroes the private key. A key that has been erased cannot sign.
func (k *SignaturePrivateKey) Erase() {
	clear(k.key)
	k.key = nil
}

// String returns a redacted placeholder: private keys are never printed.
func (SignaturePrivateKey) String() string { return "suite.SignaturePrivateKey(REDACTED)" }

// Format prints a redacted placeholder for every verb.
func (k SignaturePrivateKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

var errSignature = errors.New("mls: invalid signature")

// signContent encodes RFC 9420 §5.1.2 SignContent:
//
//	struct {
//	    opaque label<V> = "MLS 1.0 " + Label;
//	    opaque content<V>;
//	} SignContent;
func signContent(label string, content []byte) ([]byte, error) {
	b := codec.NewBuilder(make([]byte, 0, len(labelPrefix)+len(label)+len(content)+8))
	b.Opaque([]byte(labelPrefix + label))
	b.Opaque(content)
	return b.Bytes()
}

// SignWithLabel implements RFC 9420 §5.1.2:
//
//	SignWithLabel(SignatureKey, Label, Content) =
//	    Signature.Sign(SignatureKey, SignContent)
func (s *Suite) SignWithLabel(key *SignaturePrivateKey, label string, content []byte) ([]byte, error) {
	if key == nil || key.suite != s || key.key == nil {
		return nil, errors.New("mls: SignWithLabel: key is erased or of another cipher suite")
	}
	msg, err := signContent(label, content)
	if err != nil {
		return nil, fmt.Errorf("mls: SignWithLabel %q: %w", label, err)
	}
	sig, err := s.sig.sign(key.key, msg)
	if err != nil {
		return nil, fmt.Errorf("mls: SignWithLabel %q: %w", label, err)
	}
	return sig, nil
}

// VerifyWithLabel implements RFC 9420 §5.1.2:
//
//	VerifyWithLabel(VerificationKey, Label, Content, SignatureValue) =
//	    Signature.Verify(VerificationKey, SignContent, SignatureValue)
//
// It returns nil if the signature is valid and a deliberately uninformative
// error otherwise.
func (s *Suite) VerifyWithLabel(pub SignaturePublicKey, label string, content, signature []byte) error {
	msg, err := signContent(label, content)
	if err != nil || !s.sig.verify(pub, msg, signature) {
		return errSignature
	}
	return nil
}
