package sfu

import "github.com/prometheus/client_golang/prometheus"

// metrics are the SFU's Prometheus collectors. They carry no labels so that
// the per-packet cost is one atomic add per batch.
type metrics struct {
	rooms          prometheus.Gauge
	participants   prometheus.Gauge
	tracks         prometheus.Gauge
	packetsIn      prometheus.Counter
	bytesIn        prometheus.Counter
	packetsOut     prometheus.Counter
	bytesOut       prometheus.Counter
	nacks          prometheus.Counter
	retransmits    prometheus.Counter
	nackMisses     prometheus.Counter
	nackSuppressed prometheus.Counter
	plisIn         prometheus.Counter
	plisOut        prometheus.Counter
	dropped        prometheus.Counter
	writeErrors    prometheus.Counter
	badPackets     prometheus.Counter
	forward        prometheus.Histogram
	residence      prometheus.Histogram
}

// latencyBuckets resolve the 2 ms latency target (bounds in seconds).
var latencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 750e-6, 1e-3, 1.25e-3, 1.5e-3, 1.75e-3, 2e-3,
	2.5e-3, 3e-3, 4e-3, 5e-3, 7.5e-3, 10e-3, 20e-3, 50e-3, 100e-3}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "tresor", "sfu"
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		rooms:        g("rooms", "Rooms open."),
		participants: g("participants", "Participants joined."),
		tracks:       g("published_tracks", "Tracks published."),
		packetsIn:    c("packets_in_total", "RTP packets received from publishers."),
		bytesIn:      c("bytes_in_total", "RTP bytes received from publishers."),
		packetsOut:   c("packets_out_total", "RTP packets forwarded to subscribers (retransmissions excluded)."),
		bytesOut:     c("bytes_out_total", "RTP payload bytes forwarded to subscribers."),
		nacks:        c("nacks_total", "Sequence numbers NACKed by subscribers (RFC 4585 §6.2.1)."),
		retransmits:  c("retransmits_total", "Packets retransmitted to subscribers from the packet cache."),
		nackMisses:   c("nack_misses_total", "NACKed packets no longer in the packet cache."),
		nackSuppressed: c("nack_repeats_ignored_total",
			"NACKs for a packet retransmitted to the same subscriber moments before."),
		plisIn:      c("key_frame_requests_in_total", "PLI/FIR received from subscribers."),
		plisOut:     c("key_frame_requests_out_total", "PLI sent to publishers after merging and throttling."),
		dropped:     c("packets_not_forwarded_total", "RTP packets not forwarded (muted, forbidden, waiting for a key frame)."),
		writeErrors: c("write_errors_total", "Errors writing RTP to subscribers."),
		badPackets:  c("bad_packets_total", "Malformed RTP/RTCP packets received."),
		forward: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "forward_latency_seconds",
			Help:    "Time from the forwarding loop's read of a publisher packet (decrypted) to handing it to the last subscriber.",
			Buckets: latencyBuckets,
		}),
		residence: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "residence_seconds",
			Help: "Latency the SFU adds: from the kernel's receipt of a publisher's RTP datagram on the SFU's " +
				"socket to the return of the sendmmsg that sends the last subscriber's copy.",
			Buckets: latencyBuckets,
		}),
	}
	for _, col := range []prometheus.Collector{m.rooms, m.participants, m.tracks, m.packetsIn, m.bytesIn,
		m.packetsOut, m.bytesOut, m.nacks, m.retransmits, m.nackMisses, m.nackSuppressed, m.plisIn, m.plisOut, m.dropped,
		m.writeErrors, m.badPackets, m.forward, m.residence} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
