package otx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/otx"
	"github.com/ctibroker/ctibroker/storage"
)

const testKey = "otx-test-key-0123456789"

// otxServer replays OTX's /api/v1/pulses/subscribed: pages of pulses in the real
// response shape, next links absolute on the server's own URL (as OTX writes
// them), modified_since honoured. hook, when set, may answer a request itself
// (return true) to inject failures.
type otxServer struct {
	*httptest.Server
	mu       sync.Mutex
	pulses   []map[string]any // sorted by modified
	perPage  int
	requests []string // request URIs
	times    []time.Time
	hook     func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newOTXServer(t *testing.T, perPage int, pulses ...map[string]any) *otxServer {
	s := &otxServer{pulses: pulses, perPage: perPage}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *otxServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RequestURI())
	s.times = append(s.times, time.Now())
	n := len(s.requests)
	hook := s.hook
	s.mu.Unlock()
	if r.Header.Get("X-OTX-API-KEY") != testKey {
		http.Error(w, `{"detail": "Authentication credentials were not provided."}`, http.StatusForbidden)
		return
	}
	if hook != nil && hook(w, r, n) {
		return
	}
	if r.URL.Path != "/api/v1/pulses/subscribed" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.page(r))
}

// page renders the page a request asks for.
func (s *otxServer) page(r *http.Request) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	var sel []map[string]any
	for _, p := range s.pulses {
		if ms := q.Get("modified_since"); ms != "" {
			since, err := time.Parse(time.RFC3339Nano, ms)
			mod, _ := otx.ParseTime(p["modified"].(string))
			if err == nil && mod.Before(since) {
				continue
			}
		}
		sel = append(sel, p)
	}
	page := 1
	if v := q.Get("page"); v != "" {
		page, _ = strconv.Atoi(v)
	}
	lo, hi := (page-1)*s.perPage, page*s.perPage
	lo, hi = min(lo, len(sel)), min(hi, len(sel))
	var next any
	if hi < len(sel) {
		nq := r.URL.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next = s.URL + r.URL.Path + "?" + nq.Encode()
	}
	out, _ := json.Marshal(map[string]any{"results": sel[lo:hi], "count": len(sel), "prefetch_pulse_ids": false,
		"t": 0, "t2": 0.005, "t3": 2.79, "previous": nil, "next": next})
	return out
}

func (s *otxServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// pulse returns a synthetic pulse in OTX's shape with n IPv4 indicators.
func pulse(i int, modified string, n int) map[string]any {
	var inds []map[string]any
	for j := 0; j < n; j++ {
		inds = append(inds, map[string]any{"id": 9000000000 + i*1000 + j, "indicator": fmt.Sprintf("198.51.%d.%d", i%250, j%250),
			"type": "IPv4", "created": modified, "content": "", "title": "", "description": "", "expiration": nil,
			"is_active": 1, "role": nil})
	}
	return map[string]any{"id": fmt.Sprintf("65c0%020x", i), "name": fmt.Sprintf("Synthetic pulse %d", i), "description": "",
		"author_name": "ExampleAnalyst", "modified": modified, "created": modified, "revision": 1, "tlp": "green", "public": 1,
		"adversary": "", "indicators": inds, "tags": []string{"synthetic"}, "targeted_countries": []string{},
		"malware_families": []string{"ExampleBot"}, "attack_ids": []string{}, "references": []string{}, "industries": []string{},
		"extract_source": []string{}, "more_indicators": false}
}

// feedConfig builds a validated otx feed config pointing at base.
func feedConfig(t *testing.T, base string, extra string) ingest.FeedConfig {
	t.Helper()
	src := fmt.Sprintf("name: otx-test\nprovider: otx\ndefault_tlp: green\noptions:\n  api_key_env: OTX_TEST_KEY\n  base_url: %s\n  backoff: 1ms\n%s", base, extra)
	cfg := ingesttest.MustFeedConfig(t, src, map[string]string{"OTX_TEST_KEY": testKey})
	cfg.Attack = ingesttest.MustAttackSample(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runFeed(t *testing.T, store ingest.Store, cfg ingest.FeedConfig) (*ingest.Stats, error) {
	t.Helper()
	r := &ingest.Runner{Store: store, Identity: ingesttest.Identity}
	return r.Run(context.Background(), ingesttest.MustNewFeed(t, otx.New, cfg))
}

func reportCount(t *testing.T, s ingest.Store) int {
	t.Helper()
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"report"}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Records)
}

// TestPullPagesAndCursor pulls every page, restarts (store closed and reopened,
// a new Source), and the second run asks only for what changed since the newest
// pulse seen.
func TestPullPagesAndCursor(t *testing.T) {
	srv := newOTXServer(t, 2,
		pulse(1, "2025-01-01T00:00:00", 2), pulse(2, "2025-01-02T00:00:00", 2),
		pulse(3, "2025-01-03T00:00:00", 2), pulse(4, "2025-01-04T00:00:00.250000", 2), pulse(5, "2025-01-05T00:00:00", 1))
	dir := filepath.Join(t.TempDir(), "db")
	cfg := feedConfig(t, srv.URL, "  since: 2024-12-01T00:00:00Z\n")
	store := ingesttest.MustOpenStore(t, dir)
	st, err := runFeed(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 3 {
		t.Fatalf("requests %v, want 3 pages", reqs)
	}
	if !strings.Contains(reqs[0], "modified_since=2024-12-01T00%3A00%3A00Z") || !strings.Contains(reqs[2], "page=3") {
		t.Errorf("requests: %v", reqs)
	}
	if got := reportCount(t, store); got != 5 {
		t.Errorf("stored %d reports, want 5 (stats %v)", got, st)
	}
	state, err := store.FeedState(context.Background(), "otx-test")
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]string
	json.Unmarshal(state.Cursor, &c)
	if c["since"] != "2025-01-05T00:00:00Z" || c["next"] != "" {
		t.Errorf("cursor after a complete cycle: %s", state.Cursor)
	}
	store.Close()

	// Restart: a new pulse appears; the next run asks from the high watermark.
	srv.mu.Lock()
	srv.pulses = append(srv.pulses, pulse(6, "2025-01-06T00:00:00", 1))
	srv.mu.Unlock()
	store = ingesttest.MustOpenStore(t, dir)
	defer store.Close()
	st, err = runFeed(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs = srv.log()[3:]
	if len(reqs) != 1 || !strings.Contains(reqs[0], "modified_since=2025-01-05T00%3A00%3A00Z") {
		t.Fatalf("second run requests %v", reqs)
	}
	if got := reportCount(t, store); got != 6 {
		t.Errorf("stored %d reports, want 6", got)
	}
	// Pulse 5 is re-read (modified_since is inclusive) and changes nothing.
	if st.Changed != 0 {
		t.Errorf("second run: %v", st)
	}
}

// TestRealPagesReplayed serves the real OTX payloads (read from ../shared): the
// real absolute next link (on otx.alienvault.com) is followed on the configured
// base URL only, and the empty page ends the cycle.
func TestRealPagesReplayed(t *testing.T) {
	page1, err := os.ReadFile(ingesttest.MustShared(t, "testdata/providers/otx/pulses_subscribed_page1.json"))
	if err != nil {
		t.Fatal(err)
	}
	page2, err := os.ReadFile(ingesttest.MustShared(t, "testdata/providers/otx/pulses_subscribed_page2_empty.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newOTXServer(t, 1)
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Query().Get("page") == "2" {
			w.Write(page2)
		} else {
			w.Write(page1)
		}
		return true
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	st, err := runFeed(t, store, feedConfig(t, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 2 || reqs[1] != "/api/v1/pulses/subscribed?limit=1&modified_since=2022-01-01T23%3A01%3A01Z&page=2" {
		t.Fatalf("requests %v", reqs)
	}
	if reportCount(t, store) != 1 || st.Observations != 4 {
		t.Errorf("stats %v", st)
	}
}

func TestRetryAfter429(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"detail":"Request was throttled."}`, http.StatusTooManyRequests)
			return true
		}
		return false
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	if _, err := runFeed(t, store, feedConfig(t, srv.URL, "")); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.times) != 2 {
		t.Fatalf("%d requests, want 2", len(srv.times))
	}
	if d := srv.times[1].Sub(srv.times[0]); d < 900*time.Millisecond {
		t.Errorf("retried after %s, want the 1 s Retry-After honoured", d)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	_, err := runFeed(t, store, feedConfig(t, srv.URL, "  max_wait: 10s\n"))
	if !errors.Is(err, ingest.ErrRateLimited) || !strings.Contains(err.Error(), "Retry-After 1h0m0s") {
		t.Fatalf("got %v", err)
	}
	if n := len(srv.log()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRetry5xx(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 2 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return true
		}
		return false
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	if _, err := runFeed(t, store, feedConfig(t, srv.URL, "")); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.log()); n != 3 || reportCount(t, store) != 1 {
		t.Errorf("%d requests, %d reports; want 3 and 1", n, reportCount(t, store))
	}

	// Retries run out: the error names the status.
	srv2 := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1))
	srv2.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "down", http.StatusInternalServerError)
		return true
	}
	_, err := runFeed(t, store, feedConfig(t, srv2.URL, "  max_retries: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") || len(srv2.log()) != 3 {
		t.Errorf("got %v after %d requests", err, len(srv2.log()))
	}
}

func TestAuthHeader(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1))
	cfg := feedConfig(t, srv.URL, "")
	cfg.Getenv = func(string) string { return "wrong-key" }
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	_, err := runFeed(t, store, cfg)
	var he *ingest.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden || !strings.Contains(err.Error(), "check the OTX API key") {
		t.Fatalf("got %v", err)
	}
	if n := len(srv.log()); n != 1 {
		t.Errorf("a 403 was retried: %d requests", n)
	}
}

// TestCutOffMidStream: the first response promises more bytes than it sends;
// the page is fetched again and everything lands once.
func TestCutOffMidStream(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 3), pulse(2, "2025-01-02T00:00:00", 3))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n != 1 {
			return false
		}
		body := srv.page(r)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		return true // the handler returns: the connection closes short
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	st, err := runFeed(t, store, feedConfig(t, srv.URL, "  limit: 10\n  batch_size: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.log()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if reportCount(t, store) != 2 || st.Observations != 6 {
		t.Errorf("reports %d, stats %v", reportCount(t, store), st)
	}
}

// TestCrashBetweenFetchAndStore: the store fails on the second page; the rerun
// fetches that page again (its cursor was never saved) and stores it.
func TestCrashBetweenFetchAndStore(t *testing.T) {
	srv := newOTXServer(t, 1, pulse(1, "2025-01-01T00:00:00", 1), pulse(2, "2025-01-02T00:00:00", 1), pulse(3, "2025-01-03T00:00:00", 1))
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	fs := &ingesttest.FailingStore{Store: store, Err: errors.New("disk on fire")}
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fs.Fail = r.URL.Query().Get("page") == "2" && n == 2
		return false
	}
	cfg := feedConfig(t, srv.URL, "  limit: 1\n")
	if _, err := runFeed(t, fs, cfg); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v", err)
	}
	if reportCount(t, store) != 1 {
		t.Fatalf("after the crash %d reports, want 1", reportCount(t, store))
	}
	fs.Fail = false
	srv.hook = nil
	if _, err := runFeed(t, fs, cfg); err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 4 || !strings.Contains(reqs[2], "page=2") {
		t.Errorf("requests %v: want page 2 fetched again", reqs)
	}
	if reportCount(t, store) != 3 {
		t.Errorf("%d reports, want 3", reportCount(t, store))
	}
}

// TestRequestBudget: with a budget of 2 requests the pull stops after two pages
// with a warning; the next pull continues at page 3.
func TestRequestBudget(t *testing.T) {
	var ps []map[string]any
	for i := 1; i <= 5; i++ {
		ps = append(ps, pulse(i, fmt.Sprintf("2025-01-0%dT00:00:00", i), 1))
	}
	srv := newOTXServer(t, 1, ps...)
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	cfg := feedConfig(t, srv.URL, "  limit: 1\n  max_requests: 2\n")
	st, err := runFeed(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Warnings != 1 || reportCount(t, store) != 2 {
		t.Fatalf("stats %v, %d reports", st, reportCount(t, store))
	}
	if _, err := runFeed(t, store, cfg); err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 4 || !strings.Contains(reqs[2], "page=3") || reportCount(t, store) != 4 {
		t.Errorf("requests %v, %d reports", reqs, reportCount(t, store))
	}
}

func TestNewConfigErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		options, want string
		env           bool
	}{
		"no key":        {"api_key_env: OTX_NOPE", "OTX_NOPE is empty or unset", false},
		"bad endpoint":  {"api_key_env: K\n    endpoint: pulses", `endpoint: "pulses"`, true},
		"bad since":     {"api_key_env: K\n    since: yesterday", "since", true},
		"unknown key":   {"api_key_env: K\n    apikey: x", "apikey", true},
		"bad base url":  {"api_key_env: K\n    base_url: ftp://x", "base_url", true},
		"negative page": {"api_key_env: K\n    limit: -1", "negative", true},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg ingest.FeedConfig
			src := "name: x\nprovider: otx\noptions:\n    " + tt.options + "\n"
			if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.Getenv = func(string) string {
				if tt.env {
					return "k"
				}
				return ""
			}
			_, err := otx.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ingest.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
}

// TestExportEndpoint pulls /api/v1/indicators/export, replaying the real export
// page (../shared) and an empty second page: export records become
// detection-worthy observations; the next cycle asks from this pull's start.
func TestExportEndpoint(t *testing.T) {
	page1, err := os.ReadFile(ingesttest.MustShared(t, "testdata/providers/otx/indicators_export_page1.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newOTXServer(t, 1)
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/api/v1/indicators/export" {
			http.NotFound(w, r)
		} else if r.URL.Query().Get("page") == "2" {
			w.Write([]byte(`{"results": [], "count": 40359, "previous": null, "next": null}`))
		} else {
			w.Write(page1)
		}
		return true
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	start := time.Now().UTC()
	st, err := runFeed(t, store, feedConfig(t, srv.URL, "  endpoint: export\n  export_types: [hostname, IPv4]\n"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0], "/api/v1/indicators/export?") || !strings.Contains(reqs[0], "types=hostname%2CIPv4") {
		t.Fatalf("requests %v", reqs)
	}
	if st.Observations != 2 {
		t.Errorf("stats %v", st)
	}
	ind, err := store.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"indicator"}})
	if err != nil || len(ind.Records) != 2 {
		t.Fatalf("indicators: %v %v", ind, err)
	}
	state, _ := store.FeedState(context.Background(), "otx-test")
	var c map[string]string
	json.Unmarshal(state.Cursor, &c)
	since, err := time.Parse(time.RFC3339, c["since"])
	if err != nil || since.After(start) || start.Sub(since) > 2*time.Minute {
		t.Errorf("cursor %s, pull started %s", state.Cursor, start)
	}
}

// TestMoreIndicators: a pulse listing only part of its indicators
// (more_indicators) gets all of them from /api/v1/pulses/{id}/indicators,
// paged.
func TestMoreIndicators(t *testing.T) {
	p := pulse(1, "2025-01-01T00:00:00", 1)
	p["more_indicators"] = true
	all := pulse(1, "2025-01-01T00:00:00", 3)["indicators"].([]map[string]any)
	srv := newOTXServer(t, 10, p)
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/api/v1/pulses/"+p["id"].(string)+"/indicators" {
			return false
		}
		var body []byte
		if r.URL.Query().Get("page") == "2" {
			body, _ = json.Marshal(map[string]any{"results": all[2:], "count": 3, "next": nil, "previous": "x"})
		} else {
			body, _ = json.Marshal(map[string]any{"results": all[:2], "count": 3, "previous": nil,
				"next": srv.URL + r.URL.Path + "?limit=500&include_inactive=1&page=2"})
		}
		w.Write(body)
		return true
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	st, err := runFeed(t, store, feedConfig(t, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Observations != 3 || st.Warnings != 0 || len(srv.log()) != 3 {
		t.Errorf("stats %v after requests %v", st, srv.log())
	}
}

// TestStaleNextLink: a stored next link the server answers with 404 restarts
// the cycle from its modified_since, with a warning.
func TestStaleNextLink(t *testing.T) {
	srv := newOTXServer(t, 10, pulse(1, "2025-01-01T00:00:00", 1), pulse(2, "2025-01-02T00:00:00", 1))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Query().Get("page") == "9" {
			http.Error(w, `{"detail":"Invalid page."}`, http.StatusNotFound)
			return true
		}
		return false
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	stale := `{"since":"2024-12-01T00:00:00Z","next":"https://otx.alienvault.com/api/v1/pulses/subscribed?limit=10&modified_since=2024-12-01T00%3A00%3A00Z&page=9"}`
	if err := store.PutFeedState(context.Background(), &storage.FeedState{Feed: "otx-test", Cursor: []byte(stale)}); err != nil {
		t.Fatal(err)
	}
	st, err := runFeed(t, store, feedConfig(t, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.log()
	if len(reqs) != 2 || !strings.Contains(reqs[1], "modified_since=2024-12-01T00%3A00%3A00Z") || strings.Contains(reqs[1], "page=") {
		t.Fatalf("requests %v", reqs)
	}
	if st.Warnings != 1 || reportCount(t, store) != 2 {
		t.Errorf("stats %v, %d reports", st, reportCount(t, store))
	}
}
