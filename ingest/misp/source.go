package misp

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

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
)

// Modes a misp feed pulls in.
const (
	ModeREST = "rest" // POST /events/restSearch on a MISP instance (default)
	ModeFeed = "feed" // a MISP feed: manifest.json and <uuid>.json
)

// Defaults of the options.
const (
	DefaultLimit       = 50              // events per restSearch page
	DefaultTimeout     = 5 * time.Minute // one request, body included
	DefaultMaxRequests = 2000            // per pull
	DefaultBackoff     = time.Second     // first retry wait
	DefaultMaxWait     = 5 * time.Minute // longest Retry-After honoured
	truncatedRetries   = 2               // re-requests of a response cut off mid-body
)

// Options are a misp feed's provider options (the feed config's options block).
//
//	options:
//	  mode: rest                # rest | feed
//	  base_url: https://misp.example.org
//	  api_key_env: MISP_API_KEY # rest: required; feed: optional (sent as Authorization)
//	  since: 2024-01-01T00:00:00Z
//	  published: true
//	  tags: ["tlp:green", "tlp:clear"]
type Options struct {
	Mode        string        `yaml:"mode"`
	BaseURL     string        `yaml:"base_url"`    // the MISP instance, or the feed's URL
	APIKeyEnv   string        `yaml:"api_key_env"` // variable holding the automation key; rest default MISP_API_KEY
	Since       string        `yaml:"since"`       // rest: the first pull's timestamp filter (RFC 3339 or unix seconds); empty: everything
	Limit       int           `yaml:"limit"`       // rest: events per page; default DefaultLimit
	Published   *bool         `yaml:"published"`   // rest: only published events; default true
	Tags        []string      `yaml:"tags"`        // rest: restSearch tags filter (OR; "!tag" excludes)
	Timeout     time.Duration `yaml:"timeout"`     // per request; default DefaultTimeout
	MaxRetries  int           `yaml:"max_retries"` // default 4; -1 none
	Backoff     time.Duration `yaml:"backoff"`     // first retry wait; default DefaultBackoff
	MaxWait     time.Duration `yaml:"max_wait"`    // longest Retry-After honoured; default DefaultMaxWait
	MaxRequests int           `yaml:"max_requests"`
	BatchSize   int           `yaml:"batch_size"` // events per emitted batch; rest default 10 (within a page), feed default 1
}

// Source pulls a MISP instance or feed. For rest its cursor is JSON (see
// cursor): the timestamp filter of the current cycle, the next page and the
// newest event timestamp seen. For feed it is binary (feedCursor, format 2):
// per event fetched, its hashed uuid and manifest timestamp, and the
// manifest's ETag once a pull completed; format-1 feed cursors (JSON, one
// (timestamp, uuid) position) still load.
type Source struct {
	Client    *Client
	Converter Converter
	Options   Options
}

var _ ingest.Source = (*Source)(nil)

// New builds a misp Source from a feed config: options decoded strictly, the
// key read from the environment variable api_key_env names, ATT&CK index,
// default TLP and share level from the config. It matches ingest.Factory.
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
	switch o.Mode {
	case "":
		o.Mode = ModeREST
	case ModeREST, ModeFeed:
	default:
		return nil, bad("mode", "%q is not rest or feed", o.Mode)
	}
	u, err := url.Parse(o.BaseURL)
	if o.BaseURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, bad("base_url", "%q is not an http(s) URL", o.BaseURL)
	}
	var key string
	if o.Mode == ModeREST {
		if o.APIKeyEnv == "" {
			o.APIKeyEnv = "MISP_API_KEY"
		}
		if key, err = cfg.Secret("api_key_env", o.APIKeyEnv); err != nil {
			return nil, err
		}
	} else if o.APIKeyEnv != "" {
		if key, err = cfg.Secret("api_key_env", o.APIKeyEnv); err != nil {
			return nil, err
		}
	}
	if o.Since != "" {
		if _, err := parseSince(o.Since); err != nil {
			return nil, bad("since", "%v", err)
		}
	}
	if o.Limit < 0 || o.MaxRequests < 0 || o.BatchSize < 0 || o.Timeout < 0 || o.Backoff < 0 || o.MaxWait < 0 {
		return nil, bad("limit/max_requests/batch_size/timeout/backoff/max_wait", "negative")
	}
	timeout, backoff, maxWait, maxReq := o.Timeout, o.Backoff, o.MaxWait, o.MaxRequests
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if backoff == 0 {
		backoff = DefaultBackoff
	}
	if maxWait == 0 {
		maxWait = DefaultMaxWait
	}
	if maxReq == 0 {
		maxReq = DefaultMaxRequests
	}
	return &Source{
		Client: &Client{BaseURL: o.BaseURL, APIKey: key, HTTP: &ingest.HTTPClient{
			Client: &http.Client{Timeout: timeout}, MaxRetries: o.MaxRetries, MinBackoff: backoff,
			MaxWait: maxWait, MaxRequests: maxReq, UserAgent: userAgent}},
		Converter: Converter{Attack: cfg.Attack, DefaultTLP: cfg.DefaultTLP, Share: cfg.ShareLevel()},
		Options:   o,
	}, nil
}

// parseSince reads RFC 3339 or unix seconds.
func parseSince(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither RFC 3339 nor unix seconds", s)
	}
	return t.Unix(), nil
}

// cursor is the Source's position in rest mode (JSON); feed mode has its own
// (feedCursor, source_feedcursor.go).
type cursor struct {
	Since int64 `json:"since,omitempty"` // the timestamp filter of the current cycle
	Page  int   `json:"page,omitempty"`  // the next page of the cycle; 0: the cycle is complete
	High  int64 `json:"high,omitempty"`  // the newest event timestamp seen in the cycle
}

func (c cursor) encode() ingest.Cursor {
	b, _ := json.Marshal(c)
	return b
}

// ErrCursor is returned for a stored cursor this package did not write.
var ErrCursor = errors.New("misp: unreadable cursor")

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

// Pull fetches from the cursor on (see Source).
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	conv := s.Converter
	if conv.Now.IsZero() {
		conv.Now = time.Now().UTC()
	}
	var pullErr error
	if s.Options.Mode == ModeFeed {
		pullErr = s.pullFeed(ctx, cur, &conv, emit)
	} else {
		c, err := decodeCursor(cur)
		if err != nil {
			return err
		}
		pullErr = s.pullREST(ctx, c, &conv, emit)
	}
	if errors.Is(pullErr, ingest.ErrBudget) {
		return emit(ingest.Batch{Warnings: []ingest.Warning{{Record: "pull", Field: "max_requests",
			Msg: fmt.Sprintf("%v; the next pull continues from here", pullErr)}}})
	}
	return pullErr
}

func (s *Source) perBatch() int {
	if s.Options.BatchSize > 0 {
		return s.Options.BatchSize
	}
	return 10
}

// searchBody is the restSearch request of one page.
func (s *Source) searchBody(since int64, page int) []byte {
	limit := s.Options.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	published := true
	if s.Options.Published != nil {
		published = *s.Options.Published
	}
	body := map[string]any{"returnFormat": "json", "limit": limit, "page": page, "includeEventTags": true,
		"includeGalaxy": true, "includeSightings": true, "deleted": []int{0, 1}, "order": "Event.timestamp ASC"}
	if since > 0 {
		body["timestamp"] = strconv.FormatInt(since, 10)
	}
	if published {
		body["published"] = true
	}
	if len(s.Options.Tags) > 0 {
		var or, not []string
		for _, t := range s.Options.Tags {
			if n, ok := strings.CutPrefix(t, "!"); ok {
				not = append(not, n)
			} else {
				or = append(or, t)
			}
		}
		tags := map[string][]string{}
		if len(or) > 0 {
			tags["OR"] = or
		}
		if len(not) > 0 {
			tags["NOT"] = not
		}
		body["tags"] = tags
	}
	b, _ := json.Marshal(body)
	return b
}

// pullREST pages /events/restSearch: a cycle asks for events whose timestamp is
// at or after the cycle's since, page by page, oldest first; when a page comes
// back short the cycle ends and the next one starts at the newest event
// timestamp seen (inclusive, so an event edited within that second is not
// missed; re-reading one unchanged event costs nothing).
func (s *Source) pullREST(ctx context.Context, c cursor, conv *Converter, emit func(ingest.Batch) error) error {
	if c.Page == 0 {
		c.Page = 1
		if c.Since == 0 && s.Options.Since != "" {
			c.Since, _ = parseSince(s.Options.Since)
		}
	}
	limit := s.Options.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	per := s.perBatch()
	for {
		var b ingest.Batch
		n := 0
		high := c.High
		read := func(r io.Reader) error {
			b, n, high = ingest.Batch{}, 0, c.High // a re-requested page starts over
			_, err := DecodeEvents(r, func(ev *Event) error {
				conv.AddEvent(&b, ev)
				if t, ok := ev.Timestamp.Int(); ok && t > high {
					high = t
				}
				if n++; n%per == 0 {
					err := emit(b)
					b = ingest.Batch{}
					return err
				}
				return nil
			})
			return err
		}
		body := s.searchBody(c.Since, c.Page)
		var err error
		for try := 0; ; try++ {
			err = s.Client.RestSearch(ctx, body, read)
			if !errors.Is(err, errTruncated) || try >= truncatedRetries || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("misp: restSearch page %d: %w", c.Page, err)
		}
		next := cursor{Since: c.Since, Page: c.Page + 1, High: high}
		if n < limit {
			since := high
			if since == 0 {
				since = c.Since
			}
			next = cursor{Since: since}
		}
		b.Cursor = next.encode()
		if err := emit(b); err != nil {
			return err
		}
		if next.Page == 0 {
			return nil
		}
		c = next
	}
}

// pullFeed reads manifest.json (If-None-Match with the stored ETag: 304 means
// nothing changed) and fetches, oldest first, every event whose uuid the
// cursor's map does not hold or whose manifest timestamp moved past the one
// fetched (MISP's own rule, Feed::getNewEventUuids): a new event is fetched
// whatever its timestamp, an edited one again, an unchanged one never. See
// source_feedcursor.go for the cursor's format, when a batch carries it, and
// the migration of format-1 cursors. Events are grouped batch_size per batch
// (default 1: memory stays bounded by the largest event). An event file the
// manifest lists but the feed does not serve (404) is a warning, and counts as
// fetched at its timestamp.
func (s *Source) pullFeed(ctx context.Context, cur ingest.Cursor, conv *Converter, emit func(ingest.Batch) error) error {
	fc, err := decodeFeedCursor(cur)
	if err != nil {
		return err
	}
	var m Manifest
	tag, notModified, err := s.Client.Get(ctx, "manifest.json", fc.etag, func(r io.Reader) error {
		if err := json.NewDecoder(r).Decode(&m); err != nil {
			return fmt.Errorf("misp: manifest.json: %w", eofErr(err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if notModified {
		return nil
	}
	items := m.Ordered()
	keys := make([]uint64, len(items))
	var todo []int
	for i, it := range items {
		keys[i] = eventKey(uuid.MustParse(it.UUID)) // Ordered keeps parsed uuids only
		if have, ok := fc.seen[keys[i]]; !ok || clampTS(it.Timestamp) > have {
			todo = append(todo, i)
		}
	}
	fc.etag = "" // until the pull completes
	per := 1
	if s.Options.BatchSize > 0 {
		per = s.Options.BatchSize
	}
	var b ingest.Batch
	inBatch, sinceCursor := 0, 0
	for n, i := range todo {
		it := items[i]
		var ev ingest.Batch
		read := func(r io.Reader) error {
			ev = ingest.Batch{}
			_, err := DecodeEvents(r, func(e *Event) error {
				conv.AddEvent(&ev, e)
				return nil
			})
			return err
		}
		var err error
		for try := 0; ; try++ {
			_, _, err = s.Client.Get(ctx, it.UUID+".json", "", read)
			if !errors.Is(err, errTruncated) || try >= truncatedRetries || ctx.Err() != nil {
				break
			}
		}
		var he *ingest.HTTPError
		switch {
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			ev = ingest.Batch{Warnings: []ingest.Warning{{Record: "event " + it.UUID, Field: "manifest.json",
				Msg: "listed in the manifest but the feed answers 404; skipped"}}}
		case err != nil:
			return fmt.Errorf("misp: event %s: %w", it.UUID, err)
		}
		b.Objects = append(b.Objects, ev.Objects...)
		b.Observations = append(b.Observations, ev.Observations...)
		b.Warnings = append(b.Warnings, ev.Warnings...)
		fc.seen[keys[i]] = clampTS(it.Timestamp)
		inBatch++
		sinceCursor++
		if inBatch < per && n < len(todo)-1 {
			continue
		}
		if n < len(todo)-1 && sinceCursor >= max(per, len(fc.seen)/checkpointDivisor) {
			b.Cursor = fc.encode()
			sinceCursor = 0
		}
		if err := emit(b); err != nil {
			return err
		}
		b, inBatch = ingest.Batch{}, 0
	}
	// Complete: the map keeps the manifest's events only, and the ETag.
	done := make(map[uint64]uint32, len(items))
	for _, k := range keys {
		done[k] = fc.seen[k]
	}
	fc.seen, fc.etag = done, tag
	return emit(ingest.Batch{Cursor: fc.encode()})
}
