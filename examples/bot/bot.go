package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/examples/internal/connect"
	"github.com/tresor-dev/tresor/examples/internal/mediafile"
	"github.com/tresor-dev/tresor/signaling"
)

// The clips the bot plays, made with ffmpeg (testdata/README.md).
var (
	//go:embed testdata/video.ivf
	videoIVF []byte
	//go:embed testdata/audio.ogg
	audioOgg []byte
)

// toneLevel is the tone's level in -dBov (RFC 6464): its RMS is -21.1 dB
// (ffmpeg's volumedetect on testdata/audio.ogg), which the microphone track
// announces so that the others see the bot as a speaker.
const toneLevel = 21

// config is the bot's configuration (see the flags in main.go).
type config struct {
	URL      string
	Token    string
	Passcode string
	Name     string
	Duration time.Duration
	Consent  bool
	Logger   *slog.Logger
	// API is the pion API for the peer connections; nil uses pion's
	// defaults plus loopback candidates. Tests restrict it to 127.0.0.1.
	API *webrtc.API
	// ignoreKeyFrameRequests keeps the clip looping as if no one asked
	// (a benchmark's baseline).
	ignoreKeyFrameRequests bool
}

// run joins the meeting and plays the clips until ctx is done, Duration
// has passed, or the meeting ends for the bot. It reports what happens on
// out, one line per event.
func run(ctx context.Context, cfg config, out io.Writer) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	video, err := mediafile.ReadIVF(videoIVF)
	if err != nil {
		return err
	}
	audio, err := mediafile.ReadOgg(audioOgg)
	if err != nil {
		return err
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	name := cfg.Name
	if name == "" {
		name = "Bot"
	}
	m, sigURL, err := connect.Join(ctx, connect.Params{URL: cfg.URL, Token: cfg.Token, Passcode: cfg.Passcode,
		Name: name, Role: signaling.RoleParticipant, Logger: log, API: cfg.API})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(out, "bot: connected to %s\n", sigURL)

	var wg sync.WaitGroup
	playCtx, stopPlay := context.WithCancel(ctx)
	defer func() { stopPlay(); wg.Wait() }()
	var tracks []*tresor.LocalTrack
	muted := map[tresor.Source]*atomic.Bool{signaling.SourceCamera: {}, signaling.SourceMicrophone: {}}
	var rewind atomic.Bool // a subscriber asked for a key frame
	playing := false
	for {
		var ev tresor.Event
		var open bool
		select {
		case <-ctx.Done():
			return leave(m, out)
		case ev, open = <-m.Events():
		}
		if !open {
			return m.Err()
		}
		switch ev := ev.(type) {
		case *tresor.Admitted:
			fmt.Fprintf(out, "bot: admitted as %s\n", m.Self().Identity)
			for _, src := range []tresor.Source{signaling.SourceCamera, signaling.SourceMicrophone} {
				t, err := m.Publish(ctx, src)
				if err != nil {
					return fmt.Errorf("publish %s: %w", src, err)
				}
				tracks = append(tracks, t)
			}
			tracks[1].SetAudioLevel(toneLevel)
			fmt.Fprintf(out, "bot: publishing camera (VP8 %dx%d, %v loop) and microphone (Opus, 440 Hz)\n",
				video.Width, video.Height, video.Duration().Round(time.Millisecond))
		case *tresor.EpochChanged:
			fmt.Fprintf(out, "bot: epoch %d, %d members, security code %s\n", ev.Epoch, len(ev.Members), ev.SecurityCode)
			if !playing && len(tracks) == 2 {
				// Keys exist from the first epoch on: start the clips.
				playing = true
				wg.Add(2)
				go func() {
					defer wg.Done()
					play(playCtx, tracks[0], video, muted[signaling.SourceCamera], &rewind, log)
				}()
				go func() { defer wg.Done(); play(playCtx, tracks[1], audio, muted[signaling.SourceMicrophone], nil, log) }()
			}
		case *tresor.ParticipantJoined:
			fmt.Fprintf(out, "bot: %s joined the group\n", ev.Member.Identity)
		case *tresor.ParticipantLeft:
			fmt.Fprintf(out, "bot: %s left the group\n", ev.Member.Identity)
		case *tresor.ConsentRequested:
			if !cfg.Consent {
				fmt.Fprintf(out, "bot: %s asks to record; not consenting (-consent=false)\n", ev.Recorder.Name)
				continue
			}
			if err := m.Consent(ctx, ev.Recording.ID, true); errors.Is(err, signaling.ErrConflict) {
				// That recording stopped meanwhile; a new one asks again.
				fmt.Fprintf(out, "bot: %s's recording ended before the bot consented\n", ev.Recorder.Name)
				continue
			} else if err != nil {
				return err
			}
			fmt.Fprintf(out, "bot: consented to %s recording the meeting\n", ev.Recorder.Name)
		case *tresor.MuteRequested:
			// Only the bot can mute its encrypted media; it obliges and
			// stays muted.
			if mu := muted[ev.Source]; mu != nil && !mu.Swap(true) {
				fmt.Fprintf(out, "bot: %s asked to mute the %s: muted\n", ev.By, ev.Source)
			}
		case *tresor.KeyFrameRequested:
			// A clip starts with a key frame (mediafile checks): start
			// the camera's over.
			if len(tracks) > 0 && ev.Track == tracks[0] && !cfg.ignoreKeyFrameRequests {
				rewind.Store(true)
			}
		case *tresor.TrackStopped:
			fmt.Fprintf(out, "bot: %s stopped the %s at the SFU\n", ev.By, ev.Source)
		case *tresor.Mismatch:
			fmt.Fprintf(out, "bot: WARNING: the server and the MLS group disagree (%s): compare security codes\n", ev.Kind)
		case *tresor.Closed:
			if ev.Err != nil {
				return fmt.Errorf("meeting ended: %w", ev.Err)
			}
			return nil
		}
	}
}

// leave says goodbye with a bounded wait (ctx is already done).
func leave(m *tresor.Meeting, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	fmt.Fprintln(out, "bot: leaving")
	return m.Leave(ctx)
}

// play writes the clip's frames to t at their pace, in a loop, until ctx is
// done; while muted it keeps the pace but sends nothing. Frames that cannot
// be encrypted yet (between the admission and the first key, or while the
// client is being removed) are skipped. When rewind (if not nil) is set,
// the clip starts over from its first frame, a key frame.
func play(ctx context.Context, t *tresor.LocalTrack, c *mediafile.Clip, muted, rewind *atomic.Bool, log *slog.Logger) {
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var failed int
	for i := 0; ; i = (i + 1) % len(c.Frames) {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if rewind != nil && rewind.Swap(false) {
			i = 0
		}
		f := c.Frames[i]
		var err error
		if !muted.Load() {
			err = t.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration})
		}
		switch {
		case err == nil:
		case errors.Is(err, e2ee.ErrUnknownKey), errors.Is(err, tresor.ErrNotMember):
			failed++
		default:
			if failed++; failed%100 == 1 {
				log.Warn("bot: write frame", "track", t.ID(), "err", err, "failed", failed)
			}
		}
		next = next.Add(f.Duration)
		// After a stall, start afresh rather than send a burst.
		if d := time.Until(next); d < -time.Second {
			next = time.Now()
		}
		timer.Reset(time.Until(next))
	}
}
