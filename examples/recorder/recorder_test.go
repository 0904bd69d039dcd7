package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

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

func waitOutput(t *testing.T, out *syncBuffer, want string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case err := <-done:
			t.Fatalf("recorder returned %v before %q:\n%s", err, want, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after 30 s:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A speaker publishes the bot's clips. The recorder writes nothing until
// the speaker consents, then writes exactly the clips' frames, and stops
// (closing valid files) when the speaker withdraws consent.
func TestRecorderConsentGated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st := teststack.New(t, signaling.RoomConfig{Passcode: "1357"})

	clips := map[string]*mediafile.Clip{}
	for kind, x := range map[string]struct {
		file string
		read func([]byte) (*mediafile.Clip, error)
	}{"video": {"video.ivf", mediafile.ReadIVF}, "audio": {"audio.ogg", mediafile.ReadOgg}} {
		b, err := os.ReadFile(filepath.Join("..", "bot", "testdata", x.file))
		if err != nil {
			t.Fatal(err)
		}
		if clips[kind], err = x.read(b); err != nil {
			t.Fatal(err)
		}
	}

	// The speaker: a participant who publishes and answers consent.
	sp, err := tresor.Join(ctx, st.SignalURL, st.Token("speaker", signaling.RoleParticipant),
		append(st.Vouched("speaker"), tresor.WithPasscode("1357"), tresor.WithWebRTCAPI(teststack.API(t)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	asked := make(chan *tresor.ConsentRequested, 1)
	member := make(chan struct{})
	go func() {
		var once sync.Once
		for ev := range sp.Events() {
			switch ev := ev.(type) {
			case *tresor.EpochChanged:
				once.Do(func() { close(member) })
			case *tresor.ConsentRequested:
				asked <- ev
			}
		}
	}()
	select {
	case <-member:
	case <-ctx.Done():
		t.Fatal("speaker never became a group member")
	}
	var players sync.WaitGroup
	playCtx, stopPlaying := context.WithCancel(ctx)
	defer func() { stopPlaying(); players.Wait() }()
	for src, kind := range map[tresor.Source]string{signaling.SourceCamera: "video", signaling.SourceMicrophone: "audio"} {
		tr, err := sp.Publish(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		players.Add(1)
		go func() {
			defer players.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-playCtx.Done():
					return
				case <-tick.C:
				}
				f := clips[kind].Frames[i%len(clips[kind].Frames)]
				tr.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration})
			}
		}()
	}

	// The recorder fetches a cohost token from the development endpoint.
	dir := t.TempDir()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{URL: st.URL, Passcode: "1357", Dir: dir, API: teststack.API(t)}, out)
	}()
	var req *tresor.ConsentRequested
	select {
	case req = <-asked:
	case err := <-done:
		t.Fatalf("recorder returned %v:\n%s", err, out)
	case <-ctx.Done():
		t.Fatalf("nobody asked the speaker to consent:\n%s", out)
	}
	if !strings.HasPrefix(req.Recorder.Identity, "guest-") || req.Recording.ID == "" {
		t.Fatalf("consent request %+v", req)
	}
	// Without the speaker's consent nothing is written, though the
	// recorder is a member that receives and decrypts the media.
	waitOutput(t, out, "nothing is written until everyone consents", done)
	time.Sleep(1500 * time.Millisecond)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d files written before consent:\n%s", len(ents), out)
	}

	if err := sp.Consent(ctx, req.Recording.ID, true); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "every member consented (signed): recording", done)
	waitOutput(t, out, "speaker's video to", done)
	waitOutput(t, out, "speaker's audio to", done)
	time.Sleep(3 * time.Second) // more than one loop of each clip

	if err := sp.Consent(ctx, req.Recording.ID, false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recorder: %v\n%s", err, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("recorder did not stop after consent was withdrawn:\n%s", out)
	}
	waitOutput(t, out, "consent withdrawn", nil)

	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Fatalf("files %v", ents)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		kind, read := "video", mediafile.ReadIVF
		if strings.HasSuffix(e.Name(), ".ogg") {
			kind, read = "audio", mediafile.ReadOgg
		}
		got, err := read(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		want := map[string]bool{}
		for _, f := range clips[kind].Frames {
			want[string(f.Data)] = true
		}
		if len(got.Frames) < 40 {
			t.Errorf("%s: only %d frames", e.Name(), len(got.Frames))
		}
		for i, f := range got.Frames {
			if !want[string(f.Data)] {
				t.Fatalf("%s: frame %d is not a frame the speaker sent", e.Name(), i)
			}
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("test timed out")
	}
}
