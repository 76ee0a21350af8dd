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
