//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"math"
	"syscall/js"

	"github.com/tresor-dev/tresor/keys"
)

// mls owns the Go values behind the Identity and KeyPackage handles that
// JavaScript passes back in (to newGroup, joinGroup, newKeyPackage). A handle
// carries only an opaque number; the Go value, with its private keys, never
// leaves Go.
type mls struct {
	next        float64
	identities  map[float64]*keys.Identity
	keyPackages map[float64]*keys.KeyPackage
}

const handleField = "__tresorHandle"

func (m *mls) id() float64 { m.next++; return m.next }

func (m *mls) identity(args []js.Value, i int) (*keys.Identity, error) {
	if i < len(args) && args[i].Type() == js.TypeObject {
		if v := args[i].Get(handleField); v.Type() == js.TypeNumber {
			if id, ok := m.identities[v.Float()]; ok {
				return id, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: argument %d must be a live Identity", errArgs, i)
}

func (m *mls) keyPackage(args []js.Value, i int) (*keys.KeyPackage, error) {
	if i < len(args) && args[i].Type() == js.TypeObject {
		if v := args[i].Get(handleField); v.Type() == js.TypeNumber {
			if kp, ok := m.keyPackages[v.Float()]; ok {
				return kp, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: argument %d must be a live KeyPackage", errArgs, i)
}

func exportMLS(api js.Value) {
	m := &mls{identities: map[float64]*keys.Identity{}, keyPackages: map[float64]*keys.KeyPackage{}}
	// Errors from keys carry their class (errorClass), as the Group's do.
	set := func(name string, f func([]js.Value) (any, error)) {
		api.Set(name, fn(func(args []js.Value) (any, error) {
			v, err := f(args)
			if err != nil {
				o := errorValue(err)
				o.Set("class", errorClass(err))
				return o, nil
			}
			return v, nil
		}))
	}
	set("newIdentity", func(args []js.Value) (any, error) {
		name, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		id, err := keys.NewIdentity(nil, name)
		if err != nil {
			return nil, err
		}
		return m.identityHandle(id), nil
	})
	set("parseIdentity", func(args []js.Value) (any, error) {
		text, err := argBytes(args, 0)
		if err != nil {
			return nil, err
		}
		defer wipe(text)
		id, err := keys.ParseIdentity(text)
		if err != nil {
			return nil, err
		}
		return m.identityHandle(id), nil
	})
	set("newKeyPackage", func(args []js.Value) (any, error) {
		id, err := m.identity(args, 0)
		if err != nil {
			return nil, err
		}
		kp, err := keys.NewKeyPackage(id, nil)
		if err != nil {
			return nil, err
		}
		return m.keyPackageHandle(kp), nil
	})
	set("newGroup", func(args []js.Value) (any, error) {
		id, err := m.identity(args, 0)
		if err != nil {
			return nil, err
		}
		g, err := keys.NewGroup(id, nil)
		if err != nil {
			return nil, err
		}
		return groupHandle(g), nil
	})
	set("joinGroup", func(args []js.Value) (any, error) {
		id, err := m.identity(args, 0)
		if err != nil {
			return nil, err
		}
		kp, err := m.keyPackage(args, 1)
		if err != nil {
			return nil, err
		}
		welcome, err := argBytes(args, 2)
		if err != nil {
			return nil, err
		}
		g, err := keys.Join(id, kp, welcome, nil)
		if err != nil {
			return nil, err
		}
		// The KeyPackage is used up: Join erased its init key, and its leaf
		// key now belongs to the group, so the handle's close must not
		// erase it (KeyPackage.Erase would erase the group's leaf key too).
		for k, v := range m.keyPackages {
			if v == kp {
				delete(m.keyPackages, k)
			}
		}
		return groupHandle(g), nil
	})
	// verifyKeyPackage runs the group-independent checks of RFC 9420 §10.1
	// on a KeyPackage from the delivery service and returns the client it
	// names, so a committer can refuse one issued in someone else's name.
	set("verifyKeyPackage", func(args []js.Value) (any, error) {
		msg, err := argBytes(args, 0)
		if err != nil {
			return nil, err
		}
		mb, err := keys.VerifyKeyPackage(msg, nil)
		if err != nil {
			return nil, err
		}
		return memberValue(mb), nil
	})
	set("kid", func(args []js.Value) (any, error) {
		leaf, err := argUint(args, 0, math.MaxUint32)
		if err != nil {
			return nil, err
		}
		epoch, err := argUint(args, 1, maxKID)
		if err != nil {
			return nil, err
		}
		return float64(keys.KID(uint32(leaf), epoch)), nil
	})
}

func (m *mls) identityHandle(id *keys.Identity) js.Value {
	h := newHandle()
	key := m.id()
	m.identities[key] = id
	h.obj.Set(handleField, key)
	h.method("name", func([]js.Value) (any, error) { return id.Name(), nil })
	h.method("publicKey", func([]js.Value) (any, error) { return bytesValue(id.PublicKey()), nil })
	h.method("toString", func([]js.Value) (any, error) { return id.String(), nil })
	// marshal returns the persistent form, which holds the private key.
	h.method("marshal", func([]js.Value) (any, error) {
		b := id.Marshal()
		defer wipe(b)
		return bytesValue(b), nil
	})
	h.method("close", func([]js.Value) (any, error) {
		delete(m.identities, key)
		id.Erase()
		h.release()
		return nil, nil
	})
	return h.obj
}

func (m *mls) keyPackageHandle(kp *keys.KeyPackage) js.Value {
	h := newHandle()
	key := m.id()
	m.keyPackages[key] = kp
	h.obj.Set(handleField, key)
	h.method("bytes", func([]js.Value) (any, error) { return bytesValue(kp.Bytes()), nil })
	h.method("close", func([]js.Value) (any, error) {
		if _, live := m.keyPackages[key]; live {
			delete(m.keyPackages, key)
			kp.Erase()
		}
		h.release()
		return nil, nil
	})
	return h.obj
}

func memberValue(mb keys.Member) js.Value {
	o := newObject()
	o.Set("leaf", float64(mb.Leaf))
	o.Set("name", mb.Identity)
	o.Set("displayName", mb.Name)
	o.Set("verified", mb.Verified)
	o.Set("signatureKey", bytesValue(mb.SignatureKey))
	return o
}

func membersValue(ms []keys.Member) js.Value {
	a := jsArray.New(len(ms))
	for i, mb := range ms {
		a.SetIndex(i, memberValue(mb))
	}
	return a
}

func messageKind(k keys.MessageKind) string {
	switch k {
	case keys.KindApplication:
		return "application"
	case keys.KindProposal:
		return "proposal"
	case keys.KindCommit:
		return "commit"
	}
	return "unknown"
}

// errorClass names the keys sentinel an error wraps, so JavaScript can act
// on it (e.g. wait for a Commit on "wrong_epoch") without parsing messages.
func errorClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{keys.ErrMalformed, "malformed"},
		{keys.ErrAuthentication, "authentication"},
		{keys.ErrWrongEpoch, "wrong_epoch"},
		{keys.ErrWrongGroup, "wrong_group"},
		{keys.ErrNotMember, "not_member"},
		{keys.ErrInvalid, "invalid"},
		{keys.ErrUnsupported, "unsupported"},
		{keys.ErrPendingCommit, "pending_commit"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "other"
}

func groupHandle(g *keys.Group) js.Value {
	h := newHandle()
	// Errors from the Group carry their class.
	method := func(name string, f func([]js.Value) (any, error)) {
		h.method(name, func(args []js.Value) (any, error) {
			v, err := f(args)
			if err != nil {
				o := errorValue(err)
				o.Set("class", errorClass(err))
				return o, nil
			}
			return v, nil
		})
	}
	method("epoch", func([]js.Value) (any, error) { return float64(g.Epoch()), nil })
	method("active", func([]js.Value) (any, error) { return g.Active(), nil })
	method("groupId", func([]js.Value) (any, error) { return bytesValue(g.GroupID()), nil })
	method("self", func([]js.Value) (any, error) { return memberValue(g.Self()), nil })
	method("members", func([]js.Value) (any, error) { return membersValue(g.Members()), nil })
	method("securityCode", func([]js.Value) (any, error) { return g.SecurityCode() })
	method("hasPendingCommit", func([]js.Value) (any, error) { return g.HasPendingCommit(), nil })
	// sframeKeys returns {epoch, own: {leaf, kid, key}, members: [...]} with
	// the base keys as Uint8Arrays: they are secret, and go straight to the
	// encoded-transform worker.
	method("sframeKeys", func([]js.Value) (any, error) {
		k, err := g.SFrameKeys()
		if err != nil {
			return nil, err
		}
		defer k.Erase()
		key := func(sk keys.SFrameKey) js.Value {
			o := newObject()
			o.Set("leaf", float64(sk.Leaf))
			o.Set("kid", float64(sk.KID))
			o.Set("key", bytesValue(sk.BaseKey))
			return o
		}
		o := newObject()
		o.Set("epoch", float64(k.Epoch))
		o.Set("own", key(k.Own))
		a := jsArray.New(len(k.Members))
		for i, sk := range k.Members {
			a.SetIndex(i, key(sk))
		}
		o.Set("members", a)
		return o, nil
	})
	method("createCommit", func(args []js.Value) (any, error) {
		adds, err := argBytesList(args, 0)
		if err != nil {
			return nil, err
		}
		var removes []uint32
		if len(args) > 1 && !args[1].IsUndefined() && !args[1].IsNull() {
			if !args[1].InstanceOf(jsArray) {
				return nil, fmt.Errorf("%w: removes must be an Array of leaf indices", errArgs)
			}
			for i := range args[1].Length() {
				leaf, err := argUint([]js.Value{args[1].Index(i)}, 0, math.MaxUint32)
				if err != nil {
					return nil, fmt.Errorf("%w: removes must be an Array of leaf indices", errArgs)
				}
				removes = append(removes, uint32(leaf))
			}
		}
		c, err := g.CreateCommit(adds, removes)
		if err != nil {
			return nil, err
		}
		o := newObject()
		o.Set("message", bytesValue(c.Message))
		if c.Welcome != nil {
			o.Set("welcome", bytesValue(c.Welcome))
		} else {
			o.Set("welcome", js.Null())
		}
		o.Set("epoch", float64(c.Epoch))
		return o, nil
	})
	method("mergePendingCommit", func([]js.Value) (any, error) { return nil, g.MergePendingCommit() })
	method("clearPendingCommit", func([]js.Value) (any, error) { g.ClearPendingCommit(); return nil, nil })
	method("process", func(args []js.Value) (any, error) {
		msg, err := argBytes(args, 0)
		if err != nil {
			return nil, err
		}
		pm, err := g.Process(msg)
		if err != nil {
			return nil, err
		}
		o := newObject()
		o.Set("kind", messageKind(pm.Kind))
		o.Set("sender", memberValue(pm.Sender))
		if pm.Data != nil {
			o.Set("data", bytesValue(pm.Data))
		}
		o.Set("added", membersValue(pm.Added))
		o.Set("removed", membersValue(pm.Removed))
		return o, nil
	})
	method("seal", func(args []js.Value) (any, error) {
		data, err := argBytes(args, 0)
		if err != nil {
			return nil, err
		}
		out, err := g.Seal(data)
		if err != nil {
			return nil, err
		}
		return bytesValue(out), nil
	})
	method("groupInfo", func([]js.Value) (any, error) {
		gi, err := g.GroupInfo()
		if err != nil {
			return nil, err
		}
		return bytesValue(gi), nil
	})
	method("stats", func([]js.Value) (any, error) {
		st := g.Stats()
		o := newObject()
		o.Set("processed", float64(st.Processed))
		o.Set("rejected", float64(st.Rejected))
		return o, nil
	})
	method("close", func([]js.Value) (any, error) { g.Close(); h.release(); return nil, nil })
	return h.obj
}
