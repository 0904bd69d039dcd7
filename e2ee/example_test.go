package e2ee_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tresor-dev/tresor/e2ee"
)

// A sender and a receiver share a base key for KID 0x0105 (with MLS, the
// keys package exports it per epoch, and each sender's KID, RFC 9605 §5.2). The sender
// encrypts a VP8 key frame; the receiver gets it back byte for byte, and a
// second copy of it is rejected as a replay.
func Example() {
	baseKey := bytes.Repeat([]byte{0x42}, e2ee.AES128GCMSHA256.KeySize()) // from MLS, never a constant

	snd, _ := e2ee.NewSender(e2ee.Config{})
	if err := snd.SetKey(0x0105, baseKey); err != nil {
		panic(err)
	}
	rcv, _ := e2ee.NewReceiver(e2ee.Config{})
	if err := rcv.Add(0x0105, baseKey); err != nil {
		panic(err)
	}

	// A VP8 key frame: frame tag with P bit 0, start code, 640x480, data.
	frame := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 'p', 'i', 'x', 'e', 'l', 's'}
	enc, err := snd.EncryptFrame(nil, e2ee.CodecVP8, frame)
	if err != nil {
		panic(err)
	}
	fmt.Printf("clear prefix kept: %v\n", bytes.Equal(enc[:10], frame[:10]))
	fmt.Printf("encrypted size: %d = %d + 3 (header) + 16 (tag)\n", len(enc), len(frame))

	dec, err := rcv.DecryptFrame(nil, e2ee.CodecVP8, enc)
	fmt.Printf("decrypted: %q, %v\n", dec[10:], err)

	_, err = rcv.DecryptFrame(nil, e2ee.CodecVP8, enc)
	fmt.Println("again:", errors.Is(err, e2ee.ErrReplay))

	rcv.Remove(0x0105) // e.g. after the epoch's grace period
	enc, _ = snd.EncryptFrame(nil, e2ee.CodecVP8, frame)
	_, err = rcv.DecryptFrame(nil, e2ee.CodecVP8, enc)
	fmt.Println("after Remove:", errors.Is(err, e2ee.ErrUnknownKey))
	fmt.Printf("%+v\n", rcv.Stats())
	// Output:
	// clear prefix kept: true
	// encrypted size: 35 = 16 + 3 (header) + 16 (tag)
	// decrypted: "pixels", <nil>
	// again: true
	// after Remove: true
	// {Opened:1 UnknownKey:1 AuthFailed:0 Replayed:1 Malformed:0}
}
