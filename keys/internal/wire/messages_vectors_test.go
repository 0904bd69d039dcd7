package wire

import (
	"fmt"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/vectors"
)

// messagesVector is one entry of messages.json (test-vectors.md, "Messages").
type messagesVector struct {
	MLSWelcome                     vectors.HexBytes `json:"mls_welcome"`
	MLSGroupInfo                   vectors.HexBytes `json:"mls_group_info"`
	MLSKeyPackage                  vectors.HexBytes `json:"mls_key_package"`
	RatchetTree                    vectors.HexBytes `json:"ratchet_tree"`
	GroupSecrets                   vectors.HexBytes `json:"group_secrets"`
	AddProposal                    vectors.HexBytes `json:"add_proposal"`
	UpdateProposal                 vectors.HexBytes `json:"update_proposal"`
	RemoveProposal                 vectors.HexBytes `json:"remove_proposal"`
	PreSharedKeyProposal           vectors.HexBytes `json:"pre_shared_key_proposal"`
	ReInitProposal                 vectors.HexBytes `json:"re_init_proposal"`
	ExternalInitProposal           vectors.HexBytes `json:"external_init_proposal"`
	GroupContextExtensionsProposal vectors.HexBytes `json:"group_context_extensions_proposal"`
	Commit                         vectors.HexBytes `json:"commit"`
	PublicMessageApplication       vectors.HexBytes `json:"public_message_application"`
	PublicMessageProposal          vectors.HexBytes `json:"public_message_proposal"`
	PublicMessageCommit            vectors.HexBytes `json:"public_message_commit"`
	PrivateMessage                 vectors.HexBytes `json:"private_message"`
}

// messageField is one field of a messages.json entry with the type it
// decodes to and a check that the decoded value is of the kind the field
// names.
type messageField struct {
	name  string
	data  func(v *messagesVector) []byte
	fresh func() wireValue
	check func(v wireValue) error
}

func wireFormatIs(wf WireFormat, ct ContentType) func(wireValue) error {
	return func(v wireValue) error {
		m := v.(*MLSMessage)
		if m.WireFormat != wf {
			return fmt.Errorf("wire format %d, want %d", m.WireFormat, wf)
		}
		if ct != 0 && m.PublicMessage.Content.ContentType != ct {
			return fmt.Errorf("content type %d, want %d", m.PublicMessage.Content.ContentType, ct)
		}
		return nil
	}
}

var messageFields = []messageField{
	{"mls_welcome", func(v *messagesVector) []byte { return v.MLSWelcome }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatWelcome, 0)},
	{"mls_group_info", func(v *messagesVector) []byte { return v.MLSGroupInfo }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatGroupInfo, 0)},
	{"mls_key_package", func(v *messagesVector) []byte { return v.MLSKeyPackage }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatKeyPackage, 0)},
	{"ratchet_tree", func(v *messagesVector) []byte { return v.RatchetTree }, func() wireValue { return new(RatchetTree) }, nil},
	{"group_secrets", func(v *messagesVector) []byte { return v.GroupSecrets }, func() wireValue { return new(GroupSecrets) }, nil},
	{"add_proposal", func(v *messagesVector) []byte { return v.AddProposal }, func() wireValue { return new(Add) }, nil},
	{"update_proposal", func(v *messagesVector) []byte { return v.UpdateProposal }, func() wireValue { return new(Update) }, nil},
	{"remove_proposal", func(v *messagesVector) []byte { return v.RemoveProposal }, func() wireValue { return new(Remove) }, nil},
	{"pre_shared_key_proposal", func(v *messagesVector) []byte { return v.PreSharedKeyProposal }, func() wireValue { return new(PreSharedKey) }, nil},
	{"re_init_proposal", func(v *messagesVector) []byte { return v.ReInitProposal }, func() wireValue { return new(ReInit) }, nil},
	{"external_init_proposal", func(v *messagesVector) []byte { return v.ExternalInitProposal }, func() wireValue { return new(ExternalInit) }, nil},
	{"group_context_extensions_proposal", func(v *messagesVector) []byte { return v.GroupContextExtensionsProposal }, func() wireValue { return new(GroupContextExtensions) }, nil},
	{"commit", func(v *messagesVector) []byte { return v.Commit }, func() wireValue { return new(Commit) }, nil},
	{"public_message_application", func(v *messagesVector) []byte { return v.PublicMessageApplication }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatPublicMessage, ContentApplication)},
	{"public_message_proposal", func(v *messagesVector) []byte { return v.PublicMessageProposal }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatPublicMessage, ContentProposal)},
	{"public_message_commit", func(v *messagesVector) []byte { return v.PublicMessageCommit }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatPublicMessage, ContentCommit)},
	{"private_message", func(v *messagesVector) []byte { return v.PrivateMessage }, func() wireValue { return new(MLSMessage) }, wireFormatIs(WireFormatPrivateMessage, 0)},
}

// TestMessagesVectors decodes every field of every messages.json entry into
// its type and requires that re-encoding yields the same bytes.
func TestMessagesVectors(t *testing.T) {
	var vs []messagesVector
	vectors.Load(t, "messages", &vs)
	if len(vs) != 300 {
		t.Fatalf("messages.json: %d entries, want 300", len(vs))
	}
	for _, f := range messageFields {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for i := range vs {
				data := f.data(&vs[i])
				if len(data) == 0 {
					t.Fatalf("entry %d: empty", i)
				}
				v := f.fresh()
				roundTrip(t, fmt.Sprintf("entry %d", i), data, v)
				if t.Failed() {
					return
				}
				if f.check != nil {
					if err := f.check(v); err != nil {
						t.Fatalf("entry %d: %v", i, err)
					}
				}
			}
			requireTruncationsFail(t, f.name, f.data(&vs[0]), f.fresh)
		})
	}
}
