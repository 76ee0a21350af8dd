package scoring

import (
	"math"
	"strconv"
	"strings"
)

// Verdict is a provider's native verdict mapped to ctibroker's scale.
type Verdict struct {
	// Severity is in [0,1]: 0 says benign, 1 says certainly malicious.
	// Values outside the range are clamped; NaN counts as 0.
	Severity float64 `json:"severity"`
	// Native is the provider's own verdict in words, for explanations
	// (e.g. "risk 87/99, criticality 3").
	Native string `json:"native"`
}

func clamp01(x float64) float64 {
	switch {
	case x != x || x < 0: // NaN or negative
		return 0
	case x > 1:
		return 1
	}
	return x
}

// rfCriticality holds Recorded Future's rule criticality bands
// (reference/providers.md §4): 1 Unusual 5–24, 2 Suspicious 25–64,
// 3 Malicious 65–89, 4 Very Malicious 90–99; 5 Very Critical is used for
// vulnerabilities. The value is the band's middle on the 0–99 scale.
var rfCriticality = [...]struct {
	label string
	mid   float64
}{
	{"None", 0}, {"Unusual", 15}, {"Suspicious", 45}, {"Malicious", 77}, {"Very Malicious", 95}, {"Very Critical", 99},
}

// SeverityRecordedFuture maps a Recorded Future risk score (0–99) and rule
// criticality (0–5) to a verdict. The risk score is used when it is in range
// (it is what Recorded Future derives from the rules); otherwise the middle
// of the criticality's band. A risk of -1 means "not given".
func SeverityRecordedFuture(risk int, criticality int) Verdict {
	native := "risk " + strconv.Itoa(risk) + "/99"
	if risk < 0 || risk > 99 {
		native = "risk not given"
	}
	label := ""
	if criticality >= 1 && criticality < len(rfCriticality) {
		label = rfCriticality[criticality].label
		native += ", criticality " + strconv.Itoa(criticality) + " (" + label + ")"
	}
	switch {
	case risk >= 0 && risk <= 99:
		return Verdict{Severity: float64(risk) / 99, Native: native}
	case label != "":
		return Verdict{Severity: rfCriticality[criticality].mid / 99, Native: native}
	}
	return Verdict{Native: native}
}

// vtThreatSeverity maps Google Threat Intelligence's severity labels
// (gti_assessment.severity, e.g. "SEVERITY_HIGH") to severities.
var vtThreatSeverity = map[string]float64{
	"SEVERITY_NONE": 0.05, "SEVERITY_LOW": 0.35, "SEVERITY_MEDIUM": 0.65, "SEVERITY_HIGH": 0.9,
	"NONE": 0.05, "LOW": 0.35, "MEDIUM": 0.65, "HIGH": 0.9,
}

// SeverityVirusTotal maps a VirusTotal v3 detection count (malicious engines
// out of total engines that gave a verdict, last_analysis_stats) and the
// optional GTI threat severity to a verdict. Detections count with
// diminishing returns (1 − 0.8^malicious: 1 engine 0.2, 3 engines 0.49,
// 10 engines 0.89) and the detection ratio is a floor; a GTI severity, when
// present, is another floor, so the stronger of the signals wins.
func SeverityVirusTotal(malicious, total int, threatSeverity string) Verdict {
	if malicious < 0 {
		malicious = 0
	}
	if total < malicious {
		total = malicious
	}
	native := strconv.Itoa(malicious) + "/" + strconv.Itoa(total) + " engines"
	sev := 1 - math.Pow(0.8, float64(malicious))
	if total > 0 {
		sev = max(sev, float64(malicious)/float64(total))
	}
	if ts := strings.ToUpper(strings.TrimSpace(threatSeverity)); ts != "" {
		if v, ok := vtThreatSeverity[ts]; ok {
			sev = max(sev, v)
		}
		native += ", threat severity " + ts
	}
	return Verdict{Severity: clamp01(sev), Native: native}
}

// SeverityMaltiverse maps a Maltiverse classification and the number of
// distinct blacklist sources to a verdict: malicious 0.8 plus 0.05 per
// further blacklist (up to 1), suspicious 0.5 plus 0.03 per further blacklist
// (up to 0.65), neutral 0.1, whitelist (or "whitelisted") 0. An unknown
// classification gives 0.
func SeverityMaltiverse(classification string, blacklistCount int) Verdict {
	c := strings.ToLower(strings.TrimSpace(classification))
	native := c + ", " + strconv.Itoa(blacklistCount) + " blacklist"
	if blacklistCount != 1 {
		native += "s"
	}
	extra := float64(max(blacklistCount-1, 0))
	var sev float64
	switch c {
	case "malicious":
		sev = min(0.8+0.05*extra, 1)
	case "suspicious":
		sev = min(0.5+0.03*extra, 0.65)
	case "neutral":
		sev = 0.1
	}
	return Verdict{Severity: sev, Native: native}
}

// mispThreatLevel maps MISP's threat_level_id (1 High, 2 Medium, 3 Low,
// 4 Undefined) to severities, following OpenCTI's defaults.
var mispThreatLevel = map[int]float64{1: 0.9, 2: 0.6, 3: 0.3, 4: 0.5}

// mispConfidence maps MISP confidence tags to multipliers.
var mispConfidence = map[string]float64{
	`admiralty-scale:information-credibility="1"`:                      1,
	`admiralty-scale:information-credibility="2"`:                      0.9,
	`admiralty-scale:information-credibility="3"`:                      0.7,
	`admiralty-scale:information-credibility="4"`:                      0.4,
	`admiralty-scale:information-credibility="5"`:                      0.2,
	`admiralty-scale:information-credibility="6"`:                      0.6,
	`misp:confidence-level="completely-confident"`:                     1,
	`misp:confidence-level="usually-confident"`:                        0.9,
	`misp:confidence-level="fairly-confident"`:                         0.7,
	`misp:confidence-level="rarely-confident"`:                         0.4,
	`misp:confidence-level="unconfident"`:                              0.2,
	`misp:confidence-level="confidence-cannot-be-evaluated"`:           0.6,
	`estimative-language:likelihood-probability="almost-certain"`:      1,
	`estimative-language:likelihood-probability="very-likely"`:         0.9,
	`estimative-language:likelihood-probability="likely"`:              0.75,
	`estimative-language:likelihood-probability="roughly-even-chance"`: 0.5,
	`estimative-language:likelihood-probability="unlikely"`:            0.25,
	`estimative-language:likelihood-probability="very-unlikely"`:       0.1,
	`estimative-language:likelihood-probability="almost-no-chance"`:    0.05,
	`estimative-language:confidence-in-analytic-judgment="high"`:       1,
	`estimative-language:confidence-in-analytic-judgment="moderate"`:   0.75,
	`estimative-language:confidence-in-analytic-judgment="low"`:        0.4,
}

// SeverityMISP maps a MISP event's threat_level_id, an optional confidence
// tag (admiralty-scale:information-credibility, misp:confidence-level or
// estimative-language, written as MISP tags them) and the attribute's to_ids
// flag to a verdict: threat level 1→0.9, 2→0.6, 3→0.3, 4 (undefined)→0.5,
// times the tag's confidence (1 when absent or unknown), halved when to_ids
// is false (the producer did not mean it for detection).
func SeverityMISP(threatLevel int, confidenceTag string, toIDS bool) Verdict {
	sev, ok := mispThreatLevel[threatLevel]
	native := "threat level " + strconv.Itoa(threatLevel)
	if !ok {
		sev = mispThreatLevel[4]
		native = "threat level undefined"
	}
	if tag := strings.TrimSpace(confidenceTag); tag != "" {
		if m, ok := mispConfidence[strings.ToLower(tag)]; ok {
			sev *= m
		}
		native += ", " + tag
	}
	if !toIDS {
		sev *= 0.5
		native += ", to_ids=false"
	}
	return Verdict{Severity: clamp01(sev), Native: native}
}

// OTXContext is what an OTX pulse says about one of its indicators; OTX
// has no numeric score (reference/providers.md §3).
type OTXContext struct {
	// Active is the indicator's is_active flag.
	Active bool
	// Expired is true when the indicator's expiration has passed.
	Expired bool
	// Role is the indicator's role (e.g. "command_and_control").
	Role string
	// Adversary is the pulse's adversary, if any.
	Adversary string
	// MalwareFamilies is the number of malware families the pulse names.
	MalwareFamilies int
	// AttackIDs is the number of ATT&CK techniques the pulse names.
	AttackIDs int
	// Official is true for pulses by AlienVault itself or another author
	// the operator trusts.
	Official bool
}

// otxRoles raise the severity of indicators with a malicious role.
var otxRoles = map[string]float64{
	"command_and_control": 0.2, "malware_hosting": 0.15, "phishing": 0.15, "exploit_source": 0.15,
	"scanning_host": -0.1, "bruteforce": 0.05, "memory_injection": 0.1, "ransomware": 0.2,
}

// SeverityOTX derives a verdict from an OTX pulse's context: 0.4 to start,
// +0.15 with an adversary, +0.1 with malware families, +0.05 with ATT&CK
// techniques, +0.1 for an official author, plus the indicator role's
// adjustment; 0 when the indicator is inactive or expired.
func SeverityOTX(c OTXContext) Verdict {
	var parts []string
	if !c.Active || c.Expired {
		return Verdict{Native: "inactive or expired"}
	}
	sev := 0.4
	if c.Adversary != "" {
		sev += 0.15
		parts = append(parts, "adversary "+c.Adversary)
	}
	if c.MalwareFamilies > 0 {
		sev += 0.1
		parts = append(parts, strconv.Itoa(c.MalwareFamilies)+" malware families")
	}
	if c.AttackIDs > 0 {
		sev += 0.05
		parts = append(parts, strconv.Itoa(c.AttackIDs)+" ATT&CK techniques")
	}
	if c.Official {
		sev += 0.1
		parts = append(parts, "official author")
	}
	if r := strings.ToLower(strings.TrimSpace(c.Role)); r != "" {
		sev += otxRoles[r]
		parts = append(parts, "role "+r)
	}
	native := "pulse"
	if len(parts) > 0 {
		native += ": " + strings.Join(parts, ", ")
	}
	return Verdict{Severity: clamp01(sev), Native: native}
}
