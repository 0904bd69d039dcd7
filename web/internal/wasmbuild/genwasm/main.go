// Command genwasm rebuilds web/static/tresor.wasm and wasm_exec.js from the
// repository's sources (run by `go generate ./web`).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tresor-dev/tresor/web/internal/wasmbuild"
)

func main() {
	// go generate runs in the web directory.
	static, err := filepath.Abs("static")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := wasmbuild.Build(context.Background(), filepath.Dir(filepath.Dir(static)), static); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
