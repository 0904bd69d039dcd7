package browsertest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/signaling"
	"github.com/tresor-dev/tresor/signaling/sfumedia"
	"github.com/tresor-dev/tresor/web"
)

const (
	testRoom     = "demo"
	testPasscode = "2468-1357"
)

// meetingServer is the demo meeting in-process, built like
// examples/meeting: signaling at /signal, the SFU on loopback UDP, the web
// client at /, and a development token endpoint at /demo/token.
type meetingServer struct {
	URL       string
	HostToken string
	key       ed25519.PrivateKey
	Sig       *signaling.Server
}

func newMeetingServer(t *testing.T) *meetingServer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TRESOR_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	media, err := sfu.New(sfu.Config{UDPAddr: "127.0.0.1:0", Logger: logger.With("component", "sfu")})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signaling.NewServer(signaling.Config{
		TokenKeys: []ed25519.PublicKey{pub},
		Media:     sfumedia.New(media),
		Logger:    logger.With("component", "signaling"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.CreateRoom(testRoom, signaling.RoomConfig{Passcode: testPasscode, WaitingRoom: true}); err != nil {
		t.Fatal(err)
	}
	ms := &meetingServer{key: priv, Sig: sig}
	ms.HostToken = ms.token(t, "host", "Hana (host)", signaling.RoleHost)
	mux := http.NewServeMux()
	mux.Handle("/signal", sig)
	mux.HandleFunc("/demo/token", func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := "guest-" + hex.EncodeToString(b[:])
		tok := ms.token(t, id, r.FormValue("name"), signaling.RoleParticipant)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"token": tok, "room": testRoom, "identity": id, "signal": "/signal"})
	})
	mux.Handle("/test/", http.StripPrefix("/test/", http.FileServerFS(os.DirFS("testdata"))))
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	ms.URL = srv.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sig.Close(ctx)
		srv.Close()
		media.Close()
	})
	return ms
}

func (ms *meetingServer) token(t *testing.T, identity, name string, role signaling.Role) string {
	tok, err := signaling.MintToken(ms.key, signaling.Claims{Room: testRoom, Identity: identity, Name: name, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Error(err)
	}
	return tok
}

// waitFor polls a JavaScript expression in the tab until it is truthy.
func waitFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// tabState is what a tab reports about itself (see stateJS).
type tabState struct {
	Identity string
	Code     string
	Epoch    float64
	Members  []string
	Worker   struct {
		Receiver struct{ Opened, AuthFailed, UnknownKey, Replayed, Malformed int }
		Sender   struct{ Sealed int }
		Tracks   map[string]trackCounters
	}
	Video map[string]struct{ FramesDecoded, FrameWidth, FrameHeight int }
}

// decryptedFrom sums the frames the worker opened from participant.
func (s tabState) decryptedFrom(participant, kind string) int {
	n := 0
	for label, c := range s.Worker.Tracks {
		if c.Dir == "recv" && c.Kind == kind && strings.HasPrefix(label, participant+"/") {
			n += c.OK
		}
	}
	return n
}

const stateJS = `(async () => {
  const m = window.tresorApp.meeting;
  if (!m || !m.group || !m.media) return null;
  const video = await m.media.videoStats();
  const w = await m.e2ee.stats();
  return { identity: m.self.identity, code: m.group.securityCode, epoch: m.group.epoch,
           members: m.group.members.map((x) => x.name), worker: w, video };
})()`

func state(t *testing.T, ctx context.Context) tabState {
	t.Helper()
	raw := eval[json.RawMessage](t, ctx, stateJS)
	var s tabState
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("tab state %s: %v", raw, err)
	}
	return s
}

// joinAsGuest fills the join form of the demo page.
func joinAsGuest(t *testing.T, ctx context.Context, url, name, passcode string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("passcode"), passcode),
	); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#join")
}

func TestMeetingTwoTabs(t *testing.T) {
	ms := newMeetingServer(t)
	browser := newBrowser(t, 4*time.Minute)
	host := newTab(t, browser, "host")
	bea := newTab(t, browser, "bea")

	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && document.getElementById("code").textContent.length > 5`, 30*time.Second)

	joinAsGuest(t, bea, ms.URL+"/", "Bea", testPasscode)
	waitFor(t, bea, "Bea in the waiting room", `!document.getElementById("waiting-screen").hidden`, 30*time.Second)
	waitFor(t, host, "Bea in the host's waiting list", `document.querySelector("[data-admit]") !== null`, 10*time.Second)
	click(t, host, "[data-admit]")
	waitFor(t, bea, "Bea in the meeting", `!document.getElementById("meeting-screen").hidden`, 30*time.Second)

	// Both reach the same epoch with the same code and roster, and decrypt
	// each other's audio and video.
	deadline := time.Now().Add(60 * time.Second)
	var hs, bs tabState
	for {
		time.Sleep(time.Second)
		hs, bs = state(t, host), state(t, bea)
		ok := hs.Epoch == 1 && bs.Epoch == 1 &&
			hs.decryptedFrom(bs.Identity, "video") > 50 && bs.decryptedFrom(hs.Identity, "video") > 50 &&
			hs.decryptedFrom(bs.Identity, "audio") > 50 && bs.decryptedFrom(hs.Identity, "audio") > 50
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out:\nhost %+v\nbea %+v", hs, bs)
		}
	}
	if hs.Code != bs.Code || hs.Code == "" {
		t.Fatalf("security codes differ: %q vs %q", hs.Code, bs.Code)
	}
	t.Logf("host %+v", hs)
	t.Logf("bea %+v", bs)
	screenshot(t, bea, "meeting-two-tabs")
}
