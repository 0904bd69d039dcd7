package tresor

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/internal/hostile"
	"github.com/tresor-dev/tresor/signaling"
)

// BenchmarkResync measures a member's resync after a missed Commit in a
// meeting of 20 members (issue 12): the server withholds one Update from
// the member, which notices that the server's epoch is ahead, fetches the
// GroupInfo and rejoins with an external Commit. resync-ms runs from the
// withheld Commit's acceptance to the member decrypting the publisher's
// frames of the epoch its resync started (the median; min and max too). It
// includes the driver's wait of resyncDelay (500 ms) before it acts.
func BenchmarkResync(b *testing.B) {
	const members = 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHostileEnv(b)
	alice := h.join("alice", signaling.RoleHost, WithRekeyInterval(0))
	cs := []*client{alice}
	for i := 1; i < members-1; i++ {
		cs = append(cs, h.join(fmt.Sprintf("m%02d", i), signaling.RoleHost, WithRekeyInterval(0)))
	}
	carol := h.join("carol", signaling.RoleParticipant, WithRekeyInterval(0))
	cs = append(cs, carol)
	convergedN(b, 60*time.Second, members, cs...)
	sa := alice.publish(ctx, 20*time.Millisecond)
	waitFrames(b, 20*time.Second, 5, []*client{carol}, []*sender{sa})

	var hide atomic.Bool
	h.proxy.ToClient(func(c *hostile.Conn, msg []byte) [][]byte {
		if hide.Load() && c.Identity() == "carol" && bytes.Contains(msg, []byte(`"type":"commit"`)) {
			hide.Store(false) // one Commit only
			return nil
		}
		return [][]byte{msg}
	})
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hide.Store(true)
		if _, err := alice.m.Rekey(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		before := len(eventsOf[*Resynced](carol))
		deadline := start.Add(20 * time.Second)
		for {
			if rs := eventsOf[*Resynced](carol); len(rs) > before {
				if e, ok := carol.lastEpoch("alice", "audio"); ok && e >= rs[len(rs)-1].Epoch {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("carol did not resync")
			}
			time.Sleep(time.Millisecond)
		}
		all = append(all, time.Since(start))
		b.StopTimer()
		convergedN(b, 20*time.Second, members, cs...)
		b.StartTimer()
	}
	b.StopTimer()
	sa.halt()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "resync-ms")
	b.ReportMetric(float64(all[0].Microseconds())/1000, "resync-min-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "resync-max-ms")
	b.ReportMetric(0, "ns/op")
}
