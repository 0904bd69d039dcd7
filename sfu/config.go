package sfu

import (
	"log/slog"
	"net"
	"time"

	"github.com/pion/transport/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures an SFU. The zero value is usable: it listens on one UDP
// port on 127.0.0.1 chosen by the kernel, logs nowhere and keeps metrics in a
// fresh registry.
type Config struct {
	// Logger receives the SFU's logs. Nil discards them. Logs never contain
	// SDP bodies or ICE credentials.
	Logger *slog.Logger

	// UDPAddr is the address of the single UDP port shared by every peer
	// connection (ICE UDP mux). Default "127.0.0.1:0"; a deployment sets a
	// public address such as ":7882" together with NAT1To1IPs.
	UDPAddr string

	// UDPConn, when set, is used for the ICE UDP mux instead of listening on
	// UDPAddr. The SFU closes it on Close.
	UDPConn net.PacketConn

	// DisableWriteBatching turns off sendmmsg(2) batching of the datagrams
	// one packet's fan-out writes (package udpbatch). Batching applies only
	// when the SFU opens its own UDP socket (not with UDPConn or Net).
	DisableWriteBatching bool

	// NAT1To1IPs are public IP addresses advertised as host candidates when
	// the SFU runs behind 1:1 NAT.
	NAT1To1IPs []string

	// Net, when set, replaces the operating system's network (for tests with
	// pion's vnet). The UDP mux then listens on UDPAddr inside Net.
	Net transport.Net

	// Registerer receives the SFU's Prometheus metrics. Nil creates a new
	// prometheus.Registry, returned by (*SFU).Gatherer. The global registry
	// is never used implicitly.
	Registerer prometheus.Registerer

	// PLIThrottle is the minimum interval between two key-frame requests
	// (PLI, RFC 4585 §6.3.1) sent to one publisher stream; requests from all
	// subscribers within it are merged. Default 500ms.
	PLIThrottle time.Duration

	// VideoCachePackets and AudioCachePackets size the per-publisher-stream
	// packet cache used to answer NACKs. Defaults 512 and 128.
	VideoCachePackets int
	AudioCachePackets int

	// SpeakerInterval is how often active speakers are recomputed.
	// Default 300ms.
	SpeakerInterval time.Duration

	// DisableBandwidthEstimation turns off send-side bandwidth estimation
	// from transport-wide CC feedback on subscriber connections (the
	// transport-wide sequence extension is then not sent). Simulcast layers
	// then follow explicit requests only.
	DisableBandwidthEstimation bool

	// InitialBitrate is the initial per-subscriber bandwidth estimate in
	// bits/s. Default 1_000_000.
	InitialBitrate int

	// OnEvent, when set, receives events (track published/unpublished,
	// active speakers). It is called from SFU goroutines and must not block.
	OnEvent func(Event)

	// ReconnectTimeout is how long a participant whose peer connection
	// failed (ICE failed: nothing received for pion's disconnected plus
	// failed timeouts, 30 s by default) is kept for an ICE restart to bring
	// the connection back before it is closed. Default 30s.
	ReconnectTimeout time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.UDPAddr == "" {
		c.UDPAddr = "127.0.0.1:0"
	}
	if c.PLIThrottle <= 0 {
		c.PLIThrottle = 500 * time.Millisecond
	}
	if c.VideoCachePackets <= 0 {
		c.VideoCachePackets = 512
	}
	if c.AudioCachePackets <= 0 {
		c.AudioCachePackets = 128
	}
	if c.SpeakerInterval <= 0 {
		c.SpeakerInterval = 300 * time.Millisecond
	}
	if c.InitialBitrate <= 0 {
		c.InitialBitrate = 1_000_000
	}
	if c.ReconnectTimeout <= 0 {
		c.ReconnectTimeout = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
