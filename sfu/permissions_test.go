package sfu_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// trackCounter counts packets per received track (stream/track ID).
type trackCounter struct {
	mu    sync.Mutex
	n     map[string]int
	first map[string]peertest.Received
	last  map[string]peertest.Received
}

func newTrackCounter() *trackCounter {
	return &trackCounter{n: map[string]int{}, first: map[string]peertest.Received{}, last: map[string]peertest.Received{}}
}

func (c *trackCounter) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	key := t.StreamID() + "/" + t.ID()
	peertest.Receive(t, func(r peertest.Received) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n[key] == 0 {
			c.first[key] = r
		}
		c.n[key]++
		c.last[key] = r
	})
}

func (c *trackCounter) get(key string) (int, peertest.Received) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key], c.last[key]
}

func TestForbiddenScreenShareNeverForwarded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{PLIThrottle: 100 * time.Millisecond})
	api := newAPI(t, peertest.Config{})

	counters := []*trackCounter{newTrackCounter(), newTrackCounter()}
	var subClients []*peertest.Client
	for i, id := range []string{"s1", "s2"} {
		cl, err := peertest.JoinSFU(ctx, s, api, "r", id, counters[i].onTrack)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		subClients = append(subClients, cl)
	}
	pub, err := peertest.JoinSFU(ctx, s, api, "r", "pub", nil,
		sfu.WithPublishSources(sfu.SourceSet(sfu.SourceCamera, sfu.SourceMicrophone)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	pub.Part.DeclareSource("screen", sfu.SourceScreen)
	cam, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	screen, err := pub.AddVideo("screen")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg1 := pump(t, cam, 0, 1, 600, 20*time.Millisecond, stop)
	wg2 := pump(t, screen, 0, 1, 600, 20*time.Millisecond, stop)
	defer func() { close(stop); wg1.Wait(); wg2.Wait() }()

	defer func() {
		if t.Failed() {
			for i, c := range counters {
				c.mu.Lock()
				t.Logf("subscriber %d: %v; %s; client sub %s/%s", i, c.n, sfu.TestingOnlyState(subClients[i].Part),
					subClients[i].Sub.PC.SignalingState(), subClients[i].Sub.PC.ConnectionState().String()+"/ice "+subClients[i].Sub.PC.ICEConnectionState().String()+"/gather "+subClients[i].Sub.PC.ICEGatheringState().String())
				c.mu.Unlock()
			}
			t.Logf("in %v out %v dropped %v plis out %v", metric(t, s, "packets_in_total"), metric(t, s, "packets_out_total"),
				metric(t, s, "packets_not_forwarded_total"), metric(t, s, "key_frame_requests_out_total"))
		}
	}()
	eventually(t, 10*time.Second, "camera at both subscribers", func() bool {
		a, _ := counters[0].get("pub/cam")
		b, _ := counters[1].get("pub/cam")
		return a > 20 && b > 20
	})
	for i, c := range counters {
		if n, _ := c.get("pub/screen"); n != 0 {
			t.Fatalf("subscriber %d received %d packets of a forbidden screen share", i, n)
		}
	}
	if metric(t, s, "packets_not_forwarded_total") == 0 {
		t.Fatal("forbidden track packets were not counted as not forwarded")
	}

	// Muting the camera stops it; unmuting resumes at a key frame.
	if err := pub.Part.SetMuted("cam", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	n0, _ := counters[0].get("pub/cam")
	time.Sleep(300 * time.Millisecond)
	if n1, _ := counters[0].get("pub/cam"); n1 != n0 {
		t.Fatalf("muted camera still forwarded: %d → %d packets", n0, n1)
	}
	if err := pub.Part.SetMuted("cam", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "camera resumes", func() bool {
		n, _ := counters[0].get("pub/cam")
		return n > n0+5
	})

	// Granting screen permission lets it through, starting at a key frame.
	pub.Part.SetPublishPermission(sfu.SourceScreen, true)
	eventually(t, 3*time.Second, "screen after permission granted", func() bool {
		n, _ := counters[1].get("pub/screen")
		return n > 0
	})
	counters[1].mu.Lock()
	firstKey := counters[1].first["pub/screen"].Key
	counters[1].mu.Unlock()
	if !firstKey {
		t.Fatal("screen share resumed without a key frame")
	}
	if err := pub.Part.SetMuted("nope", true); err == nil {
		t.Fatal("SetMuted on an unknown track succeeded")
	}
}

func TestActiveSpeakerEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var speakers [][]string
	var published []sfu.Event
	s := newSFU(t, sfu.Config{SpeakerInterval: 100 * time.Millisecond, OnEvent: func(e sfu.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Type {
		case sfu.EventActiveSpeakers:
			speakers = append(speakers, e.Speakers)
		case sfu.EventTrackPublished:
			published = append(published, e)
		}
	}})
	api := newAPI(t, peertest.Config{})

	// A listener checks that the audio level arrives, remapped to its own
	// extension ID, with the value the speaker sent.
	levels := make(chan uint8, 1000)
	_, err := peertest.JoinSFU(ctx, s, api, "r", "listener", func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		var id uint8
		for _, e := range r.GetParameters().HeaderExtensions {
			if e.URI == "urn:ietf:params:rtp-hdrext:ssrc-audio-level" {
				id = uint8(e.ID)
			}
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if ext := p.GetExtension(id); id != 0 && len(ext) == 1 && tr.StreamID() == "alice" {
				select {
				case levels <- ext[0] & 0x7f:
				default:
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var snd [2]*peertest.Sender
	for i, id := range []string{"alice", "bob"} {
		cl, err := peertest.JoinSFU(ctx, s, api, "r", id, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if snd[i], err = cl.AddAudio("mic"); err != nil {
			t.Fatal(err)
		}
		if err := cl.Publish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var loud atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for i := range snd {
				level := uint8(110) // near silence
				if i == int(loud.Load()) {
					level = 20 // -20 dBov: speaking
				}
				if _, err := snd[i].WriteAudio(100, level); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	lastIs := func(want string) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(speakers) > 0 && slices.Equal(speakers[len(speakers)-1], []string{want})
	}
	eventually(t, 5*time.Second, "alice active", func() bool { return lastIs("alice") })
	loud.Store(1)
	eventually(t, 5*time.Second, "bob active", func() bool { return lastIs("bob") })
	if got := s.RoomActiveSpeakers("r"); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("RoomActiveSpeakers = %v", got)
	}

	select {
	case l := <-levels:
		if l != 20 && l != 110 {
			t.Fatalf("listener got audio level %d, want 20 or 110", l)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("listener got no audio-level extension")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(published) != 2 || published[0].Source != sfu.SourceMicrophone || published[0].Kind != "audio" {
		t.Fatalf("track published events = %+v", published)
	}
}
