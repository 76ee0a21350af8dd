package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/enrich"
	"github.com/ctibroker/ctibroker/storage"
)

// newEnricher builds the on-demand enricher over the pipeline's feeds (the
// same Feed values the scheduler pulls, so a provider's request budget is one)
// and its Runner: answers enter the pool as observations of the feed that
// looked them up. A background lookup that wrote something calls wrote (serve:
// a curation pass). nil when no configured feed can look values up.
func newEnricher(m *Main, pipe *pipeline, logger *slog.Logger, wrote func()) (*enrich.Enricher, error) {
	en, err := enrich.New(pipe.runner, pipe.built, enrich.Config{Now: m.now, Logger: logger.With("component", "enrich"),
		OnResult: func(res *enrich.Result, err error) {
			// the enricher logs every outcome itself (Run); here only the pass it calls for
			if err != nil || res == nil || wrote == nil {
				return
			}
			for _, p := range res.Providers {
				if len(p.Objects) > 0 {
					wrote()
					return
				}
			}
		}})
	if err != nil {
		return nil, err
	}
	if len(en.Feeds()) == 0 {
		return nil, nil
	}
	return en, nil
}

// enrichSighted queues for lookup the values of internal sightings (not
// false-positive reports) that no feed has reported: what the SOC saw and no
// provider has told us about is worth a lookup; values the pool knows are
// re-scored by the sighting alone, which spends no quota.
func enrichSighted(ctx context.Context, store storage.Store, en *enrich.Enricher, sightings []storage.Sighting, logger *slog.Logger) {
	if en == nil {
		return
	}
	prov, ok := unwrap(store).(storage.ProvenanceStore)
	if !ok {
		return
	}
	for _, s := range sightings {
		if !s.Internal || s.FalsePositive {
			continue
		}
		if recs, err := prov.Provenance(ctx, s.Type, s.Value); err != nil || len(recs) > 0 {
			continue
		}
		if !en.Submit(s.Type, s.Value) {
			logger.Warn("enrichment queue full; sighted value not looked up", "type", s.Type, "value", s.Value)
		}
	}
}

// enrichValue looks v up for explain --enrich: through serve's enricher when
// the verb runs inside serve (one budget per provider), else through one built
// from the configuration. It prints one line per provider (to stderr under
// --json, so the JSON stays whole).
func (m *Main) enrichValue(ctx context.Context, cfg *Config, store storage.Store, v ingest.Value, asJSON bool) error {
	en := m.enricher
	if en == nil {
		is, err := ingestStore(store)
		if err != nil {
			return err
		}
		if err := store.EnsureCollection(ctx, cfg.pool(), storage.KindStored); err != nil {
			return err
		}
		ix, err := attackIndex(ctx, store, AttackCollection)
		if err != nil {
			return err
		}
		logger := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		pipe := &pipeline{cfg: cfg, runner: m.runner(is, cfg), attack: ix}
		pipe.built, _ = buildFeeds(m, cfg, ix, logger) // failures are logged
		if en, err = newEnricher(m, pipe, logger, nil); err != nil {
			return err
		}
	}
	if en == nil {
		return errors.New("no enabled feed can look values up (maltiverse, virustotal, recordedfuture)")
	}
	kind := v.Type
	if v.Type == ingest.TypeFile {
		kind = v.Kind()
	}
	res, err := en.Enrich(ctx, kind, v.Value)
	if err != nil {
		return err
	}
	w := m.Stdout
	if asJSON {
		w = m.Stderr
	}
	for _, p := range res.Providers {
		fmt.Fprintf(w, "enrich: %s\n", p.String())
	}
	return nil
}
