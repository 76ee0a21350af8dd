package curation_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// testTime is the fixed clock of the ingest runs.
var testTime = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const identity = "identity--8f6f0bd2-4d0c-4f9e-9a43-0c6d0f5e3b11"

// batchSource is a tiny ingest.Source that emits its batches once.
type batchSource []ingest.Batch

func (s batchSource) Pull(ctx context.Context, _ ingest.Cursor, emit func(ingest.Batch) error) error {
	for _, b := range s {
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// env is a real bolt store with a pool filled by the real ingest.Runner.
type env struct {
	tb     testing.TB
	store  *bolt.Store
	runner *ingest.Runner
	now    time.Time
}

func mustEnv(tb testing.TB) *env {
	tb.Helper()
	st := bolt.MustOpen(tb, filepath.Join(tb.TempDir(), "db"))
	ctx := context.Background()
	if err := st.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
		tb.Fatal(err)
	}
	e := &env{tb: tb, store: st, now: testTime}
	e.runner = &ingest.Runner{Store: st, Identity: identity, Now: func() time.Time { return e.now }}
	// The instance identity lives in the pool, as cmd seeds it.
	created := stix.NewTimestamp(testTime.Add(-24 * time.Hour))
	idJSON, _ := json.Marshal(map[string]any{"type": "identity", "spec_version": "2.1", "id": identity,
		"created": created, "modified": created, "name": "ctibroker test", "identity_class": "system"})
	if _, err := st.PutObjects(ctx, ingest.DefaultPool, []stix.RawObject{{JSON: idJSON}}); err != nil {
		tb.Fatal(err)
	}
	return e
}

// ingest runs one feed over observations with the real runner.
func (e *env) ingest(name, provider, share, tlp string, obs ...ingest.Observation) {
	e.tb.Helper()
	cfg := ingest.FeedConfig{Name: name, Provider: provider, Share: share, DefaultTLP: tlp}
	if err := cfg.Validate(); err != nil {
		e.tb.Fatal(err)
	}
	if _, err := e.runner.Run(context.Background(), &ingest.Feed{Config: cfg,
		Source: batchSource{{Observations: obs, Cursor: ingest.Cursor("c")}}}); err != nil {
		e.tb.Fatal(err)
	}
}

// records returns the last versions in a collection (all pages).
func records(tb testing.TB, st storage.Store, coll string, f storage.Filter) []storage.Record {
	tb.Helper()
	var out []storage.Record
	for {
		p, err := st.QueryObjects(context.Background(), coll, f)
		if err != nil {
			tb.Fatalf("QueryObjects(%s): %v", coll, err)
		}
		out = append(out, p.Records...)
		if !p.More {
			return out
		}
		f.Next = p.Next
	}
}

// indicatorValues returns the indicator values (their names) among recs, by
// value, with the record.
func indicatorValues(tb testing.TB, recs []storage.Record) map[string]storage.Record {
	tb.Helper()
	out := map[string]storage.Record{}
	for _, r := range recs {
		if r.Type != "indicator" {
			continue
		}
		var d struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(r.JSON, &d); err != nil {
			tb.Fatal(err)
		}
		out[d.Name] = r
	}
	return out
}

var _ curation.Store = (*bolt.Store)(nil)
