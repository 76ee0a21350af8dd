package scoring

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidOrganisation is wrapped by every Organisation validation error;
// the message names the offending field.
var ErrInvalidOrganisation = errors.New("scoring: invalid organisation")

// Organisation is who we are: the root "organisation:" key of the config.
// Relevance tests a value's context against it. The profile never leaves the
// instance: curation strips relevance from published versions.
//
//	organisation:
//	  sectors: [financial-services, insurance]   # STIX industry-sector-ov or own words
//	  regions: [DE, germany, europe]             # country codes or names, as feeds tag them
//	  products:                                  # CPE 2.3 names or vendor:product
//	    - cpe:2.3:o:paloaltonetworks:pan-os:*:*:*:*:*:*:*:*
//	    - fortinet:fortios
//	  brands: [acmebank, acme-pay]               # keywords looked for in domains, URLs, e-mail addresses
type Organisation struct {
	// Sectors are the organisation's industry sectors; a value whose reports
	// say it targets one of them is relevant.
	Sectors []string `yaml:"sectors" json:"sectors,omitempty"`
	// Regions are countries or regions (ISO codes or names) the
	// organisation operates in, matched against the targeted regions and
	// the labels of the reports.
	Regions []string `yaml:"regions" json:"regions,omitempty"`
	// Products are the technology stack: CPE 2.3 names
	// ("cpe:2.3:a:vendor:product:...") or "vendor:product" (or a bare
	// product). A value linked to a vulnerability of one of them, or
	// labelled with one, is relevant.
	Products []string `yaml:"products" json:"products,omitempty"`
	// Brands are keywords (company, product or domain names without the
	// TLD) looked for in domain names, URLs and e-mail addresses: containing
	// one, or a look-alike of one, makes a value relevant.
	Brands []string `yaml:"brands" json:"brands,omitempty"`
}

// The relevance of each kind of match (0–1). A value's relevance combines the
// strongest match of each kind as a noisy OR, 1 − Π(1 − wᵢ), so two weaker
// reasons together count more than either alone and the result stays in 0–100.
const (
	// RelevanceBrand is a brand keyword in a domain or URL host.
	RelevanceBrand = 0.9
	// RelevanceLookalike is a look-alike of a brand (one edit, or equal after
	// folding digits that mimic letters) in a domain or URL host.
	RelevanceLookalike = 0.8
	// RelevanceBrandElsewhere is a brand in a URL path or an e-mail local part.
	RelevanceBrandElsewhere = 0.6
	// RelevanceProduct is a linked vulnerability of one of our products, or a
	// report label naming one.
	RelevanceProduct = 0.8
	// RelevanceSector is a report saying the value targets our sector.
	RelevanceSector = 0.6
	// RelevanceRegion is a report saying the value targets our region.
	RelevanceRegion = 0.4
)

// Reason kinds of RelevanceReason.
const (
	ReasonBrand   = "brand"
	ReasonProduct = "product"
	ReasonSector  = "sector"
	ReasonRegion  = "region"
)

// Vulnerability is what is known of a vulnerability linked to a value (a CVE
// the value's reports name).
type Vulnerability struct {
	// CVE is the id ("CVE-2024-3400").
	CVE string
	// Text is the vulnerability's name and description, searched for product
	// and vendor names.
	Text string
	// CPEs are CPE 2.3 names the vulnerability object carries (affected
	// software), compared by vendor and product.
	CPEs []string
}

// RelevanceInputs is a value's context as relevance reads it.
type RelevanceInputs struct {
	// Type and Value are the value's kind and normalised value; brands are
	// looked for in domain-name, url and email-addr values.
	Type, Value string
	// Sectors are the sectors the live reports say the value targets.
	Sectors []string
	// Regions are the countries or regions the live reports say it targets.
	Regions []string
	// Labels are the live reports' labels (tags); regions and products are
	// also looked for among them ("misp-galaxy:country=\"germany\"", "pan-os").
	Labels []string
	// Vulnerabilities are the vulnerabilities the live reports link it to.
	Vulnerabilities []Vulnerability
}

// RelevanceReason is one match between a value's context and the
// organisation.
type RelevanceReason struct {
	// Kind is one of the Reason* constants.
	Kind string `json:"kind"`
	// Match is the organisation's entry that matched (a sector, a region, a
	// product as configured, a brand).
	Match string `json:"match"`
	// Evidence is what in the value's context matched it, for a person.
	Evidence string `json:"evidence"`
	// Weight is the match's relevance (0–1), one of the Relevance* constants.
	Weight float64 `json:"weight"`
}

// Relevance is how much a value concerns the organisation, with its reasons.
// It is a separate dimension from the risk score: the score says how likely a
// value is malicious whoever we are; relevance says how much it concerns us,
// and Priority combines the two.
type Relevance struct {
	// Value is the relevance, 0–100: 0 when nothing matches.
	Value int `json:"value"`
	// Priority is the risk score raised by the relevance (see Prioritize);
	// it equals the score when relevance is 0.
	Priority int `json:"priority"`
	// Reasons are the matches, strongest first; one per organisation entry
	// and kind.
	Reasons []RelevanceReason `json:"reasons"`
}

// PriorityBoost is how much relevance 100 raises a score in Prioritize.
const PriorityBoost = 0.5

// Prioritize returns a score raised by relevance:
// score + (100 − score) × PriorityBoost × relevance/100, rounded. A score of 0
// stays 0 (relevance never makes a value no feed reports a threat), the result
// never falls below the score and never exceeds 100, and it grows with both.
func Prioritize(score, relevance int) int {
	if score <= 0 {
		return 0
	}
	s, r := min(score, 100), min(max(relevance, 0), 100)
	return int(math.Round(float64(s) + float64(100-s)*PriorityBoost*float64(r)/100))
}

// IsZero reports whether the profile is empty (relevance is then always 0).
func (o *Organisation) IsZero() bool {
	return o == nil || len(o.Sectors)+len(o.Regions)+len(o.Products)+len(o.Brands) == 0
}

// Validate reports the first malformed entry, named as in the config
// ("organisation.products[1]: ...").
func (o *Organisation) Validate() error {
	if o == nil {
		return nil
	}
	bad := func(field string, i int, format string, a ...any) error {
		return fmt.Errorf("%w: organisation.%s[%d]: %s", ErrInvalidOrganisation, field, i, fmt.Sprintf(format, a...))
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"sectors", o.Sectors}, {"regions", o.Regions}} {
		for i, s := range l.v {
			if strings.TrimSpace(s) == "" {
				return bad(l.name, i, "empty")
			}
		}
	}
	for i, p := range o.Products {
		if _, err := parseProduct(p); err != nil {
			return bad("products", i, "%v", err)
		}
	}
	for i, b := range o.Brands {
		if n := len(fold(b)); n < 3 {
			return bad("brands", i, "%q: want at least 3 letters or digits", b)
		}
	}
	return nil
}

// product is a configured product: vendor (may be empty) and product name,
// both folded (lower case, letters and digits only).
type product struct {
	raw, vendor, name string
}

// parseProduct reads "cpe:2.3:part:vendor:product:...", "vendor:product" or a
// bare product name.
func parseProduct(s string) (product, error) {
	s = strings.TrimSpace(s)
	p := product{raw: s}
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "cpe:2.3:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) < 3 || len(parts[0]) != 1 || !strings.Contains("aho*", parts[0]) {
			return p, fmt.Errorf("%q: want cpe:2.3:<a|o|h>:<vendor>:<product>:...", s)
		}
		p.vendor, p.name = foldCPE(parts[1]), foldCPE(parts[2])
	} else if strings.HasPrefix(strings.ToLower(s), "cpe:") {
		return p, fmt.Errorf("%q: only CPE 2.3 formatted names (cpe:2.3:...) are read", s)
	} else if v, n, ok := strings.Cut(s, ":"); ok {
		p.vendor, p.name = fold(v), fold(n)
	} else {
		p.name = fold(s)
	}
	if len(p.name) < 2 || p.name == "*" {
		return p, fmt.Errorf("%q: no product name", s)
	}
	return p, nil
}

// foldCPE folds a CPE component: its escapes ("\-") dropped, "*" and "-" kept
// as "*" (any).
func foldCPE(s string) string {
	if s == "*" || s == "-" || s == "" {
		return "*"
	}
	return fold(strings.ReplaceAll(s, `\`, ""))
}

// fold lower-cases s and keeps only its letters and digits, so "PAN-OS",
// "pan_os" and "Pan OS" compare equal.
func fold(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && r != '\uFFFD' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// normWord lower-cases s and turns spaces and underscores into hyphens, the
// spelling of STIX vocabularies ("Financial Services" → "financial-services").
func normWord(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '_' {
			return '-'
		}
		return r
	}, s)
}

// Relevance computes how much the value described by in concerns o. The
// result is deterministic: reasons are sorted by weight, then kind, then match.
// An empty profile gives relevance 0 with no reasons; Priority is left 0
// (Result.WithRelevance fills it from the score).
func (o *Organisation) Relevance(in RelevanceInputs) Relevance {
	rel := Relevance{Reasons: []RelevanceReason{}}
	if o.IsZero() {
		return rel
	}
	add := func(kind, match, evidence string, w float64) {
		for i := range rel.Reasons {
			r := &rel.Reasons[i]
			if r.Kind == kind && r.Match == match {
				if w > r.Weight {
					r.Evidence, r.Weight = evidence, w
				}
				return
			}
		}
		rel.Reasons = append(rel.Reasons, RelevanceReason{Kind: kind, Match: match, Evidence: evidence, Weight: w})
	}
	// Sectors.
	for _, want := range o.Sectors {
		nw := normWord(want)
		for _, s := range in.Sectors {
			if normWord(s) == nw {
				add(ReasonSector, want, "a report says it targets "+s, RelevanceSector)
				break
			}
		}
	}
	// The labels' values, folded once for regions and products.
	var labels []string
	if len(in.Labels) > 0 && len(o.Regions)+len(o.Products) > 0 {
		labels = make([]string, len(in.Labels))
		for i, l := range in.Labels {
			labels[i] = labelValue(l)
		}
	}
	// Regions: targeted regions, then labels.
	for _, want := range o.Regions {
		nw := fold(want)
		if nw == "" {
			continue
		}
		for _, s := range in.Regions {
			if fold(s) == nw {
				add(ReasonRegion, want, "a report says it targets "+s, RelevanceRegion)
				break
			}
		}
		for i, lv := range labels {
			if lv == nw {
				add(ReasonRegion, want, "report label "+strconv.Quote(in.Labels[i]), RelevanceRegion)
				break
			}
		}
	}
	// Products: linked vulnerabilities, then labels.
	for _, raw := range o.Products {
		p, err := parseProduct(raw)
		if err != nil {
			continue // Validate reports it
		}
		for _, v := range in.Vulnerabilities {
			if ev := p.matchVulnerability(&v); ev != "" {
				add(ReasonProduct, raw, ev, RelevanceProduct)
				break
			}
		}
		for i, lv := range labels {
			if lv == p.name || p.vendor != "" && p.vendor != "*" && lv == p.vendor+p.name {
				add(ReasonProduct, raw, "report label "+strconv.Quote(in.Labels[i]), RelevanceProduct)
				break
			}
		}
	}
	// Brands.
	if len(o.Brands) > 0 {
		for _, b := range o.Brands {
			if ev, w := brandMatch(fold(b), in.Type, in.Value); w > 0 {
				add(ReasonBrand, b, ev, w)
			}
		}
	}
	if len(rel.Reasons) == 0 {
		return rel
	}
	slices.SortStableFunc(rel.Reasons, func(x, y RelevanceReason) int {
		switch {
		case x.Weight > y.Weight:
			return -1
		case x.Weight < y.Weight:
			return 1
		}
		if c := strings.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return strings.Compare(x.Match, y.Match)
	})
	// Noisy OR over the strongest reason of each kind.
	best := map[string]float64{}
	for _, r := range rel.Reasons {
		best[r.Kind] = max(best[r.Kind], r.Weight)
	}
	miss := 1.0
	for _, k := range []string{ReasonBrand, ReasonProduct, ReasonSector, ReasonRegion} {
		miss *= 1 - best[k]
	}
	rel.Value = min(max(int(math.Round(100*(1-miss))), 0), 100)
	return rel
}

// labelValue folds the value part of a label: the text after the last ':' or
// '=' with quotes removed ("misp-galaxy:country=\"germany\"" → "germany";
// "country:DE" → "de"; "PAN-OS" → "panos").
func labelValue(l string) string {
	if i := strings.LastIndexAny(l, ":="); i >= 0 {
		l = l[i+1:]
	}
	return fold(l)
}

// matchVulnerability says why v concerns p ("" when it does not): a CPE of the
// same vendor and product, or the product's (and, when configured, the
// vendor's) name in its text.
func (p *product) matchVulnerability(v *Vulnerability) string {
	for _, c := range v.CPEs {
		cp, err := parseProduct(c)
		if err != nil {
			continue
		}
		if cp.name == p.name && (p.vendor == "" || p.vendor == "*" || cp.vendor == "*" || cp.vendor == p.vendor) {
			return "linked " + v.CVE + " affects " + c
		}
	}
	text := fold(v.Text)
	if text == "" || !strings.Contains(text, p.name) {
		return ""
	}
	if p.vendor != "" && p.vendor != "*" && !strings.Contains(text, p.vendor) && len(p.name) < 5 {
		return "" // a short product name alone is too common to count
	}
	return "linked " + v.CVE + " names " + p.raw
}

// brandMatch looks for brand b (folded) in a value: in a domain or URL host
// (contained, or a look-alike of a host label), in a URL's path and query or
// an e-mail's local part. It returns the evidence and the weight, 0 for none.
func brandMatch(b, typ, value string) (string, float64) {
	var host, rest string
	switch typ {
	case "domain-name":
		host = value
	case "url":
		u, err := url.Parse(value)
		if err != nil || u.Host == "" {
			u, err = url.Parse("http://" + value)
		}
		if err != nil {
			return "", 0
		}
		host, rest = u.Hostname(), u.EscapedPath()+"?"+u.RawQuery
	case "email-addr":
		local, domain, ok := strings.Cut(value, "@")
		if !ok {
			return "", 0
		}
		host, rest = domain, local
	default:
		return "", 0
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	labels := strings.Split(host, ".")
	if len(labels) > 1 {
		labels = labels[:len(labels)-1] // the TLD says nothing about the brand
	}
	for _, l := range labels {
		if strings.Contains(fold(l), b) {
			return "brand " + strconv.Quote(b) + " in host " + host, RelevanceBrand
		}
	}
	for _, l := range labels {
		for _, tok := range strings.FieldsFunc(l, func(r rune) bool { return r == '-' || r == '_' }) {
			if lookalike(strings.ToLower(tok), b) {
				return "host " + host + " looks like brand " + strconv.Quote(b) + " (" + tok + ")", RelevanceLookalike
			}
		}
		if lookalike(l, b) {
			return "host " + host + " looks like brand " + strconv.Quote(b) + " (" + l + ")", RelevanceLookalike
		}
	}
	if rest != "" && strings.Contains(fold(rest), b) {
		where := "URL path"
		if typ == "email-addr" {
			where = "e-mail local part"
		}
		return "brand " + strconv.Quote(b) + " in the " + where, RelevanceBrandElsewhere
	}
	return "", 0
}

// homoglyphs are the substitutions a look-alike uses for letters.
var homoglyphs = strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "rn", "m", "vv", "w", "$", "s", "@", "a")

// lookalike reports whether tok imitates brand b (folded, at least 5
// characters for edit distance; any length for homoglyph folding): equal after
// folding homoglyphs, or one insertion, deletion, substitution or adjacent
// transposition away. tok equal to b is not a look-alike (it contains b).
func lookalike(tok, b string) bool {
	if tok == b || tok == "" {
		return false
	}
	if hf := homoglyphs.Replace(tok); hf != tok && fold(hf) == b {
		return true
	}
	ft := fold(tok)
	if len(b) < 5 || ft == b {
		return false
	}
	return editDistance1(ft, b)
}

// editDistance1 reports whether a and b are one insertion, deletion,
// substitution or adjacent transposition apart (and not equal).
func editDistance1(a, b string) bool {
	if a == b {
		return false
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // transposition
	case la > lb:
		return a[i+1:] == b[i:] // a has one more
	default:
		return a[i:] == b[i+1:]
	}
}

// WithRelevance returns r with rel attached and rel.Priority computed from the
// score. The score, band and factors do not change: relevance is a separate
// dimension.
func (r Result) WithRelevance(rel Relevance) Result {
	rel.Priority = Prioritize(r.Value, rel.Value)
	if rel.Reasons == nil {
		rel.Reasons = []RelevanceReason{}
	}
	r.Relevance = &rel
	return r
}
