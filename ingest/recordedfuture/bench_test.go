package recordedfuture_test

import (
	"bytes"
	"context"
	"encoding/csv"
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

// benchList generates an IP risk list of n rows from the columns of the
// synthetic fixture testdata/ip_default: each row takes the Risk, RiskString
// and EvidenceDetails of a fixture row in turn (3 of 4 at or above the
// threshold) with a distinct address. upper writes the header in upper case, so
// the same rows give other bytes (another digest).
func benchList(b *testing.B, n int, upper bool) []byte {
	b.Helper()
	rows, err := csv.NewReader(bytes.NewReader(ingesttest.MustRead(b, "testdata/ip_default/input.csv"))).ReadAll()
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
// (bolt, fsync per commit), three times per iteration:
//   - new: every value is new (indicator + SCO + based-on, or the SCO alone
//     below the threshold), reported as stored objects/s and rows/s;
//   - unchanged-304: the same list again, answered 304 on its ETag;
//   - unchanged-digest: the same list from a server without validators:
//     downloaded, spooled and hashed, then skipped on its digest;
//   - unchanged-reparse: the same rows as other bytes (header in upper case),
//     so the digest differs and every row is parsed, converted and checked
//     against the store, writing nothing.
//
// The baseline, in the same run, is encoding/csv reading the same bytes. The
// machine is shared by several builds: the figures are noisy.
func BenchmarkIngest(b *testing.B) {
	n := benchRows(b)
	body := benchList(b, n, false)
	again := benchList(b, n, true)
	r := newReplay(b)
	key := "/v2/ip/risklist?list=default"
	ctx := context.Background()
	var newT, t304, tDigest, reparseT, baseT, newCPU, reparseCPU time.Duration
	objects := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
			b.Fatal(err)
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
