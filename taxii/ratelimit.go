package taxii

import (
	"math"
	"sync"
	"time"
)

// rateLimiter is a token bucket per consumer (anonymous callers: per address).
type rateLimiter struct {
	rate  float64 // tokens per second; 0 disables
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(cfg RateLimit, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: cfg.RequestsPerSecond, burst: float64(cfg.Burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it returns false and the
// whole seconds until one is (for Retry-After).
func (l *rateLimiter) allow(key string) (bool, int) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// forget buckets that have refilled completely
		for k, b := range l.buckets {
			if now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := (1 - b.tokens) / l.rate
	return false, max(1, int(math.Ceil(wait)))
}
