//go:build js && wasm && tresortest

package main

import (
	"io"
	"math/rand/v2"
	"syscall/js"
)

// testingRand returns a deterministic source seeded by the configuration's
// testingOnlySeed, so that the browser parity test (browsertest) can run the
// driver in wasm and natively on the same random stream and compare every
// output. Only a build with the tresortest tag has it; the shipped
// tresor.wasm does not (rand.go).
func testingRand(c js.Value) io.Reader {
	s := c.Get("testingOnlySeed")
	if s.Type() != js.TypeNumber {
		return nil
	}
	var seed [32]byte
	seed[0], seed[1] = byte(s.Int()), byte(s.Int()>>8)
	return rand.NewChaCha8(seed)
}
