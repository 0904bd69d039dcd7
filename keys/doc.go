// Package keys holds Tresor's client identities and MLS group keys (RFC
// 9420), and exports the SFrame keys (RFC 9605 §5.2, exactly: one base key
// per epoch, a KID per sender) that encrypt media. It has no network, no
// pion and no goroutines: it is the part of Tresor to audit.
//
// # Use
//
//	id, _ := keys.NewIdentity(nil, "u-42")       // once per device; persist id.Marshal()
//	// The app's backend vouches for the key (package auth, MintAssertion):
//	_ = id.SetAssertion(assertion)               // Assertion{Room, Identity, Name, id.PublicKey(), Expiry}
//	cfg := &keys.Config{Authority: &keys.Authority{Keys: backendKeys, Room: "standup"}}
//	g, _ := keys.NewGroup(id, cfg)               // the first member
//
//	kp, _ := keys.NewKeyPackage(bob, cfg)        // a joiner uploads kp.Bytes()
//	c, _ := g.CreateCommit([][]byte{kpBytes}, nil) // send c.Message and c.Welcome
//	_ = g.MergePendingCommit()                   // after the server accepted c
//	bg, _ := keys.Join(bob, kp, c.Welcome, cfg)  // on bob's device
//
//	m, err := g.Process(msg)                     // others' Commits and chat
//	k, _ := g.SFrameKeys()                       // every epoch: media keys for e2ee
//	code, _ := g.SecurityCode()                  // people compare it out loud
//
//	gi, _ := g.GroupInfo()                       // published with each Commit
//	ng, c, _ := keys.JoinExternal(bob, gi, cfg)  // bob lost his state: resync
//	_ = ng.MergePendingCommit()                  // after the server accepted c
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
// sent as PrivateMessages; Welcomes carry the ratchet_tree extension
// ([JoinWithRatchetTree] takes a tree delivered out of band, §12.4.3.3).
// Members accept Commits with Add, Update, Remove, PreSharedKey (external
// PSKs they hold) and GroupContextExtensions proposals, by value or by
// reference; a Commit a member creates covers the proposals it received in
// the epoch by reference, and application data waits until they are
// committed (RFC 9420 §12.4, [ErrPendingProposals]). External Commits
// (§12.4.3.2) are created by [JoinExternal] and accepted only as a resync
// (below). Not implemented: external senders, ReInit, branching, X.509
// credentials, other cipher suites. The implementation passes the official
// interoperability vectors of RFC 9420 for suite 1 (see keys/testdata and
// the *_vectors_test.go files; they hold no external Commit).
//
// # Resync
//
// A client that missed a Commit, or lost its state, cannot follow the
// group: it rejoins with an external Commit (RFC 9420 §12.4.3.2) from the
// latest [Group.GroupInfo], which a member publishes with each Commit. The
// GroupInfo carries the ratchet tree and external_pub, so [JoinExternal]
// needs nothing else; its Commit removes the joiner's own old leaf and adds
// its new one (the "resync" flavor of §12.4.3.2), and members see it as a
// [Message] with External set and the same identity in Removed and Added.
//
// Members accept an external Commit only as such a resync: valid under RFC
// 9420 (§12.2 for external Commits: one ExternalInit, at most one Remove,
// PreSharedKeys, nothing by reference, an UpdatePath), with a new leaf
// that passes the credential policy (with an Authority: vouched for this
// room and its own key, unexpired) and that removes exactly one leaf, whose
// identity is the new leaf's. Any other external Commit (a plain join
// without Remove, the Remove of someone else, an unvouched or differently
// named joiner) is refused with [ErrInvalid] and changes nothing. So
// whoever holds a GroupInfo, the server included, cannot use it to add
// anyone: only a backend-vouched identity that is already a member can
// take its own place again, which every member sees and which changes the
// security code. RFC 9420 §12.4.3.2 notes the cost: whoever holds a
// member's signature key and assertion can replace that member in one
// Commit (without resync it would take two). With an Authority, that is
// the backend's vouching or a compromised device, which Tresor does not
// protect against anyway (below).
//
// # Members are vouched for by the application's backend
//
// RFC 9420 §5.3.1 leaves the validation of credentials to the application.
// Tresor's rule: the backend that admits people to a room (it mints their
// join tokens) also signs an [Assertion] binding a participant's identity,
// display name and MLS signature key to the room. The participant's basic
// credential carries the assertion (its identity field, see [Assertion]
// for the format). A client configured with the backend's public keys
// ([Config.Authority]) checks, before anything changes:
//
//   - in [VerifyKeyPackage] and before [Group.CreateCommit] adds a
//     KeyPackage: the assertion verifies under a backend key, names this
//     room and the leaf's own signature key, and has not expired;
//   - in [Group.Process]: the same for every leaf a Commit adds (an
//     external Commit's joiner included), and an updated leaf keeps its
//     identity;
//   - in [Join] and [JoinExternal]: every leaf of the tree (expiry aside:
//     members already in the group were checked when they entered).
//
// Whatever the configuration, no two leaves of a group name the same
// identity: a Commit that adds a second leaf for a present identity is
// refused, unless the same Commit removes the old one (a rejoin). Without
// an Authority names are self-chosen and [Member.Verified] is false: the
// application must show that the roster is unverified.
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
//     everyone; with an Authority, only members the backend vouched for,
//     and never a second leaf under a present member's identity. A
//     GroupInfo lets no one in: external Commits are accepted only as a
//     member's own resync (see Resync). A server
//     that gives two members different views makes their security codes
//     differ, and the 40-digit code (≈133 bits) cannot be ground to a
//     collision even with a colluding member (see [Group.SecurityCode]).
//   - Forward secrecy and post-compromise security: each epoch's secrets
//     are zeroed when the next epoch starts; a removed member cannot derive
//     later epochs, and a new member cannot derive earlier ones; every
//     Commit, including the periodic update, replaces the committer's keys.
//
// # What keys does not protect against
//
//   - Metadata: the server sees the group ID, epochs, message sizes and
//     timing, who uploads KeyPackages and when, and the SFrame KIDs (which
//     encode leaf indices and epochs). A GroupInfo it keeps for resyncs
//     shows it the whole roster, and an external Commit (a PublicMessage)
//     who resynced.
//   - A made-up group without an Authority: KeyPackages are public, so a
//     server can craft a Welcome into a group of its own making, with
//     members whose keys it holds, and Join cannot tell. With an Authority
//     every leaf, and so the GroupInfo's signer, must be vouched for by the
//     backend, which the server cannot forge.
//   - Names without an Authority: a plain credential's name is whatever
//     the client chose. With one, the backend is trusted for identity (as
//     every conferencing system's account service is): it can vouch for
//     anyone. Comparing the security code out of band is what ties the
//     roster to the people in the room.
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
