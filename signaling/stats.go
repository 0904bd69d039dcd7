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
}

// counters is the server's own set of counters (no global registry).
type counters struct {
	mu           sync.Mutex
	rejected     map[Code]uint64
	disconnected map[string]uint64
	refused      map[string]uint64
	timeouts     uint64
	expired      uint64
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
	return &counters{rejected: make(map[Code]uint64), disconnected: make(map[string]uint64), refused: make(map[string]uint64)}
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
}
