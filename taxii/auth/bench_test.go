package auth_test

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

// BenchmarkBasicBcrypt measures HTTP Basic against a bcrypt hash at the
// default cost: ns/op is the cached path (what every request but one a
// minute pays); uncached-ns/op is the full bcrypt verification, measured in
// the same run with a clock that moves two minutes before each call, so the
// cache never hits; speedup is their ratio.
func BenchmarkBasicBcrypt(b *testing.B) {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "siem", PasswordHash: bcryptHash(b, "siem-password", bcrypt.DefaultCost), Read: []string{"*"}}}}
	r := request(basic("Basic", "siem", "siem-password"))

	clk := newClock()
	uncached := MustNew(b, cfg, auth.Options{Now: clk.Now})
	const rounds = 5
	start := time.Now()
	for range rounds {
		clk.Advance(2 * auth.DefaultCacheTTL) // every cache entry has expired
		if _, err := uncached.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
	uncachedNs := float64(time.Since(start).Nanoseconds()) / rounds

	a := MustNew(b, cfg, auth.Options{})
	if _, err := a.Authenticate(r); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cachedNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(uncachedNs, "uncached-ns/op")
	b.ReportMetric(uncachedNs/cachedNs, "speedup")
}

// BenchmarkAuthenticate measures each scheme on its cached path, as the
// server pays it on every request.
func BenchmarkAuthenticate(b *testing.B) {
	cfg, e := jwtFixture(b)
	a := MustNew(b, cfg, auth.Options{Getenv: e.Getenv, Now: func() time.Time { return testTime }})
	tok, err := a.IssueToken("soc", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for name, h := range map[string]string{
		"basic-env":    basic("Basic", "soc", "soc-secret-pw"),
		"token-envkey": "Token tool-key-0123456789",
		"bearer-hs256": "Bearer " + tok,
	} {
		b.Run(name, func(b *testing.B) {
			r := request(h)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticateParallel is the cached Basic path with 8 clients per
// CPU at once (the cache, flight and limiter locks under contention).
func BenchmarkAuthenticateParallel(b *testing.B) {
	a := MustNew(b, fixture(b), auth.Options{Getenv: fixtureEnv.Getenv})
	h := basic("Basic", "soc", "soc-secret-pw")
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := request(h)
		for pb.Next() {
			if _, err := a.Authenticate(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
