package wire

import (
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// TestExtensionContentsVectors decodes the registered extensions found in
// messages.json GroupInfos (ratchet_tree, external_pub, and
// required_capabilities in the GroupContext) and round-trips their data.
func TestExtensionContentsVectors(t *testing.T) {
	var vs []messagesVector
	vectors.Load(t, "messages", &vs)
	seen := map[ExtensionType]int{}
	for i, v := range vs {
		var m MLSMessage
		if err := codec.Unmarshal(v.MLSGroupInfo, &m); err != nil {
			t.Fatal(err)
		}
		exts := append(append([]Extension{}, m.GroupInfo.Extensions...), m.GroupInfo.GroupContext.Extensions...)
		for _, e := range exts {
			name := fmt.Sprintf("messages[%d] extension %d", i, e.Type)
			seen[e.Type]++
			switch e.Type {
			case ExtensionApplicationID:
				roundTrip(t, name, e.Data, new(ApplicationID))
			case ExtensionRatchetTree:
				roundTrip(t, name, e.Data, new(RatchetTree))
			case ExtensionRequiredCapabilities:
				roundTrip(t, name, e.Data, new(RequiredCapabilities))
			case ExtensionExternalPub:
				roundTrip(t, name, e.Data, new(ExternalPub))
			case ExtensionExternalSenders:
				roundTrip(t, name, e.Data, new(ExternalSenders))
			}
		}
	}
	for _, et := range []ExtensionType{ExtensionRatchetTree, ExtensionRequiredCapabilities, ExtensionExternalPub} {
		if seen[et] == 0 {
			t.Errorf("no extension of type %d in the vectors", et)
		}
	}
}

// TestExtensionContents round-trips each registered extension's data type,
// including the two that the vectors do not contain.
func TestExtensionContents(t *testing.T) {
	for name, v := range map[string]wireValue{
		"application_id": &ApplicationID{'a', 'p', 'p'},
		"required_capabilities": &RequiredCapabilities{
			ExtensionTypes: []ExtensionType{ExtensionExternalSenders, 0x0a0a}, ProposalTypes: []ProposalType{ProposalReInit},
			CredentialTypes: []CredentialType{CredentialX509}},
		"external_pub": &ExternalPub{ExternalPub: HPKEPublicKey{1, 2, 3}},
		"external_senders": &ExternalSenders{
			{SignatureKey: SignaturePublicKey{4, 5}, Credential: Credential{Type: CredentialBasic, Identity: []byte("ds")}},
			{SignatureKey: SignaturePublicKey{6}, Credential: Credential{Type: CredentialX509, Certificates: [][]byte{{7}, {8, 9}}}},
		},
	} {
		enc, err := codec.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		roundTrip(t, name, enc, v)
		requireTruncationsFail(t, name, enc, func() wireValue {
			switch v.(type) {
			case *ApplicationID:
				return new(ApplicationID)
			case *RequiredCapabilities:
				return new(RequiredCapabilities)
			case *ExternalPub:
				return new(ExternalPub)
			default:
				return new(ExternalSenders)
			}
		})
	}
}

func TestDuplicateExtension(t *testing.T) {
	for _, c := range []struct {
		types []ExtensionType
		dup   ExtensionType
		found bool
	}{
		{nil, 0, false},
		{[]ExtensionType{1, 2, 0xff00}, 0, false},
		{[]ExtensionType{1, 2, 1}, 1, true},
		{[]ExtensionType{0xff00, 3, 0xff00, 3}, 0xff00, true},
	} {
		var exts []Extension
		for _, ty := range c.types {
			exts = append(exts, Extension{Type: ty, Data: []byte{}})
		}
		if dup, found := DuplicateExtension(exts); dup != c.dup || found != c.found {
			t.Errorf("DuplicateExtension(%v) = %d, %v; want %d, %v", c.types, dup, found, c.dup, c.found)
		}
	}
}
