package stix

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Common holds the properties shared by STIX objects (§3.2). Typed objects embed
// it; RawObject carries it parsed next to the exact bytes received.
type Common struct {
	Type               string                     `json:"type"`
	SpecVersion        string                     `json:"spec_version,omitempty"`
	ID                 string                     `json:"id"`
	CreatedByRef       string                     `json:"created_by_ref,omitempty"`
	Created            *Timestamp                 `json:"created,omitempty"`
	Modified           *Timestamp                 `json:"modified,omitempty"`
	Revoked            bool                       `json:"revoked,omitempty"`
	Labels             []string                   `json:"labels,omitempty"`
	Confidence         *int                       `json:"confidence,omitempty"`
	Lang               string                     `json:"lang,omitempty"`
	ExternalReferences []ExternalReference        `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string                   `json:"object_marking_refs,omitempty"`
	GranularMarkings   []GranularMarking          `json:"granular_markings,omitempty"`
	Defanged           bool                       `json:"defanged,omitempty"`
	Extensions         map[string]json.RawMessage `json:"extensions,omitempty"`
}

// ExternalReference is a STIX external reference (§2.5).
type ExternalReference struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

// GranularMarking is a STIX granular marking (§7.2.3).
type GranularMarking struct {
	Lang       string   `json:"lang,omitempty"`
	MarkingRef string   `json:"marking_ref,omitempty"`
	Selectors  []string `json:"selectors"`
}

// Object is any STIX object: its common properties are reachable through Base.
type Object interface {
	Base() *Common
}

// Base returns the common properties; it makes every type embedding Common an Object.
func (c *Common) Base() *Common { return c }

// RawObject is an object received from outside, kept as its exact bytes next to
// its parsed common properties, so it can be republished byte-for-byte.
type RawObject struct {
	Common
	JSON json.RawMessage `json:"-"`
}

// MarshalJSON returns the stored bytes unchanged.
func (r RawObject) MarshalJSON() ([]byte, error) { return r.JSON, nil }

// NotObjectError is input whose top-level value is not a JSON object where a STIX
// object was expected.
type NotObjectError struct {
	Path string // e.g. "objects[2]"; empty for the whole input
	Got  string // the JSON kind found: "array", "string", ...
}

// Error names the path and the JSON kind found.
func (e *NotObjectError) Error() string {
	where := e.Path
	if where == "" {
		where = "input"
	}
	return fmt.Sprintf("%s: want a JSON object, got %s", where, e.Got)
}

// ParseRaw parses one STIX object under DefaultLimits. The JSON syntax is checked
// fully; the common properties are filled where they have the right JSON type
// (wrong types are left empty and reported by Validate). The returned object
// keeps b as its JSON, and its string fields share b's memory (no copies): the
// caller must not modify b afterwards.
func ParseRaw(b []byte) (*RawObject, error) {
	return ParseRawLimits(b, DefaultLimits)
}

// ParseRawLimits is ParseRaw under lim.
func ParseRawLimits(b []byte, lim Limits) (*RawObject, error) {
	mb := getMembers()
	o, members, err := parseObject(b, lim, 0, mb.ms)
	putMembers(mb, members, len(b))
	return o, err
}

// memberPool recycles member slices between parses.
var memberPool = sync.Pool{New: func() any { return &memberBuf{ms: make([]member, 0, 32)} }}

// memberBuf is a pooled member slice; ms[:dirty] may still point into the
// last input parsed with it.
type memberBuf struct {
	ms    []member
	dirty int
}

func getMembers() *memberBuf { return memberPool.Get().(*memberBuf) }

// putMembers returns a member slice to the pool. used points into the input
// just parsed (inputLen bytes): for a large input it is cleared, so that a
// pooled slice never keeps more than 64 KiB of one input alive (and only until
// it is reused or the GC empties the pool); for small ones only entries left
// from an earlier, longer object are cleared, and the rest is overwritten by
// the next parse.
func putMembers(mb *memberBuf, used []member, inputLen int) {
	if cap(used) > 1024 {
		return // do not keep what a huge object grew
	}
	stale := mb.dirty
	if cap(used) != cap(mb.ms) {
		stale = 0 // a new array: nothing beyond used
	}
	if inputLen > 64<<10 {
		clear(used[:max(stale, len(used))])
		mb.dirty = 0
	} else {
		if stale > len(used) {
			clear(used[len(used):stale])
		}
		mb.dirty = len(used)
	}
	mb.ms = used[:0]
	memberPool.Put(mb)
}

// parseObject parses the object in b, nested at baseDepth, appending its members
// to members.
func parseObject(b []byte, lim Limits, baseDepth int, members []member) (*RawObject, []member, error) {
	blk, members, err := parseObjectFill(b, lim, baseDepth, members, fillAll)
	if err != nil {
		return nil, members, err
	}
	return &blk.obj, members, nil
}

// fillMode says how much of Common parseObjectFill fills.
type fillMode uint8

const (
	fillAll fillMode = iota
	// fillDeferred leaves external_references and extensions, when each
	// appears once, to objCheck, which reads them anyway (blk.deferRefs,
	// blk.deferExt).
	fillDeferred
	// fillNone checks the syntax and collects the members only (blk is nil).
	fillNone
)

// parseObjectFill is parseObject filling Common as mode says.
func parseObjectFill(b []byte, lim Limits, baseDepth int, members []member, mode fillMode) (*rawBlock, []member, error) {
	if lim.MaxObjectSize > 0 && len(b) > lim.MaxObjectSize {
		return nil, members, &LimitError{Limit: "max object size", Max: int64(lim.MaxObjectSize), Offset: int64(lim.MaxObjectSize)}
	}
	s := scanner{data: b, maxDepth: lim.MaxDepth}
	i := s.skipSpace(0)
	if i >= len(b) {
		return nil, members, s.syntaxErr(i, "empty input")
	}
	if b[i] != '{' {
		kind, _, err := s.scanValue(i, baseDepth)
		if err != nil {
			return nil, members, err
		}
		return nil, members, &NotObjectError{Got: kind.String()}
	}
	end, members, err := s.scanMembers(i, baseDepth+1, members)
	if err != nil {
		return nil, members, err
	}
	if j := s.skipSpace(end); j != len(b) {
		return nil, members, s.syntaxErr(j, "invalid character %q after the object", b[j])
	}
	if mode == fillNone {
		return nil, members, nil
	}
	blk := &rawBlock{}
	blk.obj.JSON = b
	fillCommon(&blk.obj.Common, members, blk, mode == fillDeferred)
	return blk, members, nil
}

// rawBlock is a RawObject with room for the values its pointer fields refer
// to, so that a parsed object costs one allocation instead of four.
type rawBlock struct {
	obj      RawObject
	created  Timestamp
	modified Timestamp
	conf     int

	// tsVal: the bytes created (0) and modified (1) were parsed from, so
	// that the check need not parse them again (tsFrac: their fractional
	// digits).
	tsVal [2][]byte

	// Room for a first external reference and a few strings of labels and
	// object_marking_refs (slices into it have cap == len, so appending to
	// them copies).
	ref1 [1]ExternalReference
	strs [4]string

	// The small fields together, so that the block fits a 512-byte size class.
	tsFrac   [2]int8
	nstrs    uint8
	ref1Used bool
	// deferRefs and deferExt: external_references and extensions were left
	// to objCheck (fillDeferred).
	deferRefs, deferExt bool
}

// fillCommon sets the common properties found in members with the right JSON type.
func fillCommon(c *Common, members []member, blk *rawBlock, deferable bool) {
	nRefs, nExt := 0, 0
	for i := range members {
		m := &members[i]
		switch m.id {
		case kExternalReferences:
			nRefs++
			if deferable && nRefs == 1 {
				blk.deferRefs = true
				continue
			}
			if blk.deferRefs {
				// A second one: fill in input order after all.
				blk.deferRefs = false
				fillCommonMember(c, firstByID(members, kExternalReferences), blk)
			}
		case kExtensions:
			nExt++
			if deferable && nExt == 1 {
				blk.deferExt = true
				continue
			}
			if blk.deferExt {
				blk.deferExt = false
				fillCommonMember(c, firstByID(members, kExtensions), blk)
			}
		}
		fillCommonMember(c, m, blk)
	}
}

func firstByID(members []member, id keyID) *member {
	for i := range members {
		if members[i].id == id {
			return &members[i]
		}
	}
	return nil
}

// fillCommonMember sets the common property m if it has the right JSON type.
func fillCommonMember(c *Common, m *member, blk *rawBlock) {
	{
		switch m.id {
		case kType, kSpecVersion, kID, kCreatedByRef, kLang:
			if m.kind != jString {
				return
			}
			v := m.str()
			switch m.id {
			case kType:
				c.Type = v
			case kSpecVersion:
				c.SpecVersion = v
			case kID:
				c.ID = v
			case kCreatedByRef:
				c.CreatedByRef = v
			case kLang:
				c.Lang = v
			}
		case kCreated, kModified:
			if m.kind != jString {
				return
			}
			t, frac, err := parseTimestamp(m.str())
			if err != nil {
				return
			}
			k := 0
			if m.id == kCreated {
				blk.created = Timestamp{t}
				c.Created = &blk.created
			} else {
				k = 1
				blk.modified = Timestamp{t}
				c.Modified = &blk.modified
			}
			blk.tsVal[k], blk.tsFrac[k] = m.val, int8(min(frac, 127))
		case kRevoked:
			c.Revoked = m.kind == jTrue
		case kDefanged:
			c.Defanged = m.kind == jTrue
		case kConfidence:
			if m.kind == jNumber {
				if n, ok := intValue(m.val); ok && n >= -1<<31 && n < 1<<31 {
					blk.conf = int(n)
					c.Confidence = &blk.conf
				}
			}
		case kLabels, kObjectMarkingRefs:
			if m.kind != jArray {
				return
			}
			l := blk.stringList(m.val)
			if m.id == kLabels {
				c.Labels = l
			} else {
				c.ObjectMarkingRefs = l
			}
		case kExternalReferences:
			if m.kind == jArray {
				c.ExternalReferences = parseExternalRefs(m.val, blk)
			}
		case kGranularMarkings:
			if m.kind == jArray {
				c.GranularMarkings = parseGranularMarkings(m.val)
			}
		case kExtensions:
			if m.kind != jObject {
				return
			}
			ext := map[string]json.RawMessage{}
			var buf [4]member
			for _, e := range objectMembers(m.val, buf[:0]) {
				ext[e.key] = json.RawMessage(e.val)
			}
			c.Extensions = ext
		}
	}
}

// stringList returns the strings of a valid JSON array (viewListHeap), in
// b's room when they fit.
func (b *rawBlock) stringList(val []byte) []string {
	var buf [8]string
	l := buf[:0]
	for it := newArrayIter(val); ; {
		kind, v, more := it.next()
		if !more {
			break
		}
		if kind == jString {
			l = append(l, viewValue(v))
		}
	}
	if len(l) == 0 {
		return nil
	}
	var out []string
	if n := int(b.nstrs); len(l) <= len(b.strs)-n {
		out = b.strs[n : n+len(l) : n+len(l)]
		b.nstrs += uint8(len(l))
	} else {
		out = make([]string, len(l))
	}
	copy(out, l)
	return out
}

// refList copies refs to a slice the object keeps, b's room if it fits.
func (b *rawBlock) refList(refs []ExternalReference) []ExternalReference {
	if len(refs) == 0 {
		return nil
	}
	var out []ExternalReference
	if len(refs) == 1 && !b.ref1Used {
		out = b.ref1[:1:1]
		b.ref1Used = true
	} else {
		out = make([]ExternalReference, len(refs))
	}
	copy(out, refs)
	return out
}

func parseExternalRefs(val []byte, blk *rawBlock) []ExternalReference {
	var buf [4]ExternalReference
	out := buf[:0]
	arrayElems(val, func(kind jsonKind, v []byte) {
		if kind != jObject {
			return
		}
		var r ExternalReference
		var buf [8]member
		for _, m := range objectMembers(v, buf[:0]) {
			switch m.key {
			case "source_name", "description", "url", "external_id":
				if m.kind != jString {
					continue
				}
				s := m.str()
				switch m.key {
				case "source_name":
					r.SourceName = s
				case "description":
					r.Description = s
				case "url":
					r.URL = s
				case "external_id":
					r.ExternalID = s
				}
			case "hashes":
				if m.kind == jObject {
					r.Hashes = stringMap(m.val)
				}
			}
		}
		out = append(out, r)
	})
	return blk.refList(out)
}

func parseGranularMarkings(val []byte) []GranularMarking {
	var out []GranularMarking
	arrayElems(val, func(kind jsonKind, v []byte) {
		if kind != jObject {
			return
		}
		var g GranularMarking
		var buf [4]member
		for _, m := range objectMembers(v, buf[:0]) {
			switch {
			case m.key == "lang" && m.kind == jString:
				g.Lang = m.str()
			case m.key == "marking_ref" && m.kind == jString:
				g.MarkingRef = m.str()
			case m.key == "selectors" && m.kind == jArray:
				g.Selectors, _ = viewListHeap(m.val)
			}
		}
		out = append(out, g)
	})
	return out
}

// stringMap returns the string-valued members of a JSON object.
func stringMap(val []byte) map[string]string {
	var buf [8]member
	ms := objectMembers(val, buf[:0])
	out := make(map[string]string, len(ms))
	for _, m := range ms {
		if m.kind == jString {
			out[m.key] = m.str()
		}
	}
	return out
}
