package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerGzipAndETag(t *testing.T) {
	h := Handler()
	want, err := os.ReadFile("static/tresor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	// Plain.
	rec := get(t, h, "/tresor.wasm", nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want) || rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain: %d, %d bytes, encoding %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Encoding"))
	}
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q Cache-Control %q", etag, rec.Header().Get("Cache-Control"))
	}
	if rec := get(t, h, "/tresor.wasm", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", rec.Code)
	}
	// Compressed.
	rec = get(t, h, "/tresor.wasm", map[string]string{"Accept-Encoding": "br, gzip"})
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("gzip: encoding %q type %q", rec.Header().Get("Content-Encoding"), rec.Header().Get("Content-Type"))
	}
	if rec.Body.Len() >= len(want)/2 {
		t.Fatalf("gzip body %d bytes for %d", rec.Body.Len(), len(want))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("gunzipped body differs (%v)", err)
	}
	gzTag := rec.Header().Get("ETag")
	if gzTag == etag {
		t.Fatal("the gzip and identity encodings share an ETag")
	}
	if rec := get(t, h, "/tresor.wasm", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip sent though refused with q=0")
	}
}

func TestHandlerPageHeaders(t *testing.T) {
	rec := get(t, Handler(), "/", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "app.js") {
		t.Fatalf("GET /: %d", rec.Code)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("no nosniff")
	}
	// The page has no inline script or handler the CSP would block.
	page := rec.Body.String()
	if strings.Contains(page, "<script>") || strings.Contains(page, "onclick=") {
		t.Fatal("index.html has inline script, which the CSP blocks")
	}
	if rec := get(t, Handler(), "/nope.js", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("missing file: %d", rec.Code)
	}
	if rec := get(t, Handler(), "/tresor/", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("directory listing: %d", rec.Code)
	}
	if rec := get(t, Handler(), "/tresor/meeting.js", map[string]string{"Accept-Encoding": "gzip"}); rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("module type %q", rec.Header().Get("Content-Type"))
	}
}
