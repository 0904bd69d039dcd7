package web

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/web/internal/wasmbuild"
)

// TestShippedWasmMatchesSources rebuilds the js/wasm artefact from this
// tree into a temporary directory and demands the same bytes as the files
// committed under static/: the browser must run exactly the audited keys and
// e2ee code of this commit, and anyone can check that it does.
func TestShippedWasmMatchesSources(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	info, err := os.ReadFile(filepath.Join("static", wasmbuild.BuildInfoFile))
	if err != nil {
		t.Fatalf("reading the shipped build info: %v (run go generate ./web)", err)
	}
	built := wasmbuild.ParseGoVersion(info)
	have, err := wasmbuild.GoVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if built != have {
		t.Fatalf("static/tresor.wasm was built with %s but this toolchain is %s: the bytes cannot match; "+
			"run `go generate ./web` with %s and commit web/static, or test with %s", built, have, have, built)
	}
	if string(info) != wasmbuild.BuildInfo(have) {
		t.Fatalf("static/%s = %q, want %q: run go generate ./web", wasmbuild.BuildInfoFile, info, wasmbuild.BuildInfo(have))
	}

	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := wasmbuild.Build(ctx, repo, dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{wasmbuild.WasmFile, wasmbuild.ExecFile} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("static", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("static/%s (%d bytes) differs from a fresh build of the sources (%d bytes): run go generate ./web and commit web/static", name, len(got), len(want))
		}
	}
}

// TestBuildIsDeterministic builds twice, the second time from scratch
// (an empty build cache, another output directory), and compares: without
// it, a mismatch above could be noise rather than a stale artefact.
func TestBuildIsDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the wasm module and its dependencies from scratch")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	if err := wasmbuild.Build(ctx, repo, a); err != nil {
		t.Fatal(err)
	}
	if err := wasmbuild.Build(ctx, repo, b, "GOCACHE="+t.TempDir()); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a, wasmbuild.WasmFile))
	y, _ := os.ReadFile(filepath.Join(b, wasmbuild.WasmFile))
	if len(x) == 0 || !bytes.Equal(x, y) {
		t.Fatalf("two builds differ (%d and %d bytes)", len(x), len(y))
	}
}

func TestHandlerServesWasm(t *testing.T) {
	rec := newRecorder()
	Handler().ServeHTTP(rec, newRequest("/tresor.wasm"))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("GET /tresor.wasm: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.HasPrefix(rec.Body.Bytes(), []byte("\x00asm")) {
		t.Fatal("not a wasm module")
	}
}
