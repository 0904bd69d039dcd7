package wire

import (
	"bytes"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// Each fuzz target decodes arbitrary bytes as one wire type and requires
// that anything accepted re-encodes to exactly the same bytes, and that
// nothing panics. Seeds come from the interop vectors.

// fuzzRoundTrip runs the decode→encode property for the type *T.
func fuzzRoundTrip[T any, P interface {
	*T
	wireValue
}](f *testing.F, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := P(new(T))
		if err := codec.Unmarshal(data, v); err != nil {
			return
		}
		enc, err := codec.Marshal(v)
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs\n got %x\nwant %x", enc, data)
		}
	})
}

// seedMessages returns fields of the first few messages.json entries.
func seedMessages(f *testing.F, field func(v *messagesVector) []byte) [][]byte {
	var vs []messagesVector
	vectors.Load(f, "messages", &vs)
	var seeds [][]byte
	for i := 0; i < len(vs) && i < 8; i++ {
		seeds = append(seeds, field(&vs[i]))
	}
	return seeds
}

func FuzzMLSMessage(f *testing.F) {
	var seeds [][]byte
	for _, fld := range messageFields {
		if _, ok := fld.fresh().(*MLSMessage); ok {
			seeds = append(seeds, seedMessages(f, fld.data)...)
		}
	}
	fuzzRoundTrip[MLSMessage](f, seeds)
}

func FuzzRatchetTree(f *testing.F) {
	fuzzRoundTrip[RatchetTree](f, seedMessages(f, func(v *messagesVector) []byte { return v.RatchetTree }))
}

func FuzzGroupSecrets(f *testing.F) {
	fuzzRoundTrip[GroupSecrets](f, seedMessages(f, func(v *messagesVector) []byte { return v.GroupSecrets }))
}

func FuzzCommit(f *testing.F) {
	fuzzRoundTrip[Commit](f, seedMessages(f, func(v *messagesVector) []byte { return v.Commit }))
}

func FuzzProposal(f *testing.F) {
	var seeds [][]byte
	var ops []struct {
		Proposal vectors.HexBytes `json:"proposal"`
	}
	vectors.Load(f, "tree-operations", &ops)
	for _, o := range ops {
		seeds = append(seeds, o.Proposal)
	}
	// Every proposal type, framed as a Proposal: proposal_type || body.
	for i, fld := range messageFields[5:12] {
		for _, body := range seedMessages(f, fld.data)[:2] {
			seeds = append(seeds, append([]byte{0, byte(i + 1)}, body...))
		}
	}
	fuzzRoundTrip[Proposal](f, seeds)
}

func FuzzKeyPackage(f *testing.F) {
	var seeds [][]byte
	for _, m := range seedMessages(f, func(v *messagesVector) []byte { return v.MLSKeyPackage }) {
		seeds = append(seeds, m[4:])
	}
	fuzzRoundTrip[KeyPackage](f, seeds)
}

func FuzzLeafNode(f *testing.F) {
	var seeds [][]byte
	for _, data := range seedMessages(f, func(v *messagesVector) []byte { return v.UpdateProposal }) {
		seeds = append(seeds, data) // an Update is exactly a LeafNode
	}
	fuzzRoundTrip[LeafNode](f, seeds)
}

func FuzzGroupInfo(f *testing.F) {
	var seeds [][]byte
	for _, m := range seedMessages(f, func(v *messagesVector) []byte { return v.MLSGroupInfo }) {
		seeds = append(seeds, m[4:])
	}
	fuzzRoundTrip[GroupInfo](f, seeds)
}

// FuzzExternalPub decodes the data of the external_pub GroupInfo extension
// (RFC 9420 §12.4.3.2), which an external joiner reads.
func FuzzExternalPub(f *testing.F) {
	fuzzRoundTrip[ExternalPub](f, [][]byte{append([]byte{32}, bytes.Repeat([]byte{9}, 32)...), {0}})
}

func FuzzWelcome(f *testing.F) {
	var seeds [][]byte
	for _, m := range seedMessages(f, func(v *messagesVector) []byte { return v.MLSWelcome }) {
		seeds = append(seeds, m[4:])
	}
	fuzzRoundTrip[Welcome](f, seeds)
}

func FuzzAuthenticatedContent(f *testing.F) {
	var th []struct {
		AuthenticatedContent vectors.HexBytes `json:"authenticated_content"`
	}
	vectors.Load(f, "transcript-hashes", &th)
	var seeds [][]byte
	for _, v := range th {
		seeds = append(seeds, v.AuthenticatedContent)
	}
	fuzzRoundTrip[AuthenticatedContent](f, seeds)
}

// FuzzPrivateMessageContent checks the decrypted-content parser, whose
// padding is not length-prefixed: the first byte selects the content type.
func FuzzPrivateMessageContent(f *testing.F) {
	f.Add([]byte{byte(ContentApplication), 0x03, 'a', 'b', 'c', 0x01, 0xee, 0, 0, 0})
	for _, c := range seedMessages(f, func(v *messagesVector) []byte { return v.Commit })[:2] {
		f.Add(append(append([]byte{byte(ContentCommit)}, c...), 0x01, 0xee, 0x01, 0xff, 0))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ct := ContentType(data[0])
		c, err := UnmarshalPrivateMessageContent(data[1:], ct)
		if err != nil {
			return
		}
		enc, err := MarshalPrivateMessageContent(c, ct)
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		if !bytes.Equal(enc, data[1:]) {
			t.Fatalf("re-encoding differs\n got %x\nwant %x", enc, data[1:])
		}
	})
}
