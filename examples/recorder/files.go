package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/tresor-dev/tresor"
	"github.com/tresor-dev/tresor/examples/internal/mediafile"
)

// frameSource is a remote track as the recorder reads it
// (*tresor.RemoteTrack).
type frameSource interface {
	Participant() string
	ID() string
	Kind() string
	ReadFrame(ctx context.Context) (tresor.Frame, error)
}

// keyFramer is a video track that can ask its publisher for a key frame
// (*tresor.RemoteTrack).
type keyFramer interface{ RequestKeyFrame() error }

// files writes each remote track's decrypted frames to its own file in dir,
// but only while recording is allowed: frames that arrive before everyone
// consented, or after someone withdrew, are dropped without being written.
type files struct {
	dir string
	out io.Writer

	mu      sync.Mutex
	allowed bool
	stopped bool // closed for good
	open    map[string]*trackFile
	paths   []string             // every file written, in order of creation
	live    map[frameSource]bool // tracks being read
}

type trackFile struct {
	path   string
	w      mediafile.FrameWriter
	frames int
}

func newFiles(dir string, out io.Writer) (*files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings folder: %w", err)
	}
	return &files{dir: dir, out: out, open: map[string]*trackFile{}, live: map[frameSource]bool{}}, nil
}

// read copies t's frames until t ends or ctx is done.
func (f *files) read(ctx context.Context, t frameSource) {
	f.mu.Lock()
	f.live[t] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.live, t)
		f.mu.Unlock()
	}()
	for {
		fr, err := t.ReadFrame(ctx)
		if err != nil {
			return
		}
		f.write(t, fr)
	}
}

func (f *files) write(t frameSource, fr tresor.Frame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.allowed || f.stopped {
		return
	}
	key := t.Participant() + "\x00" + t.ID()
	tf := f.open[key]
	if tf == nil {
		mime, ext := webrtc.MimeTypeOpus, ".ogg"
		if t.Kind() == "video" {
			mime, ext = webrtc.MimeTypeVP8, ".ivf"
		}
		path := filepath.Join(f.dir, safeName(t.Participant())+"-"+safeName(t.ID())+ext)
		w, err := mediafile.Create(path, mime)
		if err != nil {
			fmt.Fprintf(f.out, "recorder: %v\n", err)
			f.open[key] = &trackFile{path: path} // do not retry every frame
			return
		}
		tf = &trackFile{path: path, w: w}
		f.open[key] = tf
		f.paths = append(f.paths, path)
		fmt.Fprintf(f.out, "recorder: recording %s's %s to %s\n", t.Participant(), t.Kind(), path)
	}
	if tf.w == nil {
		return
	}
	if err := tf.w.WriteFrame(fr.Data, fr.RTPTimestamp); err != nil {
		fmt.Fprintf(f.out, "recorder: %s: %v\n", tf.path, err)
		return
	}
	tf.frames++
}

// allow starts writing (everyone consented) and asks every video track
// for a key frame: a video file starts at one, and a browser sends one
// only when asked (or rarely), so its file would otherwise begin late.
func (f *files) allow() {
	f.mu.Lock()
	f.allowed = true
	var ask []keyFramer
	for t := range f.live {
		if kf, ok := t.(keyFramer); ok && t.Kind() == "video" {
			ask = append(ask, kf)
		}
	}
	f.mu.Unlock()
	for _, kf := range ask {
		if err := kf.RequestKeyFrame(); err != nil {
			fmt.Fprintf(f.out, "recorder: ask for a key frame: %v\n", err)
		}
	}
}

// pause stops writing until the next allow: frames meanwhile are dropped.
func (f *files) pause() {
	f.mu.Lock()
	f.allowed = false
	f.mu.Unlock()
}

// stop closes every file for good; later frames are dropped.
func (f *files) stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed, f.stopped = false, true
	var first error
	for _, tf := range f.open {
		if tf.w == nil {
			continue
		}
		if err := tf.w.Close(); err != nil && first == nil {
			first = err
		}
		tf.w = nil
		fmt.Fprintf(f.out, "recorder: wrote %d frames to %s\n", tf.frames, tf.path)
	}
	return first
}

// written returns the files created so far.
func (f *files) written() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// safeName makes a participant identity or track ID, which other
// participants choose, into a file name part: at most 48 bytes of letters,
// digits, '-' and '_'; when anything was changed, a hash of the original
// keeps names distinct.
func safeName(s string) string {
	var b strings.Builder
	changed := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	out := b.String()
	if len(out) > 48 {
		out, changed = out[:48], true
	}
	if changed || out == "" {
		sum := sha256.Sum256([]byte(s))
		out += "." + hex.EncodeToString(sum[:4])
	}
	return out
}
