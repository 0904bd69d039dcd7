//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"math"
	"syscall/js"
)

var (
	global       = js.Global()
	jsObject     = global.Get("Object")
	jsArray      = global.Get("Array")
	jsUint8Array = global.Get("Uint8Array")
	typeFunction = js.TypeFunction
)

// maxBytes bounds any byte string JavaScript hands to Go (frames, MLS
// messages): 16 MiB is far above a video frame or a Commit for a large group.
const maxBytes = 16 << 20

func newObject() js.Value { return jsObject.New() }

// errorValue is what a failed call returns: {error: msg}.
func errorValue(err error) js.Value {
	o := newObject()
	o.Set("error", err.Error())
	return o
}

// fn wraps f as a JavaScript function that never panics into the Go
// runtime: a panic (a bug, or a JavaScript value of the wrong type that a
// check missed) becomes {error: …} instead of killing the module, which would
// stop every call that follows.
func fn(f func(args []js.Value) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (ret any) {
		defer func() {
			if r := recover(); r != nil {
				ret = errorValue(fmt.Errorf("tresor-wasm: internal error: %v", r))
			}
		}()
		v, err := f(args)
		if err != nil {
			return errorValue(err)
		}
		return v
	})
}

// handle is a JavaScript object whose methods are Go functions; close
// releases them.
type handle struct {
	obj   js.Value
	funcs []js.Func
}

func newHandle() *handle { return &handle{obj: newObject()} }

func (h *handle) method(name string, f func(args []js.Value) (any, error)) {
	jf := fn(f)
	h.funcs = append(h.funcs, jf)
	h.obj.Set(name, jf)
}

// release drops the Go functions; calling them afterwards throws in
// JavaScript ("call to released function"), which is the intended failure
// for a use after close.
func (h *handle) release() {
	for _, f := range h.funcs {
		f.Release()
	}
	h.funcs = nil
}

var errArgs = errors.New("tresor-wasm: wrong arguments")

func argBytes(args []js.Value, i int) ([]byte, error) {
	if i >= len(args) || args[i].Type() != js.TypeObject || !args[i].InstanceOf(jsUint8Array) {
		return nil, fmt.Errorf("%w: argument %d must be a Uint8Array", errArgs, i)
	}
	n := args[i].Get("length").Int()
	if n > maxBytes {
		return nil, fmt.Errorf("%w: argument %d is larger than %d bytes", errArgs, i, maxBytes)
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, args[i])
	return b, nil
}

func argString(args []js.Value, i int) (string, error) {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return "", fmt.Errorf("%w: argument %d must be a string", errArgs, i)
	}
	return args[i].String(), nil
}

// argUint reads a non-negative integer Number no larger than max.
func argUint(args []js.Value, i int, max uint64) (uint64, error) {
	if i >= len(args) || args[i].Type() != js.TypeNumber {
		return 0, fmt.Errorf("%w: argument %d must be a number", errArgs, i)
	}
	f := args[i].Float()
	if f < 0 || f != math.Trunc(f) || f > float64(max) || f > 1<<53 {
		return 0, fmt.Errorf("%w: argument %d must be an integer in [0, %d]", errArgs, i, max)
	}
	return uint64(f), nil
}

// argBytesList reads an Array of Uint8Array.
func argBytesList(args []js.Value, i int) ([][]byte, error) {
	if i >= len(args) || args[i].IsUndefined() || args[i].IsNull() {
		return nil, nil
	}
	if !args[i].InstanceOf(jsArray) {
		return nil, fmt.Errorf("%w: argument %d must be an Array", errArgs, i)
	}
	n := args[i].Length()
	if n > 1<<16 {
		return nil, fmt.Errorf("%w: argument %d is too long", errArgs, i)
	}
	out := make([][]byte, n)
	for j := range n {
		b, err := argBytes([]js.Value{args[i].Index(j)}, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: element %d of argument %d must be a Uint8Array", errArgs, j, i)
		}
		out[j] = b
	}
	return out, nil
}

func bytesValue(b []byte) js.Value {
	a := jsUint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// wipe zeroes a copy of a secret once Go no longer needs it.
func wipe(b []byte) { clear(b) }
