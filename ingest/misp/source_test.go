package misp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
)

const testKey = "0123456789abcdefghij0123456789abcdefghij"

// event returns a synthetic event in MISP's shape: a to_ids ip-dst and a
// non-to_ids domain; deleted marks the ip-dst deleted.
func event(i int, ts int64, deleted bool) map[string]any {
	return map[string]any{
		"id": strconv.Itoa(100 + i), "uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "info": fmt.Sprintf("Synthetic event %d", i),
		"date": time.Unix(ts, 0).UTC().Format("2006-01-02"), "timestamp": strconv.FormatInt(ts, 10),
		"publish_timestamp": strconv.FormatInt(ts, 10), "published": true, "threat_level_id": "2", "analysis": "2", "distribution": "3",
		"Orgc": map[string]any{"id": "1", "name": "ExampleCERT", "uuid": "5f6e4a1b-3c2d-4e5f-8a9b-0c1d2e3f4a5b"},
		"Tag":  []map[string]any{{"name": "tlp:green", "colour": "#339900", "exportable": true}},
		"Attribute": []map[string]any{
			{"uuid": fmt.Sprintf("10000000-0000-4000-8000-%012d", i), "type": "ip-dst", "category": "Network activity",
				"value": fmt.Sprintf("198.51.100.%d", i), "to_ids": true, "deleted": deleted, "timestamp": strconv.FormatInt(ts, 10)},
			{"uuid": fmt.Sprintf("20000000-0000-4000-8000-%012d", i), "type": "domain", "category": "Network activity",
				"value": fmt.Sprintf("host-%d.example.com", i), "to_ids": false, "timestamp": strconv.FormatInt(ts, 10)},
		},
		"Object": []any{}, "Galaxy": []any{},
	}
}

// restServer replays MISP's POST /events/restSearch: raw Authorization key,
// JSON body with timestamp (inclusive), limit, page; events oldest first;
// {"response": [{"Event": ...}]}. hook may answer a request itself.
type restServer struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	bodies []map[string]any
	hook   func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newRESTServer(t *testing.T, events ...map[string]any) *restServer {
	s := &restServer{events: events}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *restServer) set(i int, ev map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[i] = ev
}

func (s *restServer) log() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

func (s *restServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != testKey || r.Header.Get("Accept") != "application/json" {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"name":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","message":"Authentication failed.","url":"/events/restSearch"}`)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/events/restSearch" {
		http.NotFound(w, r)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	n := len(s.bodies)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil && hook(w, r, n) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.page(body))
}

func (s *restServer) page(body map[string]any) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	since, _ := strconv.ParseInt(fmt.Sprint(body["timestamp"]), 10, 64)
	var sel []map[string]any
	for _, ev := range s.events {
		ts, _ := strconv.ParseInt(ev["timestamp"].(string), 10, 64)
		if ts >= since {
			sel = append(sel, ev)
		}
	}
	sort.SliceStable(sel, func(i, j int) bool { return sel[i]["timestamp"].(string) < sel[j]["timestamp"].(string) })
	limit, page := int(body["limit"].(float64)), int(body["page"].(float64))
	lo, hi := min((page-1)*limit, len(sel)), min(page*limit, len(sel))
	resp := []map[string]any{}
	for _, ev := range sel[lo:hi] {
		resp = append(resp, map[string]any{"Event": ev})
	}
	b, _ := json.Marshal(map[string]any{"response": resp})
	return b
}

// feedConfig builds a validated misp feed config.
func feedConfig(t *testing.T, options string) ingest.FeedConfig {
	t.Helper()
	src := "name: misp-test\nprovider: misp\ndefault_tlp: amber\nshare: community\noptions:\n" + options
	cfg := ingesttest.MustFeedConfig(t, src, map[string]string{"MISP_TEST_KEY": testKey})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// sleeps records the waits of a source's HTTP client instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

// newFeed builds the feed through the registry (misp.New) with the client's
// sleeps recorded.
func newFeed(t *testing.T, cfg ingest.FeedConfig, sl *sleeps) *ingest.Feed {
	t.Helper()
	f := ingesttest.MustNewFeed(t, misp.New, cfg)
	src := f.Source.(*misp.Source)
	src.Converter.Identity = ingesttest.Identity
	if sl != nil {
		src.Client.HTTP.Sleep = sl.sleep
	}
	return f
}

func run(t *testing.T, store ingest.Store, f *ingest.Feed) *ingest.Stats {
	t.Helper()
	r := &ingest.Runner{Store: store, Identity: ingesttest.Identity}
	st, err := r.Run(context.Background(), f)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return st
}

func count(t *testing.T, s ingest.Store, typ string) int {
	t.Helper()
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{typ}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Records)
}

// withdrawn reports whether the pool's last version of the indicator of an
// IPv4 value carries valid_until.
func withdrawn(t *testing.T, s ingest.Store, ip string) bool {
	t.Helper()
	v, err := ingest.Normalize("ipv4-addr", ip)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.GetObject(context.Background(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{Versions: []string{storage.VersionLast}})
	if err != nil {
		t.Fatalf("indicator of %s: %v", ip, err)
	}
	var ind struct {
		ValidUntil string `json:"valid_until"`
	}
	if err := json.Unmarshal(rec.Records[len(rec.Records)-1].JSON, &ind); err != nil {
		t.Fatal(err)
	}
	return ind.ValidUntil != ""
}

// TestRESTPagesAndCursor pages restSearch to the end, restarts on the same bolt
// store, and the second run asks only for events changed since the newest one
// seen; an attribute deleted meanwhile withdraws its indicator.
func TestRESTPagesAndCursor(t *testing.T) {
	base := int64(1740000000)
	srv := newRESTServer(t, event(1, base, false), event(2, base+10, false), event(3, base+20, false),
		event(4, base+30, false), event(5, base+40, false))
	cfg := feedConfig(t, fmt.Sprintf("  base_url: %s\n  api_key_env: MISP_TEST_KEY\n  limit: 2\n  backoff: 1ms\n  since: \"%d\"\n", srv.URL, base-100))
	dir := filepath.Join(t.TempDir(), "db")
	store := ingesttest.MustOpenStore(t, dir)
	st := run(t, store, newFeed(t, cfg, nil))
	bodies := srv.log()
	if len(bodies) != 3 {
		t.Fatalf("requests %d, want 3 pages (2+2+1)", len(bodies))
	}
	for i, b := range bodies {
		if b["page"].(float64) != float64(i+1) || b["timestamp"] != strconv.FormatInt(base-100, 10) || b["returnFormat"] != "json" {
			t.Errorf("request %d body %v", i, b)
		}
		if del, _ := json.Marshal(b["deleted"]); string(del) != "[0,1]" {
			t.Errorf("request %d asks deleted %s, want [0,1] (deleted attributes must come back)", i, del)
		}
	}
	if got := count(t, store, "report"); got != 5 {
		t.Fatalf("reports %d, want 5", got)
	}
	if got := count(t, store, "indicator"); got != 5 {
		t.Fatalf("indicators %d, want 5 (the to_ids ip-dst of each event)", got)
	}
	if st.Observations != 10 {
		t.Errorf("observations %d, want 10", st.Observations)
	}
	if withdrawn(t, store, "198.51.100.2") {
		t.Fatal("198.51.100.2 withdrawn before its deletion")
	}
	// Every object a report references is in the pool: the ids the converter
	// predicts for the Runner's indicators and SCOs are the ones it stores.
	page, err := store.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"report"}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range page.Records {
		var rep struct {
			ObjectRefs []string `json:"object_refs"`
		}
		if err := json.Unmarshal(rec.JSON, &rep); err != nil {
			t.Fatal(err)
		}
		for _, id := range rep.ObjectRefs {
			if _, err := store.GetObject(context.Background(), ingest.DefaultPool, id, storage.Filter{}); err != nil {
				t.Errorf("report %s references %s: %v", rec.ID, id, err)
			}
		}
		if len(rep.ObjectRefs) != 3 { // indicator and SCO of the ip, SCO of the domain
			t.Errorf("report %s refs %v, want 3", rec.ID, rep.ObjectRefs)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// The ip-dst of event 2 is deleted in MISP; the event's timestamp moves on.
	srv.set(1, event(2, base+50, true))
	store = ingesttest.MustOpenStore(t, dir)
	defer store.Close()
	st = run(t, store, newFeed(t, cfg, nil))
	bodies = srv.log()[3:]
	// Events 5 (base+40, re-read: the filter is inclusive) and 2 (base+50) fill the
	// first page of 2; the second page is empty ({"response": []}) and ends the cycle.
	if len(bodies) != 2 {
		t.Fatalf("second run requests %v, want two pages", bodies)
	}
	for i, b := range bodies {
		if b["timestamp"] != strconv.FormatInt(base+40, 10) || b["page"].(float64) != float64(i+1) {
			t.Errorf("second run request %d: %v, want page %d from the newest timestamp seen (%d)", i, b, i+1, base+40)
		}
	}
	if !withdrawn(t, store, "198.51.100.2") {
		t.Error("the deleted attribute's indicator is not withdrawn")
	}
	if withdrawn(t, store, "198.51.100.5") {
		t.Error("an untouched value was withdrawn")
	}
	if st.Revoked == 0 {
		t.Errorf("stats %v: nothing revoked", st)
	}
}

// TestRESTRetries: 429 with Retry-After is waited out as told, a 502 is
// retried, a response cut off mid-body is fetched again, and the pull ends with
// every event stored.
func TestRESTRetries(t *testing.T) {
	base := int64(1740000000)
	srv := newRESTServer(t, event(1, base, false), event(2, base+10, false))
	srv.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		case 2:
			w.WriteHeader(http.StatusBadGateway)
			return true
		case 3:
			full := srv.page(map[string]any{"limit": float64(50), "page": float64(1)})
			w.Header().Set("Content-Length", strconv.Itoa(len(full)))
			w.Write(full[:len(full)/2])
			return true // the handler returns: the client sees the body end early
		}
		return false
	}
	cfg := feedConfig(t, fmt.Sprintf("  base_url: %s\n  api_key_env: MISP_TEST_KEY\n  backoff: 1ms\n", srv.URL))
	sl := &sleeps{}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	run(t, store, newFeed(t, cfg, sl))
	if n := len(srv.log()); n != 4 {
		t.Errorf("requests %d, want 4 (429, 502, cut off, complete)", n)
	}
	if len(sl.d) < 1 || sl.d[0] != 7*time.Second {
		t.Errorf("waits %v, want 7s first (Retry-After)", sl.d)
	}
	if got := count(t, store, "report"); got != 2 {
		t.Errorf("reports %d, want 2", got)
	}
}

// TestRESTAuthError: a rejected key is an error naming the status, and the
// key travels as the raw Authorization header (the server checks it).
func TestRESTAuthError(t *testing.T) {
	srv := newRESTServer(t, event(1, 1740000000, false))
	cfg := feedConfig(t, fmt.Sprintf("  base_url: %s\n  api_key_env: MISP_TEST_KEY\n  backoff: 1ms\n", srv.URL))
	f := newFeed(t, cfg, nil)
	f.Source.(*misp.Source).Client.APIKey = "wrong"
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	_, err := (&ingest.Runner{Store: store}).Run(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err %v, want HTTP 403", err)
	}
}
