package scoring_test

import (
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// Example scores a domain that two independent providers report and the
// organisation saw twice, then the same domain once it turns out to be on
// an allow-list.
func Example() {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	in := scoring.Inputs{
		Type:  "domain-name",
		Value: "login-verify-account.com",
		Reports: []scoring.Report{
			{Feed: "rf-domain", Provider: "recordedfuture", Reliability: 80,
				Verdict: scoring.SeverityRecordedFuture(91, 4), LastSeen: now.Add(-10 * 24 * time.Hour)},
			{Feed: "maltiverse-phishing", Provider: "maltiverse", Reliability: 60,
				Verdict: scoring.SeverityMaltiverse("malicious", 2), LastSeen: now.Add(-24 * time.Hour)},
		},
		Sightings: scoring.Sightings{Count: 2, LastSeen: now.Add(-time.Hour)},
	}
	res := scoring.Score(in, scoring.DefaultWeights(), now)
	fmt.Println(res.Value, res.Band, res.Alert, res.Confidence)
	for _, f := range res.Factors {
		fmt.Printf("%-17s %+6.2f\n", f.Name, f.Value)
	}

	in.AllowListHits = []warninglist.Hit{{List: "organisation-domains", Tier: warninglist.TierAsset, Entry: "login-verify-account.com"}}
	res = scoring.Score(in, scoring.DefaultWeights(), now)
	fmt.Println(res.Value, res.Band, res.Alert, res.CappedBy)
	// Output:
	// 84 high true 85
	// provider-severity +73.54
	// source-reputation -10.29
	// age                -4.24
	// prevalence        +20.07
	// sightings          +4.83
	// false-positives    +0.00
	// allow-list         +0.00
	// 29 low false organisation-domains (asset)
}
