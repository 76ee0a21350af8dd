package taxii

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Keys of per-request values in the echo context.
const (
	ctxRequestIDKey = "ctibroker.request_id"
	ctxConsumerKey  = "ctibroker.consumer"
	ctxErrorKey     = "ctibroker.error"
	ctxStateKey     = "ctibroker.state"
	ctxClientIPKey  = "ctibroker.client_ip"
)

// HeaderRequestID carries the request id in responses (and, from a trusted proxy, in requests).
const HeaderRequestID = "X-Request-Id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID returns the request's id (set by the access middleware).
func requestID(c echo.Context) string {
	if v, ok := c.Get(ctxRequestIDKey).(string); ok {
		return v
	}
	return ""
}

// consumer returns the request's consumer (never nil inside TAXII routes).
func consumer(c echo.Context) *auth.Consumer {
	if v, ok := c.Get(ctxConsumerKey).(*auth.Consumer); ok {
		return v
	}
	return auth.Anonymous()
}

// cfgState returns the configuration in force for this request (one per request,
// so a Reload never changes it half-way).
func cfgState(c echo.Context) *state { return c.Get(ctxStateKey).(*state) }

// collapseSlashes turns "//" into "/" in the path (MISP builds baseurl + "/" +
// api_root, so a base URL ending in "/" yields "//intel/").
func collapseSlashes(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if strings.Contains(r.URL.Path, "//") {
			p := r.URL.Path
			for strings.Contains(p, "//") {
				p = strings.ReplaceAll(p, "//", "/")
			}
			r.URL.Path = p
			r.URL.RawPath = ""
		}
		return next(c)
	}
}

// access assigns the request id, snapshots the configuration, and after the
// request writes the access log line and the request metrics.
func (s *Server) access(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		st := s.state.Load()
		c.Set(ctxStateKey, st)
		r := c.Request()
		remote := remoteAddr(r.RemoteAddr)
		client := remote
		rid := ""
		if st.trusted(remote) {
			client = forwardedFor(r.Header.Get("X-Forwarded-For"), remote, st)
			if v := r.Header.Get(HeaderRequestID); requestIDRE.MatchString(v) {
				rid = v
			}
		}
		if rid == "" {
			rid = s.ridPrefix + "-" + strconv.FormatUint(s.ridSeq.Add(1), 36)
		}
		c.Set(ctxRequestIDKey, rid)
		c.Set(ctxClientIPKey, client)
		c.Response().Header().Set(HeaderRequestID, rid)
		err := s.recoverPanic(next, c)
		if err != nil {
			s.echo.HTTPErrorHandler(err, c)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		dur := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(route, r.Method).Observe(dur.Seconds())
		attrs := []slog.Attr{
			slog.String("request_id", rid),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", dur),
			slog.String("remote", client.String()),
		}
		if cons, ok := c.Get(ctxConsumerKey).(*auth.Consumer); ok {
			attrs = append(attrs, slog.String("consumer", cons.Name))
		}
		if e, ok := c.Get(ctxErrorKey).(error); ok && status < 500 {
			attrs = append(attrs, slog.String("error", e.Error()))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		return nil
	}
}

// recoverPanic runs next and turns a panic into an error (a TAXII 500 whose
// error_id is the request id; the panic value and stack are logged once).
func (s *Server) recoverPanic(next echo.HandlerFunc, c echo.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return next(c)
}

// forwardedFor returns the client address from X-Forwarded-For: the rightmost
// address that is not a trusted proxy.
func forwardedFor(h string, remote netip.Addr, st *state) netip.Addr {
	if h == "" {
		return remote
	}
	parts := strings.Split(h, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			return remote
		}
		a = a.Unmap()
		if !st.trusted(a) || i == 0 {
			return a
		}
	}
	return remote
}

// authenticate resolves the consumer: no credentials → anonymous, credentials
// that do not verify → 401, then applies the rate limit.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cons := auth.Anonymous()
		if a := s.auth.Load().a; a != nil {
			got, err := a.Authenticate(c.Request())
			switch {
			case err == nil && got != nil:
				cons = got
			case err == nil, isNoCredentials(err):
			case errors.Is(err, auth.ErrTooManyAttempts):
				retry := 60
				if b, ok := a.(interface{ BlockedFor(string) time.Duration }); ok {
					retry = max(1, int(math.Ceil(b.BlockedFor(s.ClientAddr(c.Request())).Seconds())))
				}
				c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
				return fmt.Errorf("%v; retry after %d s: %w", err, retry, ErrTooManyRequests)
			default:
				return fmt.Errorf("%v: %w", err, ErrUnauthorized)
			}
		}
		c.Set(ctxConsumerKey, cons)
		c.SetRequest(c.Request().WithContext(auth.NewContext(c.Request().Context(), cons)))
		key := "consumer:" + cons.Name
		if cons.Anonymous {
			ip, _ := c.Get(ctxClientIPKey).(netip.Addr)
			key = "address:" + ip.String()
		}
		if ok, retry := cfgState(c).limiter.allow(key); !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
			return fmt.Errorf("more than %g requests per second; retry after %d s: %w",
				cfgState(c).cfg.RateLimit.RequestsPerSecond, retry, ErrTooManyRequests)
		}
		return next(c)
	}
}

// ClientAddr returns the client address of r: the peer, or for a trusted
// proxy the rightmost untrusted X-Forwarded-For address. Pass it to
// auth.Options.ClientAddr so failed logins are limited per real client.
func (s *Server) ClientAddr(r *http.Request) string {
	st := s.state.Load()
	remote := remoteAddr(r.RemoteAddr)
	if st.trusted(remote) {
		return forwardedFor(r.Header.Get("X-Forwarded-For"), remote, st).String()
	}
	return remote.String()
}

// isNoCredentials reports whether an Authenticate error means "no credentials sent".
func isNoCredentials(err error) bool {
	return errors.Is(err, auth.ErrNoCredentials)
}

// negotiate refuses requests whose Accept offers no TAXII 2.1 type (§3.1: 406).
// stix marks endpoints returning STIX content (which also accept
// application/stix+json;version=2.1).
func negotiate(stix bool, h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !acceptable(c.Request().Header.Get(echo.HeaderAccept), stix) {
			return fmt.Errorf("Accept %q: %w", c.Request().Header.Get(echo.HeaderAccept), ErrNotAcceptable)
		}
		return h(c)
	}
}
