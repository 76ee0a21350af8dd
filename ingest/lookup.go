package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Looker is a Source whose provider can also look single values up on demand
// (on-demand enrichment, package ingest/enrich). The answer is converted by the
// provider's own converter into the batch a pull reporting the value would give,
// and the Runner applies it as the feed's batch (Runner.Apply). Lookups spend the
// same request budget as the feed's pulls.
type Looker interface {
	Source
	// CanLookup reports whether the provider can look values of v's type up.
	CanLookup(v Value) bool
	// Lookup asks the provider about v, without waiting for quota. Errors: one
	// wrapping ErrNotKnown when the provider does not know v, a *QuotaError when
	// the local budget is spent or the provider refused for quota (429), or
	// another error (network, credentials, a malformed answer).
	Lookup(ctx context.Context, v Value) (Batch, error)
	// LookupBudget returns the request budget lookups spend (for VirusTotal the
	// one its pulls spend too), so that its usage can be kept across restarts;
	// nil when lookups are unlimited.
	LookupBudget() *Budget
}

// UsageRestorer is implemented by Lookers whose feed cursor records the request
// budget's usage (VirusTotal keeps the day's request count in its cursor): the
// enricher hands it the feed's saved cursor, so that lookups in a process that
// has not pulled the feed still count the pulls' requests.
type UsageRestorer interface {
	RestoreUsage(cur Cursor)
}

// ErrNotKnown is wrapped by Looker.Lookup's error when the provider does not
// know the value (an HTTP 404 to a lookup).
var ErrNotKnown = errors.New("the provider does not know the value")

// QuotaError is a lookup (or request) refused for quota: the local budget
// (Budget) is spent, or the provider answered 429. It wraps ErrBudget or
// ErrRateLimited.
type QuotaError struct {
	// Next is when a request is allowed again: the end of the minute or UTC day
	// of the local budget, or the provider's Retry-After. Zero: unknown.
	Next time.Time
	// Err says which quota, wrapping ErrBudget or ErrRateLimited.
	Err error
}

// Error says which quota and when the next request is allowed.
func (e *QuotaError) Error() string {
	if e.Next.IsZero() {
		return fmt.Sprintf("quota exhausted: %v", e.Err)
	}
	return fmt.Sprintf("quota exhausted, next at %s: %v", e.Next.UTC().Format(time.RFC3339), e.Err)
}

// Unwrap returns Err.
func (e *QuotaError) Unwrap() error { return e.Err }
