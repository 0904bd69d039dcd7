//go:build js && wasm

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"syscall/js"
	"time"

	"github.com/tresor-dev/tresor/e2ee"
	"github.com/tresor-dev/tresor/internal/core"
	"github.com/tresor-dev/tresor/internal/keyring"
	"github.com/tresor-dev/tresor/keys"
)

// exportDriver exposes internal/core's meeting driver, with its key ring, so
// that the browser runs the same meeting logic as the Go client:
//
//	tresor.newDriver({self, authority?: {keys: [Uint8Array], room}, graceMs?, rekeyMs?,
//	                  testingOnlyCorruptReceiveKeys?}) -> Driver handle
//
// A Driver handle has publicKey(), setAssertion(bytes), and the driver's
// inputs, each taking the time in Unix milliseconds and returning the JSON
// array of its outputs (core.MarshalOutputs; keys are applied here and never
// encoded): start(now), receive(now, json), commitResult(now, ok, reason),
// groupInfoResult(now, epoch, groupInfo | null, reason), tick(now),
// sendChat(now, text), rekey(now), consent(now, id, granted);
// deadline() (ms, 0 for none); encrypt(codec, frame) and
// decrypt(codec, frame, participant), which seal and open media with the
// ring (null when a frame is refused); stats(); close().
func exportDriver(api js.Value) {
	api.Set("newDriver", fn(func(args []js.Value) (any, error) {
		if len(args) < 1 || args[0].Type() != js.TypeObject {
			return nil, fmt.Errorf("%w: newDriver takes a configuration object", errArgs)
		}
		return newDriverHandle(args[0])
	}))
	names := jsArray.New()
	for i, n := range core.Names {
		names.SetIndex(i, n)
	}
	api.Set("outputs", names)
}

type driverHandle struct {
	h       *handle
	d       *core.Driver
	id      *keys.Identity
	ring    *keyring.Ring
	corrupt bool
	enc     frameBuffers
	dec     frameBuffers
}

func newDriverHandle(c js.Value) (any, error) {
	self := c.Get("self")
	if self.Type() != js.TypeString || self.String() == "" {
		return nil, fmt.Errorf("%w: self must be the participant's identity", errArgs)
	}
	cfg := core.Config{Self: self.String(), Rand: testingRand(c)}
	if v := c.Get("graceMs"); v.Type() == js.TypeNumber && v.Float() > 0 {
		cfg.Grace = time.Duration(v.Float()) * time.Millisecond
	}
	if v := c.Get("rekeyMs"); v.Type() == js.TypeNumber {
		cfg.Rekey = time.Duration(v.Float()) * time.Millisecond
		if cfg.Rekey <= 0 {
			cfg.Rekey = -1
		}
	}
	if a := c.Get("authority"); a.Type() == js.TypeObject {
		auth, err := authorityArg(a)
		if err != nil {
			return nil, err
		}
		cfg.Authority = auth
	}
	id, err := keys.NewIdentity(cfg.Rand, cfg.Self)
	if err != nil {
		return nil, err
	}
	cfg.Identity = id
	d, err := core.New(cfg)
	if err != nil {
		return nil, err
	}
	ring, err := keyring.New(e2ee.Config{})
	if err != nil {
		return nil, err
	}
	dh := &driverHandle{h: newHandle(), d: d, id: id, ring: ring,
		corrupt: c.Get("testingOnlyCorruptReceiveKeys").Type() == js.TypeBoolean && c.Get("testingOnlyCorruptReceiveKeys").Bool()}
	dh.methods()
	return dh.h.obj, nil
}

func authorityArg(a js.Value) (*keys.Authority, error) {
	room := a.Get("room")
	ks := a.Get("keys")
	if room.Type() != js.TypeString || !ks.InstanceOf(jsArray) {
		return nil, fmt.Errorf("%w: authority must be {keys: [Uint8Array], room}", errArgs)
	}
	list, err := argBytesList([]js.Value{ks}, 0)
	if err != nil {
		return nil, err
	}
	auth := &keys.Authority{Room: room.String()}
	for _, k := range list {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: an authority key has %d bytes", errArgs, len(k))
		}
		auth.Keys = append(auth.Keys, ed25519.PublicKey(k))
	}
	return auth, nil
}

// nowArg reads a time in Unix milliseconds.
func nowArg(args []js.Value, i int) (time.Time, error) {
	ms, err := argUint(args, i, 1<<53)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(ms)), nil
}

// apply carries out the key outputs on the ring and returns every output as
// JSON (key outputs without their keys).
func (dh *driverHandle) apply(outs []core.Output, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	enc, err := core.MarshalOutputs(outs)
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		switch o := o.(type) {
		case *core.InstallKeys:
			if dh.corrupt {
				for _, m := range o.Members {
					if m.Leaf != o.Own.Leaf {
						rand.Read(m.BaseKey)
					}
				}
			}
			if err := dh.ring.Install(o); err != nil {
				return nil, err
			}
		case core.ExpireKeys:
			dh.ring.Expire(o.Before)
		case core.EraseKeys:
			dh.ring.EraseAll()
		}
	}
	return string(enc), nil
}

func (dh *driverHandle) methods() {
	h, d := dh.h, dh.d
	h.method("publicKey", func([]js.Value) (any, error) { return bytesValue(dh.id.PublicKey()), nil })
	h.method("setAssertion", func(args []js.Value) (any, error) {
		a, err := argBytes(args, 0)
		if err != nil {
			return nil, err
		}
		return nil, dh.id.SetAssertion(a)
	})
	// timed wraps an input that takes the time first.
	timed := func(name string, f func(now time.Time, args []js.Value) ([]core.Output, error)) {
		h.method(name, func(args []js.Value) (any, error) {
			now, err := nowArg(args, 0)
			if err != nil {
				return nil, err
			}
			return dh.apply(f(now, args[1:]))
		})
	}
	timed("start", func(now time.Time, _ []js.Value) ([]core.Output, error) { return d.Start(now) })
	timed("receive", func(now time.Time, args []js.Value) ([]core.Output, error) {
		s, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		if len(s) > maxBytes {
			return nil, fmt.Errorf("%w: message larger than %d bytes", errArgs, maxBytes)
		}
		var m core.ServerMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("tresor-wasm: server message: %w", err)
		}
		return d.Receive(now, m), nil
	})
	timed("commitResult", func(now time.Time, args []js.Value) ([]core.Output, error) {
		if len(args) < 1 || args[0].Type() != js.TypeBoolean {
			return nil, fmt.Errorf("%w: commitResult(now, accepted, reason)", errArgs)
		}
		reason := ""
		if len(args) > 1 && args[1].Type() == js.TypeString {
			reason = args[1].String()
		}
		return d.CommitResult(now, args[0].Bool(), reason), nil
	})
	timed("groupInfoResult", func(now time.Time, args []js.Value) ([]core.Output, error) {
		epoch, err := argUint(args, 0, 1<<53)
		if err != nil {
			return nil, err
		}
		var data []byte
		if len(args) > 1 && !args[1].IsNull() && !args[1].IsUndefined() {
			if data, err = argBytes(args, 1); err != nil {
				return nil, err
			}
		}
		reason := ""
		if len(args) > 2 && args[2].Type() == js.TypeString {
			reason = args[2].String()
		}
		return d.GroupInfoResult(now, epoch, data, reason), nil
	})
	timed("tick", func(now time.Time, _ []js.Value) ([]core.Output, error) { return d.Tick(now), nil })
	timed("sendChat", func(now time.Time, args []js.Value) ([]core.Output, error) {
		text, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		return d.SendChat(now, text)
	})
	timed("rekey", func(now time.Time, _ []js.Value) ([]core.Output, error) { return d.Rekey(now) })
	timed("consent", func(now time.Time, args []js.Value) ([]core.Output, error) {
		id, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) < 2 || args[1].Type() != js.TypeBoolean {
			return nil, fmt.Errorf("%w: consent(now, id, granted)", errArgs)
		}
		return d.Consent(now, id, args[1].Bool())
	})
	h.method("deadline", func([]js.Value) (any, error) {
		t := d.Deadline()
		if t.IsZero() {
			return 0, nil
		}
		return float64(t.UnixMilli()), nil
	})
	h.method("encrypt", func(args []js.Value) (any, error) {
		c, err := codecArg(args, 0)
		if err != nil {
			return nil, err
		}
		if len(args) < 2 {
			return nil, errArgs
		}
		frame, ok := dh.enc.read(args[1])
		if !ok {
			return nil, fmt.Errorf("%w: frame must be a Uint8Array", errArgs)
		}
		out, err := dh.ring.Sender().EncryptFrame(dh.enc.out[:0], c, frame)
		if err != nil {
			return js.Null(), nil // never send a clear frame
		}
		dh.enc.out = out
		return bytesValue(out), nil
	})
	h.method("decrypt", func(args []js.Value) (any, error) {
		c, err := codecArg(args, 0)
		if err != nil {
			return nil, err
		}
		participant, err := argString(args, 2)
		if err != nil {
			return nil, err
		}
		frame, ok := dh.dec.read(args[1])
		if !ok {
			return nil, fmt.Errorf("%w: frame must be a Uint8Array", errArgs)
		}
		// The frame opens only under the keys of the member whose
		// identity labels the track (internal/keyring).
		peer, err := dh.ring.Peer(participant)
		if err != nil {
			return nil, err
		}
		out, err := peer.Receiver.DecryptFrame(dh.dec.out[:0], c, frame)
		if err != nil {
			return js.Null(), nil
		}
		dh.dec.out = out
		return bytesValue(out), nil
	})
	h.method("stats", func([]js.Value) (any, error) {
		o := newObject()
		o.Set("sender", senderStats(dh.ring.Sender().Stats()))
		o.Set("receiver", receiverStats(dh.ring.Stats()))
		o.Set("receiveKeys", dh.ring.ReceiveKeys())
		st := d.Stats()
		ds := newObject()
		ds.Set("processed", float64(st.Processed))
		ds.Set("rejected", float64(st.Rejected))
		ds.Set("mislabelled", float64(st.Mislabelled))
		ds.Set("refusedKeyPackages", float64(st.RefusedKeyPackages))
		o.Set("driver", ds)
		if e, ok := d.Epoch(); ok {
			o.Set("epoch", float64(e))
		}
		return o, nil
	})
	h.method("close", func([]js.Value) (any, error) {
		out, err := dh.apply(d.Close(), nil)
		dh.id.Erase()
		h.release()
		return out, err
	})
}
