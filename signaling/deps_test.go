package signaling

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoKeyImports proves the signaling server cannot hold a key: it
// imports neither the keys nor the e2ee package, directly or indirectly.
func TestNoKeyImports(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	const pkg = "github.com/tresor-dev/tresor/signaling/..."
	out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/tresor-dev/tresor/auth") {
		t.Fatalf("go list -deps %s does not look like signaling's dependencies:\n%s", pkg, out)
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/tresor-dev/tresor/keys", "github.com/tresor-dev/tresor/e2ee"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
