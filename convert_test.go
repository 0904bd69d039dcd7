package tresor

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/signaling"
)

// TestDriverMirrorsProtocol: the driver reads the server's JSON through its
// own mirror of the protocol's structs (internal/core/message.go), so that
// the browser hands it what it received. The mirror and package signaling
// must agree: a room state encoded by signaling decodes in the driver to
// exactly what the Go client's conversion gives it.
func TestDriverMirrorsProtocol(t *testing.T) {
	st := signaling.RoomState{
		Participants: []signaling.Participant{
			{Identity: "u-1", Name: "Ada", Role: signaling.RoleHost, Consented: true, Member: true},
			{Identity: "u-2", Name: "Bea", Role: signaling.RoleParticipant},
		},
		Recording: signaling.Recording{ID: "0123456789abcdef0123456789abcdef", Requested: true, Active: true, Recorder: "u-1", AskedAt: 1_900_000_000_123},
		Epoch:     7,
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got core.RoomState
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := roomState(st); !reflect.DeepEqual(got, want) {
		t.Fatalf("from JSON %+v\nconverted  %+v", got, want)
	}
	p := signaling.Proposal{ID: 3, Kind: signaling.ProposalAdd, Participant: "u-2", KeyPackage: []byte{1, 2, 3}}
	b, _ = json.Marshal(p)
	var cp core.Proposal
	if err := json.Unmarshal(b, &cp); err != nil || !reflect.DeepEqual(cp, commitRequest(signaling.CommitRequested{Proposals: []signaling.Proposal{p}}).Pending[0]) {
		t.Fatalf("proposal %+v (%v)", cp, err)
	}
}
