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
}

// counters is the server's own set of counters (no global registry).
type counters struct {
	mu           sync.Mutex
	rejected     map[Code]uint64
	disconnected map[string]uint64
	timeouts     uint64
}

func (c *counters) commitTimeout() {
	c.mu.Lock()
	c.timeouts++
	c.mu.Unlock()
}

func newCounters() *counters {
	return &counters{rejected: make(map[Code]uint64), disconnected: make(map[string]uint64)}
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
	st.Rejected, st.Disconnected, st.CommitTimeouts = maps.Clone(c.rejected), maps.Clone(c.disconnected), c.timeouts
}
