package ingest

import (
	"log/slog"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// Author returns the objects the Runner authors for observations whose values
// are not stored yet, without a store: per value its SCO, and for a
// detection-worthy value its indicator, the based-on relationship and the
// indicates relationships and context SDOs of its Context (resolved through
// cfg.Attack), with created and modified set to now. The bytes are those the
// Runner writes, in a deterministic order (values in input order); the same
// input gives the same output. Withdrawn values (Observation.Revoked) author
// nothing. Invalid values and unresolvable context are returned as warnings.
// `ctibroker convert` uses it to emit what an import would author. An empty
// identity means cfg.Identity.
func Author(cfg FeedConfig, identity string, now time.Time, in []Observation) ([]stix.RawObject, []Warning, error) {
	return AuthorWith(Config{}, cfg, identity, now, in)
}

// AuthorWith is Author for a Runner whose Config is c (default valid_until,
// markings): the bytes a Runner with that Config writes.
func AuthorWith(c Config, cfg FeedConfig, identity string, now time.Time, in []Observation) ([]stix.RawObject, []Warning, error) {
	var warns []Warning
	if identity == "" {
		identity = cfg.Identity
	}
	ru := &run{Runner: &Runner{Identity: identity, Config: c}, cfg: &cfg, stats: &Stats{Feed: cfg.Name},
		log: slog.New(slog.DiscardHandler), warnings: &warns}
	now = now.UTC()
	accepted := ru.accept(in, now)
	order := ru.collectValues(accepted, latestPerFeed(accepted))
	for _, w := range order {
		if w.revoked {
			continue
		}
		w.scoID = ObservableID(w.v)
		if w.detect {
			w.pattern = Pattern(w.v)
			w.indID = indicatorID(w.pattern)
			w.relID = relationshipID("based-on", w.indID, w.scoID)
		}
	}
	sdos, rels := ru.contextObjects(order)
	objs, err := ru.build(order, sdos, rels, nil, stix.NewTimestamp(now))
	return objs, warns, err
}
