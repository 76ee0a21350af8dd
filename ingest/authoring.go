package ingest

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/stix"
)

// Config tunes what the Runner and AuthorWith write for values, beyond the fixed
// rules of DESIGN.md. The zero Config writes indicators without a default
// valid_until and objects without TLP markings; DefaultConfig returns DESIGN.md's
// defaults, which `ctibroker` uses.
type Config struct {
	// ValidFor is the default lifetime of an authored indicator per value type
	// (Value.Type: ipv4-addr, ipv6-addr, domain-name, url, email-addr, file):
	// valid_until is the latest live report's seen time plus the lifetime. A
	// type missing or zero gets no default valid_until. FeedConfig.ValidFor
	// overrides it per feed and type.
	//
	// Versions: re-reporting a value moves valid_until forward only when that
	// gains more than half the lifetime, so a value reported daily gets a new
	// indicator version about every half lifetime, not every day, and an
	// unchanged re-pull within that window writes nothing.
	ValidFor map[string]time.Duration `yaml:"valid_for"`
	// Markings puts TLP 2.0 object_marking_refs on authored indicators and on
	// the relationships authored with them (based-on, indicates, targets). The
	// level is the most restrictive among the value's live reports in the batch
	// (Observation.Context.TLP, else the feed's default_tlp); an existing
	// indicator gets a new version when a report is more restrictive than its
	// marking, and is never loosened by the Runner (curation computes the level
	// of each version it publishes from provenance and withholds it from
	// consumers below it). SCOs and shared context SDOs carry no marking: they
	// are the same object for every feed.
	Markings bool `yaml:"markings"`
}

// Default lifetimes of authored indicators (DESIGN.md, Versions): IPs days,
// domains, URLs and e-mail addresses weeks, hashes months.
const (
	DefaultValidForIP     = 7 * 24 * time.Hour
	DefaultValidForDomain = 28 * 24 * time.Hour
	DefaultValidForHash   = 180 * 24 * time.Hour
)

// DefaultConfig returns DESIGN.md's defaults: ValidFor 7 days for IPv4 and IPv6,
// 28 days for domains, URLs and e-mail addresses, 180 days for file hashes;
// Markings on.
func DefaultConfig() Config {
	return Config{Markings: true, ValidFor: map[string]time.Duration{
		TypeIPv4: DefaultValidForIP, TypeIPv6: DefaultValidForIP,
		TypeDomain: DefaultValidForDomain, TypeURL: DefaultValidForDomain, TypeEmail: DefaultValidForDomain,
		TypeFile: DefaultValidForHash,
	}}
}

// validFor returns the lifetime of v's indicator: the feed's, else the
// Runner's; 0 for none.
func (ru *run) validFor(v Value) time.Duration {
	if d, ok := ru.cfg.ValidFor[v.Type]; ok {
		return d
	}
	return ru.Config.ValidFor[v.Type]
}

// parseTLP reads a TLP level as Context.TLP or default_tlp spell it ("amber",
// "TLP:AMBER", "white"); ok is false for anything else.
func parseTLP(s string) (stix.TLP, bool) {
	switch s { // the spellings FeedConfig.Validate and most providers produce
	case "clear", "white":
		return stix.TLPClear, true
	case "green":
		return stix.TLPGreen, true
	case "amber":
		return stix.TLPAmber, true
	case "amber+strict":
		return stix.TLPAmberStrict, true
	case "red":
		return stix.TLPRed, true
	}
	s = strings.ToLower(strings.TrimSpace(s))
	return stix.TLPFromTag("tlp:" + strings.TrimPrefix(s, "tlp:"))
}

// observationTLP returns the level of one live report: its Context.TLP, else
// the feed's default. An unreadable level is a warning and reads as red.
func (ru *run) observationTLP(o *obs, i int) stix.TLP {
	if o.Context.TLP == "" {
		l, _ := parseTLP(ru.cfg.DefaultTLP) // Validate spelled it
		return l
	}
	l, ok := parseTLP(o.Context.TLP)
	if !ok {
		ru.warn(Warning{Feed: o.Feed, Record: "observation " + fmt.Sprint(i) + " (" + o.Value + ")", Field: "context.tlp",
			Msg: fmt.Sprintf("%q is not a TLP level; read as red", o.Context.TLP)})
		return stix.TLPRed
	}
	return l
}

// sectorVocab maps common provider spellings of industries onto the STIX 2.1
// industry-sector-ov; anything else is kept lower case with "-" for spaces.
var sectorVocab = map[string]string{
	"finance": "financial-services", "financial": "financial-services", "banking": "financial-services",
	"financial services": "financial-services", "health": "healthcare", "health care": "healthcare",
	"medical": "healthcare", "defence": "defense", "military": "defense", "telecom": "telecommunications",
	"telecoms": "telecommunications", "it": "technology", "information technology": "technology",
	"tech": "technology", "governments": "government", "public sector": "government",
	"oil and gas": "energy", "utilities": "utilities", "education": "education", "academic": "education",
	"media": "entertainment", "transport": "transportation", "logistics": "transportation",
	"automotive": "automotive", "aviation": "aerospace", "hospitality": "hospitality-leisure",
	"non profit": "non-profit", "ngo": "non-profit", "ngos": "non-profit",
}

// SectorVocab returns the industry-sector-ov value of a targeted industry as a
// provider names it ("Finance" → "financial-services", "Oil and Gas" → "energy");
// other names lower case, runs of space, "-" and "_" as one "-".
func SectorVocab(name string) string {
	n := strings.Join(strings.FieldsFunc(strings.ToLower(strings.TrimSpace(name)), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), " ")
	if v, ok := sectorVocab[n]; ok {
		return v
	}
	return strings.ReplaceAll(n, " ", "-")
}

// SectorID returns the id of the identity ctibroker authors for a targeted
// sector: ContextID("identity", "sector "+SectorVocab(name)).
func SectorID(name string) string { return ContextID("identity", "sector "+SectorVocab(name)) }
