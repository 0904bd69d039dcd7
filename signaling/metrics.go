package signaling

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector exports [Server.Stats] as Prometheus metrics, read at scrape
// time, so counting costs the server nothing more than Stats does.
type collector struct {
	s                                      *Server
	rooms, participants, waiting           *prometheus.Desc
	rejected, disconnected, commitTimeouts *prometheus.Desc
	conns, pendingConns, refused, expired  *prometheus.Desc
	reconnecting, resumes, resumeFailures  *prometheus.Desc
	windowsEnded, overflows                *prometheus.Desc
}

func newCollector(s *Server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("tresor", "signaling", name), help, labels, nil)
	}
	return &collector{
		s:              s,
		rooms:          d("rooms", "Rooms open."),
		participants:   d("participants", "Participants admitted."),
		waiting:        d("waiting", "Participants in waiting rooms."),
		rejected:       d("rejected_total", "Rejected joins and messages, by error code.", "code"),
		disconnected:   d("disconnected_total", "Connections closed for abuse, by reason.", "reason"),
		commitTimeouts: d("commit_timeouts_total", "Committers that did not commit in time (failover)."),
		conns:          d("connections", "Open WebSocket connections."),
		pendingConns:   d("pending_connections", "Open WebSocket connections that have not joined yet."),
		refused:        d("refused_total", "WebSocket upgrades refused by the connection limits, by reason.", "reason"),
		expired:        d("key_packages_expired_total", "Pending Adds dropped because no Commit covered them in time."),
		reconnecting:   d("reconnecting", "Participants whose connection dropped and whose place is kept for a resume."),
		resumes:        d("resumes_total", "Sessions resumed on a new connection."),
		resumeFailures: d("resume_failures_total", "Refused resumes, by why.", "reason"),
		windowsEnded:   d("resume_windows_ended_total", "Participants removed because they did not resume in time or their outbox overflowed while away."),
		overflows:      d("outbox_overflows_total", "Outboxes that overflowed, making their session unresumable."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rooms, c.participants, c.waiting, c.rejected, c.disconnected, c.commitTimeouts,
		c.conns, c.pendingConns, c.refused, c.expired, c.reconnecting, c.resumes, c.resumeFailures, c.windowsEnded, c.overflows} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(st.Participants))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(st.Waiting))
	for code, n := range st.Rejected {
		ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(n), string(code))
	}
	for reason, n := range st.Disconnected {
		ch <- prometheus.MustNewConstMetric(c.disconnected, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.commitTimeouts, prometheus.CounterValue, float64(st.CommitTimeouts))
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.Connections))
	ch <- prometheus.MustNewConstMetric(c.pendingConns, prometheus.GaugeValue, float64(st.PendingConnections))
	for reason, n := range st.Refused {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.expired, prometheus.CounterValue, float64(st.KeyPackagesExpired))
	ch <- prometheus.MustNewConstMetric(c.reconnecting, prometheus.GaugeValue, float64(st.Reconnecting))
	ch <- prometheus.MustNewConstMetric(c.resumes, prometheus.CounterValue, float64(st.Resumes))
	for reason, n := range st.ResumeFailures {
		ch <- prometheus.MustNewConstMetric(c.resumeFailures, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.windowsEnded, prometheus.CounterValue, float64(st.ResumeWindowsEnded))
	ch <- prometheus.MustNewConstMetric(c.overflows, prometheus.CounterValue, float64(st.OutboxOverflows))
}

// Gatherer returns the registry holding the server's metrics when
// [Config].Registerer was nil (otherwise nil: the caller's registry has
// them). Serve it with promhttp.HandlerFor.
func (s *Server) Gatherer() prometheus.Gatherer { return s.gath }
