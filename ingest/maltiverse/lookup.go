package maltiverse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

var _ ingest.Looker = (*Source)(nil)

// CanLookup reports whether Maltiverse files values of v's type: IP addresses
// (not CIDR blocks), domains (as hostnames), URLs (by checksum), e-mail
// addresses, and MD5, SHA-1, SHA-256 and SHA-512 hashes (as samples).
func (s *Source) CanLookup(v ingest.Value) bool {
	_, ok := lookupPath(v)
	return ok
}

// Lookup looks v up (GET /ip, /hostname, /url, /sample or /email) within the
// Lookups budget, without waiting, and converts the answer with the feed's
// converter: the batch a collection download holding the document would give.
// Errors: a *ingest.QuotaError when the budget is spent or Maltiverse answered
// 429, one wrapping ingest.ErrNotKnown (and ErrNotFound) for a 404, or the
// client's.
func (s *Source) Lookup(ctx context.Context, v ingest.Value) (ingest.Batch, error) {
	path, ok := lookupPath(v)
	if !ok {
		return ingest.Batch{}, fmt.Errorf("maltiverse: no lookup for %s values: %w", v.Kind(), ingest.ErrUnknownType)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.Lookups != nil {
		if err := s.Lookups.TryTake(now()); err != nil {
			return ingest.Batch{}, fmt.Errorf("maltiverse lookup %s: %w", v.Value, err)
		}
	}
	raw, err := s.Client.get(ctx, path, true)
	if errors.Is(err, ErrNotFound) {
		return ingest.Batch{}, fmt.Errorf("%w: %w", ingest.ErrNotKnown, err)
	}
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("maltiverse lookup %s: %w", v.Value, err)
	}
	conv, err := NewConverter(s.Convert)
	if err != nil {
		return ingest.Batch{}, err
	}
	conv.AddRaw("lookup "+path, raw)
	var b ingest.Batch
	b.Objects, b.Observations, b.Warnings = conv.Flush()
	return b, nil
}

// LookupBudget returns Lookups, the budget of on-demand lookups.
func (s *Source) LookupBudget() *ingest.Budget { return s.Lookups }
