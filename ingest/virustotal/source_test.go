package virustotal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// mustFeed builds a virustotal feed through the registry, as cmd does, pointed at
// the stand-in, on the fake clock.
func mustFeed(t testing.TB, s *stream, c *ingesttest.Clock, extra string) *ingest.Feed {
	t.Helper()
	doc := fmt.Sprintf("name: vt\nprovider: virustotal\ndetection_threshold: 20\noptions:\n  api_key_env: VT_KEY\n  base_url: %s/api/v3\n  filter: \"origin:hunting\"\n  limit: 2\n  backoff: 1s\n%s", s.srv.URL, extra)
	cfg := ingesttest.MustFeedConfig(t, doc, map[string]string{"VT_KEY": "test-key"})
	cfg.Attack = ingesttest.MustAttackSample(t)
	f := ingesttest.MustNewFeed(t, virustotal.New, cfg)
	if f.Config.Share != ingest.ShareInternal {
		t.Fatalf("share %q, want internal by default (the licence forbids redistribution)", f.Config.Share)
	}
	src := f.Source.(*virustotal.Source)
	src.Client.Now, src.Client.Sleep = c.Now, c.Sleep
	src.Convert.Identity = ingesttest.Identity
	return f
}

func TestNewConfigErrors(t *testing.T) {
	for name, opts := range map[string]string{
		"unset key":      "options:\n  api_key_env: NOT_SET\n",
		"limit":          "options:\n  api_key_env: K\n  limit: 100\n",
		"base url":       "options:\n  api_key_env: K\n  base_url: \"ftp://x\"\n",
		"unknown option": "options:\n  api_key_env: K\n  filters: x\n",
		"budget":         "options:\n  api_key_env: K\n  requests_per_day: -5\n",
	} {
		var cfg ingest.FeedConfig
		if err := yaml.Unmarshal([]byte("name: vt\nprovider: virustotal\n"+opts), &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Getenv = func(k string) string {
			if k == "K" {
				return "key"
			}
			return ""
		}
		if _, err := virustotal.New(cfg); err == nil || !strings.Contains(err.Error(), `feed "vt"`) {
			t.Errorf("%s: got %v, want an error naming the feed", name, err)
		}
	}
}

type runner struct {
	t     *testing.T
	store *storageStore
	clock *ingesttest.Clock
	feed  *ingest.Feed
}

type storageStore = ingest.Store

func (r *runner) run() *ingest.Stats {
	r.t.Helper()
	ru := &ingest.Runner{Store: *r.store, Now: r.clock.Now, Identity: ingesttest.Identity}
	st, err := ru.Run(context.Background(), r.feed)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func cursorOf(t *testing.T, s ingest.Store) map[string]any {
	t.Helper()
	st, err := s.FeedState(context.Background(), "vt")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(st.Cursor, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPullQuotaAndCursor pulls the IoC stream through the real Runner on the
// embedded store with a daily budget of 3 requests: the first run stops cleanly
// with a warning after 3 pages, a second run the same day makes no request, the
// next day the pull resumes from the saved page cursor and reaches the end; new
// notifications are then fetched with a date filter from the newest one taken,
// those at that very date de-duplicated by notification id.
func TestPullQuotaAndCursor(t *testing.T) {
	s := newStream(t)
	base := ingesttest.Time.Unix()
	s.add(t, base, base+10, base+20, base+30, base+40, base+50, base+60, base+70, base+80, base+80) // 10 items, 5 pages of 2
	c := ingesttest.NewClock(ingesttest.Time.Add(time.Hour))
	var st ingest.Store = ingesttest.MustStore(t)
	r := &runner{t: t, store: &st, clock: c, feed: mustFeed(t, s, c, "  requests_per_day: 3\n  requests_per_minute: 2\n")}

	st1 := r.run()
	if st1.Warnings != 1 || st1.Batches != 4 || len(s.Requests()) != 3 {
		t.Fatalf("first run: %+v after %d requests", st1, len(s.Requests()))
	}
	if w := c.Sleeps(); len(w) != 1 || w[0] != time.Minute {
		t.Errorf("per-minute waits %v, want one of 1m", w)
	}
	cur := cursorOf(t, st)
	if cur["page"] != "6" || cur["used"] != 3.0 || cur["filter"] != "origin:hunting" {
		t.Errorf("cursor after the budget ran out: %v", cur)
	}
	st2 := r.run()
	if st2.Warnings != 1 || len(s.Requests()) != 3 || st2.Observations != 0 {
		t.Errorf("second run the same day: %+v, %d requests", st2, len(s.Requests()))
	}
	c.Advance(24 * time.Hour)
	st3 := r.run()
	if st3.Warnings != 0 || len(s.Requests()) != 5 || s.Requests()[3].URL.Query().Get("cursor") != "6" {
		t.Fatalf("next day: %+v, %d requests", st3, len(s.Requests()))
	}
	// Every item once: 10 notifications; files carry 3 hashes.
	if total := st1.Observations + st3.Observations; total != 16 {
		t.Errorf("%d observations in all, want 16", total)
	}
	cur = cursorOf(t, st)
	if cur["since"] != float64(base+80) || cur["page"] != nil || len(cur["ids"].([]any)) != 2 {
		t.Errorf("cursor at the end of the pass: %v", cur)
	}
	// Two new notifications, one at the watermark's second.
	s.add(t, base+80, base+95)
	c.Advance(24 * time.Hour) // a fresh daily budget
	st4 := r.run()
	q := s.Requests()[5].URL.Query()
	wantFilter := "origin:hunting date:" + time.Unix(base+80, 0).UTC().Format("2006-01-02T15:04:05") + "+"
	if q.Get("filter") != wantFilter || q.Get("cursor") != "" {
		t.Errorf("new pass asked %q, want filter %q", q.Encode(), wantFilter)
	}
	if st4.Observations != 2 || st4.Warnings != 0 {
		t.Errorf("new pass observed %d values, want 2 (the two new, not the two at the watermark again)", st4.Observations)
	}
	page, err := st.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]json.RawMessage, len(page.Records))
	for i, rec := range page.Records {
		objs[i] = rec.JSON
	}
	ingesttest.MustValidateBundle(t, objs)
}

// TestPullFailures: 429 and 5xx are retried within the pull; an expired page
// cursor restarts the pass from its watermark with a warning; an error that
// outlasts the retries fails the run, and the next run resumes from the cursor
// of the last page made durable.
func TestPullFailures(t *testing.T) {
	s := newStream(t)
	base := ingesttest.Time.Unix()
	s.add(t, base, base+1, base+2, base+3, base+4, base+5)
	c := ingesttest.NewClock(ingesttest.Time.Add(time.Hour))
	var st ingest.Store = ingesttest.MustStore(t)
	r := &runner{t: t, store: &st, clock: c, feed: mustFeed(t, s, c, "  requests_per_minute: -1\n  requests_per_day: -1\n  max_retries: 2\n")}
	s.Fail("", "503", "503", "503") // page 1 fine, page 2 fails three times
	ru := &ingest.Runner{Store: st, Now: c.Now, Identity: ingesttest.Identity}
	st1, err := ru.Run(context.Background(), r.feed)
	if err == nil || st1.Batches != 1 {
		t.Fatalf("run with a failing page: %v, %+v", err, st1)
	}
	if cursorOf(t, st)["page"] != "2" {
		t.Errorf("cursor after the failure: %v", cursorOf(t, st))
	}
	s.Fail("badcursor", "429:3", "cut")
	st2 := r.run()
	if st2.Warnings != 1 {
		t.Errorf("expired cursor: %+v", st2)
	}
	// The pass restarted from its watermark (the stream's start): all 6
	// notifications, 10 values (files carry 3 hashes).
	if st1.Observations != 4 || st2.Observations != 10 {
		t.Errorf("observed %d then %d values, want 4 then 10", st1.Observations, st2.Observations)
	}
	// Backoff 1s and 2s (with jitter) for the failing page, then Retry-After
	// 3s, then the first body-retry backoff (1s) after the cut.
	if w := c.Sleeps(); !jittered(w, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, time.Second}) {
		t.Errorf("waits %v", w)
	}
	if cur := cursorOf(t, st); cur["page"] != nil || cur["since"] != float64(base+5) {
		t.Errorf("cursor %v", cur)
	}
}

var errDiskFull = errors.New("disk full")

// TestPullCrashBetweenFetchAndStore: a page fetched but not stored is fetched
// again by the next run; nothing is skipped.
func TestPullCrashBetweenFetchAndStore(t *testing.T) {
	s := newStream(t)
	base := ingesttest.Time.Unix()
	s.add(t, base, base+1, base+2, base+3, base+4, base+5)
	c := ingesttest.NewClock(ingesttest.Time.Add(time.Hour))
	fs := &ingesttest.FailingStore{Store: ingesttest.MustStore(t), Err: errDiskFull, FailCall: 3}
	f := mustFeed(t, s, c, "  requests_per_minute: -1\n  requests_per_day: -1\n")
	ru := &ingest.Runner{Store: fs, Now: c.Now, Identity: ingesttest.Identity}
	if _, err := ru.Run(context.Background(), f); !errors.Is(err, errDiskFull) {
		t.Fatalf("got %v, want the store's error", err)
	}
	first := len(s.Requests())
	st, err := ru.Run(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	// Everything is in the pool: 6 notifications, 10 values, each with its SCO.
	page, err := fs.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	scos := 0
	for _, r := range page.Records {
		switch stix.IDType(r.ID) {
		case "file", "url", "domain-name", "ipv4-addr":
			scos++
		}
	}
	if scos != 10 || st.Batches == 0 || len(s.Requests()) <= first {
		t.Errorf("after the crash: %d SCOs stored, %+v", scos, st)
	}
	if cur := cursorOf(t, fs); cur["since"] != float64(base+5) {
		t.Errorf("cursor %v", cur)
	}
}

// TestPullCollections pulls GTI collections by last modification through the
// Runner: the first pass takes all, the next only those modified since, the
// malware family's IoCs become observations linked to it.
func TestPullCollections(t *testing.T) {
	s := newStream(t)
	base := ingesttest.Time.Unix()
	s.addCollections(t, base, base+10, base+20, base+30, base+40, base+50)
	c := ingesttest.NewClock(ingesttest.Time.Add(time.Hour))
	var st ingest.Store = ingesttest.MustStore(t)
	r := &runner{t: t, store: &st, clock: c, feed: mustFeed(t, s, c,
		"  endpoint: collections\n  requests_per_minute: -1\n  requests_per_day: -1\n")}
	st1 := r.run()
	// 6 collections in 3 pages; the malware family lists 4 IoCs (one URL without
	// its URL: a warning), the report collection is not converted (a warning),
	// T9999 is unknown (a warning).
	if st1.Batches != 3 || st1.Observations != 3 || st1.Warnings != 3 {
		t.Fatalf("first pass: %+v", st1)
	}
	if q := s.Requests()[0].URL.Query(); q.Get("filter") != "origin:hunting" {
		t.Errorf("first filter %q", q.Get("filter"))
	}
	mw := ingest.ContextID("malware", "SPECTRALOCK")
	recs, err := st.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{IDs: []string{mw}})
	if err != nil || len(recs.Records) != 1 {
		t.Fatalf("malware family not stored: %v %d", err, len(recs.Records))
	}
	// The campaign is modified again.
	s.mu.Lock()
	var camp map[string]any
	_ = json.Unmarshal(s.colls[3], &camp)
	camp["attributes"].(map[string]any)["last_modification_date"] = base + 100
	camp["attributes"].(map[string]any)["description"] = "Now also against embassies."
	s.colls[3], _ = json.Marshal(camp)
	s.colls = append(s.colls[:3:3], append(s.colls[4:], s.colls[3])...)
	s.cdates = append(s.cdates[:3:3], append(s.cdates[4:], base+100)...)
	s.mu.Unlock()
	st2 := r.run()
	q := s.Requests()[3].URL.Query()
	want := "origin:hunting last_modification_date:" + time.Unix(base+50, 0).UTC().Format("2006-01-02T15:04:05") + "+"
	if q.Get("filter") != want {
		t.Errorf("second filter %q, want %q", q.Get("filter"), want)
	}
	if st2.Changed != 1 || st2.New != 0 {
		t.Errorf("second pass: %+v (want the campaign changed, nothing new)", st2)
	}
}
