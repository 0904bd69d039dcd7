package browsertest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type trackCounters struct {
	Dir, Kind           string
	Frames, OK, Dropped int
	Unsupported         int
}

type loopbackResult struct {
	API  string
	Sent struct {
		Sender struct{ Sealed, NoKey int }
		Tracks map[string]trackCounters
	}
	Received struct {
		Receiver struct{ Opened, AuthFailed, UnknownKey, Replayed, Malformed int }
		Tracks   map[string]trackCounters
	}
	Video *struct{ FramesDecoded, FrameWidth, FrameHeight int }
	Audio *struct{ PacketsReceived int }
}

// TestWorkerLoopback sends the fake camera and microphone between two peer
// connections in one page through the production worker (web/static/worker.js)
// with each transform API, and checks that the video decodes with the right
// key, and that with a wrong key nothing decodes and the worker counts
// authentication failures.
func TestWorkerLoopback(t *testing.T) {
	browser := newBrowser(t, 3*time.Minute)
	srv := serveWeb(t, nil)
	for _, api := range []string{"script", "streams"} {
		for _, wrong := range []bool{false, true} {
			name := api
			if wrong {
				name += "/wrong-key"
			}
			t.Run(name, func(t *testing.T) {
				ctx := newTab(t, browser, name)
				url := srv.URL + "/test/loopback.html?api=" + api
				if wrong {
					url += "&wrong=1"
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
					t.Fatal(err)
				}
				eval[bool](t, ctx, "window.started")
				var r loopbackResult
				deadline := time.Now().Add(30 * time.Second)
				for {
					time.Sleep(500 * time.Millisecond)
					if err := json.Unmarshal(eval[json.RawMessage](t, ctx, "result()"), &r); err != nil {
						t.Fatal(err)
					}
					if wrong && r.Received.Receiver.AuthFailed > 100 && time.Now().After(deadline.Add(-25*time.Second)) {
						break
					}
					if !wrong && r.Video != nil && r.Video.FramesDecoded > 30 && r.Received.Tracks["a-audio"].OK > 30 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("timed out: %+v", r)
					}
				}
				t.Logf("%s: %+v video %+v", name, r, r.Video)
				if r.API != api {
					t.Fatalf("api = %q, want %q", r.API, api)
				}
				if r.Sent.Sender.Sealed == 0 || r.Sent.Tracks["local-video"].OK == 0 || r.Sent.Tracks["local-audio"].OK == 0 {
					t.Fatalf("sender sealed nothing: %+v", r.Sent)
				}
				if wrong {
					if r.Received.Receiver.Opened != 0 || r.Received.Tracks["a-video"].OK != 0 {
						t.Fatalf("a wrong key opened frames: %+v", r.Received)
					}
					if r.Video != nil && r.Video.FramesDecoded != 0 {
						t.Fatalf("a wrong key decoded %d frames", r.Video.FramesDecoded)
					}
					return
				}
				if r.Received.Receiver.AuthFailed != 0 {
					t.Fatalf("authentication failures with the right key: %+v", r.Received.Receiver)
				}
				if r.Video.FrameWidth == 0 || r.Video.FrameHeight == 0 {
					t.Fatalf("video %+v", r.Video)
				}
			})
		}
	}
}
