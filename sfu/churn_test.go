package sfu_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tresor-dev/tresor/sfu"
	"github.com/tresor-dev/tresor/sfu/internal/peertest"
)

// TestChurnKeepsStableSubscriberWhole: while subscribers join and leave
// concurrently, a subscriber who stays receives every packet, in order.
func TestChurnKeepsStableSubscriberWhole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s := newSFU(t, sfu.Config{})
	api := newAPI(t, peertest.Config{})

	stable := newCollector()
	join(t, ctx, s, api, "r", "stable", stable)
	pub := join(t, ctx, s, api, "r", "pub", nil)
	snd, err := pub.AddVideo("cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wg := pump(t, snd, 0, 2, 800, 10*time.Millisecond, stop)
	eventually(t, 10*time.Second, "stable subscriber receiving", func() bool { return stable.count() > 0 })
	stable.mu.Lock()
	from := stable.order[len(stable.order)-1].Index + 1
	stable.mu.Unlock()

	var churn sync.WaitGroup
	for w := range 3 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for i := range 3 {
				id := fmt.Sprintf("churn-%d-%d", w, i)
				c := newCollector()
				cl, err := peertest.JoinSFU(ctx, s, api, "r", id, c.onTrack)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					return
				}
				time.Sleep(time.Duration(50+40*i) * time.Millisecond)
				cl.Close()
			}
		}()
	}
	churn.Wait()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	stable.mu.Lock()
	to := stable.order[len(stable.order)-1].Index
	stable.mu.Unlock()
	eventually(t, 3*time.Second, "every packet at the stable subscriber", func() bool { return stable.has(from, to) == 0 })
	stable.mu.Lock()
	defer stable.mu.Unlock()
	if len(stable.errs) > 0 {
		t.Fatalf("%d corrupted payloads", len(stable.errs))
	}
	if r, err := s.Room("r"); err != nil || len(r.Participants()) != 2 {
		t.Fatalf("participants after churn: %v %v", r.Participants(), err)
	}
	t.Logf("stable subscriber got packets %d..%d intact through 9 joins and leaves", from, to)
}
