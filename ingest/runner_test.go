package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

const testIdentity = "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"

// testStore returns a real embedded store with the pool and an inbox collection.
func testStore(t testing.TB) ingest.Store {
	t.Helper()
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	for _, c := range []string{ingest.DefaultPool, "inbox"} {
		if err := s.EnsureCollection(context.Background(), c, storage.KindStored); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// sliceSource replays fixed batches; its cursor is the index of the next batch.
// With failAfter > 0 the pull fails once it has emitted that many batches.
type sliceSource struct {
	batches   []ingest.Batch
	failAfter int
	pulls     []string // cursors Pull was called with
	snapshot  bool
}

var errSource = errors.New("provider went away")

func (s *sliceSource) Snapshot() bool { return s.snapshot }

func (s *sliceSource) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	s.pulls = append(s.pulls, string(cur))
	start := 0
	if len(cur) > 0 {
		n, err := strconv.Atoi(string(cur))
		if err != nil {
			return err
		}
		start = n
	}
	emitted := 0
	for i := start; i < len(s.batches); i++ {
		if s.failAfter > 0 && emitted == s.failAfter {
			return errSource
		}
		b := s.batches[i]
		b.Cursor = ingest.Cursor(strconv.Itoa(i + 1))
		if err := emit(b); err != nil {
			return err
		}
		emitted++
	}
	return nil
}

func observations(prefix string, n int, detect bool) []ingest.Observation {
	out := make([]ingest.Observation, n)
	for i := range out {
		out[i] = ingest.Observation{Type: "domain", Value: fmt.Sprintf("%s%d[.]example", prefix, i), Detect: detect,
			Verdict: json.RawMessage(`{"score":90}`), Context: ingest.Context{Labels: []string{"c2"}}}
	}
	return out
}

func newRunner(s ingest.Store, now *time.Time) *ingest.Runner {
	return &ingest.Runner{Store: s, Now: func() time.Time { return *now }, Identity: testIdentity}
}

func feed(name string, src ingest.Source) *ingest.Feed {
	cfg := ingest.FeedConfig{Name: name, Provider: "test"}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &ingest.Feed{Config: cfg, Source: src}
}

// countVersions returns how many object versions the pool holds.
func countVersions(t *testing.T, s ingest.Store) int {
	t.Helper()
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range page.Records {
		v, err := s.ListVersions(context.Background(), ingest.DefaultPool, r.ID, storage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		n += len(v.Records)
	}
	return n
}

// resetCursor makes the next run of feed pull from the start.
func resetCursor(t *testing.T, s ingest.Store, name string) {
	t.Helper()
	st, err := s.FeedState(context.Background(), name)
	if errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Cursor = nil
	if err := s.PutFeedState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}

func mustRun(t *testing.T, r *ingest.Runner, f *ingest.Feed) *ingest.Stats {
	t.Helper()
	st, err := r.Run(context.Background(), f)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return st
}

func getObject(t *testing.T, s ingest.Store, id string) map[string]any {
	t.Helper()
	page, err := s.GetObject(context.Background(), ingest.DefaultPool, id, storage.Filter{})
	if err != nil {
		t.Fatalf("GetObject(%s): %v", id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(page.Records[0].JSON, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunNewThenUnchanged(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	src := &sliceSource{batches: []ingest.Batch{
		{Observations: observations("a", 3, true)},
		{Observations: observations("b", 2, false)},
	}}
	f := feed("feed1", src)
	st := mustRun(t, r, f)
	// 3 detection-worthy values: indicator, SCO, based-on each; 2 observables: SCO only.
	if st.New != 3*3+2 || st.Changed != 0 || st.Unchanged != 0 || st.Observations != 5 || st.Provenance != 5 || st.Batches != 2 {
		t.Fatalf("first run: got %+v", st)
	}
	if got := countVersions(t, s); got != 11 {
		t.Fatalf("got %d versions, want 11", got)
	}
	v, _ := ingest.Normalize("domain-name", "a0.example")
	ind := getObject(t, s, ingest.IndicatorID(v))
	if ind["pattern"] != "[domain-name:value = 'a0.example']" || ind["created_by_ref"] != testIdentity ||
		ind["pattern_type"] != "stix" || ind["valid_from"] != "2026-03-14T09:26:53.000Z" || ind["created"] != ind["modified"] {
		t.Fatalf("indicator: %v", ind)
	}
	sco := getObject(t, s, ingest.ObservableID(v))
	if sco["value"] != "a0.example" || sco["type"] != "domain-name" {
		t.Fatalf("sco: %v", sco)
	}
	// No indicator for an observable-only value.
	vb, _ := ingest.Normalize("domain-name", "b0.example")
	if _, err := s.GetObject(context.Background(), ingest.DefaultPool, ingest.IndicatorID(vb), storage.Filter{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("indicator of an observable-only value: got %v, want ErrNotFound", err)
	}
	state, err := s.FeedState(context.Background(), "feed1")
	if err != nil || string(state.Cursor) != "2" || !state.LastSuccess.Equal(testTime) {
		t.Fatalf("feed state: %+v, %v", state, err)
	}

	// Same day, from the start again: nothing written.
	if err := s.PutFeedState(context.Background(), &storage.FeedState{Feed: "feed1"}); err != nil {
		t.Fatal(err)
	}
	now = testTime.Add(3 * time.Hour)
	st = mustRun(t, r, f)
	if st.New != 0 || st.Changed != 0 || st.Unchanged != 11 || st.Provenance != 0 {
		t.Fatalf("same-day rerun: got %+v", st)
	}
	if got := countVersions(t, s); got != 11 {
		t.Fatalf("same-day rerun wrote versions: %d, want 11", got)
	}

	// Next day: new provenance records, still no object version.
	if err := s.PutFeedState(context.Background(), &storage.FeedState{Feed: "feed1"}); err != nil {
		t.Fatal(err)
	}
	now = testTime.Add(24 * time.Hour)
	st = mustRun(t, r, f)
	if st.New != 0 || st.Changed != 0 || st.Unchanged != 11 || st.Provenance != 5 {
		t.Fatalf("next-day rerun: got %+v", st)
	}
	prov, err := s.Provenance(context.Background(), "domain-name", "a0.example")
	if err != nil || len(prov) != 2 || !prov[0].Day.Equal(time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("provenance: %+v, %v", prov, err)
	}
	var pv struct {
		Detect  bool            `json:"detect"`
		Verdict json.RawMessage `json:"verdict"`
		Context ingest.Context  `json:"context"`
		Share   string          `json:"share"`
	}
	if err := json.Unmarshal(prov[0].Verdict, &pv); err != nil || !pv.Detect || string(pv.Verdict) != `{"score":90}` ||
		pv.Context.Labels[0] != "c2" || pv.Share != ingest.ShareInternal {
		t.Fatalf("provenance verdict %s: %+v %v", prov[0].Verdict, pv, err)
	}
}

// TestRunCrashResumes: a source failing after N batches leaves the cursor after
// batch N; the rerun starts there and every value ends up stored once.
func TestRunCrashResumes(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	var batches []ingest.Batch
	for i := range 5 {
		batches = append(batches, ingest.Batch{Observations: observations(fmt.Sprintf("c%d-", i), 4, true)})
	}
	src := &sliceSource{batches: batches, failAfter: 2}
	f := feed("crashy", src)
	st, err := r.Run(context.Background(), f)
	if !errors.Is(err, errSource) {
		t.Fatalf("Run: got %v, want errSource", err)
	}
	if st.Batches != 2 || st.New != 2*4*3 {
		t.Fatalf("failed run stats: %+v", st)
	}
	state, _ := s.FeedState(context.Background(), "crashy")
	if string(state.Cursor) != "2" || state.ErrorCount != 1 || !strings.Contains(state.LastError, "went away") {
		t.Fatalf("state after failure: %+v", state)
	}
	src.failAfter = 0
	st = mustRun(t, r, f)
	if src.pulls[1] != "2" || st.Batches != 3 || st.New != 3*4*3 || st.Unchanged != 0 {
		t.Fatalf("resumed run: pulls %q, stats %+v", src.pulls, st)
	}
	if got := countVersions(t, s); got != 5*4*3 {
		t.Fatalf("got %d versions, want %d", got, 5*4*3)
	}
	state, _ = s.FeedState(context.Background(), "crashy")
	if state.ErrorCount != 0 || state.LastError != "" || string(state.Cursor) != "5" {
		t.Fatalf("state after success: %+v", state)
	}
}

// failingStore makes PutObjects fail on call number failOn (1-based): a store
// failure mid-run, which a real store does not produce on demand.
type failingStore struct {
	ingest.Store
	calls, failOn int
}

var errDisk = errors.New("disk full")

func (f *failingStore) PutObjects(ctx context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	f.calls++
	if f.calls == f.failOn {
		return nil, errDisk
	}
	return f.Store.PutObjects(ctx, coll, objs)
}

// TestRunEmitError: when making a batch durable fails, emit returns the error,
// the cursor stays after the last durable batch and the rerun fetches the rest.
func TestRunEmitError(t *testing.T) {
	base := testStore(t)
	fs := &failingStore{Store: base, failOn: 2}
	now := testTime
	r := newRunner(fs, &now)
	src := &sliceSource{batches: []ingest.Batch{
		{Observations: observations("e0-", 2, true)},
		{Observations: observations("e1-", 2, true)},
		{Observations: observations("e2-", 2, true)},
	}}
	f := feed("emitfail", src)
	if _, err := r.Run(context.Background(), f); !errors.Is(err, errDisk) {
		t.Fatalf("Run: got %v, want errDisk", err)
	}
	state, _ := base.FeedState(context.Background(), "emitfail")
	if string(state.Cursor) != "1" {
		t.Fatalf("cursor after failure %q, want 1", state.Cursor)
	}
	st := mustRun(t, r, f)
	if src.pulls[1] != "1" || st.New != 2*2*3 {
		t.Fatalf("rerun: pulls %q stats %+v", src.pulls, st)
	}
	if got := countVersions(t, base); got != 3*2*3 {
		t.Fatalf("got %d versions, want %d", got, 3*2*3)
	}
}

func TestRunContextCancelled(t *testing.T) {
	s := testStore(t)
	now := testTime
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := &sliceSource{batches: []ingest.Batch{{Observations: observations("x", 1, true)}}}
	if _, err := newRunner(s, &now).Run(ctx, feed("cancelled", src)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if got := countVersions(t, s); got != 0 {
		t.Fatalf("cancelled run stored %d versions", got)
	}
}

func TestRunWarningsAndFilters(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	src := &sliceSource{batches: []ingest.Batch{{
		Observations: []ingest.Observation{
			{Type: "ipv4-addr", Value: "010.1.1.1", Detect: true},                                     // invalid: warning
			{Type: "ipv4-addr", Value: "198.51.100.7", Detect: true},                                  // kept
			{Type: "url", Value: "hxxp://evil[.]example/a", Detect: true},                             // type not enabled
			{Value: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Detect: true}, // guessed
			{Type: "ipv4-addr", Value: "198.51.100.8", Verdict: json.RawMessage(`{bad`)},              // verdict dropped
		},
		Warnings: []ingest.Warning{{Record: "7", Field: "tags", Msg: "not a list"}},
	}}}
	f := feed("warn", src)
	f.Config.EnabledTypes = []string{"ipv4-addr", "file"}
	st := mustRun(t, r, f)
	if st.Warnings != 3 || st.Skipped != 1 || st.Observations != 3 || st.New != 3+3+1 {
		t.Fatalf("stats %+v", st)
	}
	h, _ := ingest.Normalize("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if ind := getObject(t, s, ingest.IndicatorID(h)); ind["pattern"] != "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']" {
		t.Fatalf("hash indicator %v", ind)
	}
	sco := getObject(t, s, ingest.ObservableID(h))
	if sco["hashes"].(map[string]any)["SHA-256"] != h.Value {
		t.Fatalf("file sco %v", sco)
	}
}

func TestRunObjectsVersioning(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	const mid = "malware--0b2a7b0e-5d2f-5c3c-9d7a-1f0e2d3c4b5a"
	mal := func(name string, modified time.Time) stix.Object {
		m := stix.NewTimestamp(modified)
		last := stix.NewTimestamp(modified.Add(time.Hour)) // volatile: moves on every pull
		return &stix.Malware{Common: stix.Common{Type: "malware", SpecVersion: "2.1", ID: mid, Modified: &m}, Name: name, IsFamily: true, LastSeen: &last}
	}
	raw := func(mod string) stix.Object {
		b := `{"type":"report","spec_version":"2.1","id":"report--7d0f6c4e-2f1b-4c8e-9a7d-3b2e1f0c9d8e","created":"2026-01-01T00:00:00.000Z","modified":"` + mod + `","name":"r","published":"2026-01-01T00:00:00.000Z","object_refs":["` + mid + `"]}`
		var o stix.RawObject
		if err := json.Unmarshal([]byte(b), &o.Common); err != nil {
			t.Fatal(err)
		}
		o.JSON = json.RawMessage(b)
		return &o
	}
	n := 0
	run := func(objs ...stix.Object) *ingest.Stats {
		n++
		src := &sliceSource{batches: []ingest.Batch{{Objects: objs}}}
		return mustRun(t, r, feed(fmt.Sprintf("objs%d", n), src))
	}
	if st := run(mal("Emotet", testTime), raw("2026-01-01T00:00:00.000Z")); st.New != 2 {
		t.Fatalf("first: %+v", st)
	}
	// Same content but for a later modified and last_seen, the same raw version: nothing written.
	now = testTime.Add(time.Hour)
	if st := run(mal("Emotet", testTime.Add(time.Minute)), raw("2026-01-01T00:00:00.000Z")); st.Unchanged != 2 || st.New+st.Changed != 0 {
		t.Fatalf("unchanged: %+v", st)
	}
	// Changed content: a new version keeping created, modified = now; a newer raw version is stored.
	if st := run(mal("Emotet (Heodo)", testTime), raw("2026-02-01T00:00:00.000Z")); st.Changed != 2 {
		t.Fatalf("changed: %+v", st)
	}
	vs, err := s.ListVersions(context.Background(), ingest.DefaultPool, mid, storage.Filter{})
	if err != nil || len(vs.Records) != 2 {
		t.Fatalf("versions %v %v", vs, err)
	}
	m := getObject(t, s, mid)
	if m["name"] != "Emotet (Heodo)" || m["created"] != "2026-03-14T09:26:53.000Z" || m["modified"] != "2026-03-14T10:26:53.000Z" {
		t.Fatalf("new version %v", m)
	}
	// The raw object is byte-exact.
	page, _ := s.GetObject(context.Background(), ingest.DefaultPool, "report--7d0f6c4e-2f1b-4c8e-9a7d-3b2e1f0c9d8e", storage.Filter{})
	if want := raw("2026-02-01T00:00:00.000Z").(*stix.RawObject).JSON; string(page.Records[0].JSON) != string(want) {
		t.Fatalf("raw object not byte-exact: %s", page.Records[0].JSON)
	}
	// A feed's Collection receives its objects.
	src := &sliceSource{batches: []ingest.Batch{{Objects: []stix.Object{raw("2026-03-01T00:00:00.000Z")}}}}
	f := feed("objs-inbox", src)
	f.Config.Collection = "inbox"
	mustRun(t, r, f)
	if _, err := s.GetObject(context.Background(), "inbox", "report--7d0f6c4e-2f1b-4c8e-9a7d-3b2e1f0c9d8e", storage.Filter{}); err != nil {
		t.Fatalf("object not in the feed's collection: %v", err)
	}
}

// TestRunWithdrawal: an indicator is withdrawn (valid_until) only when every feed
// that reported its value withdrew it, and comes back when a feed reports it again.
func TestRunWithdrawal(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	x := ingest.Observation{Type: "ipv4-addr", Value: "203.0.113.9", Detect: true}
	gone := x
	gone.Revoked = true
	runFeed := func(name string, o ingest.Observation) *ingest.Stats {
		resetCursor(t, s, name)
		return mustRun(t, r, feed(name, &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{o}}}}))
	}
	runFeed("A", x)
	runFeed("B", x)
	v, _ := ingest.Normalize("ipv4-addr", "203.0.113.9")
	id := ingest.IndicatorID(v)
	now = testTime.Add(24 * time.Hour)
	if st := runFeed("A", gone); st.Revoked != 0 {
		t.Fatalf("withdrawn by A only: %+v", st)
	}
	if _, ok := getObject(t, s, id)["valid_until"]; ok {
		t.Fatal("withdrawn while feed B still reports it")
	}
	now = testTime.Add(48 * time.Hour)
	if st := runFeed("B", gone); st.Revoked != 1 {
		t.Fatalf("withdrawn by all: %+v", st)
	}
	ind := getObject(t, s, id)
	if ind["valid_until"] != "2026-03-16T09:26:53.000Z" || ind["modified"] != "2026-03-16T09:26:53.000Z" || ind["created"] != "2026-03-14T09:26:53.000Z" {
		t.Fatalf("withdrawn indicator %v", ind)
	}
	now = testTime.Add(72 * time.Hour)
	if st := runFeed("A", x); st.Changed != 1 {
		t.Fatalf("value back: %+v", st)
	}
	if _, ok := getObject(t, s, id)["valid_until"]; ok {
		t.Fatal("indicator still withdrawn after the value came back")
	}
	// In one batch, a live report wins over a withdrawal of the same value.
	now = testTime.Add(96 * time.Hour)
	resetCursor(t, s, "A")
	st := mustRun(t, r, feed("A", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{gone, x, gone}}}}))
	if st.Revoked != 0 || st.Provenance != 1 {
		t.Fatalf("mixed batch: %+v", st)
	}
	prov, _ := s.Provenance(context.Background(), "ipv4-addr", "203.0.113.9")
	if last := prov[len(prov)-1]; last.Revoked || last.Feed != "A" {
		t.Fatalf("mixed batch provenance %+v", last)
	}
}

// TestRunSnapshot: values vanishing from a full-snapshot feed are withdrawn; a
// pull that emits nothing keeps the previous snapshot.
func TestRunSnapshot(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	vals := func(vs ...string) []ingest.Batch {
		var obs []ingest.Observation
		for _, v := range vs {
			obs = append(obs, ingest.Observation{Type: "domain-name", Value: v, Detect: true})
		}
		return []ingest.Batch{{Observations: obs[:1]}, {Observations: obs[1:]}}
	}
	src := &sliceSource{snapshot: true, batches: vals("a.example", "b.example", "c.example")}
	f := feed("snap", src)
	mustRun(t, r, f)
	state, _ := s.FeedState(context.Background(), "snap")
	if string(state.Cursor) != "2" || len(state.Snapshot) == 0 {
		t.Fatalf("state %+v", state)
	}
	// The cursor is not fed back: a snapshot feed pulls the whole export each time
	// (the source decides what its cursor means; here we reset it).
	reset := func() {
		st, _ := s.FeedState(context.Background(), "snap")
		st.Cursor = nil
		if err := s.PutFeedState(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	reset()
	now = testTime.Add(time.Hour)
	src.batches = vals("a.example", "b.example")
	st := mustRun(t, r, f)
	if st.Revoked != 1 {
		t.Fatalf("vanished value: %+v", st)
	}
	c, _ := ingest.Normalize("domain-name", "c.example")
	if getObject(t, s, ingest.IndicatorID(c))["valid_until"] == nil {
		t.Fatal("c.example not withdrawn")
	}
	// An empty pull (digest unchanged) withdraws nothing.
	reset()
	src.batches = nil
	if st := mustRun(t, r, f); st.Revoked != 0 || st.Batches != 0 {
		t.Fatalf("empty pull: %+v", st)
	}
	reset()
	src.batches = vals("a.example", "c.example")
	st = mustRun(t, r, f)
	if st.Revoked != 1 || st.Changed != 1 {
		t.Fatalf("b gone, c back: %+v", st)
	}
	// A failed snapshot pull saves neither cursor nor snapshot.
	reset()
	before, _ := s.FeedState(context.Background(), "snap")
	src.failAfter = 1
	if _, err := r.Run(context.Background(), f); !errors.Is(err, errSource) {
		t.Fatalf("got %v", err)
	}
	after, _ := s.FeedState(context.Background(), "snap")
	if string(after.Cursor) != string(before.Cursor) || string(after.Snapshot) != string(before.Snapshot) {
		t.Fatal("failed snapshot pull moved the cursor or the snapshot")
	}
}

// TestObservableIDVectors checks SCO ids against the shared UUIDv5 vectors.
func TestObservableIDVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sharedDir(t), "testdata", "stix", "uuid5-vectors.json"))
	if err != nil {
		t.Skipf("shared vectors: %v", err)
	}
	var vecs []struct {
		ID     string         `json:"id"`
		Object map[string]any `json:"object"`
	}
	if err := json.Unmarshal(b, &vecs); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, v := range vecs {
		typ, _ := v.Object["type"].(string)
		var val ingest.Value
		switch typ {
		case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr":
			val = ingest.Value{Type: typ, Value: v.Object["value"].(string)}
		case "file":
			h, ok := v.Object["hashes"].(map[string]any)
			if !ok || len(h) != 1 || v.Object["name"] != nil {
				continue
			}
			for k, x := range h {
				val = ingest.Value{Type: "file", HashAlgo: k, Value: x.(string)}
			}
		default:
			continue
		}
		if got := ingest.ObservableID(val); got != v.ID {
			t.Errorf("ObservableID(%+v) = %s, want %s", val, got, v.ID)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("only %d vectors checked", checked)
	}
}

func TestNamespace(t *testing.T) {
	v := ingest.Value{Type: "ipv4-addr", Value: "198.51.100.3"}
	// UUIDv5 (SHA-1 name-based, RFC 4122 §4.3) recomputed here from its definition.
	if got, want := ingest.IndicatorID(v), "indicator--"+uuid5(t, ingest.Namespace, "[ipv4-addr:value = '198.51.100.3']"); got != want {
		t.Fatalf("IndicatorID = %s, want %s", got, want)
	}
	if got, want := ingest.Namespace, uuid5(t, "6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://github.com/ctibroker/ctibroker"); got != want {
		t.Fatalf("Namespace = %s, want %s", got, want)
	}
	if got := ingest.Pattern(ingest.Value{Type: "url", Value: `http://a.example/it's\x`}); got != `[url:value = 'http://a.example/it\'s\\x']` {
		t.Fatalf("Pattern escaping: %s", got)
	}
}

// sharedDir returns ../shared next to the repository root.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
}

// TestRunDefersCursor: the cursor is not committed after every batch (new or
// unchanged) but at most every couple of seconds and at the end: while the pull
// runs the stored cursor stays where it was. A failure saves the cursor of the
// last durable batch, and the rerun resumes there.
func TestRunDefersCursor(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	batches := []ingest.Batch{
		{Observations: observations("d0-", 2, true)},
		{Observations: observations("d1-", 2, true)},
		{Observations: observations("d2-", 2, true)},
	}
	var during []string
	src := &peekSource{sliceSource: sliceSource{batches: batches}, peek: func() {
		st, err := s.FeedState(context.Background(), "defer")
		if err != nil {
			during = append(during, "none")
			return
		}
		during = append(during, string(st.Cursor))
	}}
	f := feed("defer", src)
	mustRun(t, r, f) // new batches
	if strings.Join(during, ",") != "none,none,none" {
		t.Fatalf("cursor committed during a new pull: %q", during)
	}
	during = nil
	resetCursor(t, s, "defer")
	src.failAfter = 2 // unchanged batches, then a failure
	if _, err := r.Run(context.Background(), f); !errors.Is(err, errSource) {
		t.Fatalf("got %v", err)
	}
	if strings.Join(during, ",") != "," {
		t.Fatalf("cursor committed during an unchanged pull: %q", during)
	}
	state, _ := s.FeedState(context.Background(), "defer")
	if string(state.Cursor) != "2" || state.ErrorCount != 1 {
		t.Fatalf("after the failure: %+v", state)
	}
	src.failAfter = 0
	st := mustRun(t, r, f)
	if src.pulls[2] != "2" || st.Unchanged != 2*3 {
		t.Fatalf("pulls %q, stats %+v", src.pulls, st)
	}
	state, _ = s.FeedState(context.Background(), "defer")
	if string(state.Cursor) != "3" {
		t.Fatalf("final cursor %q, want 3", state.Cursor)
	}
}

// peekSource is a sliceSource that calls peek after each batch it emits.
type peekSource struct {
	sliceSource
	peek func()
}

func (p *peekSource) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	return p.sliceSource.Pull(ctx, cur, func(b ingest.Batch) error {
		err := emit(b)
		p.peek()
		return err
	})
}

func TestRunMissingPool(t *testing.T) {
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	now := testTime
	src := &sliceSource{batches: []ingest.Batch{{Observations: observations("m", 1, true)}}}
	st, err := newRunner(s, &now).Run(context.Background(), feed("nopool", src))
	if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), `feed "nopool"`) {
		t.Fatalf("got %v, want ErrNotFound naming the feed", err)
	}
	if st.Batches != 0 {
		t.Fatalf("stats %+v", st)
	}
	state, _ := s.FeedState(context.Background(), "nopool")
	if state.ErrorCount != 1 || len(state.Cursor) != 0 {
		t.Fatalf("state %+v", state)
	}
}

func TestStatsString(t *testing.T) {
	st := &ingest.Stats{Feed: "f", New: 3, Changed: 1, Unchanged: 2, Revoked: 1, Observations: 4, Warnings: 5, Batches: 2, Duration: 1500 * time.Millisecond}
	if got, want := st.String(), "f: 3 new, 1 changed, 2 unchanged, 1 revoked objects; 4 observations, 5 warnings (2 batches, 1.5s)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRunShareAndIdentity: an observation's own share level reaches its
// provenance record when more restrictive than the feed's (never less), an
// unknown one is a warning read as internal; with no Runner.Identity the feed
// config's identity is created_by_ref.
func TestRunShareAndIdentity(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	r.Identity = ""
	obs := []ingest.Observation{
		{Type: "domain-name", Value: "feed-share.example", Detect: true},
		{Type: "domain-name", Value: "own-share.example", Detect: true, Share: ingest.SharePartners},
		{Type: "domain-name", Value: "odd-share.example", Detect: true, Share: "everyone"},
	}
	f := feed("shared", &sliceSource{batches: []ingest.Batch{{Observations: obs}}})
	f.Config.Share = ingest.ShareCommunity
	f.Config.Identity = testIdentity
	st := mustRun(t, r, f)
	if st.Warnings != 1 {
		t.Fatalf("stats %+v", st)
	}
	for value, want := range map[string]string{"feed-share.example": ingest.ShareCommunity, "own-share.example": ingest.SharePartners, "odd-share.example": ingest.ShareInternal} {
		prov, err := s.Provenance(context.Background(), "domain-name", value)
		if err != nil || len(prov) != 1 {
			t.Fatalf("%s: %+v %v", value, prov, err)
		}
		var pv struct {
			Share string `json:"share"`
		}
		if err := json.Unmarshal(prov[0].Verdict, &pv); err != nil || pv.Share != want {
			t.Errorf("%s: share %q, want %q (%s)", value, pv.Share, want, prov[0].Verdict)
		}
	}
	v, _ := ingest.Normalize("domain-name", "feed-share.example")
	if got := getObject(t, s, ingest.IndicatorID(v))["created_by_ref"]; got != testIdentity {
		t.Fatalf("created_by_ref %v", got)
	}
	// A feed declared internal stays internal whatever its records say.
	resetCursor(t, s, "shared")
	now = now.Add(24 * time.Hour)
	f.Config.Share = ingest.ShareInternal
	mustRun(t, r, f)
	prov, _ := s.Provenance(context.Background(), "domain-name", "own-share.example")
	if !strings.Contains(string(prov[len(prov)-1].Verdict), `"share":"internal"`) {
		t.Fatalf("internal feed: %s", prov[len(prov)-1].Verdict)
	}
}

// countingStore counts the write calls reaching a real store.
type countingStore struct {
	ingest.Store
	puts, provs, states int
}

func (c *countingStore) PutObjects(ctx context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	c.puts++
	return c.Store.PutObjects(ctx, coll, objs)
}

func (c *countingStore) AddProvenance(ctx context.Context, recs []storage.Provenance) (*storage.WriteResult, error) {
	c.provs++
	return c.Store.AddProvenance(ctx, recs)
}

func (c *countingStore) PutFeedState(ctx context.Context, s *storage.FeedState) error {
	c.states++
	return c.Store.PutFeedState(ctx, s)
}

// TestRunUnchangedCommitsNothing: a same-day re-pull of stored values calls no
// object or provenance write at all (a write transaction costs an fsync even
// when it writes nothing), only the final feed state; the next day it adds the
// day's provenance (held back across batches: at most one call per batch).
func TestRunUnchangedCommitsNothing(t *testing.T) {
	cs := &countingStore{Store: testStore(t)}
	now := testTime
	r := newRunner(cs, &now)
	src := &sliceSource{batches: []ingest.Batch{
		{Observations: observations("u0-", 5, true)},
		{Observations: observations("u1-", 5, false)},
	}}
	f := feed("quiet", src)
	mustRun(t, r, f)
	if cs.puts != 2 || cs.provs != 1 { // provenance held back to the end of the run
		t.Fatalf("first run: %d PutObjects, %d AddProvenance", cs.puts, cs.provs)
	}
	resetCursor(t, cs, "quiet")
	*cs = countingStore{Store: cs.Store}
	now = testTime.Add(time.Hour)
	mustRun(t, r, f)
	if cs.puts != 0 || cs.provs != 0 || cs.states != 1 {
		t.Fatalf("same-day re-pull: %d PutObjects, %d AddProvenance, %d PutFeedState", cs.puts, cs.provs, cs.states)
	}
	resetCursor(t, cs, "quiet")
	*cs = countingStore{Store: cs.Store}
	now = testTime.Add(day)
	if st := mustRun(t, r, f); cs.puts != 0 || cs.provs < 1 || cs.provs > 2 || st.Provenance != 10 {
		t.Fatalf("next day: %d PutObjects, %d AddProvenance, stats %+v", cs.puts, cs.provs, st)
	}
}

// provFailStore fails every AddProvenance.
type provFailStore struct{ ingest.Store }

func (provFailStore) AddProvenance(context.Context, []storage.Provenance) (*storage.WriteResult, error) {
	return nil, errDisk
}

// TestRunProvenanceHeldBack: provenance records held back across batches are
// stored before the cursor moves; when storing them fails the cursor stays
// where it was, and the rerun (objects now unchanged) stores the records.
func TestRunProvenanceHeldBack(t *testing.T) {
	base := testStore(t)
	now := testTime
	src := &sliceSource{batches: []ingest.Batch{
		{Observations: observations("h0-", 3, true)},
		{Observations: observations("h1-", 3, true)},
	}}
	f := feed("held", src)
	if _, err := newRunner(provFailStore{base}, &now).Run(context.Background(), f); !errors.Is(err, errDisk) {
		t.Fatalf("got %v, want errDisk", err)
	}
	state, err := base.FeedState(context.Background(), "held")
	if err != nil || len(state.Cursor) != 0 || state.ErrorCount != 1 {
		t.Fatalf("state after a provenance failure: %+v %v", state, err)
	}
	st := mustRun(t, newRunner(base, &now), f)
	if st.New != 0 || st.Provenance != 6 {
		t.Fatalf("rerun: %+v", st)
	}
	if state, _ = base.FeedState(context.Background(), "held"); string(state.Cursor) != "2" {
		t.Fatalf("cursor %q", state.Cursor)
	}
}
