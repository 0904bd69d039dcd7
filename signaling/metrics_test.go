package signaling

import (
	"testing"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	e.dial("r", "h", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	waitFor[Waiting](t, p)
	_, err := e.dialErr("x", "h", RoleHost)
	wantCode(t, err, CodeNoRoom)
	mfs, err := e.srv.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			if m.GetGauge() != nil {
				got[name] = m.GetGauge().GetValue()
			} else {
				got[name] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{
		"tresor_signaling_rooms":                   1,
		"tresor_signaling_participants":            1,
		"tresor_signaling_waiting":                 1,
		"tresor_signaling_rejected_total{no_room}": 1,
		"tresor_signaling_commit_timeouts_total":   0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
