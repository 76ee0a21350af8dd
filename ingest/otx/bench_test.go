package otx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/otx"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// benchIOCs is the number of indicators per benchmark iteration:
// CTIBROKER_BENCH_IOCS, default 2000 (20 pulses of 100).
func benchIOCs() int {
	if n, err := strconv.Atoi(os.Getenv("CTIBROKER_BENCH_IOCS")); err == nil && n >= 100 {
		return n
	}
	return 2000
}

// benchPage renders one subscribed page of pulses of 100 indicators each, in
// OTX's shape, with values unique to seed: IPv4, domains, URLs and SHA-256
// hashes in turn, every pulse with a malware family, an adversary and ATT&CK ids.
func benchPage(seed, iocs int) []byte {
	var pulses []map[string]any
	for p := 0; p*100 < iocs; p++ {
		var inds []map[string]any
		for j := 0; j < 100; j++ {
			n := seed*iocs + p*100 + j
			var typ, val string
			switch j % 4 {
			case 0:
				typ, val = "IPv4", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
			case 1:
				typ, val = "domain", fmt.Sprintf("h%d.bench.example", n)
			case 2:
				typ, val = "URL", fmt.Sprintf("http://u%d.bench.example/p?q=%d", n, n)
			default:
				typ, val = "FileHash-SHA256", fmt.Sprintf("%064x", n)
			}
			inds = append(inds, map[string]any{"id": 7000000000 + n, "indicator": val, "type": typ, "created": "2025-06-01T00:00:00",
				"content": "", "title": "", "description": "", "expiration": nil, "is_active": 1, "role": nil})
		}
		pulses = append(pulses, map[string]any{"id": fmt.Sprintf("66%022x", seed*1000+p), "name": fmt.Sprintf("Bench pulse %d/%d", seed, p),
			"description": "synthetic", "author_name": "Bench", "modified": "2025-06-01T00:00:00", "created": "2025-06-01T00:00:00",
			"revision": 1, "tlp": "green", "public": 1, "adversary": "Fancy Bear", "indicators": inds, "tags": []string{"bench"},
			"targeted_countries": []string{}, "malware_families": []string{"BenchBot"}, "attack_ids": []string{"T1059", "T1566.001"},
			"references": []string{}, "industries": []string{"Finance"}, "extract_source": []string{}, "more_indicators": false})
	}
	b, _ := json.Marshal(map[string]any{"results": pulses, "count": len(pulses), "next": nil, "previous": nil})
	return b
}

type benchEnv struct {
	store  *bolt.Store
	runner *ingest.Runner
	conv   *otx.Converter
	cfg    ingest.FeedConfig
}

func newBenchEnv(b *testing.B) *benchEnv {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{}) // durable: fsync on commit
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.EnsureCollection(context.Background(), ingest.DefaultPool, storage.KindStored); err != nil {
		b.Fatal(err)
	}
	cfg := ingest.FeedConfig{Name: "otx-bench", Provider: "otx"}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	return &benchEnv{store: s, cfg: cfg,
		runner: &ingest.Runner{Store: s, Identity: ingesttest.Identity, Now: func() time.Time { return now }},
		conv:   &otx.Converter{Attack: ingesttest.MustAttackSample(b), Identity: ingesttest.Identity, Now: now}}
}

// ingestPage decodes and converts one page and runs it through the Runner.
func (e *benchEnv) ingestPage(b *testing.B, page []byte) *ingest.Stats {
	var batch ingest.Batch
	if _, err := e.conv.Convert(bytes.NewReader(page), &batch); err != nil {
		b.Fatal(err)
	}
	st, err := e.runner.Run(context.Background(), &ingest.Feed{Config: e.cfg, Source: ingesttest.Batches{batch}})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// cpuTime is the process's user+system CPU time: under the shared machine's load
// it moves less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baseline times a plain encoding/json decode of the same page into the OTX
// structs: the floor any converter pays.
func baseline(b *testing.B, page []byte) time.Duration {
	start := time.Now()
	var doc struct {
		Results []otx.Pulse `json:"results"`
	}
	if err := json.Unmarshal(page, &doc); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkIngestNew: new IOCs end to end (decode, normalise, convert, dedupe,
// store durably on the embedded store). Reports stored objects/s and IOCs/s, and
// the time per page as a multiple of a plain JSON decode of it.
func BenchmarkIngestNew(b *testing.B) {
	e := newBenchEnv(b)
	iocs := benchIOCs()
	var objects, obs int
	var work, cpu, base time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		page := benchPage(i, iocs)
		base += baseline(b, page)
		b.StartTimer()
		start, c0 := time.Now(), cpuTime()
		st := e.ingestPage(b, page)
		work += time.Since(start)
		cpu += cpuTime() - c0
		objects += st.New + st.Changed
		obs += st.Observations
	}
	b.ReportMetric(float64(objects)/work.Seconds(), "objects/s")
	b.ReportMetric(float64(obs)/work.Seconds(), "IOCs/s")
	b.ReportMetric(float64(objects)/cpu.Seconds(), "objects/cpu-s")
	b.ReportMetric(float64(obs)/cpu.Seconds(), "IOCs/cpu-s")
	b.ReportMetric(float64(work)/float64(base), "x_json_decode")
}

// BenchmarkIngestUnchanged: the same page again: nothing new is written.
func BenchmarkIngestUnchanged(b *testing.B) {
	e := newBenchEnv(b)
	page := benchPage(0, benchIOCs())
	e.ingestPage(b, page)
	var obs int
	var work, cpu, base time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		base += baseline(b, page)
		b.StartTimer()
		start, c0 := time.Now(), cpuTime()
		st := e.ingestPage(b, page)
		work += time.Since(start)
		cpu += cpuTime() - c0
		if st.New+st.Changed != 0 {
			b.Fatalf("unchanged page wrote: %v", st)
		}
		obs += st.Observations
	}
	b.ReportMetric(float64(obs)/work.Seconds(), "IOCs/s")
	b.ReportMetric(float64(obs)/cpu.Seconds(), "IOCs/cpu-s")
	b.ReportMetric(float64(work)/float64(base), "x_json_decode")
}

// BenchmarkConvert: decode and convert only (no store).
func BenchmarkConvert(b *testing.B) {
	conv := &otx.Converter{Attack: ingesttest.MustAttackSample(b), Identity: ingesttest.Identity}
	page := benchPage(0, benchIOCs())
	var base, work time.Duration
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		base += baseline(b, page)
		b.StartTimer()
		start := time.Now()
		var batch ingest.Batch
		if _, err := conv.Convert(bytes.NewReader(page), &batch); err != nil {
			b.Fatal(err)
		}
		work += time.Since(start)
		n += len(batch.Observations)
	}
	b.ReportMetric(float64(n)/work.Seconds(), "IOCs/s")
	b.ReportMetric(float64(work)/float64(base), "x_json_decode")
}
