package mediafile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "bot", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadIVF(t *testing.T) {
	c, err := ReadIVF(readTestdata(t, "video.ivf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Frames) != 30 || c.Width != 320 || c.Height != 240 {
		t.Fatalf("%d frames of %dx%d, want 30 of 320x240", len(c.Frames), c.Width, c.Height)
	}
	for i, f := range c.Frames {
		if want := i%15 == 0; f.Key != want {
			t.Errorf("frame %d: key %v, want %v (a key frame every 15)", i, f.Key, want)
		}
		if f.Duration < time.Second/15-time.Microsecond || f.Duration > time.Second/15+time.Microsecond {
			t.Errorf("frame %d lasts %v", i, f.Duration)
		}
		if w, h, ok := vp8KeyFrameSize(f.Data); ok != f.Key || (ok && (w != 320 || h != 240)) {
			t.Errorf("frame %d: key frame size %dx%d %v", i, w, h, ok)
		}
	}
	if d := c.Duration(); d < 1990*time.Millisecond || d > 2010*time.Millisecond {
		t.Fatalf("clip lasts %v", d)
	}
}

func TestReadOgg(t *testing.T) {
	c, err := ReadOgg(readTestdata(t, "audio.ogg"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Frames); n < 99 || n > 102 {
		t.Fatalf("%d packets, want about 100 of 20 ms", n)
	}
	for i, f := range c.Frames[:len(c.Frames)-1] {
		if f.Duration != 20*time.Millisecond {
			t.Errorf("packet %d lasts %v", i, f.Duration)
		}
		if d := opusDuration(f.Data[0]); d != f.Duration {
			t.Errorf("packet %d: TOC says %v, granule %v", i, d, f.Duration)
		}
	}
}

// opusDuration is the duration of an Opus packet by its TOC byte (RFC 6716
// §3.1), for code 0 (one frame) packets; 0 for others.
func opusDuration(toc byte) time.Duration {
	if toc&3 != 0 {
		return 0
	}
	config := toc >> 3
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		return []time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		return []time.Duration{10, 20}[config%2] * time.Millisecond
	}
	return []time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond // CELT
}

// Writing a clip frame by frame and reading it back gives the same frames.
func TestWriteReadBack(t *testing.T) {
	dir := t.TempDir()
	for _, x := range []struct {
		mime, file string
		read       func([]byte) (*Clip, error)
		rate       int
	}{
		{webrtc.MimeTypeVP8, "video.ivf", ReadIVF, 90000},
		{webrtc.MimeTypeOpus, "audio.ogg", ReadOgg, 48000},
	} {
		in, err := x.read(readTestdata(t, x.file))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, x.file)
		w, err := Create(path, x.mime)
		if err != nil {
			t.Fatal(err)
		}
		ts := uint32(123456) // a random start, as in RTP
		if x.mime == webrtc.MimeTypeVP8 {
			// Frames before the first key frame are skipped.
			if err := w.WriteFrame(in.Frames[1].Data, ts-6000); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range in.Frames {
			if err := w.WriteFrame(f.Data, ts); err != nil {
				t.Fatal(err)
			}
			ts += uint32(f.Duration * time.Duration(x.rate) / time.Second)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := x.read(b)
		if err != nil {
			t.Fatalf("%s: %v", x.file, err)
		}
		if len(out.Frames) != len(in.Frames) || out.Width != in.Width || out.Height != in.Height {
			t.Fatalf("%s: %d frames %dx%d back, want %d %dx%d", x.file, len(out.Frames), out.Width, out.Height, len(in.Frames), in.Width, in.Height)
		}
		for i := range in.Frames {
			if !bytes.Equal(in.Frames[i].Data, out.Frames[i].Data) {
				t.Fatalf("%s: frame %d differs", x.file, i)
			}
			if d := in.Frames[i].Duration - out.Frames[i].Duration; d < -100*time.Microsecond || d > 100*time.Microsecond { // RTP clock rounding
				t.Fatalf("%s: frame %d lasts %v, was %v", x.file, i, out.Frames[i].Duration, in.Frames[i].Duration)
			}
		}
	}
	if _, err := Create(filepath.Join(dir, "x"), webrtc.MimeTypeH264); err == nil {
		t.Fatal("created a file for H.264")
	}
}

func TestReadRefuses(t *testing.T) {
	ivf := readTestdata(t, "video.ivf")
	ogg := readTestdata(t, "audio.ogg")
	for name, c := range map[string]struct {
		data []byte
		read func([]byte) (*Clip, error)
	}{
		"empty ivf":     {nil, ReadIVF},
		"ogg as ivf":    {ogg, ReadIVF},
		"header only":   {ivf[:32], ReadIVF},
		"truncated ivf": {ivf[:len(ivf)-10], ReadIVF},
		"vp9 ivf":       {append(append(append([]byte{}, ivf[:8]...), "VP90"...), ivf[12:]...), ReadIVF},
		"empty ogg":     {nil, ReadOgg},
		"ivf as ogg":    {ivf, ReadOgg},
		"headers only":  {ogg[:100], ReadOgg},
		"truncated ogg": {ogg[:len(ogg)-7], ReadOgg},
	} {
		if _, err := c.read(c.data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzReadIVF(f *testing.F) {
	ivf := readTestdata(f, "video.ivf")
	f.Add(ivf[:2000])
	f.Add(ivf[:32])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadIVF(b)
		if err != nil {
			return
		}
		if len(c.Frames) == 0 || !c.Frames[0].Key {
			t.Fatal("accepted a clip that does not start with a key frame")
		}
		for _, fr := range c.Frames {
			if len(fr.Data) == 0 || fr.Duration <= 0 || fr.Duration > time.Second {
				t.Fatalf("bad frame %d bytes, %v", len(fr.Data), fr.Duration)
			}
		}
	})
}

func FuzzReadOgg(f *testing.F) {
	ogg := readTestdata(f, "audio.ogg")
	f.Add(ogg[:1000])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadOgg(b)
		if err != nil {
			return
		}
		for _, fr := range c.Frames {
			if len(fr.Data) == 0 || fr.Duration <= 0 || fr.Duration > 120*time.Millisecond {
				t.Fatalf("bad packet %d bytes, %v", len(fr.Data), fr.Duration)
			}
		}
	})
}
