package mongo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
)

// TestHasProvenanceRoundTrips counts the commands HasProvenance sends, with a
// command monitor on the store's client: one find per chunk of provCheckKeys
// distinct keys (duplicates add none), a new chunk when the key strings pass
// provCheckBytes, and never a getMore (every match is in the first reply).
func TestHasProvenanceRoundTrips(t *testing.T) {
	ctx := context.Background()
	uri, _ := TestURI(t)
	base := MustOpenTemp(t, Options{})
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	var recs []storage.Provenance
	for i := 0; i < provCheckKeys+200; i++ {
		recs = append(recs, storage.Provenance{Feed: "otx", Type: "ipv4-addr", Value: fmt.Sprintf("10.0.%d.%d", i/256, i%256), Day: day})
	}
	if _, err := base.AddProvenance(ctx, recs); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	cmds := map[string]int{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		cmds[e.CommandName]++
		mu.Unlock()
	}}
	c, err := mongodrv.Connect(options.Client().ApplyURI(uri).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	s := &Store{client: c, db: c.Database(base.Database(), options.Database().SetReadPreference(readpref.Primary())), opt: base.opt}

	long := strings.Repeat("x", provCheckBytes/3)
	for _, tc := range []struct {
		name  string
		query []storage.Provenance
		finds int
		found int
	}{
		{"one key", recs[:1], 1, 1},
		{"one chunk with duplicates", append(append([]storage.Provenance{}, recs[:provCheckKeys]...), recs[:100]...), 1, provCheckKeys + 100},
		{"two chunks", recs, 2, len(recs)},
		{"byte limit", []storage.Provenance{
			{Feed: "otx", Type: "url", Value: long + "1", Day: day},
			{Feed: "otx", Type: "url", Value: long + "2", Day: day},
			{Feed: "otx", Type: "url", Value: long + "3", Day: day},
			recs[0],
		}, 2, 1},
		{"no key", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			clear(cmds)
			mu.Unlock()
			got, err := s.HasProvenance(ctx, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, b := range got {
				if b {
					n++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if n != tc.found || len(got) != len(tc.query) {
				t.Errorf("%d of %d answers true, want %d of %d", n, len(got), tc.found, len(tc.query))
			}
			if cmds["find"] != tc.finds || len(cmds) > min(tc.finds, 1) {
				t.Errorf("commands %v, want %d find and nothing else", cmds, tc.finds)
			}
		})
	}
}

// TestRunnerUnchangedRepull runs the ingest Runner on MongoDB: a second feed's
// report of stored values gets its records, and the same report again writes
// nothing and reads the provenance collection with one find for all 300 values
// (HasProvenance), not one per value.
func TestRunnerUnchangedRepull(t *testing.T) {
	ctx := context.Background()
	uri, _ := TestURI(t)
	base := MustOpenTemp(t, Options{})
	for _, c := range []string{ingest.DefaultPool, "inbox"} {
		if err := base.EnsureCollection(ctx, c, storage.KindStored); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	provFinds := 0
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" {
			if c, ok := e.Command.Lookup("find").StringValueOK(); ok && c == collProvenance {
				mu.Lock()
				provFinds++
				mu.Unlock()
			}
		}
	}}
	c, err := mongodrv.Connect(options.Client().ApplyURI(uri).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	s := &Store{client: c, db: c.Database(base.Database(), options.Database().SetReadPreference(readpref.Primary())), opt: base.opt}

	const n = 300
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	r := &ingest.Runner{Store: s, Now: func() time.Time { return now }, Identity: "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"}
	var obs []ingest.Observation
	for i := range n {
		obs = append(obs, ingest.Observation{Type: "ipv4-addr", Value: fmt.Sprintf("10.9.%d.%d", i/256, i%256)})
	}
	for _, step := range []struct {
		feed                 string
		wantNew, wantRecords int
		wantFinds            int // finds on the provenance collection, -1: not checked
	}{
		{"a", n, n, -1},
		{"b", 0, n, 1}, // objects stored: one HasProvenance find finds no record of b
		{"b", 0, 0, 1}, // the same again: every record found by one find
		{"a", 0, 0, 1},
	} {
		cfg := ingest.FeedConfig{Name: step.feed, Provider: "otx"}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		provFinds = 0
		mu.Unlock()
		st, err := r.Apply(ctx, &cfg, ingest.Batch{Observations: obs})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		finds := provFinds
		mu.Unlock()
		if st.New != step.wantNew || st.Provenance != step.wantRecords {
			t.Errorf("feed %s: %s, %d provenance records; want %d new, %d records", step.feed, st, st.Provenance, step.wantNew, step.wantRecords)
		}
		t.Logf("feed %s: %s, %d finds on provenance", step.feed, st, finds)
		if step.wantFinds >= 0 && finds != step.wantFinds {
			t.Errorf("feed %s: %d finds on the provenance collection, want %d", step.feed, finds, step.wantFinds)
		}
	}
}
