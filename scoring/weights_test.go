package scoring_test

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/scoring"
)

func TestParseReliability(t *testing.T) {
	for in, want := range map[string]scoring.Reliability{"A": 100, "b": 80, " C ": 60, "D": 40, "E": 20, "F": 50, "1": 1, "100": 100, "73": 73} {
		got, err := scoring.ParseReliability(in)
		if err != nil || got != want {
			t.Errorf("ParseReliability(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "0", "101", "-5", "AB", "7.5"} {
		if _, err := scoring.ParseReliability(in); err == nil {
			t.Errorf("ParseReliability(%q) = nil error, want one", in)
		}
	}
	var feeds map[string]scoring.Reliability
	if err := yaml.Unmarshal([]byte("rf: A\nmisp: 70\notx: f\n"), &feeds); err != nil {
		t.Fatal(err)
	}
	if feeds["rf"] != 100 || feeds["misp"] != 70 || feeds["otx"] != 50 {
		t.Errorf("YAML reliabilities = %v, want rf 100 misp 70 otx 50", feeds)
	}
	if err := yaml.Unmarshal([]byte("rf: Z\n"), &feeds); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("YAML reliability Z: error = %v, want one naming line 1", err)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := scoring.ParseConfig([]byte(`
alert_band: critical
allow_list_cap: 40
default_reliability: C
half_life_days: {ip: 3}
warninglists:
  disable: [vpn-ipv4]
  assets:
    domains: [corp-example.com]
`))
	if err != nil {
		t.Fatal(err)
	}
	d := scoring.DefaultWeights()
	if c.AlertBand != "critical" || c.AllowListCap != 40 || c.DefaultReliability != 60 || c.HalfLifeDays.IP != 3 {
		t.Errorf("parsed %+v, want the values set", c.Weights)
	}
	if c.HalfLifeDays.Domain != d.HalfLifeDays.Domain || c.SourceMax != d.SourceMax || len(c.Bands) != 4 {
		t.Errorf("unset fields lost their defaults: %+v", c.Weights)
	}
	if c.Warninglists.Disable[0] != "vpn-ipv4" || c.Warninglists.Assets.Domains[0] != "corp-example.com" {
		t.Errorf("warninglists = %+v", c.Warninglists)
	}
	if c, err := scoring.ParseConfig(nil); err != nil || c.AlertBand != "high" {
		t.Errorf("ParseConfig(empty) = %+v, %v, want the defaults", c.Weights, err)
	}
	for name, tt := range map[string]struct{ yaml, field string }{
		"unknown key":            {"alert_bnad: high", "alert_bnad"},
		"alert band missing":     {"alert_band: severe", "scoring.alert_band"},
		"cap in alert band":      {"allow_list_cap: 60", "scoring.allow_list_cap"},
		"bands not ascending":    {"bands: [{name: low, min: 0}, {name: high, min: 0}]", "scoring.bands[1].min"},
		"first band not at 0":    {"bands: [{name: low, min: 5}]", "scoring.bands[0].min"},
		"duplicate band":         {"bands: [{name: low, min: 0}, {name: low, min: 50}]\nalert_band: low\nallow_list_cap: 0", "scoring.bands[1].name"},
		"band confidence":        {"bands: [{name: low, min: 0, confidence: 101}, {name: high, min: 60}]", "scoring.bands[0].confidence"},
		"source max zero":        {"source_max: 0", "scoring.source_max"},
		"source max above one":   {"source_max: 1.5", "scoring.source_max"},
		"half life zero":         {"half_life_days: {domain: 0}", "scoring.half_life_days.domain"},
		"penalty one":            {"false_positive_penalty: 1", "scoring.false_positive_penalty"},
		"sightings weight":       {"sightings_weight: 2", "scoring.sightings_weight"},
		"sightings scale":        {"sightings_scale: -1", "scoring.sightings_scale"},
		"grace negative":         {"grace_days: {ip: -1}", "scoring.grace_days.ip"},
		"reliability floor one":  {"reliability_floor: 1", "scoring.reliability_floor"},
		"corroboration below 1":  {"corroboration: 0.5", "scoring.corroboration"},
		"reliability letter bad": {"default_reliability: Q", "reliability"},
		"not a mapping":          {"- 1", "cannot unmarshal"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := scoring.ParseConfig([]byte(tt.yaml))
			if err == nil || !errors.Is(err, scoring.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("ParseConfig(%q) error = %v, want ErrInvalidConfig naming %q", tt.yaml, err, tt.field)
			}
		})
	}
}
