package taxii_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/taxii"
)

// TestConfigYAML decodes every key strictly, as cmd does.
func TestConfigYAML(t *testing.T) {
	src := `
discovery: {title: ACME TAXII, description: d, contact: soc@acme.example, default: intel}
anonymous_discovery: true
base_url: https://cti.acme.example
trusted_proxies: [10.0.0.0/8, "::1"]
rate_limit: {requests_per_second: 20, burst: 40}
lenient: false
status_retention: 48h
api_roots:
  - {name: intel, title: ACME curated intelligence, max_content_length: 1048576, default_page: 500, max_page: 5000}
collections:
  - {id: 3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11, api_root: intel, title: Inbox, alias: inbox, kind: stored, writable: true}
  - {id: 9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04, api_root: intel, title: Published, kind: curated, public: true,
     media_types: ["application/stix+json;version=2.1"]}
`
	var cfg taxii.Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.StatusRetention != 48*time.Hour || cfg.LenientProfile() || cfg.RateLimit.Burst != 40 || cfg.APIRoots[0].MaxPage != 5000 ||
		!cfg.Collections[1].Public || cfg.Discovery.Default != "intel" || cfg.TrustedProxies[1] != "::1" {
		t.Errorf("decoded %+v", cfg)
	}
	var bad taxii.Config
	dec = yaml.NewDecoder(strings.NewReader("api_roots: [{name: x, title: y, colour: red}]"))
	dec.KnownFields(true)
	if err := dec.Decode(&bad); err == nil {
		t.Error("unknown key accepted")
	}
	// defaults
	d := taxii.Config{APIRoots: []taxii.APIRoot{{Name: "r", Title: "R"}}, Collections: []taxii.Collection{{ID: "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11", APIRoot: "r", Title: "C"}}}.WithDefaults()
	if d.APIRoots[0].MaxContentLength != 32<<20 || d.APIRoots[0].DefaultPage != 1000 || d.APIRoots[0].MaxPage != 10000 ||
		d.StatusRetention != 24*time.Hour || !d.LenientProfile() || d.Collections[0].Kind != "stored" || d.Discovery.Title == "" {
		t.Errorf("defaults %+v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	const id1, id2 = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11", "9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04"
	base := func() taxii.Config {
		return taxii.Config{
			APIRoots:    []taxii.APIRoot{{Name: "intel", Title: "Intel"}},
			Collections: []taxii.Collection{{ID: id1, APIRoot: "intel", Title: "Inbox"}},
		}
	}
	for name, tt := range map[string]struct {
		mutate func(*taxii.Config)
		want   string
	}{
		"no roots":         {func(c *taxii.Config) { c.APIRoots = nil; c.Collections = nil }, "at least one API root"},
		"nested root":      {func(c *taxii.Config) { c.APIRoots[0].Name = "taxii2/api1"; c.Collections[0].APIRoot = "taxii2/api1" }, `"taxii2/api1": name must be one path segment`},
		"reserved root":    {func(c *taxii.Config) { c.APIRoots[0].Name = "taxii2"; c.Collections[0].APIRoot = "taxii2" }, "reserved"},
		"duplicate root":   {func(c *taxii.Config) { c.APIRoots = append(c.APIRoots, c.APIRoots[0]) }, `"intel": duplicate name`},
		"root title":       {func(c *taxii.Config) { c.APIRoots[0].Title = "" }, `"intel": title is required`},
		"pages":            {func(c *taxii.Config) { c.APIRoots[0].DefaultPage = 20000 }, "default_page (20000) <= max_page (10000)"},
		"negative length":  {func(c *taxii.Config) { c.APIRoots[0].MaxContentLength = -1 }, "max_content_length must be positive"},
		"default root":     {func(c *taxii.Config) { c.Discovery.Default = "nope" }, `discovery.default "nope"`},
		"not uuid":         {func(c *taxii.Config) { c.Collections[0].ID = "inbox" }, `collections[0] "inbox" (Inbox): id "inbox" is not a UUID`},
		"uuid v1":          {func(c *taxii.Config) { c.Collections[0].ID = "3b5c2a7e-1f4d-1c8e-9a61-2d7f0c9e8b11" }, "not a version 4 UUID"},
		"upper uuid":       {func(c *taxii.Config) { c.Collections[0].ID = strings.ToUpper(id1) }, "lower case"},
		"dup id":           {func(c *taxii.Config) { c.Collections = append(c.Collections, c.Collections[0]) }, "duplicate id"},
		"unknown root":     {func(c *taxii.Config) { c.Collections[0].APIRoot = "misp" }, `(Inbox): api_root "misp" is not declared`},
		"no title":         {func(c *taxii.Config) { c.Collections[0].Title = "" }, "title is required"},
		"bad kind":         {func(c *taxii.Config) { c.Collections[0].Kind = "dynamic" }, `kind "dynamic"`},
		"writable curated": {func(c *taxii.Config) { c.Collections[0].Kind = "curated"; c.Collections[0].Writable = true }, "curated collection cannot be writable"},
		"alias twice": {func(c *taxii.Config) {
			c.Collections[0].Alias = "x"
			c.Collections = append(c.Collections, taxii.Collection{ID: id2, APIRoot: "intel", Title: "P", Alias: "x"})
		}, `alias "x" already used by collection ` + id1},
		"alias uuid":      {func(c *taxii.Config) { c.Collections[0].Alias = id2 }, "must not look like a collection id"},
		"bad media type":  {func(c *taxii.Config) { c.Collections[0].MediaTypes = []string{"stix"} }, `media_types: "stix"`},
		"short retention": {func(c *taxii.Config) { c.StatusRetention = time.Hour }, "status_retention 1h0m0s: must be at least 24h"},
		"bad proxy":       {func(c *taxii.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, `trusted_proxies: "10.0.0.0/33"`},
		"bad base url":    {func(c *taxii.Config) { c.BaseURL = "cti.acme.example" }, "want an absolute http(s) URL"},
		"base url query":  {func(c *taxii.Config) { c.BaseURL = "https://x.example/?a=1" }, "query"},
		"negative rate":   {func(c *taxii.Config) { c.RateLimit.RequestsPerSecond = -1 }, "rate_limit"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, taxii.ErrConfig) {
				t.Fatalf("Validate() = %v, want an ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}
