package taxii

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/storage"
)

// Defaults of Config (DESIGN.md "Limits").
const (
	DefaultMaxContentLength = 32 << 20 // bytes, per API root
	DefaultPage             = 1000     // objects per page when the client sends no limit
	DefaultMaxPage          = 10000    // largest page a client may ask for
	DefaultStatusRetention  = 24 * time.Hour
	DefaultTitle            = "ctibroker TAXII 2.1"
	// MinStatusRetention is the shortest status retention accepted (§4.3 SHOULD ≥ 24 h).
	MinStatusRetention = 24 * time.Hour
)

// Media types (§1.6.8).
const (
	// MediaTypeTAXII is the Content-Type of every response.
	MediaTypeTAXII = "application/taxii+json;version=2.1"
	// MediaTypeSTIX is the default media type of a collection's objects.
	MediaTypeSTIX = "application/stix+json;version=2.1"
)

// Config is the TAXII part of ctibroker's YAML configuration. cmd decodes the
// file strictly (unknown keys are errors) into it; NewServer and Reload apply the
// defaults and Validate it.
type Config struct {
	// Discovery is the Server Discovery resource (§4.1).
	Discovery Discovery `yaml:"discovery"`
	// AnonymousDiscovery serves /taxii2/ without credentials (listing the API roots
	// that hold public collections).
	AnonymousDiscovery bool `yaml:"anonymous_discovery"`
	// BaseURL is the external base URL (e.g. https://cti.example.org) used for the
	// absolute API root URLs in discovery. Empty: relative URLs (/intel/), or
	// absolute ones built from X-Forwarded-Proto/-Host sent by a trusted proxy.
	BaseURL string `yaml:"base_url"`
	// TrustedProxies are the CIDRs (or single addresses) whose X-Forwarded-For,
	// -Proto and -Host headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RateLimit bounds the request rate of each consumer (anonymous callers: per
	// address). Zero RequestsPerSecond disables it.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Lenient accepts the deviations real producers send (second-precision
	// created/modified, uppercase UUID hex, TLP 1.0 markings, POST without a TAXII
	// Content-Type); the objects are kept byte-exact. Default true.
	Lenient *bool `yaml:"lenient"`
	// StatusRetention is how long a status resource stays readable (default and
	// minimum 24h, §4.3).
	StatusRetention time.Duration `yaml:"status_retention"`
	// APIRoots are the API roots (§4.2), each one path segment.
	APIRoots []APIRoot `yaml:"api_roots"`
	// Collections are the collections (§5.2), each in one API root.
	Collections []Collection `yaml:"collections"`
	// MISPSync configures the MISP server-sync endpoints (see MISPSync).
	MISPSync MISPSync `yaml:"misp_sync"`
	// MaxSightings bounds the items (STIX sightings and opinions, or JSON
	// list entries) of one POST /{root}/sightings/ (default
	// DefaultMaxSightings); more is 413 and nothing is stored.
	MaxSightings int `yaml:"max_sightings"`
}

// Discovery holds the Server Discovery resource's properties (§4.1.1).
type Discovery struct {
	Title       string `yaml:"title"`       // default "ctibroker TAXII 2.1"
	Description string `yaml:"description"` // optional
	Contact     string `yaml:"contact"`     // optional
	Default     string `yaml:"default"`     // name of the default API root, optional
}

// RateLimit is a per-consumer token bucket: RequestsPerSecond refill, Burst size.
type RateLimit struct {
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"` // default: max(1, 2×RequestsPerSecond)
}

// APIRoot is one API root (§4.2): served at /{name}/.
type APIRoot struct {
	Name             string `yaml:"name"` // one path segment (MISP keeps only the last one)
	Title            string `yaml:"title"`
	Description      string `yaml:"description"`
	MaxContentLength int64  `yaml:"max_content_length"` // bytes, default 32 MiB
	DefaultPage      int    `yaml:"default_page"`       // default 1000
	MaxPage          int    `yaml:"max_page"`           // default 10000
}

// Collection is one collection (§5.2.1).
type Collection struct {
	ID          string   `yaml:"id"` // UUIDv4, lower case
	APIRoot     string   `yaml:"api_root"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Alias       string   `yaml:"alias"`    // unique within the API root; also routable
	Kind        string   `yaml:"kind"`     // stored (default) | curated
	Writable    bool     `yaml:"writable"` // stored collections only: accepts POST
	Public      bool     `yaml:"public"`   // anyone, anonymous included, may read
	MediaTypes  []string `yaml:"media_types"`
	// Selection is a curated collection's saved selection over the
	// intelligence pool (scoring/curation); the curation pass materialises
	// it. Stored collections have none. A curated collection without one is
	// served as whatever membership the store holds for it.
	Selection *curation.Selection `yaml:"selection"`
}

// LenientProfile reports whether the lenient profile is on (the default).
func (c Config) LenientProfile() bool { return c.Lenient == nil || *c.Lenient }

// WithDefaults returns c with every zero tunable set to its default.
func (c Config) WithDefaults() Config {
	if c.Discovery.Title == "" {
		c.Discovery.Title = DefaultTitle
	}
	if c.StatusRetention == 0 {
		c.StatusRetention = DefaultStatusRetention
	}
	if c.RateLimit.RequestsPerSecond > 0 && c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = max(1, int(2*c.RateLimit.RequestsPerSecond))
	}
	roots := make([]APIRoot, len(c.APIRoots))
	for i, r := range c.APIRoots {
		if r.MaxContentLength == 0 {
			r.MaxContentLength = DefaultMaxContentLength
		}
		if r.MaxPage == 0 {
			r.MaxPage = DefaultMaxPage
		}
		if r.DefaultPage == 0 {
			r.DefaultPage = min(DefaultPage, r.MaxPage)
		}
		roots[i] = r
	}
	c.APIRoots = roots
	colls := make([]Collection, len(c.Collections))
	for i, col := range c.Collections {
		if col.Kind == "" {
			col.Kind = storage.KindStored
		}
		if len(col.MediaTypes) == 0 {
			col.MediaTypes = []string{MediaTypeSTIX}
		}
		colls[i] = col
	}
	c.Collections = colls
	return c
}

var (
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)
	// reservedRoots are paths the server itself serves at the top level.
	reservedRoots = map[string]bool{"taxii2": true, "metrics": true, "healthz": true, "readyz": true, "status": true}
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid taxii configuration")

// Validate checks c (after WithDefaults) and returns every problem found, each
// naming the offending API root or collection.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		switch {
		case err != nil:
			bad("base_url %q: %v", c.BaseURL, err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			bad("base_url %q: want an absolute http(s) URL", c.BaseURL)
		case u.RawQuery != "" || u.Fragment != "":
			bad("base_url %q: must not have a query or fragment", c.BaseURL)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("trusted_proxies: %q is not a CIDR or an IP address", p)
		}
	}
	if c.RateLimit.RequestsPerSecond < 0 || c.RateLimit.Burst < 0 {
		bad("rate_limit: requests_per_second and burst must not be negative")
	}
	if c.MaxSightings < 0 {
		bad("max_sightings %d: must not be negative", c.MaxSightings)
	}
	if c.StatusRetention < MinStatusRetention {
		bad("status_retention %s: must be at least %s (TAXII 2.1 §4.3)", c.StatusRetention, MinStatusRetention)
	}
	if len(c.APIRoots) == 0 {
		bad("api_roots: at least one API root is required")
	}
	roots := map[string]bool{}
	for i, r := range c.APIRoots {
		name := fmt.Sprintf("api_roots[%d] %q", i, r.Name)
		switch {
		case r.Name == "":
			bad("api_roots[%d]: name is required", i)
		case !segmentRE.MatchString(r.Name):
			bad("%s: name must be one path segment of letters, digits, '.', '_', '~' or '-'", name)
		case reservedRoots[strings.ToLower(r.Name)]:
			bad("%s: name is reserved", name)
		case roots[r.Name]:
			bad("%s: duplicate name", name)
		}
		roots[r.Name] = true
		if r.Title == "" {
			bad("%s: title is required", name)
		}
		if r.MaxContentLength <= 0 {
			bad("%s: max_content_length must be positive", name)
		}
		if r.MaxPage <= 0 || r.DefaultPage <= 0 || r.DefaultPage > r.MaxPage {
			bad("%s: want 0 < default_page (%d) <= max_page (%d)", name, r.DefaultPage, r.MaxPage)
		}
	}
	if c.Discovery.Default != "" && !roots[c.Discovery.Default] {
		bad("discovery.default %q: no such API root", c.Discovery.Default)
	}
	ids := map[string]bool{}
	aliases := map[string]string{} // root/alias -> collection id
	for i, col := range c.Collections {
		name := fmt.Sprintf("collections[%d] %q", i, col.ID)
		if col.Title != "" {
			name = fmt.Sprintf("collections[%d] %q (%s)", i, col.ID, col.Title)
		}
		if err := checkUUIDv4(col.ID); err != nil {
			bad("%s: id %v", name, err)
		}
		if ids[col.ID] {
			bad("%s: duplicate id", name)
		}
		ids[col.ID] = true
		if !roots[col.APIRoot] {
			bad("%s: api_root %q is not declared in api_roots", name, col.APIRoot)
		}
		if col.Title == "" {
			bad("%s: title is required", name)
		}
		switch col.Kind {
		case storage.KindStored:
			if col.Selection != nil {
				bad("%s: selection: only a curated collection (kind: curated) has a selection", name)
			}
		case storage.KindCurated:
			if col.Writable {
				bad("%s: a curated collection cannot be writable", name)
			}
			if col.Selection != nil {
				if err := col.Selection.Validate(); err != nil {
					bad("%s: %v", name, err)
				}
			}
		default:
			bad("%s: kind %q: want stored or curated", name, col.Kind)
		}
		if col.Alias != "" {
			key := col.APIRoot + "/" + col.Alias
			switch {
			case !segmentRE.MatchString(col.Alias):
				bad("%s: alias %q must be one path segment", name, col.Alias)
			case checkUUIDv4(col.Alias) == nil:
				bad("%s: alias %q must not look like a collection id", name, col.Alias)
			case aliases[key] != "":
				bad("%s: alias %q already used by collection %s in API root %q", name, col.Alias, aliases[key], col.APIRoot)
			}
			aliases[key] = col.ID
		}
		for _, mt := range col.MediaTypes {
			if _, _, err := parseMediaRange(mt); err != nil {
				bad("%s: media_types: %q is not a media type", name, mt)
			}
		}
	}
	errs = append(errs, c.MISPSync.validate(c)...)
	return errors.Join(errs...)
}

// checkUUIDv4 reports whether s is a lower-case RFC 4122 version 4 UUID (TAXII §2 identifier).
func checkUUIDv4(s string) error {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return fmt.Errorf("%q is not a UUID", s)
	}
	if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return fmt.Errorf("%q is not a version 4 UUID", s)
	}
	if u.String() != s {
		return fmt.Errorf("%q must be lower case", s)
	}
	return nil
}

// parsePrefix parses a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// remoteAddr returns the IP of a "host:port" remote address.
func remoteAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
