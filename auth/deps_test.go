package auth

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSmallImport proves that a backend importing auth pulls in only the
// standard library and golang.org/x/crypto (with the golang.org/x/sys it
// needs): no signaling server, WebSocket, Prometheus or pion.
func TestSmallImport(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	const pkg = "github.com/tresor-dev/tresor/auth"
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list -deps %s returned only %d packages", pkg, len(lines))
	}
	sawArgon := false
	for _, l := range lines {
		path, std, _ := strings.Cut(l, " ")
		for _, banned := range []string{"websocket", "prometheus", "pion", "tresor/signaling", "tresor/sfu", "tresor/keys", "tresor/e2ee"} {
			if strings.Contains(path, banned) {
				t.Errorf("auth depends on %s", path)
			}
		}
		sawArgon = sawArgon || path == "golang.org/x/crypto/argon2"
		switch {
		case std == "true", path == pkg,
			strings.HasPrefix(path, "golang.org/x/crypto/"),
			strings.HasPrefix(path, "golang.org/x/sys/"):
		default:
			t.Errorf("auth depends on %s, outside the standard library and golang.org/x/crypto", path)
		}
	}
	if !sawArgon {
		t.Fatalf("go list output does not look like auth's dependencies:\n%s", out)
	}
}
