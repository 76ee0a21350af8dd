package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
)

// Share levels a feed declares (DESIGN.md, Sharing and markings), least to most open.
const (
	ShareInternal  = "internal"  // never leaves the instance
	SharePartners  = "partners"  // consumers granted partner data
	ShareCommunity = "community" // any consumer allowed the feed's TLP
)

// providerShare is the default share level per provider: internal where the
// provider's licence forbids redistribution (DESIGN.md), community for open
// feeds; an unknown provider defaults to internal.
var providerShare = map[string]string{
	"recordedfuture": ShareInternal,
	"virustotal":     ShareInternal,
	"maltiverse":     ShareInternal,
	"otx":            ShareCommunity,
	"stix":           ShareCommunity,
	"stixfeed":       ShareCommunity,
	"misp":           ShareCommunity, // MISP records override it from their distribution
}

// DefaultShare returns the share level a feed of provider gets when its config
// says none.
func DefaultShare(provider string) string {
	if s, ok := providerShare[provider]; ok {
		return s
	}
	return ShareInternal
}

// ErrConfig is wrapped by every FeedConfig validation error.
var ErrConfig = errors.New("invalid feed config")

// FeedConfig is one entry of the config's feeds list. The common fields are
// decoded here; everything provider-specific sits under options and is decoded
// by the provider's factory with DecodeOptions.
//
//	feeds:
//	  - name: otx-subscribed
//	    provider: otx
//	    interval: 1h
//	    default_tlp: green
//	    reliability: B          # Admiralty A–F, or 0–100
//	    share: community        # internal | partners | community
//	    enabled_types: [ipv4-addr, domain-name, url, file]
//	    detection_threshold: 50
//	    options:
//	      api_key_env: OTX_API_KEY
type FeedConfig struct {
	Name     string        `yaml:"name"`
	Provider string        `yaml:"provider"`
	Enabled  *bool         `yaml:"enabled"`  // default true
	Interval time.Duration `yaml:"interval"` // how often serve pulls the feed; 0: only on demand
	// DefaultTLP is the TLP 2.0 level of values the provider marks with none:
	// clear, green, amber, amber+strict or red (TLP 1.0 "white" reads as clear).
	DefaultTLP  string      `yaml:"default_tlp"`
	Reliability Reliability `yaml:"reliability"`
	// Share is internal, partners or community; empty means DefaultShare(Provider).
	Share string `yaml:"share"`
	// EnabledTypes limits the observations kept to these kinds (Value.Kind or
	// Value.Type: "ipv4-addr", "file", "file:sha-256"); empty keeps all.
	EnabledTypes []string `yaml:"enabled_types"`
	// DetectionThreshold is the provider score (0–100) at or above which a value is
	// detection-worthy; providers with a native verdict may ignore it.
	DetectionThreshold int `yaml:"detection_threshold"`
	// ValidFor overrides Config.ValidFor for this feed's values, per value type
	// (ipv4-addr, ipv6-addr, domain-name, url, email-addr, file); 0 means no
	// default valid_until.
	ValidFor map[string]time.Duration `yaml:"valid_for"`
	// Collection, when set, is the stored collection that receives the feed's
	// objects (Batch.Objects) instead of the pool.
	Collection string `yaml:"collection"`
	// Options holds the provider-specific options, decoded with DecodeOptions.
	Options yaml.Node `yaml:"options"`
	// Enrich tunes on-demand lookups through this feed (package ingest/enrich)
	// for providers that have them (Maltiverse, VirusTotal, Recorded Future);
	// nil: lookups enabled with the defaults of EnrichConfig.
	Enrich *EnrichConfig `yaml:"enrich"`

	// Attack resolves ATT&CK ids for providers that mention them; cmd sets it.
	Attack *attack.Index `yaml:"-"`
	// Identity is the instance identity (identity--UUID), the created_by_ref of
	// the objects a provider authors; Registry.New fills it from
	// Registry.Identity when empty, and the Runner uses it when Runner.Identity
	// is empty.
	Identity string `yaml:"-"`
	// Getenv reads credentials named by *_env options; nil means os.Getenv.
	Getenv func(string) string `yaml:"-"`
}

// EnrichConfig is a feed's on-demand lookup settings:
//
//	feeds:
//	  - name: maltiverse-c2
//	    provider: maltiverse
//	    enrich: {per_minute: 4, per_day: 500}
//
// The budget is the lookups' own for Maltiverse and Recorded Future; VirusTotal
// lookups spend the feed's requests_per_minute and requests_per_day (one budget
// for pulls and lookups), so per_minute and per_day are errors on a VirusTotal
// feed.
type EnrichConfig struct {
	Enabled   *bool `yaml:"enabled"`    // default true
	PerMinute int   `yaml:"per_minute"` // lookups per minute; 0: DefaultEnrichPerMinute; -1: unlimited
	PerDay    int   `yaml:"per_day"`    // lookups per UTC day; 0: DefaultEnrichPerDay; -1: unlimited
}

// Lookup budget defaults (EnrichConfig), a public-API-sized quota.
const (
	DefaultEnrichPerMinute = 4
	DefaultEnrichPerDay    = 500
)

// EnrichEnabled reports whether on-demand lookups may go through the feed (the
// default) .
func (c *FeedConfig) EnrichEnabled() bool {
	return c.Enrich == nil || c.Enrich.Enabled == nil || *c.Enrich.Enabled
}

// EnrichBudget returns a lookup Budget from Enrich (defaults filled in).
func (c *FeedConfig) EnrichBudget() *Budget {
	var e EnrichConfig
	if c.Enrich != nil {
		e = *c.Enrich
	}
	limit := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return &Budget{PerMinute: limit(e.PerMinute, DefaultEnrichPerMinute), PerDay: limit(e.PerDay, DefaultEnrichPerDay)}
}

// Reliability is a feed's source reliability on 0–100. The config gives it as a
// number or as an Admiralty grade: A=100, B=80, C=60, D=40, E=20, F (cannot be
// judged)=50.
type Reliability struct {
	Score int    // 0–100
	Grade string // the Admiralty letter when the config gave one
	Set   bool   // false when the config left it out
}

var admiralty = map[string]int{"A": 100, "B": 80, "C": 60, "D": 40, "E": 20, "F": 50}

// UnmarshalYAML accepts a grade letter A–F or an integer 0–100.
func (r *Reliability) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: reliability: want a grade A–F or a number 0–100", n.Line)
	}
	if s, ok := admiralty[strings.ToUpper(n.Value)]; ok {
		*r = Reliability{Score: s, Grade: strings.ToUpper(n.Value), Set: true}
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 0 || v > 100 {
		return fmt.Errorf("line %d: reliability %q: want a grade A–F or a number 0–100", n.Line, n.Value)
	}
	*r = Reliability{Score: v, Set: true}
	return nil
}

// MarshalYAML writes the grade when there is one, else the score.
func (r Reliability) MarshalYAML() (any, error) {
	if r.Grade != "" {
		return r.Grade, nil
	}
	return r.Score, nil
}

// TLP returns DefaultTLP as a level (stix.TLPNone when unset); Validate has
// checked it.
func (c *FeedConfig) TLP() stix.TLP {
	l, _ := stix.TLPFromTag("tlp:" + c.DefaultTLP)
	return l
}

// IsEnabled reports whether the feed is enabled (the default).
func (c *FeedConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ShareLevel returns Share, or the provider's default when it is empty.
func (c *FeedConfig) ShareLevel() string {
	if c.Share != "" {
		return c.Share
	}
	return DefaultShare(c.Provider)
}

// Validate checks the common fields and fills in defaults (share level, TLP
// spelling). Errors wrap ErrConfig and name the feed and the field.
func (c *FeedConfig) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("feed %q: %s: %s: %w", c.Name, field, fmt.Sprintf(format, a...), ErrConfig)
	}
	if c.Name == "" {
		return bad("name", "required")
	}
	if strings.ContainsAny(c.Name, " \t\n/") {
		return bad("name", "no white space or slashes")
	}
	if c.Provider == "" {
		return bad("provider", "required")
	}
	if c.Interval < 0 {
		return bad("interval", "negative")
	}
	if c.DefaultTLP != "" {
		l, ok := stix.TLPFromTag("tlp:" + strings.TrimPrefix(strings.ToLower(strings.TrimSpace(c.DefaultTLP)), "tlp:"))
		if !ok {
			return bad("default_tlp", "%q is not clear, green, amber, amber+strict or red", c.DefaultTLP)
		}
		c.DefaultTLP = strings.ToLower(strings.TrimPrefix(l.String(), "TLP:"))
	}
	switch c.Share {
	case "":
		c.Share = DefaultShare(c.Provider)
	case ShareInternal, SharePartners, ShareCommunity:
	default:
		return bad("share", "%q is not internal, partners or community", c.Share)
	}
	if c.DetectionThreshold < 0 || c.DetectionThreshold > 100 {
		return bad("detection_threshold", "%d is outside 0–100", c.DetectionThreshold)
	}
	for t, d := range c.ValidFor {
		switch t {
		case TypeIPv4, TypeIPv6, TypeDomain, TypeURL, TypeEmail, TypeFile:
		default:
			return bad("valid_for", "unknown type %q (want ipv4-addr, ipv6-addr, domain-name, url, email-addr or file)", t)
		}
		if d < 0 {
			return bad("valid_for", "%s: negative duration %s", t, d)
		}
	}
	for _, t := range c.EnabledTypes {
		if _, ok := typeAliases[t]; !ok {
			return bad("enabled_types", "unknown type %q", t)
		}
	}
	if e := c.Enrich; e != nil {
		if e.PerMinute < -1 {
			return bad("enrich.per_minute", "%d: want a count, 0 for the default or -1 for unlimited", e.PerMinute)
		}
		if e.PerDay < -1 {
			return bad("enrich.per_day", "%d: want a count, 0 for the default or -1 for unlimited", e.PerDay)
		}
	}
	return nil
}

// DecodeOptions decodes the options node into v (a pointer to the provider's
// options struct). Unknown keys are errors naming the key and line. An absent
// options block leaves v unchanged.
func (c *FeedConfig) DecodeOptions(v any) error {
	if c.Options.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(&c.Options)
	if err != nil {
		return fmt.Errorf("feed %q: options: %v: %w", c.Name, err, ErrConfig)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("feed %q: options (from line %d): %v: %w", c.Name, c.Options.Line, err, ErrConfig)
	}
	return nil
}

// Secret returns the credential held by the environment variable named envVar
// (the value of an option such as api_key_env). It is an error naming the option
// and the variable when either is empty.
func (c *FeedConfig) Secret(option, envVar string) (string, error) {
	if envVar == "" {
		return "", fmt.Errorf("feed %q: options: %s: required: %w", c.Name, option, ErrConfig)
	}
	get := c.Getenv
	if get == nil {
		get = os.Getenv
	}
	v := get(envVar)
	if v == "" {
		return "", fmt.Errorf("feed %q: options: %s: environment variable %s is empty or unset: %w", c.Name, option, envVar, ErrConfig)
	}
	return v, nil
}

// shareRank orders share levels from the most open to the most restrictive.
var shareRank = map[string]int{ShareCommunity: 0, SharePartners: 1, ShareInternal: 2}

// MoreRestrictiveShare returns the more restrictive of two share levels; an
// empty level is ignored, an unknown one reads as ShareInternal.
func MoreRestrictiveShare(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	ra, ok := shareRank[a]
	if !ok {
		return ShareInternal
	}
	rb, ok := shareRank[b]
	if !ok {
		return ShareInternal
	}
	if rb > ra {
		return b
	}
	return a
}

// Enables reports whether the feed keeps values of v's type (EnabledTypes):
// on-demand lookups skip a feed that would drop the answer.
func (c *FeedConfig) Enables(v Value) bool { return c.typeEnabled(v) }

// typeEnabled reports whether v passes EnabledTypes.
func (c *FeedConfig) typeEnabled(v Value) bool {
	if len(c.EnabledTypes) == 0 {
		return true
	}
	for _, t := range c.EnabledTypes {
		a := typeAliases[t]
		if a.typ == v.Type && (a.algo == "" || a.algo == v.HashAlgo) ||
			a.typ == "ip" && (v.Type == TypeIPv4 || v.Type == TypeIPv6) {
			return true
		}
	}
	return false
}
