// Package testonly carries the hooks through which this module's tests see
// secrets that no API exposes, in the manner of the standard library's
// crypto/internal test hooks: being internal, it cannot be imported from
// another module, so the hooks are out of every exported API an auditor
// reviews. Nothing outside tests may call them.
package testonly

// EpochSecrets returns copies of the secrets of the current epoch of a
// *keys.Group, by their names in RFC 9420 §8's table (see keys/testing.go),
// or nil once the group is no longer a member. Package keys sets it when it
// is initialized; it is never changed afterwards.
var EpochSecrets func(group any) map[string][]byte
