package stix

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// checkType applies the rules specific to one object type.
func (c *objCheck) checkType() {
	switch c.typ {
	case "indicator":
		c.checkIndicator()
	case "malware":
		if m, ok := c.get("is_family"); ok {
			if m.kind != jTrue && m.kind != jFalse {
				c.errf("is_family", "type-mismatch", "is_family must be a boolean")
			} else if m.kind == jTrue {
				if _, ok := c.get("name"); !ok {
					c.errf("name", "required", "a malware family (is_family true) must have a name (§4.10)")
				}
			}
		}
	case "relationship":
		c.checkRelationship()
	case "sighting":
		c.checkSighting()
	case "observed-data":
		c.checkObservedData()
	case "marking-definition":
		c.checkMarkingDefinition()
	case "extension-definition":
		if _, ok := c.get("created_by_ref"); !ok {
			c.errf("created_by_ref", "required", "an extension-definition must have created_by_ref (§7.3)")
		}
		if _, ok := c.get("description"); !ok {
			c.warnf("description", "description", "an extension-definition should have a description (§7.3)")
		}
		if _, ok := c.get("extension_properties"); ok {
			if l, _ := c.stringListOf("extension_types"); !contains(l, "toplevel-property-extension") {
				c.errf("extension_properties", "extension-properties", "extension_properties is only for toplevel-property-extension (§7.3)")
			}
		}
	case "location":
		_, region := c.get("region")
		_, country := c.get("country")
		_, lat := c.get("latitude")
		_, lon := c.get("longitude")
		if lat != lon {
			c.errf("latitude", "location", "latitude and longitude must be given together (§4.9)")
		}
		if !region && !country && !(lat && lon) {
			c.errf("region", "location", "a location needs region, country, or latitude and longitude (§4.9)")
		}
	case "malware-analysis":
		_, r := c.get("result")
		_, s := c.get("analysis_sco_refs")
		if !r && !s {
			c.errf("result", "required", "a malware-analysis needs result or analysis_sco_refs (§4.11)")
		}
	case "ipv4-addr", "ipv6-addr":
		c.checkIP()
	case "email-addr":
		if s, ok := c.str("value"); ok && !strings.Contains(s, "@") {
			c.errf("value", "email-addr", "%s is not an RFC 5322 addr-spec (§6.5)", quote(s))
		}
	case "url":
		if s, ok := c.str("value"); ok {
			if u, err := url.Parse(s); err != nil || u.Scheme == "" {
				c.lenientf("value", "url", "%s is not an RFC 3986 URL (§6.16)", quote(s))
			}
		}
	case "file":
		_, h := c.get("hashes")
		_, n := c.get("name")
		if !h && !n {
			c.errf("hashes", "required", "a file must have hashes or name (§6.7)")
		}
	case "autonomous-system":
		if m, ok := c.get("number"); ok {
			if n, isInt := intValue(m.val); m.kind != jNumber || !isInt || n < 0 {
				c.errf("number", "type-mismatch", "number must be a non-negative integer")
			}
		}
	case "network-traffic":
		c.checkNetworkTraffic()
	case "artifact":
		_, p := c.get("payload_bin")
		_, u := c.get("url")
		_, h := c.get("hashes")
		if p && u {
			c.errf("url", "artifact", "an artifact must not have both payload_bin and url (§6.1)")
		}
		if u && !h {
			c.errf("hashes", "required", "an artifact with a url must have hashes (§6.1)")
		}
	case "x509-certificate":
		n := 0
		for _, m := range c.ms {
			switch m.key {
			case "type", "id", "spec_version", "object_marking_refs", "granular_markings", "defanged", "extensions":
			default:
				n++
			}
		}
		if n == 0 {
			c.errf("", "x509-certificate", "an x509-certificate must have at least one property besides the common ones (§6.18)")
		}
	}
	if c.class == classSCO || c.spec != nil && c.spec.class == classSCO {
		c.checkSCOID()
	}
}

func (c *objCheck) stringListOf(k string) ([]string, bool) {
	m, ok := c.get(k)
	if !ok || m.kind != jArray {
		return nil, false
	}
	return viewList(m.val)
}

func (c *objCheck) checkIndicator() {
	pt, _ := c.strID(kPatternType)
	p, ok := c.strID(kPattern)
	if !ok || pt != "stix" || c.v.PatternChecker == nil {
		return
	}
	if c.lim.MaxPatternSize > 0 && len(p) > c.lim.MaxPatternSize {
		c.errf("pattern", "limit", "pattern of %d bytes exceeds limit max pattern size (%d)", len(p), c.lim.MaxPatternSize)
		return
	}
	if err := c.v.PatternChecker(p); err != nil {
		c.errf("pattern", "pattern", "not a valid STIX pattern (§9): %v", err)
	}
}

var relTypeOK = func(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

func (c *objCheck) checkRelationship() {
	rt, ok := c.str("relationship_type")
	if ok && !relTypeOK(rt) {
		c.errf("relationship_type", "relationship-type", "%s contains invalid characters: only a–z, 0–9 and - (§5.1)", quote(rt))
	}
	src, _ := c.str("source_ref")
	dst, _ := c.str("target_ref")
	st, dt := IDType(src), IDType(dst)
	for _, p := range []struct{ prop, typ string }{{"source_ref", st}, {"target_ref", dt}} {
		if p.typ != "" && nonRelatable[p.typ] {
			c.errf(p.prop, "ref-type", "relationships cannot link bundles, marking definitions, sightings, relationships or meta objects: %s is a %s (§5.1)", p.prop, p.typ)
		}
	}
	if rt == "" || st == "" || dt == "" || commonRelationships[rt] || specTypes[st] == nil || specTypes[dt] == nil {
		return
	}
	if allowed, ok := relationshipPairs[st+" "+rt]; ok && allowed[dt] {
		return
	}
	c.warnf("relationship_type", "relationship-pair", "%s %s %s is not a relationship the spec defines (§4, §5.1)", st, rt, dt)
}

func (c *objCheck) checkSighting() {
	if s, ok := c.str("sighting_of_ref"); ok {
		t := IDType(s)
		if sp := specTypes[t]; t == "bundle" || sp != nil && sp.class != classSDO {
			c.errf("sighting_of_ref", "ref-type", "sighting_of_ref must refer to an SDO or custom object, not a %s (§5.2)", t)
		}
	}
	if m, ok := c.get("count"); ok {
		if n, isInt := intValue(m.val); m.kind != jNumber || !isInt || n < 0 || n > 999999999 {
			c.errf("count", "range", "count must be an integer 0–999999999 (§5.2)")
		}
	}
}

func (c *objCheck) checkObservedData() {
	if m, ok := c.get("number_observed"); ok {
		if n, isInt := intValue(m.val); m.kind != jNumber || !isInt || n < 1 || n > 999999999 {
			c.errf("number_observed", "range", "number_observed must be an integer 1–999999999 (§4.13)")
		}
	}
	_, refs := c.get("object_refs")
	_, objs := c.get("objects")
	switch {
	case refs && objs:
		c.errf("objects", "observed-data", "observed-data must not have both objects and object_refs (§4.13)")
	case !refs && !objs:
		c.errf("object_refs", "required", "observed-data needs object_refs (§4.13)")
	case objs:
		c.warnf("objects", "deprecated", "objects is deprecated in STIX 2.1; use object_refs (§4.13)")
	}
}

func (c *objCheck) checkIP() {
	s, ok := c.str("value")
	if !ok {
		return
	}
	addr := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr = s[:i]
		bits, err := strconv.Atoi(s[i+1:])
		max := 32
		if c.typ == "ipv6-addr" {
			max = 128
		}
		if err != nil || bits < 0 || bits > max || s[i+1:] != strconv.Itoa(bits) {
			c.errf("value", "ip-value", "%s is not an address or CIDR block (§6.%s)", quote(s), map[bool]string{true: "8", false: "9"}[c.typ == "ipv4-addr"])
			return
		}
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || c.typ == "ipv4-addr" && !a.Is4() || c.typ == "ipv6-addr" && !a.Is6() || a.Zone() != "" {
		c.errf("value", "ip-value", "%s is not an %s address or CIDR block", quote(s), strings.TrimSuffix(c.typ, "-addr"))
	}
}

func (c *objCheck) checkNetworkTraffic() {
	_, src := c.get("src_ref")
	_, dst := c.get("dst_ref")
	if !src && !dst {
		c.errf("src_ref", "required", "network-traffic must have src_ref or dst_ref (§6.12)")
	}
	for _, p := range []string{"src_port", "dst_port"} {
		if m, ok := c.get(p); ok {
			if n, isInt := intValue(m.val); m.kind != jNumber || !isInt || n < 0 || n > 65535 {
				c.errf(p, "range", "%s must be an integer 0–65535", p)
			}
		}
	}
	if m, ok := c.get("is_active"); ok && m.kind == jTrue {
		if _, ok := c.get("end"); ok {
			c.errf("end", "network-traffic", "an active connection (is_active true) has no end (§6.12)")
		}
	}
}

// checkSCOID warns when an SCO id is not the UUIDv5 of its ID-contributing
// properties (§2.9: SHOULD).
func (c *objCheck) checkSCOID() {
	if c.id == "" || specTypes[c.typ] == nil {
		return
	}
	want, err := scoIDFromMembers(c.typ, c.ms)
	if err == ErrNoContributing {
		if uuidVersion(c.id) != '4' {
			c.warnf("id", "sco-id", "%s has no ID-contributing property: its id should be a UUIDv4 (§2.9)", c.typ)
		}
		return
	}
	if err != nil || want == c.id {
		return
	}
	c.warnf("id", "sco-id", "id should be the UUIDv5 of the ID-contributing properties: %s (§2.9)", want)
}

// checkMarkingDefinition applies §7.2 and the TLP 2.0 extension rules.
func (c *objCheck) checkMarkingDefinition() {
	dt, hasDT := c.str("definition_type")
	def, hasDef := c.get("definition")
	_, hasExt := c.get("extensions")
	if _, ok := c.get("modified"); ok {
		c.warnf("modified", "marking-definition", "a marking-definition is not versioned and has no modified (§7.2.1)")
	}
	switch {
	case hasDT && !hasDef:
		c.errf("definition", "required", "definition_type requires definition (§7.2.1)")
	case hasDef && !hasDT:
		c.errf("definition_type", "required", "definition requires definition_type (§7.2.1)")
	case !hasDT && !hasExt:
		c.errf("definition_type", "required", "a marking-definition needs definition_type and definition, or an extension (§7.2.1)")
	}
	if hasDT && hasDef {
		if def.kind != jObject {
			c.errf("definition", "type-mismatch", "definition must be an object")
		} else {
			switch dt {
			case "tlp":
				c.checkTLP1(def)
			case "statement":
				ok := false
				var mbuf [8]member
				for _, m := range objectMembers(def.val, mbuf[:0]) {
					ok = ok || m.key == "statement" && m.kind == jString
				}
				if !ok {
					c.errf("definition.statement", "required", "a statement marking needs definition.statement, a string (§7.2.1.3)")
				}
			default:
				c.warnf("definition_type", "vocabulary", "definition_type %s is neither tlp nor statement; new marking types should use an extension (§7.2.1)", quote(dt))
			}
		}
	}
	if ext, ok := c.get("extensions"); ok && ext.kind == jObject {
		var mbuf [8]member
		for _, e := range objectMembers(ext.val, mbuf[:0]) {
			if e.key != TLP2ExtensionID || e.kind != jObject {
				continue
			}
			var val string
			var mbuf [8]member
			for _, f := range objectMembers(e.val, mbuf[:0]) {
				if f.key == "tlp_2_0" && f.kind == jString {
					val = viewValue(f.val)
				}
			}
			lvl, ok := tlp2ByValue[val]
			if !ok {
				c.errf("extensions."+e.key+".tlp_2_0", "tlp", "tlp_2_0 %s is not one of clear, green, amber, amber+strict, red", quote(val))
				continue
			}
			if want, fixed := TLPFromMarkingRef(c.id); fixed && isTLP2ID(c.id) && want != lvl {
				c.errf("id", "tlp", "%s is the fixed id of %s, not of tlp_2_0 %s", c.id, want, val)
			} else if !fixed {
				c.warnf("id", "tlp", "TLP 2.0 marking-definition ids are fixed; %s is not one of them", c.id)
			}
		}
	}
}

// checkTLP1 requires a definition_type "tlp" object to be one of the four
// predefined TLP 1.0 markings (§7.2.1.4).
func (c *objCheck) checkTLP1(def member) {
	var color string
	okColor := false
	var mbuf [8]member
	for _, m := range objectMembers(def.val, mbuf[:0]) {
		if m.key == "tlp" && m.kind == jString {
			color = m.str()
			okColor = true
		}
	}
	ref, known := tlp1IDs[color]
	matches := okColor && known && c.id == ref
	if matches {
		if created, _ := c.str("created"); created != "2017-01-20T00:00:00.000Z" {
			matches = false
		}
		if name, ok := c.str("name"); ok && name != "TLP:"+strings.ToUpper(color) {
			matches = false
		}
		for _, m := range c.ms {
			switch m.key {
			case "type", "spec_version", "id", "created", "definition_type", "definition", "name":
			default:
				matches = false
			}
		}
	}
	if matches {
		return
	}
	if c.v.Lenient && okColor && known {
		c.warnf("definition", "tlp-predefined", "TLP marking definitions must match one of those defined in the STIX specification (§7.2.1.4); accepted as TLP:%s", strings.ToUpper(color))
		return
	}
	c.errf("definition", "tlp-predefined", "TLP marking definitions must match one of those defined in the STIX specification (§7.2.1.4)")
}

// validLangTag checks an RFC 5646 language tag: its syntax, and that a two-letter
// primary subtag is an ISO 639-1 code. Three-letter primary subtags are accepted
// from a list of ISO 639-2/3 codes commonly used without a two-letter code.
func validLangTag(s string) bool {
	if len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' {
		return iso6391Tab[s[0]-'a'][s[1]-'a'] // the common case, without a map lookup
	}
	if s == "" {
		return false
	}
	nparts := 0
	for rest := s; ; {
		p, after, more := strings.Cut(rest, "-")
		nparts++
		if len(p) < 1 || len(p) > 8 {
			return false
		}
		for i := 0; i < len(p); i++ {
			ch := p[i] | 0x20
			if !(ch >= 'a' && ch <= 'z' || p[i] >= '0' && p[i] <= '9') {
				return false
			}
		}
		if !more {
			break
		}
		rest = after
	}
	first, _, _ := strings.Cut(s, "-")
	var lower [8]byte
	for i := 0; i < len(first); i++ {
		lower[i] = first[i] | 0x20
	}
	primary := string(lower[:len(first)])
	switch {
	case primary == "x" || primary == "i":
		return nparts > 1
	case len(primary) == 2:
		return iso6391[primary]
	case len(primary) == 3:
		return iso6393Common[primary]
	}
	return false
}

var iso6391 = set("aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be",
	"bg", "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy",
	"da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
	"fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia",
	"id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl",
	"km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu",
	"lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl",
	"nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm",
	"rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr",
	"ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt",
	"tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu")

// iso6391Tab is iso6391 as a table indexed by the two letters.
var iso6391Tab = func() (t [26][26]bool) {
	for c := range iso6391 {
		t[c[0]-'a'][c[1]-'a'] = true
	}
	return t
}()

var iso6393Common = set("und", "mul", "mis", "zxx", "fil", "haw", "yue", "cmn", "wuu", "hak", "nan",
	"gsw", "nds", "ast", "ceb", "chr", "kok", "sah", "zza", "ckb", "hmn", "mai", "bho", "mag", "raj",
	"awa", "sat", "mni", "doi", "tet", "tpi", "smo", "ton", "fon", "ewe", "kab", "ber", "tzm", "lad",
	"yid", "syr", "arc", "grc", "lat", "san", "chu", "got", "ang", "enm", "frm", "fro", "gmh", "goh",
	"non", "sga", "peo", "pal", "egy", "akk", "sux", "hit", "phn", "uga", "cop", "gez", "jbo", "tlh",
	"epo", "ina", "ile", "vol", "nov", "lfn", "arz", "apc", "ary", "acm", "afb", "aeb", "kmr", "sdh",
	"pes", "prs", "tgk", "azb", "crh", "tly", "udm", "chm", "mdf", "myv", "krl", "vep", "liv", "vot",
	"sma", "sju", "smj", "sme", "smn", "sms", "sjd", "fit", "fkv", "rom", "rmy", "sco", "scn", "nap",
	"vec", "lmo", "pms", "lij", "fur", "lld", "rgn", "eml", "srd", "cos", "frp", "oci", "wln", "pcd",
	"nrm", "gcf", "hat", "pap", "jam", "srn", "tok", "nld", "deu", "eng", "fra", "spa", "por", "ita",
	"rus", "zho", "jpn", "kor", "ara", "hin", "ben", "urd", "tur", "pol", "ukr", "ces", "slk", "hun",
	"ron", "bul", "ell", "heb", "fas", "tha", "vie", "ind", "msa", "swe", "nor", "dan", "fin", "est",
	"lav", "lit", "hrv", "srp", "slv", "bos", "mkd", "sqi", "hye", "kat", "aze", "kaz", "uzb", "tgl")
