package maltiverse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// Config is the provider-specific part of a Maltiverse feed (FeedConfig.Options):
//
//	feeds:
//	  - name: maltiverse-c2
//	    provider: maltiverse
//	    interval: 1h
//	    options:
//	      collection: uYxZknEB8jmkCY9eQoUJ   # the feed id
//	      api_key_env: MALTIVERSE_API_KEY
//	      overlap: 1h
type Config struct {
	Collection   string        `yaml:"collection"`    // required: the collection (feed) id
	APIKeyEnv    string        `yaml:"api_key_env"`   // environment variable holding the API key; empty: no auth
	BaseURL      string        `yaml:"base_url"`      // empty: DefaultBaseURL
	RangeField   string        `yaml:"range_field"`   // modification_time (default) or creation_time
	InitialRange string        `yaml:"initial_range"` // the window of the first pull; default "now-1d"
	Overlap      time.Duration `yaml:"overlap"`       // re-read before the last pull; default 1h
	BatchSize    int           `yaml:"batch_size"`    // documents per batch; default 1000
	Timeout      time.Duration `yaml:"timeout"`       // per request; default DefaultTimeout
	MaxRetries   int           `yaml:"max_retries"`   // default DefaultMaxRetries
	Detect       []string      `yaml:"detect"`        // detection-worthy classifications; default malicious, suspicious
}

// Source pulls one Maltiverse collection with GET /collection/{id}/download. The
// API has no cursor, only relative windows (range=now-1h|now-1d|now-1w|now-1M on
// range_field), so each pull asks for the smallest window that reaches back to the
// previous pull minus Overlap, skips documents modified before that, and skips
// documents whose (value, modification_time) the previous pull already emitted.
// The cursor is that watermark and de-duplication set, JSON.
type Source struct {
	Client       *Client
	Collection   string
	RangeField   string
	InitialRange string
	Overlap      time.Duration
	BatchSize    int
	Convert      Options          // Feed, Identity, TLP, Detect, Attack
	Now          func() time.Time // nil: time.Now
	// Lookups is the budget on-demand lookups spend (FeedConfig.Enrich); nil:
	// unlimited.
	Lookups *ingest.Budget
}

var _ ingest.Source = (*Source)(nil)

// New builds a Source from a feed config: Options decodes into Config; the API key
// comes from the environment variable api_key_env names; Attack, DefaultTLP and
// the feed name go to the converter. Errors wrap ingest.ErrConfig and name the
// option.
func New(cfg ingest.FeedConfig) (ingest.Source, error) { return NewSource(cfg) }

// NewSource is New returning the concrete type, for callers that set
// Convert.Identity (the instance identity) after building it.
func NewSource(cfg ingest.FeedConfig) (*Source, error) {
	var c Config
	if err := cfg.DecodeOptions(&c); err != nil {
		return nil, err
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("feed %q: options: %s: %s: %w", cfg.Name, field, fmt.Sprintf(format, a...), ingest.ErrConfig)
	}
	if strings.TrimSpace(c.Collection) == "" {
		return nil, bad("collection", "required")
	}
	switch c.RangeField {
	case "":
		c.RangeField = "modification_time"
	case "modification_time", "creation_time":
	default:
		return nil, bad("range_field", "%q is not modification_time or creation_time", c.RangeField)
	}
	if c.InitialRange == "" {
		c.InitialRange = "now-1d"
	} else if !strings.HasPrefix(c.InitialRange, "now-") {
		return nil, bad("initial_range", "%q is not a window such as now-1d", c.InitialRange)
	}
	if c.Overlap < 0 || c.BatchSize < 0 || c.Timeout < 0 {
		return nil, bad("overlap/batch_size/timeout", "negative")
	}
	if c.Overlap == 0 {
		c.Overlap = time.Hour
	}
	cl := &Client{BaseURL: c.BaseURL, Timeout: c.Timeout, MaxRetries: c.MaxRetries}
	if c.APIKeyEnv != "" {
		key, err := cfg.Secret("api_key_env", c.APIKeyEnv)
		if err != nil {
			return nil, err
		}
		cl.APIKey = key
	}
	s := &Source{Client: cl, Collection: c.Collection, RangeField: c.RangeField, InitialRange: c.InitialRange,
		Overlap: c.Overlap, BatchSize: c.BatchSize, Lookups: cfg.EnrichBudget(),
		Convert: Options{Feed: cfg.Name, TLP: cfg.DefaultTLP, Detect: c.Detect, Attack: cfg.Attack}}
	if _, err := NewConverter(s.Convert); err != nil {
		return nil, bad("default_tlp", "%v", err)
	}
	return s, nil
}

// cursor is the Source's sync state between pulls.
type cursor struct {
	// Since is when the last complete pull started.
	Since time.Time `json:"since"`
	// Seen maps the documents emitted within Overlap of Since (type|value) to
	// their range_field time as Maltiverse wrote it.
	Seen map[string]string `json:"seen,omitempty"`
}

// windows are the relative ranges Maltiverse accepts, smallest first; span is what
// each surely covers.
var windows = []struct {
	span time.Duration
	rng  string
}{{time.Hour, "now-1h"}, {24 * time.Hour, "now-1d"}, {7 * 24 * time.Hour, "now-1w"}, {28 * 24 * time.Hour, "now-1M"}}

// window returns the smallest window covering need, and false when even the
// widest does not.
func window(need time.Duration) (string, bool) {
	for _, w := range windows {
		if need <= w.span {
			return w.rng, true
		}
	}
	return windows[len(windows)-1].rng, false
}

func docKey(d *Document) string {
	v := d.IPAddr + d.Hostname
	switch d.Type {
	case "url":
		v = d.URL
	case "sample":
		v = d.SHA256 + d.MD5 + d.SHA1
	case "email":
		v = string(d.Email)
	}
	if v == "" {
		return ""
	}
	return d.Type + "|" + v
}

// Pull downloads the window since the cursor and emits batches of BatchSize
// documents; only the last batch carries the new cursor (a pull cut short is
// fetched again, its repeats skipped by the Runner's unchanged check).
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	start := now().UTC()
	conv, err := NewConverter(s.Convert)
	if err != nil {
		return err
	}
	var st cursor
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &st); err != nil {
			conv.warn("cursor", "cursor", "unreadable cursor (%v); pulling the initial window again", err)
			st = cursor{}
		}
	}
	overlap := s.Overlap
	if overlap <= 0 {
		overlap = time.Hour
	}
	rng, floor := s.InitialRange, time.Time{}
	if rng == "" {
		rng = "now-1d"
	}
	if !st.Since.IsZero() {
		floor = st.Since.Add(-overlap)
		var ok bool
		if rng, ok = window(start.Sub(floor)); !ok {
			conv.warn("cursor", "range", "the last pull started %s ago, beyond the widest window %s: documents modified in between may be missed",
				start.Sub(st.Since).Round(time.Minute), rng)
		}
	}
	field := s.RangeField
	if field == "" {
		field = "modification_time"
	}
	keep := start.Add(-overlap)
	next := cursor{Since: start, Seen: map[string]string{}}
	for k, v := range st.Seen {
		if t, err := ParseTime(v); err == nil && !t.Before(keep) {
			next.Seen[k] = v
		}
	}
	batch := s.BatchSize
	if batch <= 0 {
		batch = 1000
	}
	emitted := map[string]bool{}
	n := 0
	err = s.Client.Download(ctx, s.Collection, rng, field, func(i int, raw json.RawMessage) error {
		rec := fmt.Sprintf("%s[%d]", s.Collection, i)
		d, err := ParseDocument(raw)
		if err != nil {
			conv.AddRaw(rec, raw)
			return nil
		}
		key, mt := docKey(d), d.ModificationTime
		if field == "creation_time" {
			mt = d.CreationTime
		}
		if key != "" && mt != "" {
			t, err := ParseTime(mt)
			if err == nil && !floor.IsZero() && t.Before(floor) {
				return nil // before the watermark: the previous pull had it
			}
			if st.Seen[key] == mt || emitted[key+"|"+mt] {
				return nil // emitted by the previous pull, or before a retry of this one
			}
			emitted[key+"|"+mt] = true
			if err == nil && !t.Before(keep) {
				next.Seen[key] = mt
			}
		}
		conv.Add(rec, d)
		if n++; n >= batch {
			n = 0
			objs, obs, warns := conv.Flush()
			return emit(ingest.Batch{Objects: objs, Observations: obs, Warnings: warns})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("maltiverse collection %s: %w", s.Collection, err)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	objs, obs, warns := conv.Flush()
	return emit(ingest.Batch{Objects: objs, Observations: obs, Warnings: warns, Cursor: b})
}
