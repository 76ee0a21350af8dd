package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Config is the root of the YAML configuration file. Each package owns its
// section; unknown keys anywhere are errors.
type Config struct {
	// Listen is the address `serve` listens on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Store is `embedded:DIR` (default `embedded:./data`) or a mongodb:// or
	// mongodb+srv:// URI.
	Store string `yaml:"store"`
	// Identity is the instance identity: the created_by_ref of everything ctibroker authors.
	Identity Identity `yaml:"identity"`
	// TLS enables HTTPS when both files are set.
	TLS TLS `yaml:"tls"`
	// Log configures the access and audit logs.
	Log Log `yaml:"log"`
	// Seed lists STIX files loaded into stored collections on first start
	// (only while the collection is empty).
	Seed []Seed `yaml:"seed"`

	// Pool is the stored collection that holds the intelligence pool (every
	// feed's normalised values, ctibroker's indicators and context). Default: an
	// internal collection named "pool" that no TAXII route serves; name a
	// configured stored, non-writable collection to serve the whole pool.
	Pool string `yaml:"pool"`
	// Feeds are the intelligence feeds ctibroker pulls.
	Feeds []ingest.FeedConfig `yaml:"feeds"`
	// Indicators tunes the indicators ctibroker authors: the default
	// valid_until per value type and TLP markings (ingest.Config). Unset keys
	// keep ingest.DefaultConfig's values (DESIGN.md: IPs days, domains weeks,
	// hashes months); a feed's own valid_for overrides them.
	Indicators ingest.Config `yaml:"indicators"`

	TAXII taxii.Config `yaml:",inline"`
	Auth  auth.Config  `yaml:",inline"`

	// Scoring holds the risk score's weights, bands and allow-lists
	// (scoring.Config); unset fields keep scoring.DefaultConfig's values.
	Scoring scoring.Config `yaml:"scoring"`

	// Organisation is who we are: industry sectors, regions, products (CPE
	// 2.3 names or vendor:product) and brand keywords. It gives each value a
	// relevance (scoring.Organisation.Relevance) that curated selections can
	// require (min_relevance) and explain shows; it never changes the risk
	// score and is never published.
	Organisation scoring.Organisation `yaml:"organisation"`

	// MISPFeed configures the MISP feeds of the collections (mispfeed.go).
	MISPFeed MISPFeedConfig `yaml:"misp_feed"`

	// Curation configures the curation passes that fill the curated
	// collections (curate.go).
	Curation CurationConfig `yaml:"curation"`

	// Push sends collections to partners' TAXII servers and MISP instances (push.go).
	Push []PushConfig `yaml:"push"`

	// dir is the folder of the config file; relative paths in it resolve from there.
	dir string
}

// Identity names the ctibroker instance.
type Identity struct {
	Name string `yaml:"name"`
	ID   string `yaml:"id"` // identity--UUID
}

// TLS names a certificate and key in PEM files.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
	// AuditFile receives the audit log as JSON lines; default: stderr with the access log.
	AuditFile string `yaml:"audit_file"`
}

// Seed loads a STIX file into a stored collection while that collection is empty.
type Seed struct {
	Collection string `yaml:"collection"`
	File       string `yaml:"file"`
}

// loadConfig reads and validates the YAML file at path.
func loadConfig(path string) (*Config, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if path != "-" {
		cfg.dir = filepath.Dir(path)
	}
	return cfg, nil
}

// parseConfig decodes strictly (unknown keys are errors) and validates.
func parseConfig(b []byte) (*Config, error) {
	cfg := Config{Scoring: scoring.DefaultConfig(), Indicators: ingest.DefaultConfig()}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file")
		}
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Store == "" {
		cfg.Store = "embedded:./data"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// lookupProviders are the providers whose feeds can look single values up
// (ingest.Looker), the only ones an enrich: block means something for.
var lookupProviders = map[string]bool{maltiverse.Provider: true, virustotal.Provider: true, recordedfuture.Provider: true}

func (c *Config) validate() error {
	if c.Identity.Name == "" {
		return errors.New("identity.name: required")
	}
	if !strings.HasPrefix(c.Identity.ID, "identity--") {
		return fmt.Errorf("identity.id %q: want identity--UUID", c.Identity.ID)
	}
	if err := validIdentifier(c.Identity.ID); err != nil {
		return fmt.Errorf("identity.id: %w", err)
	}
	if !strings.HasPrefix(c.Store, "embedded:") && !strings.HasPrefix(c.Store, "mongodb://") && !strings.HasPrefix(c.Store, "mongodb+srv://") {
		return fmt.Errorf("store %q: want embedded:DIR or a mongodb:// URI", redactURI(c.Store))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	if err := c.TAXII.Validate(); err != nil {
		return err
	}
	if err := c.Scoring.Validate(); err != nil {
		return err
	}
	if err := c.Organisation.Validate(); err != nil {
		return err
	}
	if err := c.MISPFeed.validate(); err != nil {
		return err
	}
	if err := c.validateCuration(); err != nil {
		return err
	}
	if err := c.validatePush(); err != nil {
		return err
	}
	known := map[string]taxii.Collection{}
	for _, col := range c.TAXII.Collections {
		known[col.ID] = col
	}
	for _, cc := range c.Auth.Consumers {
		for _, id := range cc.Read {
			if _, ok := known[id]; !ok && id != "*" { // "*": every collection
				return fmt.Errorf("consumer %q: read: unknown collection %q", cc.Name, id)
			}
		}
		for _, id := range cc.Write {
			if id == "*" {
				continue // every writable collection
			}
			col, ok := known[id]
			if !ok {
				return fmt.Errorf("consumer %q: write: unknown collection %q", cc.Name, id)
			}
			if !col.Writable {
				return fmt.Errorf("consumer %q: write: collection %q is not writable", cc.Name, id)
			}
		}
	}
	if c.Pool != "" {
		col, ok := known[c.Pool]
		switch {
		case !ok:
			return fmt.Errorf("pool: unknown collection %q", c.Pool)
		case col.Kind == "curated" || col.Writable:
			return fmt.Errorf("pool: collection %q must be stored and not writable", c.Pool)
		}
	}
	feeds := map[string]bool{}
	for i := range c.Feeds {
		f := &c.Feeds[i]
		if err := f.Validate(); err != nil {
			return fmt.Errorf("feeds[%d]: %w", i, err)
		}
		if feeds[f.Name] {
			return fmt.Errorf("feeds[%d]: name %q used twice", i, f.Name)
		}
		if f.Enrich != nil && !lookupProviders[f.Provider] {
			return fmt.Errorf("feeds[%d] %q: enrich: provider %s cannot look values up (maltiverse, virustotal and recordedfuture can)", i, f.Name, f.Provider)
		}
		feeds[f.Name] = true
	}
	for i, s := range c.Seed {
		col, ok := known[s.Collection]
		if !ok {
			return fmt.Errorf("seed[%d]: unknown collection %q", i, s.Collection)
		}
		if col.Kind == "curated" {
			return fmt.Errorf("seed[%d]: collection %q is curated; seed a stored collection", i, s.Collection)
		}
		if s.File == "" {
			return fmt.Errorf("seed[%d]: file: required", i)
		}
	}
	return nil
}

// pool returns the pool collection's id.
func (c *Config) pool() string {
	if c.Pool != "" {
		return c.Pool
	}
	return ingest.DefaultPool
}

// path resolves p relative to the config file's folder.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// redactURI hides the password of a URI for messages.
func redactURI(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return s[:scheme+3] + userinfo[:i] + ":xxxxx" + s[at:]
	}
	return s
}
