package signaling

import (
	"maps"
	"sync"
)

// Stats is a snapshot of a server's counters (see [Server.Stats]).
type Stats struct {
	// Rooms, Participants and Waiting are current counts.
	Rooms        int
	Participants int
	Waiting      int
	// Rejected counts rejected messages and joins by error code.
	Rejected map[Code]uint64
	// Disconnected counts connections the server closed for abuse (too many
	// errors, floods, oversized messages, slow reading), by reason.
	Disconnected map[string]uint64
	// CommitTimeouts counts committers that did not commit in time, so
	// that the delivery service asked the next member.
	CommitTimeouts uint64
	// Connections is the number of open WebSocket connections, and
	// PendingConnections those of them that have not joined yet.
	Connections        int
	PendingConnections int
	// Refused counts WebSocket upgrades refused by the connection limits,
	// by reason: "conns_per_addr", "pending_per_addr" (429), "conns",
	// "pending" (503); see [Config].MaxConns and the fields after it.
	Refused map[string]uint64
	// KeyPackagesExpired counts pending Adds dropped after
	// [Config].KeyPackageTimeout without a Commit covering them.
	KeyPackagesExpired uint64
	// Reconnecting is how many participants (admitted or waiting) lost
	// their connection and keep their place for [Config].ResumeWindow.
	Reconnecting int
	// Resumes counts sessions resumed on a new connection.
	Resumes uint64
	// ResumeFailures counts refused resumes by why: "unknown", "used",
	// "expired", "wrong_room", "overflow", "closed", "bad_seq" (see
	// PROTOCOL.md, "Resume").
	ResumeFailures map[string]uint64
	// ResumeWindowsEnded counts participants removed because they did not
	// resume in time, or their outbox overflowed while they were away.
	ResumeWindowsEnded uint64
	// OutboxOverflows counts outboxes that went over [Config].MaxOutbox or
	// MaxOutboxBytes, making their session unresumable.
	OutboxOverflows uint64
}

// counters is the server's own set of counters (no global registry).
type counters struct {
	mu           sync.Mutex
	rejected     map[Code]uint64
	disconnected map[string]uint64
	refused      map[string]uint64
	timeouts     uint64
	expired      uint64
	resumes      uint64
	resumeFails  map[string]uint64
	windowsEnded uint64
	overflows    uint64
}

func (c *counters) resumed() {
	c.mu.Lock()
	c.resumes++
	c.mu.Unlock()
}

func (c *counters) resumeFailed(class string) {
	c.mu.Lock()
	c.resumeFails[class]++
	c.mu.Unlock()
}

func (c *counters) windowExpired() {
	c.mu.Lock()
	c.windowsEnded++
	c.mu.Unlock()
}

func (c *counters) outboxOverflow() {
	c.mu.Lock()
	c.overflows++
	c.mu.Unlock()
}

func (c *counters) refuse(reason string) {
	c.mu.Lock()
	c.refused[reason]++
	c.mu.Unlock()
}

func (c *counters) keyPackageExpired() {
	c.mu.Lock()
	c.expired++
	c.mu.Unlock()
}

func (c *counters) commitTimeout() {
	c.mu.Lock()
	c.timeouts++
	c.mu.Unlock()
}

func newCounters() *counters {
	return &counters{rejected: make(map[Code]uint64), disconnected: make(map[string]uint64), refused: make(map[string]uint64), resumeFails: make(map[string]uint64)}
}

func (c *counters) reject(code Code) {
	c.mu.Lock()
	c.rejected[code]++
	c.mu.Unlock()
}

func (c *counters) disconnect(reason string) {
	c.mu.Lock()
	c.disconnected[reason]++
	c.mu.Unlock()
}

func (c *counters) snapshot(st *Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Rejected, st.Disconnected, st.Refused = maps.Clone(c.rejected), maps.Clone(c.disconnected), maps.Clone(c.refused)
	st.CommitTimeouts, st.KeyPackagesExpired = c.timeouts, c.expired
	st.Resumes, st.ResumeFailures = c.resumes, maps.Clone(c.resumeFails)
	st.ResumeWindowsEnded, st.OutboxOverflows = c.windowsEnded, c.overflows
}
