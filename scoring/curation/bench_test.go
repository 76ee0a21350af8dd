package curation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/storage"
)

// benchValues is the pool size of BenchmarkPass: 100 000, or
// CTIBROKER_BENCH_CURATION_VALUES (e.g. 1000000).
func benchValues(b *testing.B) int {
	if s := os.Getenv("CTIBROKER_BENCH_CURATION_VALUES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("CTIBROKER_BENCH_CURATION_VALUES=%q: want a positive integer", s)
		}
		return n
	}
	return 100_000
}

// BenchmarkPass measures a materialisation pass (score every pool value,
// compare with its published version, evaluate two selections) over a pool
// the real ingest runner filled: two feeds, every third value reported by
// both. The first pass, which writes every scored version and membership
// record, runs once during setup and is reported as first-pass-s; the loop
// measures the steady state of a scheduled re-run. The baseline is one scan of
// the pool's indicators (QueryObjects, all pages) in the same run:
// x-pool-scan is the pass's time over it. cpu-s/op is the process CPU time
// per pass (user and system; less distorted than wall time on a shared
// machine, but it counts bbolt's and the GC's other threads too).
func BenchmarkPass(b *testing.B) {
	n := benchValues(b)
	e := mustEnv(b)
	ctx := context.Background()
	const batch = 5000
	feed := func(name, provider, share string, every int, verdict func(i int) string) {
		var src batchSource
		var obs []ingest.Observation
		for i := 0; i < n; i += every {
			obs = append(obs, ingest.Observation{Type: "ipv4-addr", Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
				Detect: true, Verdict: json.RawMessage(verdict(i))})
			if len(obs) == batch {
				src = append(src, ingest.Batch{Observations: obs, Cursor: ingest.Cursor(strconv.Itoa(i))})
				obs = nil
			}
		}
		if len(obs) > 0 {
			src = append(src, ingest.Batch{Observations: obs, Cursor: ingest.Cursor("end")})
		}
		cfg := ingest.FeedConfig{Name: name, Provider: provider, Share: share, DefaultTLP: "green"}
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
		if _, err := e.runner.Run(ctx, &ingest.Feed{Config: cfg, Source: src}); err != nil {
			b.Fatal(err)
		}
	}
	feed("otx-a", "otx", "community", 1, func(i int) string { return `{"pulse":"p","is_active":1}` })
	feed("rf", "recordedfuture", "internal", 3, func(i int) string { return `{"risk":` + strconv.Itoa(i%100) + `,"criticality":3}` })
	c := curator()
	targets := []curation.Target{
		{Collection: "high", Selection: curation.Selection{MinBand: "high"}},
		{Collection: "community", Selection: curation.Selection{Share: "community", MinScore: 20}},
	}
	t0 := time.Now()
	st, err := c.Run(ctx, e.store, targets, testTime)
	if err != nil {
		b.Fatal(err)
	}
	first := time.Since(t0)
	if st.Values != n {
		b.Fatalf("first pass saw %d values, want %d", st.Values, n)
	}
	t0 = time.Now()
	scanned := len(records(b, e.store, ingest.DefaultPool, storage.Filter{Types: []string{"indicator"}}))
	scan := time.Since(t0)
	if scanned != n {
		b.Fatalf("scan read %d indicators, want %d", scanned, n)
	}
	cpu0 := cpuTime()
	for b.Loop() {
		st, err := c.Run(ctx, e.store, targets, testTime)
		if err != nil {
			b.Fatal(err)
		}
		if st.NewVersions != 0 || st.Values != n {
			b.Fatalf("steady pass: %d new versions over %d values", st.NewVersions, st.Values)
		}
	}
	if c := cpuTime() - cpu0; c > 0 {
		b.ReportMetric(c.Seconds()/float64(b.N), "cpu-s/op")
	}
	per := float64(b.Elapsed()) / float64(b.N)
	b.ReportMetric(per/float64(n), "ns/value")
	b.ReportMetric(per/float64(scan), "x-pool-scan")
	b.ReportMetric(first.Seconds(), "first-pass-s")
	b.ReportMetric(float64(st.Collections["high"].Members), "high-members")
	b.ReportMetric(float64(st.Collections["community"].Members), "community-members")
}
