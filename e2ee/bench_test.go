package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"
)

var (
	benchSuites = []Suite{AES128GCMSHA256, AES128CTRHMACSHA256_80}
	benchSizes  = []int{100, 1200, 30000}
)

// BenchmarkSFrameSeal measures Sender.Seal of one frame into a caller
// buffer with room: header, nonce, AEAD. Compare with BenchmarkRawAEAD.
func BenchmarkSFrameSeal(b *testing.B) {
	for _, s := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s, size), func(b *testing.B) {
				snd, _ := newPair(b, s, 0x0102)
				pt := make([]byte, size)
				rand.Read(pt)
				dst := make([]byte, 0, size+maxHeaderLen+16)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var err error
				for b.Loop() {
					dst, err = snd.Seal(dst[:0], pt, nil)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSFrameOpen measures Receiver.Open of one frame into a caller
// buffer with room: header parse, key lookup, replay check, AEAD, window
// update. Frames come from a pre-sealed pool of 16 (so every Open passes the
// replay check honestly); when the pool wraps, the replay window is reset,
// which costs well under 1 ns per frame amortized.
func BenchmarkSFrameOpen(b *testing.B) {
	for _, s := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", s, size), func(b *testing.B) {
				const kid = 0x0102
				snd, rcv := newPair(b, s, kid)
				// A small pool keeps the ciphertexts in cache, as the raw
				// baseline's single ciphertext is.
				pool := make([][]byte, 16)
				pt := make([]byte, size)
				rand.Read(pt)
				for i := range pool {
					pool[i], _ = snd.Seal(nil, pt, nil)
				}
				win := &rcv.keys[kid].window
				dst := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var err error
				i := 0
				for b.Loop() {
					if i == len(pool) {
						i = 0
						win.seen = false
						clear(win.bits)
					}
					dst, err = rcv.Open(dst[:0], pool[i], nil)
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkRawAEAD is the baseline: a plain AES-128-GCM cipher.AEAD.Seal of
// the same size into a buffer with room, with no AAD.
func BenchmarkRawAEAD(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			a := rawGCM(b)
			nonce := make([]byte, a.NonceSize())
			pt := make([]byte, size)
			rand.Read(pt)
			dst := make([]byte, 0, size+a.Overhead())
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = a.Seal(dst[:0], nonce, pt, nil)
			}
		})
	}
}

// BenchmarkRawAEADOpen is the baseline for Open: a plain AES-128-GCM
// cipher.AEAD.Open of the same size.
func BenchmarkRawAEADOpen(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			a := rawGCM(b)
			nonce := make([]byte, a.NonceSize())
			pt := make([]byte, size)
			rand.Read(pt)
			ct := a.Seal(nil, nonce, pt, nil)
			dst := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var err error
			for b.Loop() {
				dst, err = a.Open(dst[:0], nonce, ct, nil)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rawGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 16)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkEncryptFrameVP8 measures the frame-level path with the 10-byte
// clear prefix authenticated as metadata.
func BenchmarkEncryptFrameVP8(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			snd, _ := newPair(b, AES128GCMSHA256, 0x0102)
			frame := vp8Frame(true, size)
			dst := make([]byte, 0, size+maxHeaderLen+16)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var err error
			for b.Loop() {
				dst, err = snd.EncryptFrame(dst[:0], CodecVP8, frame)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSFrameVsRaw measures the SFrame overhead on a shared, noisy
// machine: it alternates blocks of 32 raw AES-128-GCM operations and 32
// SFrame operations (AES_128_GCM_SHA256_128) of the same size, so both see
// the same load, and reports the median over blocks of their time ratio as
// the "x-raw" metric (a median, so that a block hit by preemption does not
// count). ns/op is the time of one SFrame plus one raw operation.
func BenchmarkSFrameVsRaw(b *testing.B) {
	for _, op := range []string{"Seal", "Open"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", op, size), func(b *testing.B) {
				const kid, block = 0x0102, 32
				snd, rcv := newPair(b, AES128GCMSHA256, kid)
				raw := rawGCM(b)
				nonce := make([]byte, 12)
				pt := make([]byte, size)
				rand.Read(pt)
				rawCT := raw.Seal(nil, nonce, pt, nil)
				pool := make([][]byte, block)
				for i := range pool {
					pool[i], _ = snd.Seal(nil, pt, nil)
				}
				win := &rcv.keys[kid].window
				dst := make([]byte, 0, size+maxHeaderLen+16)
				ratios := make([]float64, 0, 1<<16)
				b.ReportAllocs()
				var err error
				for b.Loop() {
					t0 := time.Now()
					for range block {
						if op == "Seal" {
							dst = raw.Seal(dst[:0], nonce, pt, nil)
						} else if dst, err = raw.Open(dst[:0], nonce, rawCT, nil); err != nil {
							b.Fatal(err)
						}
					}
					t1 := time.Now()
					if op == "Open" {
						win.seen = false
						clear(win.bits)
					}
					for i := range block {
						if op == "Seal" {
							dst, err = snd.Seal(dst[:0], pt, nil)
						} else {
							dst, err = rcv.Open(dst[:0], pool[i], nil)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if len(ratios) < cap(ratios) {
						ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*block), "ns/op")
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "x-raw")
			})
		}
	}
}
