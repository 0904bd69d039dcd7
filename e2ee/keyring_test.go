package e2ee

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
)

func newKey(t testing.TB, s Suite) []byte {
	t.Helper()
	k := make([]byte, max(s.KeySize(), MinBaseKeySize))
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newPair(t testing.TB, s Suite, kid uint64) (*Sender, *Receiver) {
	t.Helper()
	key := newKey(t, s)
	snd, err := NewSender(Config{Suite: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.SetKey(kid, key); err != nil {
		t.Fatal(err)
	}
	rcv, err := NewReceiver(Config{Suite: s})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.Add(kid, key); err != nil {
		t.Fatal(err)
	}
	return snd, rcv
}

var allSuites = []Suite{AES128CTRHMACSHA256_80, AES128CTRHMACSHA256_64, AES128CTRHMACSHA256_32, AES128GCMSHA256, AES256GCMSHA512}

func TestSealOpenAllSuites(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.String(), func(t *testing.T) {
			snd, rcv := newPair(t, s, 0x1234)
			meta := []byte("clear prefix")
			for i, n := range []int{0, 1, 15, 16, 17, 1200, 30000} {
				pt := make([]byte, n)
				rand.Read(pt)
				ct, err := snd.Seal(nil, pt, meta)
				if err != nil {
					t.Fatal(err)
				}
				if len(ct) != n+headerLen(0x1234, uint64(i))+s.Overhead() {
					t.Fatalf("ciphertext length %d for %d bytes", len(ct), n)
				}
				// Open into a dst with existing content: it is kept.
				got, err := rcv.Open([]byte("x"), ct, meta)
				if err != nil || !bytes.Equal(got, append([]byte("x"), pt...)) {
					t.Fatalf("Open(%d bytes) = %v", n, err)
				}
			}
			// Every frame is sealed under a fresh CTR.
			a, _ := snd.Seal(nil, []byte("same"), nil)
			b, _ := snd.Seal(nil, []byte("same"), nil)
			if bytes.Equal(a, b) {
				t.Fatal("two seals of the same frame are identical")
			}
		})
	}
}

func TestReceiverRejects(t *testing.T) {
	snd, rcv := newPair(t, AES128GCMSHA256, 9)
	meta := []byte{1, 2, 3}
	f1, _ := snd.Seal(nil, []byte("frame one"), meta)
	f2, _ := snd.Seal(nil, []byte("frame two"), meta)

	check := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	_, err := rcv.Open(nil, f1, []byte{1, 2, 4})
	check("wrong metadata", err, ErrAuthentication)
	bad := bytes.Clone(f1)
	bad[len(bad)-1] ^= 1
	_, err = rcv.Open(nil, bad, meta)
	check("flipped tag bit", err, ErrAuthentication)
	_, err = rcv.Open(nil, f1[:3], meta)
	check("truncated", err, ErrMalformed)
	_, err = rcv.Open(nil, nil, meta)
	check("empty", err, ErrMalformed)
	_, err = rcv.Open(nil, append(appendHeader(nil, 77, 0), make([]byte, 16)...), nil)
	check("unknown KID", err, ErrUnknownKey)

	// The failed attempts did not consume f2's or f1's CTR.
	if _, err := rcv.Open(nil, f2, meta); err != nil {
		t.Fatalf("f2: %v", err)
	}
	if _, err := rcv.Open(nil, f1, meta); err != nil {
		t.Fatalf("f1 after f2 (reordered): %v", err)
	}
	_, err = rcv.Open(nil, f1, meta)
	check("replayed f1", err, ErrReplay)

	want := ReceiverStats{Opened: 2, UnknownKey: 1, AuthFailed: 2, Replayed: 1, Malformed: 2}
	if got := rcv.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

// A forged frame with a huge CTR must not move the replay window: the window
// is updated only after authentication.
func TestForgedFrameDoesNotMoveWindow(t *testing.T) {
	snd, rcv := newPair(t, AES128GCMSHA256, 3)
	genuine, _ := snd.Seal(nil, []byte("hello"), nil)
	forged := append(appendHeader(nil, 3, math.MaxUint64), make([]byte, 32)...)
	if _, err := rcv.Open(nil, forged, nil); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := rcv.Open(nil, genuine, nil); err != nil {
		t.Fatalf("genuine frame after forgery: %v", err)
	}
}

func TestWrongKeyNeverDecrypts(t *testing.T) {
	for _, s := range allSuites {
		snd, _ := newPair(t, s, 5)
		_, other := newPair(t, s, 5)
		for i := 0; i < 50; i++ {
			ct, _ := snd.Seal(nil, []byte("secret media"), nil)
			if pt, err := other.Open(nil, ct, nil); !errors.Is(err, ErrAuthentication) || pt != nil {
				t.Fatalf("%v: wrong key: %q, %v", s, pt, err)
			}
		}
	}
}

func TestSenderCounter(t *testing.T) {
	s, err := NewSender(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(nil, []byte("x"), nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("seal without key: %v", err)
	}
	k1, k2 := newKey(t, AES128GCMSHA256), newKey(t, AES128GCMSHA256)
	ctrOf := func(f []byte) uint64 {
		_, ctr, _, err := parseHeader(f)
		if err != nil {
			t.Fatal(err)
		}
		return ctr
	}
	s.SetKey(1, k1)
	for want := uint64(0); want < 3; want++ {
		f, _ := s.Seal(nil, nil, nil)
		if ctrOf(f) != want {
			t.Fatalf("CTR %d, want %d", ctrOf(f), want)
		}
	}
	s.SetKey(2, k2)
	if f, _ := s.Seal(nil, nil, nil); ctrOf(f) != 0 {
		t.Fatal("new KID does not start at 0")
	}
	// Back to KID 1, even with the same base key: CTR continues, no reuse.
	s.SetKey(1, k1)
	if f, _ := s.Seal(nil, nil, nil); ctrOf(f) != 3 {
		t.Fatalf("KID 1 resumed at CTR %d, want 3", ctrOf(f))
	}

	// Exhaustion: 2^64-2 and 2^64-1 are usable, then ErrCounterExhausted.
	s.mu.Lock()
	s.next = math.MaxUint64 - 1
	s.mu.Unlock()
	for _, want := range []uint64{math.MaxUint64 - 1, math.MaxUint64} {
		f, err := s.Seal(nil, nil, nil)
		if err != nil || ctrOf(f) != want {
			t.Fatalf("CTR %d: %v", want, err)
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Seal(nil, nil, nil); !errors.Is(err, ErrCounterExhausted) {
			t.Fatalf("after 2^64-1: %v", err)
		}
	}
	// Exhaustion survives switching away and back.
	s.SetKey(2, k2)
	s.SetKey(1, k1)
	if _, err := s.Seal(nil, nil, nil); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("after re-setting KID 1: %v", err)
	}
	s.Erase()
	if _, err := s.Seal(nil, nil, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after Erase: %v", err)
	}
	if st := s.Stats(); st.Sealed != 7 || st.Exhausted != 3 || st.NoKey != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConcurrentUse(t *testing.T) {
	snd, rcv := newPair(t, AES128CTRHMACSHA256_80, 42)
	const workers, each = 4, 200
	frames := make(chan []byte, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				f, err := snd.Seal(nil, []byte("concurrent"), []byte("m"))
				if err != nil {
					t.Error(err)
					return
				}
				frames <- f
			}
		})
	}
	wg.Wait()
	close(frames)
	all := make([][]byte, 0, workers*each)
	for f := range frames {
		all = append(all, f)
	}
	// Open every frame twice from several goroutines: each is accepted
	// exactly once.
	var accepted, replayed sync.Map
	for w := range workers {
		wg.Go(func() {
			for i := range all {
				f := all[(i+w*37)%len(all)]
				_, err := rcv.Open(nil, f, []byte("m"))
				switch {
				case err == nil:
					if _, dup := accepted.LoadOrStore(string(f), true); dup {
						t.Error("frame accepted twice")
					}
				case errors.Is(err, ErrReplay):
					replayed.Store(string(f), true)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if st := rcv.Stats(); st.Opened != workers*each || st.Replayed != (workers-1)*workers*each {
		t.Errorf("stats = %+v", st)
	}
}

func TestKeyRing(t *testing.T) {
	r, err := NewReceiver(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(1, make([]byte, MinBaseKeySize-1)); err == nil {
		t.Fatal("short base key accepted")
	}
	s, _ := NewSender(Config{})
	k := newKey(t, AES128GCMSHA256)
	s.SetKey(1, k)
	r.Add(1, k)
	r.Add(2, newKey(t, AES128GCMSHA256))
	if r.Len() != 2 {
		t.Fatalf("Len = %d", r.Len())
	}
	f, _ := s.Seal(nil, []byte("a"), nil)
	held := r.keys[1].keyState
	if !r.Remove(1) || r.Remove(1) {
		t.Fatal("Remove did not report presence")
	}
	// Erase zeroes the derived key and salt.
	if !bytes.Equal(held.mat.key, make([]byte, len(held.mat.key))) || !bytes.Equal(held.mat.salt, make([]byte, len(held.mat.salt))) {
		t.Fatal("removed key material not zeroed")
	}
	if _, err := r.Open(nil, f, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after Remove: %v", err)
	}
	// Replacing a key erases the old one.
	old := r.keys[2].keyState
	r.Add(2, newKey(t, AES128GCMSHA256))
	if !bytes.Equal(old.mat.key, make([]byte, len(old.mat.key))) {
		t.Fatal("replaced key material not zeroed")
	}
}

// Rejections are logged, but no key, salt or frame content ever is.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key := newKey(t, AES128GCMSHA256)
	r, _ := NewReceiver(Config{Logger: log})
	r.Add(7, key)
	s, _ := NewSender(Config{})
	s.SetKey(7, key)
	f, _ := s.Seal(nil, []byte("PLAINTEXT-MARKER"), nil)
	r.Open(nil, f, nil)
	r.Open(nil, f, nil)                       // replay
	r.Open(nil, f, []byte("x"))               // auth failure
	r.Open(nil, []byte{0x80}, nil)            // malformed
	r.Open(nil, appendHeader(nil, 8, 0), nil) // too short
	out := buf.String()
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 4 {
		t.Errorf("%d log records, want 4:\n%s", n, out)
	}
	k := r.keys[7].keyState
	for _, secret := range [][]byte{key, k.mat.key, k.mat.salt} {
		for _, enc := range []string{hex.EncodeToString(secret), string(secret)} {
			if bytes.Contains(buf.Bytes(), []byte(enc)) {
				t.Fatal("log contains key material")
			}
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("PLAINTEXT-MARKER")) {
		t.Fatal("log contains plaintext")
	}
}

// One Receiver holds the keys of several senders; interleaved frames each
// open under their own KID, and a frame re-labelled with another sender's
// KID does not authenticate.
func TestMultipleSenders(t *testing.T) {
	r, _ := NewReceiver(Config{})
	var senders []*Sender
	for kid := uint64(0); kid < 4; kid++ {
		k := newKey(t, AES128GCMSHA256)
		s, _ := NewSender(Config{})
		s.SetKey(kid<<8|1, k)
		r.Add(kid<<8|1, k)
		senders = append(senders, s)
	}
	for i := 0; i < 40; i++ {
		s := senders[(i*7)%len(senders)]
		msg := []byte{byte(i)}
		f, _ := s.Seal(nil, msg, nil)
		if i%5 == 4 {
			// Relabel with another sender's KID (and a CTR that KID has
			// not used, to get past its replay window): ErrAuthentication.
			kid, ctr, n, _ := parseHeader(f)
			forged := append(appendHeader(nil, (kid+0x100)%0x400, ctr+1000), f[n:]...)
			if _, err := r.Open(nil, forged, nil); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("frame under another KID: %v", err)
			}
		}
		if pt, err := r.Open(nil, f, nil); err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
}

func TestReplayWindowConfig(t *testing.T) {
	for _, w := range []int{-1, maxReplayWindow + 1} {
		if _, err := NewReceiver(Config{ReplayWindow: w}); err == nil {
			t.Errorf("replay window %d accepted", w)
		}
	}
	// 100 rounds up to 128: a frame 127 behind the newest is accepted once,
	// one 128 behind is too old.
	key := newKey(t, AES128GCMSHA256)
	r, err := NewReceiver(Config{ReplayWindow: 100})
	if err != nil {
		t.Fatal(err)
	}
	r.Add(1, key)
	s, _ := NewSender(Config{})
	s.SetKey(1, key)
	var frames [][]byte
	for range 129 {
		f, _ := s.Seal(nil, nil, nil)
		frames = append(frames, f)
	}
	if _, err := r.Open(nil, frames[128], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(nil, frames[1], nil); err != nil {
		t.Fatalf("127 behind: %v", err)
	}
	if _, err := r.Open(nil, frames[0], nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("128 behind: %v", err)
	}
}

// TestReAddKeepsReplayWindow: adding a KID again with the key it has must not
// reset its replay window (a client that installs the same epoch's keys
// twice would otherwise accept frames it already accepted), while a new key
// for the KID starts afresh.
func TestReAddKeepsReplayWindow(t *testing.T) {
	snd, rcv := newPair(t, AES128GCMSHA256, 7)
	key := newKey(t, AES128GCMSHA256)
	if err := snd.SetKey(7, key); err != nil {
		t.Fatal(err)
	}
	if err := rcv.Add(7, key); err != nil {
		t.Fatal(err)
	}
	f, err := snd.Seal(nil, []byte("frame"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcv.Open(nil, f, nil); err != nil {
		t.Fatal(err)
	}
	if err := rcv.Add(7, bytes.Clone(key)); err != nil {
		t.Fatal(err)
	}
	if _, err := rcv.Open(nil, f, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay after re-adding the same key: %v, want ErrReplay", err)
	}
	// A different key replaces the old one: the old frame no longer opens.
	if err := rcv.Add(7, newKey(t, AES128GCMSHA256)); err != nil {
		t.Fatal(err)
	}
	if _, err := rcv.Open(nil, f, nil); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("old frame under a new key: %v, want ErrAuthentication", err)
	}
}
