package ingest

import (
	"fmt"
	"sync"
	"time"
)

// Budget is a provider's request quota: PerMinute requests in any sliding
// minute and PerDay requests per UTC day (0: unlimited). A feed's pulls and its
// on-demand lookups spend one Budget. The zero value is unlimited; a Budget is
// safe for concurrent use and must not be copied after first use.
type Budget struct {
	PerMinute int
	PerDay    int

	mu     sync.Mutex
	day    string      // the UTC day used counts ("2006-01-02")
	used   int         // requests made on day
	recent []time.Time // request times within the last minute
}

// Take spends one request at now. It returns 0 and nil when the request is
// taken; a positive wait and nil, taking nothing, when the minute's requests are
// spent (call again after wait); and a *QuotaError wrapping ErrBudget, taking
// nothing, when the day's are.
func (b *Budget) Take(now time.Time) (time.Duration, error) {
	now = now.UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Format(time.DateOnly); d != b.day {
		b.day, b.used = d, 0
	}
	if b.PerDay > 0 && b.used >= b.PerDay {
		next := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
		return 0, &QuotaError{Next: next, Err: fmt.Errorf("%d requests made on %s, the daily budget: %w", b.used, b.day, ErrBudget)}
	}
	if b.PerMinute > 0 {
		i := 0
		for i < len(b.recent) && !b.recent[i].After(now.Add(-time.Minute)) {
			i++
		}
		b.recent = b.recent[i:]
		if len(b.recent) >= b.PerMinute {
			return b.recent[0].Add(time.Minute).Sub(now), nil
		}
		b.recent = append(b.recent, now)
	}
	b.used++
	return 0, nil
}

// TryTake is Take for callers that must not wait (on-demand lookups): a spent
// minute is a *QuotaError too, whose Next is when the minute frees a request.
func (b *Budget) TryTake(now time.Time) error {
	wait, err := b.Take(now)
	if err != nil || wait <= 0 {
		return err
	}
	return &QuotaError{Next: now.UTC().Add(wait), Err: fmt.Errorf("%d requests in the last minute, the per-minute budget: %w", b.PerMinute, ErrBudget)}
}

// Usage returns the UTC day ("2006-01-02") and the requests made on it.
func (b *Budget) Usage() (day string, used int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.day, b.used
}

// SetUsage sets the day's request count (restored from a feed cursor).
func (b *Budget) SetUsage(day string, used int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.day, b.used = day, used
}

// MergeUsage restores a request count recorded elsewhere (a cursor, the
// enrichment state) without losing requests made since: for the same day it
// keeps the higher count, a later day replaces an earlier one, and an earlier
// day is ignored. Days compare as "2006-01-02" strings.
func (b *Budget) MergeUsage(day string, used int) {
	if day == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case day > b.day:
		b.day, b.used = day, used
	case day == b.day:
		b.used = max(b.used, used)
	}
}

// Remaining returns the requests left in the UTC day of now; ok is false when
// PerDay is unlimited.
func (b *Budget) Remaining(now time.Time) (left int, ok bool) {
	if b.PerDay <= 0 {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.day != now.UTC().Format(time.DateOnly) {
		return b.PerDay, true
	}
	return max(b.PerDay-b.used, 0), true
}
