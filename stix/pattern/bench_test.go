package pattern_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

const (
	benchSimple  = "[ipv4-addr:value = '198.51.100.1']"
	benchComplex = "([file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] " +
		"AND [network-traffic:dst_port IN (443, 6443, 8443) AND network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24' AND NOT EXISTS network-traffic:extensions.'http-request-ext'.request_header.'User-Agent']) " +
		"REPEATS 3 TIMES WITHIN 600 SECONDS FOLLOWEDBY " +
		"[domain-name:value = 'www.webserver.freetcp.com' OR ipv4-addr:value = '113.10.246.30' OR ipv4-addr:value = '219.90.112.203' OR url:value LIKE 'http://%/login.php' OR " +
		"email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$' OR windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar'] " +
		"START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00Z'"
)

var (
	sinkBool bool
	sinkAny  any
	// simpleRE is what a quick pre-filter for single equality patterns looks
	// like: the baseline for the simple case.
	simpleRE = regexp.MustCompile(`^\[([a-z0-9-]+):([a-z0-9_.]+) = '((?:[^'\\]|\\.)*)'\]$`)
	// literalRE finds every string literal: the baseline for the complex case.
	literalRE = regexp.MustCompile(`'(?:[^'\\]|\\.)*'`)
)

// benchAgainst times run (the benchmark's ns/op, B/op, allocs/op) and base in
// alternating chunks of the same run, so load on the machine hits both alike,
// and reports patterns/s for each and x_baseline = run time / base time.
func benchAgainst(b *testing.B, base, run func()) {
	b.ReportAllocs()
	var baseDur time.Duration
	const chunk = 256
	b.ResetTimer()
	for i := 0; i < b.N; {
		n := min(chunk, b.N-i)
		b.StopTimer()
		t0 := time.Now()
		for range n {
			base()
		}
		baseDur += time.Since(t0)
		b.StartTimer()
		for range n {
			run()
		}
		i += n
	}
	b.StopTimer()
	el := b.Elapsed()
	if el <= 0 || baseDur <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "patterns/s")
	b.ReportMetric(float64(b.N)/baseDur.Seconds(), "baseline/s")
	b.ReportMetric(el.Seconds()/baseDur.Seconds(), "x_baseline")
}

// BenchmarkParse measures Parse on a typical single-comparison pattern
// (baseline: a precompiled regexp matching such patterns) and on a complex one
// (baseline: a precompiled regexp finding all its string literals).
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name, in string
		base     func(string)
	}{
		{"simple", benchSimple, func(s string) { sinkBool = simpleRE.MatchString(s) }},
		{"complex", benchComplex, func(s string) { sinkAny = literalRE.FindAllStringIndex(s, -1) }},
	} {
		if _, err := pattern.Parse(c.in); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			benchAgainst(b, func() { c.base(c.in) }, func() {
				p, err := pattern.Parse(c.in)
				if err != nil {
					b.Fatal(err)
				}
				sinkAny = p
			})
		})
	}
}

// BenchmarkSimple measures Simple, the call ingest makes per third-party
// indicator, against regexp.FindStringSubmatch with the simple-pattern regexp.
func BenchmarkSimple(b *testing.B) {
	benchAgainst(b, func() { sinkAny = simpleRE.FindStringSubmatch(benchSimple) }, func() {
		_, _, v, ok := pattern.Simple(benchSimple)
		if !ok {
			b.Fatal("not simple")
		}
		sinkAny = v
	})
}

// BenchmarkEquals measures the builder against fmt.Sprintf with no escaping.
func BenchmarkEquals(b *testing.B) {
	const v = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
	benchAgainst(b, func() { sinkAny = fmt.Sprintf("[%s:%s = '%s']", "file", "hashes.'SHA-256'", v) }, func() {
		sinkAny = pattern.Equals("file", "hashes.SHA-256", v)
	})
}
