package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/tresor-dev/tresor/e2ee"
)

// TestSFrameInteropRFC9605 checks that Tresor's media keys are exactly those
// of RFC 9605 §5.2, so that another implementation keyed from the same MLS
// group reads Tresor's frames. It seals a frame with the e2ee package under
// the keys SFrameKeys gives, and opens it with a from-scratch reading of the
// RFC that shares no code with e2ee or keys' SFrame export: base_key is the
// MLS exporter output itself, the KID is (leaf << 8) | (epoch mod 256), and
// key and salt come from §4.4.2 with that KID.
func TestSFrameInteropRFC9605(t *testing.T) {
	ms := newTestGroup(t, "alice", "bob", "carol")
	// One more epoch, so that the epoch bits of the KID are not zero.
	c, err := ms[2].g.CreateCommit(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[2].g.MergePendingCommit(); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, ms[0].g, c.Message)
	carol := ms[2].g
	exported, err := carol.st.Export("SFrame 1.0 Base Key", nil, 16) // AEAD.Nk of AES_128_GCM_SHA256_128
	if err != nil {
		t.Fatal(err)
	}

	ek, err := carol.SFrameKeys()
	if err != nil {
		t.Fatal(err)
	}
	if ek.Own.KID != uint64(2)<<8|2 {
		t.Fatalf("carol's KID in epoch 2 is %#x, want %#x", ek.Own.KID, uint64(2)<<8|2)
	}
	for _, m := range ek.Members {
		if !bytes.Equal(m.BaseKey, exported) {
			t.Fatalf("leaf %d: base key is not MLS-Exporter(\"SFrame 1.0 Base Key\", \"\", 16)", m.Leaf)
		}
	}

	s, err := e2ee.NewSender(e2ee.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetKey(ek.Own.KID, ek.Own.BaseKey); err != nil {
		t.Fatal(err)
	}
	plain := []byte("an Opus packet, say")
	frame, err := s.EncryptFrame(nil, e2ee.CodecOpus, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openRFC9605(exported, frame)
	if err != nil {
		t.Fatalf("an independent RFC 9605 receiver cannot open Tresor's frame: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("opened %q, want %q", got, plain)
	}
}

// openRFC9605 opens an SFrame ciphertext (no clear prefix: Opus) of suite
// AES_128_GCM_SHA256_128 (0x0004), written from RFC 9605 §4.3 and §4.4.
func openRFC9605(baseKey, frame []byte) ([]byte, error) {
	// §4.3: config byte |X|  K  |Y|  C  |.
	cfg := frame[0]
	readField := func(off int, extended bool, short byte) (uint64, int) {
		if !extended {
			return uint64(short), off
		}
		n := int(short) + 1
		var v uint64
		for _, b := range frame[off : off+n] {
			v = v<<8 | uint64(b)
		}
		return v, off + n
	}
	kid, off := readField(1, cfg&0x80 != 0, cfg>>4&0x07)
	ctr, off := readField(off, cfg&0x08 != 0, cfg&0x07)
	header, ct := frame[:off], frame[off:]

	// §4.4.2.
	const suite = 0x0004
	label := func(what string) string {
		var b []byte
		b = append(b, "SFrame 1.0 Secret "+what+" "...)
		b = binary.BigEndian.AppendUint64(b, kid)
		b = binary.BigEndian.AppendUint16(b, suite)
		return string(b)
	}
	secret, err := hkdf.Extract(sha256.New, baseKey, nil)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Expand(sha256.New, secret, label("key"), 16)
	if err != nil {
		return nil, err
	}
	salt, err := hkdf.Expand(sha256.New, secret, label("salt"), 12)
	if err != nil {
		return nil, err
	}
	// §4.4.3: nonce = salt XOR uint96(CTR); AAD = header ‖ metadata (none).
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint64(nonce[4:], ctr)
	for i := range nonce {
		nonce[i] ^= salt[i]
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, nonce, ct, header)
}
