package browsertest

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPageStates: the demo page says what happened (issue 15, "States and
// errors" 1–3). A refused join keeps the join screen with the reason; the
// host who reloads is host again; a removed guest sees who removed it and
// no longer an encryption badge of a meeting it left; the host's panel asks
// to mute, stops a camera, removes after a confirmation and ends the
// meeting for all.
func TestPageStates(t *testing.T) {
	ms := newMeetingServer(t)
	browser := newBrowser(t, 3*time.Minute)
	host := newTab(t, browser, "host")
	guest := newTab(t, browser, "guest")

	// 1. A wrong passcode: the reason, on the join screen.
	joinAsGuest(t, guest, ms.URL+"/", "Gus", "0000-0000")
	waitFor(t, guest, "the refusal's reason", `document.getElementById("join-error").textContent === "Wrong passcode."`, 20*time.Second)
	if visible := eval[bool](t, guest, `!document.getElementById("join-screen").hidden && document.getElementById("end-screen").hidden`); !visible {
		t.Fatal("a refused join left the join screen")
	}
	screenshot(t, guest, "wrong-passcode")

	// A passcode in the link is taken out of the address, and said so.
	if err := chromedp.Do(guest, chromedp.Navigate(ms.URL+"/?passcode=2468-1357&transform=streams")); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, guest, `location.search + " " + document.getElementById("passcode").value`); got != "?transform=streams 2468-1357" {
		t.Fatalf("address and field after a passcode link: %q", got)
	}
	if msg := eval[string](t, guest, `document.getElementById("join-error").textContent`); !strings.Contains(msg, "never belong in links") {
		t.Fatalf("no notice: %q", msg)
	}
	// A name over the server's limit, counted in bytes as the server does.
	eval[string](t, guest, `document.getElementById("name").value = "`+strings.Repeat("é", 40)+`"`)
	click(t, guest, "#join")
	waitFor(t, guest, "the name limit", `document.getElementById("join-error").textContent.includes("at most 64 bytes")`, 5*time.Second)

	// 2. The host reloads and is host again.
	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && !document.getElementById("host-panel").hidden`, 30*time.Second)
	if err := chromedp.Do(host, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if h := eval[string](t, host, "location.hash"); h != "" {
		t.Fatalf("the token is back in the address bar: %q", h)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host back as host", `!document.getElementById("meeting-screen").hidden && !document.getElementById("host-panel").hidden`, 30*time.Second)

	// 3. The guest joins properly, is removed, and is told so.
	if err := chromedp.Do(guest, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	joinAsGuest(t, guest, ms.URL+"/", "Gus", testPasscode)
	id := admitByName(t, host, "Gus")
	waitFor(t, guest, "Gus in the group", `document.getElementById("code").textContent.length > 20`, 30*time.Second)
	// Host controls: ask to mute, stop the camera.
	click(t, host, `[data-mute="`+id+`"]`)
	waitFor(t, guest, "the mute request", `document.getElementById("chat").textContent.includes("asked you to mute your microphone") && document.getElementById("toggle-mic").getAttribute("aria-pressed") === "false" && document.getElementById("toggle-mic").textContent === "Unmute"`, 10*time.Second)
	click(t, host, `[data-stop-camera="`+id+`"]`)
	waitFor(t, guest, "the stopped camera", `document.getElementById("chat").textContent.includes("stopped your camera") && document.getElementById("toggle-camera").getAttribute("aria-pressed") === "false" && document.getElementById("toggle-camera").textContent === "Turn camera on"`, 10*time.Second)
	screenshot(t, guest, "host-controls")
	removeByID(t, host, id)
	waitFor(t, guest, "the removal's message", `!document.getElementById("end-screen").hidden && document.getElementById("end-title").textContent === "You were removed from the meeting"`, 20*time.Second)
	if got := eval[string](t, guest, `document.getElementById("end-text").textContent`); got != "Hana (host) removed you." {
		t.Errorf("end text %q", got)
	}
	if badge := eval[string](t, guest, `document.getElementById("e2ee-text").textContent + " · " + document.getElementById("epoch").textContent`); badge != "Not in a meeting · —" {
		t.Errorf("the badge after removal says %q", badge)
	}
	screenshot(t, guest, "removed")

	// The host ends the meeting, after confirming.
	click(t, host, "#end-meeting")
	waitFor(t, host, "the end's confirmation", `document.getElementById("end-meeting").textContent === "Confirm: end for all"`, 5*time.Second)
	click(t, host, "#end-meeting")
	waitFor(t, host, "the meeting ended", `!document.getElementById("end-screen").hidden && document.getElementById("end-title").textContent === "The meeting has ended"`, 10*time.Second)
}
