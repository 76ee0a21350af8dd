package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/mongo"
)

// The ingest Runner's unchanged path finds the batched check by this assertion.
var _ ingest.ProvenanceChecker = (*mongo.Store)(nil)

// provCase is the records TestHasProvenance stores in both backends and the keys
// it asks about: present, absent, the same value another day, another feed,
// another type, another value, and duplicates, more distinct keys than one
// find's chunk (500) so several finds answer one call.
func provCase() (stored, query []storage.Provenance, want []bool) {
	day := func(n int) time.Time { return time.Date(2026, 3, 14+n, 0, 0, 0, 0, time.UTC) }
	feeds := []string{"otx", "misp", "abuse.ch"}
	types := []string{"ipv4-addr", "domain-name"}
	have := map[string]bool{}
	key := func(p storage.Provenance) string {
		return p.Feed + "\x00" + p.Type + "\x00" + p.Value + "\x00" + strconv.FormatInt(p.Day.UnixNano(), 10)
	}
	for v := 0; v < 60; v++ {
		for fi, f := range feeds {
			if (v+fi)%3 == 2 { // each value misses one feed
				continue
			}
			p := storage.Provenance{Feed: f, Type: types[v%2], Value: fmt.Sprintf("198.51.100.%d", v), Day: day(v % 2)}
			if v%5 == 0 {
				p.Verdict, p.Revoked = []byte(`{"score":`+strconv.Itoa(v)+`}`), v%10 == 0
			}
			stored = append(stored, p)
			have[key(p)] = true
		}
	}
	// Every combination of value, feed, type and three days: the stored day,
	// the other stored day and a day never stored.
	for v := 0; v < 62; v++ { // 60 and 61 are never stored
		for _, f := range append(feeds, "vt") {
			for _, typ := range types {
				for d := 0; d < 3; d++ {
					query = append(query, storage.Provenance{Feed: f, Type: typ, Value: fmt.Sprintf("198.51.100.%d", v), Day: day(d)})
				}
			}
		}
	}
	query = append(query, stored[7], stored[0], stored[7]) // duplicates, out of order
	query = append(query, storage.Provenance{Feed: stored[3].Feed, Type: stored[3].Type, Value: stored[3].Value, Day: stored[3].Day, Verdict: []byte("ignored"), Revoked: true})
	for _, q := range query {
		want = append(want, have[key(q)])
	}
	return stored, query, want
}

// TestHasProvenance stores the same provenance records in MongoDB and in the
// embedded store and checks that HasProvenance answers every key as bolt's
// HasProvenance does and as the stored set says, in order, duplicates included.
func TestHasProvenance(t *testing.T) {
	ctx := context.Background()
	m := mongo.MustOpenTemp(t, mongo.Options{})
	b := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	stored, query, want := provCase()
	for _, st := range []storage.ProvenanceStore{m, b} {
		if res, err := st.AddProvenance(ctx, stored); err != nil || res.Added != len(stored) {
			t.Fatalf("%T.AddProvenance = %+v, %v; want %d added", st, res, err, len(stored))
		}
	}
	got, err := m.HasProvenance(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	fromBolt, err := b.HasProvenance(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(query) || len(fromBolt) != len(query) {
		t.Fatalf("%d answers from mongo, %d from bolt, for %d records", len(got), len(fromBolt), len(query))
	}
	present := 0
	for i := range query {
		if got[i] != fromBolt[i] || got[i] != want[i] {
			t.Errorf("record %d %+v: mongo %v, bolt %v, stored %v", i, query[i], got[i], fromBolt[i], want[i])
		}
		if want[i] {
			present++
		}
	}
	if present < len(stored) || present == len(query) {
		t.Fatalf("the case is degenerate: %d of %d keys present, %d stored", present, len(query), len(stored))
	}

	// One key (no $or), and no key at all.
	for _, i := range []int{0, 1, len(query) - 1} {
		one, err := m.HasProvenance(ctx, query[i:i+1])
		if err != nil || len(one) != 1 || one[0] != want[i] {
			t.Errorf("HasProvenance(record %d alone) = %v, %v; want [%v]", i, one, err, want[i])
		}
	}
	if none, err := m.HasProvenance(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("HasProvenance(nil) = %v, %v; want [] and no error", none, err)
	}

	// A record without a key field is refused, naming its index.
	bad := append([]storage.Provenance{query[0]}, storage.Provenance{Feed: "otx", Value: "x"})
	if _, err := m.HasProvenance(ctx, bad); !errors.Is(err, storage.ErrInvalidFilter) || !strings.Contains(fmt.Sprint(err), "provenance[1]") {
		t.Errorf("a record without a type: %v; want ErrInvalidFilter naming provenance[1]", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.HasProvenance(cctx, query); err == nil {
		t.Error("a cancelled context answered")
	}
	m.Close()
	if _, err := m.HasProvenance(ctx, query[:3]); err == nil {
		t.Error("a closed store answered")
	}
}

// BenchmarkHasProvenance checks the keys of an unchanged re-pull (every key
// stored) with HasProvenance and, in the same run, with one Provenance read per
// value (what the ingest Runner does without it). CTIBROKER_BENCH_PROV_N sets
// the number of keys (default 200 on FerretDB, where every find decodes the
// whole collection, and 2000 on MongoDB).
func BenchmarkHasProvenance(b *testing.B) {
	_, flavor := mongo.TestURI(b)
	n := 2000
	if flavor == "ferretdb" {
		n = 200
	}
	if v, err := strconv.Atoi(os.Getenv("CTIBROKER_BENCH_PROV_N")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st := mongo.MustOpenTemp(b, mongo.Options{})
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	recs := make([]storage.Provenance, n)
	for i := range recs {
		recs[i] = storage.Provenance{Feed: "otx", Type: "ipv4-addr", Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), Day: day}
	}
	for i := 0; i < n; i += 1000 {
		if _, err := st.AddProvenance(ctx, recs[i:min(n, i+1000)]); err != nil {
			b.Fatal(err)
		}
	}
	var ours, base time.Duration
	for b.Loop() {
		t0 := time.Now()
		found, err := st.HasProvenance(ctx, recs)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for i, r := range recs {
			ps, err := st.Provenance(ctx, r.Type, r.Value)
			if err != nil || len(ps) != 1 || !found[i] {
				b.Fatalf("key %d: HasProvenance %v, Provenance %d records, %v", i, found[i], len(ps), err)
			}
		}
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	keys := float64(b.N * n)
	b.ReportMetric(keys/ours.Seconds(), "keys/s")
	b.ReportMetric(keys/base.Seconds(), "per-value-keys/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "speedup")
	b.ReportMetric(float64(n), "keys")
}
