package browsertest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/auth"
	"github.com/tresor-dev/tresor/internal/demotoken"
	"github.com/tresor-dev/tresor/internal/hostile"
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

	wasmFetches atomic.Int64 // GET /tresor.wasm
}

func newMeetingServer(t *testing.T) *meetingServer {
	t.Helper()
	ms, _ := startMeetingServer(t, false)
	return ms
}

// startMeetingServer starts the meeting server; with proxied, the page's
// /signal is the hostile proxy (internal/hostile) in front of the real
// signaling server, so that a test can rewrite what the server says.
func startMeetingServer(t *testing.T, proxied bool) (*meetingServer, *hostile.Proxy) {
	t.Helper()
	return startMeetingServerOn(t, proxied, nil)
}

// startMeetingServerOn is startMeetingServer with the SFU on udp (a tap
// around its socket, say) when it is not nil.
func startMeetingServerOn(t *testing.T, proxied bool, udp net.PacketConn) (*meetingServer, *hostile.Proxy) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TRESOR_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	media, err := sfu.New(sfu.Config{UDPAddr: "127.0.0.1:0", UDPConn: udp, Logger: logger.With("component", "sfu")})
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
	var proxy *hostile.Proxy
	if proxied {
		mux.Handle("/real-signal", sig)
		mux.Handle("/signal", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxy.ServeHTTP(w, r) }))
	} else {
		mux.Handle("/signal", sig)
	}
	mux.HandleFunc("/demo/token", func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := "guest-" + hex.EncodeToString(b[:])
		tok := ms.token(t, id, r.FormValue("name"), signaling.RoleParticipant)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"token": tok, "room": testRoom, "identity": id, "signal": "/signal"})
	})
	vouch := &demotoken.Voucher{Key: priv}
	mux.Handle(demotoken.AuthorityPath, vouch)
	mux.Handle(demotoken.VouchPath, vouch)
	mux.Handle("/test/", http.StripPrefix("/test/", http.FileServerFS(os.DirFS("testdata"))))
	webHandler := web.Handler()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tresor.wasm" {
			ms.wasmFetches.Add(1)
		}
		webHandler.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	ms.URL = srv.URL
	if proxied {
		proxy = hostile.NewProxy("ws" + strings.TrimPrefix(srv.URL, "http") + "/real-signal")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sig.Close(ctx)
		srv.Close()
		media.Close()
	})
	return ms, proxy
}

func (ms *meetingServer) token(t *testing.T, identity, name string, role signaling.Role) string {
	tok, err := auth.MintToken(ms.key, auth.Claims{Room: testRoom, Identity: identity, Name: name, Role: role, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Error(err)
	}
	return tok
}

// vouch returns a Voucher that has the test's backend vouch for a Go
// participant's MLS key.
func (ms *meetingServer) vouch(identity, name string) tresor.Voucher {
	return func(_ context.Context, key []byte) ([]byte, error) {
		return auth.MintAssertion(ms.key, auth.Assertion{Room: testRoom, Identity: identity, Name: name, SignatureKey: key, Expiry: time.Now().Add(time.Hour)})
	}
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
           members: m.group.members.map((x) => x.identity), worker: w, video };
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

// removeByID clicks Remove for the participant identity in the host's
// panel, and again on the confirmation it turns into.
func removeByID(t *testing.T, host context.Context, id string) {
	t.Helper()
	sel := fmt.Sprintf(`[data-remove=%q]`, id)
	click(t, host, sel)
	waitFor(t, host, "the removal's confirmation", fmt.Sprintf(`document.querySelector(%q).textContent === "Confirm removal"`, sel), 5*time.Second)
	click(t, host, sel)
}

// admitByName clicks Admit in the host's waiting list for the participant
// shown as name, and returns its identity.
func admitByName(t *testing.T, host context.Context, name string) string {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const li = [...document.querySelectorAll("#waiting-list li")].find((li) => li.querySelector(".who") && li.querySelector(".who").textContent === %q); return li ? li.dataset.identity : ""; })()`, name)
	waitFor(t, host, name+" in the host's waiting list", expr, 20*time.Second)
	id := eval[string](t, host, expr)
	click(t, host, fmt.Sprintf(`[data-admit=%q]`, id))
	return id
}

// converge polls until every tab and the bot are in the same epoch with the
// same code and cond holds, and returns the tabs' states.
func converge(t *testing.T, what string, tabs []context.Context, b *bot, timeout time.Duration, cond func([]tabState) bool) []tabState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		time.Sleep(time.Second)
		states := make([]tabState, len(tabs))
		for i, tab := range tabs {
			states[i] = state(t, tab)
		}
		epoch, code, _ := b.state()
		same := true
		for _, s := range states {
			same = same && uint64(s.Epoch) == epoch && s.Code == code && code != ""
		}
		if same && cond(states) {
			return states
		}
		if time.Now().After(deadline) {
			_, _, dec := b.state()
			for i, s := range states {
				t.Logf("tab %d: %+v", i, s)
			}
			t.Fatalf("%s: timed out; bot epoch %d code %q decrypted %v", what, epoch, code, dec)
		}
	}
}

// TestMeetingInterop is the browser client's end-to-end test: two tabs of
// the demo page and a Go participant join one meeting through the waiting
// room; everyone decrypts everyone's audio and video and shows the same
// security code; a tab with wrong media keys decodes nothing; removing a
// participant changes the code for everyone left.
func TestMeetingInterop(t *testing.T) {
	ms := newMeetingServer(t)
	browser := newBrowser(t, 5*time.Minute)
	host := newTab(t, browser, "host")
	bea := newTab(t, browser, "bea")

	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && document.getElementById("code").textContent.length > 5`, 30*time.Second)

	// Bea's tab uses Chromium's createEncodedStreams, the host's
	// RTCRtpScriptTransform: both transform APIs in one meeting.
	joinAsGuest(t, bea, ms.URL+"/?transform=streams", "Bea", testPasscode)
	waitFor(t, bea, "Bea in the waiting room", `!document.getElementById("waiting-screen").hidden`, 30*time.Second)
	screenshot(t, bea, "waiting-room")
	beaID := admitByName(t, host, "Bea")
	waitFor(t, bea, "Bea in the meeting", `!document.getElementById("meeting-screen").hidden`, 30*time.Second)

	// Each tab downloads and compiles tresor.wasm once, for the page and
	// its media worker.
	if n := ms.wasmFetches.Load(); n != 2 {
		t.Errorf("two tabs fetched tresor.wasm %d times, want 2", n)
	}

	b := startBot(t, ms, "Otto")
	admitByName(t, host, "Otto")

	// 1. Everyone decrypts everyone: each tab's worker opens audio and video
	// from each other participant, and the bot from each tab.
	tabs := []context.Context{host, bea}
	states := converge(t, "three participants decrypting each other", tabs, b, 90*time.Second, func(s []tabState) bool {
		_, _, dec := b.state()
		ok := len(s[0].Members) == 3
		for i, me := range s {
			for j, other := range s {
				if i != j {
					ok = ok && me.decryptedFrom(other.Identity, "video") > 30 && me.decryptedFrom(other.Identity, "audio") > 30
				}
			}
			ok = ok && me.decryptedFrom(b.identity, "video") > 30 && me.decryptedFrom(b.identity, "audio") > 30
			ok = ok && dec[me.Identity+"/video"] > 30 && dec[me.Identity+"/audio"] > 30
		}
		return ok
	})
	if api := eval[string](t, host, "window.tresorApp.meeting.e2ee.api"); api != "script" {
		t.Errorf("host transform API %q, want script", api)
	}
	if api := eval[string](t, bea, "window.tresorApp.meeting.e2ee.api"); api != "streams" {
		t.Errorf("Bea's transform API %q, want streams", api)
	}
	for _, tab := range tabs {
		waitFor(t, tab, "the server's and the MLS rosters agreeing", `document.getElementById("roster-warning").hidden && document.getElementById("roster-joining").hidden`, 10*time.Second)
	}
	code3 := states[0].Code
	t.Logf("three participants, epoch %v, security code %s (all equal)", states[0].Epoch, code3)
	for _, s := range states {
		if s.Worker.Receiver.AuthFailed != 0 {
			t.Errorf("%s: %d authentication failures with the right keys", s.Identity, s.Worker.Receiver.AuthFailed)
		}
	}

	// 2. Every remote video decodes and keeps decoding: framesDecoded grows
	// well past a handful, with real dimensions.
	before := []tabState{state(t, host), state(t, bea)}
	time.Sleep(3 * time.Second)
	for i, tab := range tabs {
		after := state(t, tab)
		if len(after.Video) != 2 {
			t.Errorf("tab %d has %d remote videos, want 2 (the other tab and the bot)", i, len(after.Video))
		}
		for id, v := range after.Video {
			prev := before[i].Video[id]
			if v.FramesDecoded < 30 || v.FramesDecoded-prev.FramesDecoded < 15 || v.FrameWidth == 0 || v.FrameHeight == 0 {
				t.Errorf("tab %d video %s: framesDecoded %d -> %d, %dx%d", i, id, prev.FramesDecoded, v.FramesDecoded, v.FrameWidth, v.FrameHeight)
			}
		}
	}

	// Active speaker: the loudest remote audio (all decrypted in the worker)
	// highlights its sender's tile.
	waitFor(t, host, "an active speaker", `document.querySelector(".tile.speaking") !== null`, 15*time.Second)

	// E2EE chat from the page reaches the other tab.
	if err := chromedp.Do(bea, chromedp.SendKeys(chromedp.ID("chat-input"), "hello from Bea")); err != nil {
		t.Fatal(err)
	}
	click(t, bea, "#chat-form button")
	waitFor(t, host, "Bea's chat message", `document.getElementById("chat").textContent.includes("hello from Bea")`, 10*time.Second)

	// Screen sharing only when allowed: the host allows Bea from the panel.
	if eval[bool](t, bea, `document.getElementById("toggle-screen").disabled`) != true {
		t.Error("Bea may share her screen before the host allowed it")
	}
	click(t, host, fmt.Sprintf(`[data-allow-screen=%q]`, beaID))
	waitFor(t, bea, "Bea's screen-share button", `!document.getElementById("toggle-screen").disabled`, 10*time.Second)
	click(t, bea, "#toggle-screen")
	waitFor(t, bea, "Bea sharing her screen", `document.getElementById("toggle-screen").textContent === "Stop sharing"`, 10*time.Second)
	waitFor(t, host, "Bea's screen share at the host", `(async () => Object.values(await window.tresorApp.meeting.media.videoStats()).filter((v) => v.framesDecoded > 5).length === 3)()`, 20*time.Second)
	click(t, bea, "#toggle-screen") // stop

	// Recording needs everyone's consent: the host asks, Bea allows in the
	// consent dialog, the Go participant consents; then everyone sees the
	// banner. It is stopped again before anyone else joins.
	click(t, host, "#record")
	waitFor(t, bea, "the consent dialog", `document.getElementById("consent-dialog").open`, 10*time.Second)
	click(t, bea, `#consent-dialog button[value="allow"]`)
	for _, tab := range tabs {
		waitFor(t, tab, "the recording banner", `!document.getElementById("recording-banner").hidden`, 15*time.Second)
	}
	time.Sleep(time.Second) // let the grid settle for the picture
	screenshot(t, host, "meeting-host")
	screenshot(t, bea, "meeting-guest")

	click(t, host, "#record") // stop
	waitFor(t, host, "the recording stopped", `document.getElementById("recording-banner").hidden`, 10*time.Second)

	// 3. A tab whose worker holds wrong media keys decodes nothing and
	// counts authentication failures, while the others still decrypt.
	wes := newTab(t, browser, "wes")
	if err := chromedp.Do(wes, chromedp.Navigate(ms.URL+"/test/wrongkey.html?name=Wes&passcode="+testPasscode)); err != nil {
		t.Fatal(err)
	}
	admitByName(t, host, "Wes")
	tabs4 := []context.Context{host, bea, wes}
	converge(t, "the wrong-key tab in the group", tabs4, b, 60*time.Second, func(s []tabState) bool {
		return len(s[0].Members) == 4 && s[2].Worker.Receiver.AuthFailed > 100
	})
	time.Sleep(3 * time.Second)
	ws := state(t, wes)
	if ws.Worker.Receiver.Opened != 0 || ws.Worker.Receiver.AuthFailed == 0 {
		t.Errorf("wrong-key tab: receiver %+v", ws.Worker.Receiver)
	}
	if len(ws.Video) == 0 {
		t.Errorf("wrong-key tab received no video track")
	}
	for id, v := range ws.Video {
		if v.FramesDecoded != 0 {
			t.Errorf("wrong-key tab decoded %d frames of %s", v.FramesDecoded, id)
		}
	}
	hs := state(t, host)
	if n := hs.decryptedFrom(b.identity, "video"); n <= states[0].decryptedFrom(b.identity, "video") {
		t.Errorf("the host stopped decrypting the bot: %d frames", n)
	}

	// 4. Removing Bea changes the security code for everyone left, equally.
	removeByID(t, host, beaID)
	waitFor(t, bea, "Bea's removal notice", `!document.getElementById("end-screen").hidden && document.getElementById("end-title").textContent.includes("removed")`, 20*time.Second)
	after := converge(t, "the group after the removal", []context.Context{host, wes}, b, 60*time.Second, func(s []tabState) bool {
		return len(s[0].Members) == 3
	})
	if after[0].Code == code3 {
		t.Fatalf("the security code did not change after a removal: %s", code3)
	}
	for _, name := range after[0].Members {
		if name == beaID {
			t.Fatalf("Bea is still in the MLS roster: %v", after[0].Members)
		}
	}
	t.Logf("after removing Bea: epoch %v, code %s (was %s)", after[0].Epoch, after[0].Code, code3)

	// 5. The host denies a joiner, then locks the meeting: the next joiner
	// is refused at the door.
	dan := newTab(t, browser, "dan")
	joinAsGuest(t, dan, ms.URL+"/", "Dan", testPasscode)
	waitFor(t, dan, "Dan in the waiting room", `!document.getElementById("waiting-screen").hidden`, 30*time.Second)
	danExpr := `[...document.querySelectorAll("#waiting-list li")].find((li) => li.textContent.includes("Dan"))`
	waitFor(t, host, "Dan in the host's waiting list", danExpr, 10*time.Second)
	click(t, host, fmt.Sprintf(`[data-deny=%q]`, eval[string](t, host, danExpr+".dataset.identity")))
	waitFor(t, dan, "Dan turned away", `document.getElementById("end-title").textContent.includes("did not let you in")`, 10*time.Second)
	click(t, host, "#lock")
	waitFor(t, host, "the lock", `window.tresorApp.meeting.state.locked === true`, 10*time.Second)
	lou := newTab(t, browser, "lou")
	joinAsGuest(t, lou, ms.URL+"/", "Lou", testPasscode)
	waitFor(t, lou, "Lou refused", `document.getElementById("join-error").textContent.includes("locked")`, 20*time.Second)
}
