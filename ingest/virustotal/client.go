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
	"net"
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
// to two budgets: PerMinute requests in any minute (it waits when the minute is
// full) and PerDay requests per UTC day (ErrQuotaExhausted when spent; Usage and
// SetUsage carry the count across processes). Retries count against both.
// Network errors, 5xx and bodies cut off mid-way are retried with exponential
// backoff; a 429 waits for its Retry-After, else backs off. Safe for concurrent
// use.
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

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// tooMany is a 429 answer.
type tooMany struct {
	wait   time.Duration
	header bool
	code   string
}

func (e *tooMany) Error() string { return fmt.Sprintf("HTTP 429 %s, retry after %s", e.code, e.wait) }

// vtError is VirusTotal's error envelope.
type vtError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// get performs GET path?query and returns the 200 body, read whole. It retries
// network errors, 5xx, 429 and bodies cut off (not valid JSON at the end).
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
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt)
			var tm *tooMany
			if errors.As(last, &tm) && tm.header {
				wait = tm.wait
			}
			c.logger().Warn("retrying", "url", u, "attempt", attempt, "wait", wait, "err", last)
			if err := c.sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		if err := c.take(ctx, noWait); err != nil {
			return nil, err
		}
		body, err := c.once(ctx, u)
		if err == nil {
			return body, nil
		}
		var tm *tooMany
		var se *StatusError
		switch {
		case errors.As(err, &tm) && noWait:
			q := &ingest.QuotaError{Err: fmt.Errorf("GET %s: HTTP 429 %s: %w: %w", u, tm.code, ErrQuotaExhausted, ingest.ErrRateLimited)}
			if tm.header {
				q.Next = c.now().Add(tm.wait)
			}
			return nil, q
		case errors.As(err, &tm):
			if tm.header && tm.wait > c.maxRetryAfter() {
				return nil, fmt.Errorf("GET %s: Retry-After %s exceeds the %s limit: %w", u, tm.wait, c.maxRetryAfter(), ErrQuotaExhausted)
			}
		case errors.As(err, &se) && se.Status >= 500:
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnauthorized), errors.As(err, &se):
			return nil, err
		case !retryable(ctx, err):
			return nil, err
		}
		last = err
		retries := c.retries()
		if noWait {
			retries = min(retries, 1)
		}
		if attempt >= retries {
			if tm != nil {
				return nil, fmt.Errorf("GET %s: still 429 %s after %d retries: %w", u, tm.code, attempt, ErrQuotaExhausted)
			}
			return nil, fmt.Errorf("GET %s: giving up after %d retries: %w", u, attempt, err)
		}
	}
}

func (c *Client) once(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-apikey", c.APIKey)
	ua := c.UserAgent
	if ua == "" {
		ua = "ctibroker"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("GET %s: answer is not complete JSON (%d bytes): %w", u, len(b), io.ErrUnexpectedEOF)
		}
		return b, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var ve vtError
	_ = json.Unmarshal(body, &ve)
	if ve.Error.Message == "" {
		ve.Error.Message = strings.TrimSpace(string(body))
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), c.now())
		return nil, &tooMany{wait: wait, header: ok, code: ve.Error.Code}
	case http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %s: %w", u, ve.Error.Message, ErrNotFound)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("GET %s: HTTP %d %s: %w", u, resp.StatusCode, ve.Error.Code, ErrUnauthorized)
	}
	return nil, &StatusError{Method: http.MethodGet, URL: u, Status: resp.StatusCode, Code: ve.Error.Code, Message: ve.Error.Message}
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
