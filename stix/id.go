package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
)

// SCONamespace is the UUIDv5 namespace for deterministic SCO ids (§2.9).
var SCONamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// NewID returns a new identifier typ--UUIDv4 (§2.9), as SDOs, SROs, meta objects
// and bundles should use.
func NewID(typ string) string { return typ + "--" + uuid.NewString() }

// DeterministicID returns typ--UUIDv5(namespace, name). ctibroker uses it with its
// own namespace for the objects it authors; namespace must not be SCONamespace
// for anything but SCOs (§2.9).
func DeterministicID(typ string, namespace uuid.UUID, name string) string {
	return typ + "--" + uuid.NewSHA1(namespace, []byte(name)).String()
}

// IDType returns the object type part of an identifier ("indicator" for
// "indicator--…"), or "" if id has no "--".
func IDType(id string) string {
	i := strings.Index(id, "--")
	if i < 0 {
		return ""
	}
	return id[:i]
}

// ValidID reports whether id is a well-formed identifier: a valid type name, "--",
// and an RFC 4122 UUID in lower-case hex (§2.9).
func ValidID(id string) bool {
	_, problem, upper := checkIdentifier(id)
	return problem == "" && !upper
}

// checkIdentifier checks the form type--UUID. It returns the type part, a
// problem description ("" if well-formed), and whether the UUID uses upper-case
// hex (accepted by the OASIS schema regexp, but not canonical).
func checkIdentifier(id string) (typ, problem string, upper bool) {
	i := strings.Index(id, "--")
	if i < 0 {
		return "", "not an identifier type--UUID", false
	}
	typ = id[:i]
	if !validTypeName(typ) {
		return typ, "type part " + quote(typ) + " is not a valid object type name", false
	}
	u := id[i+2:]
	if len(u) != 36 {
		return typ, "UUID part is not 36 characters", false
	}
	if ok, up := uuidForm(u); ok {
		upper = up
	} else {
		return typ, uuidFormProblem(u), false
	}
	if v := u[14]; v < '1' || v > '5' {
		return typ, "UUID version must be 1 to 5 (RFC 4122)", upper
	}
	switch u[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
	default:
		return typ, "UUID variant must be RFC 4122", upper
	}
	return typ, "", upper
}

// uuidHex classifies bytes for uuidForm: bit 2 for a hex digit, bit 1 for an
// upper-case one.
var uuidHex = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 4
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = 4
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = 6
	}
	return t
}()

// uuidForm reports whether the 36 bytes of u are 8-4-4-4-12 hex digits and
// whether any is upper case.
func uuidForm(u string) (ok, upper bool) {
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return false, false
	}
	and, or := uint8(0xff), uint8(0)
	for _, r := range [5][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		for k := r[0]; k < r[1]; k++ {
			v := uuidHex[u[k]]
			and &= v
			or |= v
		}
	}
	return and&4 != 0, or&2 != 0
}

// uuidFormProblem says what is wrong in a 36-byte UUID that uuidForm rejects.
func uuidFormProblem(u string) string {
	for k := 0; k < 36; k++ {
		c := u[k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return "UUID part is malformed"
			}
			continue
		}
		if uuidHex[c] == 0 {
			return "UUID part has a non-hex character"
		}
	}
	return "UUID part is malformed"
}

// uuidVersion returns the version digit of a well-formed identifier.
func uuidVersion(id string) byte {
	i := strings.Index(id, "--")
	if i < 0 || len(id) < i+2+15 {
		return 0
	}
	return id[i+2+14]
}

// validTypeName checks an object type name: 3–250 characters of a–z, 0–9 and
// hyphen, starting with a letter, no double hyphen at the end (§3.1, §11.2).
func validTypeName(t string) bool {
	if len(t) < 3 || len(t) > 250 {
		return false
	}
	if t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
		if c == '-' && i > 0 && t[i-1] == '-' {
			return false
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// contributing lists the ID-contributing properties of each SCO (§6, "ID
// Contributing Properties"). process has none: it always gets a UUIDv4.
var contributing = map[string][]string{
	"artifact":             {"hashes", "payload_bin"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"email-message":        {"from_ref", "subject", "body"},
	"file":                 {"hashes", "name", "extensions", "parent_directory_ref"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
	"process":              {},
	"software":             {"name", "cpe", "swid", "vendor", "version"},
	"url":                  {"value"},
	"user-account":         {"account_type", "user_id", "account_login"},
	"windows-registry-key": {"key", "values"},
	"x509-certificate":     {"hashes", "serial_number"},
}

// ContributingProperties returns the ID-contributing properties of the STIX 2.1
// SCO type typ, and false if typ is not one.
func ContributingProperties(typ string) ([]string, bool) {
	p, ok := contributing[typ]
	return append([]string(nil), p...), ok
}

// hashPreference is the order in which one hash is chosen for the id (as
// cti-python-stix2 does; see ../shared/reference/stix.md §1).
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// ErrNoContributing means an SCO has none of its ID-contributing properties, so
// its id must be a UUIDv4 (§2.9).
var ErrNoContributing = errors.New("no ID-contributing property present")

// SCOID returns the deterministic identifier typ--UUIDv5 of an SCO from its
// ID-contributing properties (§2.9): contributing holds property values as they
// would appear in JSON (strings, float64 or int numbers, maps, slices). Properties
// that are not ID-contributing for typ are ignored; of "hashes" only one is used,
// the first present of MD5, SHA-1, SHA-256, SHA-512, else the smallest key. The
// JSON is canonicalised with RFC 8785 (JCS). It returns ErrNoContributing if none
// is present (use NewID then).
func SCOID(typ string, contributing map[string]any) (string, error) {
	props, ok := ContributingProperties(typ)
	if !ok {
		return "", fmt.Errorf("SCO id: %q is not a STIX 2.1 SCO type", typ)
	}
	sel := map[string]any{}
	for _, p := range props {
		v, ok := contributing[p]
		if !ok || v == nil {
			continue
		}
		if p == "hashes" {
			h, err := pickHash(v)
			if err != nil {
				return "", err
			}
			if h == nil {
				continue
			}
			v = h
		}
		sel[p] = v
	}
	if len(sel) == 0 {
		return "", ErrNoContributing
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sel); err != nil {
		return "", fmt.Errorf("SCO id: %w", err)
	}
	canon, err := jcs.Transform(bytes.TrimSpace(buf.Bytes()))
	if err != nil {
		return "", fmt.Errorf("SCO id: canonical JSON: %w", err)
	}
	return DeterministicID(typ, SCONamespace, string(canon)), nil
}

func pickHash(v any) (map[string]any, error) {
	var m map[string]any
	switch h := v.(type) {
	case map[string]string:
		m = make(map[string]any, len(h))
		for k, s := range h {
			m[k] = s
		}
	case map[string]any:
		m = h
	default:
		return nil, fmt.Errorf("SCO id: hashes must be a map, got %T", v)
	}
	for _, alg := range hashPreference {
		if s, ok := m[alg]; ok {
			return map[string]any{alg: s}, nil
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return map[string]any{keys[0]: m[keys[0]]}, nil
}

// SCOIDOf returns the deterministic identifier of the SCO whose JSON is obj,
// computed from the ID-contributing properties present in it (§2.9). Of "hashes"
// the first present of MD5, SHA-1, SHA-256, SHA-512 is used, else the first key in
// input order.
func SCOIDOf(obj []byte) (string, error) {
	o, members, err := parseObject(obj, DefaultLimits, 0, nil)
	if err != nil {
		return "", err
	}
	return scoIDFromMembers(o.Type, members)
}

func scoIDFromMembers(typ string, members []member) (string, error) {
	props, ok := contributing[typ]
	if !ok {
		return "", fmt.Errorf("SCO id: %q is not a STIX 2.1 SCO type", typ)
	}
	var b []byte
	n := 0
	for _, p := range props {
		for _, m := range members {
			if m.key != p || m.kind == jNull {
				continue
			}
			val := m.val
			if p == "hashes" {
				if m.kind != jObject {
					return "", errors.New("SCO id: hashes is not an object")
				}
				val = pickHashRaw(m.val)
				if val == nil {
					continue
				}
			}
			if n == 0 {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			n++
			b = append(b, '"')
			b = append(b, p...)
			b = append(b, '"', ':')
			b = append(b, val...)
			break
		}
	}
	if n == 0 {
		return "", ErrNoContributing
	}
	b = append(b, '}')
	canon, err := jcs.Transform(b)
	if err != nil {
		return "", fmt.Errorf("SCO id: canonical JSON: %w", err)
	}
	return DeterministicID(typ, SCONamespace, string(canon)), nil
}

// pickHashRaw returns {"ALG":"value"} for the preferred hash of a hashes object.
func pickHashRaw(val []byte) []byte {
	ms := objectMembers(val, nil)
	if len(ms) == 0 {
		return nil
	}
	pick := ms[0]
	found := false
	for _, alg := range hashPreference {
		for _, m := range ms {
			if m.key == alg {
				pick, found = m, true
				break
			}
		}
		if found {
			break
		}
	}
	out := []byte{'{'}
	k, _ := json.Marshal(pick.key)
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, pick.val...)
	return append(out, '}')
}
