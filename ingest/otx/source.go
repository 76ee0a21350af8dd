package otx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// Endpoints a feed may pull.
const (
	EndpointSubscribed = "subscribed" // /api/v1/pulses/subscribed: pulses with context (default)
	EndpointExport     = "export"     // /api/v1/indicators/export: indicators only
)

// DefaultExportTypes are the OTX types an export feed asks for when its options
// name none.
var DefaultExportTypes = []string{"IPv4", "IPv6", "domain", "hostname", "URL", "FileHash-MD5", "FileHash-SHA1", "FileHash-SHA256"}

// Options are an otx feed's provider options (the feed config's options block).
//
//	options:
//	  api_key_env: OTX_API_KEY   # required: the variable holding the key
//	  since: 2024-01-01T00:00:00Z
//	  max_requests: 500
type Options struct {
	APIKeyEnv   string        `yaml:"api_key_env"`  // environment variable holding the API key; default OTX_API_KEY
	BaseURL     string        `yaml:"base_url"`     // default DefaultBaseURL
	Endpoint    string        `yaml:"endpoint"`     // subscribed (default) or export
	ExportTypes []string      `yaml:"export_types"` // export: OTX types asked for; default DefaultExportTypes
	Since       string        `yaml:"since"`        // the first pull's modified_since (RFC 3339); empty: everything
	Limit       int           `yaml:"limit"`        // results per page; default DefaultPageLimit
	MaxRequests int           `yaml:"max_requests"` // request budget per pull; default DefaultMaxRequests
	Timeout     time.Duration `yaml:"timeout"`      // per request; default DefaultTimeout
	MaxRetries  int           `yaml:"max_retries"`  // default ingest.HTTPClient's (4); -1 none
	Backoff     time.Duration `yaml:"backoff"`      // first retry wait; default ingest.HTTPClient's (1 s)
	MaxWait     time.Duration `yaml:"max_wait"`     // longest Retry-After honoured; default ingest.HTTPClient's (5 min)
	BatchSize   int           `yaml:"batch_size"`   // results per emitted batch within a page; default 10 pulses or 1000 export records
}

// Source pulls an OTX feed. Its cursor is JSON: the modified_since of the current
// cycle, the next page's URL while a cycle is under way, and the highest pulse
// modified time seen in the cycle, which becomes the next cycle's
// modified_since. The Runner stores it, so a restart resumes at the page after
// the last one made durable.
type Source struct {
	Client    *Client
	Converter Converter
	Options   Options
	Now       func() time.Time // nil: time.Now
}

var _ ingest.Source = (*Source)(nil)

// New builds an otx Source from a feed config: options decoded strictly, the API
// key read from the environment variable api_key_env names, ATT&CK index and
// default TLP from the config. It matches ingest.Factory.
func New(cfg ingest.FeedConfig) (ingest.Source, error) { return NewSource(cfg) }

// NewSource is New returning the concrete type.
func NewSource(cfg ingest.FeedConfig) (*Source, error) {
	var o Options
	if err := cfg.DecodeOptions(&o); err != nil {
		return nil, err
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("feed %q: options: %s: %s: %w", cfg.Name, field, fmt.Sprintf(format, a...), ingest.ErrConfig)
	}
	if o.APIKeyEnv == "" {
		o.APIKeyEnv = "OTX_API_KEY"
	}
	key, err := cfg.Secret("api_key_env", o.APIKeyEnv)
	if err != nil {
		return nil, err
	}
	switch o.Endpoint {
	case "":
		o.Endpoint = EndpointSubscribed
	case EndpointSubscribed, EndpointExport:
	default:
		return nil, bad("endpoint", "%q is not subscribed or export", o.Endpoint)
	}
	if o.Since != "" {
		if _, err := time.Parse(time.RFC3339, o.Since); err != nil {
			return nil, bad("since", "%q is not an RFC 3339 time", o.Since)
		}
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, bad("base_url", "%q is not an http(s) URL", o.BaseURL)
		}
	}
	if o.Limit < 0 || o.MaxRequests < 0 || o.BatchSize < 0 || o.Timeout < 0 || o.Backoff < 0 || o.MaxWait < 0 {
		return nil, bad("limit/max_requests/batch_size/timeout/backoff/max_wait", "negative")
	}
	return &Source{
		Client:    &Client{BaseURL: o.BaseURL, APIKey: key},
		Converter: Converter{Attack: cfg.Attack, DefaultTLP: cfg.DefaultTLP},
		Options:   o,
	}, nil
}

// httpClient returns an HTTP client with the options' timeout, retries and
// request budget.
func (s *Source) httpClient() *ingest.HTTPClient {
	o := s.Options
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	budget := o.MaxRequests
	if budget == 0 {
		budget = DefaultMaxRequests
	}
	return &ingest.HTTPClient{Client: &http.Client{Timeout: timeout}, MaxRetries: o.MaxRetries, MinBackoff: o.Backoff,
		MaxWait: o.MaxWait, MaxRequests: budget, UserAgent: userAgent}
}

// cursor is the Source's position.
type cursor struct {
	Since string `json:"since,omitempty"` // modified_since of the current cycle (RFC 3339)
	Next  string `json:"next,omitempty"`  // the next page of the current cycle
	High  string `json:"high,omitempty"`  // the highest pulse modified time seen in the cycle
}

func (c cursor) encode() ingest.Cursor {
	b, _ := json.Marshal(c)
	return b
}

// ErrCursor is returned for a stored cursor this package did not write.
var ErrCursor = errors.New("otx: unreadable cursor")

func decodeCursor(b ingest.Cursor) (cursor, error) {
	var c cursor
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrCursor, err)
	}
	return c, nil
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// firstURL is the first page of a cycle.
func (s *Source) firstURL(since string) string {
	q := url.Values{}
	limit := s.Options.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	q.Set("limit", strconv.Itoa(limit))
	if since != "" {
		q.Set("modified_since", since)
	}
	if s.Options.Endpoint == EndpointExport {
		types := s.Options.ExportTypes
		if len(types) == 0 {
			types = DefaultExportTypes
		}
		q.Set("types", strings.Join(types, ","))
		return "/api/v1/indicators/export?" + q.Encode()
	}
	return "/api/v1/pulses/subscribed?" + q.Encode()
}

// Pull fetches pages from the cursor on, one batch per BatchSize results and the
// page's last batch carrying the cursor after the page. When the request budget
// runs out it stops without error, with a warning, and the next pull continues
// from the last page made durable.
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	c, err := decodeCursor(cur)
	if err != nil {
		return err
	}
	if c.Next == "" && c.Since == "" {
		c.Since = s.Options.Since
	}
	start := s.now()
	conv := s.Converter
	conv.Now = start
	s.Client.HTTP = s.httpClient() // a new request budget per pull
	kind := KindPulses
	per := s.Options.BatchSize
	if s.Options.Endpoint == EndpointExport {
		kind = KindExport
		if per == 0 {
			per = 1000
		}
	} else if per == 0 {
		per = 10
	}
	ref := c.Next
	if ref == "" {
		ref = s.firstURL(c.Since)
	}
	restarted := false
	for ref != "" {
		var b ingest.Batch
		n := 0
		high := c.High
		flush := func() error {
			if len(b.Objects)+len(b.Observations)+len(b.Warnings) == 0 {
				return nil
			}
			Settle(&b)
			err := emit(b)
			b = ingest.Batch{}
			return err
		}
		var info PageInfo
		err := s.Client.Get(ctx, ref, func(r io.Reader) error {
			b, n, high = ingest.Batch{}, 0, c.High // a retried page starts over
			var err error
			info, err = DecodePage(r, kind,
				func(p *Pulse) error {
					if p.MoreIndicators {
						if err := s.allIndicators(ctx, p); err != nil {
							return err
						}
					}
					conv.AddPulse(&b, p)
					if t, err := ParseTime(p.Modified); err == nil {
						if ts := t.Format(time.RFC3339Nano); high == "" || laterThan(ts, high) {
							high = ts
						}
					}
					if n++; n%per == 0 {
						return flush()
					}
					return nil
				},
				func(e *ExportIndicator) error {
					conv.AddExport(&b, []ExportIndicator{*e})
					if n++; n%per == 0 {
						return flush()
					}
					return nil
				})
			return err
		})
		if errors.Is(err, ingest.ErrBudget) {
			b = ingest.Batch{Warnings: []ingest.Warning{{Record: "pull", Field: "max_requests",
				Msg: fmt.Sprintf("%v; the next pull continues from here", err)}}}
			return emit(b)
		}
		var he *ingest.HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusBadRequest) &&
			c.Next != "" && ref == c.Next && !restarted {
			// A stored next link the server no longer knows (pages shifted, a stale
			// cursor): start the cycle again from its modified_since.
			restarted = true
			if err := emit(ingest.Batch{Warnings: []ingest.Warning{{Record: "pull", Field: "cursor",
				Msg: fmt.Sprintf("stored next link refused (HTTP %d); the cycle restarts from modified_since %q", he.Status, c.Since)}}}); err != nil {
				return err
			}
			c.Next, c.High = "", ""
			ref = s.firstURL(c.Since)
			continue
		}
		if err != nil {
			return err
		}
		next := cursor{Since: c.Since, Next: "", High: high}
		if info.Next != "" {
			if _, err := s.Client.URL(info.Next); err != nil {
				return fmt.Errorf("otx: next link: %w", err)
			}
			next.Next = info.Next
		} else {
			// The cycle is complete: the next one asks for what changed since the newest
			// pulse seen (export records carry no time: since this pull started, less a
			// minute for clock skew).
			since := high
			if kind == KindExport {
				since = start.Add(-time.Minute).Format(time.RFC3339)
			}
			if since == "" {
				since = c.Since
			}
			next = cursor{Since: since}
		}
		b.Cursor = next.encode()
		Settle(&b)
		if err := emit(b); err != nil {
			return err
		}
		c = next
		ref = next.Next
	}
	return nil
}

// laterThan compares two RFC 3339 UTC times.
func laterThan(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && (err2 != nil || ta.After(tb))
}

// allIndicators replaces the indicators of a pulse that has more than the page
// listed (more_indicators) with all of them, from
// /api/v1/pulses/{id}/indicators. A failure other than a cancelled context
// leaves the pulse as it was (the converter warns about it).
func (s *Source) allIndicators(ctx context.Context, p *Pulse) error {
	q := url.Values{}
	q.Set("limit", "500")
	q.Set("include_inactive", "1")
	ref := "/api/v1/pulses/" + url.PathEscape(p.ID) + "/indicators?" + q.Encode()
	var all []Indicator
	for ref != "" {
		var page []Indicator
		var next string
		err := s.Client.Get(ctx, ref, func(r io.Reader) error {
			page = page[:0]
			var err error
			next, err = DecodeIndicators(r, func(ind *Indicator) error {
				page = append(page, *ind)
				return nil
			})
			return err
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil
		}
		all = append(all, page...)
		ref = next
		if next != "" {
			if _, err := s.Client.URL(next); err != nil {
				return nil
			}
		}
	}
	p.Indicators, p.MoreIndicators = all, false
	return nil
}
