package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/codec"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRejects checks that decoding refuses values the RFC leaves no room
// for, each with an error wrapping codec.ErrMalformed.
func TestRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		v    wireValue
		in   string
		want string
	}{
		{"credential type 0", new(Credential), "0000" + "00", "credential type"},
		{"credential type 3", new(Credential), "0003" + "00", "credential type"},
		{"credential GREASE type", new(Credential), "0a0a" + "00", "credential type"},
		{"leaf node source 0", new(LeafNode), "00" + "00" + "000100" + "0000000000" + "00" + "00" + "00", "leaf node source"},
		{"leaf node source 4", new(LeafNode), "00" + "00" + "000100" + "0000000000" + "04" + "00" + "00", "leaf node source"},
		{"node type 0", new(Node), "00", "node type"},
		{"node type 3", new(Node), "03", "node type"},
		{"proposal type 0", new(Proposal), "0000", "proposal type"},
		{"proposal type 8", new(Proposal), "0008" + "00", "proposal type"},
		{"proposal GREASE type", new(Proposal), "0a0a" + "00", "proposal type"},
		{"proposal-or-ref type 0", new(ProposalOrRef), "00" + "00", "ProposalOrRef type"},
		{"proposal-or-ref type 3", new(ProposalOrRef), "03" + "00", "ProposalOrRef type"},
		{"psk type 0", new(PreSharedKeyID), "00" + "00" + "00", "PSK type"},
		{"psk type 3", new(PreSharedKeyID), "03" + "00" + "00", "PSK type"},
		{"resumption usage 0", new(PreSharedKeyID), "02" + "00" + "00" + "0000000000000000" + "00", "usage"},
		{"resumption usage 4", new(PreSharedKeyID), "02" + "04" + "00" + "0000000000000000" + "00", "usage"},
		{"sender type 0", new(Sender), "00", "sender type"},
		{"sender type 5", new(Sender), "05", "sender type"},
		{"content type 0", new(FramedContent), "00" + "0000000000000000" + "03" + "00" + "00" + "00", "content type"},
		{"content type 4", new(FramedContent), "00" + "0000000000000000" + "03" + "00" + "04" + "00", "content type"},
		{"private message content type 0", new(PrivateMessage), "00" + "0000000000000000" + "00" + "00" + "00" + "00", "content type"},
		{"MLSMessage version 0", new(MLSMessage), "0000" + "0005", "protocol version"},
		{"MLSMessage version 2", new(MLSMessage), "0002" + "0005", "protocol version"},
		{"wire format 0", new(MLSMessage), "0001" + "0000", "wire format"},
		{"wire format 6", new(MLSMessage), "0001" + "0006", "wire format"},
		{"wire format GREASE", new(MLSMessage), "0001" + "0a0a", "wire format"},
		{"authenticated content of a welcome", new(AuthenticatedContent), "0003" + "00" + "0000000000000000" + "03" + "00" + "01" + "00" + "00", "cannot carry"},
		{"optional byte 2 in commit path", new(Commit), "00" + "02", "optional presence"},
		{"optional byte 2 in group secrets", new(GroupSecrets), "00" + "02" + "00", "optional presence"},
		{"non-minimal varint", new(ExternalInit), "4001" + "00", "non-minimal"},
		{"vector longer than input", new(Welcome), "0001" + "05" + "0000", "exceeds"},
	} {
		err := codec.Unmarshal(mustHex(t, c.in), c.v)
		if !errors.Is(err, codec.ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want ErrMalformed about %q", c.name, err, c.want)
		}
	}
}

// TestAcceptsUnknownNumbers checks that values that are plain numbers on the
// wire (cipher suites, extension types, capability entries, GREASE) decode
// and round-trip (RFC 9420 §13.5).
func TestAcceptsUnknownNumbers(t *testing.T) {
	leaf := &LeafNode{
		EncryptionKey: HPKEPublicKey{1},
		SignatureKey:  SignaturePublicKey{2},
		Credential:    Credential{Type: CredentialX509, Certificates: [][]byte{{0x30, 1}, {0x30, 2}}},
		Capabilities: Capabilities{
			Versions:     []ProtocolVersion{MLS10, 0x1a1a},
			CipherSuites: []CipherSuite{1, 0xf0f0, 0x2a2a},
			Extensions:   []ExtensionType{0xbeef, 0x3a3a},
			Proposals:    []ProposalType{0x4a4a},
			Credentials:  []CredentialType{CredentialBasic, CredentialX509, 0x5a5a},
		},
		Source:     SourceUpdate,
		Extensions: []Extension{{Type: 0x6a6a, Data: []byte{}}, {Type: 0xff00, Data: []byte("unknown extension")}},
		Signature:  []byte{3},
	}
	kp := &KeyPackage{Version: 0x7a7a, CipherSuite: 0xabcd, InitKey: HPKEPublicKey{4}, LeafNode: *leaf, Signature: []byte{5}}
	kp.LeafNode.Source = SourceKeyPackage
	kp.LeafNode.Lifetime = Lifetime{NotBefore: 1, NotAfter: 1 << 63}
	enc, err := codec.Marshal(kp)
	if err != nil {
		t.Fatal(err)
	}
	var got KeyPackage
	roundTrip(t, "key package with unknown numbers", enc, &got)
	if c := got.LeafNode.Credential; len(c.Certificates) != 2 || !bytes.Equal(c.Certificates[1], []byte{0x30, 2}) {
		t.Errorf("x509 certificates = %x", c.Certificates)
	}
	if got.LeafNode.Lifetime.NotAfter != 1<<63 || got.CipherSuite != 0xabcd {
		t.Errorf("decoded %+v", got)
	}
	requireTruncationsFail(t, "key package", enc, func() wireValue { return new(KeyPackage) })

	// A parent-hash leaf (source commit) and an update leaf.
	for _, src := range []LeafNodeSource{SourceUpdate, SourceCommit} {
		l := *leaf
		l.Source = src
		l.ParentHash = []byte{9, 9}
		enc, err := codec.Marshal(&l)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, "leaf", enc, new(LeafNode))
		if src == SourceUpdate && bytes.Contains(enc, []byte{2, 9, 9}) {
			t.Error("update leaf encoded a parent hash")
		}
	}
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xffff; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if v>>8 != v&0xff || v&0x0f != 0x0a {
				t.Errorf("IsGREASE(%#04x)", v)
			}
		}
	}
	// RFC 9420 §13.5: 0x0A0A, 0x1A1A, …, 0xEAEA.
	if n != 15 || !IsGREASE(0x0a0a) || !IsGREASE(0xeaea) || IsGREASE(0xfafa) {
		t.Errorf("%d GREASE values", n)
	}
}

// TestProposalsRoundTrip covers every proposal type and both PSK types
// inside a Commit with inline proposals and references.
func TestProposalsRoundTrip(t *testing.T) {
	kp := KeyPackage{Version: MLS10, CipherSuite: 1, LeafNode: LeafNode{Credential: Credential{Type: CredentialBasic, Identity: []byte("a")}, Source: SourceKeyPackage}}
	proposals := []Proposal{
		{Type: ProposalAdd, Add: &Add{KeyPackage: kp}},
		{Type: ProposalUpdate, Update: &Update{LeafNode: LeafNode{Credential: Credential{Type: CredentialBasic}, Source: SourceUpdate}}},
		{Type: ProposalRemove, Remove: &Remove{Removed: 7}},
		{Type: ProposalPSK, PreSharedKey: &PreSharedKey{PSK: PreSharedKeyID{Type: PSKExternal, PSKID: []byte("id"), PSKNonce: []byte{1}}}},
		{Type: ProposalPSK, PreSharedKey: &PreSharedKey{PSK: PreSharedKeyID{Type: PSKResumption, Usage: UsageBranch, PSKGroupID: []byte("g"), PSKEpoch: 42, PSKNonce: []byte{2}}}},
		{Type: ProposalReInit, ReInit: &ReInit{GroupID: []byte("g2"), Version: MLS10, CipherSuite: 3, Extensions: []Extension{{Type: 5, Data: []byte{0}}}}},
		{Type: ProposalExternalInit, ExternalInit: &ExternalInit{KEMOutput: bytes.Repeat([]byte{1}, 32)}},
		{Type: ProposalGroupContextExtensions, GroupContextExtensions: &GroupContextExtensions{}},
	}
	c := Commit{}
	for i := range proposals {
		c.Proposals = append(c.Proposals, ProposalOrRef{Type: ProposalOrRefProposal, Proposal: &proposals[i]})
	}
	c.Proposals = append(c.Proposals, ProposalOrRef{Type: ProposalOrRefReference, Reference: ProposalRef(bytes.Repeat([]byte{0xab}, 32))})
	enc, err := codec.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	var got Commit
	roundTrip(t, "commit", enc, &got)
	if len(got.Proposals) != 9 || got.Path != nil || got.Proposals[4].Proposal.PreSharedKey.PSK.PSKEpoch != 42 {
		t.Errorf("decoded %+v", got)
	}
	requireTruncationsFail(t, "commit", enc, func() wireValue { return new(Commit) })
}

// TestEncodeRejects checks that values the wire cannot carry fail to encode
// instead of producing bytes that would decode differently.
func TestEncodeRejects(t *testing.T) {
	for name, v := range map[string]codec.Marshaler{
		"credential type 3":        &Credential{Type: 3},
		"leaf source 0":            &LeafNode{Credential: Credential{Type: CredentialBasic}},
		"leaf node without leaf":   &Node{Type: NodeTypeLeaf},
		"parent node without body": &Node{Type: NodeTypeParent, Leaf: &LeafNode{}},
		"empty tree":               &RatchetTree{},
		"proposal without body":    &Proposal{Type: ProposalAdd, Remove: &Remove{}},
		"unknown proposal":         &Proposal{Type: 99},
		"proposal-or-ref type 0":   &ProposalOrRef{},
		"inline without proposal":  &ProposalOrRef{Type: ProposalOrRefProposal},
		"psk type 0":               &PreSharedKeyID{},
		"sender type 0":            &Sender{},
		"content without body":     &FramedContent{Sender: Sender{Type: SenderMember}, ContentType: ContentCommit},
		"content type 0":           &FramedContent{Sender: Sender{Type: SenderMember}},
		"message version 0":        &MLSMessage{WireFormat: WireFormatWelcome, Welcome: &Welcome{}},
		"message without body":     &MLSMessage{Version: MLS10, WireFormat: WireFormatWelcome},
		"message wire format 9":    &MLSMessage{Version: MLS10, WireFormat: 9},
	} {
		if enc, err := codec.Marshal(v); err == nil {
			t.Errorf("%s: encoded as %x", name, enc)
		}
	}
}

func TestPrivateMessageContent(t *testing.T) {
	c := &PrivateMessageContent{ApplicationData: []byte("hello"), Auth: FramedContentAuthData{Signature: []byte{1, 2}}, Padding: 7}
	enc, err := MarshalPrivateMessageContent(c, ContentApplication)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, "0568656c6c6f"+"020102"+"00000000000000"); !bytes.Equal(enc, want) {
		t.Fatalf("encoding %x, want %x", enc, want)
	}
	got, err := UnmarshalPrivateMessageContent(enc, ContentApplication)
	if err != nil || got.Padding != 7 || string(got.ApplicationData) != "hello" || got.Auth.ConfirmationTag != nil {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// RFC 9420 §6.3.1: a non-zero padding byte is an error.
	for i := len(enc) - 7; i < len(enc); i++ {
		bad := bytes.Clone(enc)
		bad[i] = 1
		if _, err := UnmarshalPrivateMessageContent(bad, ContentApplication); !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("non-zero padding at %d: err = %v", i, err)
		}
	}
	// A commit carries a confirmation tag after the signature.
	cc := &PrivateMessageContent{Commit: &Commit{}, Auth: FramedContentAuthData{Signature: []byte{1}, ConfirmationTag: []byte{2, 3}}}
	enc, err = MarshalPrivateMessageContent(cc, ContentCommit)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, "00"+"00"+"0101"+"020203"); !bytes.Equal(enc, want) {
		t.Fatalf("commit encoding %x, want %x", enc, want)
	}
	if got, err := UnmarshalPrivateMessageContent(enc, ContentCommit); err != nil || !bytes.Equal(got.Auth.ConfirmationTag, []byte{2, 3}) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	for _, ct := range []ContentType{0, 4} {
		if _, err := UnmarshalPrivateMessageContent(enc, ct); err == nil {
			t.Errorf("content type %d accepted", ct)
		}
	}
	if _, err := MarshalPrivateMessageContent(&PrivateMessageContent{Padding: -1}, ContentApplication); err == nil {
		t.Error("negative padding accepted")
	}
}

func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	in := mustHex(t, "0001"+"03"+"616263") // basic credential "abc"
	var c Credential
	if err := codec.Unmarshal(in, &c); err != nil {
		t.Fatal(err)
	}
	in[3] = 'x'
	if string(c.Identity) != "abc" {
		t.Fatalf("identity changed with the input: %q", c.Identity)
	}
}

func TestSenderData(t *testing.T) {
	s := SenderData{LeafIndex: 3, Generation: 0x01020304, ReuseGuard: [4]byte{9, 8, 7, 6}}
	enc, err := codec.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, "00000003"+"01020304"+"09080706"); !bytes.Equal(enc, want) {
		t.Fatalf("encoding %x", enc)
	}
	roundTrip(t, "sender data", enc, new(SenderData))
	requireTruncationsFail(t, "sender data", enc, func() wireValue { return new(SenderData) })
}
