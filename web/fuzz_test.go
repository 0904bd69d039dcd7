package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary paths and Accept-Encoding headers: the handler
// never panics, answers only with files of the embedded static tree (no
// traversal out of it), and never serves a directory listing.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ path, enc string }{
		{"/", ""}, {"/tresor.wasm", "gzip"}, {"/tresor/meeting.js", "gzip;q=0"},
		{"/../web.go", "gzip"}, {"/tresor/", ""}, {"//index.html", "br, gzip"}, {"/%2e%2e/web.go", ""},
	} {
		f.Add(seed.path, seed.enc)
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, path, enc string) {
		req, err := http.NewRequest(http.MethodGet, "http://x/", nil)
		if err != nil {
			t.Skip()
		}
		req.URL.Path = "/" + strings.TrimPrefix(path, "/")
		req.Header.Set("Accept-Encoding", enc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.Contains(body, "package web") || strings.Contains(body, "<pre>") {
			t.Fatalf("GET %q served %q", req.URL.Path, body[:min(len(body), 80)])
		}
	})
}
