// Package web serves Tresor's browser client: plain ES modules (a UI-free SDK
// and the demo page's UI), the encoded-transform worker, and the js/wasm build
// of the audited keys and e2ee packages, all embedded in the Go binary.
package web

//go:generate go run ./internal/wasmbuild/genwasm

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler returns an http.Handler that serves the browser client's files.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// The embedded tree always has a static directory.
		panic(err)
	}
	return http.FileServerFS(sub)
}
