package e2ee

import (
	"fmt"
	"log/slog"
)

// DefaultReplayWindow is the number of most recent CTR values per KID a
// [Receiver] remembers when [Config.ReplayWindow] is zero.
const DefaultReplayWindow = 1024

// maxReplayWindow bounds the per-KID window memory (8 KiB per KID).
const maxReplayWindow = 1 << 16

// Config configures a [Sender] or a [Receiver]. The zero value is valid and
// selects safe defaults.
type Config struct {
	// Suite is the cipher suite (RFC 9605 §4.5). Zero selects
	// AES_128_GCM_SHA256_128 ([AES128GCMSHA256]).
	Suite Suite

	// ReplayWindow is, for a Receiver, how many CTR values below the
	// highest one accepted for a KID are still accepted once (RFC 9605 §9.3).
	// Older frames and duplicates fail with [ErrReplay]. Zero selects
	// [DefaultReplayWindow]; the value is rounded up to a multiple of 64 and
	// must not exceed 65536. Senders ignore it.
	ReplayWindow int

	// Logger receives one record per rejected frame (never key material or
	// frame contents). Nil discards logs.
	Logger *slog.Logger
}

func (c Config) resolve() (Config, error) {
	if c.Suite == 0 {
		c.Suite = AES128GCMSHA256
	}
	if _, err := c.Suite.params(); err != nil {
		return c, err
	}
	switch {
	case c.ReplayWindow == 0:
		c.ReplayWindow = DefaultReplayWindow
	case c.ReplayWindow < 0 || c.ReplayWindow > maxReplayWindow:
		return c, fmt.Errorf("e2ee: replay window %d out of range 1..%d", c.ReplayWindow, maxReplayWindow)
	default:
		c.ReplayWindow = (c.ReplayWindow + 63) &^ 63
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
