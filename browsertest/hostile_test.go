package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tresor-dev/tresor/keys"
)

// TestHostileServerKeyPackage puts the browser client behind a signaling
// server the test controls, playing a malicious delivery service: it asks
// the browser (the only member) to commit an Add for participant "alice"
// with a KeyPackage issued to someone else. The browser must refuse to add
// it; the honest KeyPackage is then added, and the new member's Go client
// reaches the same security code as the page.
func TestHostileServerKeyPackage(t *testing.T) {
	msgs := make(chan map[string]any, 64)
	send := make(chan map[string]any, 64)
	mux := http.NewServeMux()
	mux.HandleFunc("/fake-signal", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-send:
					m["v"] = 1
					if wsjson.Write(ctx, c, m) != nil {
						return
					}
				}
			}
		}()
		for {
			var m map[string]any
			if err := wsjson.Read(ctx, c, &m); err != nil {
				return
			}
			msgs <- m
		}
	})
	srv := serveWeb(t, map[string]http.Handler{"/fake-signal": mux})
	ctx := newTab(t, newBrowser(t, 2*time.Minute), "hostile")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/test/sdk.html?signal=/fake-signal")); err != nil {
		t.Fatal(err)
	}

	next := func(typ string) map[string]any {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m := <-msgs:
				if m["type"] == "media" {
					send <- map[string]any{"type": "error", "id": m["id"], "code": "media_unavailable"}
					continue
				}
				if m["type"] == typ {
					return m
				}
				t.Logf("ignoring %v", m["type"])
			case <-timeout:
				t.Fatalf("no %q message from the browser", typ)
			}
		}
	}
	join := next("join")
	send <- map[string]any{"type": "joined", "id": join["id"],
		"self":  map[string]any{"identity": "web-1", "name": "Web", "role": "participant", "permissions": map[string]bool{}},
		"state": map[string]any{"participants": []any{}, "epoch": 0}}
	kpMsg := next("key_package")
	send <- map[string]any{"type": "ok", "id": kpMsg["id"]}
	send <- map[string]any{"type": "group_create", "epoch": 0}
	waitFor(t, ctx, "the browser's group", `window.tresorApp.meeting.group && window.tresorApp.meeting.group.epoch === 0`, 10*time.Second)

	mallory, _ := keys.NewIdentity(nil, "mallory")
	badKP, _ := keys.NewKeyPackage(mallory, nil)
	alice, _ := keys.NewIdentity(nil, "alice")
	goodKP, _ := keys.NewKeyPackage(alice, nil)

	// The forged request: a KeyPackage in mallory's name, said to be alice's.
	send <- map[string]any{"type": "commit_request", "epoch": 0, "pending": []any{
		map[string]any{"id": 1, "kind": "add", "participant": "alice", "key_package": badKP.Bytes()},
	}}
	waitFor(t, ctx, "the refusal", `window.sdkErrors.some((e) => e.includes("refused to add a KeyPackage"))`, 10*time.Second)
	select {
	case m := <-msgs:
		if m["type"] == "commit" {
			t.Fatalf("the browser committed a KeyPackage issued to someone else: %v", m["proposals"])
		}
		msgs <- m
	case <-time.After(2 * time.Second):
	}

	// The honest request is committed, with a Welcome alice can join from.
	send <- map[string]any{"type": "commit_request", "epoch": 0, "pending": []any{
		map[string]any{"id": 2, "kind": "add", "participant": "alice", "key_package": goodKP.Bytes()},
	}}
	commit := next("commit")
	if ids, _ := json.Marshal(commit["proposals"]); string(ids) != "[2]" || commit["epoch"] != float64(0) {
		t.Fatalf("commit covers %s on epoch %v", ids, commit["epoch"])
	}
	var welcome []byte
	raw, _ := json.Marshal(commit["welcome"])
	if err := json.Unmarshal(raw, &welcome); err != nil {
		t.Fatal(err)
	}
	send <- map[string]any{"type": "ok", "id": commit["id"], "epoch": 1}
	g, err := keys.Join(alice, goodKP, welcome, nil)
	if err != nil {
		t.Fatalf("alice cannot join from the browser's Welcome: %v", err)
	}
	code, _ := g.SecurityCode()
	waitFor(t, ctx, "epoch 1 in the browser", `window.tresorApp.meeting.group.epoch === 1`, 10*time.Second)
	if got := eval[string](t, ctx, "window.tresorApp.meeting.group.securityCode"); got != code {
		t.Fatalf("browser code %q, alice's %q", got, code)
	}
	names := eval[[]string](t, ctx, "window.tresorApp.meeting.group.members.map((m) => m.name)")
	if strings.Join(names, ",") != "web-1,alice" {
		t.Fatalf("browser roster %v", names)
	}
	// One receive key: alice's of epoch 1 (the browser's own key is a
	// sending key, and in epoch 0 it was alone).
	if n := eval[int](t, ctx, "window.tresorApp.meeting.e2ee.stats().then((s) => s.receiveKeys)"); n != 1 {
		t.Fatalf("the worker holds %d receive keys in a group of two", n)
	}

	// Alice removes the browser: it leaves the group and its worker erases
	// the media keys at once.
	rm, err := g.CreateCommit(nil, []uint32{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	send <- map[string]any{"type": "commit", "participant": "alice", "epoch": 1, "data": rm.Message}
	waitFor(t, ctx, "the browser out of the group", `window.tresorApp.meeting.group.active === false`, 10*time.Second)
	waitFor(t, ctx, "the media keys erased", `window.tresorApp.meeting.e2ee.stats().then((s) => s.receiveKeys === 0)`, 10*time.Second)
}
