package auth_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testTime} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a fake environment for Options.Getenv.
type env map[string]string

func (e env) Getenv(k string) string { return e[k] }

// MustNew builds an Authenticator or fails the test.
func MustNew(tb testing.TB, cfg auth.Config, opt auth.Options) *auth.Authenticator {
	tb.Helper()
	a, err := auth.New(cfg, opt)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return a
}

var nextAddr atomic.Uint32

// request returns a GET request carrying the Authorization header h (none
// when empty) from a new client address each time, so that failures in one
// test case never reach the failed-login limit of another.
func request(h string) *http.Request {
	n := nextAddr.Add(1)
	return requestFrom(h, fmt.Sprintf("10.%d.%d.%d:51234", byte(n>>16), byte(n>>8), byte(n)))
}

// requestFrom is request from remoteAddr.
func requestFrom(h, remoteAddr string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/taxii2/", nil)
	r.RemoteAddr = remoteAddr
	if h != "" {
		r.Header.Set("Authorization", h)
	}
	return r
}

func basic(scheme, user, pass string) string {
	return scheme + " " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func boolp(b bool) *bool { return &b }
