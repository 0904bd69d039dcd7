package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoMeeting runs the real demo (`go run ./examples/meeting`, built
// into a temporary directory) and joins it from two tabs as a person would:
// the host from the printed host link, a guest with the printed passcode
// through the waiting room. Both must decrypt each other's video.
func TestDemoMeeting(t *testing.T) {
	chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for _, name := range []string{"meeting", "bot"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), "./examples/"+name)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building examples/%s: %v\n%s", name, err, out)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "meeting"), "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// The banner names the meeting URL, the passcode and the host link.
	fields := map[string]string{}
	want := regexp.MustCompile(`^\s*(Meeting|Passcode|Host link):\s+(\S+)`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(fields) < 3 {
		if m := want.FindStringSubmatch(sc.Text()); m != nil {
			fields[m[1]] = m[2]
		}
	}
	go func() {
		for sc.Scan() { // keep draining
		}
	}()
	if len(fields) < 3 || !strings.Contains(fields["Host link"], "#token=") {
		t.Fatalf("the demo's banner did not name the meeting, passcode and host link: %v", fields)
	}

	browser := newBrowser(t, 3*time.Minute)
	host := newTab(t, browser, "demo-host")
	guest := newTab(t, browser, "demo-guest")
	if err := chromedp.Do(host, chromedp.Navigate(fields["Host link"])); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `document.getElementById("epoch").textContent === "0"`, 30*time.Second)
	joinAsGuest(t, guest, fields["Meeting"], "Gus", fields["Passcode"])
	admitByName(t, host, "Gus")
	for _, tab := range []context.Context{host, guest} {
		waitFor(t, tab, "video decrypted from the other tab",
			`(async () => { const m = window.tresorApp.meeting; if (!m || !m.media) return false;
			   const v = Object.values(await m.media.videoStats()); const s = await m.e2ee.stats();
			   return m.group.epoch === 1 && v.length === 1 && v[0].framesDecoded > 30 && s.receiver.authFailed === 0; })()`,
			60*time.Second)
	}
	if a, b := eval[string](t, host, `document.getElementById("code").textContent`), eval[string](t, guest, `document.getElementById("code").textContent`); a != b || len(a) < 12 {
		t.Fatalf("security codes %q and %q", a, b)
	}

	// The real Go bot (examples/bot) joins, is admitted from the page, and
	// both tabs decrypt its audio and video; its printed security code is the
	// one the pages show.
	bot := exec.CommandContext(ctx, filepath.Join(dir, "bot"), "-url", fields["Meeting"], "-passcode", fields["Passcode"], "-name", "Robo")
	botOut, err := bot.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bot.Start(); err != nil {
		t.Fatal(err)
	}
	codes := make(chan string, 16)
	logged := make(chan struct{})
	t.Cleanup(func() { bot.Process.Kill(); <-logged; bot.Wait() })
	go func() {
		defer close(logged)
		re := regexp.MustCompile(`^bot: epoch (\d+), (\d+) members, security code (.+)$`)
		bs := bufio.NewScanner(botOut)
		for bs.Scan() {
			t.Logf("%s", bs.Text())
			if m := re.FindStringSubmatch(bs.Text()); m != nil && m[2] == "3" {
				codes <- m[3]
			}
		}
	}()
	botID := admitByName(t, host, "Robo")
	for _, tab := range []context.Context{host, guest} {
		waitFor(t, tab, "audio and video decrypted from the bot", fmt.Sprintf(
			`(async () => { const m = window.tresorApp.meeting; const s = await m.e2ee.stats();
			   const ok = (kind) => Object.entries(s.tracks).some(([l, c]) => l.startsWith(%q + "/" + kind + "/") && c.ok > 30);
			   const v = Object.values(await m.media.videoStats());
			   return ok("audio") && ok("video") && v.length === 2 && v.every((x) => x.framesDecoded > 30); })()`, botID),
			60*time.Second)
	}
	var botCode string
	select {
	case botCode = <-codes:
	case <-time.After(30 * time.Second):
		t.Fatal("the bot printed no security code for three members")
	}
	for _, tab := range []context.Context{host, guest} {
		if c := eval[string](t, tab, `document.getElementById("code").textContent`); c != botCode {
			t.Fatalf("page code %q, bot code %q", c, botCode)
		}
	}
}
