package scoring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/scoring/warninglist"
)

// ErrInvalidConfig is wrapped by every configuration error; the message
// names the offending field.
var ErrInvalidConfig = errors.New("scoring: invalid config")

// Reliability is a feed's reliability from 1 (worthless) to 100 (always
// right); 0 means "not configured", and Score then uses
// Weights.DefaultReliability. In the config it is written either as a
// number or as an Admiralty (NATO) source-reliability letter.
type Reliability int

// admiralty maps the Admiralty source-reliability letters to Reliability.
// F ("reliability cannot be judged") is the neutral middle, above D and E,
// which are judgements that the source is often wrong. The table is the
// feeds' (ingest.Reliability: A=100, B=80, C=60, D=40, E=20, F=50), so a
// letter means the same number in a feed's reliability, in
// default_reliability and in a selection's min_reliability.
var admiralty = map[string]Reliability{"A": 100, "B": 80, "C": 60, "D": 40, "E": 20, "F": 50}

// ParseReliability reads "A".."F" (any case) or an integer 1–100.
func ParseReliability(s string) (Reliability, error) {
	s = strings.TrimSpace(s)
	if r, ok := admiralty[strings.ToUpper(s)]; ok {
		return r, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("reliability %q: want an Admiralty letter A-F or an integer 1-100", s)
	}
	return Reliability(n), nil
}

// UnmarshalYAML accepts a letter or a number (see ParseReliability).
func (r *Reliability) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: reliability: want a letter A-F or a number 1-100", n.Line)
	}
	v, err := ParseReliability(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*r = v
	return nil
}

// UnmarshalText accepts a letter or a number (see ParseReliability).
func (r *Reliability) UnmarshalText(b []byte) error {
	v, err := ParseReliability(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Band is a named score range starting at Min (inclusive) and ending where
// the next band starts.
type Band struct {
	// Name is the band's name (e.g. "high").
	Name string `yaml:"name" json:"name"`
	// Min is the lowest score in the band.
	Min int `yaml:"min" json:"min"`
	// Confidence is the STIX confidence (0–100) given to values in the
	// band, so that confidence changes only when the band does.
	Confidence int `yaml:"confidence" json:"confidence"`
}

// HalfLives are the age half-lives in days per kind of value.
type HalfLives struct {
	// IP applies to ipv4-addr and ipv6-addr.
	IP float64 `yaml:"ip"`
	// Domain applies to domain-name.
	Domain float64 `yaml:"domain"`
	// URL applies to url.
	URL float64 `yaml:"url"`
	// File applies to file hashes ("file", "file:sha256", ...).
	File float64 `yaml:"file"`
	// Email applies to email-addr.
	Email float64 `yaml:"email"`
	// Other applies to every other type.
	Other float64 `yaml:"other"`
}

// For returns the half-life in days for a value type as Inputs.Type
// writes it.
func (h HalfLives) For(typ string) float64 {
	switch {
	case typ == "ipv4-addr" || typ == "ipv6-addr":
		return h.IP
	case typ == "domain-name":
		return h.Domain
	case typ == "url":
		return h.URL
	case typ == "file" || strings.HasPrefix(typ, "file:"):
		return h.File
	case typ == "email-addr":
		return h.Email
	}
	return h.Other
}

// Weights are the scorer's tunables; see DefaultWeights for the defaults
// and the package documentation for the model they feed.
type Weights struct {
	// Bands are the score bands, ascending by Min; the first starts at 0.
	Bands []Band `yaml:"bands"`
	// AlertBand names the lowest band that alerts (its values and all
	// above "are in the alert band").
	AlertBand string `yaml:"alert_band"`
	// AllowListCap is the highest score an allow-listed value (or an
	// organisation asset) can have; it must be below the alert band.
	AllowListCap int `yaml:"allow_list_cap"`
	// SourceMax is the evidence one fully reliable, fresh report of
	// severity 1 gives (0–1]; below 1 so that a single report never
	// reaches the top of the scale alone.
	SourceMax float64 `yaml:"source_max"`
	// ReliabilityFloor is the share of a report's weight that does not
	// depend on its feed's reliability ([0,1)): a report weighs
	// floor + (1−floor) × reliability/100, so reliability ranks feeds
	// without silencing the weaker ones.
	ReliabilityFloor float64 `yaml:"reliability_floor"`
	// DefaultReliability is used for reports whose feed has no
	// reliability configured.
	DefaultReliability Reliability `yaml:"default_reliability"`
	// HalfLifeDays are the age half-lives per kind of value.
	HalfLifeDays HalfLives `yaml:"half_life_days"`
	// GraceDays are, per kind of value, how long after its last sighting a
	// report keeps its full weight before it starts to decay (>= 0).
	GraceDays HalfLives `yaml:"grace_days"`
	// Corroboration (1–4) is how much more a report counts when another
	// independent source already reports the value: every source but the
	// strongest enters the noisy OR as 1 − (1 − e)^Corroboration. 1 is the
	// plain noisy OR.
	Corroboration float64 `yaml:"corroboration"`
	// UnknownAgeFactor multiplies the evidence of a report without any
	// first or last seen time (0–1].
	UnknownAgeFactor float64 `yaml:"unknown_age_factor"`
	// SightingsWeight is the most internal sightings can add, as a share
	// of the room left (0–1).
	SightingsWeight float64 `yaml:"sightings_weight"`
	// SightingsScale is the sightings count at which sightings reach 63 %
	// of SightingsWeight (> 0).
	SightingsScale float64 `yaml:"sightings_scale"`
	// FalsePositivePenalty multiplies the score once per false-positive
	// report ([0,1)).
	FalsePositivePenalty float64 `yaml:"false_positive_penalty"`
}

// DefaultWeights are the documented defaults:
//
//	bands:                low 0 (confidence 15), medium 30 (50),
//	                      high 60 (85), critical 85 (95)
//	alert_band:           high
//	allow_list_cap:       29   (an allow-listed value stays "low")
//	source_max:           0.8  (one report alone scores at most 80)
//	reliability_floor:    0.3  (reliability 60 weighs 0.72, 80 weighs 0.86)
//	default_reliability:  50   (as Admiralty F, "cannot be judged")
//	half_life_days:       ip 7, domain 30, url 14, file 365, email 60, other 60
//	grace_days:           ip 3, domain 7, url 3, file 30, email 14, other 14
//	corroboration:        1    (plain noisy OR)
//	unknown_age_factor:   0.8
//	sightings_weight:     0.6, sightings_scale: 3
//	false_positive_penalty: 0.6 (one report ×0.6, two ×0.36, three ×0.22)
//
// With these, a fresh value that one C-rated (60) feed calls malicious
// (severity 0.85) scores 49 (medium); a second C-rated feed with a weaker
// verdict (0.55) lifts it to 65 (high, alerts). One B-rated (80) feed with
// severity 0.9 alone gives 62 (high); two such give 86 (critical).
//
// These defaults were set after the labelled corpus in
// testdata/eval was committed, with it as the yardstick.
func DefaultWeights() Weights {
	return Weights{
		Bands: []Band{
			{Name: "low", Min: 0, Confidence: 15},
			{Name: "medium", Min: 30, Confidence: 50},
			{Name: "high", Min: 60, Confidence: 85},
			{Name: "critical", Min: 85, Confidence: 95},
		},
		AlertBand:            "high",
		AllowListCap:         29,
		SourceMax:            0.8,
		ReliabilityFloor:     0.3,
		DefaultReliability:   50,
		HalfLifeDays:         HalfLives{IP: 7, Domain: 30, URL: 14, File: 365, Email: 60, Other: 60},
		GraceDays:            HalfLives{IP: 3, Domain: 7, URL: 3, File: 30, Email: 14, Other: 14},
		Corroboration:        1,
		UnknownAgeFactor:     0.8,
		SightingsWeight:      0.6,
		SightingsScale:       3,
		FalsePositivePenalty: 0.6,
	}
}

// AlertMin returns the lowest score in the alert band (101 if the band
// does not exist, which Validate rejects).
func (w *Weights) AlertMin() int {
	for _, b := range w.Bands {
		if b.Name == w.AlertBand {
			return b.Min
		}
	}
	return 101
}

// Validate reports the first field that is out of range.
func (w *Weights) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: scoring.%s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	if len(w.Bands) == 0 {
		return bad("bands", "at least one band is required")
	}
	seen := map[string]bool{}
	for i, b := range w.Bands {
		f := fmt.Sprintf("bands[%d]", i)
		switch {
		case b.Name == "":
			return bad(f+".name", "required")
		case seen[b.Name]:
			return bad(f+".name", "%q given twice", b.Name)
		case i == 0 && b.Min != 0:
			return bad(f+".min", "the first band must start at 0, not %d", b.Min)
		case i > 0 && b.Min <= w.Bands[i-1].Min:
			return bad(f+".min", "%d is not above the previous band's %d", b.Min, w.Bands[i-1].Min)
		case b.Min > 100:
			return bad(f+".min", "%d is above 100", b.Min)
		case b.Confidence < 0 || b.Confidence > 100:
			return bad(f+".confidence", "%d is outside 0-100", b.Confidence)
		}
		seen[b.Name] = true
	}
	if !seen[w.AlertBand] {
		return bad("alert_band", "%q is not one of the bands", w.AlertBand)
	}
	if w.AllowListCap < 0 || w.AllowListCap >= w.AlertMin() {
		return bad("allow_list_cap", "%d must be 0 or more and below the alert band's minimum %d", w.AllowListCap, w.AlertMin())
	}
	ranges := []struct {
		field       string
		v, lo, hi   float64
		loOpen, hi1 bool
	}{
		{"source_max", w.SourceMax, 0, 1, true, false},
		{"reliability_floor", w.ReliabilityFloor, 0, 1, false, true},
		{"unknown_age_factor", w.UnknownAgeFactor, 0, 1, true, false},
		{"corroboration", w.Corroboration, 1, 4, false, false},
		{"sightings_weight", w.SightingsWeight, 0, 1, false, false},
		{"false_positive_penalty", w.FalsePositivePenalty, 0, 1, false, true},
		{"half_life_days.ip", w.HalfLifeDays.IP, 0, math.Inf(1), true, false},
		{"half_life_days.domain", w.HalfLifeDays.Domain, 0, math.Inf(1), true, false},
		{"half_life_days.url", w.HalfLifeDays.URL, 0, math.Inf(1), true, false},
		{"half_life_days.file", w.HalfLifeDays.File, 0, math.Inf(1), true, false},
		{"half_life_days.email", w.HalfLifeDays.Email, 0, math.Inf(1), true, false},
		{"half_life_days.other", w.HalfLifeDays.Other, 0, math.Inf(1), true, false},
		{"sightings_scale", w.SightingsScale, 0, math.Inf(1), true, false},
		{"grace_days.ip", w.GraceDays.IP, 0, math.Inf(1), false, false},
		{"grace_days.domain", w.GraceDays.Domain, 0, math.Inf(1), false, false},
		{"grace_days.url", w.GraceDays.URL, 0, math.Inf(1), false, false},
		{"grace_days.file", w.GraceDays.File, 0, math.Inf(1), false, false},
		{"grace_days.email", w.GraceDays.Email, 0, math.Inf(1), false, false},
		{"grace_days.other", w.GraceDays.Other, 0, math.Inf(1), false, false},
	}
	for _, r := range ranges {
		if r.v != r.v || r.v < r.lo || (r.loOpen && r.v == r.lo) || r.v > r.hi || (r.hi1 && r.v == r.hi) || math.IsInf(r.v, 0) {
			return bad(r.field, "%v is out of range", r.v)
		}
	}
	if w.DefaultReliability < 1 || w.DefaultReliability > 100 {
		return bad("default_reliability", "%d is outside 1-100", w.DefaultReliability)
	}
	return nil
}

// Config is the "scoring:" section of the config file.
type Config struct {
	// Weights are inline: bands, alert_band, half_life_days, ... sit
	// directly under "scoring:".
	Weights `yaml:",inline"`
	// Warninglists selects the allow-lists and the organisation's assets.
	Warninglists warninglist.Config `yaml:"warninglists"`
}

// DefaultConfig returns DefaultWeights and the embedded warninglists with
// no organisation assets. Decode the config file over it so that unset
// fields keep their defaults.
func DefaultConfig() Config { return Config{Weights: DefaultWeights()} }

// Validate reports the first invalid field.
func (c *Config) Validate() error { return c.Weights.Validate() }

// ParseConfig decodes the body of a "scoring:" section over DefaultConfig
// and validates it. Unknown keys are errors.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
