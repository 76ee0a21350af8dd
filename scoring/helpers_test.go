package scoring_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// testTime is the fixed "now" of the tests.
var testTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	genTypes     = []string{"ipv4-addr", "ipv6-addr", "domain-name", "url", "file:sha256", "file:md5", "email-addr"}
	genFeeds     = []string{"rf-ip", "rf-domain", "vt-stream", "maltiverse-c2", "misp-circl", "otx-subscribed", "abuse-feed", "partner-taxii"}
	genProviders = []string{"recordedfuture", "virustotal", "maltiverse", "misp", "otx", ""}
	genHits      = []warninglist.Hit{
		{List: "tranco10k", Tier: warninglist.TierShared, Entry: "example.com"},
		{List: "rfc1918", Tier: warninglist.TierSuppress, Entry: "10.0.0.0/8"},
		{List: "organisation-networks", Tier: warninglist.TierAsset, Entry: "198.51.100.0/24"},
		{List: "dynamic-dns", Tier: warninglist.TierContext, ContextOnly: true, Entry: "duckdns.org"},
		{List: "vpn-ipv4", Tier: warninglist.TierContext, ContextOnly: true, Entry: "8.8.8.0/24"},
	}
)

// randTime returns a time within a year and a half before testTime (and a
// few days after, for clock skew), or zero.
func randTime(r *rand.Rand) time.Time {
	if r.IntN(8) == 0 {
		return time.Time{}
	}
	return testTime.Add(-time.Duration(r.Int64N(int64(540*24*time.Hour))) + time.Duration(r.Int64N(int64(72*time.Hour))))
}

func randReport(r *rand.Rand, feed, provider string) scoring.Report {
	rep := scoring.Report{
		Feed: feed, Provider: provider,
		Reliability: scoring.Reliability(r.IntN(101)),
		FirstSeen:   randTime(r),
		LastSeen:    randTime(r),
		Revoked:     r.IntN(10) == 0,
	}
	switch r.IntN(6) {
	case 0:
		rep.Verdict = scoring.SeverityRecordedFuture(r.IntN(100), r.IntN(5))
	case 1:
		total := 60 + r.IntN(20)
		rep.Verdict = scoring.SeverityVirusTotal(r.IntN(total), total, []string{"", "SEVERITY_LOW", "SEVERITY_HIGH"}[r.IntN(3)])
	case 2:
		rep.Verdict = scoring.SeverityMaltiverse([]string{"malicious", "suspicious", "neutral", "whitelist"}[r.IntN(4)], r.IntN(6))
	case 3:
		rep.Verdict = scoring.SeverityMISP(1+r.IntN(4), []string{"", `admiralty-scale:information-credibility="2"`}[r.IntN(2)], r.IntN(2) == 0)
	case 4:
		rep.Verdict = scoring.SeverityOTX(scoring.OTXContext{Active: r.IntN(5) > 0, Adversary: []string{"", "APT28"}[r.IntN(2)], MalwareFamilies: r.IntN(3)})
	default:
		rep.Verdict = scoring.Verdict{Severity: r.Float64()*1.2 - 0.1, Native: "raw"}
	}
	return rep
}

// randInputs returns a random but plausible Inputs.
func randInputs(r *rand.Rand) scoring.Inputs {
	in := scoring.Inputs{Type: genTypes[r.IntN(len(genTypes))], Value: fmt.Sprintf("v%d", r.IntN(1e6))}
	for n := r.IntN(6); n > 0; n-- {
		in.Reports = append(in.Reports, randReport(r, genFeeds[r.IntN(len(genFeeds))], genProviders[r.IntN(len(genProviders))]))
	}
	if r.IntN(3) == 0 {
		in.Sightings = scoring.Sightings{Count: r.IntN(20), FirstSeen: randTime(r), LastSeen: randTime(r)}
	}
	for n := r.IntN(4) - 2; n > 0; n-- {
		in.FalsePositives = append(in.FalsePositives, scoring.FalsePositive{From: fmt.Sprintf("consumer-%d", r.IntN(5)), Count: r.IntN(3)})
	}
	for n := r.IntN(5) - 2; n > 0; n-- {
		in.AllowListHits = append(in.AllowListHits, genHits[r.IntN(len(genHits))])
	}
	return in
}
