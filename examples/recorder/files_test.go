package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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
