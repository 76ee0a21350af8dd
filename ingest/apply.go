package ingest

import (
	"context"
	"errors"
	"fmt"
)

// Apply makes one batch durable as feed cfg's, exactly as Run does with each
// batch a pull emits (same normalisation, authored objects, provenance under
// cfg.Name with its share level, TLP and reliability, withdrawals), without
// reading or saving the feed's cursor or state and without snapshot diffing:
// the batch of an on-demand lookup (Looker) enters the pool like any
// observation while the feed's own pulls go on. b.Cursor is ignored. cfg is
// used as given (Registry.New has validated it). It returns the batch's stats
// (also on error, counting what was made durable) and the store's or ctx's
// error.
func (r *Runner) Apply(ctx context.Context, cfg *FeedConfig, b Batch) (*Stats, error) {
	if r.Store == nil || cfg == nil {
		return nil, errors.New("ingest: Runner.Apply needs a Store and a feed config")
	}
	st := &Stats{Feed: cfg.Name}
	if r.Identity == "" && cfg.Identity != "" {
		rr := *r
		rr.Identity = cfg.Identity
		r = &rr
	}
	ru := &run{Runner: r, cfg: cfg, stats: st, start: r.now(),
		log: r.logger().With("component", "ingest", "feed", cfg.Name)}
	b.Cursor = nil
	err := ru.apply(ctx, &b)
	if err == nil {
		st.Batches++
	}
	if ferr := ru.flushProvenance(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	st.Duration = r.now().Sub(ru.start)
	if err != nil {
		return st, fmt.Errorf("feed %q: %w", cfg.Name, err)
	}
	return st, nil
}
