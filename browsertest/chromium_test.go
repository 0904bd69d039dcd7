package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/web"
)

// chromiumPath finds the browser, or skips (fails in CI) when it is absent.
func chromiumPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv("TRESOR_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			return p
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need Chromium at %s (run `make deps`): %v", path, err)
		}
		t.Skipf("Chromium not found at %s (run `make deps` to install it): %v", path, err)
	}
	return path
}

// newBrowser starts one headless Chromium with a fake camera and microphone
// and a fresh profile, and returns a context for its first tab. More tabs
// come from chromedp.NewContext(ctx).
func newBrowser(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	// chromedp may log from its own goroutines while the browser shuts
	// down; logging after the test ended would panic.
	var mu sync.Mutex
	done := false
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(logf))
	t.Cleanup(func() {
		bcancel()
		acancel()
		cancel()
		mu.Lock()
		done = true
		mu.Unlock()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// newTab opens a tab in the browser of ctx and logs its console.
func newTab(t testing.TB, ctx context.Context, name string) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	logConsole(t, tctx, name)
	return tctx
}

// logConsole copies the tab's console and uncaught exceptions to the test
// log, until the test ends.
func logConsole(t testing.TB, ctx context.Context, name string) {
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			logf("[%s console.%s] %s", name, ev.Type, strings.Join(parts, " "))
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			logf("[%s exception] %s", name, msg)
		}
	}()
}

// serveWeb serves the browser client (web.Handler) at / and this package's
// testdata at /test/, on loopback.
func serveWeb(t testing.TB, extra map[string]http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.Handle("/test/", http.StripPrefix("/test/", http.FileServerFS(os.DirFS("testdata"))))
	for p, h := range extra {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// eval evaluates a JavaScript expression (awaiting a promise) in a tab and
// decodes its JSON result.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %.80q: %v", expr, err)
	}
	return v
}

// artifactDir returns the directory for files a test run leaves for people
// to look at (screenshots): $TRESOR_ARTIFACTS, or one fresh temporary
// directory per run that outlives the tests.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir, err := artifacts()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var artifacts = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("TRESOR_ARTIFACTS"); dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	return os.MkdirTemp("", "tresor-artifacts-")
})

// screenshot saves a PNG of the tab under artifactDir and logs its path.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), fmt.Sprintf("%s.png", name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
