package warninglist_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// benchValues returns n values of typ, a quarter of them listed.
func benchValues(typ string, n int) []string {
	r := rand.New(rand.NewPCG(7, 9))
	listed := map[string][]string{
		"ipv4-addr":   {"8.8.8.8", "10.1.2.3", "104.16.1.1", "1.1.1.1"},
		"domain-name": {"mail.google.com", "www.microsoft.com", "duckdns.org", "example.com"},
		"file:sha256": {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}[typ]
	vs := make([]string, n)
	for i := range vs {
		switch {
		case i%4 == 0:
			vs[i] = listed[r.IntN(len(listed))]
		case typ == "ipv4-addr":
			vs[i] = netip.AddrFrom4([4]byte{byte(11 + r.IntN(200)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()
		case typ == "domain-name":
			vs[i] = fmt.Sprintf("host%d.shop-%d.example-store%d.com", r.IntN(100), r.IntN(1e6), r.IntN(50))
		default:
			vs[i] = fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
		}
	}
	return vs
}

// BenchmarkMatch measures Set.Match per value type over the embedded lists
// and, in the same run, a plain map lookup of the same values (the
// baseline); it reports lookups/s and the ratio Match/baseline.
func BenchmarkMatch(b *testing.B) {
	s := MustEmbedded(b)
	for _, typ := range []string{"ipv4-addr", "domain-name", "file:sha256"} {
		b.Run(typ, func(b *testing.B) {
			vs := benchValues(typ, 4096)
			base := make(map[string]int, len(vs))
			for i, v := range vs {
				if i%4 == 0 {
					base[v] = i
				}
			}
			hits := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				hits += len(s.Match(typ, vs[i&4095]))
			}
			b.StopTimer()
			matchNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			start := time.Now()
			sum := 0
			for i := 0; i < b.N; i++ {
				sum += base[vs[i&4095]]
			}
			baseNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			if hits == 0 || sum < 0 {
				b.Fatal("no hits: the benchmark measures nothing")
			}
			b.ReportMetric(1e9/matchNs, "lookups/s")
			b.ReportMetric(baseNs, "baseline-ns/op")
			b.ReportMetric(matchNs/max(baseNs, 0.01), "x-baseline")
		})
	}
}

// BenchmarkEmbedded measures compiling the embedded lists.
func BenchmarkEmbedded(b *testing.B) {
	for i := 0; i < b.N; i++ {
		MustEmbedded(b)
	}
}
