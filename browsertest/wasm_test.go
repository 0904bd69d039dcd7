package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/keys"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// probe runs one operation of testdata/probe-worker.js in the tab and returns
// its JSON result.
func probe(t *testing.T, ctx context.Context, op string, args map[string]any) json.RawMessage {
	t.Helper()
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return eval[json.RawMessage](t, ctx, fmt.Sprintf("probe(%q, %s)", op, a))
}

// TestWasmSFrameMatchesGo loads tresor.wasm in a Worker in Chromium and
// checks that it seals frames to exactly the bytes the Go e2ee package
// produces for the same key and counter, opens the Go package's frames, and
// rejects a tampered one: the browser runs the same SFrame, not a lookalike.
func TestWasmSFrameMatchesGo(t *testing.T) {
	ctx := newTab(t, newBrowser(t, 2*time.Minute), "probe")
	srv := serveWeb(t, nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/test/probe.html")); err != nil {
		t.Fatal(err)
	}
	var version string
	if err := json.Unmarshal(probe(t, ctx, "version", nil), &version); err != nil || version != "tresor-wasm/1" {
		t.Fatalf("wasm version = %q, %v", version, err)
	}

	key := make([]byte, 16)
	rand.Read(key)
	kid := keys.KID(3, 300) // a multi-byte KID
	vp8Key := append([]byte{0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, bytes.Repeat([]byte{0xab}, 300)...)
	vp8Delta := append([]byte{0x31, 0x05, 0x00}, bytes.Repeat([]byte{0xcd}, 120)...)
	opus := bytes.Repeat([]byte{0x78, 0x01}, 40)
	frames := []struct {
		codec string
		c     e2ee.Codec
		data  []byte
	}{
		{"vp8", e2ee.CodecVP8, vp8Key},
		{"vp8", e2ee.CodecVP8, vp8Delta},
		{"opus", e2ee.CodecOpus, opus},
		{"vp8", e2ee.CodecVP8, vp8Delta},
	}

	goSender, err := e2ee.NewSender(e2ee.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := goSender.SetKey(kid, key); err != nil {
		t.Fatal(err)
	}
	probe(t, ctx, "newSender", map[string]any{"kid": kid, "key": b64(key)})
	probe(t, ctx, "newReceiver", map[string]any{"kid": kid, "key": b64(key)})
	goReceiver, err := e2ee.NewReceiver(e2ee.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := goReceiver.Add(kid, key); err != nil {
		t.Fatal(err)
	}

	var sealedByGo [][]byte
	for i, f := range frames {
		want, err := goSender.EncryptFrame(nil, f.c, f.data)
		if err != nil {
			t.Fatal(err)
		}
		sealedByGo = append(sealedByGo, want)
		var got []byte
		if err := json.Unmarshal(probe(t, ctx, "encrypt", map[string]any{"codec": f.codec, "frame": b64(f.data)}), &got); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d (%s): browser sealed\n%x\nGo sealed\n%x", i, f.codec, got, want)
		}
		// And the browser's frame opens in Go.
		plain, err := goReceiver.DecryptFrame(nil, f.c, got)
		if err != nil || !bytes.Equal(plain, f.data) {
			t.Fatalf("frame %d: Go cannot open the browser's frame: %v", i, err)
		}
	}
	// The browser opens Go's frames (once each: the second time is a replay).
	for i, f := range frames {
		var got []byte
		if err := json.Unmarshal(probe(t, ctx, "decrypt", map[string]any{"codec": f.codec, "frame": b64(sealedByGo[i])}), &got); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, f.data) {
			t.Fatalf("frame %d: browser opened %x, want %x", i, got, f.data)
		}
	}
	// A tampered frame (one flipped ciphertext bit), a replay and a frame for
	// an unknown KID are refused and counted.
	// (The tampered frame has a fresh CTR: the replay check comes first.)
	tampered, err := goSender.EncryptFrame(nil, e2ee.CodecVP8, vp8Key)
	if err != nil {
		t.Fatal(err)
	}
	tampered[len(tampered)-20] ^= 1
	otherSender, _ := e2ee.NewSender(e2ee.Config{})
	otherSender.SetKey(kid+1, key)
	unknown, _ := otherSender.EncryptFrame(nil, e2ee.CodecOpus, opus)
	for _, bad := range []struct{ codec, frame string }{
		{"vp8", b64(tampered)}, {"vp8", b64(sealedByGo[1])}, {"opus", b64(unknown)},
	} {
		if r := probe(t, ctx, "decrypt", map[string]any{"codec": bad.codec, "frame": bad.frame}); string(r) != "null" {
			t.Fatalf("a bad frame was accepted: %s", r)
		}
	}
	var stats struct {
		Sender   struct{ Sealed float64 }
		Receiver struct{ Opened, AuthFailed, Replayed, UnknownKey float64 }
	}
	if err := json.Unmarshal(probe(t, ctx, "stats", nil), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Sender.Sealed != 4 || stats.Receiver.Opened != 4 || stats.Receiver.AuthFailed != 1 ||
		stats.Receiver.Replayed != 1 || stats.Receiver.UnknownKey != 1 {
		t.Fatalf("stats = %+v", stats)
	}

	// Wrong JavaScript arguments give {error} values, and the module keeps
	// running.
	var bad []struct{ Error string }
	if err := json.Unmarshal(probe(t, ctx, "badArgs", map[string]any{"key": b64(key)}), &bad); err != nil {
		t.Fatal(err)
	}
	for i, b := range bad {
		if b.Error == "" {
			t.Errorf("bad call %d did not fail", i)
		}
	}
	if r := probe(t, ctx, "encrypt", map[string]any{"codec": "opus", "frame": b64(opus)}); string(r) == "null" {
		t.Fatal("the module stopped working after bad calls")
	}
}
