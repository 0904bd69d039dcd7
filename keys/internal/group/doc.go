// Package group is the MLS group state machine (RFC 9420 §11–§12): creating a
// group, proposals and Commits, Welcome processing and the epoch transition,
// built on the RFC-shaped packages beside it (tree, schedule, secrettree,
// framing, wire).
package group
