package ingest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// script is an httptest handler answering each request with the next step.
type script struct {
	mu     sync.Mutex
	steps  []func(w http.ResponseWriter, r *http.Request)
	bodies []string
	agents []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, _ := io.ReadAll(r.Body)
	s.bodies = append(s.bodies, string(b))
	s.agents = append(s.agents, r.Header.Get("User-Agent"))
	i := len(s.bodies) - 1
	s.mu.Unlock()
	if i >= len(s.steps) {
		http.Error(w, "script ran out", http.StatusTeapot)
		return
	}
	s.steps[i](w, r)
}

func status(code int, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	}
}

// hangup closes the connection without a response: a network error.
func hangup(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func newHTTPClient(waits *[]time.Duration) *ingest.HTTPClient {
	return &ingest.HTTPClient{UserAgent: "ctibroker-test", Sleep: func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return ctx.Err()
	}}
}

func TestHTTPClientRetries(t *testing.T) {
	for name, tt := range map[string]struct {
		steps     []func(http.ResponseWriter, *http.Request)
		wantCalls int
		wantErr   func(error) bool
		checkWait func([]time.Duration) bool
	}{
		"ok": {steps: []func(http.ResponseWriter, *http.Request){status(200)}, wantCalls: 1},
		"5xx then ok": {steps: []func(http.ResponseWriter, *http.Request){status(503), status(502), status(200)}, wantCalls: 3,
			checkWait: func(w []time.Duration) bool {
				return len(w) == 2 && w[0] >= 500*time.Millisecond && w[0] <= time.Second && w[1] >= time.Second && w[1] <= 2*time.Second
			}},
		"429 Retry-After seconds": {steps: []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "7"), status(200)}, wantCalls: 2,
			checkWait: func(w []time.Duration) bool { return len(w) == 1 && w[0] == 7*time.Second }},
		"503 Retry-After date": {steps: []func(http.ResponseWriter, *http.Request){status(503, "Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat)), status(200)}, wantCalls: 2,
			checkWait: func(w []time.Duration) bool { return len(w) == 1 && w[0] > 25*time.Second && w[0] <= 30*time.Second }},
		"network error then ok": {steps: []func(http.ResponseWriter, *http.Request){hangup, status(200)}, wantCalls: 2},
		"404 not retried": {steps: []func(http.ResponseWriter, *http.Request){status(404)}, wantCalls: 1,
			wantErr: func(err error) bool {
				var he *ingest.HTTPError
				return errors.As(err, &he) && he.Status == 404 && strings.Contains(err.Error(), "Not Found")
			}},
		"5xx until out of retries": {steps: []func(http.ResponseWriter, *http.Request){status(500), status(500), status(500), status(500), status(500)}, wantCalls: 5,
			wantErr: func(err error) bool { var he *ingest.HTTPError; return errors.As(err, &he) && he.Status == 500 }},
		"429 forever": {steps: []func(http.ResponseWriter, *http.Request){status(429), status(429), status(429), status(429), status(429)}, wantCalls: 5,
			wantErr: func(err error) bool { return errors.Is(err, ingest.ErrRateLimited) }},
		"Retry-After too long": {steps: []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "86400")}, wantCalls: 1,
			wantErr: func(err error) bool {
				return errors.Is(err, ingest.ErrRateLimited) && strings.Contains(err.Error(), "24h0m0s")
			}},
	} {
		t.Run(name, func(t *testing.T) {
			sc := &script{steps: tt.steps}
			srv := httptest.NewServer(sc)
			defer srv.Close()
			var waits []time.Duration
			c := newHTTPClient(&waits)
			req, _ := http.NewRequest("POST", srv.URL+"/api?limit=5&api_key=s3cret", strings.NewReader(`{"q":1}`))
			resp, err := c.Do(context.Background(), req)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
			} else {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("Do: got error %v", err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error leaks the API key: %v", err)
				}
			}
			if len(sc.bodies) != tt.wantCalls || c.Requests() != tt.wantCalls {
				t.Fatalf("server saw %d requests, client counted %d, want %d", len(sc.bodies), c.Requests(), tt.wantCalls)
			}
			for i, b := range sc.bodies {
				if b != `{"q":1}` || sc.agents[i] != "ctibroker-test" {
					t.Fatalf("attempt %d: body %q, agent %q", i, b, sc.agents[i])
				}
			}
			if tt.checkWait != nil && !tt.checkWait(waits) {
				t.Fatalf("waits %v", waits)
			}
		})
	}
}

func TestHTTPClientBudgetAndContext(t *testing.T) {
	sc := &script{steps: []func(http.ResponseWriter, *http.Request){status(200), status(500), status(200)}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	var waits []time.Duration
	c := newHTTPClient(&waits)
	c.MaxRequests = 2
	get := func(ctx context.Context) error {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := c.Do(ctx, req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := get(context.Background()); !errors.Is(err, ingest.ErrBudget) {
		t.Fatalf("second request (500, then no budget to retry): got %v, want ErrBudget", err)
	}
	if len(sc.bodies) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(sc.bodies))
	}

	// A cancelled context ends the wait between retries.
	c2 := &ingest.HTTPClient{MinBackoff: time.Hour}
	sc2 := &script{steps: []func(http.ResponseWriter, *http.Request){status(503), status(200)}}
	srv2 := httptest.NewServer(sc2)
	defer srv2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequest("GET", srv2.URL, nil)
	if _, err := c2.Do(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
}

func TestHTTPClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var waits []time.Duration
	c := newHTTPClient(&waits)
	c.MaxRetries = 2
	req, _ := http.NewRequest("GET", "http://"+addr+"/x?token=s3cret", nil)
	if _, err := c.Do(context.Background(), req); err == nil || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v", err)
	}
	if c.Requests() != 3 || len(waits) != 2 {
		t.Fatalf("requests %d, waits %v", c.Requests(), waits)
	}
}
