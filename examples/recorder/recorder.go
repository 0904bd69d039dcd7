package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/examples/internal/connect"
	"github.com/tresor-dev/tresor/signaling"
)

// config is the recorder's configuration (see the flags in main.go).
type config struct {
	URL      string
	Token    string
	Passcode string
	Name     string
	Dir      string
	Logger   *slog.Logger
	// API is the pion API for the peer connections; nil uses pion's
	// defaults plus loopback candidates. Tests restrict it to 127.0.0.1.
	API *webrtc.API
}

// errWithdrawn ends a recording that someone stopped.
var errWithdrawn = errors.New("recording stopped: consent withdrawn or recording ended")

// run joins, asks to record, records while the recording is active, and
// returns when someone withdraws consent (nil), ctx is done (nil), or the
// meeting ends for the recorder.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "recordings"
	}
	name := cfg.Name
	if name == "" {
		name = "Recorder"
	}
	files, err := newFiles(dir, out)
	if err != nil {
		return err
	}
	m, sigURL, err := connect.Join(ctx, connect.Params{URL: cfg.URL, Token: cfg.Token, Passcode: cfg.Passcode,
		Name: name, Role: signaling.RoleCohost, Logger: log, API: cfg.API})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(out, "recorder: connected to %s\n", sigURL)

	readCtx, stopReading := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	defer func() {
		// Close the files first: frames still in flight are dropped.
		if cerr := files.stop(); cerr != nil && err == nil {
			err = cerr
		}
		stopReading()
		readers.Wait()
	}()

	// requested: this recorder asked, for the recording recID; ours: the
	// server's state shows that recording (older state events still queued
	// cannot end it early). Consent belongs to one recording, so only
	// recID's activation means everyone consented to what is written.
	requested, ours, active := false, false, false
	var recID string
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
			fmt.Fprintf(out, "recorder: admitted as %s\n", m.Self().Identity)
		case *tresor.EpochChanged:
			fmt.Fprintf(out, "recorder: epoch %d, %d members, security code %s\n", ev.Epoch, len(ev.Members), ev.SecurityCode)
			if requested {
				continue
			}
			// A member now: ask to record, and consent for ourselves.
			requested = true
			rec, err := m.Signaling().StartRecording(ctx)
			if err != nil {
				return fmt.Errorf("start recording: %w", err)
			}
			recID = rec.ID
			if err := m.Consent(ctx, recID, true); err != nil {
				return err
			}
			fmt.Fprintln(out, "recorder: asked to record; nothing is written until everyone consents")
		case *tresor.TrackAdded:
			readers.Add(1)
			go func() {
				defer readers.Done()
				files.read(readCtx, ev.Track)
			}()
		case *tresor.RecordingChanged:
			rec := ev.Recording
			mine := rec.Requested && recID != "" && rec.ID == recID && rec.Recorder == m.Self().Identity
			if requested && mine {
				ours = true
			}
			// The server's "active" is not enough: every other member
			// of the MLS group must have sent a signed consent to this
			// very recording (ev.Verified). A joiner pauses the
			// recording until its signed consent arrives.
			switch {
			case ours && mine && rec.Active && ev.Verified && !active:
				active = true
				files.allow()
				fmt.Fprintln(out, "recorder: every member consented (signed): recording")
			case ours && mine && active && !ev.Verified:
				active = false
				files.pause()
				fmt.Fprintf(out, "recorder: paused: no signed consent yet from %s\n", strings.Join(ev.Missing, ", "))
			case ours && !mine:
				fmt.Fprintln(out, "recorder: "+errWithdrawn.Error())
				if err := files.stop(); err != nil {
					return err
				}
				return leave(m, out)
			}
		case *tresor.ConsentRequested:
			// Someone else records: the recorder has no say, and no
			// consent of its own to give on a person's behalf.
			if ev.Recorder.Identity != m.Self().Identity {
				fmt.Fprintf(out, "recorder: %s asks to record too; not consenting\n", ev.Recorder.Name)
			}
		case *tresor.Mismatch:
			fmt.Fprintf(out, "recorder: WARNING: the server and the MLS group disagree (%s): compare security codes\n", ev.Kind)
		case *tresor.Closed:
			if ev.Err != nil {
				return fmt.Errorf("meeting ended: %w", ev.Err)
			}
			return nil
		}
	}
}

// leave says goodbye with a bounded wait.
func leave(m *tresor.Meeting, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	fmt.Fprintln(out, "recorder: leaving")
	return m.Leave(ctx)
}
