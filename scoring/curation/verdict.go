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
	CVEs      []string `json:"cves,omitempty"`
	Sectors   []string `json:"sectors,omitempty"`
	Regions   []string `json:"regions,omitempty"` // targeted countries or regions (no provider records them yet)
	Labels    []string `json:"labels,omitempty"`
	// ReportRefs are the STIX ids of the reports (pulses, events) naming the value.
	ReportRefs []string `json:"report_refs,omitempty"`
}

// ParseRecord decodes a provenance record's verdict JSON. It reads the
// top-level properties without encoding/json's reflection (a pass decodes
// every provenance record of every value) and falls back to encoding/json
// for anything unusual.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	fs, err := split(b, nil)
	if err != nil {
		return r, json.Unmarshal(b, &r)
	}
	for _, f := range fs {
		switch f.key {
		case "detect":
			r.Detect = string(f.val) == "true"
		case "verdict":
			r.Verdict = f.val
		case "context":
			if err := json.Unmarshal(f.val, &r.Context); err != nil {
				return r, err
			}
		case "tlp":
			r.TLP = str(f.val)
		case "share":
			r.Share = str(f.val)
		case "reliability":
			n, err := strconv.Atoi(string(f.val))
			if err != nil {
				return r, json.Unmarshal(b, &r)
			}
			r.Reliability = &n
		case "seen":
			t, err := parseTime(f.val)
			if err != nil {
				return r, json.Unmarshal(b, &r)
			}
			r.Seen = stix.Timestamp{Time: t}
		}
	}
	return r, nil
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

// parseNative reads the native verdict fields DefaultVerdict uses; a verdict
// of another shape leaves them zero.
func parseNative(b []byte) native {
	var n native
	if len(b) == 0 {
		return n
	}
	fs, err := split(b, nil)
	if err != nil {
		_ = json.Unmarshal(b, &n)
		return n
	}
	intp := func(v []byte) *int {
		i, err := strconv.Atoi(string(v))
		if err != nil {
			f, ferr := strconv.ParseFloat(string(v), 64)
			if ferr != nil {
				return nil
			}
			i = int(f)
		}
		return &i
	}
	boolp := func(v []byte) *bool {
		x := string(v) == "true"
		if !x && string(v) != "false" {
			return nil
		}
		return &x
	}
	deref := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	for _, f := range fs {
		switch f.key {
		case "risk":
			n.Risk = intp(f.val)
		case "criticality":
			n.Criticality = deref(intp(f.val))
		case "listed":
			n.Listed = boolp(f.val)
		case "malicious":
			n.Malicious = intp(f.val)
		case "total":
			n.Total = deref(intp(f.val))
		case "threat_severity":
			n.ThreatSeverity = str(f.val)
		case "gti_severity":
			n.GTISeverity = str(f.val)
		case "classification":
			n.Classification = str(f.val)
		case "blacklist_sources":
			n.BlacklistSources = deref(intp(f.val))
		case "threat_level_id":
			n.ThreatLevel = deref(intp(f.val))
		case "confidence_tag":
			n.ConfidenceTag = str(f.val)
		case "to_ids":
			n.ToIDs = boolp(f.val)
		case "deleted":
			n.Deleted = string(f.val) == "true"
		case "role":
			n.Role = str(f.val)
		case "is_active":
			n.IsActive = intp(f.val)
		case "confidence":
			n.Confidence = intp(f.val)
		}
	}
	return n
}

// DefaultVerdict maps the native verdicts of ctibroker's providers with
// scoring's Severity functions: recordedfuture (risk, criticality),
// virustotal (malicious/total engines, threat severity), maltiverse
// (classification, blacklist sources), misp (event threat level, confidence
// tag, to_ids), otx (pulse context and role); other providers by the
// producer's STIX confidence, else by the detect flag (0.7 detection-worthy,
// 0.3 otherwise).
func DefaultVerdict(provider string, rec *Record) scoring.Verdict {
	n := parseNative(rec.Verdict)
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
