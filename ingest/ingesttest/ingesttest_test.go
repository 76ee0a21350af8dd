package ingesttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// recorder is a testing.TB that records Errorf calls instead of failing, so the
// helpers' failure paths can be checked. Fatal paths are not exercised through it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestMustRepoRoot(t *testing.T) {
	root := ingesttest.MustRepoRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(mod), "module github.com/ctibroker/ctibroker\n") {
		t.Errorf("go.mod in %s starts %q, want the ctibroker module", root, mod[:40])
	}
	if _, err := os.Stat(filepath.Join(root, "ingest", "ingesttest", "doc.go")); err != nil {
		t.Errorf("root %s does not hold this package: %v", root, err)
	}
}

func TestMustAttackSample(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	if ref, ok := ix.Resolve("T1059.001"); !ok || !strings.HasPrefix(ref.ID, "attack-pattern--") {
		t.Errorf("Resolve(T1059.001) = %+v, %v; want the PowerShell attack-pattern", ref, ok)
	}
}

func TestMustMatchGolden(t *testing.T) {
	want := filepath.Join(t.TempDir(), "want.json")
	ingesttest.MustMatchGolden(t, want, []byte("{}\n"), true) // -update writes, then matches
	if b, err := os.ReadFile(want); err != nil || string(b) != "{}\n" {
		t.Fatalf("update wrote %q, %v; want {}", b, err)
	}
	r := &recorder{TB: t}
	ingesttest.MustMatchGolden(r, want, []byte("[]\n"), false)
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], want) || !strings.Contains(r.errors[0], "[]") {
		t.Errorf("a differing output reported %q, want one error naming the file and the output", r.errors)
	}
	if b, _ := os.ReadFile(want); string(b) != "{}\n" {
		t.Errorf("without update the golden file changed to %q", b)
	}
}

func TestMustRenderBatch(t *testing.T) {
	b := &ingest.Batch{
		Observations: []ingest.Observation{{Type: "ipv4-addr", Value: "198.51.100.7", Detect: true,
			Seen: time.Date(2025, 1, 2, 4, 5, 6, 789, time.FixedZone("x", 3600))}},
		Warnings: []ingest.Warning{{Feed: "f", Record: "3", Field: "value", Msg: "bad"}},
	}
	var got struct {
		Objects      []json.RawMessage
		Observations []map[string]any
		Warnings     []string
	}
	if err := json.Unmarshal(ingesttest.MustRenderBatch(t, b), &got); err != nil {
		t.Fatal(err)
	}
	if got.Objects == nil || len(got.Objects) != 0 {
		t.Errorf("objects %v, want an empty list", got.Objects)
	}
	if len(got.Observations) != 1 || got.Observations[0]["seen"] != "2025-01-02T03:05:06Z" || got.Observations[0]["value"] != "198.51.100.7" {
		t.Errorf("observations %v, want the one value seen at 2025-01-02T03:05:06Z", got.Observations)
	}
	if len(got.Warnings) != 1 || got.Warnings[0] != "f: record 3: value: bad" {
		t.Errorf("warnings %q", got.Warnings)
	}
	if ws := ingesttest.WarningStrings(nil); ws == nil {
		t.Error("WarningStrings(nil) is nil, want an empty list")
	}
}

func TestFindAndHasWarning(t *testing.T) {
	obs := []ingest.Observation{{Value: "a"}, {Value: "b", Detect: true}}
	if o := ingesttest.FindObservation(obs, "b"); o == nil || !o.Detect {
		t.Errorf("FindObservation(b) = %+v", o)
	}
	if o := ingesttest.FindObservation(obs, "c"); o != nil {
		t.Errorf("FindObservation(c) = %+v, want nil", o)
	}
	ws := []ingest.Warning{{Record: "line 4 (0.0.0.0)", Field: "Name"}}
	if !ingesttest.HasWarning(ws, "line 4", "Name") || ingesttest.HasWarning(ws, "line 4", "Risk") || ingesttest.HasWarning(ws, "line 5", "Name") {
		t.Error("HasWarning matched the wrong record or field")
	}
}

// TestMustIngestBundle ingests one detection-worthy value through the real
// Runner: the stored bundle holds its indicator and observable, validates with
// zero errors, and an invalid object is reported by MustValidateBundle.
func TestMustIngestBundle(t *testing.T) {
	obs := []ingest.Observation{{Type: "ipv4-addr", Value: "198.51.100.7", Detect: true, Seen: ingesttest.Time}}
	stored := ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "t", Provider: "test"}, nil, obs)
	types := map[string]int{}
	for _, raw := range stored {
		var o struct{ Type string }
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		types[o.Type]++
	}
	if types["indicator"] != 1 || types["ipv4-addr"] != 1 {
		t.Errorf("stored types %v, want one indicator and one ipv4-addr", types)
	}
	for i := 1; i < len(stored); i++ {
		if string(stored[i-1]) > string(stored[i]) {
			t.Errorf("objects not sorted at %d", i)
		}
	}
	ingesttest.MustValidateBundle(t, stored)

	r := &recorder{TB: t}
	bad := append(stored[:len(stored):len(stored)], json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--x"}`))
	ingesttest.MustValidateBundle(r, bad)
	if len(r.errors) == 0 {
		t.Error("an indicator without pattern, created or modified validated")
	}
}

func TestMustFeedConfigAndNewFeed(t *testing.T) {
	cfg := ingesttest.MustFeedConfig(t, "name: f\nprovider: fixed\noptions:\n  key_env: K\n", map[string]string{"K": "v"})
	if cfg.Name != "f" || cfg.Provider != "fixed" || cfg.Getenv("K") != "v" || cfg.Getenv("OTHER") != "" {
		t.Fatalf("config %+v, Getenv(K) %q; want f/fixed and K=v only", cfg, cfg.Getenv("K"))
	}
	var got ingest.FeedConfig
	f := ingesttest.MustNewFeed(t, func(c ingest.FeedConfig) (ingest.Source, error) {
		got = c
		return ingesttest.Batches{}, nil
	}, cfg)
	if got.Name != "f" || f.Config.Name != "f" {
		t.Errorf("factory saw %q, feed config %q; want f", got.Name, f.Config.Name)
	}
	if _, ok := f.Source.(ingesttest.Batches); !ok {
		t.Errorf("source %T, want the factory's", f.Source)
	}
}

func TestFailingStore(t *testing.T) {
	errFull := errors.New("disk full")
	fs := &ingesttest.FailingStore{Store: ingesttest.MustStore(t), Err: errFull, FailCall: 2}
	put := func(n int) error {
		o, err := stix.ParseRaw([]byte(fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-00000000000%d","created":"2025-01-01T00:00:00.000Z","modified":"2025-01-01T00:00:00.000Z","name":"n%d"}`, n, n)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = fs.PutObjects(context.Background(), ingest.DefaultPool, []stix.RawObject{*o})
		return err
	}
	if err := put(1); err != nil {
		t.Fatalf("call 1: %v", err)
	}
	if err := put(2); !errors.Is(err, errFull) {
		t.Fatalf("call 2: got %v, want %v", err, errFull)
	}
	if err := put(3); err != nil {
		t.Fatalf("call 3: %v", err)
	}
	fs.Fail = true
	if err := put(4); !errors.Is(err, errFull) {
		t.Fatalf("call 4 with Fail set: got %v, want %v", err, errFull)
	}
	page, err := fs.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 {
		t.Errorf("stored %d objects, want 2 (calls 1 and 3)", len(page.Records))
	}
}

// TestCutResponse: a client reading a cut response gets the promised length,
// the first bytes and then an unexpected EOF.
func TestCutResponse(t *testing.T) {
	body := []byte(strings.Repeat("0123456789", 100))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ingesttest.CutResponse(w, body, 300); err != nil {
			t.Errorf("CutResponse: %v", err)
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if resp.ContentLength != 1000 || !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != string(body[:300]) {
		t.Errorf("length %d, read %d bytes, err %v; want 1000 promised, the first 300 read, unexpected EOF", resp.ContentLength, len(got), err)
	}
	rec := httptest.NewRecorder()
	if err := ingesttest.CutResponse(rec, body, 10); !errors.Is(err, ingesttest.ErrNoHijack) {
		t.Errorf("on a recorder: got %v, want ErrNoHijack", err)
	}
}

func TestScript(t *testing.T) {
	var s ingesttest.Script
	s.Fail("429", "cut")
	var got []string
	for i := 0; i < 3; i++ {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/r%d", i), nil)
		got = append(got, s.Next(req))
	}
	if strings.Join(got, ",") != "429,cut," {
		t.Errorf("steps %q, want 429, cut, then none", got)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].URL.Path != "/r0" || reqs[2].URL.Path != "/r2" {
		t.Errorf("requests %v, want /r0 /r1 /r2", reqs)
	}
	reqs[0] = nil
	if s.Requests()[0] == nil {
		t.Error("Requests returned the recorder's own slice")
	}
}

func TestClock(t *testing.T) {
	c := ingesttest.NewClock(ingesttest.Time)
	if err := c.Sleep(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, 2*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a done context: got %v, want context.Canceled", err)
	}
	if got, want := c.Now(), ingesttest.Time.Add(time.Hour+3*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	if got := fmt.Sprint(c.Sleeps()); got != "[1s 2s]" {
		t.Errorf("Sleeps() = %s, want [1s 2s] (Advance is not a sleep)", got)
	}
}
