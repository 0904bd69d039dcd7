// Command meeting runs Tresor's demo meeting in one process: the signaling
// server, the SFU and the browser client on one HTTP port (plus one UDP port
// for media).
//
//	go run ./examples/meeting                 # http://127.0.0.1:8080
//	go run ./examples/meeting -addr :8443 -udp :7882 -room standup -passcode 2468-1357
//
// It prints the meeting URL, a host link and the passcode. It signs join
// tokens with a key generated at start and hands out participant tokens at
// /demo/token: both are for development only (see README.md).
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
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "HTTP address: the page, signaling at /signal and the development token endpoint")
	flag.StringVar(&cfg.UDP, "udp", "", "UDP address of the SFU's single media port (default: the host of -addr, a port the kernel picks)")
	flag.StringVar(&cfg.Room, "room", "demo", "name of the demo room")
	flag.StringVar(&cfg.Passcode, "passcode", "", "meeting passcode (default: a random one, printed at start)")
	flag.BoolVar(&cfg.WaitingRoom, "waiting-room", true, "hold participants in the waiting room until the host admits them")
	verbose := flag.Bool("v", false, "log debug messages")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "meeting:", err)
		os.Exit(1)
	}
}
