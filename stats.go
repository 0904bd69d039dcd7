package tresor

// Stats counts media frames received and rejected.
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
}

// Rejected returns the total number of rejected frames.
func (s Stats) Rejected() uint64 { return s.UnknownKey + s.AuthFailed + s.Replayed + s.Malformed }

// Stats returns a snapshot of the frame counters.
func (m *Meeting) Stats() Stats {
	r := m.keys.Stats()
	e, _ := m.keys.SendingEpoch()
	return Stats{Decrypted: r.Opened, UnknownKey: r.UnknownKey, AuthFailed: r.AuthFailed,
		Replayed: r.Replayed, Malformed: r.Malformed, SendingEpoch: e}
}
