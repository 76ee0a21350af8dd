package virustotal

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
)

// Object is one VirusTotal API v3 object (reference/providers.md §2): a file,
// url, domain, ip_address, collection (GTI threat actors, campaigns, malware
// families, vulnerabilities, reports) or attack_technique. Objects of the IoC
// stream also carry ContextAttributes. Google Threat Intelligence returns the
// same objects with gti_assessment filled in.
type Object struct {
	ID                string                  `json:"id"`
	Type              string                  `json:"type"`
	Attributes        Attributes              `json:"attributes"`
	ContextAttributes *ContextAttributes      `json:"context_attributes,omitempty"`
	Relationships     map[string]Relationship `json:"relationships,omitempty"`
}

// Relationship is one entry of an object's relationships: descriptors (or full
// objects) of related objects.
type Relationship struct {
	Data json.RawMessage `json:"data"`
}

// AnalysisStats is last_analysis_stats: how many engines said what.
type AnalysisStats struct {
	Harmless         int `json:"harmless"`
	Malicious        int `json:"malicious"`
	Suspicious       int `json:"suspicious"`
	Undetected       int `json:"undetected"`
	Timeout          int `json:"timeout"`
	TypeUnsupported  int `json:"type-unsupported,omitempty"`
	ConfirmedTimeout int `json:"confirmed-timeout,omitempty"`
	Failure          int `json:"failure,omitempty"`
}

// Votes is total_votes.
type Votes struct {
	Harmless  int `json:"harmless"`
	Malicious int `json:"malicious"`
}

// Value is GTI's {value: …} wrapper.
type Value struct {
	Value json.RawMessage `json:"value"`
}

func (v *Value) str() string {
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) == nil {
		return s
	}
	return ""
}

// GTIAssessment is Google Threat Intelligence's verdict (null without the
// entitlement).
type GTIAssessment struct {
	Verdict     *Value `json:"verdict,omitempty"`
	Severity    *Value `json:"severity,omitempty"`
	ThreatScore *Value `json:"threat_score,omitempty"`
	Description string `json:"description,omitempty"`
}

// ThreatSeverity is VirusTotal's threat_severity.
type ThreatSeverity struct {
	Level            string `json:"threat_severity_level,omitempty"`
	LevelDescription string `json:"level_description,omitempty"`
}

// ThreatClassification is a file's popular_threat_classification.
type ThreatClassification struct {
	SuggestedThreatLabel  string       `json:"suggested_threat_label,omitempty"`
	PopularThreatCategory []CountValue `json:"popular_threat_category,omitempty"`
	PopularThreatName     []CountValue `json:"popular_threat_name,omitempty"`
}

// CountValue is a {count, value} pair.
type CountValue struct {
	Count int    `json:"count"`
	Value string `json:"value"`
}

// DNSRecord is one of a domain's last_dns_records.
type DNSRecord struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	TTL   int    `json:"ttl,omitempty"`
}

// YaraResult is one crowdsourced YARA match.
type YaraResult struct {
	RuleName    string `json:"rule_name"`
	RulesetName string `json:"ruleset_name,omitempty"`
	Source      string `json:"source,omitempty"`
}

// Detail is one entry of a GTI collection's *_details lists
// ({value, confidence, first_seen, last_seen, description}).
type Detail struct {
	Value      json.RawMessage `json:"value"`
	Confidence string          `json:"confidence,omitempty"`
}

func (d Detail) str() string {
	var s string
	if json.Unmarshal(d.Value, &s) == nil {
		return s
	}
	return ""
}

// Industry is one entry of targeted_industries_tree.
type Industry struct {
	IndustryGroup string `json:"industry_group"`
	Industry      string `json:"industry"`
	Confidence    string `json:"confidence,omitempty"`
}

// Attributes holds the attributes of every object type the converter reads.
type Attributes struct {
	// common
	LastAnalysisStats    *AnalysisStats  `json:"last_analysis_stats,omitempty"`
	Reputation           *int            `json:"reputation,omitempty"`
	TotalVotes           *Votes          `json:"total_votes,omitempty"`
	Tags                 []string        `json:"tags,omitempty"`
	LastAnalysisDate     int64           `json:"last_analysis_date,omitempty"`
	LastModificationDate int64           `json:"last_modification_date,omitempty"`
	CreationDate         int64           `json:"creation_date,omitempty"`
	GTIAssessment        *GTIAssessment  `json:"gti_assessment,omitempty"`
	ThreatSeverity       *ThreatSeverity `json:"threat_severity,omitempty"`

	// file
	MD5                         string                `json:"md5,omitempty"`
	SHA1                        string                `json:"sha1,omitempty"`
	SHA256                      string                `json:"sha256,omitempty"`
	SSDEEP                      string                `json:"ssdeep,omitempty"`
	TLSH                        string                `json:"tlsh,omitempty"`
	Size                        int64                 `json:"size,omitempty"`
	Names                       []string              `json:"names,omitempty"`
	MeaningfulName              string                `json:"meaningful_name,omitempty"`
	TypeTag                     string                `json:"type_tag,omitempty"`
	PopularThreatClassification *ThreatClassification `json:"popular_threat_classification,omitempty"`
	CrowdsourcedYaraResults     []YaraResult          `json:"crowdsourced_yara_results,omitempty"`

	// url
	URL                  string            `json:"url,omitempty"`
	LastFinalURL         string            `json:"last_final_url,omitempty"`
	LastHTTPResponseCode int               `json:"last_http_response_code,omitempty"`
	ThreatNames          []string          `json:"threat_names,omitempty"`
	Categories           map[string]string `json:"categories,omitempty"`

	// domain
	LastDNSRecords []DNSRecord `json:"last_dns_records,omitempty"`
	Registrar      string      `json:"registrar,omitempty"`

	// ip_address
	ASN     int64  `json:"asn,omitempty"`
	ASOwner string `json:"as_owner,omitempty"`
	Network string `json:"network,omitempty"`
	Country string `json:"country,omitempty"`

	// collection
	Name                   string     `json:"name,omitempty"`
	Description            string     `json:"description,omitempty"`
	CollectionType         string     `json:"collection_type,omitempty"`
	Origin                 string     `json:"origin,omitempty"`
	AltNamesDetails        []Detail   `json:"alt_names_details,omitempty"`
	MalwareRoles           []Detail   `json:"malware_roles,omitempty"`
	Motivations            []Detail   `json:"motivations,omitempty"`
	FirstSeenDetails       []Detail   `json:"first_seen_details,omitempty"`
	LastSeenDetails        []Detail   `json:"last_seen_details,omitempty"`
	TargetedIndustriesTree []Industry `json:"targeted_industries_tree,omitempty"`

	// attack_technique
	StixID string `json:"stix_id,omitempty"`
	Link   string `json:"link,omitempty"`
}

// ContextAttributes are what the IoC stream adds to an object.
type ContextAttributes struct {
	NotificationID   string         `json:"notification_id,omitempty"`
	NotificationDate int64          `json:"notification_date,omitempty"`
	Origin           string         `json:"origin,omitempty"`
	Sources          []StreamSource `json:"sources,omitempty"`
	Tags             []string       `json:"tags,omitempty"`
	HuntingInfo      *HuntingInfo   `json:"hunting_info,omitempty"`
	URL              string         `json:"url,omitempty"` // url descriptors of a collection carry the URL here
}

// StreamSource is one source of an IoC stream notification.
type StreamSource struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// HuntingInfo is the Livehunt context of a hunting notification.
type HuntingInfo struct {
	RuleName      string   `json:"rule_name,omitempty"`
	RuleTags      []string `json:"rule_tags,omitempty"`
	SourceCountry string   `json:"source_country,omitempty"`
	SourceKey     string   `json:"source_key,omitempty"`
}

// Provider names VirusTotal as ctibroker spells it.
const Provider = "virustotal"

// ProviderIdentityID is the id of the identity object that stands for VirusTotal.
var ProviderIdentityID = ingest.ContextID("identity", "VirusTotal")

var namespace = uuid.MustParse(ingest.Namespace)

// ExtensionID is the id of the extension-definition of the VirusTotal property
// extension: an object's native verdict fields, kept for audit. Observation.Verdict
// holds exactly that extension's content, so whoever publishes the value's
// indicator can attach it under extensions[ExtensionID].
var ExtensionID = stix.DeterministicID("extension-definition", namespace, "extension|"+Provider)

// ExtensionSchemaURL is where the extension's JSON schema is published
// (schema/extension.json in this package).
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/ingest/virustotal/schema/extension.json"

var definitionTime = stix.Timestamp{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// DefaultTLP is the TLP 2.0 level of VirusTotal data when the feed declares none:
// VirusTotal gives no TLP and hunting context is private.
const DefaultTLP = "amber"

// DefaultDetectionThreshold is the 0–100 score at or above which a file, url,
// domain or IP is detection-worthy when the feed sets none: one engine
// (scoring.SeverityVirusTotal gives 0.2 for one detection).
const DefaultDetectionThreshold = 20

// Options steer the conversion.
type Options struct {
	Feed     string // the feed's name, for warnings and observations
	Identity string // the instance identity: created_by_ref of the objects ctibroker authors; empty: none
	TLP      string // TLP 2.0 level; empty: DefaultTLP
	// DetectionThreshold is the score (GTI threat_score, else
	// scoring.SeverityVirusTotal × 100) at or above which a value gets an
	// indicator; 0: DefaultDetectionThreshold. A GTI verdict of malicious always
	// does, a benign one never; IoC stream hunting matches always do.
	DetectionThreshold int
	Attack             *attack.Index    // resolves ATT&CK ids and names; nil: ids kept unresolved
	Now                func() time.Time // stamps context objects; nil: the latest object time seen
}

// Converter turns VirusTotal objects into observations, context objects and
// warnings. It is pure. Not safe for concurrent use.
type Converter struct {
	opts      Options
	tlp       stix.TLP
	marking   []string
	objs      map[string]stix.Object
	obs       []ingest.Observation
	warns     []ingest.Warning
	latest    time.Time
	headerOut bool
}

// NewConverter returns a converter; an unknown TLP level is an error.
func NewConverter(opts Options) (*Converter, error) {
	tlp := strings.ToLower(strings.TrimSpace(opts.TLP))
	if tlp == "" {
		tlp = DefaultTLP
	}
	l, ok := stix.TLPFromTag("tlp:" + tlp)
	if !ok {
		return nil, fmt.Errorf("virustotal: TLP %q is not clear, green, amber, amber+strict or red", opts.TLP)
	}
	if opts.DetectionThreshold <= 0 {
		opts.DetectionThreshold = DefaultDetectionThreshold
	}
	opts.TLP = strings.TrimPrefix(strings.ToLower(l.String()), "tlp:")
	return &Converter{opts: opts, tlp: l, marking: []string{l.MarkingRef()}, objs: map[string]stix.Object{}}, nil
}

func (c *Converter) warn(record, field, format string, a ...any) {
	c.warns = append(c.warns, ingest.Warning{Feed: c.opts.Feed, Record: record, Field: field, Msg: fmt.Sprintf(format, a...)})
}

func epoch(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func (c *Converter) saw(t time.Time) {
	if t.After(c.latest) {
		c.latest = t
	}
}

// placeholders are values put where a value is missing or withheld: a
// smaller set than ingest.ReportedPlaceholders ("nil" and "removed" are not in
// it).
var placeholders = ingest.Placeholders{
	"-": true, "n/a": true, "na": true, "none": true, "null": true, "unknown": true, "redacted": true,
	"[redacted]": true, "<redacted>": true, "hidden": true, "0.0.0.0": true, "::": true, "255.255.255.255": true,
}

// normalize normalises one value (see ingest.Placeholders.NormalizeReported),
// turning problems into warnings on field.
func (c *Converter) normalize(record, field, typ, value string) (ingest.Value, bool) {
	v, err := placeholders.NormalizeReported(typ, value)
	if err != nil {
		c.warn(record, field, "%v", err)
		return ingest.Value{}, false
	}
	return v, true
}

// cveTag returns the CVE id a lower-case tag such as "cve-2021-44228" is.
func cveTag(t string) (string, bool) {
	if !strings.HasPrefix(t, "cve-") {
		return "", false
	}
	cve, err := ingest.NormalizeCVE(t)
	return cve, err == nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (c *Converter) common(typ, id string, marked bool) stix.Common {
	cm := stix.Common{Type: typ, SpecVersion: stix.SpecVersion, ID: id, CreatedByRef: c.opts.Identity}
	if marked {
		cm.ObjectMarkingRefs = c.marking
	}
	return cm
}

func (c *Converter) relate(rel, source, target string) {
	id := stix.DeterministicID("relationship", namespace, rel+"|"+source+"|"+target)
	if _, ok := c.objs[id]; ok {
		return
	}
	c.objs[id] = &stix.Relationship{Common: c.common("relationship", id, true), RelationshipType: rel, SourceRef: source, TargetRef: target}
}

func (c *Converter) put(o stix.Object) {
	if _, ok := c.objs[o.Base().ID]; !ok {
		c.objs[o.Base().ID] = o
	}
}

// AddRaw decodes and converts one API answer or object: {"data": object},
// {"data": [objects]}, a bare object, or the OpenCTI debug envelope
// {"response": …}. What does not decode is a warning.
func (c *Converter) AddRaw(record string, raw []byte) {
	// One decode: the object's own fields and the envelopes' next to them.
	var env struct {
		Object
		Data     json.RawMessage `json:"data"`
		Response json.RawMessage `json:"response"`
		Error    *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		c.warn(record, "document", "not a VirusTotal object: %v", err)
		return
	}
	switch {
	case env.Error != nil:
		c.warn(record, "error", "VirusTotal error %s: %s", env.Error.Code, env.Error.Message)
	case len(env.Response) > 0 && env.Type == "":
		c.AddRaw(record, env.Response)
	case len(env.Data) > 0 && env.Type == "":
		d := bytes.TrimLeft(env.Data, " \t\r\n")
		if len(d) > 0 && d[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(d, &list); err != nil {
				c.warn(record, "data", "%v", err)
				return
			}
			for i, o := range list {
				c.AddRaw(record+".data["+strconv.Itoa(i)+"]", o)
			}
			return
		}
		c.AddRaw(record, env.Data)
	default:
		c.Add(record, &env.Object)
	}
}

// score returns the object's 0–100 score and the verdict words: GTI threat_score
// when present, else scoring.SeverityVirusTotal over last_analysis_stats and
// threat_severity.
func score(a *Attributes) (int, bool) {
	if g := a.GTIAssessment; g != nil && g.ThreatScore != nil {
		var f float64
		if json.Unmarshal(g.ThreatScore.Value, &f) == nil {
			return int(math.Round(f)), true
		}
	}
	if a.LastAnalysisStats == nil {
		return 0, false
	}
	s := a.LastAnalysisStats
	sev := ""
	if a.ThreatSeverity != nil {
		sev = a.ThreatSeverity.Level
	}
	v := scoring.SeverityVirusTotal(s.Malicious, s.Harmless+s.Malicious+s.Suspicious+s.Undetected, sev)
	return int(math.Round(v.Severity * 100)), true
}

// Add converts one object.
func (c *Converter) Add(record string, o *Object) {
	typ := strings.TrimSpace(o.Type)
	rec := record
	if o.ID != "" {
		rec = record + " (" + typ + " " + o.ID + ")"
	}
	a := &o.Attributes
	c.saw(epoch(a.LastModificationDate))
	switch typ {
	case "file", "url", "domain", "ip_address":
		c.addIOC(rec, o, nil)
	case "collection":
		c.addCollection(rec, o)
	case "attack_technique":
		c.addTechnique(rec, o)
	case "":
		c.warn(rec, "type", "missing")
	default:
		c.warn(rec, "type", "object type %q is not converted", o.Type)
	}
}

// collectionRef is the context object a collection stands for, as IoCs of the
// collection relate to it.
type collectionRef struct {
	id, kind, name string // kind: malware, intrusion-set, campaign, vulnerability
}

// iocValues returns an IoC object's values: a file's hashes, a url's URL, a
// domain, an IP address.
func (c *Converter) iocValues(rec string, o *Object) []ingest.Value {
	a := &o.Attributes
	var out []ingest.Value
	add := func(field, typ, val string) {
		if v, ok := c.normalize(rec, field, typ, val); ok {
			out = append(out, v)
		}
	}
	switch o.Type {
	case "file":
		sha := a.SHA256
		if sha == "" {
			sha = o.ID
		}
		add("attributes.sha256", "sha256", sha)
		if a.SHA1 != "" {
			add("attributes.sha1", "sha1", a.SHA1)
		}
		if a.MD5 != "" {
			add("attributes.md5", "md5", a.MD5)
		}
	case "url":
		u := a.URL
		if u == "" && o.ContextAttributes != nil {
			u = o.ContextAttributes.URL
		}
		if u == "" {
			c.warn(rec, "attributes.url", "missing (the id is a hash of the URL, not the URL)")
			return nil
		}
		add("attributes.url", "url", u)
	case "domain":
		add("id", "domain", o.ID)
	case "ip_address":
		add("id", "ip", o.ID)
	}
	return out
}

// addIOC converts a file, url, domain or ip_address object; coll is the
// collection it was listed under, if any.
func (c *Converter) addIOC(rec string, o *Object, coll *collectionRef) {
	a := &o.Attributes
	vals := c.iocValues(rec, o)
	if len(vals) == 0 {
		return
	}
	sc, scored := score(a)
	detect := scored && sc >= c.opts.DetectionThreshold
	gtiVerdict := ""
	if a.GTIAssessment != nil {
		gtiVerdict = strings.ToUpper(a.GTIAssessment.Verdict.str())
		switch gtiVerdict {
		case "VERDICT_MALICIOUS":
			detect = true
		case "VERDICT_BENIGN":
			detect = false
		}
	}
	ca := o.ContextAttributes
	if ca != nil && strings.EqualFold(ca.Origin, "hunting") {
		detect = true // the feed owner's own Livehunt/Retrohunt rule matched
	}
	if coll != nil {
		detect = true // listed as an IoC of a threat collection
	}
	if !scored && coll == nil && (ca == nil || !strings.EqualFold(ca.Origin, "hunting")) {
		c.warn(rec, "attributes.last_analysis_stats", "missing; recorded without an indicator")
	}

	ctx := ingest.Context{TLP: c.opts.TLP}
	// Malware families and actors go into the observation's Context: the Runner
	// (and ingest.Author) author the indicates relationships to ATT&CK or to
	// ContextID objects. Campaigns, which Context has no list for, are related
	// here.
	var targets []string
	for _, t := range a.Tags {
		if t = strings.ToLower(ingest.CleanText(t)); t != "" {
			ctx.Labels = appendUnique(ctx.Labels, t)
			if cve, ok := cveTag(t); ok {
				ctx.CVEs = appendUnique(ctx.CVEs, cve)
			}
		}
	}
	if p := a.PopularThreatClassification; p != nil {
		for _, cat := range p.PopularThreatCategory {
			if v := strings.ToLower(ingest.CleanText(cat.Value)); v != "" {
				ctx.Labels = appendUnique(ctx.Labels, v)
			}
		}
		// suggested_threat_label is "category.family/family": VirusTotal's own
		// reading of the engines' names, the family candidates.
		label := ingest.CleanText(p.SuggestedThreatLabel)
		if _, fams, ok := strings.Cut(label, "."); ok {
			for _, f := range strings.Split(fams, "/") {
				if f = strings.TrimSpace(f); f != "" && strings.ContainsFunc(f, unicode.IsLetter) {
					ctx.Malware = appendUnique(ctx.Malware, f)
					c.attackName(&ctx, f, "malware", "tool")
				}
			}
		}
	}
	if ca != nil {
		for _, t := range ca.Tags {
			if t = strings.ToLower(ingest.CleanText(t)); t != "" {
				ctx.Labels = appendUnique(ctx.Labels, t)
			}
		}
		if h := ca.HuntingInfo; h != nil && h.RuleName != "" {
			ctx.Labels = appendUnique(ctx.Labels, "livehunt:"+strings.ToLower(h.RuleName))
		}
		// Subscriptions to collections name the collection: context by structure.
		for _, s := range ca.Sources {
			name := ingest.CleanText(s.Name)
			if s.Type != "collection" || name == "" {
				continue
			}
			switch {
			case strings.HasPrefix(s.ID, "malware--"):
				ctx.Malware = appendUnique(ctx.Malware, name)
				c.attackName(&ctx, name, "malware", "tool")
			case strings.HasPrefix(s.ID, "threat-actor--"):
				ctx.Actors = appendUnique(ctx.Actors, name)
				c.attackName(&ctx, name, "intrusion-set")
			case strings.HasPrefix(s.ID, "campaign--"):
				targets = appendUnique(targets, c.campaign(name))
			}
		}
	}
	if coll != nil {
		switch coll.kind {
		case "malware":
			ctx.Malware = appendUnique(ctx.Malware, coll.name)
			c.attackName(&ctx, coll.name, "malware", "tool")
		case "intrusion-set":
			ctx.Actors = appendUnique(ctx.Actors, coll.name)
			c.attackName(&ctx, coll.name, "intrusion-set")
		case "campaign":
			targets = appendUnique(targets, coll.id)
		case "vulnerability":
			ctx.CVEs = appendUnique(ctx.CVEs, coll.name)
		}
	}
	for _, cve := range ctx.CVEs {
		c.vulnerability(cve, "")
	}
	seen := epoch(a.LastAnalysisDate)
	if ca != nil && ca.NotificationDate > 0 {
		seen = epoch(ca.NotificationDate)
	}
	if seen.IsZero() {
		seen = epoch(a.LastModificationDate)
	}
	c.saw(seen)
	native, err := c.native(o, sc, scored, gtiVerdict, coll)
	if err != nil {
		c.warn(rec, "attributes", "native fields: %v", err)
	}
	for _, v := range vals {
		c.obs = append(c.obs, ingest.Observation{Feed: c.opts.Feed, Type: v.Kind(), Value: v.Value, Verdict: native,
			Detect: detect, Seen: seen, Context: ctx})
		if detect {
			ind := ingest.IndicatorID(v)
			for _, t := range targets {
				c.relate("indicates", ind, t)
			}
		}
	}
	switch o.Type {
	case "domain":
		host := ingest.ObservableID(vals[0])
		for i, r := range a.LastDNSRecords {
			if r.Type != "A" && r.Type != "AAAA" {
				continue
			}
			v, ok := c.normalize(rec, fmt.Sprintf("attributes.last_dns_records[%d].value", i), "ip", r.Value)
			if !ok {
				continue
			}
			c.put(c.ipSCO(v))
			c.relate("resolves-to", host, ingest.ObservableID(v))
		}
	case "ip_address":
		if a.ASN > 0 {
			as := stix.NewAutonomousSystem(a.ASN)
			as.Name = ingest.CleanText(a.ASOwner)
			if err := as.SetID(); err == nil {
				c.put(as)
				c.relate("belongs-to", ingest.ObservableID(vals[0]), as.ID)
			}
		}
	}
}

func (c *Converter) ipSCO(v ingest.Value) stix.Object {
	id := ingest.ObservableID(v)
	if v.Type == ingest.TypeIPv4 {
		return &stix.IPv4Addr{Common: stix.Common{Type: v.Type, SpecVersion: stix.SpecVersion, ID: id}, Value: v.Value}
	}
	return &stix.IPv6Addr{Common: stix.Common{Type: v.Type, SpecVersion: stix.SpecVersion, ID: id}, Value: v.Value}
}

// attackName adds the ATT&CK id of name to ctx when the index knows it as one of
// types.
func (c *Converter) attackName(ctx *ingest.Context, name string, types ...string) {
	if c.opts.Attack == nil {
		return
	}
	if r, ok := c.opts.Attack.ResolveName(name, types...); ok {
		ctx.AttackIDs = appendUnique(ctx.AttackIDs, r.ExternalID)
	}
}

func (c *Converter) campaign(name string) string {
	if c.opts.Attack != nil {
		if r, ok := c.opts.Attack.ResolveName(name, "campaign"); ok {
			return r.ID
		}
	}
	id := ingest.ContextID("campaign", name)
	c.put(&stix.Campaign{Common: c.common("campaign", id, false), Name: name})
	return id
}

func (c *Converter) vulnerability(cve, description string) string {
	id := ingest.ContextID("vulnerability", cve)
	co := c.common("vulnerability", id, description != "")
	co.ExternalReferences = []stix.ExternalReference{{SourceName: "cve", ExternalID: cve}}
	v := &stix.Vulnerability{Common: co, Name: cve, Description: description}
	if description != "" {
		c.objs[id] = v // the collection's own description wins over a bare mention
	} else {
		c.put(v)
	}
	return id
}

// malwareTypes maps GTI malware roles onto malware-type-ov.
var malwareTypes = map[string]string{
	"adware": "adware", "backdoor": "backdoor", "bot": "bot", "bootkit": "bootkit", "ddos": "ddos",
	"downloader": "downloader", "dropper": "dropper", "exploit kit": "exploit-kit", "keylogger": "keylogger",
	"ransomware": "ransomware", "remote access trojan": "remote-access-trojan", "rat": "remote-access-trojan",
	"resource exploitation": "resource-exploitation", "coin miner": "resource-exploitation", "miner": "resource-exploitation",
	"rogue security software": "rogue-security-software", "rootkit": "rootkit", "screen capture": "screen-capture",
	"spyware": "spyware", "trojan": "trojan", "virus": "virus", "webshell": "webshell", "wiper": "wiper", "worm": "worm",
	"credential stealer": "spyware", "infostealer": "spyware", "stealer": "spyware", "loader": "downloader",
}

// sectors maps GTI industry groups onto industry-sector-ov.
var sectors = map[string]string{
	"aerospace & defense": "defense", "automotive": "automotive", "chemicals & materials": "chemical",
	"construction & engineering": "construction", "education": "education", "energy & utilities": "energy",
	"financial services": "financial-services", "government": "government", "healthcare": "healthcare",
	"hospitality": "hospitality-leisure", "insurance": "insurance", "legal & professional services": "commercial",
	"manufacturing": "manufacturing", "media & entertainment": "entertainment", "retail": "retail",
	"technology": "technology", "telecommunications": "telecommunications", "transportation": "transportation",
	"pharmaceuticals": "pharmaceuticals", "oil & gas": "energy", "non-profit": "non-profit",
	"civil society & non-profits": "non-profit", "agriculture": "agriculture", "mining": "mining",
}

func detailTime(ds []Detail) *stix.Timestamp {
	for _, d := range ds {
		if t, err := time.Parse(time.RFC3339, d.str()); err == nil {
			ts := stix.NewTimestamp(t)
			return &ts
		}
	}
	return nil
}

// cveOf finds the CVE of a vulnerability collection: its name, else its id
// ("vulnerability--cve-2024-3400").
func cveOf(o *Object) (string, bool) {
	for _, s := range []string{o.Attributes.Name, strings.TrimPrefix(o.ID, "vulnerability--")} {
		if cve, err := ingest.NormalizeCVE(s); err == nil {
			return cve, true
		}
	}
	return "", false
}

// addCollection converts a GTI collection: the context object it stands for,
// its targeted industries, and the related objects its relationships carry.
func (c *Converter) addCollection(rec string, o *Object) {
	a := &o.Attributes
	name := ingest.CleanText(a.Name)
	kind := strings.ToLower(strings.TrimSpace(a.CollectionType))
	if name == "" && kind != "vulnerability" {
		c.warn(rec, "attributes.name", "missing; collection skipped")
		return
	}
	c.saw(epoch(a.CreationDate))
	desc := ingest.CleanText(a.Description)
	var aliases []string
	for _, d := range a.AltNamesDetails {
		if s := ingest.CleanText(d.str()); s != "" && !strings.EqualFold(s, name) {
			aliases = appendUnique(aliases, s)
		}
	}
	first, last := detailTime(a.FirstSeenDetails), detailTime(a.LastSeenDetails)
	if first != nil && last != nil && last.Before(first.Time) {
		last = nil
	}
	var ref collectionRef
	resolve := func(types ...string) (attack.Ref, bool) {
		if c.opts.Attack == nil {
			return attack.Ref{}, false
		}
		return c.opts.Attack.ResolveName(name, types...)
	}
	ext := []stix.ExternalReference{{SourceName: "virustotal", ExternalID: o.ID,
		URL: "https://www.virustotal.com/gui/collection/" + o.ID}}
	switch kind {
	case "malware-family":
		ref = collectionRef{kind: "malware", name: name}
		if r, ok := resolve("malware", "tool"); ok {
			ref.id = r.ID
			break
		}
		ref.id = ingest.ContextID("malware", name)
		m := &stix.Malware{Common: c.common("malware", ref.id, true), Name: name, Description: desc, IsFamily: true,
			Aliases: aliases, FirstSeen: first, LastSeen: last}
		m.ExternalReferences = ext
		for _, r := range a.MalwareRoles {
			if t, ok := malwareTypes[strings.ToLower(ingest.CleanText(r.str()))]; ok {
				m.MalwareTypes = appendUnique(m.MalwareTypes, t)
			}
		}
		c.objs[ref.id] = m
	case "threat-actor":
		ref = collectionRef{kind: "intrusion-set", name: name}
		if r, ok := resolve("intrusion-set"); ok {
			ref.id = r.ID
			break
		}
		ref.id = ingest.ContextID("intrusion-set", name)
		is := &stix.IntrusionSet{Common: c.common("intrusion-set", ref.id, true), Name: name, Description: desc,
			Aliases: aliases, FirstSeen: first, LastSeen: last}
		is.ExternalReferences = ext
		c.objs[ref.id] = is
	case "campaign":
		ref = collectionRef{kind: "campaign", name: name}
		if r, ok := resolve("campaign"); ok {
			ref.id = r.ID
			break
		}
		ref.id = ingest.ContextID("campaign", name)
		cp := &stix.Campaign{Common: c.common("campaign", ref.id, true), Name: name, Description: desc,
			Aliases: aliases, FirstSeen: first, LastSeen: last}
		cp.ExternalReferences = ext
		c.objs[ref.id] = cp
	case "vulnerability":
		cve, ok := cveOf(o)
		if !ok {
			c.warn(rec, "attributes.name", "vulnerability collection without a CVE id (%q); skipped", a.Name)
			return
		}
		ref = collectionRef{kind: "vulnerability", name: cve, id: c.vulnerability(cve, desc)}
	case "":
		c.warn(rec, "attributes.collection_type", "missing; collection skipped")
		return
	default:
		c.warn(rec, "attributes.collection_type", "collection type %q is not converted", a.CollectionType)
		return
	}
	if ref.kind != "vulnerability" {
		for i, ind := range a.TargetedIndustriesTree {
			sector := ingest.CleanText(ind.IndustryGroup)
			if ind.Industry != "" {
				sector = ingest.CleanText(ind.Industry)
			}
			if sector == "" {
				c.warn(rec, fmt.Sprintf("attributes.targeted_industries_tree[%d].industry_group", i), "missing")
				continue
			}
			id := ingest.ContextID("identity", "sector "+sector)
			c.put(&stix.Identity{Common: c.common("identity", id, false), Name: sector, IdentityClass: "class",
				Sectors: []string{ingest.SectorOf(sector, sectors)}})
			c.relate("targets", ref.id, id)
		}
	}
	c.addRelated(rec, o, &ref)
}

// descriptor is an entry of a relationship's data: {type, id} and possibly the
// full object.
type descriptor struct {
	Object
}

// addRelated converts the objects a collection's relationships list.
func (c *Converter) addRelated(rec string, o *Object, ref *collectionRef) {
	names := make([]string, 0, len(o.Relationships))
	for k := range o.Relationships {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		data := bytes.TrimSpace(o.Relationships[k].Data)
		if len(data) == 0 || data[0] != '[' {
			continue
		}
		var list []descriptor
		if err := json.Unmarshal(data, &list); err != nil {
			c.warn(rec, "relationships."+k, "%v", err)
			continue
		}
		for i := range list {
			d := &list[i].Object
			field := fmt.Sprintf("relationships.%s.data[%d]", k, i)
			switch d.Type {
			case "file", "url", "domain", "ip_address":
				c.addIOC(rec+" "+field, d, ref)
			case "attack_technique":
				id := attack.Canonical(d.ID)
				if c.opts.Attack == nil {
					continue
				}
				r, ok := c.opts.Attack.Resolve(id)
				if !ok {
					c.warn(rec, field+".id", "unknown ATT&CK id %q", d.ID)
					continue
				}
				if ref.kind != "vulnerability" && r.Type == "attack-pattern" {
					c.relate("uses", ref.id, r.ID)
				}
			case "vulnerability", "collection":
				cve, ok := cveOf(d)
				if !ok {
					continue
				}
				vid := c.vulnerability(cve, "")
				if ref.kind != "vulnerability" {
					c.relate("targets", ref.id, vid)
				}
			}
		}
	}
}

// addTechnique checks a VirusTotal attack_technique object against ATT&CK:
// ATT&CK objects are MITRE's and come from the ATT&CK import, so nothing is
// authored; an id ATT&CK does not know is a warning.
func (c *Converter) addTechnique(rec string, o *Object) {
	id := attack.Canonical(o.ID)
	if id == "" {
		c.warn(rec, "id", "missing")
		return
	}
	if c.opts.Attack == nil {
		return
	}
	if _, ok := c.opts.Attack.Resolve(id); !ok {
		c.warn(rec, "id", "unknown ATT&CK id %q", o.ID)
	}
}

// nativeFields is the VirusTotal property extension: the object's native verdict
// fields. malicious and total are what scoring.SeverityVirusTotal takes.
type nativeFields struct {
	ExtensionType        string             `json:"extension_type"`
	ProviderRef          string             `json:"provider_ref"`
	ObjectType           string             `json:"object_type"`
	ObjectID             string             `json:"object_id"`
	Score                *int               `json:"score,omitempty"`
	Malicious            int                `json:"malicious"`
	Total                int                `json:"total"`
	LastAnalysisStats    *AnalysisStats     `json:"last_analysis_stats,omitempty"`
	Reputation           *int               `json:"reputation,omitempty"`
	TotalVotes           *Votes             `json:"total_votes,omitempty"`
	ThreatSeverity       string             `json:"threat_severity,omitempty"`
	GTIVerdict           string             `json:"gti_verdict,omitempty"`
	GTISeverity          string             `json:"gti_severity,omitempty"`
	SuggestedThreatLabel string             `json:"suggested_threat_label,omitempty"`
	PopularThreatNames   []string           `json:"popular_threat_names,omitempty"`
	Tags                 []string           `json:"tags,omitempty"`
	YaraRules            []string           `json:"yara_rules,omitempty"`
	ThreatNames          []string           `json:"threat_names,omitempty"`
	Categories           map[string]string  `json:"categories,omitempty"`
	TypeTag              string             `json:"type_tag,omitempty"`
	MeaningfulName       string             `json:"meaningful_name,omitempty"`
	Size                 int64              `json:"size,omitempty"`
	ASN                  int64              `json:"asn,omitempty"`
	ASOwner              string             `json:"as_owner,omitempty"`
	Country              string             `json:"country,omitempty"`
	Network              string             `json:"network,omitempty"`
	LastAnalysisDate     *stix.Timestamp    `json:"last_analysis_date,omitempty"`
	LastModificationDate *stix.Timestamp    `json:"last_modification_date,omitempty"`
	Notification         *ContextAttributes `json:"notification,omitempty"`
	Collection           string             `json:"collection,omitempty"`
}

func tsPtr(s int64) *stix.Timestamp {
	if s <= 0 {
		return nil
	}
	t := stix.NewTimestamp(epoch(s))
	return &t
}

func (c *Converter) native(o *Object, sc int, scored bool, gtiVerdict string, coll *collectionRef) (json.RawMessage, error) {
	a := &o.Attributes
	n := nativeFields{ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, ObjectType: o.Type, ObjectID: o.ID,
		LastAnalysisStats: a.LastAnalysisStats, Reputation: a.Reputation, TotalVotes: a.TotalVotes, Tags: a.Tags,
		ThreatNames: a.ThreatNames, Categories: a.Categories, TypeTag: a.TypeTag, MeaningfulName: a.MeaningfulName,
		Size: a.Size, ASN: a.ASN, ASOwner: a.ASOwner, Country: a.Country, Network: a.Network, GTIVerdict: gtiVerdict,
		LastAnalysisDate: tsPtr(a.LastAnalysisDate), LastModificationDate: tsPtr(a.LastModificationDate),
		Notification: o.ContextAttributes}
	if scored {
		n.Score = &sc
	}
	if s := a.LastAnalysisStats; s != nil {
		n.Malicious, n.Total = s.Malicious, s.Harmless+s.Malicious+s.Suspicious+s.Undetected
	}
	if a.ThreatSeverity != nil {
		n.ThreatSeverity = a.ThreatSeverity.Level
	}
	if a.GTIAssessment != nil {
		n.GTISeverity = a.GTIAssessment.Severity.str()
	}
	if p := a.PopularThreatClassification; p != nil {
		n.SuggestedThreatLabel = p.SuggestedThreatLabel
		for _, v := range p.PopularThreatName {
			n.PopularThreatNames = append(n.PopularThreatNames, v.Value)
		}
	}
	for _, y := range a.CrowdsourcedYaraResults {
		n.YaraRules = appendUnique(n.YaraRules, y.RuleName)
	}
	if coll != nil {
		n.Collection = coll.name
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// header describes the objects every conversion carries once: the provider
// identity, the TLP marking definition and, with an instance identity, the
// extension-definition.
var header = ingest.ProviderHeader{
	IdentityID:           ProviderIdentityID,
	Name:                 "VirusTotal",
	Description:          "VirusTotal / Google Threat Intelligence (www.virustotal.com, API v3).",
	ExtensionID:          ExtensionID,
	ExtensionName:        "ctibroker VirusTotal native fields",
	ExtensionDescription: "The native verdict fields of a VirusTotal v3 / GTI object (last_analysis_stats, reputation, threat severity, GTI assessment, popular threat classification, IoC stream context), kept for audit. provider_ref is the VirusTotal identity.",
	ExtensionSchema:      ExtensionSchemaURL,
	Created:              definitionTime,
}

// Flush returns what was converted since the last Flush and resets: context
// objects sorted by id (the first Flush also carries the provider identity, the
// TLP marking and the extension-definition), observations in input order, and
// warnings.
func (c *Converter) Flush() ([]stix.Object, []ingest.Observation, []ingest.Warning) {
	var head []stix.Object
	if !c.headerOut {
		head = header.Objects(c.opts.Identity, c.tlp)
		c.headerOut = true
	}
	objs := ingest.FlushObjects(head, c.objs, ingest.FlushStamp(c.opts.Now, c.latest, definitionTime.Time))
	obs, warns := c.obs, c.warns
	c.objs, c.obs, c.warns = map[string]stix.Object{}, nil, nil
	return objs, obs, warns
}

// ConvertFile converts VirusTotal API answers and export files: one answer
// ({"data": object} or {"data": [objects], "meta": …}), a bare object, the
// OpenCTI debug envelope {"response": …}, a JSON array of any of those, or a
// sequence of them (JSON lines, as the file feeds deliver), plain or compressed
// with bzip2 (the file feeds) or gzip. Records are named by
// their 0-based position. The error is for input that is not JSON.
func ConvertFile(r io.Reader, opts Options) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
	c, err := NewConverter(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	br := bufio.NewReader(r)
	// The file feeds (GET /feeds/files/…) deliver bzip2-compressed JSON lines;
	// gzip is read too.
	if magic, _ := br.Peek(3); bytes.Equal(magic, []byte("BZh")) {
		br = bufio.NewReader(bzip2.NewReader(br))
	} else if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("virustotal: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	dec := json.NewDecoder(br)
	var raw json.RawMessage
	for i := 0; ; i++ {
		raw = raw[:0]
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("virustotal: record %d: %w", i, err)
		}
		if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(t, &list); err != nil {
				return nil, nil, nil, fmt.Errorf("virustotal: record %d: %w", i, err)
			}
			for j, o := range list {
				c.AddRaw(strconv.Itoa(i)+"["+strconv.Itoa(j)+"]", o)
			}
			continue
		}
		c.AddRaw(strconv.Itoa(i), raw)
	}
	objs, obs, warns := c.Flush()
	return objs, obs, warns, nil
}
