package scoring_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
)

// BenchmarkScore scores b.N values, with the explanation (Score) and
// without it (ScoreValue), (cycling over 4096 random inputs with 0–5
// reports each) and, in the same run, computes a plain float sum over the
// same inputs' reports (the baseline: the least any scorer must touch). It
// reports values/s, the projected seconds for 1M values and the ratio to the
// baseline. Run the 1M case with
//
//	go test ./scoring -run - -bench Score -benchtime 1000000x
func BenchmarkScore(b *testing.B) {
	b.Run("full", func(b *testing.B) {
		benchScore(b, func(in scoring.Inputs, w scoring.Weights) int { return scoring.Score(in, w, testTime).Value })
	})
	b.Run("value-only", func(b *testing.B) {
		benchScore(b, func(in scoring.Inputs, w scoring.Weights) int { v, _ := scoring.ScoreValue(in, w, testTime); return v })
	})
}

func benchScore(b *testing.B, score func(scoring.Inputs, scoring.Weights) int) {
	r := rand.New(rand.NewPCG(11, 12))
	ins := make([]scoring.Inputs, 4096)
	for i := range ins {
		ins[i] = randInputs(r)
	}
	w := scoring.DefaultWeights()
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		total += score(ins[i&4095], w)
	}
	b.StopTimer()
	scoreNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	start := time.Now()
	sum := 0.0
	for i := 0; i < b.N; i++ {
		for _, rep := range ins[i&4095].Reports {
			sum += float64(rep.Reliability) * rep.Verdict.Severity
		}
	}
	baseNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	if total < 0 || sum < 0 {
		b.Fatal("impossible totals")
	}
	b.ReportMetric(1e9/scoreNs, "values/s")
	b.ReportMetric(scoreNs*1e6/1e9, "s/1M-values")
	b.ReportMetric(baseNs, "baseline-ns/op")
	b.ReportMetric(scoreNs/max(baseNs, 0.01), "x-baseline")
}

// BenchmarkRelevance computes the relevance of values to a full profile
// (testOrg: sectors, regions, three products, a brand), cycling over domains,
// URLs and IPs with sectors, labels and a linked vulnerability, and reports its
// cost as a multiple of ScoreValue over random inputs in the same run.
func BenchmarkRelevance(b *testing.B) {
	ins := []scoring.RelevanceInputs{
		{Type: "domain-name", Value: "secure-acrnebank.example", Sectors: []string{"healthcare"}},
		{Type: "url", Value: "https://login.example.net/acmebank/verify.php", Labels: []string{"phishing", "misp-galaxy:country=\"france\""}},
		{Type: "ipv4-addr", Value: "192.0.2.1", Sectors: []string{"financial-services", "energy"}, Regions: []string{"Germany"},
			Vulnerabilities: []scoring.Vulnerability{{CVE: "CVE-2024-3400", Text: "CVE-2024-3400 GlobalProtect command injection",
				CPEs: []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.0:*:*:*:*:*:*:*"}}}},
		{Type: "domain-name", Value: "cdn.unrelated-shop.example"},
	}
	r := rand.New(rand.NewPCG(11, 12))
	sc := make([]scoring.Inputs, 4096)
	for i := range sc {
		sc[i] = randInputs(r)
	}
	w := scoring.DefaultWeights()
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		total += testOrg.Relevance(ins[i&3]).Value
	}
	b.StopTimer()
	relNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		v, _ := scoring.ScoreValue(sc[i&4095], w, testTime)
		total += v
	}
	baseNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	if total < 0 {
		b.Fatal("impossible total")
	}
	b.ReportMetric(1e9/relNs, "values/s")
	b.ReportMetric(baseNs, "scorevalue-ns/op")
	b.ReportMetric(relNs/max(baseNs, 0.01), "x-scorevalue")
}
