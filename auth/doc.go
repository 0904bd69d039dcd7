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
//
//   - Passcode hashing ([HashPasscode], [ParsePasscodeHash]): a room's
//     passcode is stored only as an argon2id hash; the server verifies a
//     joiner's passcode against it in constant time.
//
//   - Roles ([Role]): what a participant may do in a meeting. The signaling
//     package uses the same type (signaling.Role is an alias).
//
//   - Member assertions ([MintAssertion], [VouchForToken]): the backend
//     vouches for a participant's MLS signature key, and every member
//     checks it (package keys), so that the server cannot add members.
//
// Choosing: a backend calls [MintToken] for each participant it has
// authenticated, [MintAssertion] (or [VouchForToken]) for the MLS key the
// participant's client presents, and [HashPasscode] once per room with a
// passcode (it keeps the hash, never the passcode). Clients need the
// backend's public keys to check assertions (tresor.WithAuthority). Everything a token or hash contains is
// visible to its holder; neither carries a secret beyond the signature.
package auth
