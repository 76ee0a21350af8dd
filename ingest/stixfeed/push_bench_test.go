package stixfeed_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/stix"
)

// BenchmarkPush pushes a collection of N indicators (CTIBROKER_BENCH_PUSH_N,
// default 5000) to ctibroker's own TAXII server on loopback, 32 MiB
// max_content_length, 1000 objects per envelope. Reported: objects/s, and the
// ratio of a push's time to the baseline measured in the same run, the
// partner's store taking the same objects directly (PutObjects in batches of
// 1000, what the partner's POST handler ends in).
func BenchmarkPush(b *testing.B) {
	n := 5000
	if v := os.Getenv("CTIBROKER_BENCH_PUSH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	local := ingesttest.MustOpenStore(b, filepath.Join(b.TempDir(), "local"), outbox)
	b.Cleanup(func() { local.Close() })
	objs := make([]stix.RawObject, 0, n)
	for i := range n {
		objs = append(objs, pushIndicator(i, false))
	}
	for i := 0; i < n; i += 1000 {
		if _, err := local.PutObjects(b.Context(), outbox, objs[i:min(n, i+1000)]); err != nil {
			b.Fatal(err)
		}
	}
	var push, put time.Duration
	b.Run("baseline-put", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			st := ingesttest.MustOpenStore(b, filepath.Join(b.TempDir(), "direct"), partnerInbox)
			for i := 0; i < n; i += 1000 {
				if _, err := st.PutObjects(b.Context(), partnerInbox, objs[i:min(n, i+1000)]); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
		}
		put = time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(n)/put.Seconds(), "objects/s")
	})
	b.Run("push", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			p := newPartnerTB(b, 32<<20)
			pu := pusherFor(local, p.URL+"/api1/", partnerInbox)
			pu.Name = "bench-" + strconv.Itoa(int(time.Now().UnixNano()))
			st, err := pu.Push(b.Context())
			if err != nil || st.Sent != n {
				b.Fatalf("push: %+v, %v", st, err)
			}
		}
		push = time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(n)/push.Seconds(), "objects/s")
		if put > 0 {
			b.ReportMetric(float64(push)/float64(put), "push/put")
		}
	})
}
