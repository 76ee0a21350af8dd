package taxii_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// The serving benchmarks run a real server (httptest on loopback, echo, Basic
// auth with the bcrypt credential cache on every request, access log encoded
// as JSON and discarded, metrics) over a bolt store holding N realistic 1.1 KB
// indicators in collPublished. N is CTIBROKER_BENCH_N (default 20 000 for
// BenchmarkServeObjects, 1 000 000 for BenchmarkServeMemory). The store is
// built in a temporary directory, or kept under CTIBROKER_BENCH_DIR/taxii-n<N>
// and reused by later runs, and read once before the benchmark (warm page
// cache and memory map). The load generator runs in the same process, on the
// same two cores.

// benchN returns CTIBROKER_BENCH_N, or def.
func benchN(b *testing.B, def int) int {
	if v := os.Getenv("CTIBROKER_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CTIBROKER_BENCH_N=%q: want a positive integer", v)
		}
		return n
	}
	return def
}

// benchIndicator returns indicator i: a realistic STIX 2.1 indicator of 1105
// to 1130 bytes (the reference object has 976: IPv4 pattern, kill
// chain phase, external reference, marking, labels, valid_until and two custom
// properties).
func benchIndicator(i int, modified time.Time) []byte {
	ip := fmt.Sprintf("198.%d.%d.%d", 18+i>>16&1, i>>8&255, i&255)
	mod := modified.UTC().Format("2006-01-02T15:04:05.000Z")
	b := fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-%04x-4%03x-8%03x-%012x",`+
		`"created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2024-01-01T00:00:00.000Z","modified":%q,`+
		`"name":"Botnet C2 server %s","description":"Command and control server observed in botnet traffic by several feeds; `+
		`blocking is recommended. Seen in campaign traffic %d.","indicator_types":["malicious-activity","compromised"],`+
		`"pattern":"[ipv4-addr:value = '%s']","pattern_type":"stix","pattern_version":"2.1",`+
		`"valid_from":"2024-01-01T00:00:00Z","valid_until":"2025-01-01T00:00:00Z",`+
		`"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"command-and-control"}],`+
		`"labels":["botnet","c2","malicious-activity"],"confidence":85,"lang":"en",`+
		`"external_references":[{"source_name":"abuse.ch Feodo Tracker","url":"https://feodotracker.abuse.ch/browse/host/%s/","external_id":"FT-%d"}],`+
		`"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],`+
		`"x_broker_risk_score":%d,"x_broker_sources":["otx","misp","feodotracker"]}`,
		i>>16, i&0xffff, i%4096, i%4096, i, mod, ip, i, ip, ip, i, 50+i%50)
	return b
}

// benchServer is a running server over a store holding n indicators.
type benchServer struct {
	store       *bolt.Store
	dir         string
	url         string
	n           int
	first, last time.Time // date_added range
}

// newBenchServer opens (building it if needed) the store of n indicators and
// starts a server over it.
func newBenchServer(b *testing.B, n int) *benchServer {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "db")
	if keep := os.Getenv("CTIBROKER_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("taxii-n%d", n))
	}
	cold := os.Getenv("CTIBROKER_BENCH_COLD") != ""
	if cold {
		evict(b, filepath.Join(dir, bolt.FileName))
	}
	st, err := bolt.Open(dir, bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	a, err := auth.New(testAuthConfig(), auth.Options{Getenv: getenv})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := taxii.NewServer(testConfig(), taxii.Deps{
		Store: st, Auth: a, Challenge: auth.Challenge(),
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Audit:     auth.NewAuditLog(io.Discard, nil),
		CursorKey: []byte(testCursorKey),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	info, err := st.CollectionInfo(ctx, collPublished)
	if err != nil {
		b.Fatal(err)
	}
	if info.Count != int64(n) {
		if info.Count != 0 {
			b.Fatalf("%s holds %d objects, want %d: remove it", dir, info.Count, n)
		}
		start := time.Now()
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		objs := make([]stix.RawObject, 0, 5000)
		for i := 0; i < n; {
			objs = objs[:0]
			for ; i < n && len(objs) < cap(objs); i++ {
				o := stix.RawObject{JSON: benchIndicator(i, base.Add(time.Duration(i)*time.Millisecond))}
				objs = append(objs, o)
			}
			if _, err := st.PutObjects(ctx, collPublished, objs); err != nil {
				b.Fatal(err)
			}
		}
		if info, err = st.CollectionInfo(ctx, collPublished); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d objects in %s in %s", n, time.Since(start).Round(time.Second), dir)
	}
	// Warm up: read the collection once through the store, as a server that
	// has run for a while has (page cache and memory map populated). The
	// figures are for a warm store; a cold one adds disk reads and page faults
	// (CTIBROKER_BENCH_COLD=1: the store file is dropped from the page cache
	// before Open and not read before the benchmark).
	start := time.Now()
	f := storage.Filter{Limit: 10000}
	for !cold {
		p, err := st.ScanObjects(ctx, collPublished, f, func(time.Time, []byte) bool { return true })
		if err != nil {
			b.Fatal(err)
		}
		if !p.More {
			break
		}
		f.Next = p.Next
	}
	if !cold {
		b.Logf("read %d objects to warm up in %s", n, time.Since(start).Round(time.Millisecond))
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	return &benchServer{store: st, dir: dir, url: hs.URL, n: n, first: info.FirstAdded, last: info.LastAdded}
}

// randomDepth returns an added_after uniform over the first 90 % of the
// collection.
func (s *benchServer) randomDepth(rng *rand.Rand) time.Time {
	span := s.last.Sub(s.first) * 9 / 10
	return s.first.Add(time.Duration(rng.Int64N(int64(span) + 1)))
}

// walkLen is how many pages a benchmark client follows by next before it jumps
// to another random depth: clients sync by next, and the jumps spread the
// pages over every depth of the collection.
const walkLen = 20

// BenchmarkServeObjects serves pages of 1000 and of 100 objects to 1 and 8
// concurrent clients over loopback HTTP, each request with Basic auth. Each
// client starts at a random depth (added_after), follows next for walkLen
// pages, then jumps. One op is one page. Reported: objects/s, MB/s, page
// latency p50 and p99, the process's CPU time per object (server and clients:
// it moves less than wall time on a shared machine), the baseline — the same
// pages read from the store alone (bolt ScanObjects into a buffer, as the
// handler does) by the same number of readers, measured right after — and
// the ratio to it, the 1-minute load average (the machine is shared:
// figures are noisy) and how much of the store file is in the page cache.
func BenchmarkServeObjects(b *testing.B) {
	s := newBenchServer(b, benchN(b, 20000))
	for _, page := range []int{1000, 100} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("page=%d/clients=%d", page, clients), func(b *testing.B) {
				work := &atomic.Int64{}
				work.Store(int64(b.N))
				b.ResetTimer()
				r := s.load(b, page, clients, func(int) bool { return work.Add(-1) >= 0 }, nil)
				b.StopTimer()
				base := s.storeBaseline(b, page, clients, min(time.Second, max(200*time.Millisecond, r.elapsed/2)))
				r.report(b)
				b.ReportMetric(base, "store-objects/s")
				b.ReportMetric(r.rate()/base, "ratio")
				b.ReportMetric(loadAvg(), "loadavg")
				b.ReportMetric(s.cached(), "page-cache-%")
			})
		}
	}
}

// evict drops the pages of file (if it exists) from the page cache: only
// this file's, and only those no process has mapped.
func evict(b *testing.B, file string) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		b.Fatalf("evicting %s from the page cache: %v", file, e)
	}
}

// cached returns the percentage of the store file's pages in the page cache
// (-1 when unknown). At 10 M objects the file is 14.4 GB: when other
// processes crowd it out, pages come back from disk at a fraction of the
// speed, and the figures say so.
func (s *benchServer) cached() float64 {
	f, err := os.Open(filepath.Join(s.dir, bolt.FileName))
	if err != nil {
		return -1
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return -1
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return -1
	}
	defer syscall.Munmap(m)
	ps := os.Getpagesize()
	vec := make([]byte, (len(m)+ps-1)/ps)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return -1
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return 100 * float64(in) / float64(len(vec))
}

// loadResult is what a load run measured.
type loadResult struct {
	objects int
	bytes   int64
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // of the process: server and clients
}

func (r *loadResult) rate() float64 { return float64(r.objects) / r.elapsed.Seconds() }

func (r *loadResult) report(b *testing.B) {
	slices.Sort(r.lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(r.rate(), "objects/s")
	b.ReportMetric(float64(r.bytes)/r.elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(ms(r.lat[len(r.lat)/2]), "p50-ms")
	b.ReportMetric(ms(r.lat[min(len(r.lat)-1, len(r.lat)*99/100)]), "p99-ms")
	b.ReportMetric(float64(r.cpu)/float64(time.Microsecond)/float64(r.objects), "cpu-µs/object")
}

// cpuTime returns the process's user and system CPU time: on a shared
// machine it moves less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// load runs clients concurrent clients; each asks more(client) before each
// page and stops when it returns false. start(client) gives a client's
// starting added_after and stop whether a page ending at date_added last ends
// its walk; nil starts at random depths, walking walkLen pages each time.
func (s *benchServer) load(b *testing.B, page, clients int, more func(client int) bool, span func(client int) (start, stop time.Time)) *loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	base := s.url + "/intel/collections/" + collPublished + "/objects/?limit=" + strconv.Itoa(page)
	authz := basic("soc", passwords["soc"])
	var mu sync.Mutex
	res := &loadResult{}
	var failed error
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			var lat []time.Duration
			var buf bytes.Buffer
			objects, walked := 0, 0
			var nbytes int64
			next := ""
			var stop time.Time
			fail := func(err error) {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		pages:
			for more(client) {
				u := base
				switch {
				case next != "":
					u += "&next=" + next
				case span != nil:
					var from time.Time
					from, stop = span(client)
					u += "&added_after=" + url.QueryEscape(from.Format(taxii.TimestampLayout))
				default:
					u += "&added_after=" + url.QueryEscape(s.randomDepth(rng).Format(taxii.TimestampLayout))
					walked = 0
				}
				req, _ := http.NewRequest("GET", u, nil)
				req.Header.Set("Accept", accept21)
				req.Header.Set("Authorization", authz)
				t0 := time.Now()
				r, err := hc.Do(req)
				if err != nil {
					fail(err)
					return
				}
				buf.Reset()
				_, err = buf.ReadFrom(r.Body) // one reused buffer per client
				r.Body.Close()
				lat = append(lat, time.Since(t0))
				body := buf.Bytes()
				if err != nil || r.StatusCode != http.StatusOK {
					fail(fmt.Errorf("status %d, %v: %.300s", r.StatusCode, err, body))
					return
				}
				// A cheap client, so that the figures measure the server: no
				// JSON decoding; the objects are counted by objectStart and
				// next is cut out of the envelope's head.
				n := bytes.Count(body, objectStart)
				objects += n
				nbytes += int64(len(body))
				walked++
				next = ""
				if rest, ok := bytes.CutPrefix(body, []byte(`{"more":true,"next":"`)); ok {
					next = string(rest[:bytes.IndexByte(rest, '"')])
				}
				if span != nil {
					last, err := time.Parse(taxii.TimestampLayout, r.Header.Get(taxii.HeaderDateAddedLast))
					if next == "" || n > 0 && (err != nil || !last.Before(stop)) {
						break pages
					}
				} else if walked >= walkLen {
					next = ""
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.objects += objects
			res.bytes += nbytes
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed, res.cpu = time.Since(start), cpuTime()-cpu0
	if failed != nil {
		b.Fatal(failed)
	}
	if len(res.lat) == 0 || res.objects == 0 {
		b.Fatal("no objects served")
	}
	return res
}

// objectStart begins every object of the benchmark collection and nothing
// nested in one: counting it is a cheap exact count of a page's objects.
var objectStart = []byte(`{"type":"indicator",`)

// storeBaseline returns the objects/s of readers concurrent readers reading
// pages of size page from the store alone for d, the way the handler does
// (ScanObjects copying into a buffer), from random depths, walkLen pages each.
func (s *benchServer) storeBaseline(b *testing.B, page, readers int, d time.Duration) float64 {
	ctx := context.Background()
	var total atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 8))
			buf := make([]byte, 0, 2<<20)
			f := storage.Filter{Limit: page}
			for walked := 0; time.Since(start) < d; walked++ {
				if f.Next == "" || walked%walkLen == 0 {
					f.Next, f.AddedAfter = "", s.randomDepth(rng)
				}
				buf = buf[:0]
				n := 0
				p, err := s.store.ScanObjects(ctx, collPublished, f, func(_ time.Time, js []byte) bool {
					buf = append(buf, js...)
					n++
					return true
				})
				if err != nil {
					b.Error(err)
					return
				}
				total.Add(int64(n))
				f.Next = p.Next
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// BenchmarkServeMemory pages through the whole collection (N objects,
// default 1 000 000) once with 8 concurrent clients, each walking an eighth of
// it by next in pages of 1000, while sampling the process's anonymous resident
// memory (RssAnon: the heap, stacks and buffers, not the store's memory map,
// which is page cache) and the Go heap every 10 ms. Reported: objects/s,
// p50/p99, RssAnon before and at its peak, and the Go heap (objects) live
// before, at its peak (garbage included: GOGC lets the heap grow to twice
// what is live) and live after, in MiB. The load generator is in the same
// process, so the figures are the server and its clients together.
func BenchmarkServeMemory(b *testing.B) {
	s := newBenchServer(b, benchN(b, 1000000))
	const clients = 8
	runtime.GC()
	rss0, heap0 := rssAnon(), heapInUse()
	var peakRSS, peakHeap atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rssAnon(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			if h := heapInUse(); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	width := s.last.Sub(s.first) / clients
	span := func(c int) (time.Time, time.Time) {
		from := s.first.Add(time.Duration(c) * width).Add(-time.Microsecond)
		stop := s.first.Add(time.Duration(c+1) * width)
		if c == clients-1 {
			stop = s.last.Add(time.Hour)
		}
		return from, stop
	}
	b.ResetTimer()
	var r *loadResult
	for range b.N {
		r = s.load(b, 1000, clients, func(int) bool { return true }, span)
	}
	b.StopTimer()
	close(done)
	<-sampled
	if r.objects < s.n {
		b.Fatalf("served %d objects, want at least the %d of the collection", r.objects, s.n)
	}
	mib := func(v uint64) float64 { return float64(v) / (1 << 20) }
	r.report(b)
	runtime.GC()
	b.ReportMetric(mib(rss0), "RssAnon-before-MiB")
	b.ReportMetric(mib(peakRSS.Load()), "peak-RssAnon-MiB")
	b.ReportMetric(mib(heap0), "live-heap-before-MiB")
	b.ReportMetric(mib(peakHeap.Load()), "peak-heap-MiB")
	b.ReportMetric(mib(heapInUse()), "live-heap-after-MiB")
	b.ReportMetric(float64(s.n), "collection-objects")
	b.ReportMetric(loadAvg(), "loadavg")
	b.ReportMetric(s.cached(), "page-cache-%")
}

// rssAnon returns the process's RssAnon in bytes (0 where /proc is missing).
func rssAnon() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapInUse returns the bytes of Go heap objects, live or not yet swept.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// loadAvg returns the 1-minute load average (0 where /proc is missing).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
