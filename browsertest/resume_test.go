package browsertest

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// until polls cond until it holds or d passes.
func until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserResume: the proxy in front of the server cuts the host tab's
// WebSocket (no close frame, as a network failure does). The page resumes
// its session by itself — no reload, the same MLS group and security code
// as the Go participant, video decoding on — and the server counts the
// resume.
func TestBrowserResume(t *testing.T) {
	ms, proxy := startMeetingServer(t, true)
	host := newTab(t, newBrowser(t, 3*time.Minute), "host")
	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && document.getElementById("code").textContent.length > 20`, 30*time.Second)
	b := startBot(t, ms, "Otto")
	admitByName(t, host, "Otto")
	decoding := func(min int) string {
		return `(async () => { const v = await window.tresorApp.meeting.media.videoStats(); return Object.values(v).some((x) => x.framesDecoded > ` + itoa(min) + `); })()`
	}
	waitFor(t, host, "Otto's video decoding", decoding(30), 60*time.Second)
	eval[bool](t, host, "window.notReloaded = true")
	before := ms.Sig.Stats().Resumes

	if n := proxy.Cut("host"); n != 1 {
		t.Fatalf("cut %d connections", n)
	}
	waitFor(t, host, "the session resumed", `window.tresorApp.meeting.state !== undefined && window.notReloaded === true && document.getElementById("e2ee-text").textContent === "End-to-end encrypted"`, 30*time.Second)
	until(t, 30*time.Second, "the server counting the resume", func() bool { return ms.Sig.Stats().Resumes > before })
	// Still one group: the host and Otto agree, and Otto's video keeps
	// decoding.
	until(t, 30*time.Second, "the same code as Otto", func() bool {
		_, code, _ := b.state()
		return code != "" && eval[string](t, host, `document.getElementById("code").textContent`) == code
	})
	n := eval[int](t, host, `(async () => { const v = await window.tresorApp.meeting.media.videoStats(); return Math.max(0, ...Object.values(v).map((x) => x.framesDecoded)); })()`)
	waitFor(t, host, "video still decoding", decoding(n+30), 30*time.Second)
	if !eval[bool](t, host, "window.notReloaded === true") {
		t.Fatal("the page reloaded")
	}
	screenshot(t, host, "resumed")
}
