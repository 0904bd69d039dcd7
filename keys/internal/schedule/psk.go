package schedule

import (
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
)

// PSK is one pre-shared key injected into the key schedule (RFC 9420 §8.4).
type PSK struct {
	// ID is the encoded PreSharedKeyID that names the PSK (see
	// wire.PreSharedKeyID), including its psk_nonce.
	ID []byte
	// Secret is the PSK value: an external PSK, or the resumption_psk of
	// an earlier epoch. It is secret.
	Secret []byte
}

// PSKSecret is psk_secret (RFC 9420 §8.4), the combination of the PSKs a
// Commit injects.
type PSKSecret struct{ secret }

// maxPSKs is the most PSKs one Commit can inject: PSKLabel counts them in a
// uint16.
const maxPSKs = 1<<16 - 1

// ComputePSKSecret combines psks, in the order of the Commit's PreSharedKey
// proposals, into psk_secret (RFC 9420 §8.4):
//
//	psk_extracted_[i] = KDF.Extract(0, psk_[i])
//	psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk",
//	                                    PSKLabel, KDF.Nh)
//	psk_secret_[0]    = 0
//	psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
//	psk_secret        = psk_secret_[n]
//
//	struct {
//	    PreSharedKeyID id;
//	    uint16 index;
//	    uint16 count;
//	} PSKLabel;
//
// where 0 is the all-zero vector of Nh bytes. With no PSKs, psk_secret is
// that zero vector.
func ComputePSKSecret(s *suite.Suite, psks []PSK) (*PSKSecret, error) {
	if s == nil {
		return nil, errors.New("mls: psk_secret: no cipher suite")
	}
	if len(psks) > maxPSKs {
		return nil, fmt.Errorf("mls: psk_secret: %d PSKs, at most %d allowed", len(psks), maxPSKs)
	}
	zero := make([]byte, s.Nh())
	acc := make([]byte, s.Nh())
	for i, p := range psks {
		b := codec.NewBuilder(make([]byte, 0, len(p.ID)+4))
		b.Raw(p.ID)
		b.Uint16(uint16(i))
		b.Uint16(uint16(len(psks)))
		label, err := b.Bytes()
		if err != nil {
			return nil, fmt.Errorf("mls: psk_secret: PSKLabel %d: %w", i, err)
		}
		extracted := s.Extract(zero, p.Secret)
		input, err := s.ExpandWithLabel(extracted, "derived psk", label, uint16(s.Nh()))
		clear(extracted)
		if err != nil {
			clear(acc)
			return nil, fmt.Errorf("mls: psk_secret: PSK %d: %w", i, err)
		}
		next := s.Extract(input, acc)
		clear(input)
		clear(acc)
		acc = next
	}
	return &PSKSecret{secret{suite: s, b: acc}}, nil
}
