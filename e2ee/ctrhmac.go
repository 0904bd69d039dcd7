package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
)

// ctrHMAC is the AES-CTR + HMAC-SHA256 AEAD of RFC 9605 §4.5.1, built only
// from standard library primitives (crypto/aes CTR mode, crypto/hmac):
//
//	enc_key  = sframe_key[:Nka]            auth_key = sframe_key[Nka:]
//	ct       = AES-CTR(enc_key, nonce ‖ 0x00000000, pt)
//	tag      = truncate(HMAC(auth_key, len64(aad) ‖ len64(ct) ‖ len64(Nt)
//	                              ‖ nonce ‖ aad ‖ ct), Nt)
//
// It implements [cipher.AEAD]. Unlike the GCM AEAD it keeps a reusable HMAC
// state and scratch buffers, so that a frame costs no hash allocation; in
// exchange a ctrHMAC is NOT safe for concurrent use. Every use in this
// package happens under the owning Sender's or Receiver's mutex.
type ctrHMAC struct {
	block cipher.Block
	mac   hash.Hash
	nt    int
	iv    [aes.BlockSize]byte
	lens  [24]byte
	sum   [32]byte
}

func newCTRHMAC(key []byte, nka, nt int) (*ctrHMAC, error) {
	block, err := aes.NewCipher(key[:nka])
	if err != nil {
		return nil, err
	}
	return &ctrHMAC{
		block: block,
		mac:   hmac.New(sha256.New, key[nka:]),
		nt:    nt,
	}, nil
}

func (c *ctrHMAC) NonceSize() int { return 12 }
func (c *ctrHMAC) Overhead() int  { return c.nt }

// tag computes compute_tag of RFC 9605 §4.5.1 into c.sum[:c.nt].
func (c *ctrHMAC) tag(nonce, aad, ct []byte) []byte {
	binary.BigEndian.PutUint64(c.lens[0:], uint64(len(aad)))
	binary.BigEndian.PutUint64(c.lens[8:], uint64(len(ct)))
	binary.BigEndian.PutUint64(c.lens[16:], uint64(c.nt))
	c.mac.Reset()
	c.mac.Write(c.lens[:])
	c.mac.Write(nonce)
	c.mac.Write(aad)
	c.mac.Write(ct)
	return c.mac.Sum(c.sum[:0])[:c.nt]
}

// xorKeyStream runs AES-CTR with the initial counter nonce ‖ 0x00000000.
func (c *ctrHMAC) xorKeyStream(dst, src, nonce []byte) {
	copy(c.iv[:], nonce)
	clear(c.iv[len(nonce):])
	cipher.NewCTR(c.block, c.iv[:]).XORKeyStream(dst, src)
}

func (c *ctrHMAC) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != c.NonceSize() {
		panic("e2ee: bad nonce length")
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.nt)
	ct := out[:len(plaintext)]
	c.xorKeyStream(ct, plaintext, nonce)
	copy(out[len(plaintext):], c.tag(nonce, aad, ct))
	return ret
}

var errOpen = errors.New("e2ee: message authentication failed")

func (c *ctrHMAC) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != c.NonceSize() {
		panic("e2ee: bad nonce length")
	}
	if len(ciphertext) < c.nt {
		return nil, errOpen
	}
	ct, tag := ciphertext[:len(ciphertext)-c.nt], ciphertext[len(ciphertext)-c.nt:]
	// Verify before decrypting: nothing is released for a forged frame.
	if subtle.ConstantTimeCompare(c.tag(nonce, aad, ct), tag) != 1 {
		return nil, errOpen
	}
	ret, out := sliceForAppend(dst, len(ct))
	c.xorKeyStream(out, ct, nonce)
	return ret, nil
}

// sliceForAppend takes a slice and a requested number of bytes. It returns a
// slice with the contents of the given slice followed by that many bytes and
// a second slice that aliases into it and contains only the extra bytes
// (the same helper as crypto/cipher's).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
