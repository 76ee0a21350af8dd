package ingest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// Canonical value types. They are the STIX Cyber-observable types that carry an
// indicator value; hashes are of type TypeFile with Value.HashAlgo set.
const (
	TypeIPv4   = "ipv4-addr"
	TypeIPv6   = "ipv6-addr"
	TypeDomain = "domain-name"
	TypeURL    = "url"
	TypeEmail  = "email-addr"
	TypeFile   = "file"
)

// Hash algorithm names, spelled as STIX hash dictionary keys (STIX 2.1 §10.7
// hash-algorithm-ov).
const (
	HashMD5    = "MD5"
	HashSHA1   = "SHA-1"
	HashSHA256 = "SHA-256"
	HashSHA512 = "SHA-512"
	HashSSDEEP = "SSDEEP"
)

// ErrInvalidValue is wrapped by every error Normalize and Guess return for a value
// that is not a valid indicator of the requested type.
var ErrInvalidValue = errors.New("invalid indicator value")

// ErrUnknownType is wrapped by Normalize's error for a type it does not know.
var ErrUnknownType = errors.New("unknown indicator type")

// Value is a normalised indicator value.
type Value struct {
	Type     string // one of the Type* constants
	Value    string // the canonical value
	HashAlgo string // for TypeFile: one of the Hash* constants; empty otherwise
}

// Kind is the value's type as provenance records and observations key it: the STIX
// type, or "file:<algo>" for hashes ("file:sha-256"), lower case.
func (v Value) Kind() string {
	if v.Type == TypeFile {
		return "file:" + strings.ToLower(v.HashAlgo)
	}
	return v.Type
}

// typeAliases maps the type names providers use onto a canonical type, and for
// hashes onto an algorithm. "ip" picks IPv4 or IPv6 from the value; "file" and
// "hash" guess the algorithm from the value.
var typeAliases = map[string]struct{ typ, algo string }{
	TypeIPv4: {TypeIPv4, ""}, "ipv4": {TypeIPv4, ""}, "ip-dst": {"ip", ""}, "ip-src": {"ip", ""},
	TypeIPv6: {TypeIPv6, ""}, "ipv6": {TypeIPv6, ""}, "ip": {"ip", ""}, "cidr": {"ip", ""},
	TypeDomain: {TypeDomain, ""}, "domain": {TypeDomain, ""}, "hostname": {TypeDomain, ""},
	TypeURL: {TypeURL, ""}, "uri": {TypeURL, ""},
	TypeEmail: {TypeEmail, ""}, "email": {TypeEmail, ""}, "email-src": {TypeEmail, ""}, "email-dst": {TypeEmail, ""},
	TypeFile: {TypeFile, ""}, "hash": {TypeFile, ""},
	"md5": {TypeFile, HashMD5}, "file:md5": {TypeFile, HashMD5}, "filehash-md5": {TypeFile, HashMD5},
	"sha1": {TypeFile, HashSHA1}, "sha-1": {TypeFile, HashSHA1}, "file:sha-1": {TypeFile, HashSHA1}, "file:sha1": {TypeFile, HashSHA1}, "filehash-sha1": {TypeFile, HashSHA1},
	"sha256": {TypeFile, HashSHA256}, "sha-256": {TypeFile, HashSHA256}, "file:sha-256": {TypeFile, HashSHA256}, "file:sha256": {TypeFile, HashSHA256}, "filehash-sha256": {TypeFile, HashSHA256},
	"sha512": {TypeFile, HashSHA512}, "sha-512": {TypeFile, HashSHA512}, "file:sha-512": {TypeFile, HashSHA512}, "file:sha512": {TypeFile, HashSHA512},
	"ssdeep": {TypeFile, HashSSDEEP}, "file:ssdeep": {TypeFile, HashSSDEEP},
}

// Normalize returns the canonical form of value as an indicator of type typ.
//
// typ is a canonical type (TypeIPv4, ...), a Kind ("file:sha-256") or a common
// provider spelling ("ip", "hostname", "domain", "md5", "sha256", "hash", ...).
// The policy, applied to every type after Refang and trimming white space:
//   - ipv4-addr: dotted quad, leading zeros rejected; CIDR kept as CIDR with its
//     network address ("10.1.2.3/8" → "10.0.0.0/8"); a /32 becomes the address.
//   - ipv6-addr: RFC 5952 text (lower case, zeros compressed); CIDR as for IPv4; a
//     /128 becomes the address; zones are rejected; "::ffff:a.b.c.d" stays IPv6.
//   - domain-name: one trailing dot dropped, lower case, unicode labels converted
//     to their IDNA A-label (punycode, "xn--...") under UTS #46 non-transitional
//     processing; labels hold only a-z, 0-9, "-" and "_"; at least two labels, a
//     non-numeric top-level label, DNS lengths (63 per label, 253 in all).
//   - url: byte-exact after refang and trim; it must have a scheme and "://" and a
//     non-empty host, and no white space or control characters.
//   - email-addr: local part kept as given, domain part normalised as domain-name.
//   - file: hashes in lower-case hex, algorithm from the length (32 MD5, 40 SHA-1,
//     64 SHA-256, 128 SHA-512) or the ssdeep form "blocksize:hash:hash" (case kept);
//     an algorithm named by typ must match the value.
//
// An invalid value returns an error wrapping ErrInvalidValue; an unknown typ one
// wrapping ErrUnknownType.
func Normalize(typ, value string) (Value, error) {
	alias, ok := typeAliases[strings.ToLower(strings.TrimSpace(typ))]
	if !ok {
		return Value{}, fmt.Errorf("type %q: %w", typ, ErrUnknownType)
	}
	v := strings.TrimSpace(Refang(value))
	if v == "" {
		return Value{}, invalid(alias.typ, value, "empty")
	}
	switch alias.typ {
	case "ip", TypeIPv4, TypeIPv6:
		return normalizeIP(alias.typ, value, v)
	case TypeDomain:
		d, err := normalizeDomain(v)
		if err != nil {
			return Value{}, invalid(TypeDomain, value, err.Error())
		}
		return Value{Type: TypeDomain, Value: d}, nil
	case TypeURL:
		if err := checkURL(v); err != nil {
			return Value{}, invalid(TypeURL, value, err.Error())
		}
		return Value{Type: TypeURL, Value: v}, nil
	case TypeEmail:
		e, err := normalizeEmail(v)
		if err != nil {
			return Value{}, invalid(TypeEmail, value, err.Error())
		}
		return Value{Type: TypeEmail, Value: e}, nil
	default: // TypeFile
		return normalizeHash(alias.algo, value, v)
	}
}

// Guess normalises a value whose type the provider does not give, trying in
// order: IP address or CIDR, URL (has "://"), e-mail address (has "@"), hash,
// domain name. The error wraps ErrInvalidValue when nothing fits.
func Guess(value string) (Value, error) {
	v := strings.TrimSpace(Refang(value))
	if v == "" {
		return Value{}, fmt.Errorf("value %q: empty: %w", value, ErrInvalidValue)
	}
	if strings.ContainsAny(v, ":/") || isDigitsAndDots(v) {
		if r, err := normalizeIP("ip", value, v); err == nil {
			return r, nil
		}
	}
	if strings.Contains(v, "://") {
		return Normalize(TypeURL, v)
	}
	if strings.Contains(v, "@") {
		return Normalize(TypeEmail, v)
	}
	if r, err := normalizeHash("", value, v); err == nil {
		return r, nil
	}
	if d, err := normalizeDomain(v); err == nil {
		return Value{Type: TypeDomain, Value: d}, nil
	}
	return Value{}, fmt.Errorf("value %q: not an IP address, URL, e-mail address, hash or domain name: %w", value, ErrInvalidValue)
}

func invalid(typ, value, reason string) error {
	return fmt.Errorf("%s %q: %s: %w", typ, value, reason, ErrInvalidValue)
}

func isDigitsAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// refangReplacer undoes the bracket styles analysts use to defang values. Longer
// forms come first: strings.Replacer tries the old strings in argument order.
var refangReplacer = strings.NewReplacer(
	"[://]", "://", "(://)", "://",
	"[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", "{dot}", ".",
	"[DOT]", ".", "(DOT)", ".", "{DOT}", ".", `\.`, ".",
	"[:]", ":", "(:)", ":", "{:}", ":",
	"[/]", "/",
	"[@]", "@", "(@)", "@", "{@}", "@", "[at]", "@", "(at)", "@", "[AT]", "@", "(AT)", "@",
)

// defangedSchemes maps defanged URL schemes (compared case-insensitively) to the
// real ones.
var defangedSchemes = map[string]string{
	"hxxp": "http", "hxxps": "https", "hxtp": "http", "hxtps": "https",
	"meow": "http", "meows": "https", "fxp": "ftp", "fxps": "ftps",
}

// Refang undoes common defanging: bracketed separators ("[.]", "(.)", "{.}",
// "[dot]", "[:]", "[://]", "[/]", "[@]", "[at]", `\.`) and defanged URL schemes
// at the start of the value ("hxxp", "hxxps", "meow", "fxp", any case). It does not
// trim or validate.
func Refang(s string) string {
	if strings.ContainsAny(s, `[({\`) {
		s = refangReplacer.Replace(s)
	}
	if i := strings.Index(s, "://"); i > 0 && i <= 6 {
		if real, ok := defangedSchemes[strings.ToLower(s[:i])]; ok {
			s = real + s[i:]
		}
	}
	return s
}

func normalizeIP(typ, orig, v string) (Value, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return Value{}, invalid(ipTypeName(typ), orig, "not an address or CIDR block")
		}
		p = p.Masked()
		t := TypeIPv4
		if p.Addr().Is6() {
			t = TypeIPv6
		}
		if typ != "ip" && typ != t {
			return Value{}, invalid(typ, orig, "is an "+t+" CIDR block")
		}
		if p.IsSingleIP() {
			return Value{Type: t, Value: p.Addr().String()}, nil
		}
		return Value{Type: t, Value: p.String()}, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		reason := "not an address"
		if typ != TypeIPv6 && strings.Count(v, ".") == 3 && isDigitsAndDots(v) {
			reason = "not an address (leading zeros or octet out of range)"
		}
		return Value{}, invalid(ipTypeName(typ), orig, reason)
	}
	if a.Zone() != "" {
		return Value{}, invalid(ipTypeName(typ), orig, "has a zone")
	}
	t := TypeIPv4
	if a.Is6() {
		t = TypeIPv6
	}
	if typ != "ip" && typ != t {
		return Value{}, invalid(typ, orig, "is an "+t)
	}
	return Value{Type: t, Value: a.String()}, nil
}

func ipTypeName(typ string) string {
	if typ == "ip" {
		return "ip"
	}
	return typ
}

// idnaProfile is the one IDNA policy: UTS #46 lookup mapping, non-transitional
// (IDNA2008: "ß" stays "ß"), Bidi rule, DNS lengths; STD3 and hyphen rules off so
// that real-world hostnames with "_" or "--" stay representable (characters are
// checked after conversion instead).
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
	idna.VerifyDNSLength(true),
)

func normalizeDomain(v string) (string, error) {
	v = strings.TrimSuffix(v, ".")
	ascii := true
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			ascii = false
			break
		}
	}
	var d string
	if ascii {
		d = strings.ToLower(v)
	} else {
		var err error
		d, err = idnaProfile.ToASCII(v)
		if err != nil {
			return "", fmt.Errorf("IDNA: %v", err)
		}
		d = strings.ToLower(d)
	}
	if len(d) > 253 {
		return "", errors.New("longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", errors.New("not a fully qualified name (one label)")
	}
	for _, l := range labels {
		if l == "" {
			return "", errors.New("empty label")
		}
		if len(l) > 63 {
			return "", fmt.Errorf("label %q longer than 63 characters", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("label %q: character %q not allowed", l, c)
			}
		}
		if ascii && strings.HasPrefix(l, "xn--") {
			if _, err := idnaProfile.ToUnicode(l); err != nil {
				return "", fmt.Errorf("label %q: bad punycode", l)
			}
		}
	}
	if isDigitsAndDots(labels[len(labels)-1]) {
		return "", errors.New("numeric top-level label (an IP address?)")
	}
	return d, nil
}

func checkURL(v string) error {
	i := strings.Index(v, "://")
	if i <= 0 {
		return errors.New(`no scheme ("scheme://")`)
	}
	for j := 0; j < i; j++ {
		c := v[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return fmt.Errorf("scheme %q not allowed", v[:i])
		}
	}
	rest := v[i+3:]
	if rest == "" || strings.IndexAny(rest[:1], "/?#") == 0 {
		return errors.New("no host")
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("white space or control character %q", r)
		}
	}
	return nil
}

func normalizeEmail(v string) (string, error) {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 {
		return "", errors.New(`not "local@domain"`)
	}
	local := v[:at]
	for _, r := range local {
		if r <= ' ' || r == 0x7f {
			return "", fmt.Errorf("local part: white space or control character %q", r)
		}
	}
	d, err := normalizeDomain(v[at+1:])
	if err != nil {
		return "", fmt.Errorf("domain part: %v", err)
	}
	return local + "@" + d, nil
}

func normalizeHash(algo, orig, v string) (Value, error) {
	name := "file"
	if algo != "" {
		name = "file:" + strings.ToLower(algo)
	}
	if algo == HashSSDEEP || algo == "" && strings.Count(v, ":") == 2 {
		if !isSSDEEP(v) {
			return Value{}, invalid(name, orig, `not an ssdeep digest ("blocksize:hash:hash")`)
		}
		return Value{Type: TypeFile, Value: v, HashAlgo: HashSSDEEP}, nil
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return Value{}, invalid(name, orig, fmt.Sprintf("not hexadecimal (%q at offset %d)", c, i))
		}
	}
	var got string
	switch len(v) {
	case 32:
		got = HashMD5
	case 40:
		got = HashSHA1
	case 64:
		got = HashSHA256
	case 128:
		got = HashSHA512
	default:
		return Value{}, invalid(name, orig, fmt.Sprintf("%d hex digits match no supported hash (32, 40, 64, 128)", len(v)))
	}
	if algo != "" && algo != got {
		return Value{}, invalid(name, orig, fmt.Sprintf("%d hex digits is %s, not %s", len(v), got, algo))
	}
	return Value{Type: TypeFile, Value: strings.ToLower(v), HashAlgo: got}, nil
}

// isSSDEEP checks the ssdeep form "blocksize:hash:hash" with a decimal block size
// and base64 alphabet hashes.
func isSSDEEP(v string) bool {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for i := 0; i < len(parts[0]); i++ {
		if parts[0][i] < '0' || parts[0][i] > '9' {
			return false
		}
	}
	for _, p := range parts[1:] {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
				return false
			}
		}
	}
	return true
}
