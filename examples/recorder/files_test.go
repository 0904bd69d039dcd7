package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/examples/internal/mediafile"
)

// clipSource plays a clip as a remote track would deliver it.
type clipSource struct {
	participant, id, kind string
	frames                []tresor.Frame
}

func (c *clipSource) Participant() string { return c.participant }
func (c *clipSource) ID() string          { return c.id }
func (c *clipSource) Kind() string        { return c.kind }
func (c *clipSource) ReadFrame(context.Context) (tresor.Frame, error) {
	if len(c.frames) == 0 {
		return tresor.Frame{}, io.EOF
	}
	f := c.frames[0]
	c.frames = c.frames[1:]
	return f, nil
}

func readClip(t *testing.T, name string, read func([]byte) (*mediafile.Clip, error), rate int) ([]tresor.Frame, *mediafile.Clip) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bot", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []tresor.Frame
	ts := uint32(777)
	for _, f := range c.Frames {
		out = append(out, tresor.Frame{Data: f.Data, RTPTimestamp: ts})
		ts += uint32(f.Duration * time.Duration(rate) / time.Second)
	}
	return out, c
}

func TestFilesWriteOnlyWhileAllowed(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	f, err := newFiles(dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	vframes, vclip := readClip(t, "video.ivf", mediafile.ReadIVF, 90000)
	aframes, aclip := readClip(t, "audio.ogg", mediafile.ReadOgg, 48000)

	// Before everyone consented nothing is written.
	f.read(context.Background(), &clipSource{"ada", "cam", "video", vframes[:10]})
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || len(f.written()) != 0 {
		t.Fatalf("wrote %d files before consent", len(ents))
	}

	f.allow()
	f.read(context.Background(), &clipSource{"ada", "cam", "video", vframes})
	f.read(context.Background(), &clipSource{"../bob", "mic/1", "audio", aframes})
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
	// After the stop (consent withdrawn) nothing more is written.
	f.read(context.Background(), &clipSource{"eve", "cam", "video", vframes})

	paths := f.written()
	if len(paths) != 2 {
		t.Fatalf("files %v", paths)
	}
	for _, p := range paths {
		if filepath.Dir(p) != dir {
			t.Fatalf("%s is outside %s", p, dir)
		}
	}
	if filepath.Base(paths[0]) != "ada-cam.ivf" || !strings.HasPrefix(filepath.Base(paths[1]), "___bob.") || !strings.HasSuffix(paths[1], ".ogg") {
		t.Fatalf("file names %v", paths)
	}
	for i, c := range []struct {
		read func([]byte) (*mediafile.Clip, error)
		clip *mediafile.Clip
	}{{mediafile.ReadIVF, vclip}, {mediafile.ReadOgg, aclip}} {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.read(b)
		if err != nil {
			t.Fatalf("%s: %v", paths[i], err)
		}
		if len(got.Frames) != len(c.clip.Frames) {
			t.Fatalf("%s: %d frames, want %d", paths[i], len(got.Frames), len(c.clip.Frames))
		}
		for j := range got.Frames {
			if !bytes.Equal(got.Frames[j].Data, c.clip.Frames[j].Data) {
				t.Fatalf("%s: frame %d differs", paths[i], j)
			}
		}
	}
	if !strings.Contains(log.String(), "wrote 30 frames to") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestSafeName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"ada", "guest-0d41b813f5808def", "..", "../../etc/passwd", "a/b", "a_b", "a b", "", strings.Repeat("x", 200), strings.Repeat("x", 201), "日本"} {
		n := safeName(s)
		if n == "" || strings.ContainsAny(n, `/\`) || n == "." || n == ".." || len(n) > 48+9 {
			t.Errorf("safeName(%q) = %q", s, n)
		}
		if prev, dup := seen[n]; dup {
			t.Errorf("safeName(%q) = safeName(%q) = %q", s, prev, n)
		}
		seen[n] = s
	}
	if safeName("ada") != "ada" {
		t.Fatal("a plain name changed")
	}
}

// liveSource is a track that delivers nothing until its reader stops, and
// counts key-frame requests.
type liveSource struct {
	clipSource
	requests atomic.Int32
}

func (l *liveSource) ReadFrame(ctx context.Context) (tresor.Frame, error) {
	<-ctx.Done()
	return tresor.Frame{}, ctx.Err()
}

func (l *liveSource) RequestKeyFrame() error {
	l.requests.Add(1)
	return nil
}

// When everyone consented, the recorder asks each video track being read
// for a key frame, so that its file starts at once; not audio tracks, nor
// tracks that ended.
func TestFilesAskForKeyFrameWhenAllowed(t *testing.T) {
	f, err := newFiles(t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	video := &liveSource{clipSource: clipSource{"ada", "cam", "video", nil}}
	audio := &liveSource{clipSource: clipSource{"ada", "mic", "audio", nil}}
	ended := &liveSource{clipSource: clipSource{"bob", "cam", "video", nil}}
	var wg sync.WaitGroup
	for _, s := range []*liveSource{video, audio} {
		wg.Add(1)
		go func() { defer wg.Done(); f.read(ctx, s) }()
	}
	endedCtx, endNow := context.WithCancel(context.Background())
	endNow()
	f.read(endedCtx, ended)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		n := len(f.live)
		f.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tracks being read, want 2", n)
		}
	}
	if video.requests.Load() != 0 {
		t.Fatal("asked for a key frame before recording was allowed")
	}
	f.allow()
	cancel()
	wg.Wait()
	if v, a, e := video.requests.Load(), audio.requests.Load(), ended.requests.Load(); v != 1 || a != 0 || e != 0 {
		t.Fatalf("key frame requests: video %d, audio %d, ended track %d; want 1, 0, 0", v, a, e)
	}
}
