package auth

import (
	"container/list"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// limitConfig applies defaults to c and validates it.
func limitConfig(c LimitConfig) (LimitConfig, error) {
	if c.MaxFailures < 0 || c.Window < 0 || c.Block < 0 || c.MaxAddresses < 0 {
		return c, errors.New("max_failures, window, block and max_addresses must not be negative")
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.MaxAddresses == 0 {
		c.MaxAddresses = DefaultMaxAddresses
	}
	return c, nil
}

// limiter counts failed logins per source address in a bounded LRU.
type limiter struct {
	mu  sync.RWMutex
	cfg LimitConfig
	now func() time.Time
	lru *list.List // of *limitEntry, most recently seen first
	m   map[string]*list.Element
}

type limitEntry struct {
	addr         string
	windowStart  time.Time
	failures     int
	blockedUntil time.Time
}

func newLimiter(cfg LimitConfig, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, lru: list.New(), m: map[string]*list.Element{}}
}

func (l *limiter) setConfig(cfg LimitConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
	for l.lru.Len() > cfg.MaxAddresses {
		l.evictOldest()
	}
}

func (l *limiter) evictOldest() {
	e := l.lru.Back()
	l.lru.Remove(e)
	delete(l.m, e.Value.(*limitEntry).addr)
}

// AllowAttempt reports whether a login from remoteAddr ("host:port" or a
// bare host) may be tried now: false while the address is blocked after
// failed_logins.max_failures failures (default 10) within
// failed_logins.window (default 1 minute); the block lasts
// failed_logins.block (default 5 minutes). IPv6 addresses count per /64.
// Authenticate and AuthenticateMISP already apply it; AllowAttempt and
// RecordFailure are for other login paths (AuthenticateMISPKey callers).
func (a *Authenticator) AllowAttempt(remoteAddr string) bool {
	return a.BlockedFor(remoteAddr) == 0
}

// BlockedFor returns how long remoteAddr stays blocked (0 when it is not);
// the server may send it as Retry-After.
func (a *Authenticator) BlockedFor(remoteAddr string) time.Duration {
	l := a.limiter
	key := limitKey(remoteAddr)
	l.mu.RLock()
	defer l.mu.RUnlock()
	el, ok := l.m[key]
	if !ok {
		return 0
	}
	if d := el.Value.(*limitEntry).blockedUntil.Sub(l.now()); d > 0 {
		return d
	}
	return 0
}

// RecordFailure counts a failed login from remoteAddr. At most
// failed_logins.max_addresses addresses (default 10000) are tracked; the
// least recently failing one is forgotten first, so memory stays bounded.
// The failure that reaches the limit starts the block and is audited.
func (a *Authenticator) RecordFailure(remoteAddr string) {
	l := a.limiter
	key := limitKey(remoteAddr)
	now := l.now()
	l.mu.Lock()
	el, ok := l.m[key]
	if !ok {
		if l.lru.Len() >= l.cfg.MaxAddresses {
			l.evictOldest()
		}
		el = l.lru.PushFront(&limitEntry{addr: key, windowStart: now})
		l.m[key] = el
	} else {
		l.lru.MoveToFront(el)
	}
	e := el.Value.(*limitEntry)
	if now.Sub(e.windowStart) >= l.cfg.Window {
		e.windowStart, e.failures = now, 0
	}
	e.failures++
	blocked := false
	if e.failures >= l.cfg.MaxFailures {
		e.blockedUntil = now.Add(l.cfg.Block)
		e.windowStart, e.failures = now, 0
		blocked = true
	}
	block := l.cfg.Block
	l.mu.Unlock()
	if blocked {
		_ = a.opt.Audit.Log(AuditEvent{Event: EventLoginBlocked, Remote: key, Detail: "too many failed logins; blocked for " + block.String()})
	}
}

// limitKey is the address a failure counts against: the host, with IPv6
// addresses reduced to their /64 (one client usually owns a whole /64).
func limitKey(remoteAddr string) string {
	h := hostOf(remoteAddr)
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return h
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}
