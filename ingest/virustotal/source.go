package virustotal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// Config is the provider-specific part of a VirusTotal feed (FeedConfig.Options):
//
//	feeds:
//	  - name: vt-livehunt
//	    provider: virustotal
//	    interval: 15m
//	    detection_threshold: 20
//	    options:
//	      api_key_env: VT_API_KEY
//	      filter: "origin:hunting"
//	      requests_per_minute: 4
//	      requests_per_day: 500
type Config struct {
	APIKeyEnv         string        `yaml:"api_key_env"`         // environment variable holding the key; default VT_API_KEY
	BaseURL           string        `yaml:"base_url"`            // default DefaultBaseURL
	Endpoint          string        `yaml:"endpoint"`            // ioc_stream (default) or collections
	Filter            string        `yaml:"filter"`              // the endpoint's filter: "origin:hunting" (IoC stream), "collection_type:threat-actor" (collections)
	Relationships     []string      `yaml:"relationships"`       // collections: related objects to include; default attack_techniques, vulnerabilities
	Limit             int           `yaml:"limit"`               // objects per page, ≤ 40; default 40
	RequestsPerMinute int           `yaml:"requests_per_minute"` // default 4 (the public API's); -1: unlimited; pulls and lookups
	RequestsPerDay    int           `yaml:"requests_per_day"`    // default 500 (the public API's); -1: unlimited; pulls and lookups
	Timeout           time.Duration `yaml:"timeout"`             // per request; default DefaultTimeout
	MaxRetries        int           `yaml:"max_retries"`         // default DefaultMaxRetries; -1 none
	Backoff           time.Duration `yaml:"backoff"`             // first retry wait; default DefaultBackoff
}

// Source pulls the VirusTotal IoC stream (GET /api/v3/ioc_stream) oldest first,
// or with Endpoint "collections" the GTI collections (GET /collections: threat
// actors, malware families, campaigns, vulnerabilities) by last modification.
// Each pass asks for the items since the last pass's newest date
// (notification_date, last_modification_date) and pages with VirusTotal's
// cursor; items at that date already taken are skipped by id
// (notification_id, collection id). The ingest cursor (JSON)
// holds the watermark, the page cursor of a pass under way, and the day's request
// count, so the daily budget holds across runs and processes sharing the store.
// When the budget is spent the pull stops cleanly with a warning and the next run
// resumes where it stopped.
type Source struct {
	Client        *Client
	Endpoint      string // EndpointIoCStream or EndpointCollections
	Filter        string
	Relationships []string // collections: related objects to include
	Limit         int
	Convert       Options
}

// The endpoints a Source pulls.
const (
	EndpointIoCStream   = "ioc_stream"  // GET /ioc_stream, by notification_date
	EndpointCollections = "collections" // GET /collections, by last_modification_date
)

var _ ingest.Source = (*Source)(nil)

// New builds a Source from a feed config: options decoded strictly, the API key
// from the environment variable api_key_env names, budgets, the feed's ATT&CK
// index, default TLP and detection threshold for the converter. Errors wrap
// ingest.ErrConfig and name the option.
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
	if c.APIKeyEnv == "" {
		c.APIKeyEnv = "VT_API_KEY"
	}
	key, err := cfg.Secret("api_key_env", c.APIKeyEnv)
	if err != nil {
		return nil, err
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, bad("base_url", "%q is not an http(s) URL", c.BaseURL)
		}
	}
	switch c.Endpoint {
	case "":
		c.Endpoint = EndpointIoCStream
	case EndpointIoCStream, EndpointCollections:
	default:
		return nil, bad("endpoint", "%q is not ioc_stream or collections", c.Endpoint)
	}
	if c.Relationships == nil && c.Endpoint == EndpointCollections {
		c.Relationships = []string{"attack_techniques", "vulnerabilities"}
	}
	if c.Limit < 0 || c.Limit > 40 {
		return nil, bad("limit", "%d is outside 1–40", c.Limit)
	}
	if e := cfg.Enrich; e != nil && (e.PerMinute != 0 || e.PerDay != 0) {
		return nil, fmt.Errorf("feed %q: enrich: per_minute/per_day: VirusTotal lookups spend the feed's budget; set options.requests_per_minute and requests_per_day instead: %w",
			cfg.Name, ingest.ErrConfig)
	}
	if c.Timeout < 0 || c.Backoff < 0 || c.RequestsPerMinute < -1 || c.RequestsPerDay < -1 {
		return nil, bad("timeout/backoff/requests_per_minute/requests_per_day", "negative")
	}
	budget := func(v, def int) int {
		switch v {
		case 0:
			return def
		case -1:
			return 0
		}
		return v
	}
	s := &Source{
		Client: &Client{BaseURL: c.BaseURL, APIKey: key, Timeout: c.Timeout, MaxRetries: c.MaxRetries, Backoff: c.Backoff,
			PerMinute: budget(c.RequestsPerMinute, 4), PerDay: budget(c.RequestsPerDay, 500)},
		Endpoint: c.Endpoint, Filter: c.Filter, Relationships: c.Relationships, Limit: c.Limit,
		Convert: Options{Feed: cfg.Name, TLP: cfg.DefaultTLP, DetectionThreshold: cfg.DetectionThreshold, Attack: cfg.Attack},
	}
	if _, err := NewConverter(s.Convert); err != nil {
		return nil, bad("default_tlp", "%v", err)
	}
	return s, nil
}

// cursor is the Source's sync state.
type cursor struct {
	Since  int64    `json:"since,omitempty"`  // the item date (Unix seconds) the current pass started from
	IDs    []string `json:"ids,omitempty"`    // items at Since already taken
	Max    int64    `json:"max,omitempty"`    // newest item date taken in this pass
	MaxIDs []string `json:"maxids,omitempty"` // items at Max
	Filter string   `json:"filter,omitempty"` // the filter of the pass under way (VirusTotal's cursor belongs to it)
	Page   string   `json:"page,omitempty"`   // VirusTotal's cursor of the next page of the pass under way
	Day    string   `json:"day,omitempty"`    // the UTC day Used counts
	Used   int      `json:"used,omitempty"`   // requests made on Day
}

func (s *Source) collections() bool { return s.Endpoint == EndpointCollections }

func (s *Source) passFilter(since int64) string {
	f := strings.TrimSpace(s.Filter)
	if since > 0 {
		key := "date:"
		if s.collections() {
			key = "last_modification_date:"
		}
		d := key + time.Unix(since, 0).UTC().Format("2006-01-02T15:04:05") + "+"
		if f == "" {
			return d
		}
		return f + " " + d
	}
	return f
}

func (s *Source) endpoint() string {
	if s.collections() {
		return EndpointCollections
	}
	return EndpointIoCStream
}

// head returns an item's date and id as the passes order and de-duplicate
// them: an IoC stream object's notification_date and notification_id, a
// collection's last_modification_date and id.
func (s *Source) head(raw []byte) (int64, string, bool) {
	var h struct {
		ID         string `json:"id"`
		Attributes struct {
			LastModificationDate int64 `json:"last_modification_date"`
		} `json:"attributes"`
		CA *struct {
			NotificationID   string `json:"notification_id"`
			NotificationDate int64  `json:"notification_date"`
		} `json:"context_attributes"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return 0, "", false
	}
	if s.collections() {
		return h.Attributes.LastModificationDate, h.ID, h.Attributes.LastModificationDate > 0
	}
	if h.CA == nil {
		return 0, "", false
	}
	return h.CA.NotificationDate, h.CA.NotificationID, true
}

// Pull pages through the IoC stream (or the collections) from the cursor, one batch per page, each
// carrying the cursor after it.
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	conv, err := NewConverter(s.Convert)
	if err != nil {
		return err
	}
	var st cursor
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &st); err != nil {
			conv.warn("cursor", "cursor", "unreadable cursor (%v); pulling the stream from its start", err)
			st = cursor{}
		}
	}
	// Merged, not set: lookups through the same client (Lookup) count too.
	s.Client.MergeUsage(st.Day, st.Used)
	save := func() ingest.Cursor {
		st.Day, st.Used = s.Client.Usage()
		b, _ := json.Marshal(st)
		return b
	}
	if st.Page == "" {
		st.Filter = s.passFilter(st.Since)
	}
	retriedCursor := false
	for page := 0; ; page++ {
		var p *Page
		var err error
		if s.collections() {
			p, err = s.Client.Collections(ctx, CollectionsQuery{Filter: st.Filter, Cursor: st.Page, Limit: s.Limit,
				Order: "last_modification_date+", Relationships: s.Relationships})
		} else {
			p, err = s.Client.IoCStream(ctx, StreamQuery{Filter: st.Filter, Cursor: st.Page, Limit: s.Limit, Order: "date+"})
		}
		var se *StatusError
		switch {
		case errors.Is(err, ErrQuotaExhausted):
			conv.warn(s.endpoint(), "requests_per_day", "request quota exhausted (%v); the next run resumes from the saved cursor", err)
			objs, obs, warns := conv.Flush()
			return emit(ingest.Batch{Objects: objs, Observations: obs, Warnings: warns, Cursor: save()})
		case errors.As(err, &se) && se.Status == 400 && st.Page != "" && !retriedCursor:
			// VirusTotal's cursors expire: start the pass again from its watermark.
			conv.warn(s.endpoint(), "cursor", "VirusTotal refused the page cursor (%s: %s); the pass restarts from its watermark", se.Code, se.Message)
			st.Page, st.Max, st.MaxIDs, retriedCursor = "", 0, nil, true
			st.Filter = s.passFilter(st.Since)
			continue
		case err != nil:
			return fmt.Errorf("virustotal %s: %w", s.endpoint(), err)
		}
		for i, raw := range p.Data {
			rec := fmt.Sprintf("%s page %d [%d]", s.endpoint(), page, i)
			date, id, ok := s.head(raw)
			if ok {
				if date < st.Since || date == st.Since && id != "" && slices.Contains(st.IDs, id) {
					continue // taken by an earlier pass
				}
				switch {
				case date > st.Max:
					st.Max, st.MaxIDs = date, []string{id}
				case date == st.Max && !slices.Contains(st.MaxIDs, id):
					st.MaxIDs = append(st.MaxIDs, id)
				}
				if id != "" {
					rec += " " + id
				}
			} else if !s.collections() {
				conv.warn(rec, "context_attributes", "missing: not an IoC stream object; converted without notification context")
			}
			conv.AddRaw(rec, raw)
		}
		st.Page = p.Cursor
		if st.Page == "" { // the pass reached the end: the next starts after its newest notification
			if st.Max > st.Since {
				st.Since, st.IDs = st.Max, st.MaxIDs
			} else if st.Max == st.Since {
				for _, id := range st.MaxIDs {
					if !slices.Contains(st.IDs, id) {
						st.IDs = append(st.IDs, id)
					}
				}
			}
			st.Max, st.MaxIDs, st.Filter = 0, nil, ""
		}
		objs, obs, warns := conv.Flush()
		if err := emit(ingest.Batch{Objects: objs, Observations: obs, Warnings: warns, Cursor: save()}); err != nil {
			return err
		}
		if p.Cursor == "" {
			return nil
		}
	}
}
