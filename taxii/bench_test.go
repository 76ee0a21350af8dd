package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/storage"
)

// benchObjects is the collection size of the benchmarks: 20 000 by default,
// CTIBROKER_BENCH_OBJECTS for more.
func benchObjects(b *testing.B) int {
	if v := os.Getenv("CTIBROKER_BENCH_OBJECTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("CTIBROKER_BENCH_OBJECTS=%q", v)
		}
		return n
	}
	return 20000
}

// BenchmarkServeObjects serves a collection in pages of 1000 and of 100 to 1
// and 8 concurrent clients, each request with Basic auth, each client walking
// the collection by next over and over. Reported: objects/s, p99 latency, and
// the ratio to the baseline — the same pages read from the store alone
// (QueryObjects following Page.Next), measured in the same run.
func BenchmarkServeObjects(b *testing.B) {
	n := benchObjects(b)
	e := newEnv(b, nil)
	e.seed(collPublished, n)
	for _, page := range []int{1000, 100} {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("page=%d/clients=%d", page, clients), func(b *testing.B) {
				benchServe(b, e, page, clients, storeBaseline(b, e, page, clients))
			})
		}
	}
}

// storeBaseline returns the objects/s of reading pages of size page straight
// from the store with the same number of concurrent readers, for 300 ms.
func storeBaseline(b *testing.B, e *env, page, readers int) float64 {
	ctx := context.Background()
	var mu sync.Mutex
	objs := 0
	start := time.Now()
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next, mine := "", 0
			for time.Since(start) < 300*time.Millisecond {
				p, err := e.store.QueryObjects(ctx, collPublished, storage.Filter{Limit: page, Next: next})
				if err != nil {
					b.Error(err)
					return
				}
				mine += len(p.Records)
				next = p.Next
				if !p.More {
					next = ""
				}
			}
			mu.Lock()
			objs += mine
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(objs) / time.Since(start).Seconds()
}

func benchServe(b *testing.B, e *env, page, clients int, baseline float64) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	base := e.url + "/intel/collections/" + collPublished + "/objects/?limit=" + strconv.Itoa(page)
	authz := basic("soc", passwords["soc"])
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	var mu sync.Mutex
	var lat []time.Duration
	var objects int
	var failed error
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var buf bytes.Buffer
			got := 0
			next := ""
			for range work {
				u := base
				if next != "" {
					u += "&next=" + next
				}
				req, _ := http.NewRequest("GET", u, nil)
				req.Header.Set("Accept", accept21)
				req.Header.Set("Authorization", authz)
				t0 := time.Now()
				res, err := hc.Do(req)
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				buf.Reset()
				_, _ = buf.ReadFrom(res.Body) // one reused buffer per client
				res.Body.Close()
				body := buf.Bytes()
				mine = append(mine, time.Since(t0))
				if res.StatusCode != 200 {
					mu.Lock()
					failed = fmt.Errorf("status %d: %s", res.StatusCode, body)
					mu.Unlock()
					return
				}
				// a cheap client, so the figures measure the server: a page with
				// more holds limit objects; the last page is decoded
				if bytes.HasPrefix(body, []byte(`{"more":true,"next":"`)) {
					rest := body[len(`{"more":true,"next":"`):]
					next = string(rest[:bytes.IndexByte(rest, '"')])
					got += page
					continue
				}
				var env struct {
					Objects []json.RawMessage `json:"objects"`
				}
				if err := json.Unmarshal(body, &env); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				got += len(env.Objects)
				next = ""
			}
			mu.Lock()
			lat = append(lat, mine...)
			objects += got
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	rate := float64(objects) / elapsed.Seconds()
	b.ReportMetric(rate, "objects/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(baseline, "baseline-objects/s")
	b.ReportMetric(rate/baseline, "ratio")
}
