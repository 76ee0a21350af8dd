package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
)

// MISPFeedConfig is the `misp_feed:` section: every collection a consumer may
// read is also a MISP feed at /{root}/collections/{id|alias}/misp/ (manifest.json,
// <uuid>.json, hashes.csv), its STIX converted to MISP events (ingest/misp Export).
//
//	misp_feed:
//	  enabled: true          # default
//	  max_attributes: 5000   # per event; larger events are split in parts
//	  grouping: collection   # indicators outside any report: one event per day and TLP (or single)
//	  cache_bytes: 268435456 # memory for built feeds
//	  max_age: 1h            # rebuild an unchanged feed this often (valid_until moves on)
type MISPFeedConfig struct {
	// Enabled serves the feeds (default true).
	Enabled *bool `yaml:"enabled"`
	// MaxAttributes caps the attributes of one event (default 5000).
	MaxAttributes int `yaml:"max_attributes"`
	// Grouping is how indicators and observables outside any report or
	// grouping become events: "collection" (default: one event per UTC day
	// of date_added and TLP) or "single" (one event for all).
	Grouping string `yaml:"grouping"`
	// CacheBytes bounds the memory of the built feeds kept (default 256 MiB).
	CacheBytes int64 `yaml:"cache_bytes"`
	// MaxAge is how long a built feed is served while its collection is unchanged (default 1h).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxObjects is the largest collection served as a MISP feed (default 250 000).
	MaxObjects int64 `yaml:"max_objects"`
}

func (c *MISPFeedConfig) validate() error {
	switch {
	case c.MaxAttributes < 0:
		return fmt.Errorf("misp_feed.max_attributes %d: must not be negative", c.MaxAttributes)
	case c.CacheBytes < 0:
		return fmt.Errorf("misp_feed.cache_bytes %d: must not be negative", c.CacheBytes)
	case c.MaxObjects < 0:
		return fmt.Errorf("misp_feed.max_objects %d: must not be negative", c.MaxObjects)
	case c.MaxAge < 0:
		return fmt.Errorf("misp_feed.max_age %s: must not be negative", c.MaxAge)
	}
	switch c.Grouping {
	case "", misp.GroupCollection, misp.GroupSingle:
	default:
		return fmt.Errorf("misp_feed.grouping %q: want %s or %s", c.Grouping, misp.GroupCollection, misp.GroupSingle)
	}
	return nil
}

// mispFeed builds taxii.Deps.MISPFeed: the instance as the events' creator
// org, the MISP attribute types and TLP levels the pool's provenance records
// (so a MISP value keeps its type through ctibroker), and the ATT&CK objects
// of the store for galaxy clusters.
func mispFeed(cfg *Config, store storage.Store) taxii.MISPFeed {
	fc := cfg.MISPFeed
	if fc.Enabled != nil && !*fc.Enabled {
		return taxii.MISPFeed{}
	}
	f := taxii.MISPFeed{
		Org:           misp.Org{Name: cfg.Identity.Name, UUID: strings.TrimPrefix(cfg.Identity.ID, "identity--")},
		MaxAttributes: fc.MaxAttributes,
		CacheBytes:    fc.CacheBytes,
		MaxAge:        fc.MaxAge,
		MaxObjects:    fc.MaxObjects,
	}
	if fc.Grouping == misp.GroupSingle {
		f.Grouping = misp.GroupSingle // "" is GroupCollection
	}
	ctx := context.Background() // lookups during a feed build, which outlives its request
	if prov, ok := unwrap(store).(storage.ProvenanceStore); ok {
		verdicts := func(kind, value string) [][]byte {
			recs, err := prov.Provenance(ctx, kind, value)
			if err != nil {
				return nil
			}
			vs := make([][]byte, len(recs))
			for i, r := range recs {
				vs[i] = r.Verdict
			}
			return vs
		}
		f.Native = func(kind, value string) (string, string, bool) { return misp.NativeOf(verdicts(kind, value)...) }
		f.TLP = func(kind, value string) (stix.TLP, bool) { return misp.ProvenanceTLP(verdicts(kind, value)...) }
	}
	f.Lookup = func(id string) (stix.RawObject, bool) {
		page, err := store.GetObject(ctx, AttackCollection, id, storage.Filter{})
		if err != nil || len(page.Records) == 0 {
			return stix.RawObject{}, false // ErrNotFound or an unreadable store: no cluster
		}
		o, err := stix.ParseRaw(page.Records[len(page.Records)-1].JSON)
		if err != nil {
			return stix.RawObject{}, false
		}
		return *o, true
	}
	return f
}
