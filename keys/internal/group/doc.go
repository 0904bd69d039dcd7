// Package group is the MLS group state machine (RFC 9420 §11–§12): creating
// a group, KeyPackages (§10), Commits with their proposals (§12.1–§12.4),
// Welcome processing (§12.4.3.1) and the move from one epoch to the next. It
// is built on the RFC-shaped packages beside it: wire (encodings), tree
// (ratchet tree and TreeKEM), schedule (key schedule), secrettree and framing.
//
// A Commit, received or created, runs through the same steps (§12.4.2):
//
//	unprotect (framing: group, epoch, membership tag / AEAD, signature)
//	  → resolve proposals (by value, or by reference to this epoch's cache)
//	  → validate and apply them to a clone of the tree (§12.2, in the order
//	    GroupContextExtensions, Update, Remove, Add, PreSharedKey)
//	  → UpdatePath: create (committer) or merge, check parent hashes and
//	    decrypt our path secret (receiver), under the provisional GroupContext
//	  → confirmed transcript hash, GroupContext[n+1], key schedule with PSKs
//	  → confirmation tag: computed (committer) or verified (receiver)
//	  → install: only now does the State change; the old epoch is zeroed.
//
// Every step before install works on new values, so a Commit that fails
// anywhere leaves the State exactly as it was. A committer's Commit waits as
// a Pending until the caller merges it (the delivery service accepted it) or
// clears it.
//
// Scope: members' Commits with Add, Update (by reference), Remove,
// PreSharedKey (external PSKs the member holds, resumption PSKs of the last
// Config.ResumptionPSKs epochs) and GroupContextExtensions proposals.
// External Commits (§12.4.3.2, external.go): JoinExternal creates one from
// a GroupInfo (with external_pub, §8.3), and members accept one only as a
// resync, the application's restriction §12.4.3.2 allows: it must remove
// exactly one leaf, of the joiner's own identity (Config.checkResync).
// Not supported (ErrUnsupported): external senders, ReInit, branching.
// Tresor's own Commits always carry an UpdatePath, and their Welcomes the
// ratchet_tree extension unless Config.RatchetTreeOutOfBand.
//
// Conformance: passive_vectors_test.go runs every suite-1 entry of
// passive-client-welcome.json, passive-client-handling-commit.json and
// passive-client-random.json; welcome_vectors_test.go the suite-1 entry of
// welcome.json. No published vector holds an external Commit (every
// Commit in the passive-client files is a member's PublicMessage);
// external_test.go tests them.
package group
