package bolt_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// The benchmark fixture: a store holding CTIBROKER_BENCH_N (default 100 000) ~1 KB
// objects with random ids in collection benchStored (every tenth a malware, the
// rest indicators), and a curated collection benchCurated with one membership
// record per stored object. Built once per test binary run and removed at exit,
// or kept under CTIBROKER_BENCH_DIR/n<N> and reused when that variable is set.
const (
	benchStored  = "bench-stored"
	benchCurated = "bench-curated"
	benchIngest  = "bench-ingest"
)

var (
	fixtureOnce sync.Once
	fixtureDir  string // removed at exit
	benchDir    string // the fixture in use
	fixtureErr  error
	fixtureN    int
)

// cpuTime returns the process's user+system CPU time: on a shared machine it
// moves less than wall time when other processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchOptions are the options of the benchmark stores: the defaults.
func benchOptions() bolt.Options { return bolt.Options{} }

func benchN() int {
	if v, err := strconv.Atoi(os.Getenv("CTIBROKER_BENCH_N")); err == nil && v > 0 {
		return v
	}
	return 100000
}

func benchObjects(n int, modified time.Time) []stix.RawObject {
	objs := make([]stix.RawObject, n)
	for i := range objs {
		objs[i] = storagetest.Indicator(modified)
	}
	return objs
}

// fixture returns the directory of the benchmark store, building it on first use.
func fixture(b *testing.B) string {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureN = benchN()
		if keep := os.Getenv("CTIBROKER_BENCH_DIR"); keep != "" {
			// A kept fixture: built once, reused by later runs with the same N.
			dir := filepath.Join(keep, fmt.Sprintf("n%d", fixtureN))
			if _, err := os.Stat(filepath.Join(dir, bolt.FileName)); err == nil {
				benchDir = dir
				return
			}
			if fixtureErr = buildFixture(dir, fixtureN); fixtureErr == nil {
				benchDir = dir
			}
			return
		}
		fixtureDir, fixtureErr = os.MkdirTemp("", "ctibroker-bolt-bench-")
		if fixtureErr != nil {
			return
		}
		benchDir = fixtureDir
		fixtureErr = buildFixture(fixtureDir, fixtureN)
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return benchDir
}

func buildFixture(dir string, n int) error {
	ctx := context.Background()
	opt := benchOptions()
	opt.NoSync = true
	st, err := bolt.Open(dir, opt)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, c := range []struct{ id, kind string }{{benchStored, storage.KindStored}, {benchCurated, storage.KindCurated}, {benchIngest, storage.KindStored}} {
		if err := st.EnsureCollection(ctx, c.id, c.kind); err != nil {
			return err
		}
	}
	start := time.Now()
	for done := 0; done < n; {
		k := min(1000, n-done)
		objs := benchObjects(k, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
		refs := make([]storage.VersionRef, k)
		for i := range objs {
			if (done+i)%10 == 0 {
				objs[i] = storagetest.SDO("malware", "malware--"+objs[i].ID[len("indicator--"):], objs[i].Modified.Time, "2.1", 1000)
			}
			refs[i] = storage.VersionRef{Collection: benchStored, ID: objs[i].ID, Version: objs[i].Modified.Time}
		}
		if _, err := st.PutObjects(ctx, benchStored, objs); err != nil {
			return err
		}
		if _, err := st.PutObjects(ctx, benchIngest, objs); err != nil {
			return err
		}
		if _, err := st.AddMembers(ctx, benchCurated, refs); err != nil {
			return err
		}
		done += k
	}
	fmt.Fprintf(os.Stderr, "bench fixture: %d objects (+%d ingest, +%d members) built in %s in %s\n", n, n, n, time.Since(start).Round(time.Millisecond), dir)
	return nil
}

// BenchmarkIngest stores batches of 1000 new ~1 KB indicators with random ids into
// a collection already holding N objects, fsync per batch (durable on return).
// Baseline: raw bbolt puts of the same bytes under sequential 8-byte keys, one
// synced transaction per batch, in a separate file, measured in the same loop.
func BenchmarkIngest(b *testing.B) {
	dir := fixture(b)
	st, err := bolt.Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	raw, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()
	var storeTime, rawTime, storeCPU time.Duration
	var seq uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		objs := benchObjects(1000, time.Now())
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime()
		res, err := st.PutObjects(ctx, benchIngest, objs)
		storeTime += time.Since(t0)
		storeCPU += cpuTime() - c0
		if err != nil || res.Added != 1000 {
			b.Fatalf("PutObjects: %v %+v", err, res)
		}
		b.StopTimer()
		t0 = time.Now()
		err = raw.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("raw"))
			if err != nil {
				return err
			}
			bk.FillPercent = 1
			for _, o := range objs {
				seq++
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), o.JSON); err != nil {
					return err
				}
			}
			return nil
		})
		rawTime += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	objsPerSec := float64(1000*b.N) / storeTime.Seconds()
	b.ReportMetric(objsPerSec, "objects/s")
	b.ReportMetric(float64(storeCPU.Microseconds())/float64(1000*b.N), "cpu-µs/object")
	b.ReportMetric(float64(1000*b.N)/rawTime.Seconds(), "raw-put-objects/s")
	b.ReportMetric(objsPerSec/(float64(1000*b.N)/rawTime.Seconds()), "ratio-to-raw-put")
}

// benchRead reads 1000-record pages at random depths and reports p50/p99 and the
// ratio of the mean page time to copying the same page's bytes.
func benchRead(b *testing.B, coll string, f storage.Filter) {
	dir := fixture(b)
	st, err := bolt.Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	info, err := st.CollectionInfo(ctx, coll)
	if err != nil {
		b.Fatal(err)
	}
	first, last := info.FirstAdded.UnixMicro(), info.LastAdded.UnixMicro()
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	var copyTime, cpu time.Duration
	var objs int
	sink := make([]byte, 0, 2<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.AddedAfter = time.UnixMicro(first + rng.Int64N(max(1, (last-first)*9/10)))
		t0, c0 := time.Now(), cpuTime()
		pg, err := st.QueryObjects(ctx, coll, f)
		lat = append(lat, time.Since(t0))
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if len(pg.Records) == 0 {
			b.Fatalf("empty page at %s", f.AddedAfter)
		}
		objs += len(pg.Records)
		b.StopTimer()
		t0 = time.Now()
		sink = sink[:0]
		for _, r := range pg.Records {
			sink = append(sink, r.JSON...)
		}
		copyTime += time.Since(t0)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(objs)/total.Seconds(), "objects/s")
	b.ReportMetric(float64(total)/float64(copyTime), "ratio-to-page-copy")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/page")
}

func BenchmarkReadStored(b *testing.B) {
	benchRead(b, benchStored, storage.Filter{Limit: 1000})
}

func BenchmarkReadCurated(b *testing.B) {
	benchRead(b, benchCurated, storage.Filter{Limit: 1000})
}

func BenchmarkReadType10Percent(b *testing.B) {
	benchRead(b, benchStored, storage.Filter{Limit: 1000, Types: []string{"malware"}})
}

// BenchmarkReadScan is BenchmarkReadStored through ScanObjects, the read of
// the TAXII objects endpoint: the page's bytes are copied into one reused
// buffer inside the read transaction, no Record is built. Same baseline.
func BenchmarkReadScan(b *testing.B) {
	dir := fixture(b)
	st, err := bolt.Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	info, err := st.CollectionInfo(ctx, benchStored)
	if err != nil {
		b.Fatal(err)
	}
	first, last := info.FirstAdded.UnixMicro(), info.LastAdded.UnixMicro()
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	var copyTime, cpu time.Duration
	var objs int
	buf := make([]byte, 0, 2<<20)
	sink := make([]byte, 0, 2<<20)
	f := storage.Filter{Limit: 1000}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.AddedAfter = time.UnixMicro(first + rng.Int64N(max(1, (last-first)*9/10)))
		t0, c0 := time.Now(), cpuTime()
		buf = buf[:0]
		n := 0
		_, err := st.ScanObjects(ctx, benchStored, f, func(_ time.Time, js []byte) bool {
			buf = append(buf, js...)
			n++
			return true
		})
		lat = append(lat, time.Since(t0))
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("empty page at %s", f.AddedAfter)
		}
		objs += n
		b.StopTimer()
		t0 = time.Now()
		sink = append(sink[:0], buf...)
		copyTime += time.Since(t0)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(objs)/total.Seconds(), "objects/s")
	b.ReportMetric(float64(total)/float64(copyTime), "ratio-to-page-copy")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/page")
}

func BenchmarkReadManifest(b *testing.B) {
	benchRead0(b, benchStored, storage.Filter{Limit: 1000})
}

// benchRead0 is benchRead for manifests (no bytes to copy: no ratio).
func benchRead0(b *testing.B, coll string, f storage.Filter) {
	dir := fixture(b)
	st, err := bolt.Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	info, _ := st.CollectionInfo(ctx, coll)
	first, last := info.FirstAdded.UnixMicro(), info.LastAdded.UnixMicro()
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.AddedAfter = time.UnixMicro(first + rng.Int64N(max(1, (last-first)*9/10)))
		t0 := time.Now()
		if _, err := st.QueryManifest(ctx, coll, f); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
}

// BenchmarkIngestParallel4 is BenchmarkIngest with four concurrent writers (as four
// TAXII clients posting at once; writes are serialised). objects/s counts all
// writers; object generation runs inside the timed loop here.
func BenchmarkIngestParallel4(b *testing.B) {
	dir := fixture(b)
	st, err := bolt.Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 writers
	t0, c0 := time.Now(), cpuTime()
	var n int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			objs := benchObjects(1000, time.Now())
			if _, err := st.PutObjects(ctx, benchIngest, objs); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			n += 1000
			mu.Unlock()
		}
	})
	el, cpu := time.Since(t0), cpuTime()-c0
	b.ReportMetric(float64(n)/el.Seconds(), "objects/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/object")
}

// BenchmarkOpen opens and closes the fixture store (after a clean Close, Open
// reads bbolt's freelist instead of walking the file).
func BenchmarkOpen(b *testing.B) {
	dir := fixture(b)
	if st, err := bolt.Open(dir, benchOptions()); err != nil { // a first open may convert the freelist
		b.Fatal(err)
	} else {
		st.Close()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := bolt.Open(dir, benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
