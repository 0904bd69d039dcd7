package signaling

import (
	"testing"
)

func TestHostOnlyActions(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true, PreAllowed: []Role{RoleCohost}})
	host := e.dial("r", "host", RoleHost)
	co := e.dial("r", "co", RoleCohost)
	p := e.dial("r", "p", RoleParticipant)
	waitFor[Waiting](t, p)
	if err := host.Admit(ctx(t), "p"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p)
	q := e.dial("r", "q", RoleParticipant)
	waitFor[Waiting](t, q)

	c := ctx(t)
	// A participant may do none of the host actions.
	for name, err := range map[string]error{
		"admit":           p.Admit(c, "q"),
		"deny":            p.Deny(c, "q"),
		"remove":          p.Remove(c, "co"),
		"mute":            p.Mute(c, "host", SourceMicrophone),
		"stop_track":      p.StopTrack(c, "host", SourceCamera),
		"permission":      p.AllowScreen(c, "p", true),
		"lock":            p.Lock(c, true),
		"end":             p.End(c),
		"start_recording": func() error { _, err := p.StartRecording(c); return err }(),
		"stop_recording":  p.StopRecording(c),
	} {
		var e *Error
		if !asError(err, &e) || e.Code != CodeForbidden {
			t.Errorf("participant %s: %v, want forbidden", name, err)
		}
	}
	// A cohost may not act on the host, nor end the meeting.
	wantCode(t, co.Remove(c, "host"), CodeForbidden)
	wantCode(t, co.Mute(c, "host", SourceCamera), CodeForbidden)
	wantCode(t, co.SetPermission(c, "host", SourceCamera, false), CodeForbidden)
	wantCode(t, co.End(c), CodeForbidden)
	// Nobody acts on themselves or on someone absent.
	wantCode(t, host.Remove(c, "host"), CodeBadRequest)
	wantCode(t, host.Mute(c, "ghost", SourceCamera), CodeNotFound)
	if st := e.srv.Stats(); st.Rejected[CodeForbidden] < 14 {
		t.Fatalf("forbidden count = %d", st.Rejected[CodeForbidden])
	}
	// Nothing happened: everyone is still there.
	if err := host.Lock(c, false); err != nil {
		t.Fatal(err)
	}
	waitRoster(t, host, "host", "co", "p")
}

func TestModeration(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	host := e.dial("r", "host", RoleHost)
	co := e.dial("r", "co", RoleCohost)
	p := e.dial("r", "p", RoleParticipant)
	c := ctx(t)

	if err := co.Mute(c, "p", SourceMicrophone); err != nil {
		t.Fatal(err)
	}
	if m := waitFor[MuteRequested](t, p); m.By != "co" || m.Source != SourceMicrophone {
		t.Fatalf("mute request %+v", m)
	}
	if err := host.StopTrack(c, "p", SourceCamera); err != nil {
		t.Fatal(err)
	}
	if s := waitFor[TrackStopped](t, p); s.By != "host" || s.Source != SourceCamera {
		t.Fatalf("track stopped %+v", s)
	}
	if err := host.AllowScreen(c, "p", true); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, func(s StateChanged) bool {
		for _, q := range s.State.Participants {
			if q.Identity == "p" {
				return q.Permissions.Screen
			}
		}
		return false
	})

	// Remove: the participant is told, closed, and cannot come back.
	if err := co.Remove(c, "p"); err != nil {
		t.Fatal(err)
	}
	if r := waitFor[Removed](t, p); r.By != "co" {
		t.Fatalf("removed by %q", r.By)
	}
	waitClosed(t, p)
	waitRoster(t, host, "host", "co")
	_, err := e.dialErr("r", "p", RoleParticipant)
	wantCode(t, err, CodeBanned)

	// End: everyone, waiting room included, is told and closed.
	if err := host.Lock(c, true); err != nil {
		t.Fatal(err)
	}
	if err := host.End(c); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*Client{host, co} {
		if en := waitFor[Ended](t, cl); en.By != "host" {
			t.Fatalf("ended by %q", en.By)
		}
		waitClosed(t, cl)
	}
	_, err = e.dialErr("r", "host", RoleHost)
	wantCode(t, err, CodeEnded)
	if st := e.srv.Stats(); st.Rooms != 0 || st.Participants != 0 {
		t.Fatalf("stats after end: %+v", st)
	}
}

func TestReplacedConnection(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	host := e.dial("r", "host", RoleHost)
	a1 := e.dial("r", "a", RoleParticipant)
	waitFor[Joined](t, a1)
	a2 := e.dial("r", "a", RoleParticipant)
	waitFor[Joined](t, a2)
	ev := waitFor[ServerError](t, a1)
	if ev.Err.Code != CodeReplaced {
		t.Fatalf("old connection got %v", ev.Err)
	}
	waitClosed(t, a1)
	st := waitRoster(t, host, "host", "a")
	_ = st
	if s := e.srv.Stats(); s.Participants != 2 {
		t.Fatalf("participants = %d", s.Participants)
	}
}

// TestReplacedAlone: the only participant reconnecting keeps the room alive,
// so later joiners meet it in the same room.
func TestReplacedAlone(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	a1 := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a1)
	a2 := e.dial("r", "a", RoleHost)
	waitFor[Joined](t, a2)
	waitClosed(t, a1)
	b := e.dial("r", "b", RoleParticipant)
	if j := waitFor[Joined](t, b); !sameIDs(j.State.Participants, []string{"a", "b"}) {
		t.Fatalf("roster %+v", j.State.Participants)
	}
	if st := e.srv.Stats(); st.Rooms != 1 || st.Participants != 2 {
		t.Fatalf("stats %+v", st)
	}
}
