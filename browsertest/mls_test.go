package browsertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/keys"
)

type wasmGroupState struct {
	Epoch   uint64
	Code    string
	Members []string
	Keys    []struct {
		Leaf uint32
		KID  uint64
		Key  string
	}
	OwnKid uint64
}

// TestWasmMLSMatchesGo runs an MLS group between the wasm build of keys in
// a browser Worker and the native Go keys package, with no server in
// between: Go verifies the browser's KeyPackage and adds it, the browser
// joins from Go's Welcome, and both derive the same epoch, security code and
// SFrame base keys; chat goes both ways; a Commit made in the browser moves
// the Go member to the same next epoch. Bad input gives errors, not a crash.
func TestWasmMLSMatchesGo(t *testing.T) {
	ctx := newTab(t, newBrowser(t, 2*time.Minute), "mls")
	srv := serveWeb(t, nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/test/probe.html")); err != nil {
		t.Fatal(err)
	}
	var kp []byte
	if err := json.Unmarshal(probe(t, ctx, "mlsKeyPackage", nil), &kp); err != nil {
		t.Fatal(err)
	}
	who, err := keys.VerifyKeyPackage(kp, nil)
	if err != nil || who.Name != "web" {
		t.Fatalf("Go rejects the browser's KeyPackage: %v (%+v)", err, who)
	}
	goID, _ := keys.NewIdentity(nil, "go")
	g, err := keys.NewGroup(goID, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.CreateCommit([][]byte{kp}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}

	var st wasmGroupState
	if err := json.Unmarshal(probe(t, ctx, "mlsJoin", map[string]any{"frame": b64(c.Welcome)}), &st); err != nil {
		t.Fatal(err)
	}
	checkSame := func(st wasmGroupState) {
		t.Helper()
		code, err := g.SecurityCode()
		if err != nil {
			t.Fatal(err)
		}
		if st.Epoch != g.Epoch() || st.Code != code {
			t.Fatalf("browser epoch %d code %q; Go epoch %d code %q", st.Epoch, st.Code, g.Epoch(), code)
		}
		k, err := g.SFrameKeys()
		if err != nil {
			t.Fatal(err)
		}
		defer k.Erase()
		if len(st.Keys) != len(k.Members) {
			t.Fatalf("browser has %d keys, Go %d", len(st.Keys), len(k.Members))
		}
		for i, m := range k.Members {
			key, _ := base64.StdEncoding.DecodeString(st.Keys[i].Key)
			if st.Keys[i].KID != m.KID || st.Keys[i].Leaf != m.Leaf || !bytes.Equal(key, m.BaseKey) {
				t.Fatalf("SFrame key of leaf %d differs between the browser and Go", m.Leaf)
			}
		}
	}
	checkSame(st)
	if len(st.Members) != 2 || st.Members[0] != "go" || st.Members[1] != "web" {
		t.Fatalf("browser roster %v", st.Members)
	}

	// Chat: browser -> Go, Go -> browser.
	var sealed []byte
	if err := json.Unmarshal(probe(t, ctx, "mlsSeal", map[string]any{"codec": "hello from wasm"}), &sealed); err != nil {
		t.Fatal(err)
	}
	msg, err := g.Process(sealed)
	if err != nil || string(msg.Data) != "hello from wasm" || msg.Sender.Name != "web" {
		t.Fatalf("Go read the browser's chat as %+v, %v", msg, err)
	}
	fromGo, err := g.Seal([]byte("hello from Go"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Kind, Sender, Text string }
	if err := json.Unmarshal(probe(t, ctx, "mlsProcess", map[string]any{"frame": b64(fromGo)}), &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "application" || got.Sender != "go" || got.Text != "hello from Go" {
		t.Fatalf("browser read Go's chat as %+v", got)
	}

	// A Commit from the browser (the periodic update) moves Go along.
	var commit []byte
	if err := json.Unmarshal(probe(t, ctx, "mlsCommit", nil), &commit); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Process(commit); err != nil {
		t.Fatalf("Go rejects the browser's Commit: %v", err)
	}
	if err := json.Unmarshal(probe(t, ctx, "mlsState", nil), &st); err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 2 {
		t.Fatalf("browser epoch %d after its Commit", st.Epoch)
	}
	checkSame(st)

	// Bad input: every call answers {error}, and the group still works.
	var bad []struct{ Error, Class string }
	if err := json.Unmarshal(probe(t, ctx, "mlsBad", nil), &bad); err != nil {
		t.Fatal(err)
	}
	for i, b := range bad {
		if b.Error == "" {
			t.Errorf("bad MLS call %d did not fail", i)
		}
	}
	if bad[0].Class != "malformed" {
		t.Errorf("garbage Welcome: class %q", bad[0].Class)
	}
	if err := json.Unmarshal(probe(t, ctx, "mlsState", nil), &st); err != nil {
		t.Fatal(err)
	}
	checkSame(st)
}
