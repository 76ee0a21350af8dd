package warninglist

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/net/idna"
)

// kind is the kind of value a STIX type names, as far as matching cares.
type kind uint16

const (
	kindIP kind = 1 << iota
	kindDomain
	kindURL
	kindEmail
	kindMD5
	kindSHA1
	kindSHA224
	kindSHA256
	kindSHA512
	kindSSDEEP
	kindX509SHA1
	kindX509SHA256
	kindX509MD5
)

// attrKinds maps the MISP attribute types found in matching_attributes to the
// kinds of value they cover. Composite types (filename|sha256, domain|ip)
// cover their value part.
var attrKinds = map[string]kind{
	"ip-src": kindIP, "ip-dst": kindIP, "ip-src|port": kindIP, "ip-dst|port": kindIP,
	"domain|ip": kindIP | kindDomain, "domain": kindDomain, "hostname": kindDomain, "hostname|port": kindDomain,
	"url": kindURL, "uri": kindURL, "link": kindURL,
	"email": kindEmail, "email-src": kindEmail, "email-dst": kindEmail, "target-email": kindEmail,
	"whois-registrant-email": kindEmail, "email-reply-to": kindEmail,
	"md5": kindMD5, "filename|md5": kindMD5, "sha1": kindSHA1, "filename|sha1": kindSHA1,
	"sha224": kindSHA224, "filename|sha224": kindSHA224, "sha256": kindSHA256, "filename|sha256": kindSHA256,
	"sha512": kindSHA512, "filename|sha512": kindSHA512, "ssdeep": kindSSDEEP, "filename|ssdeep": kindSSDEEP,
	"x509-fingerprint-sha1": kindX509SHA1, "x509-fingerprint-sha256": kindX509SHA256,
	"x509-fingerprint-md5": kindX509MD5,
}

// typeKinds maps the value types Match accepts to kinds.
var typeKinds = map[string]kind{
	"ipv4-addr": kindIP, "ipv6-addr": kindIP, "domain-name": kindDomain, "url": kindURL,
	"email-addr": kindEmail,
	"file:md5":   kindMD5, "file:sha1": kindSHA1, "file:sha224": kindSHA224, "file:sha256": kindSHA256,
	"file:sha512": kindSHA512, "file:ssdeep": kindSSDEEP,
	"x509-certificate:sha1": kindX509SHA1, "x509-certificate:sha256": kindX509SHA256,
	"x509-certificate:md5": kindX509MD5,
}

// kindOf returns the matching kind for typ, also accepting hash names the
// way STIX writes them ("file:SHA-256"), and for a bare "file" infers the
// hash algorithm from the length of value. ok is false for a type no list
// can match.
func kindOf(typ, value string) (kind, bool) {
	if k, ok := typeKinds[typ]; ok {
		return k, true
	}
	if t := strings.ToLower(strings.ReplaceAll(typ, "-", "")); t != typ {
		if k, ok := typeKinds[strings.Replace(t, "x509certificate", "x509-certificate", 1)]; ok {
			return k, true
		}
	}
	if typ == "file" {
		switch len(value) {
		case 32:
			return kindMD5, true
		case 40:
			return kindSHA1, true
		case 56:
			return kindSHA224, true
		case 64:
			return kindSHA256, true
		case 128:
			return kindSHA512, true
		}
	}
	return 0, false
}

// Hit is one list that holds a value.
type Hit struct {
	// List is the list's id (e.g. "rfc1918").
	List string `json:"list"`
	// Name is the list's human name.
	Name string `json:"name"`
	// Tier is what the hit means for a score.
	Tier Tier `json:"tier"`
	// ContextOnly is true when the hit must never lower a score.
	ContextOnly bool `json:"context_only"`
	// Entry is the list entry that matched.
	Entry string `json:"entry"`
}

type listInfo struct {
	id, name string
	typ      Type
	tier     Tier
	kinds    kind
}

// domainRef is one list entry keyed by a domain name.
type domainRef struct {
	list uint16
	sub  bool // the entry also covers sub-domains
}

type patternList struct {
	list    uint16
	entries []string
	res     []*regexp.Regexp
}

// Set is a compiled collection of lists. It is immutable and safe for
// concurrent use.
type Set struct {
	lists   []listInfo
	v4, v6  *trie
	domains map[string][]domainRef
	exact   map[string][]uint16
	substr  []patternList
	regex   []patternList
	suffix  map[string]struct{}
}

// PublicSuffixListID is the list used as the public suffix list: Mozilla's
// Public Suffix List, ICANN and private sections, as MISP publishes it.
const PublicSuffixListID = "second-level-tlds"

// NewSet compiles lists. If one of them has the id PublicSuffixListID it
// also serves as the public suffix list that hostname matching uses to find
// registrable domains; without it every single-label name is taken as the
// only public suffix. Lists are ordered by id; an id given twice is an
// error.
func NewSet(lists ...*List) (*Set, error) {
	sorted := append([]*List(nil), lists...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	if len(sorted) > 1<<16-1 {
		return nil, fmt.Errorf("%w: more than 65535 lists", ErrInvalidList)
	}
	s := &Set{
		v4: newTrie(), v6: newTrie(),
		domains: map[string][]domainRef{},
		exact:   map[string][]uint16{},
		suffix:  map[string]struct{}{},
	}
	for i, l := range sorted {
		if i > 0 && sorted[i-1].ID == l.ID {
			return nil, fmt.Errorf("%w %q: given twice", ErrInvalidList, l.ID)
		}
		if l.ID == PublicSuffixListID {
			for _, e := range l.Entries {
				s.suffix[strings.TrimPrefix(strings.ToLower(e), ".")] = struct{}{}
			}
		}
		var ks kind
		for _, a := range l.MatchingAttributes {
			ks |= attrKinds[a]
		}
		tier := l.Tier
		if tier == 0 {
			tier = TierFor(l.ID, l.Category)
		}
		s.lists = append(s.lists, listInfo{id: l.ID, name: l.Name, typ: l.Type, tier: tier, kinds: ks})
		if err := s.add(uint16(i), l, ks); err != nil {
			return nil, err
		}
	}
	s.v4.index, s.v6.index = nil, nil
	return s, nil
}

func (s *Set) add(id uint16, l *List, ks kind) error {
	switch l.Type {
	case TypeCIDR:
		for n, e := range l.Entries {
			p, err := parsePrefix(e)
			if err != nil {
				return fmt.Errorf("%w %q: entry %d %q: not an address or network", ErrInvalidList, l.ID, n, e)
			}
			k, _ := keyOf(p.Addr())
			if p.Addr().Is4() {
				s.v4.insert(k, p.Bits(), id)
			} else {
				s.v6.insert(k, p.Bits(), id)
			}
		}
	case TypeString:
		for _, e := range l.Entries {
			e = strings.ToLower(strings.TrimSpace(e))
			if e == "" {
				continue
			}
			if ks&(kindDomain|kindURL) != 0 {
				d := strings.TrimSuffix(e, ".")
				if sub := strings.HasPrefix(d, "."); sub {
					s.domains[d[1:]] = appendRef(s.domains[d[1:]], domainRef{list: id, sub: true})
					continue
				}
				s.domains[d] = appendRef(s.domains[d], domainRef{list: id})
			}
			s.exact[e] = appendID(s.exact[e], id)
		}
	case TypeHostname:
		for _, e := range l.Entries {
			d := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(e)), "."), ".")
			if d == "" {
				continue
			}
			s.domains[d] = appendRef(s.domains[d], domainRef{list: id, sub: true})
		}
	case TypeSubstring:
		p := patternList{list: id}
		for _, e := range l.Entries {
			if e = strings.ToLower(e); e != "" {
				p.entries = append(p.entries, e)
			}
		}
		s.substr = append(s.substr, p)
	case TypeRegex:
		p := patternList{list: id}
		for n, e := range l.Entries {
			re, err := compilePCRE(e)
			if err != nil {
				return fmt.Errorf("%w %q: entry %d %q: %v", ErrInvalidList, l.ID, n, e, err)
			}
			p.entries = append(p.entries, e)
			p.res = append(p.res, re)
		}
		s.regex = append(s.regex, p)
	}
	return nil
}

func appendRef(refs []domainRef, r domainRef) []domainRef {
	for i, o := range refs {
		if o.list == r.list {
			refs[i].sub = o.sub || r.sub
			return refs
		}
	}
	return append(refs, r)
}

func appendID(ids []uint16, id uint16) []uint16 {
	for _, o := range ids {
		if o == id {
			return ids
		}
	}
	return append(ids, id)
}

// parsePrefix accepts "a.b.c.d/n", "a.b.c.d", and the IPv6 forms.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// compilePCRE turns MISP's "/pattern/flags" into a Go regexp.
func compilePCRE(e string) (*regexp.Regexp, error) {
	pat, flags := e, ""
	if len(e) >= 2 && e[0] == '/' {
		if end := strings.LastIndexByte(e, '/'); end > 0 {
			pat, flags = e[1:end], e[end+1:]
		}
	}
	var prefix string
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			prefix += string(f)
		case 'g', 'u', 'D':
		default:
			return nil, fmt.Errorf("unsupported flag %q", f)
		}
	}
	if prefix != "" {
		pat = "(?" + prefix + ")" + pat
	}
	return regexp.Compile(pat)
}

// Lists returns the ids of the compiled lists, sorted.
func (s *Set) Lists() []string {
	ids := make([]string, len(s.lists))
	for i, l := range s.lists {
		ids[i] = l.id
	}
	return ids
}

// isSuffix reports whether d is a public suffix. Every single label is one
// (the public suffix list's implicit "*" rule).
func (s *Set) isSuffix(d string) bool {
	if !strings.Contains(d, ".") {
		return true
	}
	_, ok := s.suffix[d]
	return ok
}

// RegistrableDomain returns the registrable domain of name (the public
// suffix plus one label: "www.example.co.uk" → "example.co.uk",
// "evil.duckdns.org" → "evil.duckdns.org"), or "" when name is itself a
// public suffix. name must be lower-case without a trailing dot.
func (s *Set) RegistrableDomain(name string) string {
	prev := ""
	for d := name; ; {
		if s.isSuffix(d) {
			return prev
		}
		prev = d
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return prev
		}
		d = d[i+1:]
	}
}

// Match returns the lists that hold value of type typ, in list order, one
// hit per list. typ is a STIX type ("ipv4-addr", "ipv6-addr", "domain-name",
// "url", "email-addr"), or a hash as "file:md5", "file:sha1",
// "file:sha256", "file:sha512", "file:ssdeep" (STIX spellings such as
// "file:SHA-256" work too; a bare "file" guesses the algorithm from the
// length), or "x509-certificate:sha1"/"x509-certificate:sha256" for
// certificate fingerprints. A type or value it cannot read matches nothing.
func (s *Set) Match(typ, value string) []Hit {
	k, ok := kindOf(typ, value)
	if !ok || value == "" {
		return nil
	}
	var m matcher
	switch k {
	case kindIP:
		s.matchIP(&m, value)
	case kindDomain:
		s.matchDomain(&m, k, normDomain(value))
		s.matchPatterns(&m, k, value)
	case kindURL:
		s.matchExact(&m, k, value)
		if u := parseURL(value); u != nil {
			h := normDomain(u.Hostname())
			if a, err := netip.ParseAddr(h); err == nil {
				s.matchAddr(&m, a)
			} else {
				s.matchDomain(&m, k, h)
			}
		}
		s.matchPatterns(&m, k, value)
	default:
		s.matchExact(&m, k, value)
		s.matchPatterns(&m, k, value)
	}
	return m.hits(s)
}

// parseURL parses an absolute URL, or a scheme-less one ("host/path") as
// feeds often write them; nil when no host can be found.
func parseURL(v string) *url.URL {
	v = strings.TrimSpace(v)
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" {
		if strings.Contains(v, "://") {
			return nil
		}
		if u, err = url.Parse("http://" + v); err != nil || u.Hostname() == "" {
			return nil
		}
	}
	return u
}

// normDomain trims space and a trailing dot and lower-cases, allocating
// only when the value has upper-case letters. A name with non-ASCII
// letters is converted to its punycode (IDNA) form, which is how the
// lists write such names; if that fails it is only lower-cased.
func normDomain(v string) string {
	v = strings.TrimSuffix(strings.TrimSpace(v), ".")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 {
			if a, err := idna.Lookup.ToASCII(v); err == nil {
				return a
			}
			return strings.ToLower(v)
		}
		if c >= 'A' && c <= 'Z' {
			return normDomain(strings.ToLower(v))
		}
	}
	return v
}

// matcher collects list indexes with their entry, first entry per list.
type matcher struct {
	ids     []uint16
	entries []string
}

func (m *matcher) has(id uint16) bool {
	for _, o := range m.ids {
		if o == id {
			return true
		}
	}
	return false
}

func (m *matcher) add(id uint16, entry string) {
	if m.has(id) {
		return
	}
	m.ids = append(m.ids, id)
	m.entries = append(m.entries, entry)
}

func (m *matcher) hits(s *Set) []Hit {
	if len(m.ids) == 0 {
		return nil
	}
	hits := make([]Hit, len(m.ids))
	for i, id := range m.ids {
		l := s.lists[id]
		hits[i] = Hit{List: l.id, Name: l.name, Tier: l.tier, ContextOnly: l.tier == TierContext, Entry: m.entries[i]}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].List < hits[j].List })
	return hits
}

func (s *Set) matchIP(m *matcher, value string) {
	p, err := parsePrefix(value)
	if err != nil {
		return
	}
	k, _ := keyOf(p.Addr())
	t := s.v6
	if p.Addr().Is4() {
		t = s.v4
	}
	t.lookup(k, p.Bits(), func(ids []uint16, key u128, plen int) {
		for _, id := range ids {
			if s.lists[id].kinds&kindIP != 0 && !m.has(id) {
				m.add(id, prefixString(key, plen, p.Addr().Is4()))
			}
		}
	})
}

// prefixString writes a trie prefix back as a network.
func prefixString(k u128, plen int, is4 bool) string {
	if is4 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(k.hi >> 56), byte(k.hi >> 48), byte(k.hi >> 40), byte(k.hi >> 32)}), plen).String()
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(k.hi >> (56 - 8*i))
		b[8+i] = byte(k.lo >> (56 - 8*i))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), plen).String()
}

func (s *Set) matchAddr(m *matcher, a netip.Addr) {
	s.matchIP(m, a.Unmap().String())
}

func (s *Set) matchExact(m *matcher, k kind, value string) {
	v := value
	if k != kindURL {
		v = normDomain(value)
	}
	for _, id := range s.exact[v] {
		if s.lists[id].kinds&k != 0 {
			m.add(id, v)
		}
	}
}

// matchDomain walks d and its parents. A parent's entry matches when it
// covers sub-domains and, unless the list is context-only, lies at or below
// d's registrable domain.
func (s *Set) matchDomain(m *matcher, k kind, d string) {
	if d == "" {
		return
	}
	reg := -1 // length of the registrable domain, computed on first need
	for a := d; ; {
		for _, r := range s.domains[a] {
			l := s.lists[r.list]
			if l.kinds&k == 0 {
				continue
			}
			if a != d {
				if !r.sub {
					continue
				}
				if l.tier != TierContext {
					if reg < 0 {
						reg = len(s.RegistrableDomain(d))
					}
					if len(a) < reg || reg == 0 {
						continue
					}
				}
			}
			m.add(r.list, a)
		}
		i := strings.IndexByte(a, '.')
		if i < 0 {
			return
		}
		a = a[i+1:]
	}
}

func (s *Set) matchPatterns(m *matcher, k kind, value string) {
	if len(s.substr) == 0 && len(s.regex) == 0 {
		return
	}
	lv := normDomain(value)
	for _, p := range s.substr {
		if s.lists[p.list].kinds&k == 0 {
			continue
		}
		for _, e := range p.entries {
			if strings.Contains(lv, e) {
				m.add(p.list, e)
				break
			}
		}
	}
	for _, p := range s.regex {
		if s.lists[p.list].kinds&k == 0 {
			continue
		}
		for i, re := range p.res {
			if re.MatchString(value) {
				m.add(p.list, p.entries[i])
				break
			}
		}
	}
}
