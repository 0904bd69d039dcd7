package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/e2ee"
)

// BenchmarkWasmSFrame measures what a frame costs in the browser's worker:
// sealing and opening a 1200-byte VP8 frame with tresor.wasm (Go e2ee
// compiled to js/wasm, including the copies across the JavaScript boundary),
// next to the same operations in native Go, and reports the ratio.
func BenchmarkWasmSFrame(b *testing.B) {
	const size = 1200
	ctx := newTabB(b)
	var r struct {
		SealNs, OpenNs float64
		OK             int
	}
	b.ResetTimer()
	raw := eval[json.RawMessage](b, ctx, `probe("bench", {codec: "vp8", size: 1200, n: `+itoa(b.N)+`})`)
	b.StopTimer()
	if err := json.Unmarshal(raw, &r); err != nil {
		b.Fatal(err)
	}
	if r.OK != b.N {
		b.Fatalf("opened %d of %d frames", r.OK, b.N)
	}

	// Native Go, same operations.
	key := make([]byte, 16)
	rand.Read(key)
	s, _ := e2ee.NewSender(e2ee.Config{})
	rc, _ := e2ee.NewReceiver(e2ee.Config{})
	s.SetKey(1, key)
	rc.Add(1, key)
	frame := make([]byte, size)
	frame[0] = 0x31
	const n = 2000
	sealed := make([][]byte, n)
	start := time.Now()
	for i := range n {
		sealed[i], _ = s.EncryptFrame(nil, e2ee.CodecVP8, frame)
	}
	nativeSeal := float64(time.Since(start).Nanoseconds()) / n
	start = time.Now()
	for i := range n {
		rc.DecryptFrame(nil, e2ee.CodecVP8, sealed[i])
	}
	nativeOpen := float64(time.Since(start).Nanoseconds()) / n

	b.ReportMetric(r.SealNs, "wasm-seal-ns/frame")
	b.ReportMetric(r.OpenNs, "wasm-open-ns/frame")
	b.ReportMetric(nativeSeal, "go-seal-ns/frame")
	b.ReportMetric(nativeOpen, "go-open-ns/frame")
	b.ReportMetric(r.SealNs/nativeSeal, "seal-wasm/go")
	b.ReportMetric(r.OpenNs/nativeOpen, "open-wasm/go")
}

// newTabB opens the probe page in a fresh browser.
func newTabB(b *testing.B) context.Context {
	ctx := newTab(b, newBrowser(b, 5*time.Minute), "bench")
	srv := serveWeb(b, nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/test/probe.html")); err != nil {
		b.Fatal(err)
	}
	return ctx
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
