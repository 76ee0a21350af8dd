package scoring_test

import (
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/scoring"
)

func TestSeverityMappings(t *testing.T) {
	for name, tt := range map[string]struct {
		got          scoring.Verdict
		lo, hi       float64
		nativeSubstr string
	}{
		"rf risk 99":             {scoring.SeverityRecordedFuture(99, 4), 1, 1, "risk 99/99, criticality 4 (Very Malicious)"},
		"rf risk 0":              {scoring.SeverityRecordedFuture(0, 0), 0, 0, "risk 0/99"},
		"rf risk 65":             {scoring.SeverityRecordedFuture(65, 3), 0.65, 0.66, "Malicious"},
		"rf criticality only":    {scoring.SeverityRecordedFuture(-1, 2), 0.45, 0.46, "risk not given, criticality 2 (Suspicious)"},
		"rf nothing":             {scoring.SeverityRecordedFuture(-1, 0), 0, 0, "risk not given"},
		"vt clean":               {scoring.SeverityVirusTotal(0, 70, ""), 0, 0, "0/70 engines"},
		"vt one engine":          {scoring.SeverityVirusTotal(1, 70, ""), 0.2, 0.2, "1/70"},
		"vt ten engines":         {scoring.SeverityVirusTotal(10, 70, ""), 0.89, 0.9, "10/70"},
		"vt ratio floor":         {scoring.SeverityVirusTotal(3, 4, ""), 0.75, 0.75, "3/4"},
		"vt gti high":            {scoring.SeverityVirusTotal(0, 70, "SEVERITY_HIGH"), 0.9, 0.9, "threat severity SEVERITY_HIGH"},
		"vt gti lower case":      {scoring.SeverityVirusTotal(0, 0, "low"), 0.35, 0.35, "LOW"},
		"vt bad counts":          {scoring.SeverityVirusTotal(-5, -1, ""), 0, 0, "0/0"},
		"maltiverse malicious 1": {scoring.SeverityMaltiverse("malicious", 1), 0.8, 0.8, "malicious, 1 blacklist"},
		"maltiverse malicious 9": {scoring.SeverityMaltiverse("Malicious", 9), 1, 1, "9 blacklists"},
		"maltiverse suspicious":  {scoring.SeverityMaltiverse("suspicious", 2), 0.53, 0.53, "suspicious"},
		"maltiverse neutral":     {scoring.SeverityMaltiverse("neutral", 0), 0.1, 0.1, "neutral"},
		"maltiverse whitelisted": {scoring.SeverityMaltiverse("whitelisted", 4), 0, 0, "whitelisted"},
		"misp high ids":          {scoring.SeverityMISP(1, "", true), 0.9, 0.9, "threat level 1"},
		"misp low no ids":        {scoring.SeverityMISP(3, "", false), 0.15, 0.15, "to_ids=false"},
		"misp undefined":         {scoring.SeverityMISP(0, "", true), 0.5, 0.5, "undefined"},
		"misp admiralty 4":       {scoring.SeverityMISP(1, `admiralty-scale:information-credibility="4"`, true), 0.36, 0.36, "credibility"},
		"misp confidence level":  {scoring.SeverityMISP(2, `misp:confidence-level="completely-confident"`, true), 0.6, 0.6, "completely"},
		"misp unknown tag":       {scoring.SeverityMISP(2, "tlp:amber", true), 0.6, 0.6, "tlp:amber"},
		"otx bare active":        {scoring.SeverityOTX(scoring.OTXContext{Active: true}), 0.4, 0.4, "pulse"},
		"otx rich c2":            {scoring.SeverityOTX(scoring.OTXContext{Active: true, Adversary: "APT28", MalwareFamilies: 2, AttackIDs: 3, Official: true, Role: "command_and_control"}), 1, 1, "adversary APT28"},
		"otx scanner":            {scoring.SeverityOTX(scoring.OTXContext{Active: true, Role: "scanning_host"}), 0.3, 0.3, "role scanning_host"},
		"otx inactive":           {scoring.SeverityOTX(scoring.OTXContext{Active: false, Adversary: "x"}), 0, 0, "inactive"},
		"otx expired":            {scoring.SeverityOTX(scoring.OTXContext{Active: true, Expired: true}), 0, 0, "expired"},
	} {
		t.Run(name, func(t *testing.T) {
			s := tt.got.Severity
			if s < tt.lo-1e-9 || s > tt.hi+1e-9 {
				t.Errorf("severity = %v, want in [%v, %v]", s, tt.lo, tt.hi)
			}
			if !strings.Contains(tt.got.Native, tt.nativeSubstr) {
				t.Errorf("native = %q, want it to contain %q", tt.got.Native, tt.nativeSubstr)
			}
		})
	}
}

// TestSeverityMonotone checks that a worse native verdict never maps lower.
func TestSeverityMonotone(t *testing.T) {
	for risk := 1; risk <= 99; risk++ {
		if scoring.SeverityRecordedFuture(risk, 0).Severity < scoring.SeverityRecordedFuture(risk-1, 0).Severity {
			t.Fatalf("RF risk %d maps below risk %d", risk, risk-1)
		}
	}
	for m := 1; m <= 70; m++ {
		if scoring.SeverityVirusTotal(m, 70, "").Severity < scoring.SeverityVirusTotal(m-1, 70, "").Severity {
			t.Fatalf("VT %d/70 maps below %d/70", m, m-1)
		}
	}
	for n := 1; n <= 20; n++ {
		for _, c := range []string{"malicious", "suspicious"} {
			if scoring.SeverityMaltiverse(c, n).Severity < scoring.SeverityMaltiverse(c, n-1).Severity {
				t.Fatalf("Maltiverse %s with %d blacklists maps below %d", c, n, n-1)
			}
		}
	}
	if !(scoring.SeverityMaltiverse("malicious", 1).Severity > scoring.SeverityMaltiverse("suspicious", 20).Severity) {
		t.Fatal("Maltiverse malicious does not outrank suspicious")
	}
	if !(scoring.SeverityMISP(1, "", true).Severity > scoring.SeverityMISP(2, "", true).Severity &&
		scoring.SeverityMISP(2, "", true).Severity > scoring.SeverityMISP(3, "", true).Severity) {
		t.Fatal("MISP threat levels are not ordered 1 > 2 > 3")
	}
}
