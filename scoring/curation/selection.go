package curation

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// ErrSelection is wrapped by every Selection validation error; the message
// names the offending field.
var ErrSelection = errors.New("invalid selection")

// Selection is a curated collection's saved selection over the pool, the
// `selection:` key of a `kind: curated` collection in the config. Zero fields
// select everything; a value must pass every field given.
//
//	selection:
//	  types: [indicator]
//	  value_types: [ipv4-addr, domain-name]
//	  min_band: high            # or min_score: 60
//	  max_tlp: amber
//	  feeds: [otx-subscribed]   # at least one live report from these feeds
//	  exclude_feeds: [noisy]    # reports from these feeds do not count
//	  share: partners           # community | partners | internal
//	  labels: [phishing]
//	  sectors: [financial-services]
//	  attack: [T1566, T1059.001]
//	  max_age: 720h             # last seen at most this long ago
//	  min_relevance: 50         # relevance to the organisation profile, 0-100
//	  min_reliability: B        # a live report from a feed rated B (80) or better
type Selection struct {
	// Types are STIX object types ("indicator").
	Types []string `yaml:"types"`
	// ValueTypes are the types of the value an indicator detects: ipv4-addr,
	// ipv6-addr, domain-name, url, email-addr, file (any hash) or file:sha-256
	// style.
	ValueTypes []string `yaml:"value_types"`
	// MinScore is the lowest risk score selected (0–100).
	MinScore int `yaml:"min_score"`
	// MinBand is the lowest band selected (a scoring band name); with MinScore
	// the higher of the two applies.
	MinBand string `yaml:"min_band"`
	// MaxTLP is the highest TLP selected: clear, green, amber, amber+strict, red.
	MaxTLP string `yaml:"max_tlp"`
	// Feeds, when given, require a live report from one of them.
	Feeds []string `yaml:"feeds"`
	// ExcludeFeeds are feeds whose reports do not count: a value only they
	// report is left out.
	ExcludeFeeds []string `yaml:"exclude_feeds"`
	// Share is the most restricted share level selected: community, partners
	// or internal (default internal: everything).
	Share string `yaml:"share"`
	// Labels, when given, require one of these labels (case-insensitive) in a
	// live report's context.
	Labels []string `yaml:"labels"`
	// Sectors, when given, require one of these targeted sectors
	// (case-insensitive) in a live report's context.
	Sectors []string `yaml:"sectors"`
	// Attack, when given, requires one of these ATT&CK ids (techniques,
	// software, groups) or tactics (shortnames such as initial-access, as
	// kill_chain_phases write them) among the ATT&CK ids of the live
	// reports' context and the ATT&CK objects the indicator indicates; a
	// technique selects its sub-techniques (T1059 selects T1059.001).
	// Tactics are known only for techniques whose ATT&CK objects are in the
	// pool (ctibroker attack import).
	Attack []string `yaml:"attack"`
	// MaxAge, when set, requires the value to have been seen (by a feed or a
	// sighting) at most this long before the pass.
	MaxAge time.Duration `yaml:"max_age"`
	// MinRelevance is the lowest relevance to the organisation selected
	// (0–100, see scoring.Organisation); above 0 it needs an organisation
	// profile (Curator.Organisation), without one nothing is relevant.
	MinRelevance int `yaml:"min_relevance"`
	// MinReliability, when set, requires a live report from a feed at least
	// this reliable: an Admiralty letter (A=100 ... E=20, F=50) or 1–100,
	// compared with the reliability the score uses (the feed's, else
	// scoring's default_reliability).
	MinReliability scoring.Reliability `yaml:"min_reliability"`
}

// Validate reports the first malformed field, named as in the config
// ("selection.max_tlp: ..."). Band names are checked against the scoring bands
// by MinScoreFor.
func (s *Selection) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: selection.%s: %s", ErrSelection, field, fmt.Sprintf(format, a...))
	}
	for i, t := range s.Types {
		if t == "" || strings.ToLower(t) != t || strings.ContainsAny(t, " :") {
			return bad(fmt.Sprintf("types[%d]", i), "%q is not a STIX object type", t)
		}
	}
	for i, t := range s.ValueTypes {
		if t == "" || strings.ContainsAny(t, " ") {
			return bad(fmt.Sprintf("value_types[%d]", i), "%q is not a value type", t)
		}
	}
	if s.MinScore < 0 || s.MinScore > 100 {
		return bad("min_score", "%d is outside 0-100", s.MinScore)
	}
	if s.MaxTLP != "" {
		if _, err := auth.ParseTLP(s.MaxTLP); err != nil {
			return bad("max_tlp", "%v", err)
		}
	}
	if s.Share != "" {
		if _, err := auth.ParseShareLevel(s.Share); err != nil {
			return bad("share", "%v", err)
		}
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"feeds", s.Feeds}, {"exclude_feeds", s.ExcludeFeeds}, {"labels", s.Labels}, {"sectors", s.Sectors}, {"attack", s.Attack}} {
		for i, v := range l.v {
			if strings.TrimSpace(v) == "" {
				return bad(fmt.Sprintf("%s[%d]", l.name, i), "empty")
			}
		}
	}
	for i, f := range s.Feeds {
		if slices.Contains(s.ExcludeFeeds, f) {
			return bad(fmt.Sprintf("feeds[%d]", i), "%q is also in exclude_feeds", f)
		}
	}
	if s.MaxAge < 0 {
		return bad("max_age", "%s is negative", s.MaxAge)
	}
	if s.MinRelevance < 0 || s.MinRelevance > 100 {
		return bad("min_relevance", "%d is outside 0-100", s.MinRelevance)
	}
	if s.MinReliability < 0 || s.MinReliability > 100 {
		return bad("min_reliability", "%d is outside 1-100", s.MinReliability)
	}
	return nil
}

// MinScoreFor returns the lowest score s selects under the bands of w: the
// higher of MinScore and MinBand's minimum. An unknown band is an error naming
// selection.min_band.
func (s *Selection) MinScoreFor(w *scoring.Weights) (int, error) {
	m := s.MinScore
	if s.MinBand != "" {
		found := false
		for _, b := range w.Bands {
			if strings.EqualFold(b.Name, s.MinBand) {
				m, found = max(m, b.Min), true
			}
		}
		if !found {
			names := make([]string, len(w.Bands))
			for i, b := range w.Bands {
				names[i] = b.Name
			}
			return 0, fmt.Errorf("%w: selection.min_band: %q is not one of the bands %v", ErrSelection, s.MinBand, names)
		}
	}
	return m, nil
}

// Floor returns the lowest score any of sels selects under w: the global
// threshold below which a value leaves every curated collection (Curator.Floor).
// With no selection it is 0.
func Floor(w *scoring.Weights, sels ...Selection) (int, error) {
	floor := -1
	for i := range sels {
		m, err := sels[i].MinScoreFor(w)
		if err != nil {
			return 0, err
		}
		if floor < 0 || m < floor {
			floor = m
		}
	}
	return max(floor, 0), nil
}

// limits returns the share and TLP ceilings s selects.
func (s *Selection) limits() Limits {
	l := Unlimited
	if s.Share != "" {
		l.MaxShare, _ = auth.ParseShareLevel(s.Share)
	}
	if s.MaxTLP != "" {
		l.MaxTLP, _ = auth.ParseTLP(s.MaxTLP)
	}
	return l
}

// matcher is a validated Selection ready to test Meta.
type matcher struct {
	types, valueTypes map[string]bool
	minScore          int
	lim               Limits
	feeds, exclude    map[string]bool
	labels, sectors   map[string]bool
	attack            []string
	maxAge            time.Duration
	minRelevance      int
	minReliability    int
}

func set(v []string, fold bool) map[string]bool {
	if len(v) == 0 {
		return nil
	}
	m := make(map[string]bool, len(v))
	for _, s := range v {
		s = strings.TrimSpace(s)
		if fold {
			s = strings.ToLower(s)
		}
		m[s] = true
	}
	return m
}

// compile validates s and prepares it for matching under the bands of w.
func (s *Selection) compile(w *scoring.Weights) (*matcher, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	min, err := s.MinScoreFor(w)
	if err != nil {
		return nil, err
	}
	m := &matcher{types: set(s.Types, false), valueTypes: set(s.ValueTypes, true), minScore: min, lim: s.limits(),
		feeds: set(s.Feeds, false), exclude: set(s.ExcludeFeeds, false), labels: set(s.Labels, true),
		sectors: set(s.Sectors, true), maxAge: s.MaxAge, minRelevance: s.MinRelevance, minReliability: int(s.MinReliability)}
	for _, a := range s.Attack {
		m.attack = append(m.attack, strings.ToUpper(strings.TrimSpace(a)))
	}
	return m, nil
}

// match reports whether m selects the value described by meta at asOf.
func (m *matcher) match(meta *Meta, asOf time.Time) bool { return m.why(meta, asOf) == "" }

// why returns the first selection field meta fails at asOf, "" when it matches.
func (m *matcher) why(meta *Meta, asOf time.Time) string {
	if m.types != nil && !m.types[meta.Type] {
		return "types"
	}
	if m.valueTypes != nil && !m.valueTypes[meta.ValueType] && !m.valueTypes[baseType(meta.ValueType)] {
		return "value_types"
	}
	if meta.Score < m.minScore {
		return "score " + strconv.Itoa(meta.Score) + " below " + strconv.Itoa(m.minScore)
	}
	if meta.Share > m.lim.MaxShare {
		return "share " + meta.Share.String()
	}
	if meta.TLP > m.lim.MaxTLP {
		return "tlp " + meta.TLP.String()
	}
	if m.feeds != nil || m.exclude != nil {
		ok := false
		for _, f := range meta.Feeds {
			if !m.exclude[f] && (m.feeds == nil || m.feeds[f]) {
				ok = true
				break
			}
		}
		if !ok {
			return "feeds"
		}
	}
	if m.labels != nil && !anyIn(meta.Labels, m.labels) {
		return "labels"
	}
	if m.sectors != nil && !anyIn(meta.Sectors, m.sectors) {
		return "sectors"
	}
	if m.attack != nil {
		ok := false
		for _, id := range meta.Attack {
			id = strings.ToUpper(id)
			for _, want := range m.attack {
				if id == want || strings.HasPrefix(id, want+".") {
					ok = true
				}
			}
		}
		if !ok {
			return "attack"
		}
	}
	if m.maxAge > 0 && (meta.LastSeen.IsZero() || asOf.Sub(meta.LastSeen) > m.maxAge) {
		return "max_age"
	}
	if meta.Relevance < m.minRelevance {
		return "relevance " + strconv.Itoa(meta.Relevance) + " below " + strconv.Itoa(m.minRelevance)
	}
	if m.minReliability > 0 && meta.Reliability < m.minReliability {
		return "reliability " + strconv.Itoa(meta.Reliability) + " below " + strconv.Itoa(m.minReliability)
	}
	return ""
}

func anyIn(v []string, m map[string]bool) bool {
	for _, s := range v {
		if m[strings.ToLower(strings.TrimSpace(s))] {
			return true
		}
	}
	return false
}

// baseType returns "file" for "file:sha-256" and the type itself otherwise.
func baseType(t string) string {
	if b, _, ok := strings.Cut(t, ":"); ok {
		return b
	}
	return t
}

// Meta is what a selection and a consumer's limits are tested against: one
// pool value as scored in a pass.
type Meta struct {
	Type      string          // STIX object type of the published object ("indicator")
	ValueType string          // the value's kind: "ipv4-addr", "file:sha-256", ...
	Value     string          // the normalised value
	Score     int             // risk score as of the pass
	Band      string          // its band
	Feeds     []string        // feeds with a live (not withdrawn) report, sorted
	Share     auth.ShareLevel // the most restrictive share level among the live reports
	TLP       stix.TLP        // the highest TLP among the live reports (TLPNone: unmarked)
	Labels    []string        // union of the live reports' labels
	Sectors   []string        // union of the live reports' targeted sectors
	Attack    []string        // union of the live reports' ATT&CK ids, with the ids and tactics of the ATT&CK objects it indicates
	LastSeen  time.Time       // latest report or sighting
	CVEs      []string        // union of the live reports' CVEs
	Regions   []string        // union of the live reports' targeted regions
	// ReportRefs are the union of the live reports' report ids (pulses,
	// events naming the value).
	ReportRefs []string
	// Reliability is the highest reliability (0–100, as scored: the
	// default for a feed without one) among the live reports.
	Reliability int
	// Relevance is the value's relevance to the organisation (0–100; 0
	// without an organisation profile).
	Relevance int
}
