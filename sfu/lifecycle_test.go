package sfu_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// TestStopTrackAndLeaveRenegotiate: stopping a track renegotiates it away
// from subscribers (their track ends) and reports it; a participant who
// leaves disappears from the room, and the last one out closes the room.
func TestStopTrackAndLeaveRenegotiate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var events []sfu.Event
	s := newSFU(t, sfu.Config{OnEvent: func(e sfu.Event) {
		if e.Type != sfu.EventActiveSpeakers {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}})
	api := newAPI(t, peertest.Config{})

	ended := make(chan string, 4)
	received := make(chan string, 100)
	sub, err := peertest.JoinSFU(ctx, s, api, "r", "sub", func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		peertest.Receive(tr, func(peertest.Received) {
			select {
			case received <- tr.ID():
			default:
			}
		})
		ended <- tr.ID()
	})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := peertest.JoinSFU(ctx, s, api, "r", "pub", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Join(ctx, "r", "pub", sub); !errors.Is(err, sfu.ErrDuplicateParticipant) {
		t.Fatalf("duplicate join: %v", err)
	}
	cam, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	mic, err := pub.AddAudio("mic")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, cam, 0, 1, 500, 20*time.Millisecond, stop)
	var wg2 sync.WaitGroup
	wg2.Add(1)
	go func() {
		defer wg2.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, _ = mic.WriteAudio(80, 100)
		}
	}()
	defer func() { close(stop); wg.Wait(); wg2.Wait() }()

	seen := map[string]bool{}
	eventually(t, 10*time.Second, "both tracks at the subscriber", func() bool {
		for {
			select {
			case id := <-received:
				seen[id] = true
				continue
			default:
			}
			return seen["cam"] && seen["mic"]
		}
	})

	t.Logf("both tracks received: %v", seen)
	if err := pub.Part.StopTrack("cam"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ended:
		if id != "cam" {
			t.Fatalf("track %q ended, want cam", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stopped track did not end at the subscriber")
	}
	if err := pub.Part.StopTrack("cam"); !errors.Is(err, sfu.ErrUnknownTrack) {
		t.Fatalf("second StopTrack: %v", err)
	}
	if got := metric(t, s, "published_tracks"); got != 1 {
		t.Fatalf("published_tracks = %v, want 1", got)
	}

	pub.Close()
	select {
	case id := <-ended:
		if id != "mic" {
			t.Fatalf("track %q ended, want mic", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("leaving publisher's track did not end at the subscriber")
	}
	r, err := s.Room("r")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Participants(); len(got) != 1 || got[0] != "sub" {
		t.Fatalf("participants after leave = %v", got)
	}
	t.Log("publisher left")
	sub.Close()
	eventually(t, 2*time.Second, "room closed", func() bool { return metric(t, s, "rooms") == 0 })
	if got := metric(t, s, "participants"); got != 0 {
		t.Fatalf("participants gauge = %v after everyone left", got)
	}

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, e := range events {
		switch e.Type {
		case sfu.EventTrackPublished:
			kinds = append(kinds, "+"+e.TrackID)
		case sfu.EventTrackUnpublished:
			kinds = append(kinds, "-"+e.TrackID)
		}
	}
	want := map[string]bool{"+cam": true, "+mic": true, "-cam": true, "-mic": true}
	if len(kinds) != 4 {
		t.Fatalf("events %v, want publish and unpublish of cam and mic", kinds)
	}
	for _, k := range kinds {
		if !want[k] {
			t.Fatalf("events %v, want publish and unpublish of cam and mic", kinds)
		}
	}
}

// TestExplicitSubscribe: a participant joined without auto-subscription
// receives only what it subscribes to, and Unsubscribe renegotiates the
// track away.
func TestExplicitSubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	api := newAPI(t, peertest.Config{})
	counts := newTrackCounter()
	ended := make(chan string, 4)
	viewer, err := peertest.JoinSFU(ctx, s, api, "r", "viewer", func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		counts.onTrack(tr, r)
		ended <- tr.ID()
	}, sfu.WithAutoSubscribe(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(viewer.Close)
	pub := join(t, ctx, s, api, "r", "pub", nil)
	a, err := pub.AddVideo("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := pub.AddVideo("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wga := pump(t, a, 0, 1, 300, 20*time.Millisecond, stop)
	wgb := pump(t, b, 0, 1, 300, 20*time.Millisecond, stop)
	defer func() { close(stop); wga.Wait(); wgb.Wait() }()

	eventually(t, 5*time.Second, "tracks published", func() bool { return metric(t, s, "published_tracks") == 2 })
	time.Sleep(200 * time.Millisecond)
	if n, _ := counts.get("pub/a"); n != 0 {
		t.Fatal("received a track without subscribing")
	}
	if err := viewer.Part.Subscribe("pub", "a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "subscribed track", func() bool { n, _ := counts.get("pub/a"); return n > 5 })
	if n, _ := counts.get("pub/b"); n != 0 {
		t.Fatal("received a track it did not subscribe to")
	}
	if err := viewer.Part.Unsubscribe("pub", "a"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ended:
		if id != "a" {
			t.Fatalf("track %q ended, want a", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("unsubscribed track did not end")
	}
	if err := viewer.Part.Subscribe("pub", "nope"); !errors.Is(err, sfu.ErrUnknownTrack) {
		t.Fatalf("Subscribe to an unknown track: %v", err)
	}
}
