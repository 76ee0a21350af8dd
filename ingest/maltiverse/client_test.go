package maltiverse_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
)

// replay is a Maltiverse stand-in on loopback: it serves a collection download
// and lookups from files, and can be told to fail the next requests.
type replay struct {
	mu                sync.Mutex
	t                 testing.TB
	download          []byte            // the collection download body
	lookups           map[string][]byte // path → body
	ingesttest.Script                   // what the next requests get: "429:N", "429", "503", "cut", "401"
	srv               *httptest.Server
}

func newReplay(t testing.TB, download []byte) *replay {
	r := &replay{t: t, download: download, lookups: map[string][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	step := r.Next(req)
	if req.Header.Get("Authorization") != "Bearer test-key" {
		http.Error(w, `{"status":"fail","message":"Invalid token"}`, http.StatusUnauthorized)
		return
	}
	var body []byte
	switch {
	case strings.HasSuffix(req.URL.Path, "/download"):
		body = r.download
	default:
		b, ok := r.lookups[req.URL.Path]
		if !ok {
			http.Error(w, `{"status":"fail","message":"Not found"}`, http.StatusNotFound)
			return
		}
		body = b
	}
	switch {
	case strings.HasPrefix(step, "429"):
		if s, ok := strings.CutPrefix(step, "429:"); ok {
			w.Header().Set("Retry-After", s)
		}
		http.Error(w, `{"status":"fail","message":"Too many requests"}`, http.StatusTooManyRequests)
		return
	case step == "503" || step == "500":
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	case step == "cut":
		// Promise the whole body, send a little over half, drop the connection.
		w.Header().Set("Content-Type", "application/json")
		if err := ingesttest.CutResponse(w, body, len(body)*6/10); errors.Is(err, ingesttest.ErrNoHijack) {
			r.t.Error("cannot hijack")
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func testClient(r *replay, sl *ingesttest.Clock) *maltiverse.Client {
	return &maltiverse.Client{BaseURL: r.srv.URL, APIKey: "test-key", Backoff: time.Second, MaxRetries: 3, Sleep: sl.Sleep}
}

// jittered reports whether got are the waits want, each allowing the jitter
// of ingest.HTTPClient's backoff (a wait in [w/2, w]); a Retry-After is
// waited exactly, which the range includes.
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

func countElements(t testing.TB, body []byte) int {
	var docs []json.RawMessage
	if err := json.Unmarshal(body, &docs); err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

func TestClientDownload(t *testing.T) {
	body := ingesttest.MustRead(t, "testdata/collection/input.json")
	n := countElements(t, body)
	for name, tt := range map[string]struct {
		script   []string
		wantSeen int             // elements fn sees (a cut-off answer repeats some)
		wantWait []time.Duration // the sleeps asked for
	}{
		"to the end":           {nil, n, nil},
		"429 with Retry-After": {[]string{"429:7"}, n, []time.Duration{7 * time.Second}},
		"429 with HTTP date":   {[]string{"429:" + time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, 0, nil},
		"429 without header":   {[]string{"429"}, n, []time.Duration{time.Second}},
		"5xx backoff":          {[]string{"503", "500", "503"}, n, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		"cut off mid-stream":   {[]string{"cut"}, -1, []time.Duration{time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newReplay(t, body)
			r.Fail(tt.script...)
			sl := &ingesttest.Clock{}
			c := testClient(r, sl)
			c.MaxRetryAfter = 10 * time.Minute
			seen := 0
			err := c.Download(context.Background(), "coll-1", "now-1h", "modification_time", func(i int, raw json.RawMessage) error {
				if !json.Valid(raw) {
					t.Errorf("element %d is not JSON", i)
				}
				seen++
				return nil
			})
			if name == "429 with HTTP date" {
				if !errors.Is(err, maltiverse.ErrRateLimited) {
					t.Fatalf("an hour's Retry-After: got %v, want ErrRateLimited", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSeen >= 0 && seen != tt.wantSeen {
				t.Errorf("saw %d elements, want %d", seen, tt.wantSeen)
			}
			if tt.wantSeen < 0 && (seen <= n || seen >= 2*n) {
				t.Errorf("cut-off: saw %d elements, want more than %d (a partial answer, then the whole) and fewer than %d", seen, n, 2*n)
			}
			if got := sl.Sleeps(); !jittered(got, tt.wantWait) {
				t.Errorf("waits %v, want %v (backoffs with ingest.HTTPClient's jitter: each in [w/2, w])", got, tt.wantWait)
			}
			last := r.Requests()[len(r.Requests())-1]
			if last.URL.Path != "/collection/coll-1/download" || last.URL.Query().Get("range") != "now-1h" ||
				last.URL.Query().Get("range_field") != "modification_time" {
				t.Errorf("request %s", last.URL)
			}
		})
	}
}

func TestClientGivesUp(t *testing.T) {
	body := ingesttest.MustRead(t, "testdata/collection/input.json")
	r := newReplay(t, body)
	r.Fail("503", "503", "503", "503", "503")
	sl := &ingesttest.Clock{}
	err := testClient(r, sl).Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return nil })
	var se *maltiverse.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a 503 StatusError", err)
	}
	if len(r.Requests()) != 4 {
		t.Errorf("%d requests, want 4 (1 + 3 retries)", len(r.Requests()))
	}
	// Persistent 429s end in ErrRateLimited.
	r.Fail("429:1", "429:1", "429:1", "429:1")
	err = testClient(r, sl).Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return nil })
	if !errors.Is(err, maltiverse.ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited", err)
	}
	// A wrong key is not retried.
	c := testClient(r, sl)
	c.APIKey = "wrong"
	before := len(r.Requests())
	if err := c.Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return nil }); !errors.Is(err, maltiverse.ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if len(r.Requests()) != before+1 {
		t.Errorf("unauthorized retried: %d requests", len(r.Requests())-before)
	}
	// An error of the callback stops the download unretried.
	stop := errors.New("store full")
	before = len(r.Requests())
	if err := testClient(r, sl).Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	if len(r.Requests()) != before+1 {
		t.Errorf("callback error retried")
	}
	// Malformed JSON is an error, not retried.
	r2 := newReplay(t, []byte(`[{"type":"ip",}]`))
	if err := testClient(r2, sl).Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return nil }); err == nil || len(r2.Requests()) != 1 {
		t.Fatalf("malformed answer: %v after %d requests", err, len(r2.Requests()))
	}
	r3 := newReplay(t, []byte(`{"status":"fail"}`))
	if err := testClient(r3, sl).Download(context.Background(), "c", "", "", func(int, json.RawMessage) error { return nil }); err == nil || !strings.Contains(err.Error(), "JSON array") {
		t.Fatalf("object instead of array: %v", err)
	}
}

// TestClientLookups serves the real python-maltiverse lookup answers at the
// paths the API files them under.
func TestClientLookups(t *testing.T) {
	dir := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/maltiverse/ip_110.189.222.98.json"))
	r := newReplay(t, nil)
	url := "https://alleom.com/weqmo"
	var urlDoc struct {
		URLChecksum string `json:"urlchecksum"`
	}
	urlBody := ingesttest.MustRead(t, filepath.Join(dir, "url_alleom.com_weqmo.json"))
	if err := json.Unmarshal(urlBody, &urlDoc); err != nil {
		t.Fatal(err)
	}
	r.lookups["/ip/110.189.222.98"] = ingesttest.MustRead(t, filepath.Join(dir, "ip_110.189.222.98.json"))
	r.lookups["/hostname/59022.flatblastard.com"] = ingesttest.MustRead(t, filepath.Join(dir, "hostname_59022.flatblastard.com.json"))
	r.lookups["/url/"+urlDoc.URLChecksum] = urlBody // the checksum as the payload states it
	r.lookups["/sample/b4e29d41ca04fccfa5d92be5bae506c556c6c880a4f5e9932f1e4a0766a2fd15"] = ingesttest.MustRead(t, filepath.Join(dir, "sample_b4e29d41.json"))
	r.lookups["/sample/md5/e09f2eaebc86f54b48e4fb5101454535"] = r.lookups["/sample/b4e29d41ca04fccfa5d92be5bae506c556c6c880a4f5e9932f1e4a0766a2fd15"]
	c := testClient(r, &ingesttest.Clock{})
	ctx := context.Background()
	for name, call := range map[string]func() (json.RawMessage, error){
		"ip":       func() (json.RawMessage, error) { return c.IP(ctx, "110.189.222.98") },
		"hostname": func() (json.RawMessage, error) { return c.Hostname(ctx, "59022.flatblastard.com") },
		"url":      func() (json.RawMessage, error) { return c.URL(ctx, url) },
		"sample": func() (json.RawMessage, error) {
			return c.Sample(ctx, "B4E29D41CA04FCCFA5D92BE5BAE506C556C6C880A4F5E9932F1E4A0766A2FD15")
		},
		"md5": func() (json.RawMessage, error) { return c.Sample(ctx, "e09f2eaebc86f54b48e4fb5101454535") },
	} {
		raw, err := call()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := maltiverse.ParseDocument(raw)
		if err != nil || d.Classification != "malicious" {
			t.Errorf("%s: %v %+v", name, err, d)
		}
	}
	if _, err := c.IP(ctx, "192.0.2.1"); !errors.Is(err, maltiverse.ErrNotFound) {
		t.Errorf("unknown IP: got %v, want ErrNotFound", err)
	}
	if _, err := c.Sample(ctx, "abc"); err == nil {
		t.Error("a 3-character hash was looked up")
	}
}
