package misp

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
)

// Provider is the name misp registers under in the ingest.Registry.
const Provider = "misp"

var namespace = uuid.MustParse(ingest.Namespace)

// ExtensionID is the fixed id of the MISP property-extension definition that
// carries an event's native fields on the report made from it, for audit and for
// the STIX → MISP direction: UUIDv5(ingest.Namespace, "ctibroker misp
// extension"). It never changes.
var ExtensionID = stix.DeterministicID("extension-definition", namespace, "ctibroker misp extension")

// ExtensionSchemaURL is where the extension's JSON schema is published; the same
// file is ingest/misp/schema/misp-extension.json in the repository.
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/ingest/misp/schema/misp-extension.json"

// fixedCreated is the created time of the org identities and the extension
// definition: fixed, so that they are the same object every time.
var fixedCreated = stix.Timestamp{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}

// Converter turns MISP events into ingest batches. It is pure: same events and
// fields, same output. The zero value works (no ATT&CK resolution, no default
// TLP, community share).
type Converter struct {
	// Attack resolves ATT&CK ids and names of mitre-* galaxy clusters; nil: they
	// are warnings, and threat actors and malware get ctibroker's own SDOs.
	Attack *attack.Index
	// Identity is the instance identity, created_by_ref of the objects ctibroker
	// authors (context SDOs, relationships, indicators of non-pool values, the
	// extension definition); empty leaves it out.
	Identity string
	// DefaultTLP is the TLP 2.0 level for events that carry no tlp tag (clear,
	// green, amber, amber+strict, red); empty: no marking.
	DefaultTLP string
	// Share is the feed's share level (ingest.ShareInternal, SharePartners,
	// ShareCommunity); a MISP distribution never opens data beyond it. Empty:
	// community.
	Share string
	// Now is the reference time for expiration sightings; zero: they are not
	// checked.
	Now time.Time
}

// Verdict is the native verdict of one attribute, kept in the value's provenance
// record (ingest.Observation.Verdict). Score maps it onto scoring's scale.
type Verdict struct {
	Event          string `json:"event,omitempty"` // event uuid
	Attribute      string `json:"attribute"`       // attribute uuid
	Object         string `json:"object,omitempty"`
	ObjectName     string `json:"object_name,omitempty"`
	ObjectRelation string `json:"object_relation,omitempty"`
	Type           string `json:"type"`
	Category       string `json:"category,omitempty"`
	Value          string `json:"value"` // the whole value as MISP wrote it (composites joined with |)
	ToIDs          bool   `json:"to_ids"`
	Deleted        bool   `json:"deleted,omitempty"`
	Comment        string `json:"comment,omitempty"`
	// ThreatLevel is the event's threat_level_id: 1 high, 2 medium, 3 low, 4
	// undefined; 0 when there is no event.
	ThreatLevel int `json:"threat_level_id,omitempty"`
	// ConfidenceTag is the tag scoring.SeverityMISP reads: the attribute's own
	// misp:confidence-level, admiralty-scale:information-credibility or
	// estimative-language:likelihood-probability tag, else the event's.
	ConfidenceTag string `json:"confidence_tag,omitempty"`
	// Confidence is misp:confidence-level on STIX's 0–100 (misp-stix's mapping).
	Confidence *int `json:"confidence,omitempty"`
	// SourceReliability is admiralty-scale:source-reliability, upper case A–F.
	SourceReliability string `json:"source_reliability,omitempty"`
	// InformationCredibility is admiralty-scale:information-credibility, 1–6.
	InformationCredibility string           `json:"information_credibility,omitempty"`
	Distribution           int              `json:"distribution"` // effective: 5 (inherit) resolved to the event's
	Share                  string           `json:"share"`        // the share level the distribution maps to (see ShareOf)
	Port                   int              `json:"port,omitempty"`
	Filename               string           `json:"filename,omitempty"`
	FirstSeen              string           `json:"first_seen,omitempty"`
	LastSeen               string           `json:"last_seen,omitempty"`
	Orgc                   string           `json:"orgc,omitempty"` // the creator organisation's name
	Sightings              *SightingSummary `json:"sightings,omitempty"`
}

// SightingSummary counts an attribute's MISP sightings by type.
type SightingSummary struct {
	Seen           int    `json:"seen,omitempty"`
	FalsePositives int    `json:"false_positives,omitempty"`
	Expirations    int    `json:"expirations,omitempty"`
	First          string `json:"first,omitempty"` // earliest type-0 sighting
	Last           string `json:"last,omitempty"`  // latest type-0 sighting
	Expired        bool   `json:"expired,omitempty"`
}

// Score maps the verdict onto scoring's scale with scoring.SeverityMISP.
func (v *Verdict) Score() scoring.Verdict {
	return scoring.SeverityMISP(v.ThreatLevel, v.ConfidenceTag, v.ToIDs)
}

// ShareOf maps a MISP distribution onto a ctibroker share level (DESIGN.md,
// Sharing and markings), capped at the feed's level: 0 (your organisation) and 4
// (a sharing group, whose membership ctibroker cannot reproduce) → internal; 1
// (this community) and 2 (connected communities) → partners; 3 (all
// communities) → community. An unknown distribution is internal.
func ShareOf(distribution int, feedShare string) string {
	s := ingest.ShareInternal
	switch distribution {
	case DistributionCommunity, DistributionConnected:
		s = ingest.SharePartners
	case DistributionAll:
		s = ingest.ShareCommunity
	}
	if feedShare == "" {
		feedShare = ingest.ShareCommunity
	}
	if shareRank[feedShare] < shareRank[s] {
		return feedShare
	}
	return s
}

// shareRank orders the share levels from the least to the most open.
var shareRank = map[string]int{ingest.ShareInternal: 0, ingest.SharePartners: 1, ingest.ShareCommunity: 2}

// EventExtension is the MISP property extension on an event's report: the
// event's native fields.
type EventExtension struct {
	ExtensionType    string         `json:"extension_type"`
	EventUUID        string         `json:"event_uuid"`
	EventID          string         `json:"event_id,omitempty"`
	Info             string         `json:"info"`
	Date             string         `json:"date,omitempty"`
	ThreatLevelID    int            `json:"threat_level_id,omitempty"`
	Analysis         *int           `json:"analysis,omitempty"`
	Distribution     int            `json:"distribution"`
	SharingGroupID   string         `json:"sharing_group_id,omitempty"`
	Share            string         `json:"share"`
	Published        bool           `json:"published"`
	PublishTimestamp string         `json:"publish_timestamp,omitempty"`
	Timestamp        string         `json:"timestamp"`
	ExtendsUUID      string         `json:"extends_uuid,omitempty"`
	Orgc             *Org           `json:"orgc,omitempty"`
	Org              *Org           `json:"org,omitempty"`
	Tags             []string       `json:"tags,omitempty"`
	Attributes       int            `json:"attributes"`          // attributes in the event, objects' included
	Deleted          int            `json:"deleted,omitempty"`   // of which deleted
	Objects          int            `json:"objects,omitempty"`   // MISP objects
	Unmapped         map[string]int `json:"unmapped,omitempty"`  // attributes per type with no STIX mapping (text, comment, btc, ...)
	Links            []string       `json:"links,omitempty"`     // link attributes (also external references)
	Sightings        int            `json:"sightings,omitempty"` // sightings of all types
}

// ExtensionDefinition returns the MISP extension definition, created by
// identity.
func ExtensionDefinition(identity string) *stix.ExtensionDefinition {
	t, t2 := fixedCreated, fixedCreated
	return &stix.ExtensionDefinition{
		Common: stix.Common{Type: "extension-definition", SpecVersion: stix.SpecVersion, ID: ExtensionID,
			CreatedByRef: identity, Created: &t, Modified: &t2},
		Name:           "ctibroker MISP event fields",
		Description:    "The native fields of a MISP event, kept on the report made from it for audit and for publishing back to MISP.",
		Schema:         ExtensionSchemaURL,
		Version:        "1.0.0",
		ExtensionTypes: []string{"property-extension"},
	}
}

// OrgIdentityID returns the id of the identity of a MISP organisation:
// identity--<org uuid> when the uuid is one (as misp-stix writes it, so the org
// is one object whichever way its events arrive), else
// ingest.ContextID("identity", name).
func OrgIdentityID(o *Org) string {
	if o == nil {
		return ""
	}
	if u, err := uuid.Parse(strings.TrimSpace(o.UUID)); err == nil {
		return "identity--" + u.String()
	}
	if strings.TrimSpace(o.Name) == "" {
		return ""
	}
	return ingest.ContextID("identity", o.Name)
}

// OrgIdentity returns the identity object of a MISP organisation (nil without
// uuid and name).
func OrgIdentity(o *Org) *stix.Identity {
	id := OrgIdentityID(o)
	if id == "" {
		return nil
	}
	name := strings.TrimSpace(o.Name)
	if name == "" {
		name = "MISP organisation " + o.UUID
	}
	t, t2 := fixedCreated, fixedCreated
	return &stix.Identity{Common: stix.Common{Type: "identity", SpecVersion: stix.SpecVersion, ID: id, Created: &t, Modified: &t2},
		Name: name, IdentityClass: "organization"}
}

// ReportID returns the id of the report made from the event with uuid
// eventUUID: UUIDv5(ingest.Namespace, "misp-event|" + lower-case uuid).
func ReportID(eventUUID string) string {
	return stix.DeterministicID("report", namespace, "misp-event|"+strings.ToLower(strings.TrimSpace(eventUUID)))
}

func relationshipID(rel, source, target string) string {
	return stix.DeterministicID("relationship", namespace, rel+"|"+source+"|"+target)
}

// indicatorID is the id of the indicator ctibroker authors for a pattern: the
// ingest Runner's scheme (ingest.IndicatorID for pool values), with the pattern
// type prefixed for other languages.
func indicatorID(patternType, p string) string {
	if patternType != "" && patternType != "stix" {
		p = patternType + "|" + p
	}
	return stix.DeterministicID("indicator", namespace, p)
}

// Tool is a STIX 2.1 Tool SDO (§4.18); the stix package has no typed one yet.
type Tool struct {
	stix.Common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
}

// sco is an SCO an attribute that is not a pool value yields.
type sco = stix.Object

func fileSCO(name, key, hash string) scoBuilder {
	return func() (sco, bool) {
		var h map[string]string
		if key != "" {
			h = map[string]string{key: hash}
		}
		f := stix.NewFile(h, name)
		return f, f.ID != ""
	}
}

func asSCO(n int64) scoBuilder {
	return func() (sco, bool) { o := stix.NewAutonomousSystem(n); return o, o.ID != "" }
}

// simpleSCO builds an SCO with one string property, its id deterministic.
func simpleSCO(typ, prop, value string) scoBuilder {
	return func() (sco, bool) {
		id, err := stix.SCOID(typ, map[string]any{prop: value})
		if err != nil {
			return nil, false
		}
		b, err := json.Marshal(map[string]string{"type": typ, "spec_version": stix.SpecVersion, "id": id, prop: value})
		if err != nil {
			return nil, false
		}
		return &stix.RawObject{Common: stix.Common{Type: typ, SpecVersion: stix.SpecVersion, ID: id}, JSON: b}, true
	}
}

// batch accumulates one batch, de-duplicating objects by id.
type batch struct {
	*ingest.Batch
	ids map[string]bool
}

func wrap(out *ingest.Batch) *batch {
	b := &batch{Batch: out, ids: make(map[string]bool, len(out.Objects)+16)}
	for _, o := range out.Objects {
		b.ids[o.Base().ID] = true
	}
	return b
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

// clusterRef is one galaxy cluster an event or attribute names, resolved.
type clusterRef struct {
	id       string // STIX id of the object (MITRE's or ctibroker's)
	kind     string // attack-pattern, intrusion-set, malware, tool
	name     string
	attackID string // the ATT&CK external id when it resolved through the index
}

// tagInfo is what the tags of an event or attribute say.
type tagInfo struct {
	tlp         stix.TLP
	tlpSet      bool
	labels      []string
	confTag     string // for scoring.SeverityMISP, by precedence
	confRank    int
	confidence  *int
	reliability string
	credibility string
	galaxyTags  []GalaxyCluster // misp-galaxy tags, as clusters without meta
}

var confidenceLevels = map[string]int{"completely-confident": 100, "usually-confident": 75, "fairly-confident": 50,
	"rarely-confident": 25, "unconfident": 0}

// machineTag splits namespace:predicate="value".
func machineTag(name string) (ns, pred, value string) {
	left, v, ok := strings.Cut(name, "=")
	if ok {
		value = strings.Trim(strings.TrimSpace(v), `"`)
	}
	ns, pred, _ = strings.Cut(strings.TrimSpace(left), ":")
	return strings.ToLower(ns), strings.ToLower(pred), value
}

// readTags interprets tags (misp.md §4: TLP, confidence and admiralty taxonomies,
// galaxy tags). rec names the record for warnings.
func readTags(b *batch, rec string, tags []Tag) tagInfo {
	var ti tagInfo
	for i, t := range tags {
		name := strings.TrimSpace(t.Name)
		if name == "" {
			continue
		}
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "tlp:") {
			if l, ok := stix.TLPFromTag(lower); ok {
				if !ti.tlpSet || l > ti.tlp {
					ti.tlp, ti.tlpSet = l, true
				}
				continue
			}
			b.warn(rec, "Tag["+strconv.Itoa(i)+"]", "%q is not a TLP 2.0 level; kept as a label", name)
		}
		ns, pred, value := machineTag(name)
		rank := 0
		switch {
		case ns == "misp-galaxy" && value != "":
			ti.galaxyTags = append(ti.galaxyTags, GalaxyCluster{Type: pred, Value: value, TagName: name})
		case ns == "misp" && pred == "confidence-level":
			if c, ok := confidenceLevels[strings.ToLower(value)]; ok {
				if ti.confidence == nil || c < *ti.confidence {
					ti.confidence = &c
				}
			}
			rank = 3
		case ns == "admiralty-scale" && pred == "information-credibility":
			ti.credibility = value
			rank = 2
		case ns == "admiralty-scale" && pred == "source-reliability":
			ti.reliability = strings.ToUpper(value)
		case ns == "estimative-language" && pred == "likelihood-probability":
			rank = 1
		}
		if rank > ti.confRank {
			ti.confTag, ti.confRank = name, rank
		}
		ti.labels = append(ti.labels, name)
	}
	return ti
}

// merge returns the attribute's tag info over the event's: the stricter TLP, the
// attribute's confidence tags first, labels of both.
func (ti tagInfo) merge(attr tagInfo) tagInfo {
	out := ti
	if attr.tlpSet && (!out.tlpSet || attr.tlp > out.tlp) {
		out.tlp, out.tlpSet = attr.tlp, true
	}
	out.labels = appendUnique(append([]string(nil), ti.labels...), attr.labels...)
	if attr.confRank > 0 {
		out.confTag, out.confRank = attr.confTag, attr.confRank
	}
	if attr.confidence != nil {
		out.confidence = attr.confidence
	}
	if attr.reliability != "" {
		out.reliability = attr.reliability
	}
	if attr.credibility != "" {
		out.credibility = attr.credibility
	}
	return out
}

func appendUnique(dst []string, vs ...string) []string {
	for _, v := range vs {
		found := false
		for _, d := range dst {
			if d == v {
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, v)
		}
	}
	return dst
}

// galaxy kinds by cluster type.
var galaxyKinds = map[string]string{
	"mitre-attack-pattern": "attack-pattern", "mitre-enterprise-attack-attack-pattern": "attack-pattern",
	"mitre-mobile-attack-attack-pattern": "attack-pattern", "mitre-pre-attack-attack-pattern": "attack-pattern",
	"mitre-ics-techniques": "attack-pattern",
	"threat-actor":         "intrusion-set", "mitre-intrusion-set": "intrusion-set", "mitre-enterprise-attack-intrusion-set": "intrusion-set",
	"mitre-mobile-attack-intrusion-set": "intrusion-set", "microsoft-activity-group": "intrusion-set",
	"malpedia": "malware", "mitre-malware": "malware", "mitre-enterprise-attack-malware": "malware",
	"mitre-mobile-attack-malware": "malware", "ransomware": "malware", "banker": "malware", "rat": "malware",
	"botnet": "malware", "backdoor": "malware", "stealer": "malware", "android": "malware", "exploit-kit": "malware",
	"tool": "tool", "mitre-tool": "tool", "mitre-enterprise-attack-tool": "tool", "mitre-mobile-attack-tool": "tool",
	"sector": "sector",
}

var attackSuffix = regexp.MustCompile(`\s+-\s+([TGSMC]\d{4}(?:\.\d{3})?)\s*$`)
var attackIDPattern = regexp.MustCompile(`^[TGSMC]\d{4}(?:\.\d{3})?$`)

// clusterAttackID returns the ATT&CK id of a cluster (meta.external_id, else the
// " - T1134" suffix of its value) and its name without the suffix.
func clusterAttackID(c *GalaxyCluster) (id, name string) {
	name = strings.TrimSpace(c.Value)
	if m := attackSuffix.FindStringSubmatch(name); m != nil {
		id = m[1]
		name = strings.TrimSpace(name[:len(name)-len(m[0])])
	}
	for _, e := range c.MetaStrings("external_id") {
		if e = strings.ToUpper(strings.TrimSpace(e)); attackIDPattern.MatchString(e) {
			return e, name
		}
	}
	return id, name
}

// eventState is the conversion state of one event.
type eventState struct {
	c        *Converter
	b        *batch
	ev       *Event
	rec      string
	reportID string
	orgID    string
	tags     tagInfo
	markings []string
	created  stix.Timestamp
	refs     map[string]bool
	ext      *EventExtension
	dist     int
	threat   int
	// per event: clusters resolved by tag name, and the event-level ones
	clusters   map[string]*clusterRef
	evClusters []*clusterRef
	// anchors: MISP uuid (attribute or object) → the STIX ids made from it
	anchors map[string][]string
	noIndex bool
	baseCtx *ingest.Context // the context of attributes with no tags or galaxies of their own
	uuids   map[string]bool // the event's attribute and object uuids, built on first need
}

// AddEvent converts one event into out: the report authored by the event's
// creator org, the org identity, TLP marking, context SDOs from galaxies,
// indicators and SCOs of values outside the pool (Objects), one observation per
// pool value of its attributes and objects (Observations), and warnings for what
// it had to skip. An event without uuid (attributes from /attributes/restSearch)
// yields observations and no report.
func (c *Converter) AddEvent(out *ingest.Batch, ev *Event) {
	b := wrap(out)
	s := &eventState{c: c, b: b, ev: ev, refs: map[string]bool{}, clusters: map[string]*clusterRef{}, anchors: map[string][]string{}}
	s.rec = "event " + ev.UUID
	if ev.UUID == "" {
		s.rec = "attributes"
	}
	s.tags = readTags(b, s.rec, ev.Tag)
	level := s.tags.tlp
	if !s.tags.tlpSet {
		level, _ = stix.TLPFromTag("tlp:" + c.DefaultTLP)
	}
	s.tags.tlp = level
	if level != stix.TLPNone {
		b.add(level.MarkingDefinition())
		s.markings = []string{level.MarkingRef()}
	}
	s.dist = DistributionAll
	if d, ok := ev.Distribution.Int(); ok {
		s.dist = int(d)
	} else if ev.UUID == "" {
		s.dist = DistributionInherit
	}
	if t, ok := ev.ThreatLevelID.Int(); ok {
		s.threat = int(t)
	}
	modified, okT := ev.Timestamp.Time()
	if !okT {
		modified = c.Now
		if ev.UUID != "" {
			b.warn(s.rec, "timestamp", "missing or not unix seconds (%q); the conversion time is used", string(ev.Timestamp))
		}
	}
	created := modified
	if d, err := time.Parse("2006-01-02", strings.TrimSpace(ev.Date)); err == nil && !d.After(modified) {
		created = d
	}
	s.created = stix.NewTimestamp(created)
	if ev.UUID != "" {
		s.reportID = ReportID(ev.UUID)
		creator := ev.Orgc
		if creator == nil {
			creator = ev.Org // older exports without Orgc: the owner is the best guess
		}
		s.orgID = OrgIdentityID(creator)
		if org := OrgIdentity(creator); org != nil {
			b.add(org)
		} else {
			b.warn(s.rec, "Orgc", "missing (and no Org); the report has no created_by_ref")
		}
		b.add(ExtensionDefinition(c.Identity))
		s.ext = &EventExtension{ExtensionType: "property-extension", EventUUID: ev.UUID, EventID: string(ev.ID), Info: ev.Info,
			Date: ev.Date, ThreatLevelID: s.threat, Distribution: s.dist, SharingGroupID: string(ev.SharingGroupID),
			Share: ShareOf(s.dist, c.Share), Published: bool(ev.Published), PublishTimestamp: string(ev.PublishTimestamp),
			Timestamp: string(ev.Timestamp), ExtendsUUID: ev.ExtendsUUID, Orgc: ev.Orgc, Org: ev.Org, Objects: len(ev.Object)}
		if a, ok := ev.Analysis.Int(); ok {
			n := int(a)
			s.ext.Analysis = &n
		}
		for _, t := range ev.Tag {
			s.ext.Tags = append(s.ext.Tags, t.Name)
		}
	}
	// Event-level galaxies.
	s.evClusters = s.resolveClusters(s.rec, ev.Galaxy, s.tags.galaxyTags)
	for _, cl := range s.evClusters {
		if cl.id != "" {
			s.refs[cl.id] = true
		}
	}
	for i := range ev.Attribute {
		s.attribute(&ev.Attribute[i], nil)
	}
	for i := range ev.Object {
		o := &ev.Object[i]
		for j := range o.Attribute {
			s.attribute(&o.Attribute[j], o)
		}
	}
	for i := range ev.Object {
		s.references(&ev.Object[i])
	}
	for i := range ev.EventReport {
		s.eventReport(&ev.EventReport[i])
	}
	s.contextRelationships()
	if s.reportID != "" {
		s.report()
	}
}

// resolveClusters resolves galaxy clusters (from Galaxy blocks and misp-galaxy
// tags not covered by a block) into context objects, adding the SDOs ctibroker
// authors to the batch.
func (s *eventState) resolveClusters(rec string, galaxies []Galaxy, tagged []GalaxyCluster) []*clusterRef {
	var out []*clusterRef
	seen := map[string]bool{}
	do := func(cl *GalaxyCluster, field string) {
		key := cl.TagName
		if key == "" {
			key = "misp-galaxy:" + cl.Type + `="` + cl.Value + `"`
		}
		if seen[key] {
			return
		}
		seen[key] = true
		r, ok := s.clusters[key]
		if !ok {
			r = s.resolveCluster(rec, field, cl)
			s.clusters[key] = r
		}
		if r != nil {
			out = append(out, r)
		}
	}
	for i := range galaxies {
		g := &galaxies[i]
		for j := range g.GalaxyCluster {
			cl := g.GalaxyCluster[j]
			if cl.Type == "" {
				cl.Type = g.Type
			}
			do(&cl, fmt.Sprintf("Galaxy[%d].GalaxyCluster[%d]", i, j))
		}
	}
	for i := range tagged {
		do(&tagged[i], "Tag "+tagged[i].TagName)
	}
	return out
}

func (s *eventState) resolveCluster(rec, field string, cl *GalaxyCluster) *clusterRef {
	kind := galaxyKinds[strings.ToLower(cl.Type)]
	if kind == "" {
		return nil // other galaxies (country, sector lists, guidelines, ...) stay labels
	}
	attackID, name := clusterAttackID(cl)
	if name == "" {
		s.b.warn(rec, field, "galaxy cluster without a value; skipped")
		return nil
	}
	if kind == "sector" {
		return &clusterRef{kind: kind, name: name} // no object: Context.Sectors
	}
	ix := s.c.Attack
	if attackID != "" {
		if ix == nil {
			if !s.noIndex {
				s.noIndex = true
				s.b.warn(rec, field, "ATT&CK id %s not resolved: the feed has no ATT&CK index", attackID)
			}
		} else if ref, ok := ix.Resolve(attackID); ok {
			return &clusterRef{id: ref.ID, kind: ref.Type, name: name, attackID: attackID}
		} else {
			s.b.warn(rec, field, "unknown ATT&CK id %q (%s)", attackID, cl.Value)
		}
	}
	if kind == "attack-pattern" {
		if attackID == "" {
			s.b.warn(rec, field, "ATT&CK technique %q carries no ATT&CK id; skipped", cl.Value)
		}
		return nil // techniques are MITRE's objects only
	}
	aliases := cl.MetaStrings("synonyms")
	if ix != nil {
		types := map[string][]string{"intrusion-set": {"intrusion-set"}, "malware": {"malware", "tool"}, "tool": {"tool", "malware"}}[kind]
		for _, n := range append([]string{name}, aliases...) {
			if ref, ok := ix.ResolveName(n, types...); ok {
				return &clusterRef{id: ref.ID, kind: ref.Type, name: name, attackID: ref.ExternalID}
			}
		}
	}
	if attack.NormalizeName(name) == "" {
		return nil
	}
	id := ingest.ContextID(kind, name)
	common := stix.Common{Type: kind, SpecVersion: stix.SpecVersion, ID: id, CreatedByRef: s.c.Identity,
		Created: ptr(s.created), Modified: ptr(s.created)}
	var al []string
	for _, a := range aliases {
		if a = strings.TrimSpace(a); a != "" && !strings.EqualFold(a, name) {
			al = appendUnique(al, a)
		}
	}
	sort.Strings(al)
	switch kind {
	case "intrusion-set":
		s.b.add(&stix.IntrusionSet{Common: common, Name: name, Description: cl.Description, Aliases: al})
	case "malware":
		s.b.add(&stix.Malware{Common: common, Name: name, Description: cl.Description, IsFamily: true, Aliases: al})
	case "tool":
		s.b.add(&Tool{Common: common, Name: name, Description: cl.Description, Aliases: al})
	}
	return &clusterRef{id: id, kind: kind, name: name}
}

// contextRelationships relates the event's actors, malware and techniques: actor
// uses malware/tool, actor and malware use techniques.
func (s *eventState) contextRelationships() {
	var actors, software, techniques []*clusterRef
	for _, c := range s.evClusters {
		switch c.kind {
		case "intrusion-set", "threat-actor":
			actors = append(actors, c)
		case "malware", "tool":
			software = append(software, c)
		case "attack-pattern":
			techniques = append(techniques, c)
		}
	}
	rel := func(src, tgt string) {
		id := relationshipID("uses", src, tgt)
		s.refs[id] = true
		s.b.add(&stix.Relationship{Common: stix.Common{Type: "relationship", SpecVersion: stix.SpecVersion, ID: id,
			CreatedByRef: s.c.Identity, Created: ptr(s.created), Modified: ptr(s.created), ObjectMarkingRefs: s.markings},
			RelationshipType: "uses", SourceRef: src, TargetRef: tgt})
	}
	for _, a := range actors {
		for _, m := range software {
			rel(a.id, m.id)
		}
		for _, t := range techniques {
			rel(a.id, t.id)
		}
	}
	for _, m := range software {
		for _, t := range techniques {
			rel(m.id, t.id)
		}
	}
}

func ptr(t stix.Timestamp) *stix.Timestamp { return &t }

// parseSeen reads first_seen/last_seen (ISO 8601 with microseconds and offset).
func parseSeen(p *string) (time.Time, bool) {
	if p == nil || strings.TrimSpace(*p) == "" {
		return time.Time{}, false
	}
	v := strings.TrimSpace(*p)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-0700", "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// attribute converts one attribute (of the event, or of the MISP object o).
func (s *eventState) attribute(a *Attribute, o *Object) {
	c, b := s.c, s.b
	rec := s.rec + " attribute " + a.UUID
	if a.UUID == "" {
		rec = s.rec + " attribute (no uuid) " + strconv.Quote(a.Type+" "+a.Value)
	}
	if s.ext != nil {
		s.ext.Attributes++
	}
	typ := strings.TrimSpace(a.Type)
	defToIDs, known := defaultToIDs[typ]
	if !known {
		if lt := strings.ToLower(typ); lt != typ {
			defToIDs, known = defaultToIDs[lt]
			if known {
				typ = lt
			}
		}
	}
	if !known {
		b.warn(rec, "type", "unknown MISP attribute type %q; skipped", a.Type)
		return
	}
	toIDs := defToIDs
	if a.ToIDs != nil {
		toIDs = bool(*a.ToIDs)
	}
	deleted := bool(a.Deleted) || o != nil && bool(o.Deleted)
	if deleted && s.ext != nil {
		s.ext.Deleted++
	}
	seen, ok := parseSeen(a.LastSeen)
	if !ok {
		if seen, ok = a.Timestamp.Time(); !ok {
			if o != nil {
				seen, ok = o.Timestamp.Time()
			}
			if !ok {
				seen, _ = s.ev.Timestamp.Time()
			}
		}
	}
	dist := s.dist
	if d, ok := a.Distribution.Int(); ok && d != DistributionInherit {
		dist = int(d)
	} else if o != nil {
		if d, ok := o.Distribution.Int(); ok && d != DistributionInherit {
			dist = int(d)
		}
	}
	if dist == DistributionInherit {
		dist = DistributionAll
	}
	var atags tagInfo
	tags := s.tags
	if len(a.Tag) > 0 {
		atags = readTags(b, rec, a.Tag)
		tags = s.tags.merge(atags)
	}
	own := len(a.Tag)+len(a.Galaxy) > 0 // the attribute has context of its own
	clusters := s.evClusters
	if len(a.Galaxy)+len(atags.galaxyTags) > 0 {
		clusters = append([]*clusterRef(nil), s.evClusters...)
		for _, cl := range s.resolveClusters(rec, a.Galaxy, atags.galaxyTags) {
			clusters = append(clusters, cl)
			if cl.id != "" {
				s.refs[cl.id] = true
			}
		}
	}
	v := &Verdict{Event: s.ev.UUID, Attribute: a.UUID, Type: typ, Category: a.Category, Value: a.Value, ToIDs: toIDs,
		Deleted: deleted, Comment: a.Comment, ThreatLevel: s.threat, ConfidenceTag: tags.confTag, Confidence: tags.confidence,
		SourceReliability: tags.reliability, InformationCredibility: tags.credibility, Distribution: dist,
		Share: ShareOf(dist, c.Share)}
	if a.FirstSeen != nil {
		v.FirstSeen = *a.FirstSeen
	}
	if a.LastSeen != nil {
		v.LastSeen = *a.LastSeen
	}
	if s.ev.Orgc != nil {
		v.Orgc = s.ev.Orgc.Name
	}
	if o != nil {
		v.Object, v.ObjectName = o.UUID, o.Name
	}
	if a.ObjectRelation != nil {
		v.ObjectRelation = *a.ObjectRelation
	}
	if len(a.Sighting) > 0 {
		v.Sightings = s.sightings(a.Sighting)
		if v.Sightings.Expired {
			deleted = true // an expiration sighting that has passed withdraws the value
		}
	}
	anchorKey := a.UUID
	var anchors []string
	var ctx *ingest.Context
	if !own {
		ctx = s.baseCtx // shared by the attributes without context of their own
	}
	context := func() ingest.Context {
		if ctx != nil {
			return *ctx
		}
		cx := ingest.Context{Labels: tags.labels}
		if tags.tlp != stix.TLPNone {
			cx.TLP = strings.ToLower(strings.TrimPrefix(tags.tlp.String(), "TLP:"))
		}
		if s.reportID != "" {
			cx.ReportRefs = []string{s.reportID}
		}
		for _, cl := range clusters {
			switch {
			case cl.attackID != "":
				cx.AttackIDs = appendUnique(cx.AttackIDs, cl.attackID)
			case cl.kind == "malware":
				cx.Malware = appendUnique(cx.Malware, cl.name)
			case cl.kind == "intrusion-set":
				cx.Actors = appendUnique(cx.Actors, cl.name)
			case cl.kind == "sector":
				cx.Sectors = appendUnique(cx.Sectors, cl.name)
			}
		}
		ctx = &cx
		if !own {
			s.baseCtx = ctx
		}
		return cx
	}
	observe := func(normType, value string) {
		val, err := ingest.Normalize(normType, value)
		if err != nil {
			b.warn(rec, "value", "%v", err)
			return
		}
		verdict, _ := json.Marshal(v)
		b.Observations = append(b.Observations, ingest.Observation{Type: val.Kind(), Value: val.Value, Verdict: verdict,
			Detect: toIDs && !deleted, Revoked: deleted, Seen: seen, Context: context()})
		if deleted {
			return
		}
		id := ingest.ObservableID(val)
		s.refs[id] = true
		if toIDs {
			id = ingest.IndicatorID(val)
			s.refs[id] = true
		}
		anchors = append(anchors, id)
	}

	switch {
	case typ == "vulnerability":
		s.vulnerability(rec, a, deleted)
		return
	case typ == "campaign-name":
		s.campaign(rec, a, deleted)
		return
	case typ == "link":
		if s.ext != nil {
			s.ext.Links = append(s.ext.Links, a.Value)
		}
		if toIDs {
			observe("url", a.Value)
		}
	case poolTypes[typ] != "":
		observe(poolTypes[typ], a.Value)
	case compositeTypes[typ] != [2]string{}:
		parts := compositeTypes[typ]
		left, right, ok := strings.Cut(a.Value, "|")
		if !ok {
			b.warn(rec, "value", "composite type %s wants two values joined by |, got %q; skipped", typ, a.Value)
			return
		}
		for i, p := range []string{left, right} {
			switch parts[i] {
			case "port":
				n, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil || n < 0 || n > 65535 {
					b.warn(rec, "value", "port %q is not 0–65535; ignored", p)
					continue
				}
				v.Port = n
			case "filename":
				v.Filename = p
			}
		}
		for i, p := range []string{left, right} {
			if parts[i] != "port" && parts[i] != "filename" {
				observe(parts[i], p)
			}
		}
	default:
		m, ok := nonPoolMapping(typ, a.Value)
		if !ok {
			if s.ext != nil {
				if s.ext.Unmapped == nil {
					s.ext.Unmapped = map[string]int{}
				}
				s.ext.Unmapped[typ]++
			}
			return
		}
		if m.pattern == "" {
			b.warn(rec, "value", "%s value %q cannot be written as a STIX pattern; skipped", typ, a.Value)
			return
		}
		s.nonPool(rec, a, o, m, toIDs, deleted, seen, tags, &anchors)
	}
	if len(anchors) > 0 && anchorKey != "" {
		s.anchors[anchorKey] = anchors
		if o != nil && len(s.anchors[o.UUID]) == 0 {
			s.anchors[o.UUID] = anchors
		}
	}
}

// nonPool adds the indicator (detection-worthy) or SCO of a value outside the
// pool.
func (s *eventState) nonPool(rec string, a *Attribute, o *Object, m nonPool, toIDs, deleted bool, seen time.Time, tags tagInfo, anchors *[]string) {
	if !toIDs {
		if m.sco == nil || deleted {
			return
		}
		obj, ok := m.sco()
		if !ok {
			s.b.warn(rec, "value", "no observable for %s %q", a.Type, a.Value)
			return
		}
		s.b.add(obj)
		s.refs[obj.Base().ID] = true
		*anchors = append(*anchors, obj.Base().ID)
		return
	}
	pt := m.patternType
	if pt == "" {
		pt = "stix"
	}
	id := indicatorID(pt, m.pattern)
	ts := stix.NewTimestamp(seen)
	validFrom := ts
	if t, ok := parseSeen(a.FirstSeen); ok && !t.After(seen) {
		validFrom = stix.NewTimestamp(t)
	}
	name := a.Value
	if len(name) > 200 {
		name = a.Type + " " + a.UUID
	}
	var markings []string
	if tags.tlp != stix.TLPNone {
		s.b.add(tags.tlp.MarkingDefinition())
		markings = []string{tags.tlp.MarkingRef()}
	}
	ind := &stix.Indicator{Common: stix.Common{Type: "indicator", SpecVersion: stix.SpecVersion, ID: id,
		CreatedByRef: s.c.Identity, Created: ptr(validFrom), Modified: ptr(ts), Revoked: deleted,
		Labels: []string{`misp:type="` + a.Type + `"`, `misp:category="` + a.Category + `"`}, ObjectMarkingRefs: markings},
		Name: name, Description: a.Comment, Pattern: m.pattern, PatternType: pt, ValidFrom: validFrom}
	if pt == "stix" {
		ind.PatternVersion = "2.1"
	}
	if a.Category != "" {
		ind.KillChainPhases = []stix.KillChainPhase{{KillChainName: "misp-category", PhaseName: phaseName(a.Category)}}
	}
	s.b.add(ind)
	if !deleted {
		s.refs[id] = true
		*anchors = append(*anchors, id)
	}
}

// phaseName turns a MISP category into a kill-chain phase name (lower case,
// hyphens).
func phaseName(cat string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(cat) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
		} else {
			dash = true
		}
	}
	return sb.String()
}

// relType turns a MISP relationship_type into a STIX one ([a-z0-9-]).
func relType(t string) string {
	if p := phaseName(t); p != "" {
		return p
	}
	return "related-to"
}

func (s *eventState) vulnerability(rec string, a *Attribute, deleted bool) {
	cve, err := ingest.NormalizeCVE(a.Value)
	if err != nil {
		s.b.warn(rec, "value", "%v; skipped", err)
		return
	}
	if deleted {
		return
	}
	id := ingest.ContextID("vulnerability", cve)
	s.b.add(&stix.Vulnerability{Common: stix.Common{Type: "vulnerability", SpecVersion: stix.SpecVersion, ID: id,
		CreatedByRef: s.c.Identity, Created: ptr(s.created), Modified: ptr(s.created),
		ExternalReferences: []stix.ExternalReference{{SourceName: "cve", ExternalID: cve}}}, Name: cve})
	s.refs[id] = true
	s.anchors[a.UUID] = []string{id}
}

func (s *eventState) campaign(rec string, a *Attribute, deleted bool) {
	name := strings.TrimSpace(a.Value)
	if name == "" {
		s.b.warn(rec, "value", "empty campaign name; skipped")
		return
	}
	if deleted {
		return
	}
	id := ingest.ContextID("campaign", name)
	s.b.add(&stix.Campaign{Common: stix.Common{Type: "campaign", SpecVersion: stix.SpecVersion, ID: id,
		CreatedByRef: s.c.Identity, Created: ptr(s.created), Modified: ptr(s.created)}, Name: name})
	s.refs[id] = true
	s.anchors[a.UUID] = []string{id}
}

// sightings summarises an attribute's sightings (the decision: counts and times
// in the native verdict, no STIX sighting objects; see the package doc).
func (s *eventState) sightings(list []Sighting) *SightingSummary {
	sum := &SightingSummary{}
	var first, last time.Time
	for _, x := range list {
		t, _ := x.DateSighting.Time()
		switch string(x.Type) {
		case SightingFalsePositive:
			sum.FalsePositives++
		case SightingExpiration:
			sum.Expirations++
			if !t.IsZero() && !s.c.Now.IsZero() && !t.After(s.c.Now) {
				sum.Expired = true
			}
		default:
			sum.Seen++
			if !t.IsZero() {
				if first.IsZero() || t.Before(first) {
					first = t
				}
				if t.After(last) {
					last = t
				}
			}
		}
	}
	if !first.IsZero() {
		sum.First, sum.Last = stix.NewTimestamp(first).String(), stix.NewTimestamp(last).String()
	}
	if s.ext != nil {
		s.ext.Sightings += len(list)
	}
	return sum
}

// references converts a MISP object's references into relationships between
// the first STIX object made from each end.
func (s *eventState) references(o *Object) {
	for i := range o.ObjectReference {
		r := &o.ObjectReference[i]
		if r.Deleted || o.Deleted {
			continue
		}
		src := r.Source()
		if src == "" {
			src = o.UUID
		}
		from, to := s.anchors[src], s.anchors[r.ReferencedUUID]
		if len(from) == 0 || len(to) == 0 {
			if !s.knows(r.ReferencedUUID) {
				s.b.warn(s.rec+" object "+o.UUID, fmt.Sprintf("ObjectReference[%d].referenced_uuid", i),
					"%s is not an attribute or object of the event; reference skipped", r.ReferencedUUID)
			}
			continue // an end yields no STIX object (unmapped types)
		}
		typ := relType(r.RelationshipType)
		id := relationshipID(typ, from[0], to[0])
		s.refs[id] = true
		s.b.add(&stix.Relationship{Common: stix.Common{Type: "relationship", SpecVersion: stix.SpecVersion, ID: id,
			CreatedByRef: s.c.Identity, Created: ptr(s.created), Modified: ptr(s.created), ObjectMarkingRefs: s.markings},
			RelationshipType: typ, Description: r.Comment, SourceRef: from[0], TargetRef: to[0]})
	}
}

// knows reports whether u is the uuid of an attribute or object of the event.
func (s *eventState) knows(u string) bool {
	if s.uuids == nil {
		s.uuids = map[string]bool{}
		for i := range s.ev.Attribute {
			s.uuids[s.ev.Attribute[i].UUID] = true
		}
		for i := range s.ev.Object {
			s.uuids[s.ev.Object[i].UUID] = true
			for j := range s.ev.Object[i].Attribute {
				s.uuids[s.ev.Object[i].Attribute[j].UUID] = true
			}
		}
	}
	return s.uuids[u]
}

// eventReport adds an event report as a note about the event's report,
// authored by the event's creator org (it is the org's own text, like the
// report), with misp-stix's data-layer label. The note id is
// UUIDv5(ingest.Namespace, "misp-event-report|" + uuid).
func (s *eventState) eventReport(r *EventReport) {
	if r.Deleted || s.reportID == "" {
		return
	}
	if strings.TrimSpace(r.Content) == "" {
		s.b.warn(s.rec+" event report "+r.UUID, "content", "empty; skipped")
		return
	}
	ts := s.created
	if t, ok := r.Timestamp.Time(); ok {
		ts = stix.NewTimestamp(t)
	}
	id := stix.DeterministicID("note", namespace, "misp-event-report|"+strings.ToLower(r.UUID))
	s.b.add(&stix.Note{Common: stix.Common{Type: "note", SpecVersion: stix.SpecVersion, ID: id, CreatedByRef: s.orgID,
		Created: ptr(ts), Modified: ptr(ts), ObjectMarkingRefs: s.markings, Labels: []string{`misp:data-layer="Event Report"`},
		ExternalReferences: []stix.ExternalReference{{SourceName: "misp", ExternalID: r.UUID}}},
		Abstract: r.Name, Content: r.Content, ObjectRefs: []string{s.reportID}})
}

// report adds the event's report, authored by its creator org.
func (s *eventState) report() {
	ev := s.ev
	modified, ok := ev.Timestamp.Time()
	if !ok {
		modified = s.created.Time
	}
	published := modified
	if t, ok := ev.PublishTimestamp.Time(); ok {
		published = t
	}
	if len(s.refs) == 0 {
		if s.orgID != "" {
			s.refs[s.orgID] = true
		} else {
			s.refs[ExtensionID] = true
		}
	}
	refs := make([]string, 0, len(s.refs))
	for id := range s.refs {
		refs = append(refs, id)
	}
	sort.Strings(refs)
	if s.ext.Unmapped != nil && len(s.ext.Unmapped) == 0 {
		s.ext.Unmapped = nil
	}
	extJSON, _ := json.Marshal(s.ext)
	name := strings.TrimSpace(ev.Info)
	if name == "" {
		name = "MISP event " + ev.UUID
		s.b.warn(s.rec, "info", "empty; the report is named %q", name)
	}
	extRefs := []stix.ExternalReference{{SourceName: "misp", ExternalID: ev.UUID}}
	for _, l := range s.ext.Links {
		if strings.Contains(l, "://") && !strings.ContainsAny(l, " \t\n") {
			extRefs = append(extRefs, stix.ExternalReference{SourceName: "misp-link", URL: l})
		}
	}
	labels := s.tags.labels
	r := &stix.Report{Common: stix.Common{Type: "report", SpecVersion: stix.SpecVersion, ID: s.reportID, CreatedByRef: s.orgID,
		Created: ptr(s.created), Modified: ptr(stix.NewTimestamp(modified)), Labels: labels, Confidence: s.tags.confidence,
		ExternalReferences: extRefs, ObjectMarkingRefs: s.markings, Extensions: map[string]json.RawMessage{ExtensionID: extJSON}},
		Name: name, ReportTypes: []string{"threat-report"}, Published: stix.NewTimestamp(published), ObjectRefs: refs}
	s.b.add(r)
}

// Convert reads MISP JSON from r (see DecodeEvents: one event, a list, a
// restSearch response) and adds every event to out. It returns the number of
// events read.
func (c *Converter) Convert(r io.Reader, out *ingest.Batch) (int, error) {
	return DecodeEvents(r, func(ev *Event) error {
		c.AddEvent(out, ev)
		return nil
	})
}

// ConvertFile is Convert as a function: the pure entry point for `ctibroker
// convert --provider misp` on one file or stream.
func ConvertFile(r io.Reader, c *Converter, out *ingest.Batch) (int, error) { return c.Convert(r, out) }
