//go:build js && wasm && !tresortest

package main

import (
	"io"
	"syscall/js"
)

// testingRand returns nil: the shipped module always draws from
// crypto/rand. (The parity test's build, with the tresortest tag, may seed
// it; see rand_testing.go.)
func testingRand(js.Value) io.Reader { return nil }
