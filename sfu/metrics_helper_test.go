package sfu_test

import (
	"testing"

	"github.com/tresor-dev/tresor/sfu"
)

// metric returns the value of the counter or gauge name (without the
// tresor_sfu_ prefix) in s's registry.
func metric(t testing.TB, s *sfu.SFU, name string) float64 {
	t.Helper()
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tresor_sfu_"+name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// logMetrics logs the values of the named metrics (for failure reports).
func logMetrics(t testing.TB, s *sfu.SFU, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Logf("%s = %v", n, metric(t, s, n))
	}
}
