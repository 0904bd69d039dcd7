package browsertest

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/internal/hostile"
)

// The Go participant's sockets are in this range, so that the SFU's socket
// can tell the browser's datagrams (all others) apart.
const botPortMin, botPortMax = 22000, 22999

func botPort(peer string) bool {
	_, port, err := net.SplitHostPort(peer)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= botPortMin && p <= botPortMax
}

// iceJS reports the tab's two connections: ICE state and remote ufrag.
const iceJS = `(() => {
  const m = window.tresorApp.meeting.media;
  const u = (pc) => { const d = pc.remoteDescription; const x = d && /^a=ice-ufrag:(\S+)/m.exec(d.sdp); return x ? x[1] : ""; };
  return { pub: m.publish.iceConnectionState, sub: m.subscribe.iceConnectionState, pubUfrag: u(m.publish), subUfrag: u(m.subscribe),
           events: window.__ice || [] };
})()`

type iceState struct {
	Pub, Sub           string
	PubUfrag, SubUfrag string
	Events             [][]any
}

func tabICE(t *testing.T, ctx context.Context) iceState {
	t.Helper()
	var s iceState
	if err := json.Unmarshal(eval[json.RawMessage](t, ctx, iceJS), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func up(st string) bool { return st == "connected" || st == "completed" }

// TestBrowserICERestart: the browser client restarts ICE on its publish
// connection (an offer with iceRestart) and its subscribe connection (the
// "restart" signal, answered by the SFU's ICE-restart offer), explicitly
// and after its network was down for 8 s (every datagram between the SFU
// and the browser dropped), and media decrypts both ways again, between
// the tab and a Go participant, in the same epoch.
func TestBrowserICERestart(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tap := hostile.NewUDPTap(conn)
	tap.SetRecord(false)
	ms, _ := startMeetingServerOn(t, false, tap)
	browser := newBrowser(t, 4*time.Minute)
	host := newTab(t, browser, "host")
	if err := chromedp.Do(host, chromedp.Navigate(ms.URL+"/#token="+ms.HostToken)); err != nil {
		t.Fatal(err)
	}
	click(t, host, "#join")
	waitFor(t, host, "the host in the meeting", `!document.getElementById("meeting-screen").hidden && !!window.tresorApp.meeting.media`, 30*time.Second)
	eval[bool](t, host, `(() => { window.__ice = []; const m = window.tresorApp.meeting.media;
	  m.addEventListener("ice-restart", (e) => window.__ice.push(["restart", e.detail.target, e.detail.attempt, Date.now()]));
	  m.addEventListener("ice-recovered", (e) => window.__ice.push(["recovered", e.detail.target, e.detail.downMs, Date.now()]));
	  return true; })()`)

	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if err := se.SetEphemeralUDPPortRange(botPortMin, botPortMax); err != nil {
		t.Fatal(err)
	}
	api, err := tresor.NewAPI(se)
	if err != nil {
		t.Fatal(err)
	}
	b := startBot(t, ms, "Otto", tresor.WithWebRTCAPI(api))
	admitByName(t, host, "Otto")
	tabs := []context.Context{host}
	converge(t, "the tab and the bot decrypting each other", tabs, b, 60*time.Second, func(s []tabState) bool {
		_, _, dec := b.state()
		return s[0].decryptedFrom(b.identity, "video") > 30 && s[0].decryptedFrom(b.identity, "audio") > 30 &&
			dec[s[0].Identity+"/video"] > 30 && dec[s[0].Identity+"/audio"] > 30
	})
	epoch, code, _ := b.state()

	// flows waits until media decrypts both ways beyond what it did before,
	// and returns how long that took.
	flows := func(what string, timeout time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		s0 := state(t, host)
		_, _, d0 := b.state()
		id := s0.Identity
		for {
			s := state(t, host)
			_, _, d := b.state()
			if s.decryptedFrom(b.identity, "video") > s0.decryptedFrom(b.identity, "video") &&
				s.decryptedFrom(b.identity, "audio") > s0.decryptedFrom(b.identity, "audio") &&
				d[id+"/video"] > d0[id+"/video"] && d[id+"/audio"] > d0[id+"/audio"] {
				return time.Since(start)
			}
			if time.Since(start) > timeout {
				t.Fatalf("%s: media did not flow both ways within %v (tab %+v, bot %v)", what, timeout, s.Worker.Tracks, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 1. Explicit restarts of both connections.
	before := tabICE(t, host)
	eval[bool](t, host, `(() => { const m = window.tresorApp.meeting.media; m.restartIce("publish"); m.restartIce("subscribe"); return true; })()`)
	waitFor(t, host, "new ICE sessions on both connections",
		`(() => { const s = `+iceJS+`; return s.pubUfrag !== `+strconv.Quote(before.PubUfrag)+` && s.subUfrag !== `+strconv.Quote(before.SubUfrag)+
			` && (s.pub === "connected" || s.pub === "completed") && (s.sub === "connected" || s.sub === "completed"); })()`, 15*time.Second)
	flows("after the explicit restarts", 15*time.Second)

	// 2. The browser's network is down for 8 s.
	tap.Block(func(peer string) bool { return !botPort(peer) })
	time.Sleep(8 * time.Second)
	during := tabICE(t, host)
	tap.Block(nil)
	back := time.Now()
	rec := flows("after the outage", 30*time.Second)
	after := tabICE(t, host)
	t.Logf("after 8 s down (ICE then %s/%s), media decrypts both ways %v after the network came back",
		during.Pub, during.Sub, rec.Round(time.Millisecond))
	for _, ev := range after.Events {
		if len(ev) == 4 {
			at, _ := ev[3].(float64)
			t.Logf("  %v %v %v at %+v from the network coming back", ev[0], ev[1], ev[2], time.UnixMilli(int64(at)).Sub(back).Round(time.Millisecond))
		}
	}
	if !up(after.Pub) || !up(after.Sub) {
		t.Errorf("connections %s/%s after recovery", after.Pub, after.Sub)
	}
	if e, c, _ := b.state(); e != epoch || c != code {
		t.Errorf("epoch %d code %s after the outage, want %d %s", e, c, epoch, code)
	}
}
