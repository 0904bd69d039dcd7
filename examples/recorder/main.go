// Command recorder records a Tresor meeting on its own machine, with
// everyone's consent: it joins as a cohost, asks to record, and writes each
// participant's decrypted media to local files (VP8 to IVF, Opus to Ogg)
// only while the recording is active, that is once every participant has
// consented. When anyone withdraws consent it closes the files and leaves.
//
//	go run ./examples/meeting                            # in one terminal
//	go run ./examples/recorder -passcode 1234-5678       # in another
//
// Without -token it asks the demo's development-only token endpoint for a
// cohost token (recording needs a host or cohost). See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080/", "the demo's URL (or, with -token, the signaling ws:// URL)")
	flag.StringVar(&cfg.Token, "token", "", "a host or cohost join token (default: a cohost token from the demo's development-only /demo/token)")
	flag.StringVar(&cfg.Passcode, "passcode", "", "the meeting passcode")
	flag.StringVar(&cfg.Name, "name", "Recorder", "display name")
	flag.StringVar(&cfg.Dir, "out", "recordings", "folder for the files")
	verbose := flag.Bool("v", false, "log debug messages")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "recorder:", err)
		os.Exit(1)
	}
}
