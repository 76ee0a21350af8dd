package otx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
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

// Provider is the name otx registers under in the ingest.Registry.
const Provider = "otx"

// IdentityName is the name of the OTX provider identity.
const IdentityName = "AlienVault OTX"

// IdentityID is the id of the OTX provider identity: ingest.ContextID("identity",
// IdentityName). The provider is the created_by_ref of its pulses' reports only.
var IdentityID = ingest.ContextID("identity", IdentityName)

// ExtensionID is the fixed id of the OTX property-extension definition that
// carries a pulse's native fields for audit: UUIDv5(ingest.Namespace,
// "ctibroker otx extension"). It never changes.
const ExtensionID = "extension-definition--c063a405-04dd-54fd-8582-d816705623f6"

// ExtensionSchemaURL is where the extension's JSON schema is published; the same
// file is ingest/otx/schema/otx-extension.json in the repository.
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/ingest/otx/schema/otx-extension.json"

// PulseURL is the web page of a pulse; %s is the pulse id.
const PulseURL = "https://otx.alienvault.com/pulse/%s"

// fixedCreated is the created time of the provider identity and the extension
// definition: fixed, so that they are the same object every time.
var fixedCreated = stix.Timestamp{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}

var namespace = uuid.MustParse(ingest.Namespace)

// Pulse is an OTX pulse as /api/v1/pulses/subscribed and /api/v1/pulses/{id}
// return it. Unknown fields are ignored.
type Pulse struct {
	ID                string      `json:"id"`
	Name              string      `json:"name"`
	Description       string      `json:"description"`
	AuthorName        string      `json:"author_name"`
	Created           string      `json:"created"`
	Modified          string      `json:"modified"`
	Revision          int         `json:"revision"`
	TLP               string      `json:"tlp"`
	TLPUpper          string      `json:"TLP"` // older responses
	Public            flexInt     `json:"public"`
	Adversary         string      `json:"adversary"`
	Indicators        []Indicator `json:"indicators"`
	Tags              []string    `json:"tags"`
	TargetedCountries []string    `json:"targeted_countries"`
	MalwareFamilies   []NamedRef  `json:"malware_families"`
	AttackIDs         []NamedRef  `json:"attack_ids"`
	References        []string    `json:"references"`
	Industries        []string    `json:"industries"`
	ExtractSource     []string    `json:"extract_source"`
	MoreIndicators    bool        `json:"more_indicators"`
}

// Indicator is one indicator of a pulse.
type Indicator struct {
	ID          json.Number `json:"id"`
	Indicator   string      `json:"indicator"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Content     string      `json:"content"`
	Created     string      `json:"created"`
	Expiration  string      `json:"expiration"`
	IsActive    *flexInt    `json:"is_active"` // absent: active
	Role        string      `json:"role"`
}

// ExportIndicator is one result of /api/v1/indicators/export: an indicator
// without pulse context.
type ExportIndicator struct {
	ID          json.Number `json:"id"`
	Indicator   string      `json:"indicator"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Content     string      `json:"content"`
}

// NamedRef is a malware family or ATT&CK id of a pulse: a plain string in
// subscribed pulses, an object {id, name, display_name} from the details
// endpoint. Both decode; Name is what the pulse means.
type NamedRef struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

// UnmarshalJSON accepts a string or an object.
func (n *NamedRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = NamedRef{ID: s, Name: s}
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	type plain NamedRef
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("want a string or {id, name, display_name}: %w", err)
	}
	*n = NamedRef(p)
	return nil
}

// Value returns the id for ATT&CK refs and the name for families: the first
// non-empty of ID, DisplayName, Name for attack ids (id="T1059") and of
// DisplayName, Name, ID for families.
func (n NamedRef) value(preferID bool) string {
	order := []string{n.DisplayName, n.Name, n.ID}
	if preferID {
		order = []string{n.ID, n.DisplayName, n.Name}
	}
	for _, s := range order {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// flexInt decodes 0/1, true/false, "0"/"1" and null.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	switch s := strings.Trim(string(bytes.TrimSpace(b)), `"`); s {
	case "true":
		*f = 1
	case "false", "null", "":
		*f = 0
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want 0, 1, true or false, got %s", b)
		}
		*f = flexInt(n)
	}
	return nil
}

// indicatorTypes maps OTX indicator types (IndicatorTypes.py) onto the type names
// ingest.Normalize accepts. CVE is handled apart (vulnerability); types missing
// here are skipped with a warning.
var indicatorTypes = map[string]string{
	"IPv4": "ipv4-addr", "IPv6": "ipv6-addr", "CIDR": "cidr",
	"domain": "domain", "hostname": "hostname",
	"URL": "url", "URI": "url", "email": "email",
	"FileHash-MD5": "md5", "FileHash-SHA1": "sha1", "FileHash-SHA256": "sha256", "FileHash-SHA512": "sha512",
}

// sectorVocab maps OTX industry names (lower case) onto STIX industry-sector-ov.
var sectorVocab = map[string]string{
	"aerospace": "aerospace", "agriculture": "agriculture", "automotive": "automotive", "chemical": "chemical",
	"commercial": "commercial", "communications": "communications", "construction": "construction",
	"defense": "defense", "defence": "defense", "military": "defense", "education": "education", "energy": "energy",
	"oil and gas": "energy", "entertainment": "entertainment", "media": "entertainment",
	"finance": "financial-services", "financial": "financial-services", "financial services": "financial-services",
	"banking": "financial-services", "government": "government", "governments": "government",
	"healthcare": "healthcare", "health": "healthcare", "hospitality": "hospitality-leisure",
	"hospitality & leisure": "hospitality-leisure", "infrastructure": "infrastructure", "insurance": "insurance",
	"manufacturing": "manufacturing", "mining": "mining", "non-profit": "non-profit", "ngo": "non-profit",
	"ngos": "non-profit", "pharmaceuticals": "pharmaceuticals", "pharmaceutical": "pharmaceuticals",
	"retail": "retail", "technology": "technology", "information technology": "technology", "it": "technology",
	"telecommunications": "telecommunications", "telecommunication": "telecommunications", "telecom": "telecommunications",
	"transportation": "transportation", "logistics": "transportation", "utilities": "utilities",
}

// Converter turns OTX pulses and export records into ingest batches. It is pure:
// same input and fields, same output. It is not safe for concurrent use.
type Converter struct {
	// Attack resolves ATT&CK ids and names; nil: every ATT&CK id is a warning.
	Attack *attack.Index
	// Identity is the instance identity, created_by_ref of the context objects,
	// relationships and extension definition ctibroker authors; empty leaves it out
	// (the caller fills it in).
	Identity string
	// DefaultTLP is the TLP 2.0 level for pulses that name none (clear, green, amber,
	// amber+strict, red); empty: no marking.
	DefaultTLP string
	// Now is the reference time for indicator expiration; zero: expirations are not
	// checked.
	Now time.Time

	// ids indexes the objects of the batch last added to (last), so that adding
	// pulse after pulse to one batch does not rescan it.
	ids  map[string]bool
	last *ingest.Batch
}

// batch accumulates one batch, de-duplicating objects by id.
type batch struct {
	*ingest.Batch
	ids map[string]bool
}

func (b *batch) add(o stix.Object) {
	id := o.Base().ID
	if b.ids[id] {
		return
	}
	b.ids[id] = true
	b.Objects = append(b.Objects, o)
}

func (b *batch) warn(record, field, format string, a ...any) {
	b.Warnings = append(b.Warnings, ingest.Warning{Record: record, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// NewBatch returns an empty batch to pass to AddPulse and AddExport.
func NewBatch() *ingest.Batch { return &ingest.Batch{} }

// AddPulses converts pulses into one batch.
func (c *Converter) AddPulses(out *ingest.Batch, pulses []Pulse) {
	for i := range pulses {
		c.AddPulse(out, &pulses[i])
	}
}

// wrap returns the batch with its index of object ids, kept from the previous
// call when out is the same batch and only grew since.
func (c *Converter) wrap(out *ingest.Batch) *batch {
	if c.last != out || c.ids == nil || len(c.ids) > len(out.Objects) {
		c.ids = make(map[string]bool, len(out.Objects))
		c.last = out
	}
	if len(c.ids) < len(out.Objects) {
		for _, o := range out.Objects {
			c.ids[o.Base().ID] = true
		}
	}
	return &batch{Batch: out, ids: c.ids}
}

// ParseTime reads an OTX timestamp: ISO 8601 without a zone
// ("2023-08-22T09:43:18.855000", UTC) or RFC 3339.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}
	if !strings.ContainsAny(s, "Z+") && strings.Count(s, "-") == 2 {
		layouts = layouts[1:] // OTX's own form, without a zone: skip RFC 3339
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: not ISO 8601", s)
}

// tlpLevel maps an OTX or config TLP name onto a stix.TLP (white → clear).
func tlpLevel(s string) (stix.TLP, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return stix.TLPNone, true
	}
	return stix.TLPFromTag("tlp:" + strings.TrimPrefix(s, "tlp:"))
}

func (c *Converter) own(cm *stix.Common) {
	if cm.CreatedByRef == "" {
		cm.CreatedByRef = c.Identity
	}
}

// ProviderIdentity returns the OTX identity object.
func ProviderIdentity() *stix.Identity {
	t := fixedCreated
	t2 := t
	return &stix.Identity{
		Common: stix.Common{Type: "identity", SpecVersion: stix.SpecVersion, ID: IdentityID, Created: &t, Modified: &t2,
			ExternalReferences: []stix.ExternalReference{{SourceName: "AlienVault OTX", URL: "https://otx.alienvault.com/"}}},
		Name: IdentityName, IdentityClass: "organization", Sectors: []string{"technology"},
		Description: "AlienVault Open Threat Exchange (OTX), a community threat intelligence feed.",
	}
}

// ExtensionDefinition returns the OTX extension definition, created by identity.
func ExtensionDefinition(identity string) *stix.ExtensionDefinition {
	t := fixedCreated
	t2 := t
	return &stix.ExtensionDefinition{
		Common: stix.Common{Type: "extension-definition", SpecVersion: stix.SpecVersion, ID: ExtensionID,
			CreatedByRef: identity, Created: &t, Modified: &t2},
		Name:           "ctibroker AlienVault OTX pulse fields",
		Description:    "The native fields of an AlienVault OTX pulse, kept on the report made from it for audit.",
		Schema:         ExtensionSchemaURL,
		Version:        "1.0.0",
		ExtensionTypes: []string{"property-extension"},
	}
}

// Extension is the OTX property extension on a pulse's report.
type Extension struct {
	ExtensionType     string   `json:"extension_type"`
	PulseID           string   `json:"pulse_id"`
	AuthorName        string   `json:"author_name,omitempty"`
	Revision          int      `json:"revision,omitempty"`
	Public            bool     `json:"public"`
	TLP               string   `json:"tlp,omitempty"`
	Adversary         string   `json:"adversary,omitempty"`
	MalwareFamilies   []string `json:"malware_families,omitempty"`
	AttackIDs         []string `json:"attack_ids,omitempty"`
	Industries        []string `json:"industries,omitempty"`
	TargetedCountries []string `json:"targeted_countries,omitempty"`
	Tags              []string `json:"tags,omitempty"`
	ExtractSource     []string `json:"extract_source,omitempty"`
	MoreIndicators    bool     `json:"more_indicators,omitempty"`
	IndicatorCount    int      `json:"indicator_count"`
	Created           string   `json:"created,omitempty"`
	Modified          string   `json:"modified,omitempty"`
}

// relationshipID is the deterministic id of the relationship rel from source to
// target, the same scheme as the ingest Runner's based-on relationships.
func relationshipID(rel, source, target string) string {
	return stix.DeterministicID("relationship", namespace, rel+"|"+source+"|"+target)
}

// ReportID returns the id of the report made from pulse id.
func ReportID(pulseID string) string {
	return stix.DeterministicID("report", namespace, "otx-pulse|"+strings.ToLower(strings.TrimSpace(pulseID)))
}

// ctxRef is one context object a pulse names.
type ctxRef struct {
	id, typ string
}

// AddPulse converts one pulse into out: its report, context objects and
// relationships (Objects), its indicators (Observations) and warnings for what
// it had to skip. A pulse without an id or any usable time is skipped with a
// warning.
func (c *Converter) AddPulse(out *ingest.Batch, p *Pulse) {
	b := c.wrap(out)
	rec := "pulse " + p.ID
	if strings.TrimSpace(p.ID) == "" {
		rec = "pulse " + strconv.Quote(p.Name)
		b.warn(rec, "id", "missing; pulse skipped")
		return
	}
	created, errC := ParseTime(p.Created)
	modified, errM := ParseTime(p.Modified)
	switch {
	case errC != nil && errM != nil:
		b.warn(rec, "created", "%v; pulse skipped", errC)
		return
	case errC != nil:
		created = modified
	case errM != nil || modified.Before(created):
		modified = created
	}
	tCreated, tModified := stix.NewTimestamp(created), stix.NewTimestamp(modified)
	tlpName := p.TLP
	if tlpName == "" {
		tlpName = p.TLPUpper
	}
	level, ok := tlpLevel(tlpName)
	if !ok {
		b.warn(rec, "tlp", "%q is not a TLP level; the feed default applies", tlpName)
	}
	if level == stix.TLPNone {
		level, _ = tlpLevel(c.DefaultTLP)
	}
	var markings []string
	if level != stix.TLPNone {
		b.add(level.MarkingDefinition())
		markings = []string{level.MarkingRef()}
	}
	b.add(ProviderIdentity())
	ext := ExtensionDefinition(c.Identity)
	b.add(ext)

	reportID := ReportID(p.ID)
	refs := map[string]bool{}
	rel := func(typ, src, tgt string) {
		id := relationshipID(typ, src, tgt)
		refs[id] = true
		if b.ids[id] {
			return
		}
		r := &stix.Relationship{Common: stix.Common{Type: "relationship", SpecVersion: stix.SpecVersion, ID: id,
			Created: ptr(tCreated), Modified: ptr(tCreated), ObjectMarkingRefs: markings},
			RelationshipType: typ, SourceRef: src, TargetRef: tgt}
		c.own(&r.Common)
		b.add(r)
	}
	newCommon := func(typ, id string) stix.Common {
		cm := stix.Common{Type: typ, SpecVersion: stix.SpecVersion, ID: id, Created: ptr(tCreated), Modified: ptr(tCreated)}
		c.own(&cm)
		return cm
	}

	// Malware families: ATT&CK software when the name resolves, else ctibroker's.
	var malware []ctxRef
	var malwareNames []string
	for i, m := range p.MalwareFamilies {
		name := m.value(false)
		if name == "" {
			b.warn(rec, "malware_families["+strconv.Itoa(i)+"]", "empty name; skipped")
			continue
		}
		malwareNames = append(malwareNames, name)
		if c.Attack != nil {
			if ref, ok := c.Attack.ResolveName(name, "malware", "tool"); ok {
				malware = appendRef(malware, ctxRef{ref.ID, ref.Type})
				continue
			}
		}
		id := ingest.ContextID("malware", name)
		b.add(&stix.Malware{Common: newCommon("malware", id), Name: name, IsFamily: true})
		malware = appendRef(malware, ctxRef{id, "malware"})
	}
	// The adversary: an ATT&CK group when the name resolves, else an intrusion set.
	var actor *ctxRef
	if name := strings.TrimSpace(p.Adversary); name != "" {
		r := ctxRef{ingest.ContextID("intrusion-set", name), "intrusion-set"}
		if ref, ok := c.resolveGroup(name); ok {
			r = ctxRef{ref.ID, ref.Type}
		} else {
			b.add(&stix.IntrusionSet{Common: newCommon("intrusion-set", r.id), Name: name})
		}
		actor = &r
	}
	// ATT&CK ids: techniques, and software, groups or campaigns named by id. The
	// observations' context lists the ids that resolve (the Runner warns once when
	// no index is loaded and then gets the ids as given).
	var techniques, attackTargets []ctxRef
	var attackIDs []string
	for i, a := range p.AttackIDs {
		ext := a.value(true)
		field := "attack_ids[" + strconv.Itoa(i) + "]"
		if ext == "" {
			b.warn(rec, field, "empty ATT&CK id; skipped")
			continue
		}
		if c.Attack == nil {
			attackIDs = append(attackIDs, ext)
			continue
		}
		ref, ok := c.Attack.Resolve(ext)
		if !ok {
			b.warn(rec, field, "unknown ATT&CK id %s; skipped", ext)
			continue
		}
		switch ref.Type {
		case "attack-pattern":
			techniques = appendRef(techniques, ctxRef{ref.ID, ref.Type})
		case "malware", "tool":
			malware = appendRef(malware, ctxRef{ref.ID, ref.Type})
		case "intrusion-set":
			if actor == nil {
				actor = &ctxRef{ref.ID, ref.Type}
			}
		case "campaign":
		default:
			b.warn(rec, field, "ATT&CK id %s names a %s, not a technique, software, group or campaign; skipped", ext, ref.Type)
			continue
		}
		attackIDs = append(attackIDs, ext)
		attackTargets = appendRef(attackTargets, ctxRef{ref.ID, ref.Type})
	}
	// Targeted industries.
	var sectors []string
	var sectorRefs []ctxRef
	for i, ind := range p.Industries {
		name := strings.TrimSpace(ind)
		if name == "" {
			b.warn(rec, "industries["+strconv.Itoa(i)+"]", "empty; skipped")
			continue
		}
		sectors = append(sectors, name)
		id := ingest.ContextID("identity", "sector "+name)
		b.add(&stix.Identity{Common: newCommon("identity", id), Name: name, IdentityClass: "class",
			Sectors: []string{ingest.SectorOf(name, sectorVocab)}})
		sectorRefs = appendRef(sectorRefs, ctxRef{id, "identity"})
	}
	// CVEs: CVE indicators and CVE tags.
	var cves []string
	var vulns []ctxRef
	addCVE := func(s string) bool {
		cve, err := ingest.NormalizeCVE(s)
		if err != nil {
			return false
		}
		id := ingest.ContextID("vulnerability", cve)
		if !containsRef(vulns, id) {
			cves = append(cves, cve)
			b.add(&stix.Vulnerability{Common: withRefs(newCommon("vulnerability", id),
				stix.ExternalReference{SourceName: "cve", ExternalID: cve}), Name: cve})
			vulns = append(vulns, ctxRef{id, "vulnerability"})
		}
		return true
	}
	for _, t := range p.Tags {
		addCVE(t)
	}
	for i, ind := range p.Indicators {
		if ind.Type == "CVE" && !addCVE(ind.Indicator) {
			b.warn(indicatorRecord(rec, i, ind), "indicator", "CVE %q: not CVE-YYYY-NNNN; skipped", ind.Indicator)
		}
	}

	// Pulse-level relationships.
	actors := malware
	if actor != nil {
		actors = []ctxRef{*actor}
		for _, m := range malware {
			rel("uses", actor.id, m.id)
		}
	}
	for _, t := range techniques {
		if actor != nil {
			rel("uses", actor.id, t.id)
		}
		for _, m := range malware {
			rel("uses", m.id, t.id)
		}
	}
	for _, a := range actors {
		for _, s := range sectorRefs {
			rel("targets", a.id, s.id)
		}
		for _, v := range vulns {
			rel("targets", a.id, v.id)
		}
	}
	for _, r := range [][]ctxRef{malware, attackTargets, sectorRefs, vulns} {
		for _, x := range r {
			refs[x.id] = true
		}
	}
	if actor != nil {
		refs[actor.id] = true
	}

	var actorNames []string
	if s := strings.TrimSpace(p.Adversary); s != "" {
		actorNames = []string{s}
	}
	ctx := ingest.Context{Malware: malwareNames, Actors: actorNames, AttackIDs: attackIDs, CVEs: cves,
		Sectors: sectors, Labels: p.Tags, TLP: tlpString(level), ReportRefs: []string{reportID}}
	for i := range p.Indicators {
		ind := &p.Indicators[i]
		if ind.Type == "CVE" {
			continue
		}
		r := indicatorRecord(rec, i, *ind)
		typ, ok := indicatorTypes[ind.Type]
		if !ok {
			b.warn(r, "type", "OTX type %q is not supported; skipped", ind.Type)
			continue
		}
		v, err := ingest.Normalize(typ, ind.Indicator)
		if err != nil {
			b.warn(r, "indicator", "%v", err)
			continue
		}
		detect, revoked := true, false
		if ind.IsActive != nil && *ind.IsActive == 0 {
			detect, revoked = false, true
		}
		if ind.Expiration != "" {
			exp, err := ParseTime(ind.Expiration)
			switch {
			case err != nil:
				b.warn(r, "expiration", "%v; ignored", err)
			case !c.Now.IsZero() && !exp.After(c.Now):
				detect, revoked = false, true
			}
		}
		seen := created
		if ind.Created != "" {
			if t, err := ParseTime(ind.Created); err == nil {
				seen = t
			} else {
				b.warn(r, "created", "%v; the pulse's created time is used", err)
			}
		}
		verdict := appendVerdict(make([]byte, 0, 128+len(ind.Indicator)), p.ID, ind)
		// The normalised kind and value: Settle matches observations on them, and the
		// Runner normalises them again at no loss.
		b.Observations = append(b.Observations, ingest.Observation{Type: v.Kind(), Value: v.Value, Verdict: verdict,
			Detect: detect, Revoked: revoked, Seen: seen, Context: ctx})
		if revoked {
			continue // the Runner withdraws the value and authors nothing for it
		}
		refs[ingest.ObservableID(v)] = true
		if detect {
			indID := ingest.IndicatorID(v)
			refs[indID] = true
		}
	}

	// The report.
	extJSON, _ := json.Marshal(Extension{ExtensionType: "property-extension", PulseID: p.ID, AuthorName: p.AuthorName,
		Revision: p.Revision, Public: p.Public == 1, TLP: tlpName, Adversary: p.Adversary, MalwareFamilies: malwareNames,
		AttackIDs: attackIDs, Industries: p.Industries, TargetedCountries: p.TargetedCountries, Tags: p.Tags,
		ExtractSource: p.ExtractSource, MoreIndicators: p.MoreIndicators, IndicatorCount: len(p.Indicators),
		Created: p.Created, Modified: p.Modified})
	if p.MoreIndicators {
		b.warn(rec, "more_indicators", "the pulse has more indicators than the response lists; only %d converted", len(p.Indicators))
	}
	if len(refs) == 0 {
		refs[IdentityID] = true // object_refs must not be empty
	}
	objectRefs := make([]string, 0, len(refs))
	for id := range refs {
		objectRefs = append(objectRefs, id)
	}
	sort.Strings(objectRefs)
	extRefs := []stix.ExternalReference{{SourceName: "AlienVault OTX", URL: fmt.Sprintf(PulseURL, url.PathEscape(p.ID)), ExternalID: p.ID}}
	for _, ref := range p.References {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(ref, " \t\n") {
			extRefs = append(extRefs, stix.ExternalReference{SourceName: u.Hostname(), URL: ref})
		} else {
			extRefs = append(extRefs, stix.ExternalReference{SourceName: "reference", Description: ref})
		}
	}
	name := strings.TrimSpace(p.Name)
	if name == "" {
		name = "OTX pulse " + p.ID
		b.warn(rec, "name", "empty; the report is named %q", name)
	}
	report := &stix.Report{
		Common: stix.Common{Type: "report", SpecVersion: stix.SpecVersion, ID: reportID, CreatedByRef: IdentityID,
			Created: ptr(tCreated), Modified: ptr(tModified), Labels: labels(p.Tags), ExternalReferences: extRefs,
			ObjectMarkingRefs: markings, Extensions: map[string]json.RawMessage{ExtensionID: extJSON}},
		Name: name, Description: p.Description, ReportTypes: []string{"threat-report"}, Published: tCreated,
		ObjectRefs: objectRefs,
	}
	b.add(report)
}

// resolveGroup finds an ATT&CK group by name or alias.
func (c *Converter) resolveGroup(name string) (attack.Ref, bool) {
	if c.Attack == nil {
		return attack.Ref{}, false
	}
	return c.Attack.ResolveName(name, "intrusion-set")
}

// AddExport converts records of /api/v1/indicators/export: each a
// detection-worthy observation without context (the export lists the active
// indicators of subscribed pulses).
func (c *Converter) AddExport(out *ingest.Batch, recs []ExportIndicator) {
	b := c.wrap(out)
	level, _ := tlpLevel(c.DefaultTLP)
	for i := range recs {
		e := &recs[i]
		r := "export indicator " + e.ID.String()
		if e.ID == "" {
			r = "export result " + strconv.Itoa(i)
		}
		if e.Type == "CVE" {
			b.warn(r, "type", "CVE in an indicator export has no pulse to hang on; skipped")
			continue
		}
		typ, ok := indicatorTypes[e.Type]
		if !ok {
			b.warn(r, "type", "OTX type %q is not supported; skipped", e.Type)
			continue
		}
		if _, err := ingest.Normalize(typ, e.Indicator); err != nil {
			b.warn(r, "indicator", "%v", err)
			continue
		}
		verdict, _ := json.Marshal(map[string]any{"export_id": e.ID, "type": e.Type, "title": e.Title})
		b.Observations = append(b.Observations, ingest.Observation{Type: typ, Value: e.Indicator, Verdict: verdict,
			Detect: true, Context: ingest.Context{TLP: tlpString(level)}})
	}
}

// verdict is the native verdict kept in provenance.
type verdict struct {
	Pulse      string `json:"pulse"`
	Indicator  string `json:"indicator"` // as OTX wrote it
	ID         string `json:"indicator_id,omitempty"`
	Type       string `json:"type"`
	Role       string `json:"role,omitempty"`
	Title      string `json:"title,omitempty"`
	IsActive   *int   `json:"is_active,omitempty"`
	Expiration string `json:"expiration,omitempty"`
}

// appendVerdict appends the JSON of verdictOf(pulse, ind), written by hand: it
// runs once per indicator.
func appendVerdict(b []byte, pulse string, ind *Indicator) []byte {
	field := func(b []byte, key, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return b
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		return appendString(b, v)
	}
	b = append(b, '{')
	b = field(b, "pulse", pulse, false)
	b = field(b, "indicator", ind.Indicator, false)
	b = field(b, "indicator_id", ind.ID.String(), true)
	b = field(b, "type", ind.Type, false)
	b = field(b, "role", ind.Role, true)
	b = field(b, "title", ind.Title, true)
	if ind.IsActive != nil {
		b = append(b, `,"is_active":`...)
		b = strconv.AppendInt(b, int64(*ind.IsActive), 10)
	}
	b = field(b, "expiration", ind.Expiration, true)
	return append(b, '}')
}

// appendString appends s as a JSON string (as encoding/json writes it, without
// HTML escaping; invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, "\\ufffd"...)
		case r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

func verdictOf(pulse string, ind *Indicator) verdict {
	v := verdict{Pulse: pulse, Indicator: ind.Indicator, ID: ind.ID.String(), Type: ind.Type, Role: ind.Role, Title: ind.Title, Expiration: ind.Expiration}
	if ind.IsActive != nil {
		a := int(*ind.IsActive)
		v.IsActive = &a
	}
	return v
}

func indicatorRecord(rec string, i int, ind Indicator) string {
	if ind.ID != "" {
		return rec + " indicator " + ind.ID.String()
	}
	return rec + " indicators[" + strconv.Itoa(i) + "]"
}

func tlpString(l stix.TLP) string {
	if l == stix.TLPNone {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
}

func labels(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func appendRef(rs []ctxRef, r ctxRef) []ctxRef {
	if containsRef(rs, r.id) {
		return rs
	}
	return append(rs, r)
}

func containsRef(rs []ctxRef, id string) bool {
	for _, r := range rs {
		if r.id == id {
			return true
		}
	}
	return false
}

func withRefs(c stix.Common, refs ...stix.ExternalReference) stix.Common {
	c.ExternalReferences = refs
	return c
}

func ptr(t stix.Timestamp) *stix.Timestamp { return &t }

// Kind says what an OTX response holds.
type Kind int

// Kinds of response.
const (
	KindAuto   Kind = iota // decide from the first result
	KindPulses             // pulses (/api/v1/pulses/subscribed, /api/v1/pulses/{id})
	KindExport             // export records (/api/v1/indicators/export)
)

// PageInfo is what DecodePage learnt about a response besides its results.
type PageInfo struct {
	Kind    Kind
	Next    string // the next page's URL; empty on the last page
	Count   int    // the total count the server announced, when it did
	Results int    // results read
}

// DecodePage streams one OTX response from r, calling pulse for each pulse and
// export for each export record, one at a time, so memory stays bounded by the
// largest single result. r may hold a page {"results": [...], "next": ...}, one
// pulse object (the details endpoint), or a JSON array of pulses or export
// records. kind says which results to expect; KindAuto decides from the first
// one. A result that does not decode is an error naming its index: the response
// is not OTX's. A callback's error stops decoding and is returned as is.
func DecodePage(r io.Reader, kind Kind, pulse func(*Pulse) error, export func(*ExportIndicator) error) (PageInfo, error) {
	info := PageInfo{Kind: kind}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return info, fmt.Errorf("otx response: %w", eofErr(err))
	}
	switch tok {
	case json.Delim('['):
		err := decodeResults(dec, &info, pulse, export)
		if err == nil {
			_, err = dec.Token()
		}
		return info, eofErr(err)
	case json.Delim('{'):
	default:
		return info, fmt.Errorf("otx response: want a JSON object or array, got %v", tok)
	}
	single := map[string]json.RawMessage{}
	results := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return info, fmt.Errorf("otx response: %w", eofErr(err))
		}
		key, _ := tok.(string)
		switch key {
		case "results":
			results = true
			t, err := dec.Token()
			if err != nil {
				return info, fmt.Errorf("otx response: results: %w", eofErr(err))
			}
			if t == nil {
				continue
			}
			if t != json.Delim('[') {
				return info, fmt.Errorf("otx response: results: want an array")
			}
			if err := decodeResults(dec, &info, pulse, export); err != nil {
				return info, err
			}
			if _, err := dec.Token(); err != nil {
				return info, fmt.Errorf("otx response: results: %w", eofErr(err))
			}
		case "next":
			var next *string
			if err := dec.Decode(&next); err != nil {
				return info, fmt.Errorf("otx response: next: %w", eofErr(err))
			}
			if next != nil {
				info.Next = *next
			}
		case "count":
			var n json.Number
			if err := dec.Decode(&n); err != nil {
				return info, fmt.Errorf("otx response: count: %w", eofErr(err))
			}
			c, _ := n.Int64()
			info.Count = int(c)
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return info, fmt.Errorf("otx response: %s: %w", key, eofErr(err))
			}
			if !results {
				single[key] = raw
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return info, fmt.Errorf("otx response: %w", eofErr(err))
	}
	if results {
		return info, nil
	}
	// One pulse on its own.
	if _, ok := single["indicators"]; !ok {
		if _, ok := single["name"]; !ok {
			return info, errors.New("otx response: neither a page with results nor a pulse")
		}
	}
	b, _ := json.Marshal(single)
	var p Pulse
	if err := json.Unmarshal(b, &p); err != nil {
		return info, fmt.Errorf("otx pulse: %w", err)
	}
	info.Kind, info.Results = KindPulses, 1
	return info, pulse(&p)
}

// errTruncated marks a response that ended before its JSON did.
var errTruncated = errors.New("response cut off")

func eofErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", errTruncated, err)
	}
	return err
}

func decodeResults(dec *json.Decoder, info *PageInfo, pulse func(*Pulse) error, export func(*ExportIndicator) error) error {
	for i := 0; dec.More(); i++ {
		kind := info.Kind
		var raw json.RawMessage
		if kind == KindAuto {
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("otx response: results[%d]: %w", i, eofErr(err))
			}
			var probe struct {
				Indicator  *string         `json:"indicator"`
				Indicators json.RawMessage `json:"indicators"`
			}
			if err := json.Unmarshal(raw, &probe); err != nil {
				return fmt.Errorf("otx response: results[%d]: %w", i, err)
			}
			kind = KindPulses
			if probe.Indicator != nil && probe.Indicators == nil {
				kind = KindExport
			}
			info.Kind = kind
		}
		info.Results++
		switch kind {
		case KindExport:
			var e ExportIndicator
			if err := decodeOne(dec, raw, &e); err != nil {
				return fmt.Errorf("otx response: results[%d]: %w", i, err)
			}
			if err := export(&e); err != nil {
				return err
			}
		default:
			var p Pulse
			if err := decodeOne(dec, raw, &p); err != nil {
				return fmt.Errorf("otx response: results[%d]: %w", i, err)
			}
			if err := pulse(&p); err != nil {
				return err
			}
		}
	}
	return nil
}

func decodeOne(dec *json.Decoder, raw json.RawMessage, v any) error {
	if raw != nil {
		return json.Unmarshal(raw, v)
	}
	return eofErr(dec.Decode(v))
}

// Convert reads one OTX response (see DecodePage) from r, adds what it holds to
// out and settles out (see Settle).
func (c *Converter) Convert(r io.Reader, out *ingest.Batch) (PageInfo, error) {
	info, err := DecodePage(r, KindAuto,
		func(p *Pulse) error { c.AddPulse(out, p); return nil },
		func(e *ExportIndicator) error { c.AddExport(out, []ExportIndicator{*e}); return nil })
	Settle(out)
	return info, err
}

// Settle drops from b the withdrawals (inactive or expired indicators) of values
// that another pulse of the same batch reports live: for the feed as a whole the
// value is live. Call it once a batch is complete.
func Settle(b *ingest.Batch) {
	live := make(map[[2]string]bool, len(b.Observations))
	for _, o := range b.Observations {
		if !o.Revoked {
			live[[2]string{o.Type, o.Value}] = true
		}
	}
	if len(live) == len(b.Observations) {
		return
	}
	kept := b.Observations[:0]
	for _, o := range b.Observations {
		if o.Revoked && live[[2]string{o.Type, o.Value}] {
			continue
		}
		kept = append(kept, o)
	}
	b.Observations = kept
}

// DecodeIndicators streams a page of /api/v1/pulses/{id}/indicators
// ({"results": [indicator…], "next": …}) from r, calling fn for each indicator,
// and returns the next page's URL ("" on the last page).
func DecodeIndicators(r io.Reader, fn func(*Indicator) error) (string, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err != nil {
			return "", fmt.Errorf("otx indicators: %w", eofErr(err))
		}
		return "", fmt.Errorf("otx indicators: want a JSON object")
	}
	next := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("otx indicators: %w", eofErr(err))
		}
		switch key, _ := tok.(string); key {
		case "results":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				if err != nil {
					return "", fmt.Errorf("otx indicators: results: %w", eofErr(err))
				}
				return "", fmt.Errorf("otx indicators: results: want an array")
			}
			for i := 0; dec.More(); i++ {
				var ind Indicator
				if err := dec.Decode(&ind); err != nil {
					return "", fmt.Errorf("otx indicators: results[%d]: %w", i, eofErr(err))
				}
				if err := fn(&ind); err != nil {
					return "", err
				}
			}
			if _, err := dec.Token(); err != nil {
				return "", fmt.Errorf("otx indicators: %w", eofErr(err))
			}
		case "next":
			var n *string
			if err := dec.Decode(&n); err != nil {
				return "", fmt.Errorf("otx indicators: next: %w", eofErr(err))
			}
			if n != nil {
				next = *n
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", fmt.Errorf("otx indicators: %s: %w", key, eofErr(err))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", fmt.Errorf("otx indicators: %w", eofErr(err))
	}
	return next, nil
}
