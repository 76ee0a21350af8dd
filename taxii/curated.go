package taxii

import (
	"context"
	"fmt"

	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// A curated collection with a selection is materialised once per distinct
// consumer limit (scoring/curation, "Sharing"): a consumer reading collection
// X is served the tier collection curation.TierID(X, selection,
// curation.LimitsOf(consumer)), which is X itself when the consumer's limits
// do not narrow the selection. The consumer only ever sees X: its id in the
// listing, in metrics and in the `next` cursors (which stay bound to X and the
// consumer, so a cursor keeps working while the consumer's limits do).

// physical returns the store collection that serves col to cons: the tier
// collection for a curated collection with a selection, else col.ID. A tier
// collection the curation pass has not written yet is created empty, so it
// reads as an empty page rather than 404.
func (s *Server) physical(ctx context.Context, cons *auth.Consumer, col *Collection) (string, error) {
	if col.Kind != storage.KindCurated || col.Selection == nil {
		return col.ID, nil
	}
	id := curation.TierID(col.ID, *col.Selection, curation.LimitsOf(cons))
	if id == col.ID {
		return id, nil
	}
	if _, ok := s.tiers.Load(id); ok {
		return id, nil
	}
	if err := s.store.EnsureCollection(ctx, id, storage.KindCurated); err != nil {
		return "", fmt.Errorf("tier collection %s of %s: %w", id, col.ID, err)
	}
	s.tiers.Store(id, true)
	return id, nil
}

// CurationTargets returns the targets a curation pass must materialise for
// the curated collections of c that have a selection: for each, the
// collection itself and one tier per distinct limit (curation.Tiers) among
// the consumers that may read it (consumers, plus anonymous callers for a
// public collection). Pass every configured consumer; the ones without a read
// grant on a collection do not count for it.
func (c Config) CurationTargets(consumers []*auth.Consumer) []curation.Target {
	var out []curation.Target
	for i := range c.Collections {
		col := &c.Collections[i]
		if col.Kind != storage.KindCurated || col.Selection == nil {
			continue
		}
		var limits []curation.Limits
		if col.Public {
			limits = append(limits, curation.LimitsOf(auth.Anonymous()))
		}
		for _, cons := range consumers {
			if cons != nil && canRead(cons, col) {
				limits = append(limits, curation.LimitsOf(cons))
			}
		}
		out = append(out, curation.Tiers(col.ID, *col.Selection, limits...)...)
	}
	return out
}

// CuratedSelections returns the selections of the curated collections of c,
// for curation.Floor.
func (c Config) CuratedSelections() []curation.Selection {
	var out []curation.Selection
	for _, col := range c.Collections {
		if col.Kind == storage.KindCurated && col.Selection != nil {
			out = append(out, *col.Selection)
		}
	}
	return out
}
