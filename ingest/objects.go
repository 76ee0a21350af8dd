package ingest

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// Namespace is ctibroker's fixed UUIDv5 namespace for the objects it authors with
// deterministic ids (indicators, relationships, context SDOs). It is itself
// UUIDv5(NameSpaceURL, "https://github.com/ctibroker/ctibroker"); it never changes,
// since every stored indicator id depends on it. It is not the STIX SCO namespace
// (STIX 2.1 §2.9 forbids using that one for SDOs and SROs).
const Namespace = "904645c6-47d1-52c8-8348-4d734cccac8e"

var namespaceUUID = uuid.MustParse(Namespace)

// Pattern returns the canonical STIX pattern of v: "[ipv4-addr:value = '198.51.100.3']",
// "[file:hashes.'SHA-256' = 'e3b0…']". The value is escaped as a STIX string
// literal (\ then '), by stix/pattern's builder.
func Pattern(v Value) string {
	path := "value"
	if v.Type == TypeFile {
		path = "hashes." + v.HashAlgo
	}
	return pattern.Equals(v.Type, path, v.Value)
}

// IndicatorID returns the id of the one indicator ctibroker authors for v:
// "indicator--" + UUIDv5(Namespace, Pattern(v)).
func IndicatorID(v Value) string { return indicatorID(Pattern(v)) }

func indicatorID(pattern string) string {
	return stix.DeterministicID("indicator", namespaceUUID, pattern)
}

// ObservableID returns the deterministic id of v's SCO (STIX 2.1 §2.9): UUIDv5
// under stix.SCONamespace over the JCS (RFC 8785) form of its ID contributing
// properties, {"value": …} or {"hashes": {"SHA-256": …}}. It equals stix.SCOID
// for the same object (tested), without building a map and running a general
// JCS transform for every value on the ingest hot path.
func ObservableID(v Value) string {
	return stix.DeterministicID(v.Type, stix.SCONamespace, string(contributing(v)))
}

// contributing returns the JCS serialisation of v's ID contributing properties.
// With a single string member JCS reduces to the key and the string in ES6
// JSON.stringify form, written here directly.
func contributing(v Value) []byte {
	b := make([]byte, 0, len(v.Value)+32)
	if v.Type == TypeFile {
		b = append(b, `{"hashes":{`...)
		b = appendJCSString(b, v.HashAlgo)
		b = append(b, ':')
		b = appendJCSString(b, v.Value)
		return append(b, "}}"...)
	}
	b = append(b, `{"value":`...)
	b = appendJCSString(b, v.Value)
	return append(b, '}')
}

// appendJCSString appends s as an RFC 8785 string: only '"', '\\' and control
// characters are escaped (\b \t \n \f \r short forms, others \u00xx lower-case
// hex); everything else, non-ASCII included, is copied as UTF-8.
func appendJCSString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\f':
			b = append(b, `\f`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			if c < 0x20 {
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}

// RelationshipID returns the deterministic id of the relationship of type rel
// from source to target that ctibroker authors:
// "relationship--" + UUIDv5(Namespace, rel + "|" + source + "|" + target).
func RelationshipID(rel, source, target string) string { return relationshipID(rel, source, target) }

func relationshipID(rel, source, target string) string {
	return stix.DeterministicID("relationship", namespaceUUID, rel+"|"+source+"|"+target)
}

// indicatorDoc is the indicator ctibroker authors for a value. Until the stix
// typed structs land it is marshalled from this private struct.
type indicatorDoc struct {
	Type           string          `json:"type"`
	SpecVersion    string          `json:"spec_version"`
	ID             string          `json:"id"`
	CreatedByRef   string          `json:"created_by_ref,omitempty"`
	Created        stix.Timestamp  `json:"created"`
	Modified       stix.Timestamp  `json:"modified"`
	Name           string          `json:"name"`
	Pattern        string          `json:"pattern"`
	PatternType    string          `json:"pattern_type"`
	PatternVersion string          `json:"pattern_version"`
	ValidFrom      stix.Timestamp  `json:"valid_from"`
	ValidUntil     *stix.Timestamp `json:"valid_until,omitempty"`
	// ObjectMarkingRefs holds at most one TLP 2.0 marking (Config.Markings).
	ObjectMarkingRefs []string `json:"object_marking_refs,omitempty"`
}

// The authored objects are serialised by hand, in struct field order, with the
// JSON string escaping of appendJCSString: the bytes are deterministic (the
// unchanged check compares them with the stored ones) and cheap to produce. The
// structs' json tags describe the same shape for reading stored versions back.

func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJCSString(b, value)
}

func appendTime(b []byte, key string, t stix.Timestamp) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = t.UTC().AppendFormat(b, stix.TimestampLayout)
	return append(b, '"')
}

func (d *indicatorDoc) raw() (stix.RawObject, error) {
	b := d.appendTo(make([]byte, 0, 320+2*len(d.Name)))
	c, m := d.Created, d.Modified
	return stix.RawObject{Common: stix.Common{Type: d.Type, SpecVersion: d.SpecVersion, ID: d.ID,
		CreatedByRef: d.CreatedByRef, Created: &c, Modified: &m, ObjectMarkingRefs: d.ObjectMarkingRefs}, JSON: b}, nil
}

// appendTo appends the indicator's bytes to b.
func (d *indicatorDoc) appendTo(b []byte) []byte {
	b = append(b, `{"type":"indicator","spec_version":"2.1"`...)
	b = appendField(b, "id", d.ID)
	if d.CreatedByRef != "" {
		b = appendField(b, "created_by_ref", d.CreatedByRef)
	}
	b = appendTime(b, "created", d.Created)
	b = appendTime(b, "modified", d.Modified)
	b = appendField(b, "name", d.Name)
	b = appendField(b, "pattern", d.Pattern)
	b = appendField(b, "pattern_type", d.PatternType)
	b = appendField(b, "pattern_version", d.PatternVersion)
	b = appendTime(b, "valid_from", d.ValidFrom)
	if d.ValidUntil != nil {
		b = appendTime(b, "valid_until", *d.ValidUntil)
	}
	b = appendMarkings(b, d.ObjectMarkingRefs)
	return append(b, '}')
}

func newSCO(v Value, id string) (stix.RawObject, error) {
	b := make([]byte, 0, 96+len(v.Value))
	b = append(b, `{"type":`...)
	b = appendJCSString(b, v.Type)
	b = append(b, `,"spec_version":"2.1"`...)
	b = appendField(b, "id", id)
	if v.Type == TypeFile {
		b = append(b, `,"hashes":{`...)
		b = appendJCSString(b, v.HashAlgo)
		b = append(b, ':')
		b = appendJCSString(b, v.Value)
		b = append(b, '}')
	} else {
		b = appendField(b, "value", v.Value)
	}
	b = append(b, '}')
	return stix.RawObject{Common: stix.Common{Type: v.Type, SpecVersion: "2.1", ID: id}, JSON: b}, nil
}

// appendMarkings appends "object_marking_refs" when refs is not empty.
func appendMarkings(b []byte, refs []string) []byte {
	if len(refs) == 0 {
		return b
	}
	b = append(b, `,"object_marking_refs":[`...)
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJCSString(b, r)
	}
	return append(b, ']')
}

// markingRefs returns the object_marking_refs of a TLP level (nil for none).
func markingRefs(l stix.TLP) []string {
	if l == stix.TLPNone {
		return nil
	}
	return []string{l.MarkingRef()}
}

func newRelationship(rel, source, target, identity string, at stix.Timestamp, marking stix.TLP) (stix.RawObject, error) {
	id := relationshipID(rel, source, target)
	b := make([]byte, 0, 320)
	b = append(b, `{"type":"relationship","spec_version":"2.1"`...)
	b = appendField(b, "id", id)
	if identity != "" {
		b = appendField(b, "created_by_ref", identity)
	}
	b = appendTime(b, "created", at)
	b = appendTime(b, "modified", at)
	b = appendField(b, "relationship_type", rel)
	b = appendField(b, "source_ref", source)
	b = appendField(b, "target_ref", target)
	refs := markingRefs(marking)
	b = appendMarkings(b, refs)
	b = append(b, '}')
	c, m := at, at
	return stix.RawObject{Common: stix.Common{Type: "relationship", SpecVersion: "2.1", ID: id, CreatedByRef: identity,
		Created: &c, Modified: &m, ObjectMarkingRefs: refs}, JSON: b}, nil
}

// ContextID returns the deterministic id of a context SDO ctibroker authors
// (DESIGN.md, Authorship and identity): typ--UUIDv5(Namespace, typ + "|" + key),
// where key is attack.NormalizeName(name) (trimmed, lower case, white space, "-"
// and "_" folded), and for "vulnerability" the upper-case CVE id. "Emotet",
// "emotet " and "EMOTET" from three feeds give one malware id. Objects that
// resolve to ATT&CK keep MITRE's ids instead (attack.Index.Resolve/ResolveName).
func ContextID(typ, name string) string {
	key := attack.NormalizeName(name)
	if typ == "vulnerability" {
		key = strings.ToUpper(strings.TrimSpace(name))
	}
	return stix.DeterministicID(typ, namespaceUUID, typ+"|"+key)
}

// NormalizeCVE returns a CVE id in canonical form ("cve-2024-3400 " →
// "CVE-2024-3400"); the error wraps ErrInvalidValue for anything else.
func NormalizeCVE(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	year, num, ok := strings.Cut(strings.TrimPrefix(c, "CVE-"), "-")
	if !strings.HasPrefix(c, "CVE-") || !ok || len(year) != 4 || len(num) < 4 || !allDigits(year) || !allDigits(num) {
		return "", fmt.Errorf("CVE %q: not CVE-YYYY-NNNN: %w", s, ErrInvalidValue)
	}
	return c, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
