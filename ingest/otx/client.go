package otx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the OTX API's base URL.
const DefaultBaseURL = "https://otx.alienvault.com"

// Client defaults.
const (
	DefaultTimeout     = 2 * time.Minute // one request, body included
	DefaultMaxRetries  = 4
	DefaultBackoff     = time.Second       // first retry wait, doubled per retry
	DefaultMaxWait     = 5 * time.Minute   // longest Retry-After honoured
	DefaultMaxRequests = 1000              // per pull
	DefaultPageLimit   = 50                // pulses per page
	maxErrorBody       = 512               // bytes of an error body kept in HTTPError
	userAgent          = "ctibroker-otx/1" // sent with every request
)

// ErrBudget is returned once a client has made MaxRequests requests.
var ErrBudget = errors.New("otx: request budget exhausted")

// HTTPError is a response with a status that is not retried, or the last one
// after the retries ran out.
type HTTPError struct {
	Status int
	URL    string // without credentials (the key travels in a header)
	Body   string // the first bytes of the body
}

// Error describes the status, with a hint for authentication failures.
func (e *HTTPError) Error() string {
	hint := ""
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		hint = " (check the OTX API key)"
	}
	return fmt.Sprintf("otx: GET %s: HTTP %d%s: %s", e.URL, e.Status, hint, e.Body)
}

// Client is an OTX DirectConnect API v1 client: it authenticates with the
// X-OTX-API-KEY header, retries network errors, 5xx responses and responses cut
// off mid-body with exponential backoff, honours 429/503 Retry-After, and stops
// at a request budget. It is not safe for concurrent use (the budget is a
// counter).
type Client struct {
	BaseURL     string       // default DefaultBaseURL; tests point it at httptest
	APIKey      string       // sent as X-OTX-API-KEY
	HTTP        *http.Client // nil: a client with Timeout
	Timeout     time.Duration
	MaxRetries  int           // retries after the first attempt; default DefaultMaxRetries, <0 none
	Backoff     time.Duration // default DefaultBackoff
	MaxWait     time.Duration // default DefaultMaxWait
	MaxRequests int           // default DefaultMaxRequests
	Requests    int           // requests made so far; ResetBudget sets it to 0
}

// ResetBudget starts a new request budget (one per pull).
func (c *Client) ResetBudget() { c.Requests = 0 }

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(c.BaseURL, "/")
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	t := c.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	c.HTTP = &http.Client{Timeout: t}
	return c.HTTP
}

// URL resolves ref against the base URL. A relative ref ("/api/v1/...") is joined
// to it; an absolute one (a next link) keeps only its path and query, so that a
// next link never sends the API key to another host. Paths outside /api/ are
// refused.
func (c *Client) URL(ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("otx: URL %q: %w", ref, err)
	}
	if !strings.HasPrefix(u.Path, "/api/") {
		return "", fmt.Errorf("otx: URL %q: path outside /api/", ref)
	}
	out := c.base() + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// retryable marks an attempt's error as worth another try.
type retryable struct {
	err  error
	wait time.Duration // Retry-After, when the server gave one
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// bodyReader records read errors, so that a response cut off mid-stream is told
// apart from a callback's own error.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Get fetches ref (see URL) and hands the body to fn as a stream. Network
// errors, 5xx and 429 responses and bodies cut off (fn's error wraps a read
// error or the truncation DecodePage reports) are retried up to MaxRetries times
// with exponential backoff and jitter, or after Retry-After when the server says
// so. fn may therefore run more than once for one Get and must be idempotent. Any
// other error of fn is returned as is, without retrying. Returns ErrBudget when the
// request budget is spent, an *HTTPError for other statuses.
func (c *Client) Get(ctx context.Context, ref string, fn func(io.Reader) error) error {
	u, err := c.URL(ref)
	if err != nil {
		return err
	}
	retries := c.MaxRetries
	if retries == 0 {
		retries = DefaultMaxRetries
	}
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, u, fn)
		var r *retryable
		if err == nil || !errors.As(err, &r) {
			return err
		}
		if attempt >= retries {
			return fmt.Errorf("otx: GET %s: giving up after %d attempts: %w", u, attempt+1, r.err)
		}
		wait := r.wait
		if wait == 0 {
			wait = backoff << attempt
			wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		}
		maxWait := c.MaxWait
		if maxWait <= 0 {
			maxWait = DefaultMaxWait
		}
		if wait > maxWait {
			return fmt.Errorf("otx: GET %s: server asks to wait %s, more than the %s allowed: %w", u, wait, maxWait, r.err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, u string, fn func(io.Reader) error) error {
	limit := c.MaxRequests
	if limit == 0 {
		limit = DefaultMaxRequests
	}
	if c.Requests >= limit {
		return fmt.Errorf("%w (%d requests)", ErrBudget, limit)
	}
	c.Requests++
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("otx: %w", err)
	}
	req.Header.Set("X-OTX-API-KEY", c.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &retryable{err: fmt.Errorf("otx: GET %s: %w", u, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		herr := &HTTPError{Status: resp.StatusCode, URL: u, Body: strings.TrimSpace(string(body))}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			return &retryable{err: herr, wait: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
		case resp.StatusCode >= 500:
			return &retryable{err: herr}
		}
		return herr
	}
	br := &bodyReader{r: resp.Body}
	err = fn(br)
	if err != nil && (br.err != nil || errors.Is(err, errTruncated)) && ctx.Err() == nil {
		return &retryable{err: fmt.Errorf("otx: GET %s: %w", u, err)}
	}
	return err
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date. Zero when
// absent or unreadable (the caller backs off instead).
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
