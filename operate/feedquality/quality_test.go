package feedquality_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/operate/feedquality"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

var update = flag.Bool("update", false, "rewrite testdata/report.txt and report.json")

// day0 is the first day of the test history.
var day0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

const identity = "identity--2c1f4f0e-3c1e-4d59-9a54-0d2d3a0c7b21"

// history is a real embedded store filled through the real ingest Runner.
type history struct {
	tb     testing.TB
	store  *bolt.Store
	runner *ingest.Runner
	now    time.Time
}

func newHistory(tb testing.TB) *history {
	h := &history{tb: tb, store: ingesttest.MustStore(tb)}
	h.runner = &ingest.Runner{Store: h.store, Identity: identity, Now: func() time.Time { return h.now }}
	return h
}

// report has feed report values on day d (live, or withdrawn).
func (h *history) report(feed string, d int, revoked bool, values ...string) {
	h.tb.Helper()
	h.now = day0.Add(time.Duration(d) * 24 * time.Hour)
	cfg := ingest.FeedConfig{Name: feed, Provider: feed, Share: "community"}
	if err := cfg.Validate(); err != nil {
		h.tb.Fatal(err)
	}
	var obs []ingest.Observation
	for _, v := range values {
		typ := "ipv4-addr"
		if strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz") {
			typ = "domain-name"
		}
		obs = append(obs, ingest.Observation{Type: typ, Value: v, Detect: true, Revoked: revoked, Seen: h.now,
			Verdict: json.RawMessage(`{"score":80}`)})
	}
	if _, err := h.runner.Apply(context.Background(), &cfg, ingest.Batch{Observations: obs}); err != nil {
		h.tb.Fatal(err)
	}
}

func (h *history) sight(id, value string, d int, fp bool) {
	h.tb.Helper()
	t := day0.Add(time.Duration(d) * 24 * time.Hour)
	if _, err := h.store.AddSightings(context.Background(), []storage.Sighting{{ID: id, Type: "ipv4-addr", Value: value,
		Source: "edr", Internal: !fp, Count: 1, FirstSeen: t, LastSeen: t, FalsePositive: fp}}); err != nil {
		h.tb.Fatal(err)
	}
}

// mustHistory builds:
//
//	day −60  alpha 192.0.2.8 (before the window)
//	day 0    alpha 192.0.2.1 .2 .3 .7; bravo 192.0.2.4; charlie 192.0.2.3
//	day 2    bravo 192.0.2.1 .2 .5
//	day 5    alpha 192.0.2.4
//	day 10   alpha 192.0.2.6, withdrawn on day 12
//	sightings: 192.0.2.1 internal on day 6; 192.0.2.2 false positive on day 3
//	assets:  192.0.2.7 is the organisation's
func mustHistory(tb testing.TB) *history {
	h := newHistory(tb)
	h.report("alpha", -60, false, "192.0.2.8")
	h.report("alpha", 0, false, "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.7")
	h.report("bravo", 0, false, "192.0.2.4")
	h.report("charlie", 0, false, "192.0.2.3")
	h.report("bravo", 2, false, "192.0.2.1", "192.0.2.2", "192.0.2.5")
	h.report("alpha", 5, false, "192.0.2.4")
	h.report("alpha", 10, false, "192.0.2.6")
	h.report("alpha", 12, true, "192.0.2.6")
	h.sight("s1", "192.0.2.1", 6, false)
	h.sight("s2", "192.0.2.2", 3, true)
	return h
}

// mustAllow builds the allow-lists without rfc5735 (it holds every
// documentation address of these tests), with 192.0.2.7 as an asset.
func mustAllow(tb testing.TB) *warninglist.Set {
	tb.Helper()
	set, err := warninglist.Config{Disable: []string{"rfc5735"}, Assets: warninglist.Assets{Networks: []string{"192.0.2.7/32"}}}.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func TestReport(t *testing.T) {
	h := mustHistory(t)
	asOf := day0.Add(20 * 24 * time.Hour)
	s, err := feedquality.Report(context.Background(), h.store, nil, asOf, 30*24*time.Hour, feedquality.WithAllowList(mustAllow(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Values != 7 || !s.Sightings || len(s.Feeds) != 3 {
		t.Fatalf("values %d, sightings %v, feeds %d: want 7, true, 3", s.Values, s.Sightings, len(s.Feeds))
	}
	byName := map[string]feedquality.FeedQuality{}
	for _, f := range s.Feeds {
		byName[f.Feed] = f
	}
	for name, want := range map[string]feedquality.FeedQuality{
		"alpha": {Reported: 6, Unique: 2, First: 2, Tied: 1, Later: 1, MedianLeadDays: 2, Confirmed: 1, FalsePositiveValues: 1,
			FalsePositiveReports: 1, AllowListed: 1, Live: 5, Overlap: map[string]int{"bravo": 3, "charlie": 1}},
		"bravo": {Reported: 4, Unique: 1, First: 1, Later: 2, MedianLeadDays: 5, Confirmed: 1, FalsePositiveValues: 1,
			FalsePositiveReports: 1, Live: 4, Overlap: map[string]int{"alpha": 3}},
		"charlie": {Reported: 1, Tied: 1, Live: 1, Overlap: map[string]int{"alpha": 1}},
	} {
		got := byName[name]
		g, w := got, want
		g.Feed, g.Quality, g.Components, w.Feed = "", 0, nil, ""
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s:\n got %s\nwant %s", name, gj, wj)
		}
		sum := 0.0
		for _, c := range got.Components {
			sum += c.Points
		}
		if len(got.Components) != 5 || int(sum+0.5) != got.Quality && int(sum+0.505) != got.Quality {
			t.Errorf("%s: quality %d, components %+v do not add up to it", name, got.Quality, got.Components)
		}
	}
	// alpha: precision 1−2/6, confirmation min(1, (1/6)/0.1), uniqueness 2/6,
	// timeliness 2/4, liveness 5/6: 26.67+20+5+7.5+8.33 = 67.5 → 68.
	if q := byName["alpha"].Quality; q != 68 {
		t.Errorf("alpha quality %d, want 68", q)
	}
	// The text and JSON renderings, against golden files.
	var txt bytes.Buffer
	if err := s.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for file, got := range map[string][]byte{"report.txt": txt.Bytes(), "report.json": append(js, '\n')} {
		path := filepath.Join("testdata", file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./operate/feedquality -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", file, path, got)
		}
	}
}

// TestReportWindowAndFeeds: a short window leaves out older reports; the
// feeds argument limits the rows but not what counts as overlap.
func TestReportWindowAndFeeds(t *testing.T) {
	h := mustHistory(t)
	asOf := day0.Add(20 * 24 * time.Hour)
	s, err := feedquality.Report(context.Background(), h.store, []string{"bravo", "delta"}, asOf, 14*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// In the last 14 days (from day 6) only alpha's day-10 value was reported.
	if len(s.Feeds) != 2 || s.Feeds[0].Feed != "bravo" || s.Feeds[1].Feed != "delta" || s.Values != 1 {
		t.Fatalf("feeds %+v, values %d: want bravo and delta, 1 value", s.Feeds, s.Values)
	}
	if s.Feeds[0].Reported != 0 || s.Feeds[0].Quality != 0 || s.Feeds[1].Reported != 0 {
		t.Errorf("nothing in the window: %+v", s.Feeds)
	}
	// Whole history as of day 1: alpha reported 192.0.2.8 and the day-0
	// values; bravo's day-2 reports do not exist yet.
	s, err = feedquality.Report(context.Background(), h.store, []string{"alpha"}, day0.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Feeds[0]
	if a.Reported != 5 || a.Unique != 4 || a.Tied != 1 || a.First != 0 || a.Overlap["charlie"] != 1 || a.Overlap["bravo"] != 0 {
		t.Errorf("alpha as of day 1: %+v", a)
	}
	if _, err := feedquality.Report(context.Background(), h.store, nil, asOf, -time.Hour); err == nil {
		t.Error("a negative window was accepted")
	}
}

// noScan is a provenance store without the scan: Report must say it cannot run.
type noScan struct{ storage.ProvenanceStore }

func TestReportNeedsScanner(t *testing.T) {
	h := newHistory(t)
	_, err := feedquality.Report(context.Background(), noScan{h.store}, nil, day0, 0)
	if !errors.Is(err, feedquality.ErrNoScan) {
		t.Fatalf("Report over a store without ScanProvenance = %v, want ErrNoScan", err)
	}
}

// TestReportWithoutSightings scales the other weights when the store keeps no
// sightings.
func TestReportWithoutSightings(t *testing.T) {
	h := mustHistory(t)
	asOf := day0.Add(20 * 24 * time.Hour)
	s, err := feedquality.Report(context.Background(), provOnly{h.store, h.store}, []string{"alpha"}, asOf, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Feeds[0]
	if s.Sightings || a.Confirmed != 0 || a.FalsePositiveValues != 0 {
		t.Fatalf("without sightings: %+v", s)
	}
	// precision 1 (no allow-list given, no sightings), uniqueness 2/6,
	// timeliness 2/4, liveness 5/6, scaled by 100/80:
	// (40 + 5 + 7.5 + 8.33) × 1.25 = 76.04 → 76.
	if a.Quality != 76 || a.Components[1].Points != 0 {
		t.Errorf("alpha without sightings: quality %d, components %+v; want 76 and no confirmation points", a.Quality, a.Components)
	}
}

// provOnly is a store seen as provenance and its scan only, no sightings.
type provOnly struct {
	storage.ProvenanceStore
	storage.ProvenanceScanner
}
