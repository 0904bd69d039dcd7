package secrettree

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tresor-dev/tresor/keys/internal/schedule"
	"github.com/tresor-dev/tresor/keys/internal/suite"
	"github.com/tresor-dev/tresor/keys/internal/treemath"
)

func newTree(t testing.TB, n treemath.LeafCount, cfg Config) (*suite.Suite, *Tree) {
	t.Helper()
	s, err := suite.ByID(suite.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := New(s, bytes.Repeat([]byte{0x42}, 32), n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, tree
}

func TestSenderReceiverAgree(t *testing.T) {
	_, sender := newTree(t, 4, Config{})
	_, receiver := newTree(t, 4, Config{})
	for range 5 {
		k, err := sender.EncryptionKey(2, Application)
		if err != nil {
			t.Fatal(err)
		}
		r, err := receiver.DecryptionKey(2, Application, k.Generation)
		if err != nil || !bytes.Equal(r.Key, k.Key) || !bytes.Equal(r.Nonce, k.Nonce) {
			t.Fatalf("generation %d: receiver key differs (%v)", k.Generation, err)
		}
		if err := receiver.Consume(2, Application, k.Generation); err != nil {
			t.Fatal(err)
		}
	}
	// The two ratchets and the leaves are independent.
	h, _ := sender.EncryptionKey(2, Handshake)
	o, _ := sender.EncryptionKey(3, Handshake)
	if h.Generation != 0 || o.Generation != 0 || bytes.Equal(h.Key, o.Key) {
		t.Error("ratchets are not independent")
	}
}

func TestReplayAndWindow(t *testing.T) {
	_, tree := newTree(t, 2, Config{MaxForward: 10, MaxSkipped: 3})
	// Peeking changes nothing: the same key can be peeked again.
	a, err := tree.DecryptionKey(1, Application, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tree.DecryptionKey(1, Application, 5)
	if !bytes.Equal(a.Key, b.Key) {
		t.Fatal("peek is not repeatable")
	}
	if r := tree.leaves[1].application; r.gen != 0 || len(r.skipped) != 0 {
		t.Fatalf("DecryptionKey changed the ratchet: gen %d, %d skipped", r.gen, len(r.skipped))
	}
	if err := tree.Consume(1, Application, 5); err != nil {
		t.Fatal(err)
	}
	// Replays of a used generation fail.
	if _, err := tree.DecryptionKey(1, Application, 5); !errors.Is(err, ErrGeneration) {
		t.Errorf("replayed generation 5: %v", err)
	}
	if err := tree.Consume(1, Application, 5); !errors.Is(err, ErrGeneration) {
		t.Errorf("consumed generation 5 twice: %v", err)
	}
	// Generations 0..4 were skipped; only the 3 newest (2, 3, 4) are kept.
	for gen, ok := range map[uint32]bool{0: false, 1: false, 2: true, 3: true, 4: true} {
		_, err := tree.DecryptionKey(1, Application, gen)
		if (err == nil) != ok {
			t.Errorf("late generation %d: err = %v, want available = %v", gen, err, ok)
		}
	}
	if err := tree.Consume(1, Application, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.DecryptionKey(1, Application, 3); !errors.Is(err, ErrGeneration) {
		t.Error("late generation 3 readable twice")
	}
	// At most MaxForward ahead of the next generation (6).
	if _, err := tree.DecryptionKey(1, Application, 17); !errors.Is(err, ErrGeneration) {
		t.Errorf("generation 17 (11 ahead): %v", err)
	}
	if err := tree.Consume(1, Application, 17); !errors.Is(err, ErrGeneration) {
		t.Errorf("consume generation 17: %v", err)
	}
	if _, err := tree.DecryptionKey(1, Application, 16); err != nil {
		t.Errorf("generation 16 (10 ahead): %v", err)
	}
}

func TestNoSkippedKeys(t *testing.T) {
	_, tree := newTree(t, 1, Config{MaxSkipped: -1})
	if err := tree.Consume(0, Handshake, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.DecryptionKey(0, Handshake, 2); !errors.Is(err, ErrGeneration) {
		t.Errorf("skipped key kept: %v", err)
	}
}

func TestExhausted(t *testing.T) {
	_, tree := newTree(t, 1, Config{})
	r, err := tree.ratchet(0, Handshake)
	if err != nil {
		t.Fatal(err)
	}
	r.gen = math.MaxUint32
	k, err := tree.EncryptionKey(0, Handshake)
	if err != nil || k.Generation != math.MaxUint32 {
		t.Fatalf("last generation: %d, %v", k.Generation, err)
	}
	if _, err := tree.EncryptionKey(0, Handshake); !errors.Is(err, ErrGeneration) {
		t.Errorf("past the last generation: %v", err)
	}
	if _, err := tree.DecryptionKey(0, Handshake, math.MaxUint32); !errors.Is(err, ErrGeneration) {
		t.Errorf("reading the used last generation: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	s, tree := newTree(t, 4, Config{})
	if _, err := tree.EncryptionKey(4, Application); err == nil {
		t.Error("leaf 4 of 4")
	}
	if _, err := tree.DecryptionKey(0, 0, 0); err == nil {
		t.Error("ratchet type 0")
	}
	if _, err := tree.DecryptionKey(0, 3, 0); err == nil {
		t.Error("ratchet type 3")
	}
	for _, n := range []treemath.LeafCount{0, 3} {
		if _, err := New(s, make([]byte, 32), n, Config{}); err == nil {
			t.Errorf("New with %d leaves", n)
		}
	}
	if _, err := New(s, make([]byte, 31), 4, Config{}); err == nil {
		t.Error("New with a 31-byte secret")
	}
	if _, err := New(nil, make([]byte, 32), 4, Config{}); err == nil {
		t.Error("New with no suite")
	}
	if _, _, err := SenderDataKeyNonce(s, make([]byte, 16), nil); err == nil {
		t.Error("SenderDataKeyNonce with a 16-byte secret")
	}
}

func TestSenderDataShortCiphertext(t *testing.T) {
	s, _ := newTree(t, 1, Config{})
	secret := schedule.SenderDataSecret(bytes.Repeat([]byte{1}, 32))
	long := bytes.Repeat([]byte{9}, 40)
	k1, n1, _ := SenderDataKeyNonce(s, secret, long)
	k2, n2, _ := SenderDataKeyNonce(s, secret, long[:32])
	if !bytes.Equal(k1, k2) || !bytes.Equal(n1, n2) {
		t.Error("sample is not the first Nh bytes")
	}
	k3, _, err := SenderDataKeyNonce(s, secret, long[:5])
	if err != nil || bytes.Equal(k3, k1) || len(k3) != s.Nk() {
		t.Errorf("short ciphertext: %x, %v", k3, err)
	}
}

func TestEraseAndRedaction(t *testing.T) {
	_, tree := newTree(t, 2, Config{})
	k, _ := tree.EncryptionKey(0, Application)
	for _, verb := range []string{"%v", "%+v", "%#v", "%x"} {
		for _, v := range []any{k, &k, []Key{k}} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "REDACTED") || strings.Contains(out, fmt.Sprintf("%x", k.Key)) {
				t.Errorf("Sprintf(%s) = %s", verb, out)
			}
		}
	}
	inner := tree.leaves[0].application.secret
	tree.Erase()
	if !bytes.Equal(inner, make([]byte, len(inner))) {
		t.Error("Erase left a ratchet secret")
	}
	if _, err := tree.EncryptionKey(0, Application); err == nil {
		t.Error("EncryptionKey after Erase")
	}
	key := k.Key
	k.Erase()
	if !bytes.Equal(key, make([]byte, len(key))) {
		t.Error("Key.Erase left the key")
	}
}

func BenchmarkEncryptionKey(b *testing.B) {
	_, tree := newTree(b, 64, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tree.EncryptionKey(17, Application); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptionKeyConsume(b *testing.B) {
	_, tree := newTree(b, 64, Config{})
	b.ReportAllocs()
	gen := uint32(0)
	for b.Loop() {
		if _, err := tree.DecryptionKey(17, Application, gen); err != nil {
			b.Fatal(err)
		}
		if err := tree.Consume(17, Application, gen); err != nil {
			b.Fatal(err)
		}
		gen++
	}
}

// BenchmarkNewLeaf measures the first use of a leaf in a 1024-leaf tree:
// deriving its path from the root and its two ratchets.
func BenchmarkNewLeaf(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, tree := newTree(b, 1024, Config{})
		if _, err := tree.EncryptionKey(517, Application); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzRatchetWindow drives one receiving ratchet with arbitrary sequences of
// DecryptionKey and Consume calls and checks, against keys derived by a
// sender, that every key returned is right, that a consumed generation never
// comes back, that a generation within MaxForward of the next one is always
// available, and that nothing changes unless Consume succeeds.
func FuzzRatchetWindow(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 5, 1, 5, 0, 3, 1, 3, 0, 3})
	f.Add([]byte{1, 200, 0, 1, 1, 1, 0, 199, 1, 199, 1, 0})
	f.Add([]byte{1, 9, 1, 19, 1, 29, 0, 28, 1, 28, 0, 9})
	const maxGen = 256
	_, sender := newTree(f, 2, Config{})
	var want [maxGen]Key
	for i := range want {
		k, err := sender.EncryptionKey(1, Application)
		if err != nil {
			f.Fatal(err)
		}
		want[i] = k
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		_, tree := newTree(t, 2, Config{MaxForward: 20, MaxSkipped: 4})
		consumed := map[uint32]bool{}
		next := uint32(0) // the model's next expected generation
		for i := 0; i+1 < len(ops) && i < 200; i += 2 {
			consume, gen := ops[i]&1 == 1, uint32(ops[i+1])
			k, err := tree.DecryptionKey(1, Application, gen)
			if err == nil && (!bytes.Equal(k.Key, want[gen].Key) || !bytes.Equal(k.Nonce, want[gen].Nonce)) {
				t.Fatalf("generation %d: wrong key", gen)
			}
			if err != nil && !errors.Is(err, ErrGeneration) {
				t.Fatalf("generation %d: unexpected error %v", gen, err)
			}
			if err == nil && consumed[gen] {
				t.Fatalf("generation %d readable after Consume", gen)
			}
			inWindow := gen >= next && gen-next <= 20
			if inWindow && err != nil {
				t.Fatalf("generation %d (next %d) unavailable: %v", gen, next, err)
			}
			if !consume {
				continue
			}
			cerr := tree.Consume(1, Application, gen)
			if (cerr == nil) != (err == nil) {
				t.Fatalf("generation %d: DecryptionKey error %v but Consume error %v", gen, err, cerr)
			}
			if cerr == nil {
				consumed[gen] = true
				if gen >= next {
					next = gen + 1
				}
			}
		}
	})
}
