// Package keys holds Tresor's client identities and MLS group keys (RFC
// 9420), and exports the per-sender SFrame keys (RFC 9605 §5.2) that encrypt
// media. It has no network, no pion and no goroutines: it is the part of
// Tresor to audit.
//
// # Use
//
//	id, _ := keys.NewIdentity(nil, "alice")      // once per device; persist id.Marshal()
//	g, _ := keys.NewGroup(id, nil)               // the first member
//
//	kp, _ := keys.NewKeyPackage(bob, nil)        // a joiner uploads kp.Bytes()
//	c, _ := g.CreateCommit([][]byte{kpBytes}, nil) // send c.Message and c.Welcome
//	_ = g.MergePendingCommit()                   // after the server accepted c
//	bg, _ := keys.Join(bob, kp, c.Welcome, nil)  // on bob's device
//
//	m, err := g.Process(msg)                     // others' Commits and chat
//	k, _ := g.SFrameKeys()                       // every epoch: media keys for e2ee
//	code, _ := g.SecurityCode()                  // people compare it out loud
//
// Every Commit (an Add, a Remove, or an empty Commit as the periodic update)
// refreshes the committer's path in the ratchet tree and starts a new epoch.
// The delivery service accepts one Commit per epoch, so a Commit is pending
// until the caller merges it (accepted) or clears it (another one won).
//
// # Protocol
//
// Cipher suite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (RFC 9420
// §17.1) with basic credentials. Commits always carry an UpdatePath and are
// sent as PrivateMessages; Welcomes carry the ratchet_tree extension.
// Members accept Commits with Add, Update, Remove, PreSharedKey (external
// PSKs they hold) and GroupContextExtensions proposals, by value or by
// reference. Not implemented: external commits and external senders,
// ReInit, branching, X.509 credentials, other cipher suites. The
// implementation passes the official interoperability vectors of RFC 9420
// for suite 1 (see keys/testdata and the *_vectors_test.go files).
//
// # What keys protects against
//
// The delivery service and the SFU (the "server side") are trusted to
// deliver messages, never with keys. Against such a server, and anyone on
// the network:
//
//   - Confidentiality: media keys and chat are derived from secrets only
//     members hold; the server relays ciphertexts, KeyPackages, and Commits
//     and Welcomes that are encrypted (PrivateMessage, HPKE).
//   - Authenticity: every handshake and chat message is signed by a member
//     and MACed or AEAD-sealed with the epoch's keys; forged, altered,
//     replayed or out-of-epoch messages are rejected and change nothing.
//   - Membership: a member is added only by a Commit every member processes,
//     so the roster ([Group.Members]) and the security code change for
//     everyone. A server that gives two members different views makes
//     their security codes differ.
//   - Forward secrecy and post-compromise security: each epoch's secrets
//     are zeroed when the next epoch starts; a removed member cannot derive
//     later epochs, and a new member cannot derive earlier ones; every
//     Commit, including the periodic update, replaces the committer's keys.
//
// # What keys does not protect against
//
//   - Metadata: the server sees the group ID, epochs, message sizes and
//     timing, who uploads KeyPackages and when, and the SFrame KIDs (which
//     encode leaf indices and epochs).
//   - Names: a basic credential's name is whatever the client chose. keys
//     authenticates keys, not people; comparing the security code out of
//     band is what ties the roster to the people in the room.
//   - Denial of service: the server can drop, delay or reorder messages,
//     or refuse Commits.
//   - A malicious or compromised member, or a compromised device: it can
//     read everything in the epochs it is a member of, and leak it.
//   - Secrets in memory: Go's garbage collector may keep copies keys
//     cannot zero (circl keeps HPKE private keys in its own values); erasure
//     is best effort against later memory disclosure, not a guarantee.
//   - Old SFrame keys: [Group.SFrameKeys] returns copies that live until the
//     caller erases them.
package keys
