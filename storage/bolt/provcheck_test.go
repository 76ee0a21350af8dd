package bolt_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// TestHasProvenance: a record is found by its exact key, whatever its verdict;
// another feed, day or value is not; a closed store is an error.
func TestHasProvenance(t *testing.T) {
	ctx := context.Background()
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	rec := storage.Provenance{Feed: "a", Type: "ipv4-addr", Value: "198.51.100.7", Day: day, Verdict: []byte(`{"x":1}`)}
	if _, err := s.AddProvenance(ctx, []storage.Provenance{rec, {Feed: "a", Type: "ipv4-addr", Value: "198.51.100.7", Day: day.Add(time.Second), Revoked: true}}); err != nil {
		t.Fatal(err)
	}
	q := []storage.Provenance{
		{Feed: "a", Type: "ipv4-addr", Value: "198.51.100.7", Day: day},                  // stored
		{Feed: "a", Type: "ipv4-addr", Value: "198.51.100.7", Day: day.Add(time.Second)}, // stored (a same-day change)
		{Feed: "b", Type: "ipv4-addr", Value: "198.51.100.7", Day: day},                  // another feed
		{Feed: "a", Type: "ipv4-addr", Value: "198.51.100.7", Day: day.Add(24 * time.Hour)},
		{Feed: "a", Type: "ipv4-addr", Value: "198.51.100.8", Day: day},
		{Feed: "a", Type: "domain-name", Value: "198.51.100.7", Day: day},
	}
	got, err := s.HasProvenance(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, false, false, false}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d (%+v): got %v, want %v", i, q[i], got[i], want[i])
		}
	}
	if _, err := s.HasProvenance(ctx, []storage.Provenance{{Type: "ipv4-addr", Value: "x"}}); err == nil {
		t.Error("a record without a feed was accepted")
	}
	s.Close()
	if _, err := s.HasProvenance(ctx, q); err == nil {
		t.Error("a closed store answered")
	}
}
