package maltiverse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// DefaultBaseURL is the Maltiverse API.
const DefaultBaseURL = "https://api.maltiverse.com"

// Client defaults; each applies when the Client field is zero.
const (
	DefaultTimeout       = 2 * time.Minute // one request, body included
	DefaultMaxRetries    = 4
	DefaultBackoff       = time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultMaxRetryAfter = 10 * time.Minute
)

// ErrNotFound is returned by the lookups for a value Maltiverse does not know (404).
var ErrNotFound = errors.New("maltiverse: not found")

// ErrUnauthorized is returned for 401 and 403 answers: a missing, wrong or
// insufficient API key. It is not retried.
var ErrUnauthorized = errors.New("maltiverse: unauthorized")

// ErrRateLimited is returned when Maltiverse kept answering 429 after the retries,
// or asked to wait longer than Client.MaxRetryAfter.
var ErrRateLimited = errors.New("maltiverse: rate limited")

// StatusError is an HTTP answer the client does not retry (4xx other than 401,
// 403, 404 and 429) or a 5xx after the last retry.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string // the first bytes of the answer
}

// Error names the request, the status and what the provider said.
func (e *StatusError) Error() string {
	return fmt.Sprintf("maltiverse: %s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// Client talks to the Maltiverse API (reference/providers.md §1). It is the only
// part of the package that does HTTP. Requests carry "Authorization: Bearer
// <APIKey>" when APIKey is set. Network errors, 5xx answers and responses cut off
// mid-body are retried with exponential backoff; a 429 waits for its Retry-After
// (seconds or an HTTP date), else backs off. A Client is safe for concurrent use.
type Client struct {
	BaseURL       string        // empty: DefaultBaseURL
	APIKey        string        // permanent API key or JWT; empty sends no Authorization header
	HTTP          *http.Client  // nil: a client with Timeout
	Timeout       time.Duration // per request including the body; 0: DefaultTimeout
	MaxRetries    int           // retries after the first attempt; 0: DefaultMaxRetries, <0: none
	Backoff       time.Duration // first retry delay, doubled per retry; 0: DefaultBackoff
	MaxBackoff    time.Duration // 0: DefaultMaxBackoff
	MaxRetryAfter time.Duration // longest Retry-After waited for; 0: DefaultMaxRetryAfter
	UserAgent     string        // empty: "ctibroker"
	Logger        *slog.Logger  // nil: discard
	// Sleep waits d or until ctx is done; nil uses a timer. Tests replace it to
	// record the waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
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

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
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

func (c *Client) retries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

// backoff returns the delay before retry n (1-based).
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

// retryable reports whether err is a transport failure or a body cut off mid-way.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// do performs GET path?query and hands the 200 body to read. It retries network
// errors, 5xx, 429 and bodies that read fails to finish with a retryable error;
// read must therefore tolerate being called again from the start.
//
// noWait is for on-demand lookups, which must not block: a 429 is returned at
// once as an *ingest.QuotaError (wrapping ErrRateLimited; Next from its
// Retry-After) and other failures are retried once at most.
func (c *Client) do(ctx context.Context, path string, query url.Values, noWait bool, read func(io.Reader) error) error {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := c.backoff(attempt)
			var ra *retryAfterError
			if errors.As(lastErr, &ra) {
				wait = ra.wait
			}
			c.logger().Warn("retrying", "url", u, "attempt", attempt, "wait", wait, "err", lastErr)
			if err := c.sleep(ctx, wait); err != nil {
				return err
			}
		}
		err := c.once(ctx, u, read)
		if err == nil {
			return nil
		}
		var ra *retryAfterError
		var se *StatusError
		var stop *stopError
		switch {
		case errors.As(err, &stop):
			return stop.err
		case errors.As(err, &ra):
			if noWait {
				q := &ingest.QuotaError{Err: fmt.Errorf("GET %s: HTTP 429: %w: %w", u, ErrRateLimited, ingest.ErrRateLimited)}
				if ra.header {
					q.Next = time.Now().Add(ra.wait)
				}
				return q
			}
			if ra.wait > c.maxRetryAfter() {
				return fmt.Errorf("GET %s: Retry-After %s exceeds the %s limit: %w", u, ra.wait, c.maxRetryAfter(), ErrRateLimited)
			}
		case errors.As(err, &se) && se.Status >= 500:
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnauthorized), errors.As(err, &se):
			return err
		case !retryable(ctx, err):
			return err
		}
		lastErr = err
		retries := c.retries()
		if noWait {
			retries = min(retries, 1)
		}
		if attempt >= retries {
			if ra != nil {
				return fmt.Errorf("GET %s: still 429 after %d retries: %w", u, attempt, ErrRateLimited)
			}
			return fmt.Errorf("GET %s: giving up after %d retries: %w", u, attempt, err)
		}
	}
}

func (c *Client) maxRetryAfter() time.Duration {
	if c.MaxRetryAfter == 0 {
		return DefaultMaxRetryAfter
	}
	return c.MaxRetryAfter
}

// stopError carries an error of the caller's read callback out of do unretried.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// retryAfterError is a 429 answer; wait is its Retry-After (header set) or the
// backoff.
type retryAfterError struct {
	wait   time.Duration
	header bool
}

func (e *retryAfterError) Error() string { return fmt.Sprintf("HTTP 429, retry after %s", e.wait) }

func (c *Client) once(ctx context.Context, u string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "ctibroker"
	}
	req.Header.Set("User-Agent", ua)
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return read(resp.Body)
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = c.backoff(1)
		}
		return &retryAfterError{wait: wait, header: ok}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("GET %s: %w", u, ErrNotFound)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("GET %s: HTTP %d: %s: %w", u, resp.StatusCode, strings.TrimSpace(string(body)), ErrUnauthorized)
	}
	return &StatusError{Method: http.MethodGet, URL: u, Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// Download streams GET /collection/{id}/download?range=…&range_field=… (a JSON
// array of IoC documents) and calls fn for each element, in order, with its index
// and raw bytes (fn must not keep raw). rng is an Elasticsearch date-math window
// such as "now-1h"; empty rng or field leaves the parameter out. If the answer is
// cut off mid-stream the download is retried from the start and fn sees the
// elements again: callers de-duplicate. An error fn returns stops the download
// and is returned as is.
func (c *Client) Download(ctx context.Context, collection, rng, field string, fn func(i int, raw json.RawMessage) error) error {
	if collection == "" {
		return errors.New("maltiverse: download: empty collection id")
	}
	q := url.Values{}
	if rng != "" {
		q.Set("range", rng)
	}
	if field != "" {
		q.Set("range_field", field)
	}
	return c.do(ctx, "/collection/"+url.PathEscape(collection)+"/download", q, false, func(r io.Reader) error {
		dec := json.NewDecoder(r)
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("collection %s: %w", collection, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("collection %s: want a JSON array of documents, got %v", collection, tok)
		}
		var raw json.RawMessage
		for i := 0; dec.More(); i++ {
			raw = raw[:0]
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("collection %s: element %d: %w", collection, i, err)
			}
			if err := fn(i, raw); err != nil {
				return &stopError{err}
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("collection %s: end of array: %w", collection, err)
		}
		return nil
	})
}

// lookup GETs one document.
func (c *Client) lookup(ctx context.Context, path string) (json.RawMessage, error) {
	return c.get(ctx, path, false)
}

// get GETs one document; noWait as in do.
func (c *Client) get(ctx context.Context, path string, noWait bool) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.do(ctx, path, nil, noWait, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("GET %s: answer is not JSON: %w", path, io.ErrUnexpectedEOF)
		}
		out = b
		return nil
	})
	return out, err
}

// IP looks an IPv4 or IPv6 address up: GET /ip/{ip}. Returns the raw document
// (decode it with ParseDocument); ErrNotFound when Maltiverse does not know it.
func (c *Client) IP(ctx context.Context, ip string) (json.RawMessage, error) {
	return c.lookup(ctx, "/ip/"+url.PathEscape(ip))
}

// Hostname looks a host name up: GET /hostname/{host}.
func (c *Client) Hostname(ctx context.Context, host string) (json.RawMessage, error) {
	return c.lookup(ctx, "/hostname/"+url.PathEscape(host))
}

// URL looks a URL up by its checksum: GET /url/{sha256(url)} (the document's
// urlchecksum).
func (c *Client) URL(ctx context.Context, rawURL string) (json.RawMessage, error) {
	return c.lookup(ctx, "/url/"+URLChecksum(rawURL))
}

// URLChecksum is the key Maltiverse files a URL under: the hex SHA-256 of its bytes.
func URLChecksum(rawURL string) string {
	h := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(h[:])
}

// Sample looks a file up by hash: GET /sample/{sha256}, or /sample/md5/{md5},
// /sample/sha1/{sha1}, /sample/sha512/{sha512} chosen by the hash's length.
func (c *Client) Sample(ctx context.Context, hash string) (json.RawMessage, error) {
	p, err := samplePath(hash)
	if err != nil {
		return nil, err
	}
	return c.lookup(ctx, p)
}

// samplePath is the lookup path of a hash, chosen by its length.
func samplePath(hash string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(hash))
	switch len(h) {
	case 64:
		return "/sample/" + url.PathEscape(h), nil
	case 32:
		return "/sample/md5/" + url.PathEscape(h), nil
	case 40:
		return "/sample/sha1/" + url.PathEscape(h), nil
	case 128:
		return "/sample/sha512/" + url.PathEscape(h), nil
	}
	return "", fmt.Errorf("maltiverse: sample lookup: %q is not an MD5, SHA-1, SHA-256 or SHA-512 hash", hash)
}

// lookupPath is the API path Maltiverse files value v under (IP, hostname,
// URL checksum, sample hash, e-mail address); ok is false for other values.
func lookupPath(v ingest.Value) (path string, ok bool) {
	switch v.Type {
	case ingest.TypeIPv4, ingest.TypeIPv6:
		if strings.Contains(v.Value, "/") {
			return "", false // a CIDR block is no single address
		}
		return "/ip/" + url.PathEscape(v.Value), true
	case ingest.TypeDomain:
		return "/hostname/" + url.PathEscape(v.Value), true
	case ingest.TypeURL:
		return "/url/" + URLChecksum(v.Value), true
	case ingest.TypeEmail:
		return "/email/" + url.PathEscape(v.Value), true
	case ingest.TypeFile:
		switch v.HashAlgo {
		case ingest.HashMD5, ingest.HashSHA1, ingest.HashSHA256, ingest.HashSHA512:
			p, err := samplePath(v.Value)
			return p, err == nil
		}
	}
	return "", false
}

// Email looks an e-mail address up: GET /email/{address}.
func (c *Client) Email(ctx context.Context, addr string) (json.RawMessage, error) {
	return c.lookup(ctx, "/email/"+url.PathEscape(addr))
}
