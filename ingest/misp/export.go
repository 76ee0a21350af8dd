package misp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
)

// DefaultMaxAttributes is the default size cap of an exported event
// (ExportOptions.MaxAttributes).
const DefaultMaxAttributes = 5000

// Grouping rules for indicators and observables that no report or grouping
// references (ExportOptions.Grouping).
const (
	// GroupCollection puts them into one event per collection, UTC day (of
	// their date_added, see ExportOptions.Added) and TLP level: the default.
	GroupCollection = "collection"
	// GroupSingle puts them into one event per collection and TLP level (split
	// at MaxAttributes like any event), for small, slowly changing collections.
	GroupSingle = "single"
)

// ExportOptions configure Export.
type ExportOptions struct {
	// Org is the Orgc of every event: the instance identity (its name, and the
	// UUID of its identity id).
	Org Org
	// MaxAttributes caps the attributes of one event (default
	// DefaultMaxAttributes): a larger event is split into parts with stable
	// uuids.
	MaxAttributes int
	// Now is the clock for valid_until (an expired indicator becomes a deleted
	// attribute); zero: time.Now.
	Now time.Time
	// Native, when set, returns the MISP attribute type and category a MISP feed
	// reported for a value (from its provenance, see NativeOf), so that an
	// ip-src stays an ip-src in a round trip. kind is ingest.Value.Kind
	// (ipv4-addr, domain-name, file:sha-256, ...). An answer whose type cannot
	// hold a value of that kind (a composite type, say) is ignored. nil: the
	// defaults of the pattern.
	Native func(kind, value string) (attrType, category string, ok bool)
	// Grouping is the rule for indicators and observables outside any report or
	// grouping: GroupCollection ("" too) or GroupSingle.
	Grouping string
	// Collection is the id of the collection exported: the uuids of the events
	// of grouped indicators derive from it.
	Collection string
	// Added, when set, returns the date_added of an object in the collection;
	// it dates SCOs, which have no timestamps of their own (grouping day,
	// attribute timestamp). Objects with a created are grouped by it instead:
	// created stays the same in every version while date_added moves with
	// each, which would carry a changed value (a withdrawal) into another
	// event and leave MISP's copy live. nil or false: an SCO gets the latest
	// modified of the whole export.
	Added func(id string) (time.Time, bool)
	// TLP, when set, returns the TLP level of a value from its reports (the
	// most restrictive, see ProvenanceTLP), for SCOs, which carry no marking of
	// their own: a value reported under tlp:red must not come out under its
	// event's amber. kind is as for Native. nil: an SCO without markings has
	// no level of its own and takes its event's (and grouped SCOs go into the
	// events without TLP).
	TLP func(kind, value string) (stix.TLP, bool)
	// Lookup, when set, returns an object that objs reference but do not hold
	// (MITRE's ATT&CK objects kept in another collection, say), so that
	// relationships to it still give galaxy clusters.
	Lookup func(id string) (stix.RawObject, bool)
}

// exportNS is the namespace of the uuids Export derives (events, parts,
// attributes): UUIDv5(ingest.Namespace, "misp export").
var exportNS = uuid.NewSHA1(namespace, []byte("misp export"))

func exportUUID(parts ...string) string {
	return uuid.NewSHA1(exportNS, []byte(strings.Join(parts, "\x1f"))).String()
}

// xobj is the part of a STIX object Export reads: the common properties
// (already parsed in a stix.RawObject) and the few others of its type.
type xobj struct {
	stix.Common
	xfields
	raw []byte
}

// xfields are the type-specific properties Export reads.
type xfields struct {
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	Pattern          string          `json:"pattern"`
	PatternType      string          `json:"pattern_type"`
	ValidUntil       *stix.Timestamp `json:"valid_until"`
	Published        *stix.Timestamp `json:"published"`
	ObjectRefs       []string        `json:"object_refs"`
	RelationshipType string          `json:"relationship_type"`
	SourceRef        string          `json:"source_ref"`
	TargetRef        string          `json:"target_ref"`
	Value            json.RawMessage `json:"value"`
	Number           *int64          `json:"number"`
	Hashes           map[string]string
	Key              string   `json:"key"`
	Aliases          []string `json:"aliases"`
	Abstract         string   `json:"abstract"`
	Content          string   `json:"content"`
}

// skipTypes are the object types Export never reads beyond their common
// properties.
var skipTypes = map[string]bool{"identity": true, "marking-definition": true, "extension-definition": true,
	"language-content": true, "opinion": true, "sighting": true, "location": true, "course-of-action": true}

// parseObject reads r: its Common as parsed when r carries a parsed one
// (created or modified set, as stix.ParseRaw leaves it), else from the bytes,
// and the fields of its type.
func parseObject(r *stix.RawObject) (*xobj, error) {
	o := &xobj{raw: r.JSON}
	if r.ID != "" && r.Type != "" && (r.Created != nil || r.Modified != nil) {
		o.Common = r.Common // parsed (stix.ParseRaw)
		if skipTypes[o.Type] {
			return o, nil
		}
		return o, json.Unmarshal(r.JSON, &o.xfields)
	}
	// A RawObject with only its type and id, or an SCO: its bytes are the
	// truth, read in one pass.
	both := struct {
		*stix.Common
		*xfields
	}{&o.Common, &o.xfields}
	return o, json.Unmarshal(r.JSON, &both)
}

// scoreExt is the part of the risk-score extension Export reads.
type scoreExt struct {
	Score      int    `json:"score"`
	Band       string `json:"band"`
	Confidence *int   `json:"confidence"`
}

func (o *xobj) str() string {
	var s string
	if len(o.Value) > 0 && o.Value[0] == '"' {
		json.Unmarshal(o.Value, &s)
	}
	return s
}

func (o *xobj) score() *scoreExt {
	raw, ok := o.Extensions[scoring.ExtensionID]
	if !ok {
		return nil
	}
	var s scoreExt
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

func (o *xobj) created() int64 {
	if o.Created != nil {
		return o.Created.Unix()
	}
	return 0
}

func (o *xobj) modified() int64 {
	switch {
	case o.Modified != nil:
		return o.Modified.Unix()
	case o.Created != nil:
		return o.Created.Unix()
	}
	return 0
}

// cluster is one galaxy cluster (an ATT&CK object, a malware family, an actor).
type cluster struct {
	galaxy string // the galaxy type: mitre-attack-pattern, mitre-malware, threat-actor, ...
	value  string // "Name - T1134" for ATT&CK objects
	uuid   string
	desc   string
	extID  string
	url    string
	syn    []string
	ts     int64
}

func (c *cluster) tag() string { return "misp-galaxy:" + c.galaxy + `="` + c.value + `"` }

// galaxies are the MISP galaxies Export writes clusters of (uuid, name,
// namespace as misp-galaxy ships them).
var galaxies = map[string][3]string{
	"mitre-attack-pattern": {"c4e851fa-775f-11e7-8163-b774922098cd", "Attack Pattern", "mitre-attack"},
	"mitre-intrusion-set":  {"1023f364-7831-11e7-8318-43b5531983ab", "Intrusion Set", "mitre-attack"},
	"mitre-malware":        {"d752161c-78f6-11e7-a0ea-bfa79b407ce4", "Malware", "mitre-attack"},
	"mitre-tool":           {"d5cbd1a2-78f6-11e7-a833-7b9bccca9649", "Tool", "mitre-attack"},
	"threat-actor":         {"698774c7-8022-42c4-917f-8d6e4f06ada3", "Threat Actor", "misp"},
	"malpedia":             {"1d1c9af9-37fa-4deb-a928-f9b0abc7354a", "Malpedia", "misp"},
	"tool":                 {"9b8037f7-bc8f-4de1-a797-37266619bc0b", "Tool", "misp"},
	// galaxies a MISP event's labels may name for a cluster (see relabel)
	"exploit-kit":              {"6ab240ec-bd79-11e6-a4a6-cec0c932ce01", "Exploit-Kit", "misp"},
	"ransomware":               {"3f44af2e-1480-4b6b-9aa8-f9bb21341078", "Ransomware", "misp"},
	"rat":                      {"06825db6-4797-11e7-ac4d-af25fdcdd299", "RAT", "misp"},
	"banker":                   {"59f20cce-5420-4084-afd5-0884c0a83832", "Banker", "misp"},
	"botnet":                   {"90ccdf38-1649-11e8-b8bf-e7326d553087", "Botnet", "misp"},
	"backdoor":                 {"75436e27-cb57-4f32-bf1d-9636dd78a2bf", "Backdoor", "misp"},
	"stealer":                  {"f2ef4033-9001-4427-a418-df8c48e6d054", "Stealer", "misp"},
	"android":                  {"84310ba3-fa6a-44aa-b378-b9e3271c58fa", "Android", "misp"},
	"microsoft-activity-group": {"74c869e8-0b8e-4e5f-96e6-cd992e07a505", "Microsoft Activity Group actor", "misp"},
}

// attr is an attribute being built.
type attr struct {
	key      string // kind|value: one attribute per value and event
	kind     string // the pool kind (ingest.Value.Kind) of a pool value; "" for other types
	typ, cat string
	value    string
	toIDs    bool
	indic    bool // made from an indicator (wins over an SCO of the same value)
	deleted  bool
	ts       int64 // the attribute's timestamp: its object's modified
	ord      int64 // when the value entered: its object's created; orders the parts
	tlp      stix.TLP
	comment  string
	conf     *int
	band     string
	labels   []string
	clusters []*cluster
	src      string // the STIX id it was made from
}

// evb is an event being built.
type evb struct {
	uuid, info, date string
	ts, publishTS    int64
	threat           int    // 0: from the attributes' bands
	analysis         string // "" is "2"
	tlp              stix.TLP
	conf             *int
	labels           []string
	clusters         []*cluster
	clusterSet       map[string]bool
	reports          []EventReport
	attrs            map[string]*attr
	order            []string
	grouped          bool
	revoked          bool // the report or grouping is revoked: every attribute is deleted
}

type exporter struct {
	opt      ExportOptions
	now      time.Time
	objs     map[string]*xobj
	ids      []string            // sorted
	rels     map[string][]*xobj  // by source_ref
	relsIn   map[string][]*xobj  // based-on relationships by target_ref
	covered  map[string]bool     // indicators and SCOs some report or grouping holds
	carried  map[string]bool     // SCOs and observed-data an indicator is based on: it carries their values
	notes    map[string][]*xobj  // notes by the report or grouping they are about
	clusters map[string]*cluster // by STIX id; nil entry: not a cluster
	warns    []ingest.Warning
	warned   map[string]bool
	latest   int64
}

func (x *exporter) warn(rec, field, format string, a ...any) {
	x.warns = append(x.warns, ingest.Warning{Record: rec, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// Export converts STIX objects (as stored, in any order, their references
// possibly to objects not in objs) into MISP events. It is deterministic: the
// same input gives byte-identical events, whatever the order of objs. See the
// package documentation (Export: STIX → MISP) for the rules.
//
// Objects it cannot convert (an unparsable pattern, an unsupported pattern
// language) are warnings naming the object and field; the error is for bad
// options only.
func Export(objs []stix.RawObject, opt ExportOptions) ([]Event, []ingest.Warning, error) {
	switch opt.Grouping {
	case "", GroupCollection, GroupSingle:
	default:
		return nil, nil, fmt.Errorf("misp: export: Grouping %q: want %q or %q", opt.Grouping, GroupCollection, GroupSingle)
	}
	if strings.TrimSpace(opt.Org.Name) == "" {
		return nil, nil, fmt.Errorf("misp: export: Org: the instance's name is missing (every event's Orgc)")
	}
	if u, err := uuid.Parse(opt.Org.UUID); err != nil {
		return nil, nil, fmt.Errorf("misp: export: Org: uuid %q: %v", opt.Org.UUID, err)
	} else {
		opt.Org.UUID = u.String()
	}
	if opt.MaxAttributes < 0 {
		return nil, nil, fmt.Errorf("misp: export: MaxAttributes %d is negative", opt.MaxAttributes)
	}
	if opt.MaxAttributes == 0 {
		opt.MaxAttributes = DefaultMaxAttributes
	}
	x := &exporter{opt: opt, now: opt.Now, objs: make(map[string]*xobj, len(objs)), rels: map[string][]*xobj{},
		relsIn: map[string][]*xobj{}, covered: map[string]bool{}, carried: map[string]bool{}, notes: map[string][]*xobj{}, clusters: map[string]*cluster{}, warned: map[string]bool{}}
	if x.now.IsZero() {
		x.now = time.Now()
	}
	x.load(objs)
	var out []*evb
	for _, id := range x.ids {
		o := x.objs[id]
		if o.Type == "report" || o.Type == "grouping" {
			out = append(out, x.container(o))
		}
	}
	out = append(out, x.grouped()...)
	var events []Event
	for _, e := range out {
		events = append(events, x.finish(e)...)
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Date != events[j].Date {
			return events[i].Date < events[j].Date
		}
		return events[i].UUID < events[j].UUID
	})
	return events, x.warns, nil
}

// load parses objs, keeping the latest version of each id.
func (x *exporter) load(objs []stix.RawObject) {
	for i := range objs {
		r := &objs[i]
		if old, ok := x.objs[r.ID]; ok && r.ID != "" && r.Modified != nil && old.Modified != nil && old.Modified.After(r.Modified.Time) {
			continue // an older version: no need to read it
		}
		o, err := parseObject(r)
		if err != nil {
			x.warn(r.ID, "", "not a STIX object: %v; skipped", err)
			continue
		}
		if o.ID == "" {
			x.warn(fmt.Sprintf("objs[%d]", i), "id", "missing; skipped")
			continue
		}
		if old, ok := x.objs[o.ID]; ok {
			om, nm := old.modified(), o.modified()
			if om > nm || om == nm && bytes.Compare(old.raw, o.raw) >= 0 {
				continue
			}
		}
		x.objs[o.ID] = o
	}
	x.ids = make([]string, 0, len(x.objs))
	for id, o := range x.objs {
		x.ids = append(x.ids, id)
		if m := o.modified(); m > x.latest {
			x.latest = m
		}
	}
	sort.Strings(x.ids)
	for _, id := range x.ids {
		o := x.objs[id]
		if o.Type != "relationship" || o.Revoked {
			continue
		}
		x.rels[o.SourceRef] = append(x.rels[o.SourceRef], o)
		if o.RelationshipType == "based-on" {
			x.relsIn[o.TargetRef] = append(x.relsIn[o.TargetRef], o)
		}
	}
	for _, id := range x.ids {
		if o := x.objs[id]; o.Type == "note" {
			for _, r := range o.ObjectRefs {
				x.notes[r] = append(x.notes[r], o)
			}
		}
		if !x.hasIndicator(id) {
			continue
		}
		x.carried[id] = true
		if o := x.objs[id]; o.Type == "observed-data" {
			for _, r := range o.ObjectRefs {
				x.carried[r] = true
			}
		}
	}
}

// get returns the object with id, from objs or Lookup.
func (x *exporter) get(id string) *xobj {
	if o, ok := x.objs[id]; ok {
		return o
	}
	if x.opt.Lookup == nil {
		return nil
	}
	r, ok := x.opt.Lookup(id)
	if !ok {
		return nil
	}
	o, err := parseObject(&r)
	if err != nil || o.ID != id {
		return nil
	}
	x.objs[id] = o
	return o
}

func idUUID(id string) string {
	_, u, _ := strings.Cut(id, "--")
	return u
}

func newEvb() *evb {
	return &evb{attrs: map[string]*attr{}, clusterSet: map[string]bool{}}
}

// container builds the event of a report or grouping.
func (x *exporter) container(o *xobj) *evb {
	e := newEvb()
	e.uuid = idUUID(o.ID)
	e.info = strings.TrimSpace(o.Name)
	if e.info == "" {
		e.info = o.Type + " " + o.ID
	}
	e.ts = o.modified()
	e.revoked = o.Revoked
	day := o.Created
	if o.Published != nil {
		day = o.Published
		e.publishTS = o.Published.Unix()
	}
	if day != nil {
		e.date = day.UTC().Format("2006-01-02")
	}
	e.tlp = stix.MaxTLP(o.ObjectMarkingRefs)
	e.conf = o.Confidence
	if s := o.score(); s != nil {
		e.threat = threatOfBand(s.Band)
		if s.Confidence != nil {
			e.conf = s.Confidence
		}
	}
	if raw, ok := o.Extensions[ExtensionID]; ok {
		var ext EventExtension
		if json.Unmarshal(raw, &ext) == nil {
			if u, err := uuid.Parse(ext.EventUUID); err == nil {
				e.uuid = u.String()
			}
			if ext.Analysis != nil {
				e.analysis = strconv.Itoa(*ext.Analysis)
			}
			if e.threat == 0 && ext.ThreatLevelID >= 1 && ext.ThreatLevelID <= 4 {
				e.threat = ext.ThreatLevelID
			}
			if _, err := time.Parse("2006-01-02", ext.Date); err == nil {
				e.date = ext.Date
			}
		}
	}
	for _, l := range o.Labels {
		if !skipLabel(l) {
			e.labels = append(e.labels, l)
		}
	}
	for _, n := range x.notes[o.ID] {
		x.eventReport(e, n)
	}
	// The report's sources (the MISP converter keeps link attributes as
	// misp-link references) are link attributes.
	for _, r := range o.ExternalReferences {
		if u := strings.TrimSpace(r.URL); u != "" && !strings.ContainsAny(u, " \t\n") {
			x.put(e, &attr{key: "link|" + u, typ: "link", cat: "External analysis", value: u, ts: o.modified(),
				ord: o.created(), src: o.ID})
		}
	}
	for _, ref := range o.ObjectRefs {
		c := x.get(ref)
		if c == nil {
			continue
		}
		switch c.Type {
		case "relationship":
			for _, end := range []string{c.SourceRef, c.TargetRef} {
				if cl := x.clusterOf(end); cl != nil {
					x.eventCluster(e, cl)
				}
			}
		case "observed-data":
			x.covered[c.ID] = true
			if x.carried[c.ID] {
				// misp-stix ≥ 2026.3.13 writes a to_ids attribute as an
				// indicator based on observed-data of the same values: the
				// indicator carries them.
				continue
			}
			for _, r := range c.ObjectRefs {
				if s := x.get(r); s != nil {
					x.covered[r] = true
					x.addObject(e, s, c)
				}
			}
		default:
			if cl := x.clusterOf(ref); cl != nil {
				x.eventCluster(e, cl)
				continue
			}
			if x.carried[ref] && isSCO(c.Type) {
				continue // an indicator based on it carries the value
			}
			if x.addObject(e, c, nil) {
				x.covered[ref] = true
			}
		}
	}
	return e
}

// eventReport adds a note about the report as an event report (MISP's
// markdown texts; the MISP converter makes notes of them): its uuid is the
// MISP one of its external reference when present, else the note's, name
// the abstract, content the content.
func (x *exporter) eventReport(e *evb, n *xobj) {
	if strings.TrimSpace(n.Content) == "" {
		return
	}
	u := idUUID(n.ID)
	for _, r := range n.ExternalReferences {
		if r.SourceName == "misp" && r.ExternalID != "" {
			if p, err := uuid.Parse(r.ExternalID); err == nil {
				u = p.String()
			}
		}
	}
	name := strings.TrimSpace(n.Abstract)
	if name == "" {
		name = "Note " + u
	}
	ts := n.modified()
	e.reports = append(e.reports, EventReport{UUID: u, Name: name, Content: n.Content,
		Timestamp: Num(strconv.FormatInt(ts, 10)), Deleted: Flag(n.Revoked)})
	if ts > e.ts {
		e.ts = ts
	}
}

func (x *exporter) eventCluster(e *evb, cl *cluster) {
	if e.clusterSet[cl.uuid] {
		return
	}
	e.clusterSet[cl.uuid] = true
	e.clusters = append(e.clusters, cl)
	if cl.ts > e.ts {
		e.ts = cl.ts
	}
}

// skipLabel reports labels that are conversion bookkeeping, not tags:
// misp-stix's and ctibroker's own (misp:type, misp:category, misp:to_ids,
// misp:tool, misp:name, misp:meta-category, Threat-Report).
func skipLabel(l string) bool {
	if l == "Threat-Report" || l == "threat-report" {
		return true
	}
	for _, p := range []string{`misp:type=`, `misp:category=`, `misp:to_ids=`, `misp:tool=`, `misp:name=`, `misp:meta-category=`} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func threatOfBand(band string) int {
	switch band {
	case "critical", "high":
		return 1
	case "medium":
		return 2
	case "low":
		return 3
	}
	return 0
}

// grouped builds the events of the indicators and observables no report or
// grouping holds.
func (x *exporter) grouped() []*evb {
	coll := x.opt.Collection
	if coll == "" {
		coll = "ctibroker"
	}
	buckets := map[string]*evb{}
	var keys []string
	for _, id := range x.ids {
		o := x.objs[id]
		if x.covered[id] || !(o.Type == "indicator" || isSCO(o.Type)) {
			continue
		}
		if isSCO(o.Type) && x.carried[id] {
			continue // the value comes with its indicator
		}
		day := ""
		if x.opt.Grouping != GroupSingle {
			// created, which every version keeps, before date_added, which
			// each new version moves: a changed value (a withdrawal) must stay
			// in its event for MISP to see the change.
			t, ok := time.Time{}, false
			if o.Created != nil {
				t, ok = o.Created.Time, true
			}
			if !ok && x.opt.Added != nil {
				t, ok = x.opt.Added(id)
			}
			if !ok {
				t = time.Unix(x.latest, 0)
			}
			day = t.UTC().Format("2006-01-02")
		}
		tlp := stix.MaxTLP(o.ObjectMarkingRefs)
		if tlp == stix.TLPNone && isSCO(o.Type) {
			for _, m := range x.scoAttrs(o) {
				if l := x.valueTLP(m); l > tlp {
					tlp = l
				}
			}
		}
		key := day + "|" + tlp.String()
		e := buckets[key]
		if e == nil {
			e = newEvb()
			e.grouped = true
			e.tlp = tlp
			e.date = day
			e.uuid = exportUUID("group", coll, day, tlp.String())
			name := "ctibroker " + coll
			if day != "" {
				name += " " + day
			}
			if tlp != stix.TLPNone {
				name += " " + tlp.String()
			}
			e.info = name
			buckets[key] = e
			keys = append(keys, key)
		}
		x.addObject(e, o, nil)
	}
	out := make([]*evb, 0, len(keys))
	for _, k := range keys {
		out = append(out, buckets[k])
	}
	return out
}

// valueTLP is ExportOptions.TLP for the value of a (TLPNone without it).
func (x *exporter) valueTLP(a *attr) stix.TLP {
	if x.opt.TLP == nil || a.kind == "" {
		return stix.TLPNone
	}
	if l, ok := x.opt.TLP(a.kind, a.value); ok {
		return l
	}
	return stix.TLPNone
}

// hasIndicator reports whether an indicator of objs is based on id (an SCO
// or observed-data): the values are exported with the indicator, wherever
// that goes.
func (x *exporter) hasIndicator(id string) bool {
	for _, r := range x.relsIn[id] {
		if o, ok := x.objs[r.SourceRef]; ok && o.Type == "indicator" {
			return true
		}
	}
	return false
}

// addObject adds an indicator, SCO, vulnerability or campaign to e. via is the
// observed-data an SCO came through. It reports whether the object is content
// of an event.
func (x *exporter) addObject(e *evb, o *xobj, via *xobj) bool {
	switch {
	case o.Type == "indicator":
		x.addIndicator(e, o)
		return true
	case isSCO(o.Type):
		x.addSCO(e, o, via)
		return true
	case o.Type == "vulnerability":
		name := strings.TrimSpace(o.Name)
		for _, r := range o.ExternalReferences {
			if strings.EqualFold(r.SourceName, "cve") && r.ExternalID != "" {
				name = r.ExternalID
			}
		}
		if cve, err := ingest.NormalizeCVE(name); err == nil {
			name = cve
		}
		if name == "" {
			return false
		}
		x.put(e, &attr{key: "vulnerability|" + name, typ: "vulnerability", cat: "External analysis", value: name,
			ts: o.modified(), ord: o.created(), tlp: stix.MaxTLP(o.ObjectMarkingRefs), deleted: o.Revoked, comment: o.Description, src: o.ID})
		return true
	case o.Type == "campaign":
		name := strings.TrimSpace(o.Name)
		if name == "" {
			return false
		}
		x.put(e, &attr{key: "campaign-name|" + name, typ: "campaign-name", cat: "Attribution", value: name,
			ts: o.modified(), ord: o.created(), tlp: stix.MaxTLP(o.ObjectMarkingRefs), deleted: o.Revoked, src: o.ID})
		return true
	case o.Type == "note":
		return false
	}
	switch o.Type {
	case "identity", "marking-definition", "extension-definition", "language-content", "opinion", "sighting",
		"location", "course-of-action", "report", "grouping", "relationship":
	default:
		if !x.warned[o.Type] {
			x.warned[o.Type] = true
			x.warn(o.ID, "type", "%s objects have no MISP attribute; skipped (warned once per type)", o.Type)
		}
	}
	return false
}

// put merges a into e: one attribute per key; an indicator's attribute wins
// over an observable's.
func (x *exporter) put(e *evb, a *attr) {
	old, ok := e.attrs[a.key]
	if !ok {
		e.attrs[a.key] = a
		e.order = append(e.order, a.key)
		return
	}
	// Whichever wins, the value keeps the most restrictive level of both.
	level := max(old.tlp, a.tlp)
	defer func() { e.attrs[a.key].tlp = level }()
	if a.indic && !old.indic {
		a.clusters = mergeClusters(a.clusters, old.clusters)
		if old.ts > a.ts {
			a.ts = old.ts
		}
		e.attrs[a.key] = a
		return
	}
	if !a.indic && old.indic {
		if a.ts > old.ts && !old.deleted {
			old.ts = a.ts
		}
		return
	}
	// Same kind twice (two indicators with one value, two observables): live
	// wins over deleted, to_ids over not, the later timestamp is kept.
	if old.deleted && !a.deleted || a.toIDs && !old.toIDs && a.deleted == old.deleted {
		a.clusters = mergeClusters(a.clusters, old.clusters)
		e.attrs[a.key] = a
		return
	}
	old.clusters = mergeClusters(old.clusters, a.clusters)
	if a.ts > old.ts {
		old.ts = a.ts
	}
}

func mergeClusters(a, b []*cluster) []*cluster {
	for _, c := range b {
		found := false
		for _, d := range a {
			if d.uuid == c.uuid {
				found = true
				break
			}
		}
		if !found {
			a = append(a, c)
		}
	}
	return a
}

// context returns the clusters an indicator is related to by indicates (and
// an SCO through the indicators based on it).
func (x *exporter) context(id string) []*cluster {
	var out []*cluster
	for _, r := range x.rels[id] {
		switch r.RelationshipType {
		case "indicates", "uses", "attributed-to", "related-to":
			if cl := x.clusterOf(r.TargetRef); cl != nil {
				out = mergeClusters(out, []*cluster{cl})
			}
		}
	}
	return out
}

func (x *exporter) addIndicator(e *evb, o *xobj) {
	m, ok := x.indicatorAttr(o)
	if !ok {
		return
	}
	m.indic = true
	m.ts = o.modified()
	m.ord = o.created()
	m.tlp = stix.MaxTLP(o.ObjectMarkingRefs)
	m.deleted = o.Revoked || o.ValidUntil != nil && !o.ValidUntil.After(x.now)
	m.comment = strings.TrimSpace(o.Description)
	m.conf = o.Confidence
	if s := o.score(); s != nil {
		m.band = s.Band
		if s.Confidence != nil {
			m.conf = s.Confidence
		}
		note := fmt.Sprintf("ctibroker risk score %d (%s)", s.Score, s.Band)
		if m.comment != "" {
			m.comment += " | " + note
		} else {
			m.comment = note
		}
	}
	for _, l := range o.Labels {
		if !skipLabel(l) {
			m.labels = append(m.labels, l)
		}
	}
	m.clusters = x.context(o.ID)
	m.src = o.ID
	x.put(e, m)
	// The observables this indicator is based on are the same value.
	for _, r := range x.rels[o.ID] {
		if r.RelationshipType == "based-on" {
			x.covered[r.TargetRef] = x.covered[r.TargetRef] || !e.grouped
		}
	}
}

func (x *exporter) addSCO(e *evb, o *xobj, via *xobj) {
	for _, m := range x.scoAttrs(o) {
		m.ts = o.modified()
		if via != nil && m.ts == 0 {
			m.ts = via.modified()
		}
		if x.opt.Added != nil {
			if t, ok := x.opt.Added(o.ID); ok {
				m.ord = t.Unix()
				if m.ts == 0 {
					m.ts = t.Unix()
				}
			}
		}
		if via != nil && m.ord == 0 {
			m.ord = via.created()
		}
		m.tlp = stix.MaxTLP(o.ObjectMarkingRefs)
		if via != nil && m.tlp == stix.TLPNone {
			m.tlp = stix.MaxTLP(via.ObjectMarkingRefs)
		}
		if m.tlp == stix.TLPNone {
			m.tlp = x.valueTLP(m)
		}
		m.deleted = o.Revoked
		// Context through the indicators based on this observable.
		for _, r := range x.relsIn[o.ID] {
			m.clusters = mergeClusters(m.clusters, x.context(r.SourceRef))
		}
		m.src = o.ID
		x.put(e, m)
	}
}

func isSCO(t string) bool {
	switch t {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "mutex", "windows-registry-key",
		"autonomous-system", "mac-addr", "x509-certificate":
		return true
	}
	return false
}

// clusterOf returns the galaxy cluster of the context object id (nil for
// anything else).
func (x *exporter) clusterOf(id string) *cluster {
	if c, ok := x.clusters[id]; ok {
		return c
	}
	var cl *cluster
	typ, _, _ := strings.Cut(id, "--")
	switch typ {
	case "attack-pattern", "malware", "intrusion-set", "tool", "threat-actor":
		if o := x.get(id); o != nil && !o.Revoked {
			cl = makeCluster(o)
		}
	}
	x.clusters[id] = cl
	return cl
}

func makeCluster(o *xobj) *cluster {
	name := strings.TrimSpace(o.Name)
	if name == "" {
		return nil
	}
	c := &cluster{uuid: idUUID(o.ID), desc: o.Description, ts: o.modified()}
	for _, r := range o.ExternalReferences {
		switch r.SourceName {
		case "mitre-attack", "mitre-mobile-attack", "mitre-ics-attack":
			if c.extID == "" && r.ExternalID != "" {
				c.extID, c.url = r.ExternalID, r.URL
			}
		}
	}
	for _, a := range o.Aliases {
		if a = strings.TrimSpace(a); a != "" && a != name {
			c.syn = append(c.syn, a)
		}
	}
	sort.Strings(c.syn)
	mitre := c.extID != ""
	switch o.Type {
	case "attack-pattern":
		if !mitre {
			return nil // MISP has no galaxy for other attack patterns (CAPEC)
		}
		c.galaxy = "mitre-attack-pattern"
	case "malware":
		c.galaxy = map[bool]string{true: "mitre-malware", false: "malpedia"}[mitre]
	case "tool":
		c.galaxy = map[bool]string{true: "mitre-tool", false: "tool"}[mitre]
	case "intrusion-set":
		c.galaxy = map[bool]string{true: "mitre-intrusion-set", false: "threat-actor"}[mitre]
	case "threat-actor":
		c.galaxy = "threat-actor"
	}
	c.value = name
	if mitre {
		c.value = name + " - " + c.extID
	}
	return c
}

// confidenceLevel maps STIX confidence (0–100) onto the misp:confidence-level
// taxonomy, the inverse of misp-stix's mapping (100, 75, 50, 25, 0) to the
// nearest level.
func confidenceLevel(c int) string {
	switch {
	case c >= 88:
		return "completely-confident"
	case c >= 63:
		return "usually-confident"
	case c >= 38:
		return "fairly-confident"
	case c >= 13:
		return "rarely-confident"
	}
	return "unconfident"
}

func confidenceTag(c int) string { return `misp:confidence-level="` + confidenceLevel(c) + `"` }

var tlpColour = map[stix.TLP]string{stix.TLPClear: "#ffffff", stix.TLPGreen: "#339900", stix.TLPAmber: "#ffc000",
	stix.TLPAmberStrict: "#ffc000", stix.TLPRed: "#ff2b2b"}

func tlpTag(l stix.TLP) Tag {
	return Tag{Name: strings.ToLower(l.String()), Colour: tlpColour[l]}
}

// tagSet collects tags, once each by name.
type tagSet struct {
	tags []Tag
	seen map[string]bool
}

func (s *tagSet) add(t Tag) {
	if t.Name == "" || s.seen[t.Name] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[t.Name] = true
	s.tags = append(s.tags, t)
}

// galaxyLabelCovered reports whether a misp-galaxy label names a cluster of
// the same galaxy already written (the label "misp-galaxy:mitre-malware=
// \"XTunnel\"" next to the cluster "XTunnel - S0117").
func galaxyLabelCovered(label string, cls []*cluster) bool {
	ns, pred, value := machineTag(label)
	if ns != "misp-galaxy" {
		return false
	}
	for _, c := range cls {
		if c.galaxy == pred && (strings.EqualFold(c.value, value) || strings.EqualFold(strings.TrimSuffix(c.value, " - "+c.extID), value)) {
			return true
		}
	}
	return false
}

// relabel puts a cluster that has no ATT&CK id into the galaxy a
// misp-galaxy label of the same name names (MISP's own galaxy for it:
// misp-galaxy:exploit-kit="Sednit EK" keeps exploit-kit rather than the
// default malpedia), so a MISP event's galaxies come back as they were.
func relabel(cls []*cluster, labels []string) []*cluster {
	var byName map[string]string
	for _, l := range labels {
		ns, pred, value := machineTag(l)
		if ns != "misp-galaxy" || value == "" || strings.HasPrefix(pred, "mitre-") {
			continue
		}
		if byName == nil {
			byName = map[string]string{}
		}
		if _, ok := byName[strings.ToLower(value)]; !ok {
			byName[strings.ToLower(value)] = pred
		}
	}
	if byName == nil {
		return cls
	}
	out := make([]*cluster, len(cls))
	for i, c := range cls {
		out[i] = c
		if g, ok := byName[strings.ToLower(c.value)]; ok && c.extID == "" && g != c.galaxy {
			cp := *c
			cp.galaxy = g
			out[i] = &cp
		}
	}
	return out
}

func galaxyBlocks(cls []*cluster) []Galaxy {
	byType := map[string]*Galaxy{}
	var types []string
	for _, c := range cls {
		info, known := galaxies[c.galaxy]
		if !known {
			continue // a galaxy whose uuid Export does not know: its tag says it all
		}
		g := byType[c.galaxy]
		if g == nil {
			g = &Galaxy{UUID: info[0], Name: info[1], Type: c.galaxy, Namespace: info[2]}
			byType[c.galaxy] = g
			types = append(types, c.galaxy)
		}
		meta := map[string]json.RawMessage{}
		if c.extID != "" {
			meta["external_id"], _ = json.Marshal([]string{c.extID})
		}
		if c.url != "" {
			meta["refs"], _ = json.Marshal([]string{c.url})
		}
		if len(c.syn) > 0 {
			meta["synonyms"], _ = json.Marshal(c.syn)
		}
		if len(meta) == 0 {
			meta = nil
		}
		g.GalaxyCluster = append(g.GalaxyCluster, GalaxyCluster{UUID: c.uuid, Type: c.galaxy, Value: c.value,
			TagName: c.tag(), Description: c.desc, Meta: meta})
	}
	sort.Strings(types)
	out := make([]Galaxy, 0, len(types))
	for _, t := range types {
		g := byType[t]
		sort.Slice(g.GalaxyCluster, func(i, j int) bool { return g.GalaxyCluster[i].Value < g.GalaxyCluster[j].Value })
		out = append(out, *g)
	}
	return out
}

func sortClusters(cls []*cluster) []*cluster {
	out := append([]*cluster(nil), cls...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].galaxy != out[j].galaxy {
			return out[i].galaxy < out[j].galaxy
		}
		return out[i].value < out[j].value
	})
	return out
}

// finish renders e as one or more events (parts of at most MaxAttributes).
func (x *exporter) finish(e *evb) []Event {
	attrs := make([]*attr, 0, len(e.attrs))
	for _, k := range e.order {
		attrs = append(attrs, e.attrs[k])
	}
	latest := e.ts
	for _, a := range attrs {
		if a.ts > latest {
			latest = a.ts
		}
	}
	if latest == 0 {
		latest = x.latest
	}
	for _, a := range attrs {
		if a.ts == 0 {
			a.ts = latest
		}
		if a.ord == 0 {
			a.ord = a.ts
		}
	}
	// In the order values entered (created, which new versions keep), so that
	// new values land in the last part and a value stays in its part when it
	// changes (a withdrawal must reach the MISP copy of the same event: MISP
	// edits attributes by uuid and keeps those an edit lacks).
	sort.SliceStable(attrs, func(i, j int) bool {
		a, b := attrs[i], attrs[j]
		if a.ord != b.ord {
			return a.ord < b.ord
		}
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		return a.value < b.value
	})
	n := (len(attrs) + x.opt.MaxAttributes - 1) / x.opt.MaxAttributes
	if n == 0 {
		n = 1
	}
	out := make([]Event, 0, n)
	for p := 0; p < n; p++ {
		lo, hi := p*x.opt.MaxAttributes, (p+1)*x.opt.MaxAttributes
		if hi > len(attrs) {
			hi = len(attrs)
		}
		out = append(out, x.render(e, attrs[lo:hi], p, n))
	}
	return out
}

func (x *exporter) render(e *evb, attrs []*attr, part, parts int) Event {
	ev := Event{UUID: e.uuid, Info: e.info, Date: e.date, Published: true, Analysis: Num(e.analysis)}
	if part > 0 {
		ev.UUID = exportUUID("part", e.uuid, strconv.Itoa(part+1))
	}
	if parts > 1 {
		ev.Info = fmt.Sprintf("%s (part %d of %d)", e.info, part+1, parts)
	}
	if ev.Analysis == "" {
		ev.Analysis = "2"
	}
	org := x.opt.Org
	ev.Orgc = &Org{Name: org.Name, UUID: org.UUID}
	ts := e.ts
	tlp := e.tlp
	threat := e.threat
	bandThreat := 0
	for _, a := range attrs {
		if a.ts > ts {
			ts = a.ts
		}
		if a.tlp > tlp {
			tlp = a.tlp
		}
		if t := threatOfBand(a.band); t != 0 && (bandThreat == 0 || t < bandThreat) {
			bandThreat = t
		}
	}
	if ts == 0 {
		ts = x.latest
	}
	if threat == 0 || e.grouped {
		threat = bandThreat
	}
	if threat == 0 {
		threat = 4
	}
	ev.ThreatLevelID = Num(strconv.Itoa(threat))
	ev.Timestamp = Num(strconv.FormatInt(ts, 10))
	// Every export publishes the event as it is now: published at its last
	// change, or later when the report says so.
	pub := max(e.publishTS, ts)
	ev.PublishTimestamp = Num(strconv.FormatInt(pub, 10))
	if ev.Date == "" {
		ev.Date = time.Unix(ts, 0).UTC().Format("2006-01-02")
	}
	evClusters := sortClusters(relabel(e.clusters, e.labels))
	var tags tagSet
	if tlp != stix.TLPNone {
		tags.add(tlpTag(tlp))
	}
	for _, c := range evClusters {
		tags.add(Tag{Name: c.tag(), Colour: "#0088cc", IsGalaxy: true})
	}
	if e.conf != nil {
		tags.add(Tag{Name: confidenceTag(*e.conf)})
	}
	for _, l := range e.labels {
		if _, ok := stix.TLPFromTag(l); ok || galaxyLabelCovered(l, evClusters) {
			continue
		}
		tags.add(Tag{Name: l})
	}
	ev.Tag = tags.tags
	ev.Galaxy = galaxyBlocks(evClusters)
	if part == 0 && len(e.reports) > 0 {
		ev.EventReport = append([]EventReport(nil), e.reports...)
		sort.Slice(ev.EventReport, func(i, j int) bool { return ev.EventReport[i].UUID < ev.EventReport[j].UUID })
	}
	ev.Attribute = make([]Attribute, 0, len(attrs))
	for _, a := range attrs {
		at := x.renderAttr(ev.UUID, a, e.tlp, tlp, e.clusterSet)
		if e.revoked {
			at.Deleted = true // MISP has no deleted event in a feed: its content goes
		}
		ev.Attribute = append(ev.Attribute, at)
	}
	return ev
}

// renderAttr renders a. Its TLP is its own, else the report's (base): when
// other content raised the event's level above the report's, content without
// a level of its own keeps the report's as an attribute tag.
func (x *exporter) renderAttr(eventUUID string, a *attr, base, evTLP stix.TLP, evClusters map[string]bool) Attribute {
	toIDs := Flag(a.toIDs)
	out := Attribute{UUID: exportUUID("attribute", eventUUID, a.typ, a.value), Type: a.typ, Category: a.cat,
		Value: a.value, ToIDs: &toIDs, Timestamp: Num(strconv.FormatInt(a.ts, 10)), Deleted: Flag(a.deleted),
		Comment: a.comment}
	var tags tagSet
	level := a.tlp
	if level == stix.TLPNone {
		level = base
	}
	if level != stix.TLPNone && level != evTLP {
		tags.add(tlpTag(level))
	}
	var own []*cluster
	for _, c := range a.clusters {
		if !evClusters[c.uuid] {
			own = append(own, c)
		}
	}
	own = sortClusters(own)
	for _, c := range own {
		tags.add(Tag{Name: c.tag(), Colour: "#0088cc", IsGalaxy: true})
	}
	if a.conf != nil {
		tags.add(Tag{Name: confidenceTag(*a.conf)})
	}
	for _, l := range a.labels {
		if _, ok := stix.TLPFromTag(l); ok || galaxyLabelCovered(l, own) {
			continue
		}
		tags.add(Tag{Name: l})
	}
	out.Tag = tags.tags
	if len(own) > 0 {
		out.Galaxy = galaxyBlocks(own)
	}
	return out
}

// NativeOf returns the MISP attribute type and category of the latest MISP
// verdict among verdicts recorded for a value, oldest first, as
// storage.ProvenanceStore.Provenance returns them: each is a provenance
// record's Verdict (the Runner's {"verdict": <this package's Verdict>, ...})
// or a Verdict itself. It is what ExportOptions.Native wants. Verdicts of other providers (no attribute uuid, no to_ids, or an
// unknown MISP type) are skipped; ok is false when none is MISP's.
func NativeOf(verdicts ...[]byte) (attrType, category string, ok bool) {
	for i := len(verdicts) - 1; i >= 0; i-- {
		raw := verdicts[i]
		var wrapper struct {
			Verdict json.RawMessage `json:"verdict"`
		}
		if json.Unmarshal(raw, &wrapper) == nil && len(wrapper.Verdict) > 0 && wrapper.Verdict[0] == '{' {
			raw = wrapper.Verdict // the Runner's provenance record around the converter's Verdict
		}
		var v struct {
			Attribute *string `json:"attribute"`
			Type      string  `json:"type"`
			Category  string  `json:"category"`
			ToIDs     *bool   `json:"to_ids"`
			Share     *string `json:"share"`
		}
		if json.Unmarshal(raw, &v) != nil || v.Attribute == nil || v.ToIDs == nil || v.Share == nil {
			continue
		}
		if _, known := defaultToIDs[v.Type]; !known {
			continue
		}
		return v.Type, v.Category, true
	}
	return "", "", false
}

// ProvenanceTLP returns the most restrictive TLP level among the provenance
// records of a value (each record's Verdict as storage.ProvenanceStore
// returns it: the Runner's {"tlp": "amber", ...}), what ExportOptions.TLP
// wants; ok is false when no record names a level.
func ProvenanceTLP(verdicts ...[]byte) (level stix.TLP, ok bool) {
	for _, b := range verdicts {
		var v struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(b, &v) != nil || v.TLP == "" {
			continue
		}
		if l, found := stix.TLPFromTag("tlp:" + v.TLP); found {
			ok = true
			if l > level {
				level = l
			}
		}
	}
	return level, ok
}
