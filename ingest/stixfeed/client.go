package stixfeed

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

// MediaTypeTAXII is the TAXII 2.1 media type the client accepts.
const MediaTypeTAXII = "application/taxii+json;version=2.1"

// HeaderDateAddedLast is the TAXII 2.1 header with the date_added of the last
// object of a response (§3.4.2.2).
const HeaderDateAddedLast = "X-TAXII-Date-Added-Last"

// Client defaults.
const (
	DefaultTimeout     = 2 * time.Minute
	DefaultMaxRetries  = 4
	DefaultBackoff     = time.Second
	DefaultMaxWait     = 5 * time.Minute
	DefaultMaxRequests = 1000
	DefaultPageLimit   = 1000
	maxErrorBody       = 512
	userAgent          = "ctibroker-taxii-client/1"
)

// ErrBudget is returned once a client has made MaxRequests requests.
var ErrBudget = errors.New("taxii client: request budget exhausted")

// HTTPError is a response with a status that is not retried, or the last one
// after the retries ran out.
type HTTPError struct {
	Status int
	URL    string
	Body   string
}

// Error describes the status, with a hint for authentication failures.
func (e *HTTPError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (check the feed's credentials)"
	case http.StatusNotAcceptable:
		hint = " (the server does not speak " + MediaTypeTAXII + ")"
	}
	return fmt.Sprintf("taxii: GET %s: HTTP %d%s: %s", e.URL, e.Status, hint, e.Body)
}

// Client is a TAXII 2.1 client for one collection's objects endpoint. It sends
// Accept: application/taxii+json;version=2.1 and Basic or bearer credentials,
// retries network errors, 5xx and cut-off bodies with exponential backoff,
// honours 429/503 Retry-After, and stops at a request budget. Not safe for
// concurrent use.
type Client struct {
	HTTP        *http.Client // nil: one with Timeout
	Timeout     time.Duration
	Username    string // HTTP Basic, with Password
	Password    string
	Token       string // Authorization: Bearer, when Username is empty
	MaxRetries  int    // default DefaultMaxRetries; <0 none
	Backoff     time.Duration
	MaxWait     time.Duration
	MaxRequests int
	Requests    int
}

// ResetBudget starts a new request budget (one per pull).
func (c *Client) ResetBudget() { c.Requests = 0 }

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		t := c.Timeout
		if t <= 0 {
			t = DefaultTimeout
		}
		c.HTTP = &http.Client{Timeout: t}
	}
	return c.HTTP
}

type retryable struct {
	err  error
	wait time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

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

// Get fetches u and hands the response headers and body to fn. Retries as the
// Client doc says; fn may run more than once and must be idempotent. fn's
// errors that are not read errors (or io.ErrUnexpectedEOF from a body cut off)
// are returned as is.
func (c *Client) Get(ctx context.Context, u string, fn func(h http.Header, body io.Reader) error) error {
	retries := c.MaxRetries
	if retries == 0 {
		retries = DefaultMaxRetries
	}
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	maxWait := c.MaxWait
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, u, fn)
		var r *retryable
		if err == nil || !errors.As(err, &r) {
			return err
		}
		if attempt >= retries {
			return fmt.Errorf("taxii: GET %s: giving up after %d attempts: %w", u, attempt+1, r.err)
		}
		wait := r.wait
		if wait == 0 {
			wait = backoff << attempt
			wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		}
		if wait > maxWait {
			return fmt.Errorf("taxii: GET %s: server asks to wait %s, more than the %s allowed: %w", u, wait, maxWait, r.err)
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

func (c *Client) once(ctx context.Context, u string, fn func(http.Header, io.Reader) error) error {
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
		return fmt.Errorf("taxii: %w", err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	req.Header.Set("User-Agent", userAgent)
	switch {
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &retryable{err: fmt.Errorf("taxii: GET %s: %w", u, err)}
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
	err = fn(resp.Header, br)
	if err != nil && (br.err != nil || errors.Is(err, io.ErrUnexpectedEOF)) && ctx.Err() == nil {
		return &retryable{err: fmt.Errorf("taxii: GET %s: %w", u, err)}
	}
	return err
}

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

// ObjectsURL returns the objects endpoint of collection URL coll (ending in
// /collections/{id}/) with the TAXII query parameters.
func ObjectsURL(coll string, addedAfter string, limit int, next string, types []string) (string, error) {
	u, err := url.Parse(coll)
	if err != nil {
		return "", fmt.Errorf("taxii: collection URL %q: %w", coll, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if !strings.HasSuffix(u.Path, "/objects/") {
		u.Path += "objects/"
	}
	q := url.Values{}
	if addedAfter != "" {
		q.Set("added_after", addedAfter)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if next != "" {
		q.Set("next", next)
	}
	if len(types) > 0 {
		q.Set("match[type]", strings.Join(types, ","))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
