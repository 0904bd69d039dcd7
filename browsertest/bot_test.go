package browsertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/signaling"
)

// bot is a Go participant (package tresor, the Go client): it publishes
// the examples' VP8 and Opus clips in a loop and counts the frames it
// decrypts from each other participant.
type bot struct {
	m        *tresor.Meeting
	identity string
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu        sync.Mutex
	decrypted map[string]int // participant/kind -> frames
	epoch     uint64
	code      string
}

// clip reads the examples' media (examples/bot/testdata, committed with the
// bot's README) as frames.
func clips(t *testing.T) (video, audio [][]byte) {
	t.Helper()
	dir := filepath.Join("..", "examples", "bot", "testdata")
	v, err := os.ReadFile(filepath.Join(dir, "video.ivf"))
	if err != nil {
		t.Fatalf("the bot's video clip: %v", err)
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(v))
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		video = append(video, f)
	}
	a, err := os.ReadFile(filepath.Join(dir, "audio.ogg"))
	if err != nil {
		t.Fatalf("the bot's audio clip: %v", err)
	}
	o, _, err := oggreader.NewWith(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, _, err := o.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(p, []byte("OpusTags")) {
			continue
		}
		audio = append(audio, p)
	}
	if len(video) == 0 || len(audio) == 0 {
		t.Fatal("empty clips")
	}
	return video, audio
}

// startBot joins the meeting at ms as a participant named name (it lands in
// the waiting room) and starts publishing once admitted; opts are added to
// its Join options.
func startBot(t *testing.T, ms *meetingServer, name string, opts ...tresor.Option) *bot {
	t.Helper()
	video, audio := clips(t)
	identity := "bot-" + strings.ToLower(name)
	tok := ms.token(t, identity, name, signaling.RoleParticipant)
	ctx, cancel := context.WithCancel(context.Background())
	b := &bot{identity: identity, cancel: cancel, decrypted: map[string]int{}}
	jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
	defer jcancel()
	m, err := tresor.Join(jctx, "ws"+strings.TrimPrefix(ms.URL, "http")+"/signal", tok,
		append([]tresor.Option{tresor.WithRoom(testRoom), tresor.WithPasscode(testPasscode),
			tresor.WithAuthority(ms.key.Public().(ed25519.PublicKey)), tresor.WithVoucher(ms.vouch(identity, name))}, opts...)...)
	if err != nil {
		cancel()
		t.Fatalf("bot join: %v", err)
	}
	b.m = m
	t.Cleanup(func() { cancel(); m.Close(); b.wg.Wait() })

	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		published := false
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-m.Events():
				if !ok {
					return
				}
				switch ev := ev.(type) {
				case *tresor.EpochChanged:
					b.mu.Lock()
					b.epoch, b.code = ev.Epoch, ev.SecurityCode
					b.mu.Unlock()
					if !published {
						published = true
						b.publish(ctx, t, video, audio)
					}
				case *tresor.ConsentRequested:
					b.wg.Add(1)
					go func() {
						defer b.wg.Done()
						cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
						defer ccancel()
						if err := m.Consent(cctx, ev.Recording.ID, true); err != nil && ctx.Err() == nil {
							t.Errorf("bot consent: %v", err)
						}
					}()
				case *tresor.TrackAdded:
					b.wg.Add(1)
					go b.read(ctx, ev.Track)
				}
			}
		}
	}()
	return b
}

func (b *bot) publish(ctx context.Context, t *testing.T, video, audio [][]byte) {
	play := func(src tresor.Source, frames [][]byte, every time.Duration) {
		defer b.wg.Done()
		tr, err := b.m.Publish(ctx, src)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("bot publish %s: %v", src, err)
			}
			return
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// Frames are refused between epochs; the next one goes out.
			_ = tr.WriteSample(media.Sample{Data: frames[i%len(frames)], Duration: every})
		}
	}
	b.wg.Add(2)
	go play(signaling.SourceCamera, video, time.Second/15)
	go play(signaling.SourceMicrophone, audio, 20*time.Millisecond)
}

func (b *bot) read(ctx context.Context, tr *tresor.RemoteTrack) {
	defer b.wg.Done()
	key := tr.Participant() + "/" + tr.Kind()
	for {
		if _, err := tr.ReadFrame(ctx); err != nil {
			return
		}
		b.mu.Lock()
		b.decrypted[key]++
		b.mu.Unlock()
	}
}

func (b *bot) state() (epoch uint64, code string, decrypted map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := make(map[string]int, len(b.decrypted))
	for k, v := range b.decrypted {
		d[k] = v
	}
	return b.epoch, b.code, d
}
