package tresor

import (
	"slices"

	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/signaling"
)

// The driver (internal/core) speaks the protocol's own terms, so that the
// browser can hand it the JSON it receives; these functions translate
// package signaling's events into them, and the driver's events into this
// package's.

func roomState(st signaling.RoomState) core.RoomState {
	out := core.RoomState{Epoch: st.Epoch, Recording: recording(st.Recording)}
	for _, p := range st.Participants {
		out.Participants = append(out.Participants, core.Participant{Identity: p.Identity, Name: p.Name,
			Consented: p.Consented, Member: p.Member})
	}
	return out
}

func recording(r signaling.Recording) core.Recording {
	return core.Recording{ID: r.ID, Requested: r.Requested, Active: r.Active, Recorder: r.Recorder, AskedAt: r.AskedAt}
}

func fromCoreRecording(r core.Recording) Recording {
	return Recording{ID: r.ID, Requested: r.Requested, Active: r.Active, Recorder: r.Recorder, AskedAt: r.AskedAt}
}

func commitRequest(ev signaling.CommitRequested) core.ServerMessage {
	m := core.ServerMessage{Type: core.TypeCommitRequest, Epoch: &ev.Epoch}
	for _, p := range ev.Proposals {
		m.Pending = append(m.Pending, core.Proposal{ID: p.ID, Kind: string(p.Kind), Participant: p.Participant, KeyPackage: p.KeyPackage})
	}
	return m
}

func toMember(m core.Member) Member {
	return Member{Identity: m.Identity, Name: m.Name, Verified: m.Verified, Leaf: m.Leaf, SignatureKey: slices.Clone(m.SignatureKey)}
}

func toMembers(ms []core.Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = toMember(m)
	}
	return out
}

// event translates a driver event; it returns nil for outputs that are not
// events of this package (warnings are logged by the driver).
func event(o core.Output) Event {
	switch o := o.(type) {
	case core.ParticipantJoined:
		return &ParticipantJoined{Member: toMember(o.Member)}
	case core.ParticipantLeft:
		return &ParticipantLeft{Member: toMember(o.Member)}
	case core.GroupLeft:
		return &LeftGroup{}
	case core.Resynced:
		return &Resynced{Epoch: o.Epoch}
	case core.ChatMessage:
		return &ChatMessage{From: toMember(o.From), Epoch: o.Epoch, Text: o.Text}
	case core.ConsentRequested:
		return &ConsentRequested{Recording: fromCoreRecording(o.Recording), Recorder: toMember(o.Recorder), Waiting: o.Waiting}
	case core.RecordingChanged:
		return &RecordingChanged{Recording: fromCoreRecording(o.Recording), Verified: o.Verified, Missing: slices.Clone(o.Missing)}
	case core.Mismatch:
		return &Mismatch{Kind: MismatchKind(o.Kind), Participants: slices.Clone(o.Participants), ServerEpoch: o.ServerEpoch, Epoch: o.Epoch}
	}
	return nil
}
