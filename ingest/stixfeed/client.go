package stixfeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// MediaTypeTAXII is the TAXII 2.1 media type the client accepts.
const MediaTypeTAXII = "application/taxii+json;version=2.1"

// HeaderDateAddedLast is the TAXII 2.1 header with the date_added of the last
// object of a response (§3.4.2.2).
const HeaderDateAddedLast = "X-TAXII-Date-Added-Last"

// Client defaults.
const (
	DefaultTimeout     = 2 * time.Minute
	DefaultMaxRequests = 1000
	DefaultPageLimit   = 1000
	DefaultBodyRetries = 2
	userAgent          = "ctibroker-taxii-client/1"
)

// Client is a TAXII 2.1 client for one collection's objects endpoint. It sends
// Accept: application/taxii+json;version=2.1 and Basic or bearer credentials
// through an ingest.HTTPClient (timeouts, retries with backoff on network errors
// and 5xx, 429 and Retry-After honoured, the request budget), and fetches again
// a response whose body is cut off mid-stream.
type Client struct {
	HTTP        *ingest.HTTPClient // nil: one with DefaultTimeout and no budget
	Username    string             // HTTP Basic, with Password
	Password    string
	Token       string // Authorization: Bearer, when Username is empty
	BodyRetries int    // default DefaultBodyRetries; negative: none
}

func (c *Client) http() *ingest.HTTPClient {
	if c.HTTP == nil {
		c.HTTP = &ingest.HTTPClient{Client: &http.Client{Timeout: DefaultTimeout}, UserAgent: userAgent}
	}
	return c.HTTP
}

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

// Get fetches u and hands the response headers and body to fn. A body cut off
// mid-stream (fn's error wraps a read error or io.ErrUnexpectedEOF) is fetched
// again up to BodyRetries times, so fn must be idempotent; fn's other errors are
// returned as they are. Request errors are ingest.HTTPClient's
// (*ingest.HTTPError, ingest.ErrRateLimited, ingest.ErrBudget), a 401, 403 or 406
// with a hint.
func (c *Client) Get(ctx context.Context, u string, fn func(h http.Header, body io.Reader) error) error {
	retries := c.BodyRetries
	if retries == 0 {
		retries = DefaultBodyRetries
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("taxii: %w", err)
		}
		req.Header.Set("Accept", MediaTypeTAXII)
		switch {
		case c.Username != "":
			req.SetBasicAuth(c.Username, c.Password)
		case c.Token != "":
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		resp, err := c.http().Do(ctx, req)
		if err != nil {
			var he *ingest.HTTPError
			if errors.As(err, &he) {
				switch he.Status {
				case http.StatusUnauthorized, http.StatusForbidden:
					return fmt.Errorf("taxii: %w (check the feed's credentials)", err)
				case http.StatusNotAcceptable:
					return fmt.Errorf("taxii: %w (the server does not speak %s)", err, MediaTypeTAXII)
				}
			}
			return fmt.Errorf("taxii: %w", err)
		}
		br := &bodyReader{r: resp.Body}
		err = fn(resp.Header, br)
		resp.Body.Close()
		cut := err != nil && (br.err != nil || errors.Is(err, io.ErrUnexpectedEOF))
		if cut && ctx.Err() == nil && attempt < retries {
			continue
		}
		if cut {
			return fmt.Errorf("taxii: GET %s: %w", u, err)
		}
		return err
	}
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
