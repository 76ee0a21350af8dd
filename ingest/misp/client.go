package misp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
)

// userAgent is sent with every request.
const userAgent = "ctibroker-misp/1"

// Client talks to a MISP instance's REST API or fetches a MISP feed. It is the
// only file doing HTTP in this package; retries (network errors, 5xx), 429 and
// Retry-After, timeouts and the request budget are ingest.HTTPClient's.
type Client struct {
	// BaseURL is the MISP instance (https://misp.example.org) or the feed's
	// directory URL (https://www.circl.lu/doc/misp/feed-osint).
	BaseURL string
	// APIKey is MISP's automation key, sent raw as "Authorization: <key>" (no
	// scheme); empty sends none (public feeds).
	APIKey string
	HTTP   *ingest.HTTPClient
}

func (c *Client) endpoint(path string) (string, error) {
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/") + "/" + strings.TrimLeft(path, "/"))
	if err != nil {
		return "", fmt.Errorf("misp: URL %q: %w", path, err)
	}
	return u.String(), nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, header http.Header) (*http.Response, error) {
	u, err := c.endpoint(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", c.APIKey)
	}
	req.Header.Set("User-Agent", userAgent)
	h := c.HTTP
	if h == nil {
		h = &ingest.HTTPClient{}
	}
	return h.Do(ctx, req)
}

// RestSearch POSTs body to /events/restSearch and hands the response body to
// read, which must consume it before returning.
func (c *Client) RestSearch(ctx context.Context, body []byte, read func(io.Reader) error) error {
	resp, err := c.do(ctx, http.MethodPost, "events/restSearch", body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("misp: POST events/restSearch: unexpected HTTP %d", resp.StatusCode)
	}
	return read(resp.Body)
}

// Get fetches path relative to the feed URL. With etag set it sends
// If-None-Match and reports notModified on 304. read gets the body of a 200
// response; the returned tag is the response's ETag.
func (c *Client) Get(ctx context.Context, path, etag string, read func(io.Reader) error) (tag string, notModified bool, err error) {
	h := http.Header{}
	if etag != "" {
		h.Set("If-None-Match", etag)
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, h)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("ETag"), false, read(resp.Body)
	case http.StatusNotModified:
		return etag, true, nil
	}
	return "", false, fmt.Errorf("misp: GET %s: unexpected HTTP %d (a MISP feed answers 200)", path, resp.StatusCode)
}
