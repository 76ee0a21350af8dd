package recordedfuture

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
)

// Provider names Recorded Future as ctibroker spells it (feed config, provenance).
const Provider = "recordedfuture"

// Entity types: the risk lists and Connect API entity endpoints there are.
const (
	EntityIP            = "ip"
	EntityDomain        = "domain"
	EntityURL           = "url"
	EntityHash          = "hash"
	EntityVulnerability = "vulnerability"
)

// Entities lists the entity types, in the order the API documents them.
var Entities = []string{EntityIP, EntityDomain, EntityURL, EntityHash, EntityVulnerability}

func knownEntity(e string) bool {
	for _, x := range Entities {
		if x == e {
			return true
		}
	}
	return false
}

// DefaultThreshold is the Risk (0–99) at or above which a value is
// detection-worthy when the feed sets no threshold: Recorded Future's
// "Malicious" band starts at 65 (reference/providers.md §4).
const DefaultThreshold = 65

// DefaultTLP is the TLP 2.0 level of Recorded Future data when the feed declares
// none: the payload carries no TLP and the licence is for internal use.
const DefaultTLP = "amber"

// DefaultMaxRelated is how many entities of each relatedEntities group of a
// Connect API answer become context, the most often co-referenced first.
const DefaultMaxRelated = 10

// ProviderIdentityID is the id of the identity object that stands for Recorded Future.
var ProviderIdentityID = ingest.ContextID("identity", "Recorded Future")

// ExtensionID is the id of the extension-definition of the Recorded Future
// property extension: the native fields of a risk-list row or Connect API
// answer, kept for audit. Observation.Verdict holds exactly that extension's
// content, so whoever publishes the value's indicator can attach it under
// extensions[ExtensionID]; notes about vulnerabilities carry it directly.
var ExtensionID = "extension-definition--" + uuid.NewSHA1(uuid.MustParse(ingest.Namespace), []byte("extension|"+Provider)).String()

// ExtensionSchemaURL is where the extension's JSON schema is published
// (schema/extension.json in this package).
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/ingest/recordedfuture/schema/extension.json"

// definitionTime is the fixed created time of the identity and
// extension-definition, so they are the same bytes every time.
var definitionTime = stix.Timestamp{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// Options steer the conversion.
type Options struct {
	Feed     string // the feed's name, for warnings and observations
	Identity string // the instance identity: created_by_ref of the objects ctibroker authors; empty: none
	TLP      string // TLP 2.0 level of everything converted ("amber", "TLP:AMBER", "white" = clear); empty: DefaultTLP
	// Entity is the list's entity type (EntityIP, ...). Empty infers it per row:
	// an Algorithm column means hash, a CVE id vulnerability, otherwise the value's
	// shape (ingest.Guess).
	Entity string
	List   string // the list's name ("default", "recentCncServer"), recorded in the extension
	// Threshold is the Risk at or above which a value gets an indicator; 0 means
	// DefaultThreshold.
	Threshold int
	// MaxRelated caps the entities taken from each relatedEntities group; 0 means
	// DefaultMaxRelated, negative takes none.
	MaxRelated int
	// Attack resolves ATT&CK ids named by entity references; nil keeps the ids in
	// the observations' context without checking them.
	Attack *attack.Index
	// Now stamps created/modified of the objects the converter authors (notes,
	// vulnerabilities); nil uses the latest evidence timestamp seen, so the same
	// input converts to the same bytes.
	Now func() time.Time
}

// Evidence is one entry of EvidenceDetails: one triggered risk rule. Keys match
// case-insensitively, so the risk lists' "Rule" and the Connect API's and fusion
// files' "rule" both decode.
type Evidence struct {
	Rule             string          `json:"Rule"`             // the rule's display name
	Name             string          `json:"Name"`             // the rule's id, e.g. recentCncSite (risk lists only)
	CriticalityLabel string          `json:"CriticalityLabel"` // Unusual, Suspicious, Malicious, Very Malicious, Very Critical
	Criticality      json.RawMessage `json:"Criticality"`      // 1–5, written 4.0 in risk lists
	Timestamp        string          `json:"Timestamp"`
}

// Converter turns risk-list rows and Connect API answers into observations,
// context objects and warnings. It is pure: no I/O, no clock unless Options.Now
// is one. Not safe for concurrent use.
type Converter struct {
	opts      Options
	marking   []string
	tlp       stix.TLP
	cols      map[string]int
	ncols     int
	objs      map[string]stix.Object
	obs       []ingest.Observation
	warns     []ingest.Warning
	latest    time.Time
	headerOut bool
	listed    map[string]bool // CVEs of vulnerability-list rows
}

// NewConverter returns a converter; an unknown TLP level or entity type is an error.
func NewConverter(opts Options) (*Converter, error) {
	tlp := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(opts.TLP)), "tlp:")
	if tlp == "" {
		tlp = DefaultTLP
	}
	l, ok := stix.TLPFromTag("tlp:" + tlp)
	if !ok {
		return nil, fmt.Errorf("recordedfuture: TLP %q is not clear, green, amber, amber+strict or red", opts.TLP)
	}
	opts.TLP = strings.TrimPrefix(strings.ToLower(l.String()), "tlp:")
	opts.Entity = strings.ToLower(strings.TrimSpace(opts.Entity))
	if opts.Entity != "" && !knownEntity(opts.Entity) {
		return nil, fmt.Errorf("recordedfuture: entity %q is not one of %s", opts.Entity, strings.Join(Entities, ", "))
	}
	if opts.Threshold <= 0 {
		opts.Threshold = DefaultThreshold
	}
	if opts.MaxRelated == 0 {
		opts.MaxRelated = DefaultMaxRelated
	}
	return &Converter{opts: opts, tlp: l, marking: []string{l.MarkingRef()}, objs: map[string]stix.Object{}, listed: map[string]bool{}}, nil
}

func (c *Converter) warn(record, field, format string, a ...any) {
	c.warns = append(c.warns, ingest.Warning{Feed: c.opts.Feed, Record: record, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// Column names of the risk lists, lower case. The OpenCTI fusion files add
// RiskRules, RuleCriticality, FirstSeen and LastSeen.
const (
	colName            = "name"
	colAlgorithm       = "algorithm"
	colRisk            = "risk"
	colRiskString      = "riskstring"
	colEvidence        = "evidencedetails"
	colRiskRules       = "riskrules"
	colRuleCriticality = "rulecriticality"
	colFirstSeen       = "firstseen"
	colLastSeen        = "lastseen"
)

// Header reads a risk list's header row. Columns match case-insensitively and
// may come in any order; unknown columns are ignored. The error is for a header
// without a Name column.
func (c *Converter) Header(cols []string) error {
	c.cols, c.ncols = make(map[string]int, len(cols)), len(cols)
	for i, h := range cols {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := c.cols[h]; !dup {
			c.cols[h] = i
		}
	}
	if _, ok := c.cols[colName]; !ok {
		return fmt.Errorf("recordedfuture: risk list header %q has no Name column", strings.Join(cols, ","))
	}
	return nil
}

func (c *Converter) col(rec []string, name string) (string, bool) {
	i, ok := c.cols[name]
	if !ok || i >= len(rec) {
		return "", false
	}
	return rec[i], true
}

// label names a record in warnings: its place and its value.
func label(place, value string) string {
	value = strings.TrimSpace(value)
	if value == "" {
		return place
	}
	if len(value) > 80 {
		value = value[:80] + "…"
	}
	return place + " (" + value + ")"
}

// hashTypes maps the Algorithm column onto ingest type names.
var hashTypes = map[string]string{"sha-256": "sha-256", "sha256": "sha-256", "sha-1": "sha-1", "sha1": "sha-1",
	"md5": "md5", "sha-512": "sha-512", "sha512": "sha-512"}

// entityOf returns the entity of a row: the configured one, else inferred.
func (c *Converter) entityOf(name string, hasAlgorithm bool) string {
	if c.opts.Entity != "" {
		return c.opts.Entity
	}
	if hasAlgorithm {
		return EntityHash
	}
	if _, err := ingest.NormalizeCVE(name); err == nil {
		return EntityVulnerability
	}
	v, err := ingest.Guess(name)
	if err != nil {
		return ""
	}
	switch v.Type {
	case ingest.TypeIPv4, ingest.TypeIPv6:
		return EntityIP
	case ingest.TypeDomain:
		return EntityDomain
	case ingest.TypeURL:
		return EntityURL
	case ingest.TypeFile:
		return EntityHash
	}
	return ""
}

// normalize normalises one value of entity, turning problems into warnings on
// field. It is ingest.NormalizeReported but for the type, taken from entity and
// algorithm, and URLs and domains losing their HTML entities and white space.
func (c *Converter) normalize(record, field, entity, algorithm, value string) (ingest.Value, bool) {
	if err := ingest.ReportedPlaceholders.CheckReported(value); err != nil {
		c.warn(record, field, "%v", err)
		return ingest.Value{}, false
	}
	typ := entity
	switch entity {
	case EntityHash:
		typ = "hash"
		if a := strings.ToLower(strings.TrimSpace(algorithm)); a != "" {
			if t, ok := hashTypes[a]; ok {
				typ = t
			} else {
				c.warn(record, "Algorithm", "unknown hash algorithm %q; taken from the hash's length", algorithm)
			}
		}
	case EntityURL, EntityDomain:
		value = ingest.CleanText(value)
	}
	v, err := ingest.Normalize(typ, value)
	if err != nil {
		c.warn(record, field, "%v", err)
		return ingest.Value{}, false
	}
	if err := ingest.CheckAddress(v, value); err != nil {
		c.warn(record, field, "%v", err)
		return ingest.Value{}, false
	}
	return v, true
}

// evidenceSummary is what the converter reads from EvidenceDetails.
type evidenceSummary struct {
	raw         json.RawMessage // the EvidenceDetails array as given
	criticality int             // the highest rule criticality, 0–5
	label       string          // its label
	rules       []string        // rule display names
	ruleIDs     []string        // rule ids (risk lists)
	latest      time.Time       // the latest evidence timestamp
}

// parseEvidence decodes a risk list's EvidenceDetails cell: a JSON object
// {"EvidenceDetails": [...]} (a bare array is accepted too).
func (c *Converter) parseEvidence(record, field, cell string) evidenceSummary {
	var s evidenceSummary
	cell = strings.TrimSpace(cell)
	if cell == "" {
		c.warn(record, field, "missing")
		return s
	}
	raw := json.RawMessage(cell)
	if cell[0] == '{' {
		if inner, ok := evidenceArray(cell); ok {
			if list, err := scanEvidence(inner, nil); err == nil {
				return c.check(record, field, json.RawMessage(inner), list)
			}
		}
		{
			var env struct {
				EvidenceDetails json.RawMessage `json:"EvidenceDetails"`
			}
			if err := json.Unmarshal([]byte(cell), &env); err != nil {
				c.warn(record, field, "not JSON: %v", err)
				return s
			}
			raw = env.EvidenceDetails
			if len(raw) == 0 || string(raw) == "null" {
				c.warn(record, field, `no "EvidenceDetails" list in the JSON object`)
				return s
			}
		}
	}
	return c.summarize(record, field, raw)
}

// evidenceArray is the fast path of parseEvidence for the shape every risk
// list writes, {"EvidenceDetails": [...]}: it returns the array's text without
// decoding the object. summarize's decode then checks the array's syntax; any
// other shape takes the slow path.
func evidenceArray(cell string) (string, bool) {
	rest, ok := strings.CutPrefix(cell, "{")
	if !ok {
		return "", false
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	if rest, ok = strings.CutPrefix(rest, `"EvidenceDetails"`); !ok {
		return "", false
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	if rest, ok = strings.CutPrefix(rest, ":"); !ok {
		return "", false
	}
	rest = strings.TrimRight(strings.TrimLeft(rest, " \t\r\n"), " \t\r\n")
	rest, ok = strings.CutSuffix(rest, "}")
	rest = strings.TrimRight(rest, " \t\r\n")
	if !ok || !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	return rest, true
}

// summarize decodes an evidenceDetails array and checks each entry.
func (c *Converter) summarize(record, field string, raw json.RawMessage) evidenceSummary {
	list, err := scanEvidence(string(raw), nil)
	if err != nil {
		list = nil
		if err := json.Unmarshal(raw, &list); err != nil {
			c.warn(record, field, "not a list of evidence entries: %v", err)
			return evidenceSummary{}
		}
	}
	return c.check(record, field, raw, list)
}

// evidenceField returns a function naming entry i of field in warnings
// ("EvidenceDetails[2]"), so that rows without problems format nothing.
func evidenceField(field string, i int) func() string {
	return func() string { return field + "[" + strconv.Itoa(i) + "]" }
}

// check summarises decoded evidence entries, warning about bad ones.
func (c *Converter) check(record, field string, raw json.RawMessage, list []Evidence) evidenceSummary {
	s := evidenceSummary{raw: raw}
	for i, e := range list {
		ef := evidenceField(field, i) // formatted only for a warning
		rule := ingest.CleanText(e.Rule)
		if rule == "" {
			c.warn(record, ef()+".Rule", "missing")
		} else {
			s.rules = appendUnique(s.rules, rule)
		}
		if id := strings.TrimSpace(e.Name); id != "" {
			s.ruleIDs = appendUnique(s.ruleIDs, id)
		}
		if len(e.Criticality) == 0 || string(e.Criticality) == "null" {
			c.warn(record, ef()+".Criticality", "missing")
		} else if f, err := strconv.ParseFloat(strings.Trim(string(e.Criticality), `"`), 64); err != nil || f < 0 || f > 5 || f != float64(int(f)) {
			c.warn(record, ef()+".Criticality", "%s is not a criticality 0–5", e.Criticality)
		} else if int(f) > s.criticality || s.label == "" && int(f) == s.criticality {
			s.criticality, s.label = int(f), ingest.CleanText(e.CriticalityLabel)
		}
		if ts := strings.TrimSpace(e.Timestamp); ts != "" {
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				c.warn(record, ef()+".Timestamp", "%q is not an RFC 3339 time", e.Timestamp)
			} else if t.After(s.latest) {
				s.latest = t.UTC()
			}
		}
	}
	return s
}

// native is the Recorded Future property extension: the native fields of one
// row or entity answer (schema/extension.json). scoring.SeverityRecordedFuture
// takes risk and criticality.
type native struct {
	ExtensionType    string          `json:"extension_type"`
	ProviderRef      string          `json:"provider_ref"`
	Entity           string          `json:"entity"`
	EntityID         string          `json:"entity_id,omitempty"`
	List             string          `json:"list,omitempty"`
	Algorithm        string          `json:"algorithm,omitempty"`
	Risk             *int            `json:"risk,omitempty"`
	RiskString       string          `json:"risk_string,omitempty"`
	RulesTriggered   *int            `json:"rules_triggered,omitempty"`
	RulesTotal       *int            `json:"rules_total,omitempty"`
	Criticality      int             `json:"criticality"`
	CriticalityLabel string          `json:"criticality_label,omitempty"`
	Rules            []string        `json:"rules,omitempty"`
	RiskRules        string          `json:"risk_rules,omitempty"`
	RuleCriticality  string          `json:"rule_criticality,omitempty"`
	FirstSeen        string          `json:"first_seen,omitempty"`
	LastSeen         string          `json:"last_seen,omitempty"`
	LastEvidence     *stix.Timestamp `json:"last_evidence,omitempty"`
	IntelCard        string          `json:"intel_card,omitempty"`
	Listed           *bool           `json:"listed,omitempty"` // false: the value vanished from the list
	EvidenceDetails  json.RawMessage `json:"evidence_details,omitempty"`
}

// encode serialises n by hand, in the struct's field order with its omitempty
// rules (encoding/json's reflection and re-compaction of EvidenceDetails were
// a third of the conversion). EvidenceDetails is embedded as given: it was
// decoded, so it is valid JSON.
func (c *Converter) encode(n *native) json.RawMessage {
	b := make([]byte, 0, 256+len(n.EvidenceDetails))
	b = append(b, `{"extension_type":`...)
	b = appendString(b, n.ExtensionType)
	str := func(key, v string) {
		if v != "" {
			b = append(b, ',', '"')
			b = append(b, key...)
			b = append(b, '"', ':')
			b = appendString(b, v)
		}
	}
	num := func(key string, v *int) {
		if v != nil {
			b = append(b, ',', '"')
			b = append(b, key...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, int64(*v), 10)
		}
	}
	str("provider_ref", n.ProviderRef)
	str("entity", n.Entity)
	str("entity_id", n.EntityID)
	str("list", n.List)
	str("algorithm", n.Algorithm)
	num("risk", n.Risk)
	str("risk_string", n.RiskString)
	num("rules_triggered", n.RulesTriggered)
	num("rules_total", n.RulesTotal)
	crit := n.Criticality
	num("criticality", &crit)
	str("criticality_label", n.CriticalityLabel)
	if len(n.Rules) > 0 {
		b = append(b, `,"rules":[`...)
		for i, r := range n.Rules {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r)
		}
		b = append(b, ']')
	}
	str("risk_rules", n.RiskRules)
	str("rule_criticality", n.RuleCriticality)
	str("first_seen", n.FirstSeen)
	str("last_seen", n.LastSeen)
	if n.LastEvidence != nil {
		str("last_evidence", n.LastEvidence.UTC().Format(stix.TimestampLayout))
	}
	str("intel_card", n.IntelCard)
	if n.Listed != nil {
		b = append(b, `,"listed":`...)
		b = strconv.AppendBool(b, *n.Listed)
	}
	if len(n.EvidenceDetails) > 0 {
		b = append(b, `,"evidence_details":`...)
		b = append(b, n.EvidenceDetails...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string the way encoding/json writes it
// without HTML escaping: '"', '\\', control characters, U+2028 and U+2029
// escaped, invalid UTF-8 as \ufffd, everything else as UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		ch := s[i]
		if ch >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, `\u202`...)
				b = append(b, "89"[r-'\u2028'])
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch ch {
		case '"', '\\':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if ch < 0x20 {
				b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[ch>>4], "0123456789abcdef"[ch&0xf])
			} else {
				b = append(b, ch)
			}
		}
		i++
	}
	return append(b, '"')
}

// parseRiskString reads "<triggered>/<total>".
func parseRiskString(s string) (triggered, total int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(strings.TrimSpace(a))
	y, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || x < 0 || y < x {
		return 0, 0, false
	}
	return x, y, true
}

// AddRow converts one risk-list row; line is its line number for warnings.
// Header must have been called.
func (c *Converter) AddRow(line int, rec []string) {
	name, _ := c.col(rec, colName)
	record := label("line "+strconv.Itoa(line), name)
	if len(rec) < c.ncols {
		c.warn(record, "row", "%d fields, the header has %d", len(rec), c.ncols)
	}
	algo, hasAlgo := c.col(rec, colAlgorithm)
	entity := c.entityOf(ingest.CleanText(name), hasAlgo && strings.TrimSpace(algo) != "")
	if entity == "" {
		if strings.TrimSpace(name) == "" {
			c.warn(record, "Name", "missing")
		} else if ingest.IsPlaceholder(name) {
			c.warn(record, "Name", "placeholder %q instead of a value", name)
		} else {
			c.warn(record, "Name", "%q is not an IP address, domain, URL, hash or CVE id", name)
		}
		return
	}
	// The value first: a row without a usable one is one warning, not several.
	var v ingest.Value
	if entity != EntityVulnerability {
		var ok bool
		if v, ok = c.normalize(record, "Name", entity, algo, name); !ok {
			return
		}
	}
	n := native{ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Entity: entity, List: c.opts.List}
	if entity == EntityHash {
		n.Algorithm = strings.TrimSpace(algo)
	}
	risk, riskOK := -1, false
	if r, ok := c.col(rec, colRisk); !ok || strings.TrimSpace(r) == "" {
		c.warn(record, "Risk", "missing; recorded without an indicator")
	} else if v, err := strconv.Atoi(strings.TrimSpace(r)); err != nil || v < 0 || v > 100 {
		c.warn(record, "Risk", "%q is not a risk score 0–99; recorded without an indicator", r)
	} else {
		risk, riskOK = v, true
		n.Risk = &v
	}
	if rs, ok := c.col(rec, colRiskString); ok && strings.TrimSpace(rs) != "" {
		n.RiskString = strings.TrimSpace(rs)
		if x, y, ok := parseRiskString(rs); ok {
			n.RulesTriggered, n.RulesTotal = &x, &y
		} else {
			c.warn(record, "RiskString", "%q is not <triggered>/<total rules>", rs)
		}
	}
	var ev evidenceSummary
	if cell, ok := c.col(rec, colEvidence); ok {
		ev = c.parseEvidence(record, "EvidenceDetails", cell)
	}
	n.Criticality, n.CriticalityLabel, n.EvidenceDetails = ev.criticality, ev.label, ev.raw
	n.Rules = ev.ruleIDs
	if len(n.Rules) == 0 {
		n.Rules = ev.rules
	}
	n.RiskRules, _ = c.col(rec, colRiskRules)
	n.RuleCriticality, _ = c.col(rec, colRuleCriticality)
	for _, f := range []struct {
		col, field string
		dst        *string
	}{{colFirstSeen, "FirstSeen", &n.FirstSeen}, {colLastSeen, "LastSeen", &n.LastSeen}} {
		v, _ := c.col(rec, f.col)
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			c.warn(record, f.field, "%q is not an RFC 3339 time", v)
			continue
		}
		*f.dst = v
		if t.After(ev.latest) && f.col == colLastSeen {
			ev.latest = t.UTC()
		}
	}
	if !ev.latest.IsZero() {
		ts := stix.NewTimestamp(ev.latest)
		n.LastEvidence = &ts
		if ev.latest.After(c.latest) {
			c.latest = ev.latest
		}
	}
	ctx := ingest.Context{TLP: c.opts.TLP, Labels: ev.rules}
	if entity == EntityVulnerability {
		c.vulnerability(record, name, &n, ev.rules)
		return
	}
	c.obs = append(c.obs, ingest.Observation{Feed: c.opts.Feed, Type: v.Kind(), Value: v.Value, Verdict: c.encode(&n),
		Detect: riskOK && risk >= c.opts.Threshold, Context: ctx})
}

func (c *Converter) common(typ, id string) stix.Common {
	return stix.Common{Type: typ, SpecVersion: stix.SpecVersion, ID: id, CreatedByRef: c.opts.Identity,
		ObjectMarkingRefs: c.marking}
}

// vulnerabilityObject returns the vulnerability SDO of a CVE, in the shape every
// provider package authors (so the id is one object whichever feed names it).
func (c *Converter) vulnerabilityObject(cve string) string {
	id := ingest.ContextID("vulnerability", cve)
	if _, ok := c.objs[id]; !ok {
		co := c.common("vulnerability", id)
		co.ExternalReferences = []stix.ExternalReference{{SourceName: "cve", ExternalID: cve}}
		c.objs[id] = &stix.Vulnerability{Common: co, Name: cve}
	}
	return id
}

// NoteID returns the id of the note carrying Recorded Future's risk assessment
// of a CVE from one risk list (Options.List; empty for Connect API answers).
func NoteID(list, cve string) string {
	if list == "" {
		list = "connect"
	}
	return ingest.ContextID("note", Provider+" risk "+list+" "+cve)
}

// vulnerability converts a vulnerability-list row or entity: the vulnerability
// SDO and a note about it with the risk, the triggered rules and the
// extension.
func (c *Converter) vulnerability(record, name string, n *native, rules []string) {
	cve, err := ingest.NormalizeCVE(ingest.CleanText(name))
	if err != nil {
		c.warn(record, "Name", "%v", err)
		return
	}
	vid := c.vulnerabilityObject(cve)
	if n.EntityID == "" {
		c.listed[cve] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Recorded Future risk for %s", cve)
	if n.Risk != nil {
		fmt.Fprintf(&b, ": %d/99", *n.Risk)
	}
	if n.RiskString != "" {
		fmt.Fprintf(&b, " (%s rules)", n.RiskString)
	}
	if n.CriticalityLabel != "" {
		fmt.Fprintf(&b, ", %s", n.CriticalityLabel)
	}
	abstract := b.String()
	if len(rules) > 0 {
		b.WriteString(". Triggered rules: ")
		b.WriteString(strings.Join(rules, "; "))
	}
	b.WriteString(".")
	co := c.common("note", NoteID(c.opts.List, cve))
	co.Labels = rules
	co.Extensions = map[string]json.RawMessage{ExtensionID: c.encode(n)}
	c.objs[co.ID] = &stix.Note{Common: co, Abstract: abstract, Content: b.String(), Authors: []string{"Recorded Future"},
		ObjectRefs: []string{vid}}
}

// Listed returns the CVEs of the vulnerability-list rows converted so far
// (since NewConverter, across Flushes), sorted.
func (c *Converter) Listed() []string {
	out := make([]string, 0, len(c.listed))
	for cve := range c.listed {
		out = append(out, cve)
	}
	sort.Strings(out)
	return out
}

// Withdraw records that a CVE vanished from the vulnerability list: a version
// of its note saying so, with listed false in the extension. It is a new
// version, not a revocation, so the note can speak again when the CVE returns
// (the Runner withdraws vanished indicator values the same way, with
// valid_until).
func (c *Converter) Withdraw(cve string) {
	cve, err := ingest.NormalizeCVE(cve)
	if err != nil {
		c.warn("cursor", "cves", "%v", err)
		return
	}
	vid := c.vulnerabilityObject(cve)
	list := c.opts.List
	if list == "" {
		list = "vulnerability"
	}
	f := false
	n := native{ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Entity: EntityVulnerability,
		List: c.opts.List, Listed: &f}
	co := c.common("note", NoteID(c.opts.List, cve))
	co.Extensions = map[string]json.RawMessage{ExtensionID: c.encode(&n)}
	c.objs[co.ID] = &stix.Note{Common: co, Abstract: "Recorded Future risk for " + cve + ": no longer listed",
		Content: cve + " is no longer in Recorded Future's " + list + " risk list.", Authors: []string{"Recorded Future"},
		ObjectRefs: []string{vid}}
}

// Entity is a Connect API entity answer, GET /v2/{entity}/{id}
// (reference/providers.md §4): {"data": {...}}. Fields the converter does not use
// are not decoded.
type Entity struct {
	Data struct {
		Entity struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"entity"`
		HashAlgorithm string `json:"hashAlgorithm"`
		Risk          *struct {
			Score            *int            `json:"score"`
			RiskString       string          `json:"riskString"`
			Criticality      *int            `json:"criticality"`
			CriticalityLabel string          `json:"criticalityLabel"`
			EvidenceDetails  json.RawMessage `json:"evidenceDetails"`
		} `json:"risk"`
		Timestamps struct {
			FirstSeen string `json:"firstSeen"`
			LastSeen  string `json:"lastSeen"`
		} `json:"timestamps"`
		IntelCard       string            `json:"intelCard"`
		RelatedEntities []RelatedEntities `json:"relatedEntities"`
	} `json:"data"`
}

// RelatedEntities is one relatedEntities group of a Connect API answer: the
// entities of one kind ("RelatedMalware", "RelatedThreatActor",
// "RelatedCyberVulnerability", "RelatedMitreAttackIdentifier", ...) referenced
// together with the entity, each with how often.
type RelatedEntities struct {
	Type     string `json:"type"`
	Entities []struct {
		Count  int `json:"count"`
		Entity struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"entity"`
	} `json:"entities"`
}

// entityTypes maps Connect API entity types onto entity endpoints.
var entityTypes = map[string]string{"IpAddress": EntityIP, "InternetDomainName": EntityDomain, "URL": EntityURL,
	"Hash": EntityHash, "CyberVulnerability": EntityVulnerability}

// AddEntity converts one Connect API entity answer; record names it in warnings.
// The answer's relatedEntities are the only place context comes from: malware
// (entity type Malware), threat actors (groups named RelatedThreatActor),
// ATT&CK ids (MitreAttackIdentifier) and CVEs (CyberVulnerability).
func (c *Converter) AddEntity(record string, raw []byte) {
	var e Entity
	if err := json.Unmarshal(raw, &e); err != nil {
		c.warn(record, "data", "not a Connect API entity answer: %v", err)
		return
	}
	d := &e.Data
	name := d.Entity.Name
	if name == "" {
		_, name, _ = strings.Cut(d.Entity.ID, ":")
	}
	record = label(record, name)
	entity := entityTypes[d.Entity.Type]
	if entity == "" {
		if d.Entity.Type == "" && d.Entity.ID == "" {
			c.warn(record, "data.entity", "missing")
			return
		}
		if entity = c.entityOf(ingest.CleanText(name), d.HashAlgorithm != ""); entity == "" {
			c.warn(record, "data.entity.type", "entity type %q is not an IP address, domain, URL, hash or vulnerability", d.Entity.Type)
			return
		}
	}
	n := native{ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Entity: entity,
		EntityID: d.Entity.ID, Algorithm: d.HashAlgorithm, IntelCard: d.IntelCard}
	risk, riskOK := -1, false
	var ev evidenceSummary
	if d.Risk == nil {
		c.warn(record, "data.risk", "missing; recorded without an indicator")
	} else {
		if d.Risk.Score == nil {
			c.warn(record, "data.risk.score", "missing; recorded without an indicator")
		} else if *d.Risk.Score < 0 || *d.Risk.Score > 100 {
			c.warn(record, "data.risk.score", "%d is not a risk score 0–99; recorded without an indicator", *d.Risk.Score)
		} else {
			risk, riskOK = *d.Risk.Score, true
			n.Risk = d.Risk.Score
		}
		n.RiskString = d.Risk.RiskString
		if x, y, ok := parseRiskString(d.Risk.RiskString); ok {
			n.RulesTriggered, n.RulesTotal = &x, &y
		} else if d.Risk.RiskString != "" {
			c.warn(record, "data.risk.riskString", "%q is not <triggered>/<total rules>", d.Risk.RiskString)
		}
		if len(d.Risk.EvidenceDetails) > 0 && string(d.Risk.EvidenceDetails) != "null" {
			ev = c.summarize(record, "data.risk.evidenceDetails", d.Risk.EvidenceDetails)
		}
		n.EvidenceDetails, n.Rules = ev.raw, ev.rules
		n.Criticality, n.CriticalityLabel = ev.criticality, ev.label
		if d.Risk.Criticality != nil {
			if *d.Risk.Criticality < 0 || *d.Risk.Criticality > 5 {
				c.warn(record, "data.risk.criticality", "%d is not a criticality 0–5", *d.Risk.Criticality)
			} else {
				n.Criticality, n.CriticalityLabel = *d.Risk.Criticality, ingest.CleanText(d.Risk.CriticalityLabel)
			}
		}
	}
	for _, f := range []struct {
		field, v string
		dst      *string
	}{{"data.timestamps.firstSeen", d.Timestamps.FirstSeen, &n.FirstSeen}, {"data.timestamps.lastSeen", d.Timestamps.LastSeen, &n.LastSeen}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.v)
		if err != nil {
			c.warn(record, f.field, "%q is not an RFC 3339 time", f.v)
			continue
		}
		*f.dst = f.v
		if t.After(ev.latest) {
			ev.latest = t.UTC()
		}
	}
	if !ev.latest.IsZero() {
		ts := stix.NewTimestamp(ev.latest)
		n.LastEvidence = &ts
		if ev.latest.After(c.latest) {
			c.latest = ev.latest
		}
	}
	if entity == EntityVulnerability {
		c.vulnerability(record, name, &n, ev.rules)
		return
	}
	v, ok := c.normalize(record, "data.entity.name", entity, d.HashAlgorithm, name)
	if !ok {
		return
	}
	ctx := ingest.Context{TLP: c.opts.TLP, Labels: ev.rules}
	c.related(record, d.RelatedEntities, &ctx)
	for _, cve := range ctx.CVEs {
		c.vulnerabilityObject(cve)
	}
	c.obs = append(c.obs, ingest.Observation{Feed: c.opts.Feed, Type: v.Kind(), Value: v.Value, Verdict: c.encode(&n),
		Detect: riskOK && risk >= c.opts.Threshold, Context: ctx})
}

// related fills ctx from relatedEntities: entity references are structure, so
// they are the one source of context. Each group keeps its MaxRelated most
// counted entities.
func (c *Converter) related(record string, groups []RelatedEntities, ctx *ingest.Context) {
	if c.opts.MaxRelated < 0 {
		return
	}
	for gi, g := range groups {
		ents := g.Entities
		sort.SliceStable(ents, func(i, j int) bool { return ents[i].Count > ents[j].Count })
		if len(ents) > c.opts.MaxRelated {
			ents = ents[:c.opts.MaxRelated]
		}
		for ei, x := range ents {
			field := fmt.Sprintf("data.relatedEntities[%d].entities[%d].entity", gi, ei)
			name := ingest.CleanText(x.Entity.Name)
			if name == "" {
				c.warn(record, field+".name", "missing")
				continue
			}
			switch {
			case x.Entity.Type == "MitreAttackIdentifier":
				id := attack.Canonical(name)
				if c.opts.Attack != nil {
					if _, ok := c.opts.Attack.Resolve(id); !ok {
						c.warn(record, field+".name", "unknown ATT&CK id %q", name)
						continue
					}
				}
				ctx.AttackIDs = appendUnique(ctx.AttackIDs, id)
			case x.Entity.Type == "CyberVulnerability":
				cve, err := ingest.NormalizeCVE(name)
				if err != nil {
					continue // CWE ids and vendor advisories are vulnerabilities too, but no CVE
				}
				ctx.CVEs = appendUnique(ctx.CVEs, cve)
			case x.Entity.Type == "Malware":
				ctx.Malware = appendUnique(ctx.Malware, name)
			case g.Type == "RelatedThreatActor" || x.Entity.Type == "ThreatActor":
				ctx.Actors = appendUnique(ctx.Actors, name)
			}
		}
	}
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// header describes the objects every conversion carries once: the provider
// identity, the TLP marking definition and, with an instance identity, the
// extension-definition.
var header = ingest.ProviderHeader{
	IdentityID:           ProviderIdentityID,
	Name:                 "Recorded Future",
	Description:          "Recorded Future threat intelligence (api.recordedfuture.com): risk lists and Connect API.",
	ExtensionID:          ExtensionID,
	ExtensionName:        "ctibroker Recorded Future native fields",
	ExtensionDescription: "The native fields of a Recorded Future risk-list row or Connect API entity (Risk, RiskString, criticality, EvidenceDetails), kept for audit. provider_ref is the Recorded Future identity.",
	ExtensionSchema:      ExtensionSchemaURL,
	Created:              definitionTime,
}

// Flush returns what was converted since the last Flush and resets: the objects
// sorted by id (the first Flush also carries the provider identity, the TLP
// marking and the extension-definition), the observations in input order and
// the warnings.
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

// ReadCSV streams a risk list from r: the header row, then one row at a time
// through c, calling flush after every batch rows (0: 1000) and once at the end
// with the rest. Memory stays bounded by one batch whatever the list's size. A
// row that is not valid CSV is a warning naming its line; the error is for a
// missing or bad header, a read error, or an error flush returns. It returns the
// number of data rows read.
func ReadCSV(r io.Reader, c *Converter, batch int, flush func() error) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return 0, errors.New("recordedfuture: empty risk list (no header row)")
	}
	if err != nil {
		return 0, fmt.Errorf("recordedfuture: header: %w", err)
	}
	if err := c.Header(head); err != nil {
		return 0, err
	}
	rows, inBatch := 0, 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.warn("line "+strconv.Itoa(pe.StartLine), "row", "not valid CSV: %v", pe.Err)
			continue
		}
		if err != nil {
			return rows, fmt.Errorf("recordedfuture: after %d rows: %w", rows, err)
		}
		line, _ := cr.FieldPos(0)
		rows++
		c.AddRow(line, rec)
		if inBatch++; inBatch >= batch {
			inBatch = 0
			if err := flush(); err != nil {
				return rows, err
			}
		}
	}
	return rows, flush()
}

// ConvertFile converts a Recorded Future export or API answer: a risk list (CSV
// with a Name column, as downloaded or as a fusion file) or a Connect API entity
// answer (JSON {"data": …}, or a JSON array or sequence of them). The error is
// for input that is neither; malformed rows and fields are warnings. The lead's
// `ctibroker convert --provider recordedfuture FILE` calls it once per file.
func ConvertFile(r io.Reader, opts Options) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
	c, err := NewConverter(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	first := byte(0)
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("recordedfuture: %w", err)
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			first = b
			_ = br.UnreadByte()
			break
		}
	}
	var objs []stix.Object
	var obs []ingest.Observation
	var warns []ingest.Warning
	collect := func() error {
		o, ob, w := c.Flush()
		objs, obs, warns = append(objs, o...), append(obs, ob...), append(warns, w...)
		return nil
	}
	switch first {
	case 0:
		return nil, nil, nil, errors.New("recordedfuture: empty input")
	case '{', '[':
		dec := json.NewDecoder(br)
		if first == '[' {
			if _, err := dec.Token(); err != nil {
				return nil, nil, nil, fmt.Errorf("recordedfuture: %w", err)
			}
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, nil, fmt.Errorf("recordedfuture: entity %d: %w", i, err)
			}
			c.AddEntity("entity "+strconv.Itoa(i), raw)
		}
		if first == '[' {
			if _, err := dec.Token(); err != nil {
				return nil, nil, nil, fmt.Errorf("recordedfuture: end of array: %w", err)
			}
		}
		collect()
	default:
		if _, err := ReadCSV(br, c, 1<<30, collect); err != nil {
			return nil, nil, nil, err
		}
	}
	// Objects of several flushes: one sorted list.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Base().ID < objs[j].Base().ID })
	return objs, obs, warns, nil
}
