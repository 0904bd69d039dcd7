// Package queue holds a small generic queue that several Tresor packages
// share: [Unbounded] hands items from producers that must never block (a
// network read loop, a state machine) to one consumer reading a channel,
// in order: an event stream such as the signaling client's.
//
// It is generic over the item type, so the package imports nothing but
// the standard library's sync and can sit under any other package,
// including the root client package and the SFU. (Trickled ICE candidates
// wait in internal/trickle, which knows their ICE sessions.)
package queue

import "sync"

// Unbounded is a FIFO queue between producers that must never block and
// one consumer that reads [Unbounded.Out]. Push only appends to memory; a
// goroutine started by [NewUnbounded] delivers the items on Out in push
// order. Memory grows while the consumer lags, so it suits streams a reader
// drains promptly (events), not bulk data.
//
// An Unbounded ends in one of two ways. [Unbounded.Close] is the graceful
// end: the items already pushed are still delivered, then Out is closed.
// [Unbounded.Stop] abandons whatever is undelivered: Out is closed at once.
// The delivering goroutine exits when Out is closed; after Close it waits
// for a reader to take the remaining items, so an owner whose reader may go
// away calls Stop (which is always safe, also after Close) to release it.
//
// All methods are safe for concurrent use.
type Unbounded[T any] struct {
	out  chan T
	kick chan struct{} // capacity 1: wakes the delivering goroutine

	stopOnce sync.Once
	stop     chan struct{} // closed by Stop
	exited   chan struct{} // closed when the delivering goroutine returns

	mu     sync.Mutex
	items  []T
	closed bool // Close or Stop was called: Push drops
}

// recycleCap bounds the backing array the delivering goroutine keeps for
// reuse: after a burst larger than this it lets the array go.
const recycleCap = 256

// NewUnbounded returns an empty queue and starts its delivering goroutine.
func NewUnbounded[T any]() *Unbounded[T] {
	q := &Unbounded[T]{
		out:    make(chan T),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go q.loop()
	return q
}

// Out is the channel on which the items arrive, in push order. It is closed
// after Close once every item was delivered, or by Stop.
func (q *Unbounded[T]) Out() <-chan T { return q.out }

// Push appends v without blocking. It reports false, and drops v, once
// Close or Stop was called.
func (q *Unbounded[T]) Push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.wake()
	return true
}

// Close ends the queue gracefully: later pushes are dropped, the items
// already pushed are delivered, then Out is closed. It does not block and
// may be called more than once.
func (q *Unbounded[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// Stop ends the queue at once: later pushes are dropped and undelivered
// items are abandoned. When Stop returns, the delivering goroutine has
// exited, Out is closed and delivers nothing more. Stop may be called more
// than once, concurrently, and after Close; it never waits for a reader.
func (q *Unbounded[T]) Stop() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.stopOnce.Do(func() { close(q.stop) })
	<-q.exited
}

func (q *Unbounded[T]) wake() {
	select {
	case q.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// loop delivers the queued items batch by batch: it takes everything pushed
// so far under the lock, then sends it without the lock, so producers never
// wait for the consumer. Two backing arrays alternate between the producers
// and the loop, so a steady stream does not allocate.
func (q *Unbounded[T]) loop() {
	defer close(q.exited)
	defer close(q.out)
	var batch []T
	for {
		q.mu.Lock()
		batch, q.items = q.items, batch[:0]
		closed := q.closed
		q.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				// Close: everything pushed before it has been delivered.
				// (Stop is caught below or on the next send.)
				return
			}
			select {
			case <-q.kick:
				continue
			case <-q.stop:
				return
			}
		}
		var zero T
		for i := range batch {
			select {
			case <-q.stop: // checked first so that Stop wins over a ready reader
				return
			default:
			}
			select {
			case q.out <- batch[i]:
				batch[i] = zero // do not keep delivered items reachable
			case <-q.stop:
				return
			}
		}
		if cap(batch) > recycleCap {
			batch = nil
		}
	}
}
