package misp

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// defaultCategory is MISP's default category per attribute type
// (describeTypes.json sane_defaults) for the types Export writes.
var defaultCategory = map[string]string{
	"ip-src": "Network activity", "ip-dst": "Network activity", "ip-src|port": "Network activity",
	"ip-dst|port": "Network activity", "domain": "Network activity", "hostname": "Network activity",
	"hostname|port": "Network activity", "domain|ip": "Network activity", "url": "Network activity",
	"uri": "Network activity", "link": "External analysis", "email": "Social network",
	"email-src": "Payload delivery", "email-dst": "Network activity", "AS": "Network activity",
	"mac-address": "Network activity", "x509-fingerprint-md5": "Network activity",
	"x509-fingerprint-sha1": "Network activity", "x509-fingerprint-sha256": "Network activity",
	"user-agent": "Network activity", "port": "Network activity", "http-method": "Network activity",
	"mutex": "Artifacts dropped", "regkey": "Persistence mechanism", "regkey|value": "Persistence mechanism",
	"stix2-pattern": "Payload installation", "yara": "Payload installation", "sigma": "Payload installation",
	"snort": "Network activity", "suricata": "Network activity", "vulnerability": "External analysis",
	"campaign-name": "Attribution", "size-in-bytes": "Other", "github-username": "Social network",
}

// category returns the default category of typ: the table above, else
// "Payload delivery" (every hash, filename and e-mail header type's default).
func category(typ string) string {
	if c, ok := defaultCategory[typ]; ok {
		return c
	}
	return "Payload delivery"
}

// hashTypes maps STIX hash keys (upper case, as ingest and misp-stix write them)
// onto MISP attribute types.
var hashTypes = map[string]string{
	"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512", "SSDEEP": "ssdeep",
	"SHA-224": "sha224", "SHA-384": "sha384", "SHA3-224": "sha3-224", "SHA3-256": "sha3-256",
	"SHA3-384": "sha3-384", "SHA3-512": "sha3-512", "TLSH": "tlsh", "IMPHASH": "imphash",
	"AUTHENTIHASH": "authentihash", "VHASH": "vhash", "PEHASH": "pehash", "TELFHASH": "telfhash",
	"IMPFUZZY": "impfuzzy",
}

// nativeTypes lists, per pool kind, the MISP types that can hold one value of
// that kind: Native's answers outside them are ignored.
var nativeTypes = map[string][]string{
	ingest.TypeIPv4:   {"ip-dst", "ip-src"},
	ingest.TypeIPv6:   {"ip-dst", "ip-src"},
	ingest.TypeDomain: {"domain", "hostname"},
	ingest.TypeURL:    {"url", "uri", "link"},
	ingest.TypeEmail:  {"email-src", "email-dst", "email", "target-email", "whois-registrant-email", "dns-soa-email", "email-reply-to"},
	"file:md5":        {"md5"}, "file:sha-1": {"sha1"}, "file:sha-256": {"sha256"}, "file:sha-512": {"sha512"},
	"file:ssdeep": {"ssdeep"},
}

// simplePaths maps object-type:path of a single-comparison pattern onto the
// attribute type (misp.md §4.1 read backwards).
var simplePaths = map[string]string{
	"ipv4-addr:value": "ip-dst", "ipv6-addr:value": "ip-dst",
	"network-traffic:dst_ref.value": "ip-dst", "network-traffic:src_ref.value": "ip-src",
	"domain-name:value": "domain", "url:value": "url", "email-addr:value": "email-src",
	"email-message:from_ref.value": "email-src", "email-message:to_refs[*].value": "email-dst",
	"file:name": "filename", "mutex:name": "mutex", "windows-registry-key:key": "regkey",
	"autonomous-system:number": "AS", "mac-addr:value": "mac-address",
	"x509-certificate:hashes.MD5": "x509-fingerprint-md5", "x509-certificate:hashes.'SHA-1'": "x509-fingerprint-sha1",
	"x509-certificate:hashes.'SHA-256'": "x509-fingerprint-sha256",
	"email-message:subject":             "email-subject", "email-message:body": "email-body",
	"email-message:received_lines": "email-header", "email-message:message_id": "email-message-id",
	"email-message:additional_header_fields.x_mailer":                           "email-x-mailer",
	"email-message:additional_header_fields.reply_to":                           "email-reply-to",
	"email-message:body_multipart[*].body_raw_ref.name":                         "email-attachment",
	"network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'": "user-agent",
	"network-traffic:extensions.'http-request-ext'.request_method":              "http-method",
	"network-traffic:dst_port":                                                  "port", "file:size": "size-in-bytes",
}

// patternLanguages are the pattern_type values that are MISP attribute types.
var patternLanguages = map[string]bool{"yara": true, "sigma": true, "snort": true, "suricata": true}

// labelValue returns the value of a label misp:<pred>="v".
func labelValue(labels []string, pred string) string {
	prefix := "misp:" + pred + `="`
	for _, l := range labels {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, `"`) {
			return l[len(prefix) : len(l)-1]
		}
	}
	return ""
}

// kindOf returns the pool kind and normalised value of a value of MISP type
// typ, or "" when typ is no pool type.
func kindOf(typ, value string) (kind, norm string) {
	nt := poolTypes[typ]
	if nt == "" {
		return "", ""
	}
	v, err := ingest.Normalize(nt, value)
	if err != nil {
		return "", ""
	}
	return v.Kind(), v.Value
}

// native resolves the attribute type and category of a pool value: the
// labels' misp:type (kept by the MISP converter on indicators it authors),
// then Native, then def.
func (x *exporter) native(kind, value, def string, labels []string) (typ, cat string) {
	typ = def
	allowed := nativeTypes[kind]
	ok := func(t string) bool {
		for _, a := range allowed {
			if a == t {
				return true
			}
		}
		return false
	}
	if t := labelValue(labels, "type"); t != "" && ok(t) {
		return t, labelCategory(labels, t)
	}
	if x.opt.Native != nil && kind != "" {
		if t, c, found := x.opt.Native(kind, value); found && ok(t) {
			if c == "" {
				c = category(t)
			}
			return t, c
		}
	}
	return typ, category(typ)
}

func labelCategory(labels []string, typ string) string {
	if c := labelValue(labels, "category"); c != "" {
		return c
	}
	return category(typ)
}

// indicatorAttr maps an indicator's pattern onto an attribute (to_ids true).
func (x *exporter) indicatorAttr(o *xobj) (*attr, bool) {
	pt := strings.ToLower(strings.TrimSpace(o.PatternType))
	if pt == "" {
		pt = "stix"
	}
	if pt != "stix" {
		if !patternLanguages[pt] {
			x.warn(o.ID, "pattern_type", "%q has no MISP attribute type; skipped", o.PatternType)
			return nil, false
		}
		v := strings.TrimSpace(o.Pattern)
		return &attr{key: pt + "|" + v, typ: pt, cat: labelCategory(o.Labels, pt), value: v, toIDs: true}, v != ""
	}
	p, err := pattern.Parse(o.Pattern)
	if err != nil {
		x.warn(o.ID, "pattern", "%v; skipped", err)
		return nil, false
	}
	// A type the MISP converter recorded: the value is whatever, joined by |,
	// gives back the same pattern through the converter's own mapping.
	if t := labelValue(o.Labels, "type"); t != "" && poolTypes[t] == "" {
		if _, known := defaultToIDs[t]; known {
			var vals []string
			for _, c := range p.Comparisons() {
				vals = append(vals, c.Value.Text())
			}
			v := strings.Join(vals, "|")
			if m, ok := nonPoolMapping(t, v); ok && m.pattern != "" && samePattern(m.pattern, o.Pattern) {
				if t == "AS" && !strings.HasPrefix(strings.ToUpper(v), "AS") {
					v = "AS" + v
				}
				return &attr{key: t + "|" + v, typ: t, cat: labelCategory(o.Labels, t), value: v, toIDs: true}, true
			}
		}
	}
	if c, ok := p.SimpleComparison(); ok && c.Op == pattern.OpEqual && !c.Negated {
		return x.comparisonAttr(c.Path, c.Value.Text(), o.Labels, true), true
	}
	if a := x.compositeAttr(p, o.Labels); a != nil {
		return a, true
	}
	return &attr{key: "stix2-pattern|" + o.Pattern, typ: "stix2-pattern", cat: labelCategory(o.Labels, "stix2-pattern"),
		value: o.Pattern, toIDs: true}, true
}

func samePattern(a, b string) bool {
	if a == b {
		return true
	}
	pa, err1 := pattern.Parse(a)
	pb, err2 := pattern.Parse(b)
	return err1 == nil && err2 == nil && pa.String() == pb.String()
}

// comparisonAttr maps one equality comparison onto an attribute.
func (x *exporter) comparisonAttr(path pattern.ObjectPath, value string, labels []string, toIDs bool) *attr {
	key := path.ObjectType + ":" + path.Property()
	typ := simplePaths[key]
	if path.ObjectType == "file" && len(path.Steps) == 2 && path.Steps[0].Key == "hashes" {
		if t, ok := hashTypes[strings.ToUpper(path.Steps[1].Key)]; ok {
			typ = t
		}
	}
	if typ == "" {
		p := pattern.Equals(path.ObjectType, path.Property(), value)
		return &attr{key: "stix2-pattern|" + p, typ: "stix2-pattern", cat: category("stix2-pattern"), value: p, toIDs: toIDs}
	}
	if kind, norm := kindOf(typ, value); kind != "" {
		t, c := x.native(kind, norm, typ, labels)
		return &attr{key: kind + "|" + norm, kind: kind, typ: t, cat: c, value: norm, toIDs: toIDs}
	}
	t := typ
	if typ == "AS" && !strings.HasPrefix(strings.ToUpper(value), "AS") {
		value = "AS" + value // MISP writes AS numbers as AS174
	}
	if lt := labelValue(labels, "type"); lt == typ {
		return &attr{key: t + "|" + value, typ: t, cat: labelCategory(labels, t), value: value, toIDs: toIDs}
	}
	return &attr{key: t + "|" + value, typ: t, cat: category(t), value: value, toIDs: toIDs}
}

// compositeAttr maps the misp-stix shapes of composite types (one observation,
// equality comparisons joined by AND): filename|<hash>, domain|ip,
// ip-src|port, ip-dst|port, hostname|port, regkey|value, and the ip-src/ip-dst
// form network-traffic:dst_ref.type = 'ipv4-addr' AND …dst_ref.value = '…'.
func (x *exporter) compositeAttr(p *pattern.Pattern, labels []string) *attr {
	obs, ok := p.Expr.(*pattern.ObservationSimple)
	if !ok {
		return nil
	}
	var cs []*pattern.Comparison
	switch c := obs.Comparison.(type) {
	case *pattern.ComparisonCompound:
		if c.Op != pattern.JoinAnd {
			return nil
		}
		for _, op := range c.Operands {
			cmp, ok := op.(*pattern.Comparison)
			if !ok {
				return nil
			}
			cs = append(cs, cmp)
		}
	default:
		return nil
	}
	vals := map[string]string{}
	var paths []string
	for _, c := range cs {
		if c.Op != pattern.OpEqual || c.Negated {
			return nil
		}
		k := c.Path.ObjectType + ":" + c.Path.Property()
		if _, dup := vals[k]; dup {
			return nil
		}
		vals[k] = c.Value.Text()
		paths = append(paths, k)
	}
	sort.Strings(paths)
	mk := func(typ, value string) *attr {
		if lt := labelValue(labels, "type"); lt != "" && lt != typ {
			// the label names another composite of the same shape (ip-src|port for ip-dst|port)
			if _, known := defaultToIDs[lt]; known && strings.Count(lt, "|") == strings.Count(typ, "|") {
				typ = lt
			}
		}
		return &attr{key: typ + "|" + value, typ: typ, cat: labelCategory(labels, typ), value: value, toIDs: true}
	}
	// filename|<hash>
	if name, ok := vals["file:name"]; ok && len(vals) == 2 {
		for k, v := range vals {
			if algo, ok := strings.CutPrefix(k, "file:hashes."); ok {
				if t, ok := hashTypes[strings.ToUpper(strings.Trim(algo, "'"))]; ok {
					return mk("filename|"+t, name+"|"+v)
				}
			}
		}
	}
	if d, ok := vals["domain-name:value"]; ok && len(vals) == 2 {
		if ip, ok := vals["domain-name:resolves_to_refs[*].value"]; ok {
			return mk("domain|ip", d+"|"+ip)
		}
		if port, ok := vals["network-traffic:dst_port"]; ok {
			return mk("hostname|port", d+"|"+port)
		}
	}
	if k, ok := vals["windows-registry-key:key"]; ok && len(vals) == 2 {
		for _, dp := range []string{"windows-registry-key:values[*].data", "windows-registry-key:values.data"} {
			if d, ok := vals[dp]; ok {
				return mk("regkey|value", k+"|"+d)
			}
		}
	}
	for _, dir := range []string{"dst", "src"} {
		ip, ok := vals["network-traffic:"+dir+"_ref.value"]
		if !ok {
			continue
		}
		n := 1
		if t, ok := vals["network-traffic:"+dir+"_ref.type"]; ok {
			if t != "ipv4-addr" && t != "ipv6-addr" {
				return nil
			}
			n++
		}
		port, hasPort := vals["network-traffic:"+dir+"_port"]
		if hasPort {
			n++
		}
		if n != len(vals) {
			return nil
		}
		typ := "ip-" + dir
		if !hasPort {
			kind, norm := kindOf(typ, ip)
			if kind == "" {
				return nil
			}
			t, c := x.native(kind, norm, typ, labels)
			return &attr{key: kind + "|" + norm, kind: kind, typ: t, cat: c, value: norm, toIDs: true}
		}
		return mk(typ+"|port", ip+"|"+port)
	}
	return nil
}

// scoAttrs maps an SCO onto attributes (to_ids false): one per value, and per
// hash of a file.
func (x *exporter) scoAttrs(o *xobj) []*attr {
	one := func(objType, path, value string) []*attr {
		if value == "" {
			return nil
		}
		p, err := pattern.ParsePath(objType, path)
		if err != nil {
			return nil
		}
		return []*attr{x.comparisonAttr(p, value, o.Labels, false)}
	}
	switch o.Type {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "mac-addr":
		return one(o.Type, "value", o.str())
	case "mutex":
		return one(o.Type, "name", o.Name)
	case "windows-registry-key":
		return one(o.Type, "key", o.Key)
	case "autonomous-system":
		if o.Number == nil {
			return nil
		}
		return one(o.Type, "number", strconv.FormatInt(*o.Number, 10))
	case "file", "x509-certificate":
		var out []*attr
		keys := make([]string, 0, len(o.Hashes))
		for k := range o.Hashes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			path := "hashes." + quoteKey(k)
			out = append(out, one(o.Type, path, o.Hashes[k])...)
		}
		if o.Type == "file" && len(keys) == 0 {
			out = append(out, one("file", "name", o.Name)...)
		}
		return out
	}
	return nil
}

// quoteKey quotes a path key that is not a plain identifier.
func quoteKey(k string) string {
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b, _ := json.Marshal(k)
			return "'" + strings.Trim(string(b), `"`) + "'"
		}
	}
	return k
}
