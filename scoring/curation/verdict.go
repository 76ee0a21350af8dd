package curation

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
)

// Record is a provenance record's verdict JSON as the ingest Runner writes it:
// the provider's native verdict plus what the feed config said about the value.
type Record struct {
	Detect      bool            `json:"detect"`
	Verdict     json.RawMessage `json:"verdict,omitempty"`
	Context     RecordContext   `json:"context"`
	TLP         string          `json:"tlp,omitempty"`
	Share       string          `json:"share"`
	Reliability *int            `json:"reliability,omitempty"`
	Seen        stix.Timestamp  `json:"seen"`
}

// RecordContext is the part of a provenance record's context curation reads.
type RecordContext struct {
	Malware   []string `json:"malware,omitempty"`
	Actors    []string `json:"actors,omitempty"`
	AttackIDs []string `json:"attack_ids,omitempty"`
	Sectors   []string `json:"sectors,omitempty"`
	Labels    []string `json:"labels,omitempty"`
}

// VerdictFunc maps one provenance record of a feed of provider to scoring's
// scale.
type VerdictFunc func(provider string, rec *Record) scoring.Verdict

// native is the union of the providers' native verdict fields that scoring's
// Severity functions take.
type native struct {
	Risk             *int   `json:"risk"`        // recordedfuture
	Criticality      int    `json:"criticality"` // recordedfuture
	Listed           *bool  `json:"listed"`      // recordedfuture
	Malicious        *int   `json:"malicious"`   // virustotal
	Total            int    `json:"total"`
	ThreatSeverity   string `json:"threat_severity"`
	GTISeverity      string `json:"gti_severity"`
	Classification   string `json:"classification"` // maltiverse
	BlacklistSources int    `json:"blacklist_sources"`
	ThreatLevel      int    `json:"threat_level_id"` // misp
	ConfidenceTag    string `json:"confidence_tag"`
	ToIDs            *bool  `json:"to_ids"`
	Deleted          bool   `json:"deleted"`
	Role             string `json:"role"` // otx
	IsActive         *int   `json:"is_active"`
	Confidence       *int   `json:"confidence"` // stix feeds: the producer's confidence
}

// DefaultVerdict maps the native verdicts of ctibroker's providers with
// scoring's Severity functions: recordedfuture (risk, criticality),
// virustotal (malicious/total engines, threat severity), maltiverse
// (classification, blacklist sources), misp (event threat level, confidence
// tag, to_ids), otx (pulse context and role); other providers by the
// producer's STIX confidence, else by the detect flag (0.7 detection-worthy,
// 0.3 otherwise).
func DefaultVerdict(provider string, rec *Record) scoring.Verdict {
	var n native
	if len(rec.Verdict) > 0 {
		_ = json.Unmarshal(rec.Verdict, &n) // a verdict of another shape falls back below
	}
	switch strings.ToLower(provider) {
	case "recordedfuture":
		if n.Risk != nil || n.Criticality > 0 {
			risk := -1
			if n.Risk != nil {
				risk = *n.Risk
			}
			return scoring.SeverityRecordedFuture(risk, n.Criticality)
		}
	case "virustotal":
		if n.Malicious != nil {
			sev := n.ThreatSeverity
			if sev == "" {
				sev = n.GTISeverity
			}
			return scoring.SeverityVirusTotal(*n.Malicious, n.Total, sev)
		}
	case "maltiverse":
		if n.Classification != "" {
			return scoring.SeverityMaltiverse(n.Classification, n.BlacklistSources)
		}
	case "misp":
		if n.ToIDs != nil || n.ThreatLevel != 0 {
			return scoring.SeverityMISP(n.ThreatLevel, n.ConfidenceTag, n.ToIDs == nil || *n.ToIDs)
		}
	case "otx":
		return scoring.SeverityOTX(scoring.OTXContext{Active: n.IsActive == nil || *n.IsActive != 0, Role: n.Role,
			Adversary: strings.Join(rec.Context.Actors, ", "), MalwareFamilies: len(rec.Context.Malware),
			AttackIDs: len(rec.Context.AttackIDs)})
	}
	if n.Confidence != nil && *n.Confidence >= 0 && *n.Confidence <= 100 {
		return scoring.Verdict{Severity: float64(*n.Confidence) / 100, Native: "confidence " + strconv.Itoa(*n.Confidence)}
	}
	if rec.Detect {
		return scoring.Verdict{Severity: 0.7, Native: "detection-worthy"}
	}
	return scoring.Verdict{Severity: 0.3, Native: "observed"}
}
