package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

const feedsYAML = `
- name: otx-subscribed
  provider: otx
  interval: 1h30m
  default_tlp: TLP:WHITE
  reliability: b
  enabled_types: [ipv4-addr, domain-name, file]
  detection_threshold: 50
  options:
    api_key_env: OTX_KEY
    page_size: 50
- name: rf
  provider: recordedfuture
  reliability: 85
  enabled: false
`

type otxOptions struct {
	APIKeyEnv string `yaml:"api_key_env"`
	PageSize  int    `yaml:"page_size"`
}

func decodeFeeds(t *testing.T, src string) []ingest.FeedConfig {
	t.Helper()
	var feeds []ingest.FeedConfig
	if err := yaml.Unmarshal([]byte(src), &feeds); err != nil {
		t.Fatal(err)
	}
	return feeds
}

func TestFeedConfig(t *testing.T) {
	feeds := decodeFeeds(t, feedsYAML)
	otx, rf := &feeds[0], &feeds[1]
	for _, f := range feeds {
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if err := otx.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := rf.Validate(); err != nil {
		t.Fatal(err)
	}
	if otx.Interval.String() != "1h30m0s" || otx.DefaultTLP != "clear" || otx.Reliability.Score != 80 ||
		otx.Reliability.Grade != "B" || otx.Share != ingest.ShareCommunity || !otx.IsEnabled() || otx.DetectionThreshold != 50 {
		t.Fatalf("otx config %+v", otx)
	}
	if otx.TLP() != stix.TLPClear || rf.TLP() != stix.TLPNone {
		t.Fatalf("TLP() = %v, %v", otx.TLP(), rf.TLP())
	}
	strict := ingest.FeedConfig{Name: "s", Provider: "misp", DefaultTLP: " TLP:AMBER+STRICT"}
	if err := strict.Validate(); err != nil || strict.DefaultTLP != "amber+strict" || strict.TLP() != stix.TLPAmberStrict {
		t.Fatalf("amber+strict: %+v %v", strict, err)
	}
	if rf.Share != ingest.ShareInternal || rf.IsEnabled() || rf.Reliability.Score != 85 || !rf.Reliability.Set {
		t.Fatalf("rf config %+v", rf)
	}
	var opt otxOptions
	if err := otx.DecodeOptions(&opt); err != nil || opt.APIKeyEnv != "OTX_KEY" || opt.PageSize != 50 {
		t.Fatalf("options %+v %v", opt, err)
	}
	otx.Getenv = func(k string) string {
		if k == "OTX_KEY" {
			return "s3cret"
		}
		return ""
	}
	if v, err := otx.Secret("api_key_env", opt.APIKeyEnv); err != nil || v != "s3cret" {
		t.Fatalf("Secret = %q, %v", v, err)
	}
	if _, err := otx.Secret("api_key_env", "MISSING"); !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "MISSING") {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestFeedConfigErrors(t *testing.T) {
	for name, tt := range map[string]struct{ yaml, want string }{
		"no name":        {"- provider: otx", "name: required"},
		"no provider":    {"- name: a", "provider: required"},
		"bad tlp":        {"- {name: a, provider: otx, default_tlp: purple}", "default_tlp"},
		"bad share":      {"- {name: a, provider: otx, share: public}", "share"},
		"bad threshold":  {"- {name: a, provider: otx, detection_threshold: 101}", "detection_threshold"},
		"bad type":       {"- {name: a, provider: otx, enabled_types: [mutex]}", "enabled_types"},
		"negative every": {"- {name: a, provider: otx, interval: -1h}", "interval"},
		"enrich minute":  {"- {name: a, provider: maltiverse, enrich: {per_minute: -2}}", "enrich.per_minute"},
		"enrich day":     {"- {name: a, provider: maltiverse, enrich: {per_day: -5}}", "enrich.per_day"},
	} {
		t.Run(name, func(t *testing.T) {
			f := decodeFeeds(t, tt.yaml)[0]
			err := f.Validate()
			if !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrConfig naming %q", err, tt.want)
			}
		})
	}
	var feeds []ingest.FeedConfig
	if err := yaml.Unmarshal([]byte("- {name: a, provider: otx, reliability: G}"), &feeds); err == nil || !strings.Contains(err.Error(), "reliability") {
		t.Fatalf("bad reliability: %v", err)
	}
	f := decodeFeeds(t, "- {name: a, provider: otx, options: {api_key_env: X, pagesize: 3}}")[0]
	var opt otxOptions
	if err := f.DecodeOptions(&opt); !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "pagesize") {
		t.Fatalf("unknown option: %v", err)
	}
}

type nopSource struct{ cfg ingest.FeedConfig }

func (nopSource) Pull(context.Context, ingest.Cursor, func(ingest.Batch) error) error { return nil }

func TestRegistry(t *testing.T) {
	reg := ingest.NewRegistry()
	newNop := func(c ingest.FeedConfig) (ingest.Source, error) { return nopSource{c}, nil }
	if err := reg.Register("otx", newNop); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("otx", newNop); !errors.Is(err, ingest.ErrDuplicateProvider) {
		t.Fatalf("second Register: got %v, want ErrDuplicateProvider", err)
	}
	if err := reg.Register("broken", func(ingest.FeedConfig) (ingest.Source, error) { return nil, errors.New("no key") }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Names(), ","); got != "broken,otx" {
		t.Fatalf("Names = %s", got)
	}
	f, err := reg.New(ingest.FeedConfig{Name: "o", Provider: "otx"})
	if err != nil || f.Source.(nopSource).cfg.Name != "o" || f.Config.Share != ingest.ShareCommunity {
		t.Fatalf("New: %+v %v", f, err)
	}
	if _, err := reg.New(ingest.FeedConfig{Name: "v", Provider: "virustotal"}); !errors.Is(err, ingest.ErrUnknownProvider) {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := reg.New(ingest.FeedConfig{Name: "b", Provider: "broken"}); err == nil || !strings.Contains(err.Error(), `feed "b": no key`) {
		t.Fatalf("factory error: %v", err)
	}
	if _, err := reg.New(ingest.FeedConfig{Provider: "otx"}); !errors.Is(err, ingest.ErrConfig) {
		t.Fatalf("invalid config: %v", err)
	}
	// The registry's identity reaches the factory, unless the config names one.
	reg.Identity = testIdentity
	if f, err := reg.New(ingest.FeedConfig{Name: "o", Provider: "otx"}); err != nil || f.Source.(nopSource).cfg.Identity != testIdentity || f.Config.Identity != testIdentity {
		t.Fatalf("identity: %+v %v", f, err)
	}
	const other = "identity--00000000-0000-4000-8000-000000000001"
	if f, err := reg.New(ingest.FeedConfig{Name: "o", Provider: "otx", Identity: other}); err != nil || f.Source.(nopSource).cfg.Identity != other {
		t.Fatalf("config identity: %+v %v", f, err)
	}
}

func TestMoreRestrictiveShare(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"", "", ""},
		{ingest.ShareCommunity, "", ingest.ShareCommunity},
		{"", ingest.SharePartners, ingest.SharePartners},
		{ingest.ShareCommunity, ingest.SharePartners, ingest.SharePartners},
		{ingest.ShareInternal, ingest.ShareCommunity, ingest.ShareInternal},
		{ingest.SharePartners, ingest.ShareInternal, ingest.ShareInternal},
		{ingest.ShareCommunity, "everyone", ingest.ShareInternal},
	} {
		if got := ingest.MoreRestrictiveShare(tt.a, tt.b); got != tt.want {
			t.Errorf("MoreRestrictiveShare(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
