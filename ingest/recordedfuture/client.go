package recordedfuture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// DefaultBaseURL is the Recorded Future API.
const DefaultBaseURL = "https://api.recordedfuture.com"

// Client defaults; each applies when the Client field is zero.
const (
	DefaultListTimeout   = 30 * time.Minute // one risk-list download, body included
	DefaultLookupTimeout = time.Minute      // one Connect API lookup
	DefaultHeaderTimeout = time.Minute      // from sending a request to its response headers
	DefaultBodyRetries   = 3                // downloads cut off mid-body fetched again
)

// TokenHeader is the header carrying the API token.
const TokenHeader = "X-RFToken"

// ErrNotFound is returned by Lookup for an entity Recorded Future does not know (404).
var ErrNotFound = errors.New("recordedfuture: not found")

// ErrUnauthorized is returned for 401 and 403 answers: a missing, wrong or
// insufficient API token. It is not retried.
var ErrUnauthorized = errors.New("recordedfuture: unauthorized")

// Validators are a download's HTTP cache validators (RFC 9110 §8.8): sent back
// as If-None-Match and If-Modified-Since so that an unchanged list costs a 304.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Client talks to the Recorded Future API (reference/providers.md §4). It is the
// only part of the package that does HTTP. Requests carry the token in
// X-RFToken. Status retries (5xx and network errors with backoff, 429 with
// Retry-After, the request budget) are ingest.HTTPClient's; on top of them a
// download cut off mid-body is fetched again from the start, up to BodyRetries
// times. A Client is safe for concurrent use.
type Client struct {
	BaseURL string // empty: DefaultBaseURL
	Token   string // the API token; empty sends none
	// HTTP makes the requests; nil uses an ingest.HTTPClient with its defaults
	// and a transport waiting DefaultHeaderTimeout for response headers.
	HTTP          *ingest.HTTPClient
	ListTimeout   time.Duration // one download attempt, body included; 0: DefaultListTimeout
	LookupTimeout time.Duration // one lookup; 0: DefaultLookupTimeout
	BodyRetries   int           // 0: DefaultBodyRetries; negative: none
	UserAgent     string        // empty: "ctibroker"
	Logger        *slog.Logger  // nil: discard
}

var defaultHTTP = &ingest.HTTPClient{Client: &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: DefaultHeaderTimeout,
	IdleConnTimeout:       90 * time.Second,
	ForceAttemptHTTP2:     true,
}}}

func (c *Client) http() *ingest.HTTPClient {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) url(path string, q url.Values) string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// bodyReader remembers whether reading the response body failed, to tell a
// download cut off mid-way (retried) from an error of the caller's fn (returned).
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

// mapError turns the statuses callers handle into the package's sentinels.
func mapError(err error) error {
	var he *ingest.HTTPError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
	}
	return err
}

// get performs GET u and hands the 200 body to fn. A body whose read fails
// (cut off, connection reset) is fetched again and fn called again from the
// start, so fn must start over each time. A 304 calls nothing and reports
// notModified. The validators of the answer are returned.
func (c *Client) get(ctx context.Context, u string, timeout time.Duration, accept string, since Validators,
	fn func(io.Reader) error) (v Validators, notModified bool, err error) {
	retries := c.BodyRetries
	if retries == 0 {
		retries = DefaultBodyRetries
	}
	for attempt := 0; ; attempt++ {
		v, notModified, err, cutOff := c.attempt(ctx, u, timeout, accept, since, fn)
		if !cutOff || attempt >= max(retries, 0) || ctx.Err() != nil {
			return v, notModified, err
		}
		c.logger().Warn("download cut off; fetching again", "url", u, "attempt", attempt+1, "err", err)
	}
}

func (c *Client) attempt(ctx context.Context, u string, timeout time.Duration, accept string, since Validators,
	fn func(io.Reader) error) (v Validators, notModified bool, err error, cutOff bool) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return v, false, err, false
	}
	req.Header.Set("Accept", accept)
	ua := c.UserAgent
	if ua == "" {
		ua = "ctibroker"
	}
	req.Header.Set("User-Agent", ua)
	if c.Token != "" {
		req.Header.Set(TokenHeader, c.Token)
	}
	if since.ETag != "" {
		req.Header.Set("If-None-Match", since.ETag)
	}
	if since.LastModified != "" {
		req.Header.Set("If-Modified-Since", since.LastModified)
	}
	resp, err := c.http().Do(actx, req)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("GET %s: no answer within %s: %w", req.URL.Redacted(), timeout, err)
		}
		return v, false, mapError(err), false
	}
	defer resp.Body.Close()
	v = Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return since, true, nil, false
	default:
		return v, false, fmt.Errorf("GET %s: unexpected HTTP %d", req.URL.Redacted(), resp.StatusCode), false
	}
	br := &bodyReader{r: resp.Body}
	if err := fn(br); err != nil {
		if br.err != nil {
			if ctx.Err() != nil {
				return v, false, ctx.Err(), false
			}
			return v, false, fmt.Errorf("GET %s: body: %w", req.URL.Redacted(), br.err), true
		}
		return v, false, err, false
	}
	return v, false, nil, false
}

// RiskList streams GET /v2/{entity}/risklist?format=csv/splunk&list={list} to fn:
// the CSV risk list (header Name[,Algorithm],Risk,RiskString,EvidenceDetails).
// since makes the request conditional; an unchanged list answers 304, reported
// as notModified without calling fn. A download cut off mid-way is fetched again
// and fn called again from the start. Errors wrap ErrUnauthorized,
// ingest.ErrRateLimited, *ingest.HTTPError, or are fn's own.
func (c *Client) RiskList(ctx context.Context, entity, list string, since Validators, fn func(io.Reader) error) (v Validators, notModified bool, err error) {
	if !knownEntity(entity) {
		return v, false, fmt.Errorf("recordedfuture: risk list: entity %q is not one of %s", entity, strings.Join(Entities, ", "))
	}
	q := url.Values{"format": {"csv/splunk"}}
	if list != "" {
		q.Set("list", list)
	}
	return c.get(ctx, c.url("/v2/"+entity+"/risklist", q), c.listTimeout(), "text/csv, */*", since, fn)
}

// FusionFile streams GET /v2/fusion/files?path={path} to fn: a custom or
// fusion risk list such as /public/opencti/default_ip.csv. It behaves as
// RiskList.
func (c *Client) FusionFile(ctx context.Context, path string, since Validators, fn func(io.Reader) error) (v Validators, notModified bool, err error) {
	if !strings.HasPrefix(path, "/") {
		return v, false, fmt.Errorf("recordedfuture: fusion file path %q does not start with /", path)
	}
	return c.get(ctx, c.url("/v2/fusion/files", url.Values{"path": {path}}), c.listTimeout(), "text/csv, */*", since, fn)
}

func (c *Client) listTimeout() time.Duration {
	if c.ListTimeout > 0 {
		return c.ListTimeout
	}
	return DefaultListTimeout
}

// DefaultFields are the Connect API fields Lookup asks for when given none.
var DefaultFields = []string{"entity", "risk", "timestamps", "intelCard", "relatedEntities", "hashAlgorithm"}

// Lookup fetches one entity from the Connect API: GET /v2/{entity}/{id}?fields=…
// (entity one of ip, domain, url, hash, vulnerability; id the value, URL
// escaped). It returns the raw answer, {"data": {...}}, for AddEntity. Errors
// wrap ErrNotFound, ErrUnauthorized, ingest.ErrRateLimited or ingest.ErrBudget.
func (c *Client) Lookup(ctx context.Context, entity, id string, fields []string) (json.RawMessage, error) {
	if !knownEntity(entity) {
		return nil, fmt.Errorf("recordedfuture: lookup: entity %q is not one of %s", entity, strings.Join(Entities, ", "))
	}
	if strings.TrimSpace(id) == "" {
		return nil, fmt.Errorf("recordedfuture: lookup %s: empty id", entity)
	}
	if len(fields) == 0 {
		fields = DefaultFields
	}
	timeout := c.LookupTimeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	u := c.url("/v2/"+entity+"/"+url.PathEscape(id), url.Values{"fields": {strings.Join(fields, ",")}})
	var out json.RawMessage
	_, _, err := c.get(ctx, u, timeout, "application/json", Validators{}, func(r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, 64<<20))
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("recordedfuture: lookup %s %s: answer is not JSON", entity, id)
		}
		out = b
		return nil
	})
	return out, err
}
