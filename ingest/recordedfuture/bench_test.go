package recordedfuture_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// benchRows is the size of the generated list: 20 000 rows by default,
// RF_BENCH_ROWS for more (the figure is for 100 000).
func benchRows(b *testing.B) int {
	if s := os.Getenv("RF_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("RF_BENCH_ROWS=%q: want an integer ≥ 100", s)
		}
		return n
	}
	return 20000
}

// benchList generates a risk list of n rows from a fixture's columns: by
// default an IP list from the synthetic fixture testdata/ip_default, each row
// taking the Risk, RiskString and EvidenceDetails of a fixture row in turn (3 of
// 4 at or above the threshold) with a distinct address. With
// RF_BENCH_FIXTURE=shared the rows take the columns of the real domain list of
// the shared reference set (../shared/testdata/providers/recordedfuture/
// risklist_domain_default.csv, whose EvidenceDetails are about 2 KB a row;
// skipped when absent), with distinct addresses all the same (the evidence is
// what weighs). upper writes the header in upper case, so the same rows give
// other bytes (another digest).
func benchList(b *testing.B, n int, upper bool) []byte {
	b.Helper()
	fixture := "testdata/ip_default/input.csv"
	if os.Getenv("RF_BENCH_FIXTURE") == "shared" {
		fixture = ingesttest.MustShared(b, "testdata/providers/recordedfuture/risklist_domain_default.csv")
	}
	rows, err := csv.NewReader(bytes.NewReader(ingesttest.MustRead(b, fixture))).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := rows[0]
	if upper {
		head = []string{"NAME", "RISK", "RISKSTRING", "EVIDENCEDETAILS"}
	}
	w.Write(head)
	for i := 0; i < n; i++ {
		r := rows[1+i%(len(rows)-1)]
		w.Write([]string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), r[1], r[2], r[3]})
	}
	w.Flush()
	return buf.Bytes()
}

// cpuTime returns the process's user+system CPU time: on a shared machine the
// CPU time is steadier than wall time, so the benchmark reports both.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// csvBaseline is the plain parse of the same bytes: encoding/csv, every record.
func csvBaseline(b *testing.B, body []byte) time.Duration {
	b.Helper()
	t0 := time.Now()
	cr := csv.NewReader(bytes.NewReader(body))
	cr.ReuseRecord = true
	n := 0
	for {
		_, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n == 0 {
		b.Fatal("empty")
	}
	return time.Since(t0)
}

// BenchmarkIngest pulls a generated IP risk list from a loopback replaying
// server through Source and the real Runner into the durable embedded store
// (bolt, fsync per commit), five times per iteration:
//   - new: every value is new (indicator + SCO + based-on, or the SCO alone
//     below the threshold), reported as stored objects/s and rows/s;
//   - unchanged-304: the same list again, answered 304 on its ETag;
//   - unchanged-digest: the same list from a server without validators:
//     downloaded, spooled and hashed, then skipped on its digest;
//   - unchanged-reparse: the same rows as other bytes (header in upper case),
//     so the digest differs and every row is parsed, converted and checked
//     against the store, writing nothing (an hourly pull of a list whose
//     evidence moved but whose values did not);
//   - unchanged-next-day: the same list a UTC day later, emitted again so that
//     each value gets the day's provenance record (and nothing else).
//
// The baselines, in the same run, are encoding/csv reading the same bytes and
// PutObjects of as many ready-made objects as the new ingest stored (the
// ingest package's BenchmarkRunNew baseline). RF_BENCH_ROWS sets the rows
// (20 000 by default; the figure is for 100 000), RF_BENCH_FIXTURE=shared
// the fixture (see benchList). The machine is shared by several builds: the
// figures are noisy.
func BenchmarkIngest(b *testing.B) {
	n := benchRows(b)
	body := benchList(b, n, false)
	again := benchList(b, n, true)
	r := newReplay(b)
	key := "/v2/ip/risklist?list=default"
	ctx := context.Background()
	var newT, t304, tDigest, reparseT, nextDayT, baseT, putT, newCPU, reparseCPU time.Duration
	objects, baseObjects := 0, 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []string{ingest.DefaultPool, "baseline"} {
			if err := s.EnsureCollection(ctx, c, storage.KindStored); err != nil {
				b.Fatal(err)
			}
		}
		r.setList(key, body)
		feed := &ingest.Feed{Config: ingest.FeedConfig{Name: "rf-ip", Provider: recordedfuture.Provider}}
		if err := feed.Config.Validate(); err != nil {
			b.Fatal(err)
		}
		src := &recordedfuture.Source{Client: &recordedfuture.Client{BaseURL: r.srv.URL, Token: testToken},
			Entity: "ip", Convert: recordedfuture.Options{Feed: "rf-ip", Identity: ingesttest.Identity, Entity: "ip"}}
		feed.Source = src
		now := ingesttest.Time
		src.Now = func() time.Time { return now }
		run := &ingest.Runner{Store: s, Now: func() time.Time { return now }, Identity: ingesttest.Identity}
		baseT += csvBaseline(b, body)
		b.StartTimer()

		t0, c0 := time.Now(), cpuTime(b)
		st, err := run.Run(ctx, feed)
		newT, newCPU = newT+time.Since(t0), newCPU+cpuTime(b)-c0
		if err != nil || st.Observations != n {
			b.Fatalf("new: %v %s", err, st)
		}
		objects += st.New

		t0 = time.Now()
		st, err = run.Run(ctx, feed)
		t304 += time.Since(t0)
		if err != nil || st.Batches != 0 {
			b.Fatalf("unchanged 304: %v %s", err, st)
		}

		// The same bytes from a server without validators: the digest decides.
		r.mu.Lock()
		r.plain = true
		r.mu.Unlock()
		t0 = time.Now()
		st, err = run.Run(ctx, feed)
		tDigest += time.Since(t0)
		if err != nil || st.Batches != 0 {
			b.Fatalf("unchanged digest: %v %s", err, st)
		}

		b.StopTimer()
		r.mu.Lock()
		r.plain = false
		r.mu.Unlock()
		r.setList(key, again)
		b.StartTimer()
		t0, c0 = time.Now(), cpuTime(b)
		st, err = run.Run(ctx, feed)
		reparseT, reparseCPU = reparseT+time.Since(t0), reparseCPU+cpuTime(b)-c0
		if err != nil || st.Observations != n || st.New+st.Changed+st.Revoked+st.Provenance != 0 {
			b.Fatalf("unchanged re-parse: %v %s", err, st)
		}

		// The next UTC day the unchanged list is emitted again: no object
		// changes, one provenance record per value (last seen moves on).
		now = now.Add(24 * time.Hour)
		t0 = time.Now()
		st, err = run.Run(ctx, feed)
		nextDayT += time.Since(t0)
		if err != nil || st.Observations != n || st.New+st.Changed+st.Revoked != 0 || st.Provenance != n {
			b.Fatalf("unchanged next day: %v %s, %d provenance records", err, st, st.Provenance)
		}

		// Baseline: PutObjects of as many ready-made indicator-sized objects as
		// the new ingest stored, in batches of 3000.
		b.StopTimer()
		batches := baselineObjects(fmt.Sprintf("b%d", i), objects-baseObjects)
		b.StartTimer()
		t0 = time.Now()
		for _, batch := range batches {
			if _, err := s.PutObjects(ctx, "baseline", batch); err != nil {
				b.Fatal(err)
			}
		}
		putT += time.Since(t0)
		baseObjects = objects
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	N := float64(b.N)
	b.ReportMetric(float64(objects)/newT.Seconds(), "new-objects/s")
	b.ReportMetric(N*float64(n)/newT.Seconds(), "new-rows/s")
	b.ReportMetric(newT.Seconds()/N, "new-s")
	b.ReportMetric(t304.Seconds()/N, "unchanged-304-s")
	b.ReportMetric(tDigest.Seconds()/N, "unchanged-digest-s")
	b.ReportMetric(reparseT.Seconds()/N, "unchanged-reparse-s")
	b.ReportMetric(baseT.Seconds()/N, "csv-parse-s")
	b.ReportMetric(float64(objects)/newCPU.Seconds(), "new-objects/cpu-s")
	b.ReportMetric(reparseCPU.Seconds()/N, "unchanged-reparse-cpu-s")
	b.ReportMetric(newT.Seconds()/baseT.Seconds(), "new-x-csv")
	b.ReportMetric(reparseT.Seconds()/baseT.Seconds(), "reparse-x-csv")
	b.ReportMetric(nextDayT.Seconds()/N, "unchanged-next-day-s")
	b.ReportMetric(float64(objects)/putT.Seconds(), "baseline-put-objects/s")
	b.ReportMetric(putT.Seconds()/newT.Seconds(), "new-ratio-to-put")
}

// baselineObjects builds count indicator-sized raw objects in batches of 3000,
// as the ingest package's BenchmarkRunNew baseline does.
func baselineObjects(prefix string, count int) [][]stix.RawObject {
	ts := stix.NewTimestamp(ingesttest.Time)
	var out [][]stix.RawObject
	for start := 0; start < count; start += 3000 {
		batch := make([]stix.RawObject, 0, 3000)
		for i := start; i < min(start+3000, count); i++ {
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

// BenchmarkConvert measures ConvertFile alone on the generated list (no store)
// against encoding/csv on the same bytes, in the same run.
func BenchmarkConvert(b *testing.B) {
	n := benchRows(b)
	body := benchList(b, n, false)
	var base time.Duration
	for i := 0; i < 3; i++ {
		base += csvBaseline(b, body)
	}
	base /= 3
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, obs, _, err := recordedfuture.ConvertFile(bytes.NewReader(body), recordedfuture.Options{Feed: "bench", Entity: "ip"})
		if err != nil || len(obs) != n {
			b.Fatal(err, len(obs))
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "rows/s")
	b.ReportMetric(float64(n)/base.Seconds(), "csv-rows/s")
	b.ReportMetric(float64(per)/float64(base), "x-csv")
}

// BenchmarkReingest is the unchanged re-parse of BenchmarkIngest alone, for
// profiling and for averaging over several runs (-benchtime=5x): the list is
// ingested once outside the timer, then each iteration pulls the same rows as
// other bytes (header case alternating, so the digest always differs), parsing,
// converting and checking every row against the store and writing nothing.
// Baseline, same run: encoding/csv reading the same bytes.
func BenchmarkReingest(b *testing.B) {
	n := benchRows(b)
	lists := [][]byte{benchList(b, n, true), benchList(b, n, false)}
	r := newReplay(b)
	key := "/v2/ip/risklist?list=default"
	ctx := context.Background()
	s, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
		b.Fatal(err)
	}
	feed := &ingest.Feed{Config: ingest.FeedConfig{Name: "rf-ip", Provider: recordedfuture.Provider}}
	if err := feed.Config.Validate(); err != nil {
		b.Fatal(err)
	}
	now := ingesttest.Time
	feed.Source = &recordedfuture.Source{Client: &recordedfuture.Client{BaseURL: r.srv.URL, Token: testToken},
		Entity: "ip", Convert: recordedfuture.Options{Feed: "rf-ip", Identity: ingesttest.Identity, Entity: "ip"},
		Now: func() time.Time { return now }}
	run := &ingest.Runner{Store: s, Now: func() time.Time { return now }, Identity: ingesttest.Identity}
	r.setList(key, lists[1])
	if st, err := run.Run(ctx, feed); err != nil || st.Observations != n {
		b.Fatalf("first ingest: %v %s", err, st)
	}
	base := csvBaseline(b, lists[0])
	b.ResetTimer()
	c0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.setList(key, lists[i%2])
		b.StartTimer()
		st, err := run.Run(ctx, feed)
		if err != nil || st.Observations != n || st.New+st.Changed+st.Revoked+st.Provenance != 0 {
			b.Fatalf("re-ingest %d: %v %s", i, err, st)
		}
	}
	cpu := cpuTime(b) - c0
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "reingest-s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "reingest-cpu-s")
	b.ReportMetric(float64(n)/per.Seconds(), "rows/s")
	b.ReportMetric(base.Seconds(), "csv-parse-s")
	b.ReportMetric(float64(per)/float64(base), "x-csv")
}
