package signaling

import (
	"sync"
	"time"
)

// Rate is a token-bucket rate: Burst events at once, refilled at Per
// events per second. For byte budgets an event is a byte.
type Rate struct {
	Per   float64
	Burst float64
}

func (r Rate) valid() bool { return r.Per > 0 && r.Burst >= 1 }

// bucket is one token bucket. It is not safe for concurrent use; owners
// lock around it.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) refill(r Rate, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = r.Burst, now
		return
	}
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(r.Burst, b.tokens+d*r.Per)
		b.last = now
	}
}

// take spends one token if there is one.
func (b *bucket) take(r Rate, now time.Time) bool {
	b.refill(r, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// has reports whether n tokens are available now, without spending them,
// so that a caller can check several buckets before spending from any.
func (b *bucket) has(r Rate, now time.Time, n float64) bool {
	b.refill(r, now)
	return b.tokens >= n
}

// spend takes n tokens; the caller checked has.
func (b *bucket) spend(n float64) { b.tokens -= n }

// limiter holds one bucket per key (a room, a remote address, a pair of
// them). It forgets full buckets when it holds too many keys, so it cannot
// be grown without bound by an attacker cycling keys: a forgotten bucket
// was full anyway.
type limiter[K comparable] struct {
	rate    Rate
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[K]*bucket
}

func newLimiter[K comparable](r Rate, maxKeys int, now func() time.Time) *limiter[K] {
	return &limiter[K]{rate: r, maxKeys: maxKeys, now: now, buckets: make(map[K]*bucket)}
}

// refund gives back a token spent by an attempt that turned out fine, or
// that another limit refused.
func (l *limiter[K]) refund(key K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.tokens = min(l.rate.Burst, b.tokens+1)
	}
}

// spend takes a token from key's bucket and reports whether one was left.
func (l *limiter[K]) spend(key K) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.prune(now)
		}
		b = new(bucket)
		l.buckets[key] = b
	}
	return b.take(l.rate, now)
}

// prune drops buckets that have refilled; if none has, it drops arbitrary
// ones so the map stays bounded (a fail-open choice for memory safety).
func (l *limiter[K]) prune(now time.Time) {
	for k, b := range l.buckets {
		b.refill(l.rate, now)
		if b.tokens >= l.rate.Burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys {
			break
		}
		delete(l.buckets, k)
	}
}
