// Package web serves Tresor's browser client: plain ES modules (a UI-free SDK
// and the demo page's UI), the encoded-transform worker, and the js/wasm build
// of the audited keys and e2ee packages, all embedded in the Go binary.
//
// static/tresor.wasm and static/wasm_exec.js are build artefacts committed
// so that `go run ./examples/meeting` needs nothing but Go; `go generate
// ./web` rebuilds them reproducibly from this repository's cmd/tresor-wasm
// (see internal/wasmbuild), and TestShippedWasmMatchesSources fails when they
// no longer match the sources.
//
// The SDK (static/tresor/*.js) is documented in README.md.
package web

//go:generate go run ./internal/wasmbuild/genwasm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy confines the page to its own origin: scripts only
// from the server (no inline script, no eval except WebAssembly compilation),
// connections only back to it (signaling WebSocket, token endpoint), media
// only from local streams. An injected script is what could read keys out of
// the page, so it gets nowhere to load from or send to.
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
	"connect-src 'self'; worker-src 'self'; media-src 'self' blob: mediastream:; " +
	"img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler returns an http.Handler that serves the browser client's files.
// Responses carry a strong ETag (files change only with the binary) and
// Cache-Control: no-cache, so browsers revalidate and get 304s; the wasm
// module and the scripts are sent gzip-compressed to clients that accept it
// (tresor.wasm: about 6.4 MB, 1.8 MB compressed).
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// The embedded tree always has a static directory.
		panic(err)
	}
	return &handler{files: sub, server: http.FileServerFS(sub), cache: map[string]*entry{}}
}

type handler struct {
	files  fs.FS
	server http.Handler

	mu    sync.Mutex
	cache map[string]*entry
}

// entry holds what is computed once per file: its ETag and, for
// compressible types, its gzip encoding.
type entry struct {
	once sync.Once
	etag string
	gz   []byte
	err  error
}

var compressible = map[string]bool{".wasm": true, ".js": true, ".css": true, ".html": true}

func (h *handler) entry(name string) *entry {
	h.mu.Lock()
	e, ok := h.cache[name]
	if !ok {
		e = &entry{}
		h.cache[name] = e
	}
	h.mu.Unlock()
	e.once.Do(func() {
		data, err := fs.ReadFile(h.files, name)
		if err != nil {
			e.err = err
			return
		}
		sum := sha256.Sum256(data)
		e.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		if compressible[path.Ext(name)] {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(data)
			zw.Close()
			e.gz = buf.Bytes()
		}
	})
	return e
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.server.ServeHTTP(w, r)
		return
	}
	info, err := fs.Stat(h.files, name)
	if err != nil || info.IsDir() {
		// No directory listings: the client has nothing to browse.
		http.NotFound(w, r)
		return
	}
	e := h.entry(name)
	if e.err != nil {
		h.server.ServeHTTP(w, r)
		return
	}
	hdr.Set("Cache-Control", "no-cache")
	hdr.Add("Vary", "Accept-Encoding")
	if e.gz != nil && acceptsGzip(r) {
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("ETag", strings.TrimSuffix(e.etag, `"`)+`-gz"`)
		if ct := contentType(name); ct != "" {
			hdr.Set("Content-Type", ct)
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(e.gz))
		return
	}
	hdr.Set("ETag", e.etag)
	h.server.ServeHTTP(w, r)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	}
	return ""
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
