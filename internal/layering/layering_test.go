package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mod is the module's import path; rows name its packages as mod+"keys".
const mod = "github.com/tresor-dev/tresor/"

// Import path patterns: "p" matches p only, "p/..." matches p and every
// package below it.
const (
	pion       = "github.com/pion/..."
	websocket  = "github.com/coder/websocket/..."
	prometheus = "github.com/prometheus/..."
)

// netAndProcess are the network and process packages: what opens sockets,
// serves, or starts other programs. Every network package of the standard
// library imports net.
func netAndProcess() []string { return []string{"net", "net/http/...", "crypto/tls", "os/exec"} }

// rule is one row of the layering table.
type rule struct {
	name string
	// pkgs are the package patterns the rule covers (go list patterns).
	pkgs []string
	// goos/goarch, when set, list the packages for that platform.
	goos, goarch string
	// forbid are import path patterns that no package of pkgs may depend
	// on, directly or indirectly, unless they match allow.
	forbid, allow []string
	// optional rows cover packages that may not exist yet: the row is
	// skipped, with a log line, while no package matches.
	optional bool
}

// rules is the layering table.
func rules() []rule {
	return []rule{
		{
			name: "keys imports no network, process, pion, websocket or prometheus code",
			pkgs: []string{mod + "keys/..."},
			forbid: slices.Concat(netAndProcess(),
				[]string{pion, websocket, prometheus}),
		},
		{
			// The whole audit surface of the MLS code is the keys/ tree (and a
			// test-hook package that may be added for it).
			name:   "keys imports nothing of Tresor outside keys/ but internal/testonly",
			pkgs:   []string{mod + "keys/..."},
			forbid: []string{mod + "..."},
			allow:  []string{mod + "keys/...", mod + "internal/testonly"},
		},
		{
			// The browser runs keys and e2ee compiled to wasm: the same rules
			// hold there.
			name: "keys and e2ee for js/wasm import no network, process or pion code",
			pkgs: []string{mod + "keys/...", mod + "e2ee"}, goos: "js", goarch: "wasm",
			forbid: slices.Concat(netAndProcess(), []string{pion, websocket, prometheus}),
		},
		{
			// e2ee takes its keys through a small interface.
			name:   "e2ee (with its pion glue) does not import keys",
			pkgs:   []string{mod + "e2ee/..."},
			forbid: []string{mod + "keys/..."},
		},
		{
			// The SFrame core builds for js/wasm; only e2ee/piontrack may use
			// pion.
			name:   "the e2ee core imports no pion",
			pkgs:   []string{mod + "e2ee"},
			forbid: []string{pion},
		},
		{
			// The SFU routes ciphertext and must be unable to hold a media key.
			name:   "sfu and the SFU load tool import neither keys nor e2ee",
			pkgs:   []string{mod + "sfu/...", mod + "cmd/sfuload"},
			forbid: []string{mod + "keys/...", mod + "e2ee/..."},
		},
		{
			// The server side relays MLS messages as opaque bytes.
			name:   "signaling imports neither keys nor e2ee",
			pkgs:   []string{mod + "signaling/..."},
			forbid: []string{mod + "keys/...", mod + "e2ee/..."},
		},
		{
			// DESIGN.md: signaling drives the SFU through its Media interface
			// (the glue is signaling/sfumedia), so it needs no pion.
			name:   "the signaling core imports no pion",
			pkgs:   []string{mod + "signaling"},
			forbid: []string{pion},
		},
		{
			// A backend that only mints tokens and assertions pulls in the
			// standard library and x/crypto (with the x/sys its argon2
			// needs), nothing else: no server, WebSocket, Prometheus or pion.
			name:   "auth imports only the standard library and golang.org/x/crypto",
			pkgs:   []string{mod + "auth/..."},
			forbid: []string{"github.com/...", "golang.org/...", "google.golang.org/...", "gopkg.in/..."},
			allow:  []string{mod + "auth/...", "golang.org/x/crypto/...", "golang.org/x/sys/..."},
		},
		{
			// The client's meeting logic runs natively and in the browser's
			// wasm: no I/O of its own, and the same code on both.
			name: "the meeting driver and its key ring import no network, process or pion code (natively)",
			pkgs: []string{mod + "internal/core", mod + "internal/keyring"},
			forbid: slices.Concat(netAndProcess(),
				[]string{pion, websocket, prometheus, mod + "signaling/...", mod + "sfu/..."}),
		},
		{
			name: "the meeting driver for js/wasm imports no network, process or pion code",
			pkgs: []string{mod + "internal/core", mod + "internal/keyring", mod + "cmd/tresor-wasm"}, goos: "js", goarch: "wasm",
			forbid: slices.Concat(netAndProcess(), []string{pion, websocket, prometheus}),
		},
	}
}

func TestLayering(t *testing.T) {
	gobin := goTool(t)
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			g, err := depGraph(gobin, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.roots) == 0 {
				if r.optional {
					t.Skipf("no package matches %v yet", r.pkgs)
				}
				t.Fatalf("no package matches %v: the table is stale", r.pkgs)
			}
			// A sanity floor (as the old sfu check had): the packages of
			// every row import something, so a listing of the roots alone
			// means go list did not do what this test expects.
			if len(g.imports) <= len(g.roots) {
				t.Fatalf("go list -deps %v returned only %d packages", r.pkgs, len(g.imports))
			}
			for _, v := range g.violations(r) {
				t.Error(v)
			}
		})
	}
}

// TestCheckerFindsChains runs the checker on a small module made for it,
// so that a broken pattern or chain search cannot pass silently.
func TestCheckerFindsChains(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"go.mod":     "module example.com/m\n\ngo 1.26\n",
		"top/top.go": "package top\n\nimport _ \"example.com/m/mid\"\n",
		"mid/mid.go": "package mid\n\nimport (\n\t_ \"example.com/m/low\"\n\t_ \"net/netip\"\n)\n",
		"low/low.go": "package low\n\nimport _ \"net/http\"\n",
		"ok/ok.go":   "package ok\n\nimport _ \"strings\"\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin := goTool(t)
	for _, tc := range []struct {
		r    rule
		want []string
	}{
		{rule{pkgs: []string{"example.com/m/top"}, forbid: []string{"net"}},
			[]string{"imports net: example.com/m/top → example.com/m/mid → example.com/m/low → net/http → … → net"}},
		{rule{pkgs: []string{"example.com/m/top"}, forbid: []string{"net/http/..."}},
			[]string{"imports net/http: example.com/m/top → example.com/m/mid → example.com/m/low → net/http"}},
		{rule{pkgs: []string{"example.com/m/..."}, forbid: []string{"example.com/m/..."},
			allow: []string{"example.com/m/mid", "example.com/m/low"}},
			[]string{"imports example.com/m/ok: example.com/m/ok", // the roots themselves
				"imports example.com/m/top: example.com/m/top"}},
		{rule{pkgs: []string{"example.com/m/ok"}, forbid: []string{"net", "example.com/m/low"}}, nil},
		{rule{pkgs: []string{"example.com/m/mid"}, forbid: []string{"net/netip/..."}},
			[]string{"imports net/netip: example.com/m/mid → net/netip"}},
	} {
		g, err := depGraphIn(gobin, dir, tc.r)
		if err != nil {
			t.Fatal(err)
		}
		got := g.violations(tc.r)
		if len(got) != len(tc.want) {
			t.Errorf("%v forbidding %v: %q, want %q", tc.r.pkgs, tc.r.forbid, got, tc.want)
			continue
		}
		for i := range got {
			// " … " in want stands for any part of the standard library's
			// chain.
			pre, post, elided := strings.Cut(tc.want[i], " … ")
			if !elided && got[i] != tc.want[i] ||
				elided && (!strings.HasPrefix(got[i], pre+" ") || !strings.HasSuffix(got[i], " "+post)) {
				t.Errorf("%v forbidding %v: violation %q, want %q", tc.r.pkgs, tc.r.forbid, got[i], tc.want[i])
			}
		}
	}
}

// graph is the import graph of a rule's packages.
type graph struct {
	roots   []string            // the packages the patterns matched
	imports map[string][]string // every package in the graph -> its imports
}

// depGraph lists the rule's packages and everything they import, without
// tests, for the rule's platform.
func depGraph(gobin string, r rule) (*graph, error) { return depGraphIn(gobin, "", r) }

// depGraphIn is depGraph run in dir (the current directory if empty).
func depGraphIn(gobin, dir string, r rule) (*graph, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Imports,DepOnly"}, r.pkgs...)
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if r.goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+r.goos, "GOARCH="+r.goarch, "CGO_ENABLED=0")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("go " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String())
	}
	g := &graph{imports: map[string][]string{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			DepOnly    bool
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		g.imports[p.ImportPath] = p.Imports
		if !p.DepOnly {
			g.roots = append(g.roots, p.ImportPath)
		}
	}
	return g, nil
}

// violations describes where r's packages reach a package r forbids, each
// with the import chain that gets there, sorted. Only the first forbidden
// package on a chain counts: with net/http forbidden, the packages net/http
// itself imports are not reported again.
func (g *graph) violations(r rule) []string {
	forbidden := func(p string) bool { return matchAny(p, r.forbid) && !matchAny(p, r.allow) }
	prev := map[string]string{} // breadth-first search tree: package -> importer
	queue := slices.Clone(g.roots)
	for _, p := range g.roots {
		prev[p] = ""
	}
	var out []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if forbidden(p) {
			var chain []string
			for q := p; q != ""; q = prev[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			out = append(out, "imports "+p+": "+strings.Join(chain, " → "))
			continue // what it imports is its own business
		}
		for _, q := range g.imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	slices.Sort(out)
	return out
}

// matchAny reports whether path matches one of the patterns.
func matchAny(path string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if path == base || strings.HasPrefix(path, base+"/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// goTool returns the go command on PATH (go test puts the one running it
// first).
func goTool(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list dependencies with: %v", err)
	}
	return gobin
}
