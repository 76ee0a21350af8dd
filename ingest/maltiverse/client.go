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
	"net/http"
	"net/url"
	"strings"
	"sync"
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
// <APIKey>" when APIKey is set. Status retries are ingest.HTTPClient's (network
// errors and 5xx with exponential backoff and jitter, a 429 waiting for its
// Retry-After, seconds or an HTTP date, else backing off); on top of them a
// response cut off mid-body is fetched again after the backoff. The fields
// are read on first use; a Client is safe for concurrent use and must not be
// copied after first use.
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

	init         sync.Once
	pulls, looks *ingest.HTTPClient // made on first use: downloads, and lookups that must not wait
}

// clients returns the HTTP clients, made from the fields on first use: one for
// downloads and lookups, and one for on-demand lookups (ingest.HTTPClient.NoWait,
// one retry at most).
func (c *Client) clients() (pulls, looks *ingest.HTTPClient) {
	c.init.Do(func() {
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
			MaxWait: c.maxRetryAfter(), Logger: c.logger(), Sleep: c.Sleep}
		c.looks = &ingest.HTTPClient{Client: c.httpClient(), MaxRetries: min(retries, 1), MinBackoff: b, MaxBackoff: mx,
			MaxWait: c.maxRetryAfter(), Logger: c.logger(), Sleep: c.Sleep, NoWait: true}
	})
	return c.pulls, c.looks
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

// do performs GET path?query and hands the 200 body to read. Status retries
// are the HTTP client's; a body that read fails to finish because the
// transfer broke off (or that read reports as io.ErrUnexpectedEOF) is fetched
// again after the backoff, read called again from the start, up to MaxRetries
// times. An error of read's own is returned as is.
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
	hc, looks := c.clients()
	retries := c.retries()
	if noWait {
		hc, retries = looks, min(retries, 1)
	}
	for attempt := 0; ; attempt++ {
		err, cutOff := c.once(ctx, hc, u, read)
		if !cutOff || ctx.Err() != nil {
			return err
		}
		if attempt >= retries {
			return fmt.Errorf("GET %s: giving up after %d retries: %w", u, attempt, err)
		}
		wait := c.backoff(attempt + 1)
		c.logger().Warn("answer cut off; fetching again", "url", u, "attempt", attempt+1, "wait", wait, "err", err)
		if err := c.sleep(ctx, wait); err != nil {
			return err
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

// bodyReader remembers whether reading the response body failed, to tell an
// answer cut off mid-way (fetched again) from an error of the caller's read.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// once makes one request through hc (which retries statuses) and reads its
// body; cutOff reports a body that broke off.
func (c *Client) once(ctx context.Context, hc *ingest.HTTPClient, u string, read func(io.Reader) error) (err error, cutOff bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err, false
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
	resp, err := hc.Do(ctx, req)
	if err != nil {
		return mapError(u, err), false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Method: http.MethodGet, URL: u, Status: resp.StatusCode, Body: "unexpected status"}, false
	}
	br := &bodyReader{r: resp.Body}
	err = read(br)
	var stop *stopError
	switch {
	case err == nil:
		return nil, false
	case errors.As(err, &stop):
		return stop.err, false
	case ctx.Err() != nil:
		return ctx.Err(), false
	case br.err != nil || errors.Is(err, io.ErrUnexpectedEOF):
		return err, true
	}
	return err, false
}

// mapError turns the HTTP client's errors into the package's: 404 ErrNotFound,
// 401 and 403 ErrUnauthorized, other statuses *StatusError, rate limits
// ErrRateLimited (an *ingest.QuotaError stays one).
func mapError(u string, err error) error {
	var he *ingest.HTTPError
	var q *ingest.QuotaError
	switch {
	case errors.As(err, &q):
		return &ingest.QuotaError{Next: q.Next, Err: fmt.Errorf("GET %s: %w: %w", u, ErrRateLimited, q.Err)}
	case errors.Is(err, ingest.ErrRateLimited):
		return fmt.Errorf("%w: %w", ErrRateLimited, err)
	case errors.As(err, &he):
		switch he.Status {
		case http.StatusNotFound:
			return fmt.Errorf("GET %s: %w", u, ErrNotFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("GET %s: HTTP %d: %s: %w", u, he.Status, strings.TrimSpace(he.Body), ErrUnauthorized)
		}
		return &StatusError{Method: http.MethodGet, URL: u, Status: he.Status, Body: strings.TrimSpace(he.Body)}
	}
	return err
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
