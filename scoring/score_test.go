package scoring_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

func days(n float64) time.Duration { return time.Duration(n * 24 * float64(time.Hour)) }

// rep is a fresh report of severity sev from feed/provider with reliability rel.
func rep(feed, provider string, rel scoring.Reliability, sev float64, age time.Duration) scoring.Report {
	return scoring.Report{Feed: feed, Provider: provider, Reliability: rel,
		Verdict: scoring.Verdict{Severity: sev, Native: "test"}, LastSeen: testTime.Add(-age)}
}

func TestScore(t *testing.T) {
	for name, tt := range map[string]struct {
		in        scoring.Inputs
		want      int
		band      string
		cappedBy  string
		wantAlert bool
	}{
		"no reports": {scoring.Inputs{Type: "ipv4-addr"}, 0, "low", "", false},
		"one B source, severity 0.9": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("rf", "recordedfuture", 80, 0.9, 0)}}, 62, "high", "", true},
		"two independent B sources": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("rf", "recordedfuture", 80, 0.9, 0), rep("mv", "maltiverse", 80, 0.9, 0)}}, 85, "critical", "", true},
		"same provider twice counts once": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("rf-a", "recordedfuture", 80, 0.9, 0), rep("rf-b", "recordedfuture", 80, 0.9, 0)}}, 62, "high", "", true},
		"four independent sources": {scoring.Inputs{Type: "url", Reports: []scoring.Report{
			rep("a", "", 95, 1, 0), rep("b", "", 80, 0.9, 0), rep("c", "", 60, 0.8, 0), rep("d", "", 60, 0.8, 0)}}, 97, "critical", "", true},
		"unset reliability uses the default 50": {scoring.Inputs{Type: "url", Reports: []scoring.Report{
			rep("a", "", 0, 1, 0)}}, 52, "medium", "", false},
		"revoked source counts for nothing": {scoring.Inputs{Type: "url", Reports: []scoring.Report{
			{Feed: "a", Reliability: 95, Verdict: scoring.Verdict{Severity: 1}, LastSeen: testTime, Revoked: true}}}, 0, "low", "", false},
		"IP a week old: grace, then 4/7 of a half-life": {scoring.Inputs{Type: "ipv4-addr", Reports: []scoring.Report{
			rep("a", "", 80, 1, days(7))}}, 46, "medium", "", false},
		"hash a week old barely decays": {scoring.Inputs{Type: "file:sha256", Reports: []scoring.Report{
			rep("a", "", 80, 1, days(7))}}, 69, "high", "", true},
		"unknown age": {scoring.Inputs{Type: "file:sha256", Reports: []scoring.Report{
			{Feed: "a", Reliability: 80, Verdict: scoring.Verdict{Severity: 1}}}}, 55, "medium", "", false},
		"sightings raise a reported value": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("rf", "recordedfuture", 80, 0.9, 0)}, Sightings: scoring.Sightings{Count: 10, LastSeen: testTime}}, 76, "high", "", true},
		"sightings alone do nothing": {scoring.Inputs{Type: "domain-name",
			Sightings: scoring.Sightings{Count: 10, LastSeen: testTime}}, 0, "low", "", false},
		"one false positive": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("rf", "recordedfuture", 80, 0.9, 0), rep("mv", "maltiverse", 80, 0.9, 0)},
			FalsePositives: []scoring.FalsePositive{{From: "soc"}}}, 51, "medium", "", false},
		"allow-listed top domain": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("a", "", 95, 1, 0), rep("b", "", 95, 1, 0), rep("c", "", 95, 1, 0)},
			AllowListHits: []warninglist.Hit{{List: "tranco10k", Tier: warninglist.TierShared, Entry: "example.org"}}}, 29, "low", "tranco10k (shared)", false},
		"asset wins the capped_by reason": {scoring.Inputs{Type: "ipv4-addr", Reports: []scoring.Report{
			rep("a", "", 95, 1, 0)},
			AllowListHits: []warninglist.Hit{
				{List: "amazon-aws", Tier: warninglist.TierShared},
				{List: "organisation-networks", Tier: warninglist.TierAsset}}}, 29, "low", "organisation-networks (asset)", false},
		"context-only list does not cap": {scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
			rep("a", "", 95, 1, 0), rep("b", "", 95, 1, 0)},
			AllowListHits: []warninglist.Hit{{List: "dynamic-dns", Tier: warninglist.TierContext, ContextOnly: true}}}, 95, "critical", "", true},
		"severity out of range is clamped": {scoring.Inputs{Type: "url", Reports: []scoring.Report{
			rep("a", "", 100, 7, 0), rep("b", "", 100, -3, 0)}}, 80, "high", "", true},
	} {
		t.Run(name, func(t *testing.T) {
			got := scoring.Score(tt.in, scoring.DefaultWeights(), testTime)
			if got.Value != tt.want || got.Band != tt.band || got.CappedBy != tt.cappedBy || got.Alert != tt.wantAlert {
				t.Fatalf("Score() = %d %s capped_by %q alert %v, want %d %s %q %v\nfactors: %+v",
					got.Value, got.Band, got.CappedBy, got.Alert, tt.want, tt.band, tt.cappedBy, tt.wantAlert, got.Factors)
			}
		})
	}
}

func TestScoreExplains(t *testing.T) {
	in := scoring.Inputs{Type: "ipv4-addr", Value: "203.0.113.9", Reports: []scoring.Report{
		{Feed: "rf-ip", Provider: "recordedfuture", Reliability: 80, Verdict: scoring.SeverityRecordedFuture(95, 4),
			FirstSeen: testTime.Add(-days(20)), LastSeen: testTime.Add(-days(2))},
		{Feed: "mv-c2", Provider: "maltiverse", Reliability: 60, Verdict: scoring.SeverityMaltiverse("malicious", 3),
			LastSeen: testTime.Add(-days(1))},
	}, Sightings: scoring.Sightings{Count: 4, LastSeen: testTime.Add(-time.Hour)},
		FalsePositives: []scoring.FalsePositive{{From: "partner-soc", Count: 1}},
		AllowListHits:  []warninglist.Hit{{List: "vpn-ipv4", Tier: warninglist.TierContext, ContextOnly: true, Entry: "203.0.113.0/24"}},
	}
	res := scoring.Score(in, scoring.DefaultWeights(), testTime)
	want := map[string][]string{
		scoring.FactorSeverity:       {"rf-ip (recordedfuture)", "risk 95/99", "Very Malicious"},
		scoring.FactorReputation:     {"reliability 80"},
		scoring.FactorAge:            {"rf-ip (recordedfuture) last seen 2d ago → ×1", "half-life 7d after 3d grace for ipv4-addr"},
		scoring.FactorPrevalence:     {"2 independent sources"},
		scoring.FactorSightings:      {"4 internal sightings"},
		scoring.FactorFalsePositives: {"partner-soc", "×0.6"},
		scoring.FactorAllowList:      {"context only", "vpn-ipv4"},
	}
	for _, f := range res.Factors {
		for _, s := range want[f.Name] {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("factor %s explanation %q lacks %q", f.Name, f.Explanation, s)
			}
		}
		delete(want, f.Name)
	}
	if len(want) > 0 {
		t.Errorf("factors missing: %v", want)
	}
	if !res.FirstSeen.Equal(testTime.Add(-days(20))) {
		t.Errorf("first_seen = %v, want %v", res.FirstSeen, testTime.Add(-days(20)))
	}
	if !res.LastSeen.Equal(testTime.Add(-time.Hour)) {
		t.Errorf("last_seen = %v, want the last sighting %v", res.LastSeen, testTime.Add(-time.Hour))
	}
	if len(res.Sources) != 2 || res.Sources[0].Feed != "mv-c2" || res.Sources[1].Reliability != 80 {
		t.Errorf("sources = %+v, want mv-c2 then rf-ip (reliability 80)", res.Sources)
	}
}

func TestScoreExplainsAgeSwap(t *testing.T) {
	// The strongest report is old; a weaker fresh one is now the strongest.
	in := scoring.Inputs{Type: "ipv4-addr", Reports: []scoring.Report{
		rep("old", "p1", 95, 1, days(30)), rep("fresh", "p2", 60, 0.6, 0)}}
	res := scoring.Score(in, scoring.DefaultWeights(), testTime)
	age := res.Factors[2]
	if age.Name != scoring.FactorAge || age.Value >= 0 {
		t.Fatalf("age factor = %+v, want a negative age contribution", age)
	}
	for _, want := range []string{"old (p1) last seen 30d ago → ×0.07", "now strongest: fresh (p2) last seen 0d ago → ×1"} {
		if !strings.Contains(age.Explanation, want) {
			t.Errorf("age explanation %q lacks %q", age.Explanation, want)
		}
	}
}

func TestScoreCorroboration(t *testing.T) {
	w := scoring.DefaultWeights()
	w.Corroboration = 2
	two := scoring.Inputs{Type: "domain-name", Reports: []scoring.Report{
		rep("rf", "recordedfuture", 80, 0.9, 0), rep("mv", "maltiverse", 80, 0.9, 0)}}
	// 1 − 0.3808 × 0.3808² = 0.9448
	if got := scoring.Score(two, w, testTime); got.Value != 94 || !strings.Contains(got.Factors[3].Explanation, "corroboration ×2") {
		t.Errorf("Score() = %d (%s), want 94 with corroboration named", got.Value, got.Factors[3].Explanation)
	}
	one := scoring.Inputs{Type: "domain-name", Reports: two.Reports[:1]}
	if got, want := scoring.Score(one, w, testTime).Value, scoring.Score(one, scoring.DefaultWeights(), testTime).Value; got != want {
		t.Errorf("a single source scores %d with corroboration, %d without: want equal", got, want)
	}
}
