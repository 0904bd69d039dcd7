package browsertest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/internal/hostile"
)

// TestHostileServerRelabelsTrackInBrowser: the server presents Alice's
// tracks to the host's tab as Bob's (finding 3 of the trust review). The
// browser opens a received track only with the keys of the member whose
// identity labels it, so every frame of Alice's relabelled tracks is
// dropped, while Bob's own tracks decode. (The browser used to open every
// track with one key ring for all senders, so Alice's video showed in Bob's
// tile.)
func TestHostileServerRelabelsTrackInBrowser(t *testing.T) {
	ms, proxy := startMeetingServer(t, true)
	proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if c.Identity() == "host" && bytes.Contains(msg, []byte(`"type":"media"`)) {
			msg = bytes.ReplaceAll(msg, []byte("msid:bot-alice "), []byte("msid:bot-bob "))
		}
		return [][]byte{msg}
	})
	host := newTab(t, newBrowser(t, 3*time.Minute), "host")
	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && document.getElementById("code").textContent.length > 5`, 30*time.Second)
	startBot(t, ms, "Alice")
	admitByName(t, host, "Alice")
	bob := startBot(t, ms, "Bob")
	admitByName(t, host, "Bob")

	// Both of Bob's tracks decode; the two relabelled tracks, which claim
	// to be Bob's, decode nothing.
	var s tabState
	deadline := time.Now().Add(60 * time.Second)
	for {
		s = state(t, host)
		good, bad := 0, 0
		for label, c := range s.Worker.Tracks {
			if c.Dir != "recv" || !strings.HasPrefix(label, "bot-bob/") {
				continue
			}
			switch {
			case c.OK > 30 && c.Dropped == 0:
				good++
			case c.OK == 0 && c.Dropped > 30:
				bad++
			}
		}
		if good == 2 && bad == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host's tracks labelled bob: %+v (want 2 decoding, 2 refused)", s.Worker.Tracks)
		}
		time.Sleep(time.Second)
	}
	for label, c := range s.Worker.Tracks {
		if c.Dir == "recv" && strings.HasPrefix(label, "bot-alice/") {
			t.Fatalf("a track is still labelled as Alice's: %s", label)
		}
	}
	if s.Worker.Receiver.UnknownKey == 0 {
		t.Fatalf("no frame refused for an unknown key: %+v", s.Worker.Receiver)
	}
	// The group itself is intact: the host and Bob share one code.
	epoch, code, _ := bob.state()
	if uint64(s.Epoch) != epoch || s.Code != code {
		t.Logf("host at epoch %v, bob at %d (the last Commit may be in flight)", s.Epoch, epoch)
	}
	screenshot(t, host, "relabelled")
	t.Logf("relabelled tracks refused: %d frames for unknown keys; Bob's tracks decode", s.Worker.Receiver.UnknownKey)
}
