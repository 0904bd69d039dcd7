package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/examples/internal/mediafile"
	"github.com/tresor-dev/tresor/examples/internal/teststack"
	"github.com/tresor-dev/tresor/signaling"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// frameSet holds a clip's frames for byte-exact lookups.
func frameSet(t *testing.T, read func([]byte) (*mediafile.Clip, error), data []byte) map[string]bool {
	t.Helper()
	c, err := read(data)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, f := range c.Frames {
		m[string(f.Data)] = true
	}
	return m
}

// The bot joins with a token from the development endpoint and the
// passcode, publishes both clips, and another participant decrypts exactly
// the clips' frames.
func TestBotPublishesDecryptableMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := teststack.New(t, signaling.RoomConfig{Passcode: "2468-1357"})
	videoFrames := frameSet(t, mediafile.ReadIVF, videoIVF)
	audioFrames := frameSet(t, mediafile.ReadOgg, audioOgg)

	rx, err := tresor.Join(ctx, st.SignalURL, st.Token("viewer", signaling.RoleHost),
		append(st.Vouched("viewer"), tresor.WithWebRTCAPI(teststack.API(t)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()

	clip, err := mediafile.ReadIVF(videoIVF)
	if err != nil {
		t.Fatal(err)
	}
	videoIndex := map[string]int{} // frame → its index in the clip
	for i, f := range clip.Frames {
		videoIndex[string(f.Data)] = i
	}

	var mu sync.Mutex
	got := map[string]int{}   // kind → frames that match the clip
	wrong := map[string]int{} // kind → frames that do not
	var order []int           // clip indexes of the video frames, as received
	var botVideo *tresor.RemoteTrack
	var readers sync.WaitGroup
	defer readers.Wait()
	speaker := make(chan string, 100)
	go func() {
		for ev := range rx.Events() {
			if s, ok := ev.(*tresor.ActiveSpeaker); ok {
				speaker <- s.Identity
			}
			ta, ok := ev.(*tresor.TrackAdded)
			if !ok {
				continue
			}
			tr := ta.Track
			if tr.Kind() == "video" {
				mu.Lock()
				botVideo = tr
				mu.Unlock()
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					f, err := tr.ReadFrame(ctx)
					if err != nil {
						return
					}
					want := videoFrames
					if tr.Kind() == "audio" {
						want = audioFrames
					}
					mu.Lock()
					if want[string(f.Data)] && strings.HasPrefix(tr.Participant(), "guest-") {
						got[tr.Kind()]++
						if tr.Kind() == "video" {
							order = append(order, videoIndex[string(f.Data)])
						}
					} else {
						wrong[tr.Kind()]++
					}
					mu.Unlock()
				}
			}()
		}
	}()

	out := &syncBuffer{}
	botCtx, stopBot := context.WithCancel(ctx)
	defer stopBot()
	done := make(chan error, 1)
	go func() {
		done <- run(botCtx, config{URL: st.URL, Passcode: "2468-1357", Name: "Bot", Consent: true, API: teststack.API(t)}, out)
	}()

	deadline := time.Now().Add(40 * time.Second)
	for {
		mu.Lock()
		v, a := got["video"], got["audio"]
		mu.Unlock()
		if v >= 30 && a >= 100 { // more than one loop of each clip
			break
		}
		select {
		case err := <-done:
			t.Fatalf("bot stopped: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("decrypted %d video and %d audio frames of the clips in 40 s\n%s", v, a, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if wrong["video"]+wrong["audio"] != 0 {
		t.Errorf("frames that are not the clip's: %v", wrong)
	}
	mu.Unlock()

	// The tone's level makes the bot the active speaker.
	var bot string
	select {
	case bot = <-speaker:
	case <-time.After(10 * time.Second):
		t.Fatal("the bot never became the active speaker")
	}
	if !strings.HasPrefix(bot, "guest-") {
		t.Fatalf("active speaker %q", bot)
	}

	// Asked to mute its microphone, the bot stops sending audio; video
	// goes on.
	if err := rx.Signaling().Mute(ctx, bot, signaling.SourceMicrophone); err != nil {
		t.Fatal(err)
	}
	count := func(kind string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[kind]
	}
	settled := false
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !settled; {
		a, v := count("audio"), count("video")
		time.Sleep(500 * time.Millisecond)
		settled = count("audio") == a && count("video") > v
	}
	if !settled {
		t.Fatalf("audio still arrives (or video stopped) after the mute request\n%s", out)
	}

	// Asked for a key frame, the bot starts its clip over (its first frame
	// is a key frame) at once instead of at the end of the loop: frame 0
	// follows a frame other than the clip's last. A request that happens
	// to land at the end of the loop is repeated.
	mu.Lock()
	vt := botVideo
	mu.Unlock()
	rewound := false
	for attempt := 0; attempt < 3 && !rewound; attempt++ {
		mu.Lock()
		mark := len(order)
		mu.Unlock()
		if err := vt.RequestKeyFrame(); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(time.Second); time.Now().Before(end) && !rewound; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			for i := max(mark, 1); i < len(order); i++ {
				if order[i] == 0 && order[i-1] != len(clip.Frames)-1 {
					rewound = true
				}
			}
			mu.Unlock()
		}
		time.Sleep(600 * time.Millisecond) // past the client's and the SFU's request pacing
	}
	if !rewound {
		t.Errorf("the bot did not restart its clip on a key frame request")
	}

	stopBot()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bot: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bot did not stop")
	}
	for _, want := range []string{"bot: admitted as guest-", "bot: publishing camera (VP8 320x240, 2s loop)", "members, security code", "asked to mute the microphone: muted", "bot: leaving"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBotRefusedWithoutPasscode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := teststack.New(t, signaling.RoomConfig{Passcode: "2468-1357"})
	err := run(ctx, config{URL: st.URL, API: teststack.API(t)}, &syncBuffer{})
	var se *signaling.Error
	if !errors.As(err, &se) || se.Code != signaling.CodePasscodeRequired {
		t.Fatalf("join without passcode: %v", err)
	}
}

// BenchmarkLateJoinerFirstKeyFrame measures how long a participant who
// joins while the bot plays waits for the bot's first video key frame:
// from the start of its Join to the first decrypted key frame
// (first-key-ms, the mean over b.N joins). With rewind=off the bot ignores
// key-frame requests, the baseline: the clip has a key frame once a second
// (frames 0 and 15 of 30, at 15 fps).
func BenchmarkLateJoinerFirstKeyFrame(b *testing.B) {
	for _, rewind := range []bool{true, false} {
		name := "rewind=on"
		if !rewind {
			name = "rewind=off"
		}
		b.Run(name, func(b *testing.B) { benchLateJoiner(b, !rewind) })
	}
}

func benchLateJoiner(b *testing.B, ignore bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := teststack.New(b, signaling.RoomConfig{Passcode: "2468-1357"})
	botCtx, stopBot := context.WithCancel(ctx)
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() {
		done <- run(botCtx, config{URL: st.URL, Passcode: "2468-1357", Consent: true, API: teststack.API(b),
			ignoreKeyFrameRequests: ignore}, out)
	}()
	defer func() {
		stopBot()
		<-done
	}()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		// Join at a different point of the bot's 2 s loop each time.
		time.Sleep(time.Duration(300+i*470%1700) * time.Millisecond)
		start := time.Now()
		viewer := fmt.Sprintf("viewer-%d", i)
		rx, err := tresor.Join(ctx, st.SignalURL, st.Token(viewer, signaling.RoleHost),
			append(st.Vouched(viewer), tresor.WithWebRTCAPI(teststack.API(b)))...)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan time.Duration, 1)
		go func() {
			for ev := range rx.Events() {
				ta, ok := ev.(*tresor.TrackAdded)
				if !ok || ta.Track.Kind() != "video" {
					continue
				}
				go func() {
					for {
						f, err := ta.Track.ReadFrame(ctx)
						if err != nil {
							return
						}
						if len(f.Data) > 0 && f.Data[0]&1 == 0 { // VP8 key frame (RFC 6386 §9.1)
							got <- time.Since(start)
							return
						}
					}
				}()
			}
		}()
		select {
		case d := <-got:
			total += d
		case <-time.After(30 * time.Second):
			b.Fatalf("no key frame from the bot in 30 s\n%s", out)
		}
		rx.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "first-key-ms")
	b.ReportMetric(0, "ns/op")
}
