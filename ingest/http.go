package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrBudget is returned by HTTPClient.Do once the client has made MaxRequests
// requests.
var ErrBudget = errors.New("request budget exhausted")

// ErrRateLimited is wrapped by HTTPClient.Do's error when the provider asks to
// wait (429 or 503 with Retry-After) longer than MaxWait, or keeps refusing.
var ErrRateLimited = errors.New("rate limited by the provider")

// HTTPError is a response with a status the client does not retry (most 4xx), or
// the last response of a request whose retries ran out. Body holds up to 512
// bytes of the response body for the message.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

// Error formats the method, URL (credentials redacted), status and body excerpt.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, strings.TrimSpace(e.Body))
}

// HTTPClient makes a provider's HTTP requests the same way for every provider:
// a timeout, retries with exponential backoff and full jitter on network errors
// and 5xx, 429 and Retry-After honoured, and a request budget per client. The
// zero value is usable; it is safe for concurrent use.
type HTTPClient struct {
	Client      *http.Client  // nil: a client with a 60 s timeout
	MaxRetries  int           // retries after the first attempt; 0: 4, negative: none
	MinBackoff  time.Duration // first backoff; 0: 1 s
	MaxBackoff  time.Duration // backoff cap; 0: 60 s
	MaxWait     time.Duration // longest Retry-After honoured; 0: 5 min
	MaxRequests int           // request budget (attempts, retries included); 0: unlimited
	UserAgent   string        // sent when the request has none
	Logger      *slog.Logger  // nil: discard
	// Sleep waits d or until ctx ends; nil uses a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// NoWait is for on-demand lookups, which must not block on quota: a 429 is
	// returned at once as a *QuotaError (wrapping ErrRateLimited; Next from its
	// Retry-After, zero without one). Other failures are retried as usual.
	NoWait bool
	// Before, when set, is called before every attempt (retries included), e.g.
	// to spend a request of a provider's Budget; its error ends Do as is.
	Before func(ctx context.Context) error

	requests atomic.Int64
}

var defaultHTTPClient = &http.Client{Timeout: 60 * time.Second}

// Requests returns how many requests (attempts) the client has made.
func (c *HTTPClient) Requests() int { return int(c.requests.Load()) }

func (c *HTTPClient) sleep(ctx context.Context, d time.Duration) error {
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

// Do sends req (with ctx) and returns a response with a 2xx or 3xx status; the
// caller closes its body. It retries network errors, 5xx and 429, waiting for
// Retry-After (seconds or an HTTP date) when the response has one and for an
// exponential backoff with jitter otherwise. A request with a body is retried
// only when req.GetBody is set (http.NewRequest sets it for in-memory bodies).
// Errors: *HTTPError for other statuses and for the last failed response, an
// error wrapping ErrRateLimited (a *QuotaError when the provider asked to wait
// longer than MaxWait, or with NoWait), ErrBudget, or ctx's error.
func (c *HTTPClient) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	retries := c.MaxRetries
	if retries == 0 {
		retries = 4
	}
	if retries < 0 {
		retries = 0
	}
	minB, maxB, maxWait := c.MinBackoff, c.MaxBackoff, c.MaxWait
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = 60 * time.Second
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Minute
	}
	hc := c.Client
	if hc == nil {
		hc = defaultHTTPClient
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	url := redactURL(req.URL.String())
	for attempt := 0; ; attempt++ {
		if c.Before != nil {
			if err := c.Before(ctx); err != nil {
				return nil, err
			}
		}
		if c.MaxRequests > 0 && c.requests.Load() >= int64(c.MaxRequests) {
			return nil, fmt.Errorf("%s %s: %w (%d requests)", req.Method, url, ErrBudget, c.MaxRequests)
		}
		r := req.Clone(ctx)
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, fmt.Errorf("%s %s: cannot retry a request whose body cannot be replayed", req.Method, url)
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		if c.UserAgent != "" && r.Header.Get("User-Agent") == "" {
			r.Header.Set("User-Agent", c.UserAgent)
		}
		c.requests.Add(1)
		resp, err := hc.Do(r)
		var wait time.Duration
		var lastErr error
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ue *neturl.Error
			if errors.As(err, &ue) {
				err = ue.Err // its message repeats the URL, credentials included
			}
			lastErr = fmt.Errorf("%s %s: %w", req.Method, url, err)
		case resp.StatusCode < 400:
			return resp, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			lastErr = responseError(req.Method, url, resp)
			now := time.Now()
			ra, hasRA := retryAfter(resp.Header.Get("Retry-After"), now)
			if resp.StatusCode == http.StatusTooManyRequests && c.NoWait {
				q := &QuotaError{Err: fmt.Errorf("%w: %w", ErrRateLimited, lastErr)}
				if hasRA {
					q.Next = now.Add(ra)
				}
				return nil, q
			}
			if hasRA {
				if ra > maxWait {
					return nil, &QuotaError{Next: now.Add(ra),
						Err: fmt.Errorf("%w: %v; Retry-After %s exceeds the %s the client waits", ErrRateLimited, lastErr, ra, maxWait)}
				}
				wait = ra
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				lastErr = fmt.Errorf("%w: %w", ErrRateLimited, lastErr)
			}
		default:
			return nil, responseError(req.Method, url, resp)
		}
		if attempt >= retries {
			return nil, lastErr
		}
		if wait == 0 {
			backoff := min(maxB, minB<<attempt)
			wait = backoff/2 + rand.N(backoff/2+1) // jitter in [backoff/2, backoff]
		}
		log.Warn("retrying", "url", url, "attempt", attempt+1, "wait", wait, "err", lastErr)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// responseError reads a bit of the body for the message and closes it.
func responseError(method, url string, resp *http.Response) *HTTPError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	return &HTTPError{Method: method, URL: url, Status: resp.StatusCode, Body: string(b)}
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date (RFC 9110
// §10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// redactURL drops query parameters whose names suggest credentials from URLs
// that appear in errors and logs.
func redactURL(u string) string {
	base, query, ok := strings.Cut(u, "?")
	if !ok {
		return u
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		lk := strings.ToLower(k)
		if strings.Contains(lk, "key") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") ||
			strings.Contains(lk, "password") || lk == "auth" {
			parts[i] = k + "=REDACTED"
		}
	}
	return base + "?" + strings.Join(parts, "&")
}
