package recordedfuture_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/storage"
)

// listCSV writes an IP risk list of the given (value, risk) rows in RF's format.
func listCSV(t testing.TB, rows [][2]string) []byte {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"Name", "Risk", "RiskString", "EvidenceDetails"})
	for _, r := range rows {
		ev := fmt.Sprintf(`{"EvidenceDetails": [{"Rule": "Current C&C Server", "CriticalityLabel": "Very Malicious", "EvidenceString": "1 sighting on 1 source.", "Sources": ["b5tNVA"], "Timestamp": "2026-03-10T04:12:00.000Z", "Name": "recentCncServer", "MitigationString": "", "Criticality": 4.0}]}`)
		w.Write([]string{r[0], r[1], "1/64", ev})
	}
	w.Flush()
	return []byte(b.String())
}

func feedConfig(t testing.TB, srvURL, options string) ingest.FeedConfig {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(options+"\nbase_url: "+srvURL+"\nbatch_size: 2\n"), &node); err != nil {
		t.Fatal(err)
	}
	cfg := ingest.FeedConfig{Name: "rf-ip", Provider: recordedfuture.Provider, Options: *node.Content[0],
		Getenv: func(k string) string {
			if k == "RF_TOKEN" {
				return testToken
			}
			return ""
		}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// indicator returns the stored versions of value's indicator, oldest first.
func indicatorVersions(t testing.TB, s storage.Store, value string) []map[string]any {
	t.Helper()
	v, err := ingest.Normalize("ip", value)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.GetObject(context.Background(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{Versions: []string{storage.VersionAll}})
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range page.Records {
		var m map[string]any
		json.Unmarshal(r.JSON, &m)
		out = append(out, m)
	}
	return out
}

// TestSourceSnapshotDiff pulls a risk list through the real Runner into the
// embedded store, twice with a value gone from the second list: its indicator
// is withdrawn (a version with valid_until), not deleted; the unchanged list
// then writes nothing, and an empty list withdraws nothing.
func TestSourceSnapshotDiff(t *testing.T) {
	r := newReplay(t)
	key := "/v2/ip/risklist?list=default"
	r.setList(key, listCSV(t, [][2]string{{"198.51.100.1", "90"}, {"198.51.100.2", "80"}, {"198.51.100.3", "70"}, {"198.51.100.4", "10"}}))
	cfg := feedConfig(t, r.srv.URL, "entity: ip\ntoken_env: RF_TOKEN")
	feed := ingesttest.MustNewFeed(t, recordedfuture.New, cfg)
	s := ingesttest.MustStore(t)
	now := ingesttest.Time
	clock := func() time.Time { return now }
	feed.Source.(*recordedfuture.Source).Now = clock
	run := &ingest.Runner{Store: s, Now: clock, Identity: ingesttest.Identity}
	ctx := context.Background()

	st, err := run.Run(ctx, feed)
	if err != nil {
		t.Fatal(err)
	}
	// 3 detection-worthy values: indicator, SCO, based-on; 1 observable only; the
	// identity, TLP marking (and no extension-definition without an identity).
	if st.New != 3*3+1+2 || st.Revoked != 0 || st.Observations != 4 || st.Batches < 3 {
		t.Fatalf("first run: %s", st)
	}
	var cur struct {
		SHA256 string `json:"sha256"`
		Rows   int    `json:"rows"`
		ETag   string `json:"etag"`
	}
	fs, _ := s.FeedState(ctx, "rf-ip")
	if err := json.Unmarshal(fs.Cursor, &cur); err != nil || cur.Rows != 4 || len(cur.SHA256) != 64 || cur.ETag == "" {
		t.Fatalf("cursor %s: %v", fs.Cursor, err)
	}

	// The next hour's list: .2 vanished, .5 is new.
	now = now.Add(time.Hour)
	r.setList(key, listCSV(t, [][2]string{{"198.51.100.1", "90"}, {"198.51.100.3", "70"}, {"198.51.100.4", "10"}, {"198.51.100.5", "95"}}))
	st, err = run.Run(ctx, feed)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revoked != 1 || st.New != 3 {
		t.Errorf("second run: %s", st)
	}
	vs := indicatorVersions(t, s, "198.51.100.2")
	if len(vs) != 2 || vs[0]["valid_until"] != nil || vs[1]["valid_until"] == nil {
		t.Fatalf("vanished value's indicator versions: %v", vs)
	}
	if vu := vs[1]["valid_until"].(string); vu != now.Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("valid_until %s, want the second pull's time", vu)
	}
	if vs := indicatorVersions(t, s, "198.51.100.1"); len(vs) != 1 {
		t.Errorf("a value still listed got %d versions", len(vs))
	}

	// The same list again: 304 on the ETag, nothing emitted or written.
	n := len(r.Requests())
	st, err = run.Run(ctx, feed)
	if err != nil || st.Batches != 0 || st.New+st.Changed+st.Revoked != 0 {
		t.Errorf("unchanged list: %v %s", err, st)
	}
	if req := r.Requests()[n]; req.Header.Get("If-None-Match") == "" {
		t.Errorf("no conditional request: %v", req.Header)
	}

	// The same bytes from a server without validators: the digest skips them.
	r.setList(key, append(listCSV(t, [][2]string{{"198.51.100.1", "90"}, {"198.51.100.3", "70"}, {"198.51.100.4", "10"}, {"198.51.100.5", "95"}}), "\n"...))
	if st, err = run.Run(ctx, feed); err != nil || st.Batches == 0 {
		t.Fatalf("changed bytes: %v %s", err, st)
	}
	fs, _ = s.FeedState(ctx, "rf-ip")
	fs.Cursor = []byte(strings.Replace(string(fs.Cursor), `"etag"`, `"x"`, 1)) // forget the ETag
	if err := s.PutFeedState(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if st, err = run.Run(ctx, feed); err != nil || st.Batches != 0 {
		t.Errorf("same digest: %v %s", err, st)
	}

	// The next day the unchanged list is emitted again: a provenance record per
	// value for the new day, no object written.
	now = now.Add(24 * time.Hour)
	if st, err = run.Run(ctx, feed); err != nil || st.Batches == 0 || st.Provenance != 4 || st.New+st.Changed+st.Revoked != 0 {
		t.Errorf("unchanged list on a new day: %v %s", err, st)
	}
	if st, err = run.Run(ctx, feed); err != nil || st.Batches != 0 {
		t.Errorf("unchanged list later that day: %v %s", err, st)
	}

	// An empty list is an error; nothing is withdrawn.
	r.setList(key, []byte("\"Name\",\"Risk\",\"RiskString\",\"EvidenceDetails\"\n"))
	st, err = run.Run(ctx, feed)
	if !errors.Is(err, recordedfuture.ErrEmptyList) || st.Revoked != 0 {
		t.Errorf("empty list: %v %s", err, st)
	}
	if vs := indicatorVersions(t, s, "198.51.100.1"); len(vs) != 1 {
		t.Errorf("empty list withdrew a value: %v", vs)
	}
	// An HTML error page answered with 200: an error naming the header; nothing
	// is withdrawn.
	r.setList(key, []byte("<html><body>Service temporarily unavailable</body></html>\n"))
	st, err = run.Run(ctx, feed)
	if err == nil || !strings.Contains(err.Error(), "no Name column") || st.Revoked != 0 {
		t.Errorf("HTML answer: %v %s", err, st)
	}
	// The value comes back: published again (valid_until dropped).
	now = now.Add(time.Hour)
	r.setList(key, listCSV(t, [][2]string{{"198.51.100.1", "90"}, {"198.51.100.2", "80"}}))
	if st, err = run.Run(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if vs := indicatorVersions(t, s, "198.51.100.2"); len(vs) != 3 || vs[2]["valid_until"] != nil {
		t.Errorf("returning value: %v", vs)
	}
}

// TestSourceCutOff: a download cut off mid-way is fetched again before any
// batch is emitted, so the Runner sees each row once.
func TestSourceCutOff(t *testing.T) {
	r := newReplay(t)
	r.setList("/v2/hash/risklist?list=default", ingesttest.MustRead(t, "testdata/hash_default/input.csv"))
	cfg := feedConfig(t, r.srv.URL, "entity: hash\ntoken_env: RF_TOKEN")
	src, err := recordedfuture.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src.Client.HTTP.Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	r.Fail("cut", "503", "cut")
	var values []string
	var cursors int
	err = src.Pull(context.Background(), nil, func(b ingest.Batch) error {
		for _, o := range b.Observations {
			values = append(values, o.Value)
		}
		if b.Cursor != nil {
			cursors++
		}
		return nil
	})
	if err != nil || len(values) != 3 || cursors != 1 {
		t.Errorf("pull after cut-offs: %v, values %v, %d cursors", err, values, cursors)
	}
	if n := len(r.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestNewConfig(t *testing.T) {
	for name, tt := range map[string]struct {
		options string
		want    string
	}{
		"no entity":      {"token_env: RF_TOKEN", "entity: required"},
		"bad entity":     {"entity: malware\ntoken_env: RF_TOKEN", `"malware" is not one of`},
		"no token_env":   {"entity: ip", "token_env: required"},
		"token unset":    {"entity: ip\ntoken_env: RF_OTHER", "RF_OTHER is empty or unset"},
		"unknown key":    {"entity: ip\ntoken_env: RF_TOKEN\nlists: [a]", "field lists not found"},
		"list and path":  {"entity: ip\ntoken_env: RF_TOKEN\nlist: a\nfusion_path: /public/x.csv", "either list or fusion_path"},
		"relative fpath": {"entity: ip\ntoken_env: RF_TOKEN\nfusion_path: public/x.csv", "does not start with /"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := recordedfuture.New(feedConfig(t, "http://127.0.0.1:1", tt.options))
			if err == nil || !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an ErrConfig naming %q", err, tt.want)
			}
		})
	}
	src, err := recordedfuture.NewSource(feedConfig(t, "http://127.0.0.1:1", "entity: url\ntoken_env: RF_TOKEN\nlist: recentPhishingUrl"))
	if err != nil || src.Convert.List != "recentPhishingUrl" || src.Convert.TLP != "" || src.Client.Token != testToken || !src.Snapshot() {
		t.Errorf("NewSource: %v %+v", err, src)
	}
}

// TestSourceVulnerabilityDiff: a CVE that vanishes from a vulnerability list
// gets a note version saying it is no longer listed (not a deletion, not a
// revocation), and a note version with its risk again when it returns.
func TestSourceVulnerabilityDiff(t *testing.T) {
	r := newReplay(t)
	path := "/public/opencti/opencti_default_vulnerability_v2.csv"
	key := "/v2/fusion/files?path=" + path
	full := ingesttest.MustRead(t, "testdata/vulnerability_fusion/input.csv")
	lines := strings.SplitAfter(string(full), "\n")
	r.setList(key, full)
	cfg := feedConfig(t, r.srv.URL, "entity: vulnerability\ntoken_env: RF_TOKEN\nfusion_path: "+path)
	src, err := recordedfuture.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := ingesttest.MustStore(t)
	now := ingesttest.Time
	run := &ingest.Runner{Store: s, Now: func() time.Time { return now }, Identity: ingesttest.Identity}
	ctx := context.Background()
	feed := &ingest.Feed{Config: cfg, Source: src}
	noteID := recordedfuture.NoteID(path, "CVE-2024-3400")
	versions := func() []map[string]any {
		t.Helper()
		page, err := s.GetObject(ctx, ingest.DefaultPool, noteID, storage.Filter{Versions: []string{storage.VersionAll}})
		if err != nil {
			t.Fatalf("note %s: %v", noteID, err)
		}
		var out []map[string]any
		for _, rec := range page.Records {
			var m map[string]any
			json.Unmarshal(rec.JSON, &m)
			out = append(out, m)
		}
		return out
	}
	listed := func(m map[string]any) any {
		return m["extensions"].(map[string]any)[recordedfuture.ExtensionID].(map[string]any)["listed"]
	}
	if _, err := run.Run(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if vs := versions(); len(vs) != 1 || listed(vs[0]) != nil {
		t.Fatalf("first pull: %v", vs)
	}
	// CVE-2024-3400 (the last row) vanishes.
	now = now.Add(time.Hour)
	r.setList(key, []byte(lines[0]+lines[1]))
	if _, err := run.Run(ctx, feed); err != nil {
		t.Fatal(err)
	}
	vs := versions()
	if len(vs) != 2 || listed(vs[1]) != false || !strings.Contains(vs[1]["content"].(string), "no longer") || vs[1]["revoked"] != nil {
		t.Fatalf("vanished CVE: %v", vs)
	}
	// It comes back.
	now = now.Add(time.Hour)
	r.setList(key, full)
	if _, err := run.Run(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if vs = versions(); len(vs) != 3 || listed(vs[2]) != nil || vs[2]["extensions"].(map[string]any)[recordedfuture.ExtensionID].(map[string]any)["risk"] != float64(89) {
		t.Fatalf("returning CVE: %v", vs)
	}
	// The vulnerability object itself is one version throughout.
	page, err := s.GetObject(ctx, ingest.DefaultPool, ingest.ContextID("vulnerability", "CVE-2024-3400"), storage.Filter{Versions: []string{storage.VersionAll}})
	if err != nil || len(page.Records) != 1 {
		t.Errorf("vulnerability versions: %v %v", err, page)
	}
}

// TestSourceEmitError: an error emit returns stops the pull (the reading
// goroutine included) and is returned as is.
func TestSourceEmitError(t *testing.T) {
	r := newReplay(t)
	rows := make([][2]string, 50)
	for i := range rows {
		rows[i] = [2]string{fmt.Sprintf("198.51.100.%d", i+1), "90"}
	}
	r.setList("/v2/ip/risklist?list=default", listCSV(t, rows))
	src, err := recordedfuture.NewSource(feedConfig(t, r.srv.URL, "entity: ip\ntoken_env: RF_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	src.BatchSize = 1
	stop := errors.New("store down")
	calls := 0
	err = src.Pull(context.Background(), nil, func(b ingest.Batch) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Pull: %v after %d emits, want the emit error after 1", err, calls)
	}
}
