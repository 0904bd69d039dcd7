package framing

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
	"github.com/tresor-dev/tresor/keys/internal/wire"
)

func suite1Vector(t testing.TB) (*suite.Suite, *protectionVector) {
	var all []protectionVector
	vectors.Load(t, "message-protection", &all)
	for i := range all {
		if all[i].Suite == 1 {
			s, err := suite.ByID(1)
			if err != nil {
				t.Fatal(err)
			}
			return s, &all[i]
		}
	}
	t.Fatal("no suite-1 vector")
	return nil, nil
}

// TestTamperedMessages flips every byte of each vector message in turn and
// requires an error, then requires that the untouched message still
// unprotects: no failed attempt consumed a key.
func TestTamperedMessages(t *testing.T) {
	s, v := suite1Vector(t)
	lookup := lookupFor(v.SignaturePub)
	for _, msg := range [][]byte{v.ProposalPub, v.CommitPub, v.ProposalPriv, v.CommitPriv, v.ApplicationPriv} {
		e := epochFor(t, s, v)
		for i := range msg {
			bad := bytes.Clone(msg)
			bad[i] ^= 0x01
			var m wire.MLSMessage
			if err := codec.Unmarshal(bad, &m); err != nil {
				continue
			}
			if _, err := Unprotect(e, &m, lookup); err == nil {
				t.Fatalf("byte %d flipped: message still unprotects", i)
			}
		}
		u, err := Unprotect(e, decodeMessage(t, msg), lookup)
		if err != nil {
			t.Fatalf("original after tampering: %v", err)
		}
		if err := u.Consume(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWrongEpochAndGroup(t *testing.T) {
	s, v := suite1Vector(t)
	lookup := lookupFor(v.SignaturePub)
	for _, msg := range [][]byte{v.ProposalPub, v.CommitPriv} {
		e := epochFor(t, s, v)
		e.GroupContext.Epoch++
		if _, err := Unprotect(e, decodeMessage(t, msg), lookup); !errors.Is(err, ErrWrongEpoch) {
			t.Errorf("wrong epoch: got %v", err)
		}
		e = epochFor(t, s, v)
		e.GroupContext.GroupID = []byte("other")
		if _, err := Unprotect(e, decodeMessage(t, msg), lookup); !errors.Is(err, ErrWrongGroup) {
			t.Errorf("wrong group: got %v", err)
		}
	}
}

// TestWrongKeys checks that a wrong signature key, membership key or sender
// data secret is an authentication failure.
func TestWrongKeys(t *testing.T) {
	s, v := suite1Vector(t)
	wrongSig := lookupFor(bytes.Repeat([]byte{1}, 32))
	lookup := lookupFor(v.SignaturePub)
	for _, msg := range [][]byte{v.ProposalPub, v.CommitPriv, v.ApplicationPriv} {
		e := epochFor(t, s, v)
		if _, err := Unprotect(e, decodeMessage(t, msg), wrongSig); !errors.Is(err, ErrAuthentication) {
			t.Errorf("wrong signature key: got %v", err)
		}
	}
	e := epochFor(t, s, v)
	e.Membership = bytes.Repeat([]byte{9}, 32)
	if _, err := Unprotect(e, decodeMessage(t, v.CommitPub), lookup); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong membership key: got %v", err)
	}
	e = epochFor(t, s, v)
	e.SenderData = bytes.Repeat([]byte{9}, 32)
	if _, err := Unprotect(e, decodeMessage(t, v.ApplicationPriv), lookup); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong sender data secret: got %v", err)
	}
	// An unknown sender fails with the lookup's error.
	none := func(*wire.FramedContent) (suite.SignaturePublicKey, error) { return nil, errors.New("not a member") }
	e = epochFor(t, s, v)
	if _, err := Unprotect(e, decodeMessage(t, v.ProposalPriv), none); err == nil {
		t.Error("unknown sender accepted")
	}
}

// FuzzUnprotect feeds arbitrary MLSMessages to a receiver of the vector's
// epoch: nothing may panic, and whatever authenticates can be consumed.
func FuzzUnprotect(f *testing.F) {
	s, v := suite1Vector(f)
	for _, m := range [][]byte{v.ProposalPub, v.CommitPub, v.ProposalPriv, v.CommitPriv, v.ApplicationPriv} {
		f.Add(m)
	}
	lookup := lookupFor(v.SignaturePub)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m wire.MLSMessage
		if err := codec.Unmarshal(data, &m); err != nil {
			return
		}
		e := epochFor(t, s, v)
		u, err := Unprotect(e, &m, lookup)
		if err != nil {
			return
		}
		if err := u.Consume(); err != nil {
			t.Fatal(err)
		}
	})
}
