package virustotal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// DefaultBaseURL is the VirusTotal API v3 (also Google Threat Intelligence).
const DefaultBaseURL = "https://www.virustotal.com/api/v3"

// Client defaults; each applies when the Client field is zero.
const (
	DefaultTimeout       = time.Minute
	DefaultMaxRetries    = 4
	DefaultBackoff       = 2 * time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultMaxRetryAfter = 5 * time.Minute
)

// ErrNotFound is returned for objects VirusTotal does not know (404 NotFoundError).
var ErrNotFound = errors.New("virustotal: not found")

// ErrUnauthorized is returned for 401 and 403 answers (WrongCredentialsError,
// ForbiddenError): a missing, wrong or insufficient API key. Not retried.
var ErrUnauthorized = errors.New("virustotal: unauthorized")

// ErrQuotaExhausted is returned when the daily request budget (Client.PerDay) is
// spent, or VirusTotal kept answering 429 QuotaExceededError after the retries.
// Sources stop cleanly on it with a warning.
var ErrQuotaExhausted = errors.New("virustotal: request quota exhausted")

// StatusError is an HTTP answer the client does not retry (4xx other than 401,
// 403, 404 and 429), or a 5xx after the last retry. Code and Message are
// VirusTotal's error object.
type StatusError struct {
	Method, URL   string
	Status        int
	Code, Message string
}

// Error names the request, the status and what the provider said.
func (e *StatusError) Error() string {
	return fmt.Sprintf("virustotal: %s %s: HTTP %d %s: %s", e.Method, e.URL, e.Status, e.Code, e.Message)
}

// Client talks to the VirusTotal API v3 (reference/providers.md §2), the only
// part of the package doing HTTP. Requests carry "x-apikey: <APIKey>". It keeps
// to two budgets (an ingest.Budget): PerMinute requests in any minute (it waits
// when the minute is full) and PerDay requests per UTC day (ErrQuotaExhausted
// when spent; Usage, SetUsage and MergeUsage carry the count across processes).
// Retries count against both. Status retries are ingest.HTTPClient's (network
// errors and 5xx with exponential backoff and jitter, a 429 waiting for its
// Retry-After, else backing off); on top of them an answer cut off mid-body is
// fetched again after the backoff. The fields are read on first use; safe for
// concurrent use, and not to be copied after first use.
type Client struct {
	BaseURL       string        // empty: DefaultBaseURL
	APIKey        string        // sent as x-apikey
	HTTP          *http.Client  // nil: a client with Timeout
	Timeout       time.Duration // per request including the body; 0: DefaultTimeout
	MaxRetries    int           // retries after the first attempt; 0: DefaultMaxRetries, <0: none
	Backoff       time.Duration // first retry delay, doubled per retry; 0: DefaultBackoff
	MaxBackoff    time.Duration // 0: DefaultMaxBackoff
	MaxRetryAfter time.Duration // longest Retry-After waited for; 0: DefaultMaxRetryAfter
	PerMinute     int           // requests per minute; 0: unlimited
	PerDay        int           // requests per UTC day; 0: unlimited
	UserAgent     string        // empty: "ctibroker"
	Logger        *slog.Logger  // nil: discard
	// Now is the clock of the budgets; nil: time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done; nil uses a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error

	budgetOnce sync.Once
	budget     *ingest.Budget // PerMinute and PerDay, made on first use

	httpOnce     sync.Once
	pulls, looks *ingest.HTTPClient // made on first use: pulls, and lookups that must not wait
}

// clients returns the HTTP clients, made from the fields on first use: one for
// pulls, whose attempts wait for the per-minute budget, and one for on-demand
// lookups (ingest.HTTPClient.NoWait, one retry at most), whose attempts do not.
func (c *Client) clients() (pulls, looks *ingest.HTTPClient) {
	c.httpOnce.Do(func() {
		b, mx := c.Backoff, c.MaxBackoff
		if b == 0 {
			b = DefaultBackoff
		}
		if mx == 0 {
			mx = DefaultMaxBackoff
		}
		retries := c.retries()
		if retries == 0 {
			retries = -1 // ingest.HTTPClient reads 0 as its default
		}
		c.pulls = &ingest.HTTPClient{Client: c.httpClient(), MaxRetries: retries, MinBackoff: b, MaxBackoff: mx,
			MaxWait: c.maxRetryAfter(), Logger: c.logger(), Sleep: c.Sleep,
			Before: func(ctx context.Context) error { return c.take(ctx, false) }}
		c.looks = &ingest.HTTPClient{Client: c.httpClient(), MaxRetries: min(retries, 1), MinBackoff: b, MaxBackoff: mx,
			MaxWait: c.maxRetryAfter(), Logger: c.logger(), Sleep: c.Sleep, NoWait: true,
			Before: func(ctx context.Context) error { return c.take(ctx, true) }}
	})
	return c.pulls, c.looks
}

// quota returns the request budget, made from PerMinute and PerDay on first use.
func (c *Client) quota() *ingest.Budget {
	c.budgetOnce.Do(func() { c.budget = &ingest.Budget{PerMinute: c.PerMinute, PerDay: c.PerDay} })
	return c.budget
}

// Usage returns the UTC day ("2006-01-02") and the number of requests made on it.
func (c *Client) Usage() (string, int) { return c.quota().Usage() }

// Remaining returns the requests left in today's budget (UTC), for metrics; ok
// is false when PerDay is unlimited.
func (c *Client) Remaining() (left int, ok bool) { return c.quota().Remaining(c.now()) }

// SetUsage restores the day's request count (from a feed cursor).
func (c *Client) SetUsage(day string, used int) { c.quota().SetUsage(day, used) }

// MergeUsage restores a request count recorded elsewhere (a cursor, the
// enrichment state) without losing the requests this client made since (see
// ingest.Budget.MergeUsage): pulls and lookups share the client's budget.
func (c *Client) MergeUsage(day string, used int) { c.quota().MergeUsage(day, used) }

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// take spends one request of the budgets, waiting for the minute's budget;
// with noWait a spent minute is an *ingest.QuotaError too. A spent day is an
// *ingest.QuotaError wrapping ErrQuotaExhausted.
func (c *Client) take(ctx context.Context, noWait bool) error {
	b := c.quota()
	for {
		now := c.now()
		var wait time.Duration
		var err error
		if noWait {
			err = b.TryTake(now)
		} else {
			wait, err = b.Take(now)
		}
		var q *ingest.QuotaError
		if errors.As(err, &q) {
			return &ingest.QuotaError{Next: q.Next, Err: fmt.Errorf("%w: %w", ErrQuotaExhausted, q.Err)}
		}
		if err != nil || wait <= 0 {
			return err
		}
		c.logger().Info("per-minute request budget reached; waiting", "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	t := c.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return &http.Client{Timeout: t}
}

func (c *Client) retries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

func (c *Client) backoff(n int) time.Duration {
	b, mx := c.Backoff, c.MaxBackoff
	if b == 0 {
		b = DefaultBackoff
	}
	if mx == 0 {
		mx = DefaultMaxBackoff
	}
	d := b << (n - 1)
	if d <= 0 || d > mx {
		d = mx
	}
	return d
}

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter == 0 {
		return DefaultMaxRetryAfter
	}
	return c.MaxRetryAfter
}

// vtError is VirusTotal's error envelope.
type vtError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// get performs GET path?query and returns the 200 body, read whole. Status
// retries (network errors, 5xx, 429) are the HTTP client's, each attempt
// spending the budgets; an answer cut off (a broken transfer, or not valid
// JSON at its end) is fetched again after the backoff, up to MaxRetries times.
//
// noWait is for on-demand lookups, which must not block: a spent per-minute
// budget and a 429 are returned at once as an *ingest.QuotaError (wrapping
// ErrQuotaExhausted; Next from the budget or the Retry-After), and other
// failures are retried once at most.
func (c *Client) get(ctx context.Context, path string, query url.Values, noWait bool) ([]byte, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	hc, looks := c.clients()
	retries := c.retries()
	if noWait {
		hc, retries = looks, min(retries, 1)
	}
	for attempt := 0; ; attempt++ {
		body, err, cutOff := c.once(ctx, hc, u)
		if !cutOff || ctx.Err() != nil {
			return body, err
		}
		if attempt >= retries {
			return nil, fmt.Errorf("GET %s: giving up after %d retries: %w", u, attempt, err)
		}
		wait := c.backoff(attempt + 1)
		c.logger().Warn("answer cut off; fetching again", "url", u, "attempt", attempt+1, "wait", wait, "err", err)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// once makes one request through hc (which retries statuses) and reads the
// answer whole; cutOff reports an answer that broke off.
func (c *Client) once(ctx context.Context, hc *ingest.HTTPClient, u string) (body []byte, err error, cutOff bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err, false
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-apikey", c.APIKey)
	ua := c.UserAgent
	if ua == "" {
		ua = "ctibroker"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := hc.Do(ctx, req)
	if err != nil {
		return nil, mapError(u, err), false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Method: http.MethodGet, URL: u, Status: resp.StatusCode, Message: "unexpected status"}, false
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err(), false
		}
		return nil, fmt.Errorf("GET %s: body: %w", u, err), true
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("GET %s: answer is not complete JSON (%d bytes): %w", u, len(b), io.ErrUnexpectedEOF), true
	}
	return b, nil, false
}

// mapError turns the HTTP client's errors into the package's: a spent budget
// as take returned it, rate limits ErrQuotaExhausted (an *ingest.QuotaError
// stays one), 404 ErrNotFound, 401 and 403 ErrUnauthorized, other statuses
// *StatusError with VirusTotal's error code and message.
func mapError(u string, err error) error {
	var he *ingest.HTTPError
	var q *ingest.QuotaError
	switch {
	case errors.Is(err, ErrQuotaExhausted):
		return err
	case errors.As(err, &q):
		return &ingest.QuotaError{Next: q.Next, Err: fmt.Errorf("GET %s: %w: %w", u, ErrQuotaExhausted, q.Err)}
	case errors.Is(err, ingest.ErrRateLimited):
		return fmt.Errorf("GET %s: still 429 after the retries: %w: %w", u, ErrQuotaExhausted, err)
	case errors.As(err, &he):
		var ve vtError
		_ = json.Unmarshal([]byte(he.Body), &ve)
		if ve.Error.Message == "" {
			ve.Error.Message = strings.TrimSpace(he.Body)
		}
		switch he.Status {
		case http.StatusNotFound:
			return fmt.Errorf("GET %s: %s: %w", u, ve.Error.Message, ErrNotFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("GET %s: HTTP %d %s: %w", u, he.Status, ve.Error.Code, ErrUnauthorized)
		}
		return &StatusError{Method: http.MethodGet, URL: u, Status: he.Status, Code: ve.Error.Code, Message: ve.Error.Message}
	}
	return err
}

// Page is one page of a list endpoint: its objects (raw, for Converter.AddRaw),
// meta.cursor (empty on the last page) and links.next.
type Page struct {
	Data   []json.RawMessage
	Cursor string
	Next   string
}

func decodePage(b []byte) (*Page, error) {
	var env struct {
		Data []json.RawMessage `json:"data"`
		Meta struct {
			Cursor string `json:"cursor"`
		} `json:"meta"`
		Links struct {
			Next string `json:"next"`
		} `json:"links"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("virustotal: list answer: %w", err)
	}
	return &Page{Data: env.Data, Cursor: env.Meta.Cursor, Next: env.Links.Next}, nil
}

// StreamQuery is the query of GET /ioc_stream.
type StreamQuery struct {
	Filter          string // e.g. "origin:hunting date:2026-03-01T00:00:00+"
	Cursor          string // meta.cursor of the previous page
	Limit           int    // objects per page, at most 40; 0: 40
	Order           string // "date+" (oldest first) or "date-"; empty: VirusTotal's default
	DescriptorsOnly bool
}

// IoCStream returns one page of the IoC stream: GET /ioc_stream.
func (c *Client) IoCStream(ctx context.Context, q StreamQuery) (*Page, error) {
	v := url.Values{}
	limit := q.Limit
	if limit <= 0 || limit > 40 {
		limit = 40
	}
	v.Set("limit", strconv.Itoa(limit))
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Order != "" {
		v.Set("order", q.Order)
	}
	if q.DescriptorsOnly {
		v.Set("descriptors_only", "true")
	}
	b, err := c.get(ctx, "/ioc_stream", v, false)
	if err != nil {
		return nil, err
	}
	return decodePage(b)
}

// CollectionsQuery is the query of GET /collections.
type CollectionsQuery struct {
	// Filter selects collections, e.g. "collection_type:threat-actor
	// last_modification_date:2026-03-01T00:00:00+".
	Filter        string
	Order         string   // e.g. "last_modification_date+"
	Cursor        string   // meta.cursor of the previous page
	Limit         int      // at most 40; 0: 40
	Relationships []string // related objects to include, e.g. attack_techniques, vulnerabilities
}

// Collections returns one page of GET /collections (GTI threat actors, malware
// families, campaigns, vulnerabilities, reports).
func (c *Client) Collections(ctx context.Context, q CollectionsQuery) (*Page, error) {
	v := url.Values{}
	limit := q.Limit
	if limit <= 0 || limit > 40 {
		limit = 40
	}
	v.Set("limit", strconv.Itoa(limit))
	for k, s := range map[string]string{"filter": q.Filter, "order": q.Order, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(q.Relationships) > 0 {
		v.Set("relationships", strings.Join(q.Relationships, ","))
	}
	b, err := c.get(ctx, "/collections", v, false)
	if err != nil {
		return nil, err
	}
	return decodePage(b)
}

// File returns GET /files/{md5, sha1 or sha256} ({"data": object}).
func (c *Client) File(ctx context.Context, hash string) (json.RawMessage, error) {
	return c.get(ctx, "/files/"+url.PathEscape(strings.ToLower(strings.TrimSpace(hash))), nil, false)
}

// URLID is VirusTotal's identifier of a URL: its unpadded base64url form.
func URLID(rawURL string) string { return base64.RawURLEncoding.EncodeToString([]byte(rawURL)) }

// URL returns GET /urls/{id} for a URL.
func (c *Client) URL(ctx context.Context, rawURL string) (json.RawMessage, error) {
	return c.get(ctx, "/urls/"+URLID(rawURL), nil, false)
}

// Domain returns GET /domains/{domain}.
func (c *Client) Domain(ctx context.Context, domain string) (json.RawMessage, error) {
	return c.get(ctx, "/domains/"+url.PathEscape(domain), nil, false)
}

// IP returns GET /ip_addresses/{ip}.
func (c *Client) IP(ctx context.Context, ip string) (json.RawMessage, error) {
	return c.get(ctx, "/ip_addresses/"+url.PathEscape(ip), nil, false)
}

// Collection returns GET /collections/{id}, with the relationships named (e.g.
// "attack_techniques", "files", "domains") included.
func (c *Client) Collection(ctx context.Context, id string, relationships ...string) (json.RawMessage, error) {
	var v url.Values
	if len(relationships) > 0 {
		v = url.Values{"relationships": {strings.Join(relationships, ",")}}
	}
	return c.get(ctx, "/collections/"+url.PathEscape(id), v, false)
}

// AttackTechnique returns GET /attack_techniques/{id}.
func (c *Client) AttackTechnique(ctx context.Context, id string) (json.RawMessage, error) {
	return c.get(ctx, "/attack_techniques/"+url.PathEscape(id), nil, false)
}
