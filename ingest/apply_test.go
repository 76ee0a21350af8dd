package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/storage"
)

// TestRunnerApply: Apply stores one batch as the feed's (objects, provenance
// with the feed's name and share level) and leaves the feed's saved state and
// cursor as they were; applying it again writes nothing.
func TestRunnerApply(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	cfg := ingest.FeedConfig{Name: "mv", Provider: "maltiverse"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	saved := &storage.FeedState{Feed: "mv", Cursor: []byte(`{"since":"x"}`), LastSuccess: testTime.Add(-time.Hour)}
	if err := s.PutFeedState(ctx, saved); err != nil {
		t.Fatal(err)
	}
	r := &ingest.Runner{Store: s, Now: func() time.Time { return testTime }, Identity: testIdentity}
	b := ingest.Batch{Observations: []ingest.Observation{{Type: "ipv4-addr", Value: "198.51.100.7", Detect: true}},
		Cursor: ingest.Cursor("ignored")}
	st, err := r.Apply(ctx, &cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	if st.New != 3 || st.Observations != 1 || st.Provenance != 1 || st.Batches != 1 {
		t.Errorf("stats %s, want 3 new objects, 1 observation, 1 provenance record", st)
	}
	got, err := s.FeedState(ctx, "mv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Cursor, saved.Cursor) || !got.LastSuccess.Equal(saved.LastSuccess) {
		t.Errorf("feed state %+v, want it untouched", got)
	}
	recs, err := s.Provenance(ctx, "ipv4-addr", "198.51.100.7")
	if err != nil || len(recs) != 1 || recs[0].Feed != "mv" {
		t.Fatalf("provenance %+v, %v", recs, err)
	}
	var verdict struct{ Share string }
	if err := json.Unmarshal(recs[0].Verdict, &verdict); err != nil || verdict.Share != ingest.ShareInternal {
		t.Errorf("provenance share %q, want internal (%v)", verdict.Share, err)
	}
	v, _ := ingest.Normalize("ipv4-addr", "198.51.100.7")
	if _, err := s.GetObject(ctx, ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{}); err != nil {
		t.Errorf("indicator: %v", err)
	}
	st, err = r.Apply(ctx, &cfg, b)
	if err != nil || st.New+st.Changed+st.Provenance != 0 || st.Unchanged != 3 {
		t.Errorf("again: %s, %v; want nothing written", st, err)
	}
	if _, err := (&ingest.Runner{}).Apply(ctx, &cfg, b); err == nil {
		t.Error("Apply without a store succeeded")
	}
}

// TestHTTPClientNoWait: with NoWait a 429 is a QuotaError at once, naming
// when its Retry-After ends; a 429 asking for longer than MaxWait is one too.
func TestHTTPClientNoWait(t *testing.T) {
	sc := &script{steps: []func(http.ResponseWriter, *http.Request){
		status(http.StatusTooManyRequests, "Retry-After", "90"),
		status(http.StatusTooManyRequests),
		status(http.StatusTooManyRequests, "Retry-After", "3600"),
	}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	var waits []time.Duration
	c := newHTTPClient(&waits)
	c.NoWait = true
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := c.Do(context.Background(), req)
	var q *ingest.QuotaError
	if !errors.As(err, &q) || !errors.Is(err, ingest.ErrRateLimited) || q.Next.Before(start.Add(90*time.Second)) || q.Next.After(time.Now().Add(90*time.Second)) {
		t.Fatalf("429 with Retry-After 90: %v", err)
	}
	if _, err := c.Do(context.Background(), req); !errors.As(err, &q) || !q.Next.IsZero() {
		t.Fatalf("429 without Retry-After: %v", err)
	}
	if len(waits) != 0 || c.Requests() != 2 {
		t.Errorf("waits %v, %d requests; want none retried", waits, c.Requests())
	}
	c.NoWait = false
	if _, err := c.Do(context.Background(), req); !errors.As(err, &q) || q.Next.Before(start.Add(time.Hour)) {
		t.Fatalf("Retry-After beyond MaxWait: %v", err)
	}
}

// TestHTTPClientBefore: Before runs before every attempt, retries included,
// and its error ends Do unsent.
func TestHTTPClientBefore(t *testing.T) {
	sc := &script{steps: []func(http.ResponseWriter, *http.Request){
		status(http.StatusServiceUnavailable), status(http.StatusServiceUnavailable), status(http.StatusOK),
	}}
	srv := httptest.NewServer(sc)
	defer srv.Close()
	var waits []time.Duration
	c := newHTTPClient(&waits)
	calls := 0
	stop := errors.New("budget spent")
	c.Before = func(context.Context) error {
		if calls++; calls > 3 {
			return stop
		}
		return nil
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := c.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls != 3 || c.Requests() != 3 {
		t.Errorf("Before called %d times for %d requests, want 3 and 3", calls, c.Requests())
	}
	if _, err := c.Do(context.Background(), req); !errors.Is(err, stop) || c.Requests() != 3 {
		t.Errorf("Before's error: got %v after %d requests, want it unsent", err, c.Requests())
	}
}

// TestPrecheckManyValues: a batch that writes no object takes the provenance
// precheck (read concurrently for large batches): another feed's report of
// stored values still gets its records, and the same report again gets none.
// Both ways: the embedded store answers in one HasProvenance call
// (ingest.ProvenanceChecker); a store without it is read value by value, on
// several goroutines.
func TestPrecheckManyValues(t *testing.T) {
	for name, hide := range map[string]bool{"ProvenanceChecker": false, "concurrent reads": true} {
		t.Run(name, func(t *testing.T) { testPrecheckManyValues(t, hide) })
	}
}

// plainStore hides the optional abilities of the store it wraps.
type plainStore struct{ ingest.Store }

func testPrecheckManyValues(t *testing.T, hide bool) {
	ctx := context.Background()
	s := testStore(t)
	var store ingest.Store = s
	if _, ok := store.(ingest.ProvenanceChecker); !ok {
		t.Fatal("the embedded store is no ProvenanceChecker")
	}
	if hide {
		store = plainStore{s}
	}
	r := &ingest.Runner{Store: store, Now: func() time.Time { return testTime }, Identity: testIdentity}
	var obs []ingest.Observation
	for i := range 700 {
		obs = append(obs, ingest.Observation{Type: "ipv4-addr", Value: "10.9." + itoa(i/256) + "." + itoa(i%256), Detect: i%2 == 0})
	}
	for _, step := range []struct {
		feed                 string
		wantNew, wantRecords int
	}{
		{"a", 700 + 350*2, 700}, // SCOs, and indicators with based-on for half
		{"b", 0, 700},           // objects stored: the precheck finds no record of b
		{"b", 0, 0},             // the same again: every record found
		{"a", 0, 0},
	} {
		cfg := ingest.FeedConfig{Name: step.feed, Provider: "otx"}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		st, err := r.Apply(ctx, &cfg, ingest.Batch{Observations: obs})
		if err != nil {
			t.Fatal(err)
		}
		if st.New != step.wantNew || st.Provenance != step.wantRecords {
			t.Errorf("feed %s: %s, %d provenance records; want %d new, %d records", step.feed, st, st.Provenance, step.wantNew, step.wantRecords)
		}
	}
	recs, err := s.Provenance(ctx, "ipv4-addr", "10.9.2.187")
	if err != nil || len(recs) != 2 || recs[0].Feed != "a" || recs[1].Feed != "b" {
		t.Errorf("provenance of the last value: %+v, %v", recs, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
