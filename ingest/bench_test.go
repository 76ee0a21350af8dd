package ingest_test

import (
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
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// benchIOCs is how many IOCs one benchmark run ingests: 20 000 by default,
// CTIBROKER_BENCH_IOCS to change it.
func benchIOCs(b *testing.B) int {
	if s := os.Getenv("CTIBROKER_BENCH_IOCS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("CTIBROKER_BENCH_IOCS=%q: want an integer ≥ 1000", s)
		}
		return n
	}
	return 20000
}

// benchBatchSize is how many IOCs one batch carries: 1000 by default (an OTX or
// TAXII page), CTIBROKER_BENCH_BATCH to change it.
func benchBatchSize() int {
	if n, err := strconv.Atoi(os.Getenv("CTIBROKER_BENCH_BATCH")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// benchSource emits n detection-worthy IOCs of mixed types in batches of
// benchBatchSize, defanged and in provider spelling, so normalisation does real
// work.
func benchSource(prefix string, n int) *sliceSource {
	benchBatch := benchBatchSize()
	src := &sliceSource{}
	for start := 0; start < n; start += benchBatch {
		obs := make([]ingest.Observation, 0, benchBatch)
		for i := start; i < min(start+benchBatch, n); i++ {
			var o ingest.Observation
			switch i % 4 {
			case 0:
				o = ingest.Observation{Type: "hostname", Value: fmt.Sprintf("Host%d[.]%s[.]example", i, prefix)}
			case 1:
				o = ingest.Observation{Type: "url", Value: fmt.Sprintf("hxxp://%s[.]example/p/%d", prefix, i)}
			case 2:
				o = ingest.Observation{Type: "sha256", Value: fmt.Sprintf("%08X%056X", hashString(prefix), i)}
			default:
				o = ingest.Observation{Type: "ip", Value: fmt.Sprintf("2001:0db8:%04x:%04x:0000:0000:0000:%04x", hashString(prefix)&0xffff, i>>16, i&0xffff)}
			}
			o.Detect = true
			o.Verdict = json.RawMessage(`{"score":80,"classification":"malicious"}`)
			o.Context = ingest.Context{Malware: []string{"Emotet"}, TLP: "green"}
			obs = append(obs, o)
		}
		src.batches = append(src.batches, ingest.Batch{Observations: obs})
	}
	return src
}

// benchConfig gives r ingest.DefaultConfig() (default valid_until, markings)
// when CTIBROKER_BENCH_DEFAULTS is set; the zero Config otherwise.
func benchConfig(r *ingest.Runner) *ingest.Runner {
	if os.Getenv("CTIBROKER_BENCH_DEFAULTS") != "" {
		r.Config = ingest.DefaultConfig()
	}
	return r
}

// cpuTime returns the process's user+system CPU time. On a shared machine the
// CPU time per IOC is steadier than wall time, so the benchmarks report both.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// openBenchStore opens a durable store (fsync at each commit).
func openBenchStore(b *testing.B) *bolt.Store {
	b.Helper()
	s, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.EnsureCollection(context.Background(), ingest.DefaultPool, storage.KindStored); err != nil {
		b.Fatal(err)
	}
	if err := s.EnsureCollection(context.Background(), "baseline", storage.KindStored); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRunNew ingests IOCs never seen before, end to end (normalise, author
// indicator + SCO + based-on + indicates Emotet, dedupe against the store,
// provenance, cursor) into
// the embedded store with fsync. Baseline, same run: PutObjects of the same number
// of ready-made objects in batches of the same size.
func BenchmarkRunNew(b *testing.B) {
	n := benchIOCs(b)
	s := openBenchStore(b)
	now := testTime
	r := benchConfig(newRunner(s, &now))
	ctx := context.Background()
	var runT, baseT, runCPU time.Duration
	objects := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src := benchSource(fmt.Sprintf("n%d", i), n)
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime(b)
		st, err := r.Run(ctx, feed(fmt.Sprintf("new%d", i), src))
		if err != nil {
			b.Fatal(err)
		}
		runT += time.Since(t0)
		runCPU += cpuTime(b) - c0
		// Per IOC: indicator, SCO, based-on, indicates Emotet; plus, in the first
		// run, the Emotet malware.
		if want := 4*n + max(0, 1-i); st.New != want {
			b.Fatalf("stored %d new objects, want %d", st.New, want)
		}
		objects += st.New

		b.StopTimer()
		batches := baselineObjects(b, fmt.Sprintf("b%d", i), 4*n+1)
		b.StartTimer()
		t0 = time.Now()
		for _, batch := range batches {
			if _, err := s.PutObjects(ctx, "baseline", batch); err != nil {
				b.Fatal(err)
			}
		}
		baseT += time.Since(t0)
	}
	iocs := float64(n * b.N)
	b.ReportMetric(float64(objects)/runT.Seconds(), "objects/s")
	b.ReportMetric(iocs/runT.Seconds(), "IOCs/s")
	b.ReportMetric(float64(objects)/runCPU.Seconds(), "objects/cpu-s")
	b.ReportMetric(float64(objects)/baseT.Seconds(), "baseline-objects/s")
	b.ReportMetric(baseT.Seconds()/runT.Seconds(), "ratio-to-baseline")
}

// baselineObjects builds count indicator-sized raw objects in batches of three
// times the IOC batch size.
func baselineObjects(b *testing.B, prefix string, count int) [][]stix.RawObject {
	benchBatch := benchBatchSize()
	ts := stix.NewTimestamp(testTime)
	var out [][]stix.RawObject
	for start := 0; start < count; start += 3 * benchBatch {
		batch := make([]stix.RawObject, 0, 3*benchBatch)
		for i := start; i < min(start+3*benchBatch, count); i++ {
			v := ingest.Value{Type: "domain-name", Value: fmt.Sprintf("%s-%d.example", prefix, i)}
			id := ingest.IndicatorID(v)
			js := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"%s","modified":"%s","pattern":%q,"pattern_type":"stix","valid_from":"%s"}`,
				id, ts, ts, ingest.Pattern(v), ts)
			c, m := ts, ts
			batch = append(batch, stix.RawObject{Common: stix.Common{Type: "indicator", SpecVersion: "2.1", ID: id, Created: &c, Modified: &m}, JSON: json.RawMessage(js)})
		}
		out = append(out, batch)
	}
	return out
}

// BenchmarkRunUnchanged re-ingests IOCs already stored the same UTC day: nothing
// may be written. Baseline, same run: QueryObjects of the IOCs' indicator ids,
// one call per batch (the one read per IOC the unchanged path cannot avoid).
func BenchmarkRunUnchanged(b *testing.B) {
	n := benchIOCs(b)
	s := openBenchStore(b)
	now := testTime
	r := benchConfig(newRunner(s, &now))
	ctx := context.Background()
	src := benchSource("u", n)
	f := feed("unchanged", src)
	if _, err := r.Run(ctx, f); err != nil {
		b.Fatal(err)
	}
	var ids [][]string
	for _, batch := range src.batches {
		var part []string
		for _, o := range batch.Observations {
			v, err := ingest.Normalize(o.Type, o.Value)
			if err != nil {
				b.Fatal(err)
			}
			part = append(part, ingest.IndicatorID(v))
		}
		ids = append(ids, part)
	}
	var runT, baseT, runCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resetCursorB(b, s, "unchanged")
		now = testTime.Add(time.Duration(i+1) * time.Minute)
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime(b)
		st, err := r.Run(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		runT += time.Since(t0)
		runCPU += cpuTime(b) - c0
		// Per IOC 4 objects, plus the Emotet malware once per batch.
		if st.New+st.Changed+st.Provenance != 0 || st.Unchanged != 4*n+len(src.batches) {
			b.Fatalf("unchanged run wrote: %+v", st)
		}
		t0 = time.Now()
		for _, part := range ids {
			if _, err := s.QueryObjects(ctx, ingest.DefaultPool, storage.Filter{IDs: part, Limit: len(part)}); err != nil {
				b.Fatal(err)
			}
		}
		baseT += time.Since(t0)
	}
	iocs := float64(n * b.N)
	b.ReportMetric(iocs/runT.Seconds(), "IOCs/s")
	b.ReportMetric(iocs/runCPU.Seconds(), "IOCs/cpu-s")
	b.ReportMetric(iocs/baseT.Seconds(), "baseline-lookup-IOCs/s")
	b.ReportMetric(baseT.Seconds()/runT.Seconds(), "ratio-to-baseline")
}

func resetCursorB(b *testing.B, s ingest.Store, name string) {
	st, err := s.FeedState(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	st.Cursor = nil
	if err := s.PutFeedState(context.Background(), st); err != nil {
		b.Fatal(err)
	}
}
