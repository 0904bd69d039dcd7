package group

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

// Capabilities returns the capabilities Tresor clients advertise (RFC 9420
// §7.2): MLS 1.0, the suite, basic credentials. The default proposal and
// extension types are not listed, as §7.2 says.
func Capabilities(s *suite.Suite) wire.Capabilities {
	return wire.Capabilities{
		Versions:     []wire.ProtocolVersion{wire.MLS10},
		CipherSuites: []wire.CipherSuite{wire.CipherSuite(s.ID())},
		Extensions:   []wire.ExtensionType{},
		Proposals:    []wire.ProposalType{},
		Credentials:  []wire.CredentialType{wire.CredentialBasic},
	}
}

// KeyPackageSecrets are the private keys of a KeyPackage: the HPKE init key
// that opens the Welcome, and the leaf's encryption key.
type KeyPackageSecrets struct {
	Init *suite.HPKEPrivateKey
	Leaf *suite.HPKEPrivateKey
}

// Erase drops both keys.
func (k *KeyPackageSecrets) Erase() {
	if k.Init != nil {
		k.Init.Erase()
	}
	if k.Leaf != nil {
		k.Leaf.Erase()
	}
}

// NewKeyPackage creates a signed KeyPackage (RFC 9420 §10) for the client
// with signing key sig and credential cred, valid from notBefore to notAfter.
// The init key and the leaf encryption key are distinct fresh HPKE keys
// (§10.1: "The value for init_key MUST be a public key that is distinct from
// the encryption_key field").
func NewKeyPackage(s *suite.Suite, rand io.Reader, sig *suite.SignaturePrivateKey, cred wire.Credential, notBefore, notAfter time.Time) (*wire.KeyPackage, *KeyPackageSecrets, error) {
	initKey, err := s.GenerateHPKEKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls group: init key: %w", err)
	}
	leafKey, err := s.GenerateHPKEKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("mls group: leaf key: %w", err)
	}
	secrets := &KeyPackageSecrets{Init: initKey, Leaf: leafKey}
	ln := wire.LeafNode{
		EncryptionKey: wire.HPKEPublicKey(leafKey.Public()),
		SignatureKey:  wire.SignaturePublicKey(sig.Public()),
		Credential:    cred,
		Capabilities:  Capabilities(s),
		Source:        wire.SourceKeyPackage,
		Lifetime:      wire.Lifetime{NotBefore: uint64(max(0, notBefore.Unix())), NotAfter: uint64(max(0, notAfter.Unix()))},
		Extensions:    []wire.Extension{},
	}
	if err := SignLeafNode(s, &ln, sig, nil, 0); err != nil {
		return nil, nil, err
	}
	kp := &wire.KeyPackage{
		Version: wire.MLS10, CipherSuite: wire.CipherSuite(s.ID()),
		InitKey: wire.HPKEPublicKey(initKey.Public()), LeafNode: ln, Extensions: []wire.Extension{},
	}
	tbs, err := kp.KeyPackageTBS()
	if err != nil {
		return nil, nil, fmt.Errorf("mls group: KeyPackageTBS: %w", err)
	}
	if kp.Signature, err = s.SignWithLabel(sig, "KeyPackageTBS", tbs); err != nil {
		return nil, nil, fmt.Errorf("mls group: sign KeyPackage: %w", err)
	}
	return kp, secrets, nil
}

// SignLeafNode sets ln.Signature (RFC 9420 §7.2). groupID and leaf are
// signed for the update and commit sources.
func SignLeafNode(s *suite.Suite, ln *wire.LeafNode, sig *suite.SignaturePrivateKey, groupID []byte, leaf uint32) error {
	tbs, err := ln.LeafNodeTBS(groupID, leaf)
	if err != nil {
		return fmt.Errorf("mls group: LeafNodeTBS: %w", err)
	}
	if ln.Signature, err = s.SignWithLabel(sig, "LeafNodeTBS", tbs); err != nil {
		return fmt.Errorf("mls group: sign leaf node: %w", err)
	}
	return nil
}

// ValidateKeyPackage runs the checks of RFC 9420 §10.1 that need no group:
// version mls10 and the expected suite; the KeyPackage signature under the
// leaf's signature key; a leaf of source key_package, within its lifetime at
// now, whose own signature verifies and whose capabilities list the version,
// the suite and the credential type; and an init key that is a valid key,
// distinct from the leaf's encryption key. The tree checks (§7.3: unique
// keys, the members' capabilities) are the group's.
func ValidateKeyPackage(s *suite.Suite, kp *wire.KeyPackage, now time.Time) error {
	if kp.Version != wire.MLS10 {
		return fmt.Errorf("%w: KeyPackage version %d", ErrInvalid, kp.Version)
	}
	if kp.CipherSuite != wire.CipherSuite(s.ID()) {
		return fmt.Errorf("%w: KeyPackage cipher suite %#04x", ErrInvalid, kp.CipherSuite)
	}
	tbs, err := kp.KeyPackageTBS()
	if err != nil {
		return fmt.Errorf("%w: KeyPackageTBS: %w", codec.ErrMalformed, err)
	}
	ln := &kp.LeafNode
	if err := s.VerifyWithLabel(suite.SignaturePublicKey(ln.SignatureKey), "KeyPackageTBS", tbs, kp.Signature); err != nil {
		return fmt.Errorf("%w: KeyPackage signature", ErrAuthentication)
	}
	if ln.Source != wire.SourceKeyPackage {
		return fmt.Errorf("%w: KeyPackage leaf of source %d", ErrInvalid, ln.Source)
	}
	ltbs, err := ln.LeafNodeTBS(nil, 0)
	if err != nil {
		return fmt.Errorf("%w: LeafNodeTBS: %w", codec.ErrMalformed, err)
	}
	if err := s.VerifyWithLabel(suite.SignaturePublicKey(ln.SignatureKey), "LeafNodeTBS", ltbs, ln.Signature); err != nil {
		return fmt.Errorf("%w: KeyPackage leaf signature", ErrAuthentication)
	}
	if t := now.Unix(); t < 0 || uint64(t) < ln.Lifetime.NotBefore || uint64(t) > ln.Lifetime.NotAfter {
		return fmt.Errorf("%w: KeyPackage outside its lifetime", ErrInvalid)
	}
	c := &ln.Capabilities
	if !slices.Contains(c.Versions, wire.MLS10) || !slices.Contains(c.CipherSuites, kp.CipherSuite) ||
		!slices.Contains(c.Credentials, ln.Credential.Type) {
		return fmt.Errorf("%w: KeyPackage capabilities", ErrInvalid)
	}
	if bytes.Equal(kp.InitKey, ln.EncryptionKey) {
		return fmt.Errorf("%w: KeyPackage init key equals its encryption key", ErrInvalid)
	}
	if err := s.ValidateHPKEPublicKey(suite.HPKEPublicKey(kp.InitKey)); err != nil {
		return fmt.Errorf("%w: KeyPackage init key", ErrInvalid)
	}
	if err := s.ValidateHPKEPublicKey(suite.HPKEPublicKey(ln.EncryptionKey)); err != nil {
		return fmt.Errorf("%w: KeyPackage encryption key", ErrInvalid)
	}
	return nil
}

// KeyPackageRef returns the reference of a KeyPackage (RFC 9420 §5.2).
func KeyPackageRef(s *suite.Suite, kp *wire.KeyPackage) ([]byte, error) {
	enc, err := codec.Marshal(kp)
	if err != nil {
		return nil, fmt.Errorf("mls group: KeyPackage: %w", err)
	}
	return s.MakeKeyPackageRef(enc)
}
