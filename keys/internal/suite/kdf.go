package suite

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

// labelPrefix is prepended to every label of ExpandWithLabel, SignWithLabel
// and EncryptWithLabel (RFC 9420 §5.1.2, §5.1.3, §8).
const labelPrefix = "MLS 1.0 "

// Extract is HKDF-Extract with the suite's hash (RFC 5869 §2.2): it returns
// a pseudorandom key of Nh bytes from salt and the input keying material ikm.
func (s *Suite) Extract(salt, ikm []byte) []byte {
	return hkdf.Extract(s.newHash, ikm, salt)
}

// Expand is HKDF-Expand with the suite's hash (RFC 5869 §2.3). It fails if
// length exceeds 255·Nh.
func (s *Suite) Expand(prk, info []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*s.Nh() {
		return nil, fmt.Errorf("mls: HKDF-Expand: output length %d out of range", length)
	}
	out := make([]byte, length)
	if _, err := io.ReadFull(hkdf.Expand(s.newHash, prk, info), out); err != nil {
		return nil, fmt.Errorf("mls: HKDF-Expand: %w", err)
	}
	return out, nil
}

// ExpandWithLabel implements RFC 9420 §8:
//
//	ExpandWithLabel(Secret, Label, Context, Length) =
//	    KDF.Expand(Secret, KDFLabel, Length)
//
//	struct {
//	    uint16 length;
//	    opaque label<V> = "MLS 1.0 " + Label;
//	    opaque context<V>;
//	} KDFLabel;
func (s *Suite) ExpandWithLabel(secret []byte, label string, context []byte, length uint16) ([]byte, error) {
	b := codec.NewBuilder(make([]byte, 0, 2+1+len(labelPrefix)+len(label)+4+len(context)))
	b.Uint16(length)
	b.Opaque([]byte(labelPrefix + label))
	b.Opaque(context)
	info, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mls: ExpandWithLabel %q: %w", label, err)
	}
	return s.Expand(secret, info, int(length))
}

// DeriveSecret implements RFC 9420 §8:
//
//	DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh)
func (s *Suite) DeriveSecret(secret []byte, label string) ([]byte, error) {
	return s.ExpandWithLabel(secret, label, nil, uint16(s.Nh()))
}

// DeriveTreeSecret implements RFC 9420 §9:
//
//	DeriveTreeSecret(Secret, Label, Generation, Length) =
//	    ExpandWithLabel(Secret, Label, Generation, Length)
//
// where Generation is encoded as a big-endian uint32.
func (s *Suite) DeriveTreeSecret(secret []byte, label string, generation uint32, length uint16) ([]byte, error) {
	var g [4]byte
	binary.BigEndian.PutUint32(g[:], generation)
	return s.ExpandWithLabel(secret, label, g[:], length)
}

// RefHash implements RFC 9420 §5.2:
//
//	RefHash(label, value) = Hash(RefHashInput)
//
//	struct {
//	    opaque label<V>;
//	    opaque value<V>;
//	} RefHashInput;
//
// Unlike the other labeled functions, the label is used as given (the
// callers pass "MLS 1.0 KeyPackage Reference" and "MLS 1.0 Proposal
// Reference").
//
// It fails only for a value too large to encode (2^30 bytes or more).
func (s *Suite) RefHash(label string, value []byte) ([]byte, error) {
	b := codec.NewBuilder(make([]byte, 0, len(label)+len(value)+8))
	b.Opaque([]byte(label))
	b.Opaque(value)
	in, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mls: RefHash %q: %w", label, err)
	}
	return s.Hash(in), nil
}

// MakeKeyPackageRef returns the KeyPackageRef of an encoded KeyPackage
// (RFC 9420 §5.2): RefHash("MLS 1.0 KeyPackage Reference", keyPackage).
func (s *Suite) MakeKeyPackageRef(keyPackage []byte) ([]byte, error) {
	return s.RefHash("MLS 1.0 KeyPackage Reference", keyPackage)
}

// MakeProposalRef returns the ProposalRef of an encoded AuthenticatedContent
// carrying a Proposal (RFC 9420 §5.2):
// RefHash("MLS 1.0 Proposal Reference", authenticatedContent).
func (s *Suite) MakeProposalRef(authenticatedContent []byte) ([]byte, error) {
	return s.RefHash("MLS 1.0 Proposal Reference", authenticatedContent)
}

// MAC returns HMAC with the suite's hash of data under key (RFC 9420 §5.1:
// the MAC function of the KDF, used for confirmation and membership tags).
func (s *Suite) MAC(key, data []byte) []byte {
	m := hmac.New(s.newHash, key)
	m.Write(data)
	return m.Sum(nil)
}

// VerifyMAC reports whether tag is the MAC of data under key, comparing in
// constant time.
func (s *Suite) VerifyMAC(key, data, tag []byte) bool {
	return subtle.ConstantTimeCompare(s.MAC(key, data), tag) == 1
}
