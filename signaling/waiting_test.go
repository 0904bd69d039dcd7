package signaling

import (
	"testing"
	"time"
)

func TestWaitingRoomAdmit(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true, PreAllowed: []Role{RoleCohost}})
	host := e.dial("r", "host", RoleHost)
	waitFor[Joined](t, host)
	co := e.dial("r", "co", RoleCohost)
	waitFor[Joined](t, co) // pre-allowed role
	guest := e.dial("r", "guest", RoleParticipant)
	if w := waitFor[Waiting](t, guest); w.Reason != "host" {
		t.Fatalf("reason %q", w.Reason)
	}
	if guest.Self().Identity != "" {
		t.Fatal("a waiting client has no roster entry")
	}
	// Hosts see the waiting room; the guest sees nothing of the meeting.
	waitMatch(t, host, func(s StateChanged) bool { return len(s.State.Waiting) == 1 && s.State.Waiting[0].Identity == "guest" })
	if err := co.SendChat(ctx(t), 0, []byte("opaque")); err != nil {
		t.Fatal(err)
	}
	waitFor[ChatReceived](t, host)
	// Waiting clients can do nothing but consent or leave.
	wantCode(t, guest.SendChat(ctx(t), 0, []byte("x")), CodeNotAdmitted)
	wantCode(t, guest.UploadKeyPackage(ctx(t), []byte("kp")), CodeNotAdmitted)
	noEvent[StateChanged](t, guest, 100*time.Millisecond)
	noEvent[ChatReceived](t, guest, 0)

	// A cohost may admit.
	if err := co.Admit(ctx(t), "guest"); err != nil {
		t.Fatal(err)
	}
	j := waitFor[Joined](t, guest)
	if !sameIDs(j.State.Participants, []string{"host", "co", "guest"}) || j.State.Waiting != nil {
		t.Fatalf("guest's state = %+v", j.State)
	}
	if guest.Self().Identity != "guest" {
		t.Fatal("Self not set after admission")
	}
	waitMatch(t, host, func(s StateChanged) bool { return len(s.State.Waiting) == 0 && len(s.State.Participants) == 3 })
	wantCode(t, host.Admit(ctx(t), "guest"), CodeNotFound)
}

func TestWaitingRoomDeny(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	host := e.dial("r", "host", RoleHost)
	p1 := e.dial("r", "p1", RoleParticipant)
	p2 := e.dial("r", "p2", RoleParticipant)
	waitFor[Waiting](t, p2)
	waitMatch(t, host, func(s StateChanged) bool { return len(s.State.Waiting) == 2 })
	// A waiting participant cannot admit another.
	wantCode(t, p1.Admit(ctx(t), "p2"), CodeNotAdmitted)
	if err := host.Deny(ctx(t), "p1"); err != nil {
		t.Fatal(err)
	}
	waitFor[Denied](t, p1)
	waitClosed(t, p1)
	waitMatch(t, host, func(s StateChanged) bool { return len(s.State.Waiting) == 1 && s.State.Waiting[0].Identity == "p2" })
	if err := host.Admit(ctx(t), "p2"); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p2)
	// p2, now a participant, cannot deny or admit anyone.
	p3 := e.dial("r", "p3", RoleParticipant)
	waitFor[Waiting](t, p3)
	wantCode(t, p2.Admit(ctx(t), "p3"), CodeForbidden)
	wantCode(t, p2.Deny(ctx(t), "p3"), CodeForbidden)
}

func TestLockedMeeting(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{})
	host := e.dial("r", "host", RoleHost)
	p := e.dial("r", "p", RoleParticipant)
	wantCode(t, p.Lock(ctx(t), true), CodeForbidden)
	if err := host.Lock(ctx(t), true); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, p, func(s StateChanged) bool { return s.State.Locked })
	_, err := e.dialErr("r", "late", RoleParticipant)
	wantCode(t, err, CodeLocked)
	e.dial("r", "co", RoleCohost) // moderators still get in
	if err := host.Lock(ctx(t), false); err != nil {
		t.Fatal(err)
	}
	e.dial("r", "late", RoleParticipant)
}

func TestPreAllow(t *testing.T) {
	e := newEnv(t, Config{})
	e.room("r", RoomConfig{WaitingRoom: true})
	host := e.dial("r", "host", RoleHost)
	st := waitFor[Joined](t, host).State
	if len(st.PreAllowed) != 1 || st.PreAllowed[0] != RoleHost {
		t.Fatalf("pre-allowed %v", st.PreAllowed)
	}
	co := e.dial("r", "co", RoleCohost)
	p := e.dial("r", "p", RoleParticipant)
	waitFor[Waiting](t, co)
	waitFor[Waiting](t, p)
	wantCode(t, p.PreAllow(ctx(t), RoleParticipant), CodeNotAdmitted)
	// Pre-allowing cohosts lets the waiting cohost in, not the participant.
	if err := host.PreAllow(ctx(t), RoleCohost); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, co)
	noEvent[Joined](t, p, 50*time.Millisecond)
	wantCode(t, co.PreAllow(ctx(t), "admin"), CodeBadRequest)
	if err := co.PreAllow(ctx(t), RoleCohost, RoleParticipant); err != nil {
		t.Fatal(err)
	}
	waitFor[Joined](t, p)
	// New participants now skip the waiting room; until un-allowed.
	waitFor[Joined](t, e.dial("r", "p2", RoleParticipant))
	if err := host.PreAllow(ctx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor[Waiting](t, e.dial("r", "p3", RoleParticipant))
	waitFor[Waiting](t, e.dial("r", "co2", RoleCohost))
}
