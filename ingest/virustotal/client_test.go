package virustotal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
)

// stream is a VirusTotal stand-in on loopback: an IoC stream served oldest first
// with a "date:…+" filter and offset cursors, lookups from files, and scripted
// failures for the next requests.
type stream struct {
	mu                sync.Mutex
	t                 testing.TB
	items             []json.RawMessage // sorted by notification_date
	dates             []int64
	colls             []json.RawMessage // collections, sorted by last_modification_date
	cdates            []int64
	lookups           map[string][]byte
	ingesttest.Script // "429:N", "429", "503", "cut", "badcursor", "401"
	srv               *httptest.Server
}

func newStream(t testing.TB) *stream {
	s := &stream{t: t, lookups: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// add appends stream objects made from the fixture's IoC stream page with
// distinct values, notification ids and the given dates.
func (s *stream) add(tb testing.TB, dates ...int64) {
	tb.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(ingesttest.MustRead(tb, "testdata/ioc_stream_page/input.json"), &page); err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range dates {
		n := len(s.items)
		o := page.Data[n%len(page.Data)]
		c := map[string]any{}
		for k, v := range o {
			c[k] = v
		}
		attrs := map[string]any{}
		for k, v := range o["attributes"].(map[string]any) {
			attrs[k] = v
		}
		ca := map[string]any{}
		for k, v := range o["context_attributes"].(map[string]any) {
			ca[k] = v
		}
		switch o["type"] {
		case "file":
			h := fmt.Sprintf("%064x", n+1)
			c["id"], attrs["sha256"], attrs["sha1"], attrs["md5"] = h, h, fmt.Sprintf("%040x", n+1), fmt.Sprintf("%032x", n+1)
		case "url":
			attrs["url"] = fmt.Sprintf("https://s%d.example/p", n)
		case "domain":
			c["id"] = fmt.Sprintf("d%d.example", n)
			delete(attrs, "last_dns_records") // the fixture's invalid records would add warnings
		case "ip_address":
			c["id"] = fmt.Sprintf("198.51.100.%d", n%250+1)
		}
		ca["notification_id"] = strconv.Itoa(1000 + n)
		ca["notification_date"] = d
		c["attributes"], c["context_attributes"] = attrs, ca
		b, err := json.Marshal(c)
		if err != nil {
			tb.Fatal(err)
		}
		s.items = append(s.items, b)
		s.dates = append(s.dates, d)
	}
	idx := make([]int, len(s.items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.dates[idx[a]] < s.dates[idx[b]] })
	items, dates := make([]json.RawMessage, len(idx)), make([]int64, len(idx))
	for i, j := range idx {
		items[i], dates[i] = s.items[j], s.dates[j]
	}
	s.items, s.dates = items, dates
}

// addCollections serves the collections of the synthetic collections page,
// with last_modification_date set from dates (one per collection, in order).
func (s *stream) addCollections(tb testing.TB, dates ...int64) {
	tb.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(ingesttest.MustRead(tb, "testdata/collections/input.json"), &page); err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range dates {
		c := page.Data[i%len(page.Data)]
		c["attributes"].(map[string]any)["last_modification_date"] = d
		b, _ := json.Marshal(c)
		s.colls = append(s.colls, b)
		s.cdates = append(s.cdates, d)
	}
}

func vtErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

func (s *stream) serve(w http.ResponseWriter, req *http.Request) {
	step := s.Next(req)
	s.mu.Lock()
	items, dates := s.items, s.dates
	if req.URL.Path == "/api/v3/collections" {
		items, dates = s.colls, s.cdates
	}
	s.mu.Unlock()
	if req.Header.Get("x-apikey") != "test-key" {
		vtErr(w, http.StatusUnauthorized, "WrongCredentialsError", "Wrong API key")
		return
	}
	switch {
	case strings.HasPrefix(step, "429"):
		if v, ok := strings.CutPrefix(step, "429:"); ok {
			w.Header().Set("Retry-After", v)
		}
		vtErr(w, http.StatusTooManyRequests, "QuotaExceededError", "Quota exceeded")
		return
	case step == "503":
		vtErr(w, http.StatusServiceUnavailable, "TransientError", "try again")
		return
	}
	var body []byte
	if req.URL.Path == "/api/v3/ioc_stream" || req.URL.Path == "/api/v3/collections" {
		q := req.URL.Query()
		key, order := "date:", "date+"
		if req.URL.Path == "/api/v3/collections" {
			key, order = "last_modification_date:", "last_modification_date+"
			if q.Get("relationships") != "attack_techniques,vulnerabilities" {
				s.t.Errorf("relationships %q", q.Get("relationships"))
			}
		}
		if q.Get("order") != order {
			s.t.Errorf("order %q, want %s", q.Get("order"), order)
		}
		start := 0
		if c := q.Get("cursor"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || step == "badcursor" {
				vtErr(w, http.StatusBadRequest, "InvalidArgumentError", "Wrong cursor")
				return
			}
			start = n
		} else if f := q.Get("filter"); strings.Contains(f, key) {
			i := strings.Index(f, key)
			ts, err := time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(strings.Fields(f[i+len(key):])[0], "+"))
			if err != nil {
				vtErr(w, http.StatusBadRequest, "InvalidArgumentError", "bad date filter")
				return
			}
			for start < len(dates) && dates[start] < ts.Unix() {
				start++
			}
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		end := min(start+limit, len(items))
		next := ""
		if end < len(items) {
			next = strconv.Itoa(end)
		}
		page := map[string]any{"data": items[start:end], "links": map[string]string{"self": req.URL.String()}}
		if next != "" {
			page["meta"] = map[string]string{"cursor": next}
		}
		body, _ = json.Marshal(page)
	} else {
		b, ok := s.lookups[req.URL.Path]
		if !ok {
			vtErr(w, http.StatusNotFound, "NotFoundError", "Resource not found")
			return
		}
		body = b
	}
	if step == "cut" {
		_ = ingesttest.CutResponse(w, body, len(body)/2)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// jittered reports whether got are the waits want, each allowing the jitter
// of ingest.HTTPClient's backoff (a wait in [w/2, w]); a Retry-After and the
// client's own body-retry backoff are waited exactly, which the range includes.
func jittered(got, want []time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] < want[i]/2 || got[i] > want[i] {
			return false
		}
	}
	return true
}

func testClient(s *stream, c *ingesttest.Clock) *virustotal.Client {
	return &virustotal.Client{BaseURL: s.srv.URL + "/api/v3", APIKey: "test-key", Backoff: time.Second, MaxRetries: 3,
		Now: c.Now, Sleep: c.Sleep}
}

func TestClientRetries(t *testing.T) {
	for name, tt := range map[string]struct {
		script []string
		waits  []time.Duration
		err    error
	}{
		"plain":                {nil, nil, nil},
		"429 Retry-After":      {[]string{"429:9"}, []time.Duration{9 * time.Second}, nil},
		"429 without header":   {[]string{"429", "429"}, []time.Duration{time.Second, 2 * time.Second}, nil},
		"429 all the time":     {[]string{"429", "429", "429", "429"}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, virustotal.ErrQuotaExhausted},
		"Retry-After too long": {[]string{"429:3600"}, nil, virustotal.ErrQuotaExhausted},
		"5xx backoff":          {[]string{"503", "503"}, []time.Duration{time.Second, 2 * time.Second}, nil},
		"cut off mid-body":     {[]string{"cut"}, []time.Duration{time.Second}, nil},
		// Body retries (backoff 1s, 2s) count apart from the HTTP client's status retries (1s).
		"cut off and 5xx twice": {[]string{"cut", "503", "cut"}, []time.Duration{time.Second, time.Second, 2 * time.Second}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := newStream(t)
			s.add(t, 100, 200, 300)
			s.Fail(tt.script...)
			c := ingesttest.NewClock(ingesttest.Time)
			cl := testClient(s, c)
			p, err := cl.IoCStream(context.Background(), virustotal.StreamQuery{Order: "date+"})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
			} else if err != nil || len(p.Data) != 3 || p.Cursor != "" {
				t.Fatalf("page %+v, %v", p, err)
			}
			if !jittered(c.Sleeps(), tt.waits) {
				t.Errorf("waits %v, want %v (backoffs with ingest.HTTPClient's jitter: each in [w/2, w])", c.Sleeps(), tt.waits)
			}
			if _, used := cl.Usage(); used != len(s.Requests()) {
				t.Errorf("usage %d, %d requests made", used, len(s.Requests()))
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	s := newStream(t)
	c := ingesttest.NewClock(ingesttest.Time)
	cl := testClient(s, c)
	cl.APIKey = "wrong"
	if _, err := cl.IoCStream(context.Background(), virustotal.StreamQuery{Order: "date+"}); !errors.Is(err, virustotal.ErrUnauthorized) || len(s.Requests()) != 1 {
		t.Fatalf("wrong key: %v after %d requests", err, len(s.Requests()))
	}
	cl = testClient(s, c)
	if _, err := cl.File(context.Background(), "0000"); !errors.Is(err, virustotal.ErrNotFound) {
		t.Fatalf("unknown file: %v", err)
	}
	var se *virustotal.StatusError
	if _, err := cl.IoCStream(context.Background(), virustotal.StreamQuery{Cursor: "not-a-cursor", Order: "date+"}); !errors.As(err, &se) || se.Status != 400 || se.Code != "InvalidArgumentError" {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestClientBudgets: the per-minute budget waits for the minute to pass; the
// daily budget refuses the request without sending it, and resets the next day.
func TestClientBudgets(t *testing.T) {
	s := newStream(t)
	s.add(t, 1)
	c := ingesttest.NewClock(time.Date(2026, 3, 14, 23, 58, 30, 0, time.UTC))
	cl := testClient(s, c)
	cl.PerMinute, cl.PerDay = 2, 5
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := cl.IoCStream(ctx, virustotal.StreamQuery{Order: "date+"}); err != nil {
			t.Fatal(err)
		}
	}
	if w := c.Sleeps(); len(w) != 2 || w[0] != time.Minute || w[1] != time.Minute {
		t.Errorf("per-minute waits %v, want two of 1m", w)
	}
	// 23:58:30 + 2 minutes: 00:00:30 the next day, a new budget.
	if day, used := cl.Usage(); day != "2026-03-15" || used != 1 {
		t.Errorf("usage %s %d, want 2026-03-15 1", day, used)
	}
	if left, ok := cl.Remaining(); !ok || left != 4 {
		t.Errorf("remaining %d %v, want 4", left, ok)
	}
	cl.SetUsage("2026-03-15", 5)
	if left, _ := cl.Remaining(); left != 0 {
		t.Errorf("remaining %d after the budget, want 0", left)
	}
	before := len(s.Requests())
	if _, err := cl.IoCStream(ctx, virustotal.StreamQuery{Order: "date+"}); !errors.Is(err, virustotal.ErrQuotaExhausted) || len(s.Requests()) != before {
		t.Fatalf("spent daily budget: %v, %d requests sent", err, len(s.Requests())-before)
	}
}

// TestClientLookups serves the real OpenCTI/VirusTotal payloads at the API paths.
func TestClientLookups(t *testing.T) {
	dir := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/virustotal/file_report.json"))
	s := newStream(t)
	u := "http://soclosebutyetqq.com/69.exe"
	s.lookups["/api/v3/files/4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b"] = ingesttest.MustRead(t, filepath.Join(dir, "file_report.json"))
	s.lookups["/api/v3/ip_addresses/138.128.150.133"] = ingesttest.MustRead(t, filepath.Join(dir, "ip_address_report.json"))
	s.lookups["/api/v3/urls/aHR0cDovL3NvY2xvc2VidXR5ZXRxcS5jb20vNjkuZXhl"] = ingesttest.MustRead(t, filepath.Join(dir, "url_report.json"))
	var wrapped struct {
		Response json.RawMessage `json:"response"`
	}
	_ = json.Unmarshal(ingesttest.MustRead(t, filepath.Join(dir, "gti_collection_malware_family_debugwrapped.json")), &wrapped)
	s.lookups["/api/v3/collections/malware--5f707471-9b6d-6d47-bf1e-31ccb6f3ffb6"] = []byte(`{"data":` + string(wrapped.Response) + `}`)
	_ = json.Unmarshal(ingesttest.MustRead(t, filepath.Join(dir, "gti_attack_technique_T1482_debugwrapped.json")), &wrapped)
	s.lookups["/api/v3/attack_techniques/T1482"] = []byte(`{"data":` + string(wrapped.Response) + `}`)
	cl := testClient(s, ingesttest.NewClock(ingesttest.Time))
	ctx := context.Background()
	for name, call := range map[string]func() (json.RawMessage, error){
		"file": func() (json.RawMessage, error) {
			return cl.File(ctx, "4BC00F7D638E042DA764E8648C03C0DB46700599DD4F08D117E3E9E8B538519B")
		},
		"ip":  func() (json.RawMessage, error) { return cl.IP(ctx, "138.128.150.133") },
		"url": func() (json.RawMessage, error) { return cl.URL(ctx, u) },
		"collection": func() (json.RawMessage, error) {
			return cl.Collection(ctx, "malware--5f707471-9b6d-6d47-bf1e-31ccb6f3ffb6")
		},
		"technique": func() (json.RawMessage, error) { return cl.AttackTechnique(ctx, "T1482") },
	} {
		raw, err := call()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var env struct {
			Data struct{ ID, Type string } `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Data.ID == "" {
			t.Errorf("%s: %v %s", name, err, raw[:min(len(raw), 80)])
		}
	}
	if _, err := cl.Domain(ctx, "unknown.example"); !errors.Is(err, virustotal.ErrNotFound) {
		t.Errorf("unknown domain: %v", err)
	}
}
