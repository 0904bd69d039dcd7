package signaling

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSeedMessagesValid(t *testing.T) {
	for _, s := range seedMessages {
		m, err := decodeMessage([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !knownClientType(m.Type) {
			continue // server → client
		}
		if err := m.validate(); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		// Decoding the re-encoding gives the same message.
		b, err := encodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := decodeMessage(b)
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed %s into %s", s, b)
		}
	}
}

// TestWireNames pins the JSON field names that PROTOCOL.md documents.
func TestWireNames(t *testing.T) {
	e := uint64(3)
	b, _ := json.Marshal(&message{V: 1, Type: typeCommit, ID: 9, Epoch: &e, Proposals: []uint64{4}, Data: []byte{1}, Welcome: []byte{2}})
	want := `{"v":1,"type":"commit","id":9,"epoch":3,"proposals":[4],"data":"AQ==","welcome":"Ag=="}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	ice := MediaSignal{Kind: SignalCandidate, Candidate: "c", SDPMid: ptr("0"), SDPMLineIndex: ptr(uint16(1))}
	b, _ = json.Marshal(ice)
	if string(b) != `{"kind":"candidate","candidate":"c","sdpMid":"0","sdpMLineIndex":1}` {
		t.Fatalf("candidate %s", b)
	}
}
