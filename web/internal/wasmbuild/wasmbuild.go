// Package wasmbuild builds the browser's WebAssembly artefact from the
// repository's own sources, reproducibly, so that the files shipped under
// web/static can be checked against the code they claim to be.
//
// Build writes three files into a directory:
//
//	tresor.wasm            GOOS=js GOARCH=wasm build of ./cmd/tresor-wasm
//	wasm_exec.js           $(go env GOROOT)/lib/wasm/wasm_exec.js, unchanged
//	tresor.wasm.buildinfo  the Go version and flags that made tresor.wasm
//
// The build is deterministic for a given Go version and source tree: paths
// are trimmed (-trimpath), no VCS stamp is embedded (-buildvcs=false), the
// build ID is empty, symbol tables are stripped, and the environment that
// could change the output (GOFLAGS, GOWASM, CGO_ENABLED, GOTOOLCHAIN) is
// pinned.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Files are the names Build writes.
const (
	WasmFile      = "tresor.wasm"
	ExecFile      = "wasm_exec.js"
	BuildInfoFile = "tresor.wasm.buildinfo"
)

// Package is the main package compiled to WebAssembly.
const Package = "./cmd/tresor-wasm"

// Flags are the fixed build flags.
var Flags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// GoVersion returns the version of the go command on PATH (go env GOVERSION).
func GoVersion(ctx context.Context) (string, error) {
	out, err := run(ctx, "", nil, "go", "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// BuildInfo is the content of BuildInfoFile for a Go version.
func BuildInfo(goVersion string) string {
	return fmt.Sprintf("%s js/wasm %s %s\n", goVersion, Package, strings.Join(Flags, " "))
}

// ParseGoVersion returns the Go version recorded in a BuildInfoFile.
func ParseGoVersion(buildInfo []byte) string {
	f := strings.Fields(string(buildInfo))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Build compiles the artefact from the module rooted at repo into dir.
// extraEnv ("KEY=value") is added to the go command's environment, e.g. a
// fresh GOCACHE to rebuild everything from scratch.
func Build(ctx context.Context, repo, dir string, extraEnv ...string) error {
	version, err := GoVersion(ctx)
	if err != nil {
		return err
	}
	env := []string{
		"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWASM=",
		"GOTOOLCHAIN=local", "GOEXPERIMENT=",
	}
	env = append(env, extraEnv...)
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", filepath.Join(dir, WasmFile), Package)
	if _, err := run(ctx, repo, env, "go", args...); err != nil {
		return err
	}
	goroot, err := run(ctx, repo, nil, "go", "env", "GOROOT")
	if err != nil {
		return err
	}
	execJS, err := os.ReadFile(filepath.Join(strings.TrimSpace(goroot), "lib", "wasm", ExecFile))
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ExecFile), execJS, 0o644); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, BuildInfoFile), []byte(BuildInfo(version)), 0o644); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	return nil
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("wasmbuild: %s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
