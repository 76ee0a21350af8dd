package maltiverse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
)

// Document is one Maltiverse IoC document (reference/providers.md §1): the
// elements of a collection download and the answers of the lookups. Type
// discriminates: ip, hostname, url, sample or email. Fields the converter does not
// use are not decoded.
type Document struct {
	Type             string           `json:"type"`
	Classification   string           `json:"classification,omitempty"`
	Blacklist        []BlacklistEntry `json:"blacklist,omitempty"`
	Tag              []string         `json:"tag,omitempty"`
	CreationTime     string           `json:"creation_time,omitempty"`
	ModificationTime string           `json:"modification_time,omitempty"`

	// ip
	IPAddr         string `json:"ip_addr,omitempty"`
	ASName         string `json:"as_name,omitempty"`
	ASNCIDR        string `json:"asn_cidr,omitempty"`
	ASNCountryCode string `json:"asn_country_code,omitempty"`
	CountryCode    string `json:"country_code,omitempty"`
	City           string `json:"city,omitempty"`
	// Email is the address of an email document, and the abuse contacts (an
	// array) of an ip document.
	Email json.RawMessage `json:"email,omitempty"`

	// hostname and url
	Hostname    string       `json:"hostname,omitempty"`
	Domain      string       `json:"domain,omitempty"`
	URL         string       `json:"url,omitempty"`
	URLChecksum string       `json:"urlchecksum,omitempty"`
	ResolvedIP  []ResolvedIP `json:"resolved_ip,omitempty"`

	// sample
	MD5      string   `json:"md5,omitempty"`
	SHA1     string   `json:"sha1,omitempty"`
	SHA256   string   `json:"sha256,omitempty"`
	SHA512   string   `json:"sha512,omitempty"`
	Filename []string `json:"filename,omitempty"`
	Filetype string   `json:"filetype,omitempty"`
	Size     int64    `json:"size,omitempty"`
	Score    *float64 `json:"score,omitempty"`
	AVRatio  *float64 `json:"av_ratio,omitempty"`

	Flags
}

// Flags are the boolean is_* properties of ip, hostname and url documents.
type Flags struct {
	IsCNC                 bool `json:"is_cnc,omitempty"`
	IsDistributingMalware bool `json:"is_distributing_malware,omitempty"`
	IsPhishing            bool `json:"is_phishing,omitempty"`
	IsStoringPhishing     bool `json:"is_storing_phishing,omitempty"`
	IsIoTThreat           bool `json:"is_iot_threat,omitempty"`
	IsKnownAttacker       bool `json:"is_known_attacker,omitempty"`
	IsKnownScanner        bool `json:"is_known_scanner,omitempty"`
	IsTorNode             bool `json:"is_tor_node,omitempty"`
	IsVPNNode             bool `json:"is_vpn_node,omitempty"`
	IsOpenProxy           bool `json:"is_open_proxy,omitempty"`
	IsSinkhole            bool `json:"is_sinkhole,omitempty"`
	IsMiningPool          bool `json:"is_mining_pool,omitempty"`
	IsCDN                 bool `json:"is_cdn,omitempty"`
	IsHosting             bool `json:"is_hosting,omitempty"`
}

// BlacklistEntry is one source's listing of a document's value.
type BlacklistEntry struct {
	Source             string              `json:"source,omitempty"`
	Description        string              `json:"description,omitempty"`
	FirstSeen          string              `json:"first_seen,omitempty"`
	LastSeen           string              `json:"last_seen,omitempty"`
	Count              int                 `json:"count,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
}

// ExternalReference is a blacklist entry's reference, e.g. {source_name:
// "mitre-attack", external_id: "S0154"}.
type ExternalReference struct {
	SourceName  string `json:"source_name,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
	URL         string `json:"url,omitempty"`
	Description string `json:"description,omitempty"`
}

// ResolvedIP is one address a hostname document resolved to.
type ResolvedIP struct {
	IPAddr    string `json:"ip_addr"`
	Timestamp string `json:"timestamp,omitempty"`
}

// ParseDocument decodes one IoC document.
func ParseDocument(raw []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// timeLayout is how Maltiverse writes times: UTC without a zone.
const timeLayout = "2006-01-02 15:04:05"

// ParseTime reads a Maltiverse time ("2022-11-03 06:23:53", UTC), also accepting
// RFC 3339 and a bare date.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{timeLayout, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want YYYY-MM-DD hh:mm:ss", s)
}

// Provider names Maltiverse as ctibroker spells it (feed config, provenance).
const Provider = "maltiverse"

// ProviderIdentityID is the id of the identity object that stands for Maltiverse.
var ProviderIdentityID = ingest.ContextID("identity", "Maltiverse")

// ExtensionID is the id of the extension-definition of the Maltiverse property
// extension: the native fields of a document, kept for audit. Observation.Verdict
// holds exactly that extension's content, so whoever publishes the value's
// indicator can attach it under extensions[ExtensionID].
var ExtensionID = stix.DeterministicID("extension-definition", namespace, "extension|"+Provider)

var namespace = uuid.MustParse(ingest.Namespace)

// ExtensionSchemaURL is where the extension's JSON schema is published
// (schema/extension.json in this package).
const ExtensionSchemaURL = "https://raw.githubusercontent.com/ctibroker/ctibroker/main/ingest/maltiverse/schema/extension.json"

// definitionTime is the fixed created time of the identity and
// extension-definition, so they are the same bytes every time.
var definitionTime = stix.Timestamp{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// DefaultTLP is the TLP 2.0 level of Maltiverse data when the feed declares none:
// the payload carries no TLP and the licence is for internal use.
const DefaultTLP = "amber"

// Options steer the conversion.
type Options struct {
	Feed     string // the feed's name, for warnings and observations
	Identity string // the instance identity: created_by_ref of the objects ctibroker authors; empty: none
	TLP      string // TLP 2.0 level of everything converted; empty: DefaultTLP
	// Detect lists the classifications whose values are detection-worthy (get an
	// indicator); nil means malicious and suspicious. whitelist (whitelisted)
	// always withdraws the value.
	Detect []string
	// Attack resolves ATT&CK ids and software names; nil keeps ids in the
	// observations' context without relationships.
	Attack *attack.Index
	// Now stamps created/modified of the context objects; nil uses the latest
	// document time seen (so the same input converts to the same bytes).
	Now func() time.Time
}

// Converter turns documents into observations, context objects and warnings. It
// is pure: no I/O, no clock unless Options.Now is one. Not safe for concurrent use.
type Converter struct {
	opts      Options
	tlp       stix.TLP
	marking   []string
	detect    map[string]bool
	objs      map[string]stix.Object
	obs       []ingest.Observation
	warns     []ingest.Warning
	latest    time.Time
	headerOut bool
}

// NewConverter returns a converter; an unknown TLP level is an error.
func NewConverter(opts Options) (*Converter, error) {
	c := &Converter{opts: opts, objs: map[string]stix.Object{}, detect: map[string]bool{}}
	tlp := strings.ToLower(strings.TrimSpace(opts.TLP))
	if tlp == "" {
		tlp = DefaultTLP
	}
	l, ok := stix.TLPFromTag("tlp:" + tlp)
	if !ok {
		return nil, fmt.Errorf("maltiverse: TLP %q is not clear, green, amber, amber+strict or red", opts.TLP)
	}
	c.tlp, c.marking, c.opts.TLP = l, []string{l.MarkingRef()}, strings.TrimPrefix(strings.ToLower(l.String()), "tlp:")
	det := opts.Detect
	if det == nil {
		det = []string{"malicious", "suspicious"}
	}
	for _, d := range det {
		c.detect[strings.ToLower(strings.TrimSpace(d))] = true
	}
	return c, nil
}

func (c *Converter) warn(record, field, format string, a ...any) {
	c.warns = append(c.warns, ingest.Warning{Feed: c.opts.Feed, Record: record, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// AddRaw decodes and converts one document; record names it in warnings (an
// index, a line). A document that does not decode is a warning.
func (c *Converter) AddRaw(record string, raw []byte) {
	d, err := ParseDocument(raw)
	if err != nil {
		c.warn(record, "document", "not a Maltiverse document: %v", err)
		return
	}
	c.Add(record, d)
}

// normalize normalises one value (see ingest.NormalizeReported), turning
// problems into warnings on field.
func (c *Converter) normalize(record, field, typ, value string) (ingest.Value, bool) {
	v, err := ingest.NormalizeReported(typ, value)
	if err != nil {
		c.warn(record, field, "%v", err)
		return ingest.Value{}, false
	}
	return v, true
}

// values returns the document's indicator values with the field each came from.
func (c *Converter) values(record string, d *Document) []ingest.Value {
	type src struct{ field, typ, val string }
	var srcs []src
	switch strings.ToLower(strings.TrimSpace(d.Type)) {
	case "ip":
		srcs = []src{{"ip_addr", "ip", d.IPAddr}}
	case "hostname":
		srcs = []src{{"hostname", "hostname", d.Hostname}}
	case "url":
		srcs = []src{{"url", "url", d.URL}}
	case "email":
		var addr string
		var list []string
		if json.Unmarshal(d.Email, &addr) != nil && json.Unmarshal(d.Email, &list) == nil && len(list) > 0 {
			addr = list[0]
		}
		srcs = []src{{"email", "email", addr}}
	case "sample":
		for _, h := range []src{{"sha256", "sha256", d.SHA256}, {"sha1", "sha1", d.SHA1}, {"md5", "md5", d.MD5}, {"sha512", "sha512", d.SHA512}} {
			if strings.TrimSpace(h.val) != "" {
				srcs = append(srcs, h)
			}
		}
		if len(srcs) == 0 {
			c.warn(record, "sha256", "missing: a sample without md5, sha1, sha256 or sha512")
			return nil
		}
	case "":
		c.warn(record, "type", "missing")
		return nil
	default:
		c.warn(record, "type", "unknown document type %q", d.Type)
		return nil
	}
	var out []ingest.Value
	for _, s := range srcs {
		if v, ok := c.normalize(record, s.field, s.typ, s.val); ok {
			out = append(out, v)
		}
	}
	return out
}

// label names a document in warnings: its record and its value.
func label(record string, d *Document) string {
	var v string
	switch d.Type {
	case "url":
		v = d.URL
	case "hostname":
		v = d.Hostname
	case "sample":
		v = d.SHA256
		if v == "" {
			v = d.MD5 + d.SHA1
		}
	default:
		v = d.IPAddr + d.Hostname + d.URL
	}
	if v == "" {
		return record
	}
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return record + " (" + d.Type + " " + v + ")"
}

// categories are blacklist descriptions that name a kind of activity, not a
// malware family.
var categories = map[string]bool{
	"mail spammer": true, "malicious host": true, "phishing": true, "phishing other": true, "spam": true,
	"scanning ips": true, "scanner": true, "social engineering": true, "malware": true, "malicious": true,
	"suspicious": true, "botnet": true, "c&c": true, "cnc": true, "c2": true, "command and control": true,
	"tor exit node": true, "tor node": true, "proxy": true, "open proxy": true, "brute force": true,
	"bruteforce": true, "ssh bruteforce": true, "web attacker": true, "compromised": true, "generic": true,
	"malware download": true, "malware_download": true, "known attacker": true, "attacker": true, "exploit": true,
}

// familySources are blacklist sources whose descriptions are malware families.
var familySources = []string{"threatfox", "feodo"}

// family reports whether a blacklist description names a malware family: it is
// not a category, and a tag of the document repeats it, ATT&CK knows it as
// software, or the source lists families only. Free text is never mined.
func (c *Converter) family(desc, source string, tags map[string]bool) (attack.Ref, bool, bool) {
	n := attack.NormalizeName(desc)
	if n == "" || len(desc) > 64 || categories[n] || !strings.ContainsFunc(desc, unicode.IsLetter) {
		return attack.Ref{}, false, false
	}
	if c.opts.Attack != nil {
		if ref, ok := c.opts.Attack.ResolveName(desc, "malware", "tool"); ok {
			return ref, true, true
		}
	}
	if tags[n] {
		return attack.Ref{}, false, true
	}
	src := strings.ToLower(source)
	for _, s := range familySources {
		if strings.Contains(src, s) {
			return attack.Ref{}, false, true
		}
	}
	return attack.Ref{}, false, false
}

// relID is the deterministic id of a relationship, the same formula the Runner
// uses, so that one relationship reported by several feeds is one object.
func relID(rel, source, target string) string {
	return stix.DeterministicID("relationship", namespace, rel+"|"+source+"|"+target)
}

func (c *Converter) common(typ, id string) stix.Common {
	return stix.Common{Type: typ, SpecVersion: stix.SpecVersion, ID: id, CreatedByRef: c.opts.Identity,
		ObjectMarkingRefs: c.marking}
}

func (c *Converter) relate(rel, source, target string) {
	id := relID(rel, source, target)
	if _, ok := c.objs[id]; ok {
		return
	}
	c.objs[id] = &stix.Relationship{Common: c.common("relationship", id), RelationshipType: rel, SourceRef: source, TargetRef: target}
}

// relatable are the ATT&CK object types an indicator can indicate.
var relatable = map[string]bool{"attack-pattern": true, "malware": true, "tool": true, "intrusion-set": true, "campaign": true}

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

// Add converts one document: an observation per value, context objects for its
// malware families, ATT&CK references, CVE tags and resolved addresses, and
// warnings for whatever is missing or malformed.
func (c *Converter) Add(record string, d *Document) {
	rec := label(record, d)
	seen := time.Time{}
	for _, f := range []struct{ name, val string }{{"modification_time", d.ModificationTime}, {"creation_time", d.CreationTime}} {
		if f.val == "" {
			continue
		}
		t, err := ParseTime(f.val)
		if err != nil {
			c.warn(rec, f.name, "%v", err)
			continue
		}
		seen = t
		break
	}
	if seen.After(c.latest) {
		c.latest = seen
	}
	vals := c.values(rec, d)
	if len(vals) == 0 {
		return
	}
	class := strings.ToLower(strings.TrimSpace(d.Classification))
	revoked := class == "whitelist" || class == "whitelisted"
	detect := c.detect[class] && !revoked
	switch {
	case class == "":
		c.warn(rec, "classification", "missing; recorded without an indicator")
	case !revoked && class != "neutral" && class != "malicious" && class != "suspicious":
		c.warn(rec, "classification", "unknown classification %q; recorded without an indicator", d.Classification)
	}

	var ctx ingest.Context
	ctx.TLP = c.opts.TLP
	tags := map[string]bool{}
	for _, t := range d.Tag {
		t = strings.ToLower(ingest.CleanText(t))
		if t == "" {
			continue
		}
		tags[attack.NormalizeName(t)] = true
		ctx.Labels = appendUnique(ctx.Labels, t)
		if cve, ok := cveTag(t); ok {
			ctx.CVEs = appendUnique(ctx.CVEs, cve)
		}
	}
	sources := map[string]bool{}
	for i, b := range d.Blacklist {
		field := fmt.Sprintf("blacklist[%d]", i)
		src := ingest.CleanText(b.Source)
		if src == "" {
			c.warn(rec, field+".source", "missing")
		} else {
			sources[strings.ToLower(src)] = true
		}
		for _, f := range []struct{ name, val string }{{"first_seen", b.FirstSeen}, {"last_seen", b.LastSeen}} {
			if f.val != "" {
				if _, err := ParseTime(f.val); err != nil {
					c.warn(rec, field+"."+f.name, "%v", err)
				}
			}
		}
		for j, er := range b.ExternalReferences {
			if !strings.HasPrefix(strings.ToLower(er.SourceName), "mitre") {
				continue
			}
			ef := fmt.Sprintf("%s.external_references[%d].external_id", field, j)
			id := attack.Canonical(er.ExternalID)
			if id == "" {
				c.warn(rec, ef, "missing")
				continue
			}
			if c.opts.Attack == nil {
				ctx.AttackIDs = appendUnique(ctx.AttackIDs, id)
				continue
			}
			ref, ok := c.opts.Attack.Resolve(id)
			if !ok {
				c.warn(rec, ef, "unknown ATT&CK id %q", er.ExternalID)
				continue
			}
			if !relatable[ref.Type] {
				c.warn(rec, ef, "ATT&CK id %q names a %s, which an indicator cannot indicate", er.ExternalID, ref.Type)
				continue
			}
			// The id as given, and where it was revoked its replacement.
			ctx.AttackIDs = appendUnique(appendUnique(ctx.AttackIDs, id), ref.ExternalID)
		}
		desc := ingest.CleanText(b.Description)
		ref, inAttack, ok := c.family(desc, src, tags)
		if !ok {
			continue
		}
		// The Runner (and ingest.Author) turn the names into indicates
		// relationships to ATT&CK software or to malware objects of their own.
		ctx.Malware = appendUnique(ctx.Malware, desc)
		if inAttack {
			ctx.AttackIDs = appendUnique(ctx.AttackIDs, ref.ExternalID)
		}
	}
	for _, cve := range ctx.CVEs {
		id := ingest.ContextID("vulnerability", cve)
		if _, ok := c.objs[id]; !ok {
			co := c.common("vulnerability", id)
			co.ObjectMarkingRefs = nil // a CVE is public knowledge, shared by every feed naming it
			co.ExternalReferences = []stix.ExternalReference{{SourceName: "cve", ExternalID: cve}}
			c.objs[id] = &stix.Vulnerability{Common: co, Name: cve}
		}
	}
	native, err := c.native(d, len(sources))
	if err != nil {
		c.warn(rec, "document", "native fields: %v", err)
	}
	for _, v := range vals {
		c.obs = append(c.obs, ingest.Observation{Feed: c.opts.Feed, Type: v.Kind(), Value: v.Value, Verdict: native,
			Detect: detect, Revoked: revoked, Seen: seen, Context: ctx})
	}
	if d.Type == "hostname" && len(vals) == 1 {
		host := ingest.ObservableID(vals[0])
		for i, r := range d.ResolvedIP {
			v, ok := c.normalize(rec, fmt.Sprintf("resolved_ip[%d].ip_addr", i), "ip", r.IPAddr)
			if !ok {
				continue
			}
			ipID := ingest.ObservableID(v)
			if _, ok := c.objs[ipID]; !ok {
				if v.Type == ingest.TypeIPv4 {
					c.objs[ipID] = &stix.IPv4Addr{Common: stix.Common{Type: v.Type, SpecVersion: stix.SpecVersion, ID: ipID}, Value: v.Value}
				} else {
					c.objs[ipID] = &stix.IPv6Addr{Common: stix.Common{Type: v.Type, SpecVersion: stix.SpecVersion, ID: ipID}, Value: v.Value}
				}
			}
			c.relate("resolves-to", host, ipID)
		}
	}
}

// nativeDoc is the Maltiverse property extension: the document's native fields
// that matter for audit and scoring (scoring.SeverityMaltiverse takes
// classification and blacklist_sources).
type nativeDoc struct {
	ExtensionType    string           `json:"extension_type"`
	ProviderRef      string           `json:"provider_ref"`
	Type             string           `json:"type"`
	Classification   string           `json:"classification,omitempty"`
	BlacklistSources int              `json:"blacklist_sources"`
	Blacklist        []BlacklistEntry `json:"blacklist,omitempty"`
	Tag              []string         `json:"tag,omitempty"`
	Flags            []string         `json:"flags,omitempty"`
	CreationTime     string           `json:"creation_time,omitempty"`
	ModificationTime string           `json:"modification_time,omitempty"`
	ASName           string           `json:"as_name,omitempty"`
	ASNCIDR          string           `json:"asn_cidr,omitempty"`
	CountryCode      string           `json:"country_code,omitempty"`
	Hostname         string           `json:"hostname,omitempty"`
	URLChecksum      string           `json:"urlchecksum,omitempty"`
	Filename         []string         `json:"filename,omitempty"`
	Filetype         string           `json:"filetype,omitempty"`
	Size             int64            `json:"size,omitempty"`
	Score            *float64         `json:"score,omitempty"`
	AVRatio          *float64         `json:"av_ratio,omitempty"`
}

func (c *Converter) native(d *Document, sources int) (json.RawMessage, error) {
	n := nativeDoc{ExtensionType: "property-extension", ProviderRef: ProviderIdentityID, Type: d.Type,
		Classification: d.Classification, BlacklistSources: sources, Blacklist: d.Blacklist, Tag: d.Tag,
		CreationTime: d.CreationTime, ModificationTime: d.ModificationTime, ASName: d.ASName, ASNCIDR: d.ASNCIDR,
		CountryCode: d.CountryCode, URLChecksum: d.URLChecksum, Filename: d.Filename, Filetype: d.Filetype,
		Size: d.Size, Score: d.Score, AVRatio: d.AVRatio}
	if d.Type == "url" {
		n.Hostname = d.Hostname
	}
	f := d.Flags
	for _, fl := range []struct {
		name string
		on   bool
	}{{"is_cnc", f.IsCNC}, {"is_distributing_malware", f.IsDistributingMalware}, {"is_phishing", f.IsPhishing},
		{"is_storing_phishing", f.IsStoringPhishing}, {"is_iot_threat", f.IsIoTThreat}, {"is_known_attacker", f.IsKnownAttacker},
		{"is_known_scanner", f.IsKnownScanner}, {"is_tor_node", f.IsTorNode}, {"is_vpn_node", f.IsVPNNode},
		{"is_open_proxy", f.IsOpenProxy}, {"is_sinkhole", f.IsSinkhole}, {"is_mining_pool", f.IsMiningPool},
		{"is_cdn", f.IsCDN}, {"is_hosting", f.IsHosting}} {
		if fl.on {
			n.Flags = append(n.Flags, fl.name)
		}
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
	Name:                 "Maltiverse",
	Description:          "Maltiverse threat intelligence (api.maltiverse.com).",
	ExtensionID:          ExtensionID,
	ExtensionName:        "ctibroker Maltiverse native fields",
	ExtensionDescription: "The native fields of a Maltiverse IoC document (classification, blacklist, tags, flags), kept for audit. provider_ref is the Maltiverse identity.",
	ExtensionSchema:      ExtensionSchemaURL,
	Created:              definitionTime,
}

// Flush returns what was converted since the last Flush and resets: the context
// objects sorted by id (the first Flush also carries the provider identity, the
// TLP marking and the extension-definition), the observations in document order
// and the warnings.
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

// ConvertFile converts a Maltiverse export or API answer: a JSON array of IoC
// documents (a collection download), one document (a lookup answer) or a
// sequence of documents (JSON lines). Records are named by their 0-based
// position. The error is for input that is not JSON; a document with a field of
// the wrong JSON type is a warning.
func ConvertFile(r io.Reader, opts Options) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
	c, err := NewConverter(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	br := bufio.NewReader(r)
	first := byte(0)
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("maltiverse: %w", err)
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			first = b
			_ = br.UnreadByte()
			break
		}
	}
	dec := json.NewDecoder(br)
	add := func(i int) error {
		var d Document
		err := dec.Decode(&d)
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			c.warn(strconv.Itoa(i), "document", "not a Maltiverse document: %v", err)
			return nil
		case err != nil:
			return err
		}
		c.Add(strconv.Itoa(i), &d)
		return nil
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, nil, nil, fmt.Errorf("maltiverse: %w", err)
		}
		for i := 0; dec.More(); i++ {
			if err := add(i); err != nil {
				return nil, nil, nil, fmt.Errorf("maltiverse: record %d: %w", i, err)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, nil, nil, fmt.Errorf("maltiverse: end of array: %w", err)
		}
	} else {
		for i := 0; dec.More(); i++ {
			if err := add(i); err != nil {
				return nil, nil, nil, fmt.Errorf("maltiverse: record %d: %w", i, err)
			}
		}
	}
	objs, obs, warns := c.Flush()
	return objs, obs, warns, nil
}
