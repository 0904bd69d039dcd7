package queue

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// drain reads q.Out until it is closed.
func drain[T any](q *Unbounded[T]) []T {
	var got []T
	for v := range q.Out() {
		got = append(got, v)
	}
	return got
}

func wantSeq(t *testing.T, got []int, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d items, want %d", len(got), n)
	}
	for i, v := range got {
		if v != from+i {
			t.Fatalf("item %d is %d, want %d", i, v, from+i)
		}
	}
}

// Tests run in a synctest bubble: synctest.Test fails if a goroutine of the
// bubble is still blocked when the test function returns, so each of them
// also proves that the queue's goroutine exits.

func TestUnboundedPushNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		// Nobody reads: every push must still return at once. (Were one to
		// block, every goroutine of the bubble would be blocked and the
		// test would fail as a deadlock.)
		const n = 10_000
		for i := range n {
			if !q.Push(i) {
				t.Fatalf("Push(%d) refused on an open queue", i)
			}
		}
		synctest.Wait()
		q.Close()
		wantSeq(t, drain(q), 0, n)
	})
}

func TestUnboundedOrderWhileReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		const n = 5000
		done := make(chan []int)
		go func() { done <- drain(q) }()
		for i := range n {
			q.Push(i)
			if i%100 == 0 {
				synctest.Wait() // let the reader catch up: queue empty, goroutine parked
			}
		}
		q.Close()
		wantSeq(t, <-done, 0, n)
	})
}

func TestUnboundedCloseDeliversQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		for i := range 5 {
			q.Push(i)
		}
		q.Close()
		q.Close() // idempotent
		if q.Push(99) {
			t.Fatal("Push after Close accepted an item")
		}
		wantSeq(t, drain(q), 0, 5)
	})
}

func TestUnboundedCloseEmpty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[string]()
		q.Close()
		if got := drain(q); len(got) != 0 {
			t.Fatalf("empty closed queue delivered %q", got)
		}
	})
}

func TestUnboundedStopAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		for i := range 5 {
			q.Push(i)
		}
		if v := <-q.Out(); v != 0 {
			t.Fatalf("first item %d, want 0", v)
		}
		q.Stop()
		// Stop has returned: Out is closed and yields nothing more.
		select {
		case v, ok := <-q.Out():
			if ok {
				t.Fatalf("Out delivered %d after Stop", v)
			}
		default:
			t.Fatal("Out is not closed after Stop returned")
		}
		if q.Push(7) {
			t.Fatal("Push after Stop accepted an item")
		}
	})
}

// TestUnboundedStopReleasesUnreadClose: after Close, the goroutine waits
// for a reader to take the queued items; Stop releases it even when nobody
// ever reads.
func TestUnboundedStopReleasesUnreadClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		q.Push(1)
		q.Push(2)
		q.Close()
		synctest.Wait() // the goroutine is parked sending item 1
		q.Stop()
	})
}

func TestUnboundedStopConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewUnbounded[int]()
		q.Push(1)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(q.Stop)
			wg.Go(q.Close)
			wg.Go(func() { q.Push(2) })
		}
		wg.Wait()
		q.Stop()
		if _, ok := <-q.Out(); ok {
			t.Fatal("Out delivered after Stop")
		}
	})
}

func TestUnboundedStopWithoutPush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		NewUnbounded[int]().Stop()
	})
}

// TestUnboundedConcurrentProducers runs for real (not in a bubble) so that
// the race detector sees producers, the delivering goroutine and the
// consumer on several threads: every item arrives once, and each
// producer's items arrive in the order it pushed them.
func TestUnboundedConcurrentProducers(t *testing.T) {
	q := NewUnbounded[[2]int]()
	const producers, per = 8, 2000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range per {
				q.Push([2]int{p, i})
			}
		})
	}
	go func() {
		wg.Wait()
		q.Close()
	}()
	next := make([]int, producers)
	n := 0
	for v := range q.Out() {
		p, i := v[0], v[1]
		if i != next[p] {
			t.Fatalf("producer %d: item %d arrived when %d was due", p, i, next[p])
		}
		next[p]++
		n++
	}
	if n != producers*per {
		t.Fatalf("got %d items, want %d", n, producers*per)
	}
}

// TestUnboundedReleasesDelivered checks that the queue does not keep
// delivered items reachable (its backing arrays are reused): the items
// are collected once the consumer drops them.
func TestUnboundedReleasesDelivered(t *testing.T) {
	q := NewUnbounded[*[64]byte]()
	defer q.Stop()
	const n = 3
	var freed atomic.Int32
	for range n {
		p := new([64]byte) // large enough to avoid the tiny allocator
		runtime.AddCleanup(p, func(struct{}) { freed.Add(1) }, struct{}{})
		q.Push(p)
	}
	for range n {
		<-q.Out()
	}
	// Cleanups run on their own goroutine after a collection: allow a few.
	for i := 0; i < 100 && freed.Load() < n; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if got := freed.Load(); got != n {
		t.Fatalf("%d of %d delivered items were collected; the queue keeps the others reachable", got, n)
	}
}

func BenchmarkUnbounded(b *testing.B) {
	q := NewUnbounded[int]()
	defer q.Stop()
	b.ReportAllocs()
	for i := range b.N {
		q.Push(i)
		<-q.Out()
	}
}
