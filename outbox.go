package tresor

import (
	"context"
	"log/slog"
	"sync"
)

// outbox sends the client's requests to the signaling server one at a time,
// in the order the driver asked for them (a chat message sealed in an epoch
// must leave before the Commit that ends it), each bounded by
// requestTimeout, and reports every answer. It never blocks the caller.
type outbox struct {
	ctx context.Context
	log *slog.Logger

	mu    sync.Mutex
	queue []request
	kick  chan struct{}
	done  chan struct{}
}

type request struct {
	do     func(ctx context.Context) error
	answer func(error)
}

func newOutbox(ctx context.Context, log *slog.Logger) *outbox {
	o := &outbox{ctx: ctx, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go o.loop()
	return o
}

// send queues a request; answer is called with its result, on the outbox's
// goroutine, also when the meeting closes first (with the context's error).
func (o *outbox) send(do func(ctx context.Context) error, answer func(error)) {
	o.mu.Lock()
	o.queue = append(o.queue, request{do, answer})
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// wait returns once the outbox's goroutine ended (after the context).
func (o *outbox) wait() { <-o.done }

func (o *outbox) loop() {
	defer close(o.done)
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.mu.Unlock()
			select {
			case <-o.kick:
				continue
			case <-o.ctx.Done():
				o.drain()
				return
			}
		}
		r := o.queue[0]
		o.queue[0] = request{}
		o.queue = o.queue[1:]
		o.mu.Unlock()
		err := o.ctx.Err()
		if err == nil {
			ctx, cancel := context.WithTimeout(o.ctx, requestTimeout)
			err = r.do(ctx)
			cancel()
		}
		r.answer(err)
	}
}

// drain answers the requests that will not be sent.
func (o *outbox) drain() {
	o.mu.Lock()
	q := o.queue
	o.queue = nil
	o.mu.Unlock()
	for _, r := range q {
		r.answer(o.ctx.Err())
	}
}
