// Package auth is what an app backend needs to let people into Tresor
// meetings, and nothing more: it imports only the standard library and
// golang.org/x/crypto, so a backend that mints tokens does not pull in the
// signaling server, WebSockets, Prometheus or pion (a test checks this).
//
// What it holds:
//
//   - Join tokens ([MintToken], [VerifyToken], [Claims]): the backend signs
//     a room, identity, display name, [Role] and expiry with its Ed25519
//     key; the signaling server verifies them against the backend's public
//     keys. The format is in token.go and in signaling/PROTOCOL.md.
//   - Passcode hashing ([HashPasscode], [ParsePasscodeHash]): a room's
//     passcode is stored only as an argon2id hash; the server verifies a
//     joiner's passcode against it in constant time.
//   - Roles ([Role]): what a participant may do in a meeting. The signaling
//     package uses the same type (signaling.Role is an alias).
//
// Planned: the backend will also vouch for each participant's MLS signature
// key, so that members can check every leaf of the group against the
// backend rather than the server (see DESIGN.md, "Join"). That assertion
// belongs here, beside the join token, in assertion.go; it must use its
// own signature context string, so that a token can never verify as an
// assertion or the other way round.
//
// Choosing: a backend calls [MintToken] for each participant it has
// authenticated, and [HashPasscode] once per room with a passcode (it keeps
// the hash, never the passcode). Everything a token or hash contains is
// visible to its holder; neither carries a secret beyond the signature.
package auth
