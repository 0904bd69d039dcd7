package tresor

// Stats counts media frames received and rejected, and the MLS messages
// and KeyPackages the client refused.
type Stats struct {
	// Decrypted frames were authenticated and delivered.
	Decrypted uint64
	// Rejected frames were dropped, by reason (RFC 9605 §4.4.4, §9.3):
	UnknownKey uint64 // no key for the KID (another epoch, or not a member)
	AuthFailed uint64 // the tag did not verify: modified or forged
	Replayed   uint64 // a CTR already accepted under the KID
	Malformed  uint64 // unparsable frame
	// SendingEpoch is the epoch of the key this client sends with.
	SendingEpoch uint64
	// MessagesRejected counts MLS messages (Commits, chat, consents,
	// Welcomes, GroupInfos) the group refused: forged, replayed, of
	// another epoch, or breaking a rule (an unvouched member, an external
	// Commit that is no resync). MessagesMislabelled counts accepted ones
	// the server labelled as something else (chat as a Commit).
	MessagesRejected, MessagesMislabelled uint64
	// KeyPackagesRefused counts Adds the server asked this client to
	// commit that it refused (not vouched for, another's, a duplicate).
	KeyPackagesRefused uint64
}

// Rejected returns the total number of rejected frames.
func (s Stats) Rejected() uint64 { return s.UnknownKey + s.AuthFailed + s.Replayed + s.Malformed }

// Stats returns a snapshot of the frame counters.
func (m *Meeting) Stats() Stats {
	r := m.keys.Stats()
	e, _ := m.keys.SendingEpoch()
	m.mu.Lock()
	g := m.group
	m.mu.Unlock()
	return Stats{Decrypted: r.Opened, UnknownKey: r.UnknownKey, AuthFailed: r.AuthFailed,
		Replayed: r.Replayed, Malformed: r.Malformed, SendingEpoch: e,
		MessagesRejected: g.Rejected, MessagesMislabelled: g.Mislabelled, KeyPackagesRefused: g.RefusedKeyPackages}
}
