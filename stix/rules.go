package stix

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// objCheck validates one object given its top-level members.
type objCheck struct {
	v    *Validator
	lim  Limits
	path string
	ms   []member
	out  []Finding

	id, typ string
	spec    *typeSpec
	class   objClass
	times   [8]struct {
		key string
		t   time.Time
	}
	nTimes    int
	topLevel  bool // a toplevel-property-extension is in use
	hasExtDef bool // an extension-definition entry is in extensions

	// fillRefs and fillExt, when set, receive the object's external
	// references and extensions as the checks read them (ParseAndValidate:
	// parsing left them to the check, see fillDeferred).
	fillRefs *[]ExternalReference
	fillExt  *map[string]json.RawMessage
	blk      *rawBlock // the parsed object's block (ParseAndValidate), else nil

	// pos[id] is 1 + the index of the first member with that id, for the
	// names with fixed ids (filled by check).
	pos [nFixedKeys]int32
}

func (c *objCheck) add(sev Severity, prop, rule, msg string) {
	c.out = append(c.out, Finding{Severity: sev, ObjectID: c.id, ObjectType: c.typ, Path: c.path,
		Property: prop, Rule: rule, Message: msg})
}

func (c *objCheck) errf(prop, rule, format string, args ...any) {
	c.add(SeverityError, prop, rule, fmt.Sprintf(format, args...))
}

func (c *objCheck) warnf(prop, rule, format string, args ...any) {
	c.add(SeverityWarning, prop, rule, fmt.Sprintf(format, args...))
}

// lenientf is an error, or a warning in the lenient profile.
func (c *objCheck) lenientf(prop, rule, format string, args ...any) {
	if c.v.Lenient {
		c.warnf(prop, rule, format, args...)
	} else {
		c.errf(prop, rule, format, args...)
	}
}

func (c *objCheck) get(key string) (member, bool) {
	for _, m := range c.ms {
		if m.key == key {
			return m, true
		}
	}
	return member{}, false
}

// getID is get for a known name.
func (c *objCheck) getID(id keyID) (member, bool) {
	if id < nFixedKeys {
		if p := c.pos[id]; p > 0 {
			return c.ms[p-1], true
		}
		return member{}, false
	}
	for i := range c.ms {
		if c.ms[i].id == id {
			return c.ms[i], true
		}
	}
	return member{}, false
}

// strID is str for a known name.
func (c *objCheck) strID(id keyID) (string, bool) {
	m, ok := c.getID(id)
	if !ok || m.kind != jString {
		return "", false
	}
	return m.str(), true
}

func (c *objCheck) str(key string) (string, bool) {
	m, ok := c.get(key)
	if !ok || m.kind != jString {
		return "", false
	}
	return m.str(), true
}

// ts returns a property's timestamp if present and well-formed.
func (c *objCheck) ts(key string) (time.Time, bool) {
	for i := 0; i < c.nTimes; i++ {
		if c.times[i].key == key {
			return c.times[i].t, true
		}
	}
	s, ok := c.str(key)
	if !ok {
		return time.Time{}, false
	}
	t, _, err := parseTimestamp(s)
	return t, err == nil
}

func (c *objCheck) check() {
	for i := range c.ms {
		if id := c.ms[i].id; id < nFixedKeys && c.pos[id] == 0 {
			c.pos[id] = int32(i + 1)
		}
	}
	if m, ok := c.getID(kID); ok && m.kind == jString {
		c.id = m.str()
	}
	tm, ok := c.getID(kType)
	switch {
	case !ok:
		c.errf("type", "required", "every STIX object must have a type (§3.1)")
	case tm.kind != jString:
		c.errf("type", "type-mismatch", "type must be a string, got %s", tm.kind)
	default:
		c.typ = tm.str()
		if !validTypeName(c.typ) {
			c.errf("type", "type-name", "type %s must be 3–250 characters of a–z, 0–9 and '-' starting with a letter (§3.1)", quote(c.typ))
		}
	}
	c.spec = specTypes[c.typ]
	if c.spec != nil {
		c.class = c.spec.class
	}
	c.checkID()
	c.checkExtensions()
	c.checkRequired()
	var seen [1 << (keyTabBits - 1) / 64]uint64 // known names met so far
	for i := range c.ms {
		m := &c.ms[i]
		c.checkMember(m)
		dup := false
		if m.id != kUnknown {
			w, bit := m.id/64, uint64(1)<<(m.id%64)
			dup = seen[w]&bit != 0
			seen[w] |= bit
		} else {
			for j := 0; j < i; j++ {
				if c.ms[j].id == kUnknown && len(c.ms[j].key) == len(m.key) && c.ms[j].key == m.key {
					dup = true
					break
				}
			}
		}
		if dup {
			c.errf(m.key, "duplicate-property", "%s appears more than once; consumers would disagree on its value", m.key)
		}
	}
	c.checkTimes()
	c.checkType()
}

func (c *objCheck) checkID() {
	m, ok := c.getID(kID)
	if !ok {
		c.errf("id", "required", "every STIX object must have an id (§3.1)")
		return
	}
	if m.kind != jString {
		c.errf("id", "type-mismatch", "id must be a string, got %s", m.kind)
		return
	}
	typ, problem, upper := checkIdentifier(c.id)
	switch {
	case problem != "":
		c.errf("id", "identifier", "%s: %s (§2.9)", quote(c.id), problem)
		return
	case upper:
		c.warnf("id", "uuid-case", "%s: the UUID should be lower-case hex", quote(c.id))
	}
	if c.typ != "" && typ != c.typ {
		c.errf("id", "id-type-mismatch", "%s does not start with %s (§2.9)", quote(c.id), quote(c.typ+"--"))
	}
}

// checkRequired reports missing required properties.
func (c *objCheck) checkRequired() {
	if c.typ == "" || c.typ == "bundle" {
		return
	}
	if c.spec != nil {
		for i, id := range c.spec.requiredIDs {
			p := c.spec.required[i]
			m, ok := c.getID(id)
			switch {
			case !ok:
				c.errf(p, "required", "%s is required on %s", p, c.typ)
			case m.kind == jString && len(m.val) == 2:
				c.errf(p, "required", "%s is required on %s and must not be empty", p, c.typ)
			}
		}
		return
	}
	// A custom object (§11.2): SDO/SRO-like unless its extension says new-sco.
	if c.class == classSCO {
		return
	}
	if _, ok := c.get("spec_version"); !ok {
		c.errf("spec_version", "required", "spec_version is required on %s", c.typ)
	}
	for _, p := range []string{"created", "modified"} {
		if _, ok := c.get(p); !ok {
			if c.class == classSDO || c.class == classSRO {
				c.errf(p, "required", "%s is required on a new-sdo/new-sro object", p)
			} else {
				c.warnf(p, "required", "%s should be present on custom object %s", p, c.typ)
			}
		}
	}
	if !c.hasExtDef {
		c.warnf("type", "custom-object", "custom object type %s is not defined by an extension-definition (§11.2)", quote(c.typ))
	}
}

// checkMember checks one top-level property.
func (c *objCheck) checkMember(m *member) {
	k := m.key
	flags := keyFlags(k, m.id)
	if flags&kfNameOK == 0 {
		c.checkPropName(k)
	}
	if m.kind == jNull {
		c.errf(k, "null-value", "%s is null; omit a property rather than set it to null", k)
		return
	}
	if m.kind == jArray && len(emptyArrayForm(m.val)) == 2 {
		c.errf(k, "empty-list", "%s is an empty list; lists must not be empty (§3.1)", k)
		return
	}
	switch m.id {
	case kType, kID, kExtensions:
		return
	case kSpecVersion:
		if m.kind != jString {
			c.errf(k, "type-mismatch", "spec_version must be a string")
		} else if sv := m.str(); sv != "2.1" {
			c.errf(k, "spec-version", "spec_version %s: this validator checks STIX 2.1", quote(sv))
		}
		return
	case kCreated, kModified:
		c.checkTimestampProp(m, true)
		return
	case kCreatedByRef:
		c.checkRef(k, m, func(t string) (bool, bool) {
			if t == "identity" {
				return true, false
			}
			return false, specTypes[t] == nil // unknown type: warn only
		}, "an identity (§3.2)")
		return
	case kRevoked, kDefanged:
		if m.kind != jTrue && m.kind != jFalse {
			c.errf(k, "type-mismatch", "%s must be a boolean, got %s", k, m.kind)
		}
		return
	case kLabels:
		c.checkStringList(k, m)
		return
	case kConfidence:
		n, ok := intValue(m.val)
		if m.kind != jNumber || !ok {
			c.errf(k, "type-mismatch", "confidence must be an integer")
		} else if n < 0 || n > 100 {
			c.errf(k, "range", "confidence %d is outside 0–100 (§3.2)", n)
		}
		return
	case kLang:
		if m.kind != jString {
			c.errf(k, "type-mismatch", "lang must be a string")
		} else if l := m.str(); !validLangTag(l) {
			c.errf(k, "lang", "%s is not a valid RFC 5646 language code", quote(l))
		}
		return
	case kExternalReferences:
		c.checkExternalRefs(m)
		return
	case kObjectMarkingRefs:
		c.checkRefList(k, m, func(t string) (bool, bool) { return t == "marking-definition", false }, "a marking-definition")
		if c.typ == "marking-definition" && c.id != "" {
			if l, _ := viewList(m.val); contains(l, c.id) {
				c.errf(k, "marking-circular", "a marking-definition must not mark itself (§7.2.2)")
			}
		}
		return
	case kGranularMarkings:
		c.checkGranular(m)
		return
	}
	if flags&kfReserved != 0 {
		c.errf(k, "reserved-property", "%s is a reserved property name (§3.1)", k)
		return
	}
	// Type-specific shapes.
	var pi *propInfo
	if c.spec != nil {
		pi = c.spec.byKey[m.id]
		if pi == nil && !c.topLevel {
			c.warnf(k, "custom-property", "%s is not a property of %s; custom properties should use an extension (§11.1)", k, c.typ)
		}
	}
	if pi == nil {
		pi = &noInfo
	}
	if pi.timestamp {
		c.checkTimestampProp(m, false)
	}
	if pi.vocab != nil {
		c.checkVocab(k, m, *pi.vocab)
	}
	switch {
	case m.id == kHashes:
		c.checkHashes(k, m, nil)
	case flags&kfRef != 0:
		c.checkRef(k, m, pi.refRule(), "")
	case flags&kfRefs != 0:
		c.checkRefList(k, m, pi.refRule(), "")
	case flags&kfBin != 0:
		if s, ok := c.strOf(k, m); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				c.errf(k, "binary", "%s must be base64 (RFC 4648): %s", k, quote(s))
			}
		}
	case flags&kfHex != 0:
		if s, ok := c.strOf(k, m); ok && !isHexString(s) {
			c.errf(k, "hex", "%s must be hex: %s", k, quote(s))
		}
	}
}

// refPaths and granularPaths cache "prop[i]" for the first few elements of
// the list properties whose elements are checked one by one, refHashesPaths
// "external_references[i].hashes".
var refPaths, granularPaths, refHashesPaths = func() (r, g, h [8]string) {
	for i := range r {
		r[i] = "external_references[" + strconv.Itoa(i) + "]"
		g[i] = "granular_markings[" + strconv.Itoa(i) + "]"
		h[i] = r[i] + ".hashes"
	}
	return
}()

// refPath returns "external_references[i]".
func refPath(i int) string {
	if i < len(refPaths) {
		return refPaths[i]
	}
	return "external_references[" + strconv.Itoa(i) + "]"
}

// refHashesPath returns "external_references[i].hashes".
func refHashesPath(i int) string {
	if i < len(refHashesPaths) {
		return refHashesPaths[i]
	}
	return refPath(i) + ".hashes"
}

// granularPath returns "granular_markings[i]".
func granularPath(i int) string {
	if i < len(granularPaths) {
		return granularPaths[i]
	}
	return "granular_markings[" + strconv.Itoa(i) + "]"
}

func emptyArrayForm(b []byte) []byte {
	// An empty array is "[" optional space "]".
	if len(b) >= 2 && b[0] == '[' {
		i := 1
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i < len(b) && b[i] == ']' {
			return []byte("[]")
		}
	}
	return b
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func isHexString(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func (c *objCheck) strOf(k string, m *member) (string, bool) {
	if m.kind != jString {
		c.errf(k, "type-mismatch", "%s must be a string, got %s", k, m.kind)
		return "", false
	}
	return m.str(), true
}

// checkPropName applies the property name rules (§3.1, §11.1).
func (c *objCheck) checkPropName(k string) {
	if k == "id" {
		return
	}
	if len(k) < 3 {
		c.errf(k, "property-name", "property name %s is shorter than 3 characters (§11.1)", quote(k))
		return
	}
	if len(k) > 250 {
		c.errf(k, "property-name", "property name %s is longer than 250 characters (§11.1)", quote(k))
		return
	}
	upper := false
	for i := 0; i < len(k); i++ {
		ch := k[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '_':
		case ch >= 'A' && ch <= 'Z':
			upper = true
		default:
			c.errf(k, "property-name", "property name %s may only contain a–z, A–Z, 0–9 and _ (§11.1)", quote(k))
			return
		}
	}
	if upper {
		c.warnf(k, "property-name", "property name %s should be lower case (§11.1)", quote(k))
	} else if k[0] < 'a' || k[0] > 'z' {
		c.warnf(k, "property-name", "property name %s should start with a letter", quote(k))
	}
}

// parsedTimestamp parses m's string value, reusing what parsing the object
// found for created and modified (ParseAndValidate).
func (c *objCheck) parsedTimestamp(m *member) (time.Time, int, error) {
	if b := c.blk; b != nil && (m.id == kCreated || m.id == kModified) {
		k := 0
		if m.id == kModified {
			k = 1
		}
		if v := b.tsVal[k]; len(v) == len(m.val) && len(v) > 0 && &v[0] == &m.val[0] {
			if k == 0 {
				return b.created.Time, int(b.tsFrac[0]), nil
			}
			return b.modified.Time, int(b.tsFrac[1]), nil
		}
	}
	return parseTimestamp(m.str())
}

func (c *objCheck) checkTimestampProp(m *member, needMillis bool) {
	if m.kind != jString {
		c.errf(m.key, "type-mismatch", "%s must be a timestamp string, got %s", m.key, m.kind)
		return
	}
	s := m.str()
	t, frac, err := c.parsedTimestamp(m)
	if err == nil && c.nTimes < len(c.times) {
		c.times[c.nTimes].key, c.times[c.nTimes].t = m.key, t
		c.nTimes++
	}
	if err != nil {
		c.errf(m.key, "timestamp", "%s: %s does not match YYYY-MM-DDTHH:mm:ss[.s+]Z (§2.15): %v", m.key, quote(s), err.(*TimestampError).Reason)
		return
	}
	if needMillis && frac < 3 {
		c.lenientf(m.key, "timestamp-precision", "%s %s must be precise to at least the millisecond (§3.2)", m.key, quote(s))
	}
}

func (c *objCheck) checkStringList(k string, m *member) bool {
	if m.kind != jArray {
		c.errf(k, "type-mismatch", "%s must be a list of strings, got %s", k, m.kind)
		return false
	}
	ok := true
	arrayElems(m.val, func(kind jsonKind, _ []byte) { ok = ok && kind == jString })
	if !ok {
		c.errf(k, "type-mismatch", "%s must be a list of strings", k)
	}
	return ok
}

// refRule says whether a target type is allowed, and if not whether that is only a
// warning.
type refRule func(targetType string) (ok, warnOnly bool)

func (pi *propInfo) refRule() refRule {
	if pi.refs == nil {
		return nil
	}
	allowed := pi.refs
	return func(t string) (bool, bool) { return allowed[t], false }
}

func (c *objCheck) checkIdentifierValue(k, id string, rule refRule, want string) {
	typ, problem, upper := checkIdentifier(id)
	if problem != "" {
		if typ == "" || !validTypeName(typ) {
			c.errf(k, "identifier", "%s: %s (§2.9)", quote(id), problem)
			return
		}
		// The OASIS validator accepts references whose UUID part is malformed
		// (valid/validator-tests--network_traffic-…): the target is another
		// object, so this is a warning; the type part is still checked.
		c.warnf(k, "identifier", "%s: %s (§2.9)", quote(id), problem)
	}
	if upper {
		c.warnf(k, "uuid-case", "%s: the UUID should be lower-case hex", quote(id))
	}
	if rule == nil {
		return
	}
	if ok, warnOnly := rule(typ); !ok {
		msg := fmt.Sprintf("%s refers to an object of type %s", quote(id), typ)
		if want != "" {
			msg += "; it must refer to " + want
		} else {
			msg += ", a type not allowed here"
		}
		if warnOnly {
			c.warnf(k, "ref-type", "%s", msg)
		} else {
			c.errf(k, "ref-type", "%s", msg)
		}
	}
}

func (c *objCheck) checkRef(k string, m *member, rule refRule, want string) {
	if m.kind != jString {
		c.errf(k, "type-mismatch", "%s must be an identifier string, got %s", k, m.kind)
		return
	}
	c.checkIdentifierValue(k, m.str(), rule, want)
}

func (c *objCheck) checkRefList(k string, m *member, rule refRule, want string) {
	if m.kind != jArray {
		c.checkStringList(k, m) // reports the type
		return
	}
	// One walk: collect the strings, then check them if all are strings.
	var buf [8]string
	ids := buf[:0]
	for it := newArrayIter(m.val); ; {
		kind, v, more := it.next()
		if !more {
			break
		}
		if kind != jString {
			c.checkStringList(k, m) // reports the element type
			return
		}
		ids = append(ids, viewValue(v))
	}
	for _, id := range ids {
		c.checkIdentifierValue(k, id, rule, want)
	}
}

func (c *objCheck) checkVocab(k string, m *member, rule vocabRule) {
	one := func(v string) {
		if rule.vals[v] {
			return
		}
		if rule.isEnu {
			c.errf(k, "vocabulary", "%s is not one of %s", quote(v), rule.name)
		} else {
			c.warnf(k, "vocabulary", "%s is not in %s (open vocabulary: should)", quote(v), rule.name)
		}
	}
	switch m.kind {
	case jString:
		one(m.str())
	case jArray:
		arrayElems(m.val, func(kind jsonKind, v []byte) {
			if kind == jString {
				one(viewValue(v))
			}
		})
	}
}

// hashLength returns the hex length of a hash algorithm with a fixed one.
func hashLength(algo string) (int, bool) {
	switch algo {
	case "MD5":
		return 32, true
	case "SHA-1":
		return 40, true
	case "SHA-256", "SHA3-256":
		return 64, true
	case "SHA-512", "SHA3-512":
		return 128, true
	}
	return 0, false
}

// checkHashes checks a hashes dictionary; if fill is non-nil and the value is
// an object, *fill becomes its string-valued members.
func (c *objCheck) checkHashes(k string, m *member, fill *map[string]string) {
	if m.kind != jObject {
		c.errf(k, "type-mismatch", "%s must be a dictionary of hashes, got %s", k, m.kind)
		return
	}
	var buf [8]member
	ms := objectMembers(m.val, buf[:0])
	var out map[string]string
	if fill != nil {
		out = make(map[string]string, len(ms))
		*fill = out
	}
	if len(ms) == 0 {
		c.errf(k, "empty-dictionary", "%s must not be empty", k)
	}
	for _, h := range ms {
		if h.kind != jString {
			c.errf(k+"."+h.key, "type-mismatch", "a hash value must be a string")
			continue
		}
		if len(h.key) > 250 {
			c.errf(k, "dictionary-key", "hash algorithm names are at most 250 characters")
		}
		v := viewValue(h.val)
		if out != nil {
			out[h.key] = v
		}
		if n, ok := hashLength(h.key); ok {
			if len(v) != n || !isHexString(v) {
				c.errf(k+"."+h.key, "hash-value", "%s is not a %s hash (%d hex digits)", quote(v), h.key, n)
			}
		} else if !vocabHashAlgo[h.key] && !strings.HasPrefix(h.key, "x_") {
			c.warnf(k+"."+h.key, "vocabulary", "%s is not in hash-algorithm-ov", quote(h.key))
		}
	}
}

func (c *objCheck) checkExternalRefs(m *member) {
	if m.kind != jArray {
		c.errf(m.key, "type-mismatch", "external_references must be a list, got %s", m.kind)
		return
	}
	i := 0
	var refBuf [4]ExternalReference
	refs := refBuf[:0] // collected for c.fillRefs
	var buf [8]member
	for it := newArrayIter(m.val); ; {
		kind, _, ms, more := it.nextMembers(buf[:0])
		if !more {
			break
		}
		p, idx := refPath(i), i
		i++
		if kind != jObject {
			c.errf(p, "type-mismatch", "an external reference must be an object")
			continue
		}
		var hasSource, hasOther, hasURL, hasHashes bool
		var source, extID string
		var r ExternalReference
		var hashes *map[string]string
		if c.fillRefs != nil {
			hashes = &r.Hashes
		}
		for _, e := range ms {
			switch e.key {
			case "source_name", "description", "url", "external_id":
				if e.kind != jString {
					c.errf(p+"."+e.key, "type-mismatch", "%s must be a string", e.key)
					continue
				}
				s := viewValue(e.val)
				switch e.key {
				case "source_name":
					hasSource, source = true, s
					r.SourceName = s
				case "external_id":
					hasOther, extID = true, s
					r.ExternalID = s
				case "url":
					hasOther, hasURL = true, true
					r.URL = s
				default:
					hasOther = true
					r.Description = s
				}
			case "hashes":
				hasHashes = true
				em := e
				c.checkHashes(refHashesPath(idx), &em, hashes)
			}
		}
		if c.fillRefs != nil {
			refs = append(refs, r)
		}
		if !hasSource {
			c.errf(p+".source_name", "required", "an external reference must have a source_name (§2.5)")
		}
		if !hasOther {
			c.errf(p, "external-reference", "an external reference needs at least one of description, url, external_id (§2.5)")
		}
		if hasURL && !hasHashes {
			c.warnf(p+".hashes", "external-reference-hash", "an external reference with a url should have hashes (§2.5)")
		}
		switch strings.ToLower(source) {
		case "cve":
			if !strings.HasPrefix(extID, "CVE-") {
				c.warnf(p+".external_id", "external-id", "a cve reference should have an external_id CVE-YYYY-NNNN")
			}
		case "capec":
			if !strings.HasPrefix(extID, "CAPEC-") {
				c.warnf(p+".external_id", "external-id", "a capec reference should have an external_id CAPEC-N")
			}
		}
	}
	if c.fillRefs != nil {
		*c.fillRefs = c.blk.refList(refs)
	}
}

func (c *objCheck) checkGranular(m *member) {
	if m.kind != jArray {
		c.errf(m.key, "type-mismatch", "granular_markings must be a list, got %s", m.kind)
		return
	}
	i := 0
	arrayElems(m.val, func(kind jsonKind, v []byte) {
		p := granularPath(i)
		i++
		if kind != jObject {
			c.errf(p, "type-mismatch", "a granular marking must be an object")
			return
		}
		var hasRef, hasLang, hasSel bool
		var mbuf [8]member
		for _, e := range objectMembers(v, mbuf[:0]) {
			switch e.key {
			case "marking_ref":
				hasRef = true
				em := e
				c.checkRef(p+".marking_ref", &em, func(t string) (bool, bool) { return t == "marking-definition", false }, "a marking-definition")
			case "lang":
				hasLang = true
			case "selectors":
				hasSel = true
				if e.kind != jArray || len(emptyArrayForm(e.val)) == 2 {
					c.errf(p+".selectors", "type-mismatch", "selectors must be a non-empty list of strings")
					continue
				}
				sels, ok := viewList(e.val)
				if !ok {
					c.errf(p+".selectors", "type-mismatch", "selectors must be strings")
				}
				for _, s := range sels {
					if !selectorResolves(c.ms, s) {
						c.errf(p+".selectors", "selector", "selector %s does not refer to a property of this object (§7.2.3.1)", quote(s))
					}
				}
			}
		}
		if !hasSel {
			c.errf(p+".selectors", "required", "a granular marking must have selectors (§7.2.3)")
		}
		if hasRef == hasLang {
			c.errf(p, "granular-marking", "a granular marking must have exactly one of marking_ref and lang (§7.2.3)")
		}
	})
}

// selectorResolves reports whether a granular marking selector such as
// "external_references.[0].url" names something present in the object.
func selectorResolves(ms []member, sel string) bool {
	parts := strings.Split(sel, ".")
	var cur []byte
	for i, p := range parts {
		if i == 0 {
			found := false
			for _, m := range ms {
				if m.key == p {
					cur, found = m.val, true
					break
				}
			}
			if !found {
				return false
			}
			continue
		}
		switch kindOf(cur) {
		case jObject:
			found := false
			var mbuf [8]member
			for _, m := range objectMembers(cur, mbuf[:0]) {
				if m.key == p {
					cur, found = m.val, true
					break
				}
			}
			if !found {
				return false
			}
		case jArray:
			if len(p) < 3 || p[0] != '[' || p[len(p)-1] != ']' {
				return false
			}
			n, err := strconv.Atoi(p[1 : len(p)-1])
			if err != nil || n < 0 {
				return false
			}
			var elem []byte
			k := 0
			arrayElems(cur, func(_ jsonKind, v []byte) {
				if k == n {
					elem = v
				}
				k++
			})
			if elem == nil {
				return false
			}
			cur = elem
		default:
			return false
		}
	}
	return true
}

// checkExtensions checks the extensions dictionary (§7.3, §11) and learns the
// object's class from new-sdo/new-sco/new-sro entries.
func (c *objCheck) checkExtensions() {
	m, ok := c.getID(kExtensions)
	if !ok {
		return
	}
	if m.kind != jObject {
		c.errf("extensions", "type-mismatch", "extensions must be a dictionary, got %s", m.kind)
		return
	}
	var buf [4]member
	ms := objectMembers(m.val, buf[:0])
	if len(ms) == 0 {
		c.errf("extensions", "empty-dictionary", "extensions must not be empty")
	}
	if c.fillExt != nil {
		ext := make(map[string]json.RawMessage, len(ms))
		for _, e := range ms {
			ext[e.key] = json.RawMessage(e.val)
		}
		*c.fillExt = ext
	}
	for _, e := range ms {
		key := e.key
		p := func() string { return "extensions." + key }
		if e.kind != jObject {
			c.errf(p(), "type-mismatch", "an extension must be an object")
			continue
		}
		if strings.HasPrefix(e.key, "extension-definition--") {
			c.hasExtDef = true
			if _, problem, _ := checkIdentifier(e.key); problem != "" {
				c.errf(p(), "identifier", "%s: %s (§2.9)", quote(e.key), problem)
			}
			var et string
			var ebuf [8]member
			for _, f := range objectMembers(e.val, ebuf[:0]) {
				if f.key == "extension_type" && f.kind == jString {
					et = viewValue(f.val)
				}
			}
			switch et {
			case "":
				c.errf(p()+".extension_type", "required", "an extension keyed by an extension-definition id must have extension_type (§7.3)")
			case "property-extension":
			case "toplevel-property-extension":
				c.topLevel = true
			case "new-sdo", "new-sco", "new-sro":
				if c.spec != nil {
					c.errf(p()+".extension_type", "extension-type", "%s is for new object types, not %s", et, c.typ)
				} else {
					c.class = map[string]objClass{"new-sdo": classSDO, "new-sco": classSCO, "new-sro": classSRO}[et]
				}
			default:
				c.errf(p()+".extension_type", "vocabulary", "%s is not one of extension-type-enum", quote(et))
			}
			continue
		}
		if !validExtName(e.key) {
			c.errf(p(), "extension-name", "extension name %s must end in -ext or be an extension-definition id (§11.3)", quote(e.key))
			continue
		}
		if emptyObject(e.val) {
			c.errf(p(), "empty-dictionary", "an extension must not be empty")
		}
		if c.spec != nil && c.class != classSCO {
			c.warnf(p(), "custom-extension", "predefined -ext extensions are defined for SCOs; use an extension-definition")
		}
	}
}

func validExtName(k string) bool {
	if !strings.HasSuffix(k, "-ext") {
		return false
	}
	return validTypeName(strings.TrimSuffix(k, "-ext")) || len(k) >= 7 && validTypeName(k)
}

// checkTimes applies the ordering rules between timestamps.
func (c *objCheck) checkTimes() {
	order := func(first, second string, strict bool, ref string) {
		a, ok1 := c.ts(first)
		b, ok2 := c.ts(second)
		if !ok1 || !ok2 {
			return
		}
		if b.Before(a) || strict && b.Equal(a) {
			rel := "later than or equal to"
			if strict {
				rel = "later than"
			}
			c.errf(second, "timestamp-order", "%s must be %s %s (%s)", second, rel, first, ref)
		}
	}
	if c.spec == nil && c.class == classCustom && c.typ == "" {
		return
	}
	order("created", "modified", false, "§3.2")
	switch c.typ {
	case "indicator":
		order("valid_from", "valid_until", true, "§4.7")
	case "malware", "campaign", "intrusion-set", "threat-actor", "infrastructure", "sighting":
		order("first_seen", "last_seen", false, "§4")
	case "observed-data":
		order("first_observed", "last_observed", false, "§4.13")
	case "relationship":
		order("start_time", "stop_time", true, "§5.1")
	case "network-traffic":
		order("start", "end", false, "§6.12")
	case "malware-analysis":
		order("analysis_started", "analysis_ended", false, "§4.11")
	}
}
