package otx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// DefaultBaseURL is the OTX API's base URL.
const DefaultBaseURL = "https://otx.alienvault.com"

// Client defaults.
const (
	DefaultTimeout     = 2 * time.Minute // one request, body included
	DefaultMaxRequests = 1000            // per pull
	DefaultPageLimit   = 50              // pulses per page
	DefaultBodyRetries = 2               // fetches again of a response cut off mid-body
	userAgent          = "ctibroker-otx/1"
)

// Client is an OTX DirectConnect API v1 client. It authenticates with the
// X-OTX-API-KEY header and sends its requests through an ingest.HTTPClient
// (timeouts, retries with backoff on network errors and 5xx, 429 and
// Retry-After honoured, the request budget); on top of that it fetches again a
// response whose body is cut off mid-stream. It never sends the key to another
// host than BaseURL's (see URL).
type Client struct {
	BaseURL     string             // default DefaultBaseURL; tests point it at httptest
	APIKey      string             // sent as X-OTX-API-KEY
	HTTP        *ingest.HTTPClient // nil: one with DefaultTimeout and no budget
	BodyRetries int                // default DefaultBodyRetries; negative: none
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(c.BaseURL, "/")
}

func (c *Client) http() *ingest.HTTPClient {
	if c.HTTP == nil {
		c.HTTP = &ingest.HTTPClient{Client: &http.Client{Timeout: DefaultTimeout}, UserAgent: userAgent}
	}
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

// Get fetches ref (see URL) and hands the body to fn as a stream. When the body
// is cut off (fn's error wraps a read error or the truncation DecodePage
// reports) the request is made again, up to BodyRetries times, so fn must be
// idempotent. Other errors of fn are returned as they are. Request errors are
// ingest.HTTPClient's (*ingest.HTTPError, ingest.ErrRateLimited,
// ingest.ErrBudget), a 401 or 403 with a hint about the key.
func (c *Client) Get(ctx context.Context, ref string, fn func(io.Reader) error) error {
	u, err := c.URL(ref)
	if err != nil {
		return err
	}
	retries := c.BodyRetries
	if retries == 0 {
		retries = DefaultBodyRetries
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("otx: %w", err)
		}
		req.Header.Set("X-OTX-API-KEY", c.APIKey)
		req.Header.Set("Accept", "application/json")
		resp, err := c.http().Do(ctx, req)
		if err != nil {
			var he *ingest.HTTPError
			if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
				return fmt.Errorf("otx: %w (check the OTX API key)", err)
			}
			return fmt.Errorf("otx: %w", err)
		}
		br := &bodyReader{r: resp.Body}
		err = fn(br)
		resp.Body.Close()
		if err != nil && (br.err != nil || errors.Is(err, errTruncated)) && ctx.Err() == nil && attempt < retries {
			continue
		}
		if err != nil && (br.err != nil || errors.Is(err, errTruncated)) {
			return fmt.Errorf("otx: GET %s: %w", u, err)
		}
		return err
	}
}
