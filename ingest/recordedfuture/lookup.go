package recordedfuture

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

var _ ingest.Looker = (*Source)(nil)

// lookupEntity is the Connect API entity of value v: ip (single addresses),
// domain, url, or hash (MD5, SHA-1, SHA-256, SHA-512); ok is false for others.
func lookupEntity(v ingest.Value) (entity string, ok bool) {
	switch v.Type {
	case ingest.TypeIPv4, ingest.TypeIPv6:
		return EntityIP, !strings.Contains(v.Value, "/")
	case ingest.TypeDomain:
		return EntityDomain, true
	case ingest.TypeURL:
		return EntityURL, true
	case ingest.TypeFile:
		switch v.HashAlgo {
		case ingest.HashMD5, ingest.HashSHA1, ingest.HashSHA256, ingest.HashSHA512:
			return EntityHash, true
		}
	}
	return "", false
}

// CanLookup reports whether the Connect API has entities for values of v's
// type: IP addresses, domains, URLs and hashes, whatever the feed's own risk
// list entity.
func (s *Source) CanLookup(v ingest.Value) bool {
	_, ok := lookupEntity(v)
	return ok
}

// Lookup looks v up in the Connect API (GET /v2/{entity}/{id}, see Enrich)
// within the Lookups budget, without waiting, and converts the answer with the
// feed's converter options. Errors: a *ingest.QuotaError when the budget is
// spent or Recorded Future answered 429, one wrapping ingest.ErrNotKnown (and
// ErrNotFound) for a 404, or Enrich's.
func (s *Source) Lookup(ctx context.Context, v ingest.Value) (ingest.Batch, error) {
	if _, ok := lookupEntity(v); !ok {
		return ingest.Batch{}, fmt.Errorf("recordedfuture: no lookup for %s values: %w", v.Kind(), ingest.ErrUnknownType)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.Lookups != nil {
		if err := s.Lookups.TryTake(now()); err != nil {
			return ingest.Batch{}, fmt.Errorf("recordedfuture lookup %s: %w", v.Value, err)
		}
	}
	s.lookupOnce.Do(func() {
		c := *s.Client
		base := c.http()
		retries := base.MaxRetries
		if retries == 0 || retries > 1 {
			retries = 1
		}
		c.HTTP = &ingest.HTTPClient{Client: base.Client, MaxRetries: retries, MinBackoff: base.MinBackoff,
			MaxBackoff: base.MaxBackoff, MaxWait: base.MaxWait, UserAgent: base.UserAgent, Logger: base.Logger,
			Sleep: base.Sleep, NoWait: true}
		s.lookupClient = &c
	})
	b, err := Enrich(ctx, s.lookupClient, v.Value, s.Convert)
	if errors.Is(err, ErrNotFound) {
		return ingest.Batch{}, fmt.Errorf("%w: %w", ingest.ErrNotKnown, err)
	}
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("recordedfuture lookup %s: %w", v.Value, err)
	}
	return b, nil
}

// LookupBudget returns Lookups, the budget of on-demand lookups.
func (s *Source) LookupBudget() *ingest.Budget { return s.Lookups }
