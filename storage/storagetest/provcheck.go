package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/storage"
)

// provenanceChecker is ingest.ProvenanceChecker (declared there, not in
// storage): the batched check the ingest Runner's unchanged path uses when a
// store has it.
type provenanceChecker interface {
	HasProvenance(ctx context.Context, recs []storage.Provenance) ([]bool, error)
}

// testHasProvenance: a record is found by its exact key (Feed, Type, Value,
// Day) whatever its verdict, answers keep the order of the request with
// duplicates, another feed, day, type or value is not found, a pruned record is
// gone, and a record without a feed is refused. A store without HasProvenance
// (optional) skips.
func testHasProvenance(t *testing.T, s *Suite) {
	st := s.open(t)
	ps := as[storage.ProvenanceStore](t, st)
	pc, ok := st.(provenanceChecker)
	if !ok {
		t.Skipf("%T has no HasProvenance (optional)", st)
	}
	day := func(n int) time.Time { return time.Date(2024, 5, 1+n, 0, 0, 0, 0, time.UTC) }
	stored := []storage.Provenance{
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2), Verdict: []byte(`{"score":7}`)},
		{Feed: "misp", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(0), Revoked: true},
		{Feed: "otx", Type: "domain-name", Value: "example.com", Day: day(1)},
	}
	if _, err := ps.AddProvenance(ctx, stored); err != nil {
		t.Fatal(err)
	}
	q := []storage.Provenance{
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2)},                // stored
		{Feed: "misp", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2)},               // another feed that day
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(1)},                // another day
		{Feed: "otx", Type: "domain-name", Value: "192.0.2.1", Day: day(2)},              // another type
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.2", Day: day(2)},                // another value
		{Feed: "misp", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(0)},               // stored (revoked)
		{Feed: "otx", Type: "domain-name", Value: "example.com", Day: day(1)},            // stored
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2)},                // a duplicate
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2), Revoked: true}, // Revoked is not part of the key
	}
	check := func(when string, want []bool) {
		t.Helper()
		got, err := pc.HasProvenance(ctx, q)
		if err != nil {
			t.Fatalf("HasProvenance %s: %v", when, err)
		}
		if len(got) != len(want) {
			t.Fatalf("HasProvenance %s: %d answers for %d records", when, len(got), len(q))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("HasProvenance %s: record %d %+v: %v, want %v", when, i, q[i], got[i], want[i])
			}
		}
	}
	check("", []bool{true, false, false, false, false, true, true, true, true})
	if _, err := ps.PruneProvenance(ctx, day(1)); err != nil {
		t.Fatal(err)
	}
	check("after pruning day 0", []bool{true, false, false, false, false, false, true, true, true})
	if got, err := pc.HasProvenance(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("HasProvenance(nil) = %v, %v; want no answer and no error", got, err)
	}
	if _, err := pc.HasProvenance(ctx, []storage.Provenance{q[0], {Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2)}}); err == nil {
		t.Error("HasProvenance accepted a record without a feed")
	}
}
