// Command bot is a Go participant of a Tresor meeting: it joins, then
// publishes a moving test pattern (VP8) and a 440 Hz tone (Opus) in a loop,
// end-to-end encrypted like every participant's media.
//
//	go run ./examples/meeting                      # in one terminal
//	go run ./examples/bot -passcode 1234-5678      # in another
//
// Without -token it asks the demo's development-only token endpoint for a
// participant token. See README.md.
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
	flag.StringVar(&cfg.Token, "token", "", "join token (default: a participant token from the demo's development-only /demo/token)")
	flag.StringVar(&cfg.Passcode, "passcode", "", "the meeting passcode")
	flag.StringVar(&cfg.Name, "name", "Bot", "display name")
	flag.DurationVar(&cfg.Duration, "duration", 0, "leave after this long (0: until interrupted)")
	flag.BoolVar(&cfg.Consent, "consent", true, "consent to a recording when asked")
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
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}
