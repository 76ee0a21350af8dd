package misp

import (
	"strconv"
	"strings"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

// poolTypes maps the MISP attribute types whose value is one of the pool's
// indicator kinds (ingest.Normalize) onto the type name Normalize takes.
var poolTypes = map[string]string{
	"ip-src": "ip", "ip-dst": "ip",
	"domain": "domain", "hostname": "hostname",
	"url": "url", "uri": "url",
	"email": "email", "email-src": "email", "email-dst": "email",
	"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512", "ssdeep": "ssdeep",
}

// compositeTypes maps composite types ("a|b") onto the handling of each part: a
// Normalize type for a pool value, or "port" / "filename" kept in the verdict.
var compositeTypes = map[string][2]string{
	"ip-src|port": {"ip", "port"}, "ip-dst|port": {"ip", "port"},
	"hostname|port": {"hostname", "port"}, "domain|ip": {"domain", "ip"},
	"filename|md5": {"filename", "md5"}, "filename|sha1": {"filename", "sha1"},
	"filename|sha256": {"filename", "sha256"}, "filename|sha512": {"filename", "sha512"},
	"filename|ssdeep": {"filename", "ssdeep"},
	"malware-sample":  {"filename", "md5"},
}

// hashKeys are the STIX hash dictionary keys of the hash types the pool does not
// take (misp.md §4.1).
var hashKeys = map[string]string{
	"sha224": "SHA-224", "sha384": "SHA-384",
	"sha3-224": "SHA3-224", "sha3-256": "SHA3-256", "sha3-384": "SHA3-384", "sha3-512": "SHA3-512",
	"tlsh": "TLSH", "imphash": "IMPHASH", "authentihash": "AUTHENTIHASH", "vhash": "VHASH",
	"pehash": "PEHASH", "telfhash": "TELFHASH", "impfuzzy": "IMPFUZZY",
}

// patterningTypes are the attribute types whose value is a rule in another
// patterning language: the indicator's pattern_type is the type.
var patterningTypes = map[string]bool{"yara": true, "sigma": true, "snort": true, "suricata": true}

// nonPool is the STIX rendering of an attribute whose value is no pool kind: a
// pattern (pattern_type stix or a rule language) for an indicator when the
// attribute is detection-worthy, and an SCO for the observable otherwise (nil
// where misp.md §4.1 has none). ok is false for types without a STIX mapping.
type nonPool struct {
	pattern     string
	patternType string
	sco         scoBuilder
}

// scoBuilder builds an attribute's SCO.
type scoBuilder func() (sco, bool)

// nonPoolMapping maps an attribute of a type outside the pool (misp.md §4.1).
func nonPoolMapping(typ, value string) (nonPool, bool) {
	eq := pattern.Equals
	and := func(cs ...*pattern.Comparison) string { return pattern.And(cs...) }
	cmp := func(obj, path, v string) *pattern.Comparison {
		c, err := pattern.EqualsComparison(obj, path, v)
		if err != nil {
			return nil
		}
		return c
	}
	intCmp := func(obj, path string, n int64) *pattern.Comparison {
		c := cmp(obj, path, "")
		if c != nil {
			c.Value = pattern.IntLiteral(n)
		}
		return c
	}
	if patterningTypes[typ] {
		return nonPool{pattern: strings.TrimSpace(value), patternType: typ}, strings.TrimSpace(value) != ""
	}
	if key, ok := hashKeys[typ]; ok {
		return nonPool{pattern: eq("file", "hashes."+key, value), sco: fileSCO("", key, value)}, true
	}
	if first, second, ok := strings.Cut(typ, "|"); ok && first == "filename" {
		if key, ok := hashKeys[second]; ok {
			name, h, _ := strings.Cut(value, "|")
			return nonPool{pattern: and(cmp("file", "name", name), cmp("file", "hashes."+key, h)), sco: fileSCO(name, key, h)}, true
		}
	}
	switch typ {
	case "filename":
		return nonPool{pattern: eq("file", "name", value), sco: fileSCO(value, "", "")}, true
	case "mutex":
		return nonPool{pattern: eq("mutex", "name", value), sco: simpleSCO("mutex", "name", value)}, true
	case "mac-address":
		v := strings.ToLower(value)
		return nonPool{pattern: eq("mac-addr", "value", v), sco: simpleSCO("mac-addr", "value", v)}, true
	case "regkey":
		return nonPool{pattern: eq("windows-registry-key", "key", value), sco: simpleSCO("windows-registry-key", "key", value)}, true
	case "regkey|value":
		k, v, _ := strings.Cut(value, "|")
		return nonPool{pattern: and(cmp("windows-registry-key", "key", k), cmp("windows-registry-key", "values[*].data", v)),
			sco: simpleSCO("windows-registry-key", "key", k)}, true
	case "AS":
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(value)), "AS"), 10, 64)
		if err != nil || n < 0 {
			return nonPool{}, false
		}
		return nonPool{pattern: pattern.And(intCmp("autonomous-system", "number", n)), sco: asSCO(n)}, true
	case "x509-fingerprint-md5", "x509-fingerprint-sha1", "x509-fingerprint-sha256":
		key := map[string]string{"x509-fingerprint-md5": "MD5", "x509-fingerprint-sha1": "SHA-1", "x509-fingerprint-sha256": "SHA-256"}[typ]
		v := strings.ToLower(strings.ReplaceAll(value, ":", ""))
		return nonPool{pattern: eq("x509-certificate", "hashes."+key, v)}, true
	case "user-agent":
		return nonPool{pattern: eq("network-traffic", "extensions.'http-request-ext'.request_header.'User-Agent'", value)}, true
	case "http-method":
		return nonPool{pattern: eq("network-traffic", "extensions.'http-request-ext'.request_method", value)}, true
	case "port":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || n < 0 || n > 65535 {
			return nonPool{}, false
		}
		return nonPool{pattern: pattern.And(intCmp("network-traffic", "dst_port", n))}, true
	case "size-in-bytes":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || n < 0 {
			return nonPool{}, false
		}
		return nonPool{pattern: pattern.And(intCmp("file", "size", n))}, true
	case "email-subject":
		return nonPool{pattern: eq("email-message", "subject", value)}, true
	case "email-body":
		return nonPool{pattern: eq("email-message", "body", value)}, true
	case "email-header":
		return nonPool{pattern: eq("email-message", "received_lines", value)}, true
	case "email-message-id":
		return nonPool{pattern: eq("email-message", "message_id", value)}, true
	case "email-x-mailer":
		return nonPool{pattern: eq("email-message", "additional_header_fields.x_mailer", value)}, true
	case "email-reply-to":
		return nonPool{pattern: eq("email-message", "additional_header_fields.reply_to", value)}, true
	case "email-attachment":
		return nonPool{pattern: eq("email-message", "body_multipart[*].body_raw_ref.name", value)}, true
	case "github-username":
		return nonPool{pattern: and(cmp("user-account", "account_type", "github"), cmp("user-account", "account_login", value))}, true
	}
	return nonPool{}, false
}
