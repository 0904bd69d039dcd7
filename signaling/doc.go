// Package signaling is Tresor's signaling: how people get into a meeting and
// how the group's MLS handshake messages move, without the server ever
// learning a key.
//
// One WebSocket per participant carries a versioned JSON protocol
// (PROTOCOL.md in this directory documents every message). The [Server] is an
// http.Handler; the [Client] is the Go side, with one method per request and
// a channel of typed [Event]s.
//
// Meeting controls:
//
//   - Join tokens: the app's backend signs the room, identity, display name,
//     role and expiry with Ed25519 ([auth.MintToken]); the server verifies
//     them against [Config].TokenKeys. Token minting and passcode hashing
//     live in package auth, so that a backend needs neither this package
//     nor its WebSocket and Prometheus dependencies.
//   - Passcodes are stored only as argon2id hashes ([auth.HashPasscode]),
//     compared in constant time, never logged, refused in URLs; failed
//     attempts are rate-limited per source (room and address, room and
//     identity), so that one attacker cannot lock others out of a room.
//   - A waiting room holds joiners, who see nothing of the meeting, until a
//     host or cohost admits or denies them.
//   - Hosts and cohosts remove participants, ask them to mute, stop their
//     tracks, allow or forbid publishing per source (the SFU enforces it
//     through [MediaSession]), lock the meeting; a host ends it. See [Role].
//   - Recording needs everyone's consent to that one recording (each
//     request is a new recording with a random ID; consent names it and is
//     never carried over to the next), and any admitted participant
//     withdrawing stops it (consent.go). Recording happens on a
//     participant's machine.
//
// The MLS delivery service (delivery.go; RFC 9420 §16, RFC 9750 §5) orders
// handshake messages it cannot read: it collects KeyPackages, asks one
// member to commit pending Adds and Removes (the earliest-joined member
// online, with failover), accepts exactly one Commit per epoch, relays it to
// the members and hands the Welcome to the joiners. An Add no Commit covers
// in time is dropped, and its uploader told to upload afresh
// ([ErrKeyPackageExpired]). Chat is MLS application messages relayed as
// opaque bytes, within a size limit and per-sender and per-room budgets.
//
// A dropped connection does not drop the participant (resume.go): the
// server keeps its place for [Config].ResumeWindow, numbers every message
// it sends and keeps it until the client acknowledges it, and a new
// connection presenting the single-use resume secret from the join answer
// takes over with nothing lost or repeated either way. The [Client] does
// this by itself ([Reconnecting], [Resumed], [ResumeFailed]). A client
// whose MLS state fell behind resyncs with an external Commit from the
// GroupInfo the delivery service keeps.
//
// The server must not be abusable by clients either (limits.go): it caps
// connections in all, per remote address and before joining, refusing the
// upgrade with 429 or 503, and every limit is counted in [Server.Stats].
//
// The server never holds a key: everything it relays about the group is
// opaque. Clients do not trust it either: they accept into the MLS group
// only members the application's backend vouched for (its assertion travels
// in the MLS credential; see keys.Assertion), show the MLS roster and
// security code rather than the server's roster, and treat its recording
// state as a claim that members' signed consents must back (PROTOCOL.md,
// "What members send each other").
package signaling
