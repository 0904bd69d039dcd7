// Package wire defines every RFC 9420 (MLS) wire structure as a plain Go
// type with MarshalMLS and UnmarshalMLS methods built on package codec.
//
// The files mirror the RFC:
//
//	credential.go  §5.3, §7.2, §13  versions, suites, credentials, capabilities, extensions
//	node.go        §7.1–7.2, §12.4.3.3  leaf and parent nodes, the ratchet tree
//	keypackage.go  §10              KeyPackage
//	proposal.go    §12.1            proposals and proposal references
//	commit.go      §12.4            Commit, UpdatePath, HPKECiphertext
//	framing.go     §6               FramedContent, PublicMessage, PrivateMessage, MLSMessage
//	welcome.go     §12.4.3          Welcome, GroupSecrets, GroupInfo, GroupContext
//
// # Untrusted data
//
// A decoded value is only syntactically valid: decoding checks what the
// encoding itself fixes (lengths, optional and boolean bytes, enum values
// that select a variant, no trailing bytes) and nothing else. Signatures,
// MACs, tree invariants, capabilities and every other semantic rule are
// checked by the packages that use these types; until then a decoded value
// must be treated as untrusted input.
//
// Decoding is strict where the RFC leaves no choice: a variant whose type is
// unknown cannot be skipped (its length is not on the wire), so an unknown
// credential type, proposal type, sender type, wire format, content type or
// node type is rejected with an error wrapping codec.ErrMalformed. Values
// that are plain numbers on the wire (cipher suites, extension types, and the
// GREASE values of RFC 9420 §13.5 in capability lists) decode as they are, and
// extension_data is kept as opaque bytes, so unknown extensions round-trip.
//
// Decoding copies every byte slice it keeps, so a decoded value never aliases
// the input buffer. Re-encoding a decoded value yields the same bytes.
package wire
