package feedquality_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/operate/feedquality"
	"github.com/ctibroker/ctibroker/storage"
)

// benchValues is the pool size of BenchmarkReport: 20 000 by default,
// FEEDQUALITY_BENCH_VALUES=100000 for the figure in the package's notes.
func benchValues(b *testing.B) int {
	if s := os.Getenv("FEEDQUALITY_BENCH_VALUES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("FEEDQUALITY_BENCH_VALUES=%q: want a positive integer", s)
		}
		return n
	}
	return 20_000
}

// BenchmarkReport reports on n values written as provenance directly (six
// feeds, 1–3 reports per value over 60 days, one value in ten withdrawn by a
// feed, one in fifty sighted, one in two hundred with a false positive). The
// baseline is the bare ScanProvenance over the same store in the same run;
// "x-scan" is the report's cost as a multiple of it.
func BenchmarkReport(b *testing.B) {
	n := benchValues(b)
	st := ingesttest.MustStore(b)
	ctx := context.Background()
	feeds := []string{"otx-a", "rf", "vt", "misp-x", "maltiverse", "abuse"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	asOf := start.Add(60 * 24 * time.Hour)
	var recs []storage.Provenance
	var sg []storage.Sighting
	flush := func() {
		if _, err := st.AddProvenance(ctx, recs); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
		if len(sg) > 0 {
			if _, err := st.AddSightings(ctx, sg); err != nil {
				b.Fatal(err)
			}
			sg = sg[:0]
		}
	}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		k := 1 + i%3
		for j := 0; j < k; j++ {
			d := start.Add(time.Duration((i+7*j)%60) * 24 * time.Hour)
			recs = append(recs, storage.Provenance{Feed: feeds[(i+j)%len(feeds)], Type: "ipv4-addr", Value: v, Day: d,
				Verdict: []byte(`{"detect":true,"share":"community","seen":"2026-01-01T00:00:00.000Z"}`)})
		}
		if i%10 == 0 {
			recs = append(recs, storage.Provenance{Feed: feeds[i%len(feeds)], Type: "ipv4-addr", Value: v, Day: asOf, Revoked: true})
		}
		if i%50 == 0 {
			sg = append(sg, storage.Sighting{ID: "s" + strconv.Itoa(i), Type: "ipv4-addr", Value: v, Source: "edr", Internal: true,
				Count: 1, FirstSeen: asOf.Add(-time.Hour), LastSeen: asOf.Add(-time.Hour)})
		}
		if i%200 == 0 {
			sg = append(sg, storage.Sighting{ID: "f" + strconv.Itoa(i), Type: "ipv4-addr", Value: v, Source: "soc", FalsePositive: true,
				Count: 1, FirstSeen: asOf})
		}
		if len(recs) >= 20_000 {
			flush()
		}
	}
	flush()
	var scanNs float64
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			got := 0
			if err := st.ScanProvenance(ctx, func(r []storage.Provenance) error { got++; return nil }); err != nil {
				b.Fatal(err)
			}
			if got != n {
				b.Fatalf("scanned %d values, want %d", got, n)
			}
		}
		scanNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(n), "values")
	})
	for _, tc := range []struct {
		name  string
		store storage.ProvenanceStore
	}{{"report", st}, {"report-no-sightings", provOnly{st, st}}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s, err := feedquality.Report(ctx, tc.store, nil, asOf, 30*24*time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				if len(s.Feeds) != len(feeds) {
					b.Fatalf("%d feeds, want %d", len(s.Feeds), len(feeds))
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(n)/(ns/1e9), "values/s")
			if scanNs > 0 {
				b.ReportMetric(ns/scanNs, "x-scan")
			}
		})
	}
}
