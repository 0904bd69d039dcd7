package wasmbuild

import (
	"strings"
	"testing"
)

func TestBuildInfoRoundTrip(t *testing.T) {
	info := BuildInfo("go1.26.8")
	if got := ParseGoVersion([]byte(info)); got != "go1.26.8" {
		t.Fatalf("ParseGoVersion(%q) = %q", info, got)
	}
	if got := ParseGoVersion(nil); got != "" {
		t.Fatalf("ParseGoVersion(nil) = %q", got)
	}
	for _, f := range Flags {
		if !strings.Contains(info, f) {
			t.Errorf("build info %q does not record flag %q", info, f)
		}
	}
}
