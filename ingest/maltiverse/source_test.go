package maltiverse_test

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
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// mustFeed builds a maltiverse feed through the factory, as cmd does, pointed at
// the replay server, with a settable clock and recorded sleeps.
func mustFeed(t testing.TB, r *replay, now *time.Time, extra string) (*ingest.Feed, *maltiverse.Source) {
	t.Helper()
	doc := fmt.Sprintf("name: mv\nprovider: maltiverse\noptions:\n  collection: coll-1\n  api_key_env: MV_KEY\n  base_url: %s\n  batch_size: 2\n%s", r.srv.URL, extra)
	cfg := ingesttest.MustFeedConfig(t, doc, map[string]string{"MV_KEY": "test-key"})
	cfg.Attack = ingesttest.MustAttackSample(t)
	f := ingesttest.MustNewFeed(t, maltiverse.New, cfg)
	if f.Config.Share != ingest.ShareInternal {
		t.Fatalf("share %q, want internal by default (the licence forbids redistribution)", f.Config.Share)
	}
	s := f.Source.(*maltiverse.Source)
	s.Now = func() time.Time { return *now }
	s.Client.Sleep = (&ingesttest.Clock{}).Sleep
	s.Convert.Identity = ingesttest.Identity
	return f, s
}

func TestNewConfigErrors(t *testing.T) {
	for name, opts := range map[string]string{
		"no collection":   "options:\n  api_key_env: MV_KEY\n",
		"bad range field": "options:\n  collection: c\n  range_field: first_seen\n",
		"unset key":       "options:\n  collection: c\n  api_key_env: NOT_SET\n",
		"unknown option":  "options:\n  collection: c\n  colection: d\n",
		"bad range":       "options:\n  collection: c\n  initial_range: yesterday\n",
	} {
		var cfg ingest.FeedConfig
		if err := yaml.Unmarshal([]byte("name: mv\nprovider: maltiverse\n"+opts), &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Getenv = func(string) string { return "" }
		_, err := maltiverse.New(cfg)
		if err == nil || !strings.Contains(err.Error(), `feed "mv"`) {
			t.Errorf("%s: got %v, want an error naming the feed", name, err)
		}
	}
}

// TestPullAcrossRuns pulls the collection twice through the real Runner on the
// embedded store: the first run asks for the initial window, the second for the
// smallest window reaching back to the first run minus the overlap, skips what
// the first run emitted and takes the document modified since; the cursor
// survives in the store between the runs.
func TestPullAcrossRuns(t *testing.T) {
	body := ingesttest.MustRead(t, "testdata/collection/input.json")
	r := newReplay(t, body)
	now := time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)
	f, _ := mustFeed(t, r, &now, "  overlap: 15m\n")
	s := ingesttest.MustStore(t)
	run := func() *ingest.Stats {
		t.Helper()
		runner := &ingest.Runner{Store: s, Now: func() time.Time { return now }, Identity: ingesttest.Identity}
		st, err := runner.Run(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st1 := run()
	// 6 documents, the sample has 3 hashes: 8 observations; 3 batches of 2 and the last.
	if st1.Observations != 8 || st1.Batches != 4 || st1.New == 0 {
		t.Fatalf("first run: %+v", st1)
	}
	if q := r.Requests()[0].URL.Query(); q.Get("range") != "now-1d" || q.Get("range_field") != "modification_time" {
		t.Errorf("first window %s", r.Requests()[0].URL.RawQuery)
	}
	state, err := s.FeedState(context.Background(), "mv")
	if err != nil || len(state.Cursor) == 0 {
		t.Fatalf("cursor not saved: %v %+v", err, state)
	}
	// 40 minutes later one document changed (modification_time after the first run,
	// within the overlap of the second).
	var docs []map[string]any
	if err := json.Unmarshal(body, &docs); err != nil {
		t.Fatal(err)
	}
	docs[1]["modification_time"] = "2026-03-13 12:35:00"
	docs[1]["classification"] = "malicious"
	r.download, _ = json.Marshal(docs)
	now = now.Add(40 * time.Minute)
	st2 := run()
	if st2.Observations != 1 {
		t.Errorf("second run observed %d values, want 1 (the changed document)", st2.Observations)
	}
	if q := r.Requests()[1].URL.Query(); q.Get("range") != "now-1h" {
		t.Errorf("second window %s, want now-1h (40 min + 15 min overlap)", q.Get("range"))
	}
	// Ten minutes later, nothing new: the changed document is in the overlap and
	// de-duplicated by the cursor's seen set; the window is now-1h again.
	now = now.Add(10 * time.Minute)
	st3 := run()
	if st3.Observations != 0 {
		t.Errorf("third run observed %d values, want 0", st3.Observations)
	}
	if q := r.Requests()[2].URL.Query(); q.Get("range") != "now-1h" {
		t.Errorf("third window %s, want now-1h", q.Get("range"))
	}
	// Forty days later the widest window cannot reach back: a warning says so.
	now = now.Add(40 * 24 * time.Hour)
	st4 := run()
	if st4.Warnings != 1 || st4.Observations != 0 || r.Requests()[3].URL.Query().Get("range") != "now-1M" {
		t.Errorf("after 40 days: %+v, window %s", st4, r.Requests()[3].URL.Query().Get("range"))
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	ingesttest.MustValidateBundle(t, rawJSON(page.Records))
}

// TestPullCutOffAndRetry: the answer is cut off mid-array; the retried download
// repeats elements, which the source emits only once.
func TestPullCutOffAndRetry(t *testing.T) {
	body := ingesttest.MustRead(t, "testdata/collection/input.json")
	r := newReplay(t, body)
	r.Fail("cut", "503")
	now := time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)
	f, _ := mustFeed(t, r, &now, "")
	var obs int
	err := f.Source.Pull(context.Background(), nil, func(b ingest.Batch) error {
		obs += len(b.Observations)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if obs != 8 || len(r.Requests()) != 3 {
		t.Errorf("%d observations after %d requests, want 8 after 3", obs, len(r.Requests()))
	}
}

func rawJSON(recs []storage.Record) []json.RawMessage {
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i] = r.JSON
	}
	return out
}

var errDiskFull = errors.New("disk full")

// TestPullCrashBetweenFetchAndStore: the window's cursor is saved only once the
// whole download is durable, so a run that failed to store part of it fetches
// the same window again and nothing is skipped.
func TestPullCrashBetweenFetchAndStore(t *testing.T) {
	r := newReplay(t, ingesttest.MustRead(t, "testdata/collection/input.json"))
	now := time.Date(2026, 3, 13, 12, 0, 0, 0, time.UTC)
	f, _ := mustFeed(t, r, &now, "")
	fs := &ingesttest.FailingStore{Store: ingesttest.MustStore(t), Err: errDiskFull, FailCall: 4}
	ru := &ingest.Runner{Store: fs, Now: func() time.Time { return now }, Identity: ingesttest.Identity}
	if _, err := ru.Run(context.Background(), f); !errors.Is(err, errDiskFull) {
		t.Fatalf("got %v, want the store's error", err)
	}
	if st, err := fs.FeedState(context.Background(), "mv"); err == nil && len(st.Cursor) > 0 {
		t.Fatalf("cursor saved after a failed run: %s", st.Cursor)
	}
	now = now.Add(5 * time.Minute)
	st, err := ru.Run(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if st.Observations != 8 || r.Requests()[1].URL.Query().Get("range") != "now-1d" {
		t.Errorf("second run: %+v, window %s", st, r.Requests()[1].URL.RawQuery)
	}
	page, err := fs.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	scos := 0
	for _, rec := range page.Records {
		switch stix.IDType(rec.ID) {
		case "file", "url", "domain-name", "ipv4-addr", "ipv6-addr", "email-addr":
			scos++
		}
	}
	// 7 live values (the whitelisted one is withdrawn: no SCO), and the 2
	// resolved addresses of the hostname document.
	if scos != 9 {
		t.Errorf("%d SCOs stored, want 9", scos)
	}
}
