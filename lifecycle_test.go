package tresor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/keys"
	"github.com/tresor-dev/tresor/signaling"
)

// TestPeriodicRekey: with a short rekey interval the group moves to new
// epochs on its own while media keeps flowing, and receivers decrypt frames
// of each new epoch.
func TestPeriodicRekey(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	alice := e.join("alice", signaling.RoleHost, WithRekeyInterval(300*time.Millisecond))
	bob := e.join("bob", signaling.RoleParticipant, WithRekeyInterval(300*time.Millisecond))
	start, _ := converged(t, 10*time.Second, alice, bob)
	sa := alice.publish(ctx, frameInterval)
	sb := bob.publish(ctx, frameInterval)
	waitEpochFrames(t, 15*time.Second, start+3, []*client{alice, bob}, []*sender{sa, sb})
	// The epochs may have moved on before publishing began: wait for
	// enough frames as well.
	waitFrames(t, 10*time.Second, 10, []*client{alice, bob}, []*sender{sa, sb})
	sa.halt()
	sb.halt()
	checkFrames(t, bob, sa, "audio", 10)
	checkFrames(t, alice, sb, "video", 10)
	for _, c := range []*client{alice, bob} {
		// Frames under the next epoch's key that arrive before the
		// receiver applied the Commit are held, not lost.
		st := c.m.Stats()
		if st.Rejected() != 0 {
			t.Errorf("%s lost frames across rekeys: %+v", c.id, st)
		}
		e, _, _ := c.m.SecurityCode()
		t.Logf("%s: %d epochs, %+v", c.id, e-start, st)
	}
}

// TestLeaveAndClose: a participant that leaves is removed from the group by
// a Commit (others see ParticipantLeft and a new epoch), its own handle ends
// cleanly, and no goroutine outlives the meetings.
func TestLeaveAndClose(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	alice := e.join("alice", signaling.RoleHost)
	bob := e.join("bob", signaling.RoleParticipant)
	carol := e.join("carol", signaling.RoleParticipant)
	epoch, _ := converged(t, 10*time.Second, alice, bob, carol)
	if err := carol.m.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-carol.m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("carol's meeting did not end")
	}
	if err := carol.m.Err(); err != nil {
		t.Errorf("carol's meeting ended with %v after Leave", err)
	}
	after, _ := converged(t, 10*time.Second, alice, bob)
	if after != epoch+1 {
		t.Errorf("epoch %d after the leave, want %d", after, epoch+1)
	}
	for _, c := range []*client{alice, bob} {
		// The event may still be on its way when the epoch is visible.
		eventually(t, 5*time.Second, c.id+"'s ParticipantLeft", func() bool { return len(eventsOf[*ParticipantLeft](c)) > 0 })
		left := eventsOf[*ParticipantLeft](c)
		if len(left) != 1 || left[0].Member.Identity != "carol" {
			t.Errorf("%s: ParticipantLeft events %+v", c.id, left)
		}
	}
	if err := carol.m.SendChat(ctx, "still here?"); !errors.Is(err, ErrClosed) {
		t.Errorf("chat after leave: %v, want ErrClosed", err)
	}
}

// TestConsentRequested: a host starting a recording asks every other
// participant for consent through an event.
func TestConsentRequested(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	alice := e.join("alice", signaling.RoleHost)
	bob := e.join("bob", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob)
	rec, err := alice.m.Signaling().StartRecording(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.m.Consent(ctx, rec.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "consent request at bob", func() bool {
		ev := eventsOf[*ConsentRequested](bob)
		return len(ev) == 1 && ev[0].Recorder.Identity == "alice" && ev[0].Recorder.Leaf == 0 &&
			ev[0].Recording.ID == rec.ID && ev[0].Recording.AskedAt == rec.AskedAt && !ev[0].Waiting
	})
	if err := bob.m.Consent(ctx, rec.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "recording active at bob", func() bool {
		evs := eventsOf[*RecordingChanged](bob)
		return len(evs) > 0 && evs[len(evs)-1].Recording.Active && evs[len(evs)-1].Recording.ID == rec.ID
	})
	// The recorder holds bob's signed consent to this recording.
	eventually(t, 5*time.Second, "recording verified at the recorder", func() bool {
		evs := eventsOf[*RecordingChanged](alice)
		return len(evs) > 0 && evs[len(evs)-1].Verified && evs[len(evs)-1].Recording.ID == rec.ID
	})
	if n := len(eventsOf[*ConsentRequested](alice)); n != 0 {
		t.Errorf("the recorder was asked for consent %d times", n)
	}
	// A new recording asks again: consent belongs to one recording.
	if err := alice.m.Signaling().StopRecording(ctx); err != nil {
		t.Fatal(err)
	}
	rec2, err := alice.m.Signaling().StartRecording(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a second consent request at bob", func() bool {
		ev := eventsOf[*ConsentRequested](bob)
		return len(ev) == 2 && ev[1].Recording.ID == rec2.ID && rec2.ID != rec.ID
	})
	if err := bob.m.Consent(ctx, rec.ID, true); !errors.Is(err, signaling.ErrConflict) {
		t.Fatalf("consent to the stopped recording: %v", err)
	}
}

// TestJoinErrors: no token, a forged token, an unreachable server.
func TestJoinErrors(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	if _, err := Join(ctx, e.url, ""); err == nil {
		t.Error("join without a token succeeded")
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.MintToken(otherKey, auth.Claims{Room: e.room, Identity: "eve", Role: signaling.RoleHost, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(ctx, e.url, forged); !errors.Is(err, &signaling.Error{Code: signaling.CodeInvalidToken}) {
		t.Errorf("forged token: %v", err)
	}
	if _, err := Join(ctx, "ws://127.0.0.1:1/", e.token("x", signaling.RoleHost)); err == nil {
		t.Error("join to a closed port succeeded")
	}
}

// TestActiveSpeaker: the loudest sender, by the RFC 6464 levels on its
// frames, becomes the active speaker at the other participants.
func TestActiveSpeaker(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	alice := e.join("alice", signaling.RoleHost)
	bob := e.join("bob", signaling.RoleParticipant)
	carol := e.join("carol", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob, carol)
	sa := alice.audioSender(ctx, t, 20*time.Millisecond)
	sb := bob.audioSender(ctx, t, 20*time.Millisecond)
	speaker := func() string {
		evs := eventsOf[*ActiveSpeaker](carol)
		if len(evs) == 0 {
			return ""
		}
		return evs[len(evs)-1].Identity
	}
	sa.tracks["audio"].SetAudioLevel(20)
	sb.tracks["audio"].SetAudioLevel(100)
	eventually(t, 5*time.Second, "alice speaks", func() bool { return speaker() == "alice" })
	eventually(t, 5*time.Second, "alice speaks at bob", func() bool {
		evs := eventsOf[*ActiveSpeaker](bob)
		return len(evs) == 1 && evs[0].Identity == "alice"
	})
	sa.tracks["audio"].SetAudioLevel(127)
	sb.tracks["audio"].SetAudioLevel(30)
	eventually(t, 5*time.Second, "bob speaks", func() bool { return speaker() == "bob" })
}

// TestWaitingRoom: a participant waits until the host admits it, then joins
// the group and receives media.
func TestWaitingRoom(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{room: signaling.RoomConfig{WaitingRoom: true}})
	host := e.join("host", signaling.RoleHost)
	guest := e.join("guest", signaling.RoleParticipant)
	if _, err := guest.m.Publish(ctx, signaling.SourceCamera); !errors.Is(err, ErrNotAdmitted) {
		t.Fatalf("publish while waiting: %v, want ErrNotAdmitted", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(eventsOf[*Admitted](guest)); n != 0 {
		t.Fatal("guest admitted without a host")
	}
	if err := host.m.Signaling().Admit(ctx, "guest"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "guest admitted", func() bool { return len(eventsOf[*Admitted](guest)) == 1 })
	converged(t, 10*time.Second, host, guest)
	sh := host.publish(ctx, frameInterval)
	eventually(t, 10*time.Second, "media at the guest", func() bool { return len(guest.received("host", "video")) >= 5 })
	sh.halt()
	checkFrames(t, guest, sh, "video", 5)
}

// TestUnpublishAndMute: a host's mute request reaches the participant as
// an event; unpublishing ends the track at the others.
func TestUnpublishAndMute(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{})
	alice := e.join("alice", signaling.RoleHost)
	bob := e.join("bob", signaling.RoleParticipant)
	converged(t, 10*time.Second, alice, bob)
	sb := bob.publish(ctx, frameInterval)
	eventually(t, 10*time.Second, "bob's video at alice", func() bool { return len(alice.received("bob", "video")) >= 3 })
	if err := alice.m.Signaling().Mute(ctx, "bob", signaling.SourceCamera); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "mute request", func() bool {
		ev := eventsOf[*MuteRequested](bob)
		return len(ev) == 1 && ev[0].By == "alice" && ev[0].Source == signaling.SourceCamera
	})
	if err := bob.m.Unpublish(ctx, sb.tracks["video"]); err != nil {
		t.Fatal(err)
	}
	var video *RemoteTrack
	alice.mu.Lock()
	for _, tr := range alice.tracks {
		if tr.Participant() == "bob" && tr.Kind() == "video" {
			video = tr
		}
	}
	alice.mu.Unlock()
	if video == nil {
		t.Fatal("no video track at alice")
	}
	select {
	case <-video.done:
	case <-time.After(5 * time.Second):
		t.Fatal("bob's video track did not end at alice after unpublish")
	}
	n := len(alice.received("bob", "audio"))
	eventually(t, 5*time.Second, "audio still flowing", func() bool { return len(alice.received("bob", "audio")) > n+3 })
	sb.halt()
}

// TestKeyPackageRenewedAfterExpiry: when no Commit adds a client in time
// (here the only member never covers its Add), the delivery service drops
// the KeyPackage and says so; the client uploads a fresh one instead of
// waiting outside the group for good.
func TestKeyPackageRenewedAfterExpiry(t *testing.T) {
	goroutineLeakCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEnv(t, envConfig{sigCfg: signaling.Config{KeyPackageTimeout: 500 * time.Millisecond, CommitTimeout: 10 * time.Second}})
	// The founder is a bare signaling client: the group's only member and
	// so the committer, which never covers an Add.
	founder, err := signaling.Dial(ctx, e.url, e.token("founder", signaling.RoleHost))
	if err != nil {
		t.Fatal(err)
	}
	defer founder.Close()
	if err := founder.UploadKeyPackage(ctx, []byte("founder's key package")); err != nil {
		t.Fatal(err)
	}
	nextRequest := func() signaling.Proposal {
		t.Helper()
		for {
			select {
			case ev := <-founder.Events():
				if r, ok := ev.(signaling.CommitRequested); ok && len(r.Proposals) == 1 && r.Proposals[0].Kind == signaling.ProposalAdd {
					return r.Proposals[0]
				}
			case <-ctx.Done():
				t.Fatal("no commit request")
			}
		}
	}
	bob := e.join("bob", signaling.RoleParticipant)
	first := nextRequest()
	second := nextRequest()
	if first.Participant != "bob" || second.Participant != "bob" || bytes.Equal(first.KeyPackage, second.KeyPackage) {
		t.Fatalf("requests %q then %q: want two different KeyPackages of bob", first.Participant, second.Participant)
	}
	for _, p := range []signaling.Proposal{first, second} {
		who, err := keys.VerifyKeyPackage(p.KeyPackage, nil)
		if err != nil || who.Identity != "bob" {
			t.Fatalf("bob's KeyPackage: %v, %+v", err, who)
		}
	}
	if bob.m.Err() != nil {
		t.Fatalf("bob: %v", bob.m.Err())
	}
}
