//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"

	"github.com/tresor-dev/tresor/e2ee"
)

// maxKID is the largest KID JavaScript can name exactly (a safe integer).
const maxKID = 1<<53 - 1

func codecArg(args []js.Value, i int) (e2ee.Codec, error) {
	s, err := argString(args, i)
	if err != nil {
		return 0, err
	}
	switch s {
	case "vp8":
		return e2ee.CodecVP8, nil
	case "opus":
		return e2ee.CodecOpus, nil
	}
	return 0, fmt.Errorf("%w: unknown codec %q (want \"vp8\" or \"opus\")", errArgs, s)
}

// frameBuffers are a handle's scratch space for the per-frame calls: a
// wasm module runs one call at a time, so one pair per handle is enough and
// a frame costs two copies across the JavaScript boundary and no allocation
// in Go once the buffers have grown.
type frameBuffers struct{ in, out []byte }

func (b *frameBuffers) read(v js.Value) ([]byte, bool) {
	if v.Type() != js.TypeObject || !v.InstanceOf(jsUint8Array) {
		return nil, false
	}
	n := v.Get("length").Int()
	if n > maxBytes {
		return nil, false
	}
	if cap(b.in) < n {
		b.in = make([]byte, n)
	}
	b.in = b.in[:n]
	js.CopyBytesToGo(b.in, v)
	return b.in, true
}

// exportSFrame sets the SFrame constructors on api. They live as long as
// the module, so their js.Funcs are never released.
func exportSFrame(api js.Value) {
	api.Set("sframeSender", fn(func([]js.Value) (any, error) { return newSenderHandle() }))
	api.Set("sframeReceiver", fn(func([]js.Value) (any, error) { return newReceiverHandle() }))
}

// newSenderHandle wraps an e2ee.Sender (RFC 9605 §4.4.3) for one outgoing
// track.
func newSenderHandle() (any, error) {
	s, err := e2ee.NewSender(e2ee.Config{})
	if err != nil {
		return nil, err
	}
	h := newHandle()
	var buf frameBuffers
	h.method("setKey", func(args []js.Value) (any, error) {
		kid, err := argUint(args, 0, maxKID)
		if err != nil {
			return nil, err
		}
		key, err := argBytes(args, 1)
		if err != nil {
			return nil, err
		}
		defer wipe(key)
		return nil, s.SetKey(kid, key)
	})
	// encrypt(codec, frame) returns clear prefix ‖ header ‖ ciphertext ‖ tag,
	// or null when the frame cannot be sealed (no key yet, or a VP8 frame
	// shorter than its clear prefix): the caller drops it rather than send
	// it in the clear.
	h.method("encrypt", func(args []js.Value) (any, error) {
		c, err := codecArg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) < 2 {
			return nil, errArgs
		}
		frame, ok := buf.read(args[1])
		if !ok {
			return nil, fmt.Errorf("%w: frame must be a Uint8Array", errArgs)
		}
		out, err := s.EncryptFrame(buf.out[:0], c, frame)
		if err != nil {
			return js.Null(), nil
		}
		buf.out = out
		return bytesValue(out), nil
	})
	h.method("erase", func([]js.Value) (any, error) { s.Erase(); return nil, nil })
	h.method("stats", func([]js.Value) (any, error) { return senderStats(s.Stats()), nil })
	h.method("close", func([]js.Value) (any, error) { s.Erase(); h.release(); return nil, nil })
	return h.obj, nil
}

// newReceiverHandle wraps an e2ee.Receiver (RFC 9605 §4.4.4, §9.3): the key
// ring of every member's key, shared by all incoming tracks.
func newReceiverHandle() (any, error) {
	r, err := e2ee.NewReceiver(e2ee.Config{})
	if err != nil {
		return nil, err
	}
	h := newHandle()
	var buf frameBuffers
	h.method("add", func(args []js.Value) (any, error) {
		kid, err := argUint(args, 0, maxKID)
		if err != nil {
			return nil, err
		}
		key, err := argBytes(args, 1)
		if err != nil {
			return nil, err
		}
		defer wipe(key)
		return nil, r.Add(kid, key)
	})
	h.method("remove", func(args []js.Value) (any, error) {
		kid, err := argUint(args, 0, maxKID)
		if err != nil {
			return nil, err
		}
		return r.Remove(kid), nil
	})
	// decrypt(codec, frame) returns the frame as the encoder made it, or null
	// when it fails (unknown key, authentication, replay, malformed): the
	// caller drops it, so a forged frame never reaches the decoder.
	h.method("decrypt", func(args []js.Value) (any, error) {
		c, err := codecArg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) < 2 {
			return nil, errArgs
		}
		frame, ok := buf.read(args[1])
		if !ok {
			return nil, fmt.Errorf("%w: frame must be a Uint8Array", errArgs)
		}
		out, err := r.DecryptFrame(buf.out[:0], c, frame)
		if err != nil {
			return js.Null(), nil
		}
		buf.out = out
		return bytesValue(out), nil
	})
	h.method("size", func([]js.Value) (any, error) { return r.Len(), nil })
	h.method("stats", func([]js.Value) (any, error) { return receiverStats(r.Stats()), nil })
	h.method("close", func([]js.Value) (any, error) { h.release(); return nil, nil })
	return h.obj, nil
}

func senderStats(st e2ee.SenderStats) js.Value {
	o := newObject()
	o.Set("sealed", float64(st.Sealed))
	o.Set("noKey", float64(st.NoKey))
	o.Set("exhausted", float64(st.Exhausted))
	o.Set("malformed", float64(st.Malformed))
	return o
}

func receiverStats(st e2ee.ReceiverStats) js.Value {
	o := newObject()
	o.Set("opened", float64(st.Opened))
	o.Set("unknownKey", float64(st.UnknownKey))
	o.Set("authFailed", float64(st.AuthFailed))
	o.Set("replayed", float64(st.Replayed))
	o.Set("malformed", float64(st.Malformed))
	return o
}
