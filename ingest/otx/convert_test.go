package otx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/otx"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

// testNow is the converters' reference time for expirations in the golden cases.
var testNow = time.Date(2025, 5, 22, 0, 0, 0, 0, time.UTC)

func convertFile(tb testing.TB, conv *otx.Converter, path string) *ingest.Batch {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var b ingest.Batch
	if _, err := conv.Convert(f, &b); err != nil {
		tb.Fatalf("Convert(%s): %v", path, err)
	}
	return &b
}

// TestGolden converts each testdata/<case>/input.json and compares with
// want.json; -update rewrites want.json. Every object must validate with zero
// errors.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	ix := ingesttest.MustAttackSample(t)
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			conv := &otx.Converter{Attack: ix, Identity: ingesttest.Identity, Now: testNow}
			b := convertFile(t, conv, in)
			got := ingesttest.MustRenderBatch(t, b)
			ingesttest.MustMatchGolden(t, filepath.Join(dir, "want.json"), got, *update)
			// Same input, same bytes.
			if again := ingesttest.MustRenderBatch(t, convertFile(t, conv, in)); !bytes.Equal(again, got) {
				t.Error("second conversion differs")
			}
			ingesttest.MustValidateBatch(t, b)
		})
	}
}

func TestPulseMapping(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	conv := &otx.Converter{Attack: ix, Identity: ingesttest.Identity, Now: testNow}
	b := convertFile(t, conv, "testdata/pulses/input.json")

	reports := ingesttest.MustObjectsOf(t, b, "report")
	if len(reports) != 2 {
		t.Fatalf("got %d reports, want 2", len(reports))
	}
	r := reports[0]
	if r["id"] != otx.ReportID("65a1f0c2e4b0a1b2c3d4e5f6") || r["created_by_ref"] != otx.IdentityID {
		t.Errorf("report id/created_by_ref: %v %v", r["id"], r["created_by_ref"])
	}
	if r["created"] != "2025-05-18T08:00:00.500Z" || r["modified"] != "2025-05-20T10:15:30.123Z" || r["published"] != "2025-05-18T08:00:00.500Z" {
		t.Errorf("report times: %v %v %v", r["created"], r["modified"], r["published"])
	}
	if m := r["object_marking_refs"].([]any); len(m) != 1 || m[0] != stix.TLP2AmberID {
		t.Errorf("markings: %v", m)
	}
	ext := r["extensions"].(map[string]any)[otx.ExtensionID].(map[string]any)
	if ext["pulse_id"] != "65a1f0c2e4b0a1b2c3d4e5f6" || ext["author_name"] != "ExampleAnalyst" || ext["adversary"] != "Fancy Bear" {
		t.Errorf("extension: %v", ext)
	}
	refs := map[string]bool{}
	for _, x := range r["object_refs"].([]any) {
		refs[x.(string)] = true
	}
	// ATT&CK: Fancy Bear is APT28 by alias, T1066 is revoked by T1027.005, Cobalt
	// Strike is S0154; T9999 is unknown.
	for _, id := range []string{
		"intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c",  // APT28
		"malware--a7881f21-e978-4fe4-af56-92c9416a2616",        // Cobalt Strike
		"attack-pattern--2e34237d-8574-43f6-aace-ae2915de8597", // T1566.001
		"attack-pattern--7385dfaf-6886-4229-9ecd-6fd678040830", // T1059
		"attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92", // T1027.005 for T1066
		ingest.ContextID("malware", "exampleloader"),
		ingest.ContextID("vulnerability", "CVE-2023-4966"),
		ingest.ContextID("vulnerability", "CVE-2024-3400"),
	} {
		if !refs[id] {
			t.Errorf("object_refs lacks %s", id)
		}
	}
	warned := func(sub string) bool {
		for _, w := range b.Warnings {
			if strings.Contains(w.String(), sub) {
				return true
			}
		}
		return false
	}
	for _, w := range []string{"unknown ATT&CK id T9999", `OTX type "Mutex"`, `999.1.1.1`, `/gate.php`} {
		if !warned(w) {
			t.Errorf("no warning mentioning %q in %v", w, b.Warnings)
		}
	}
	// Observations: detect for active, withdrawn for inactive and expired.
	byValue := map[string]ingest.Observation{}
	for _, o := range b.Observations {
		if _, ok := byValue[o.Value]; !ok {
			byValue[o.Value] = o
		}
	}
	for v, want := range map[string][2]bool{
		"198.51.100.8": {false, true}, "198.51.100.9": {false, true},
		"evil-lure.example": {true, false}, "203.0.113.0/24": {true, false},
	} {
		o, ok := byValue[v]
		if !ok || o.Detect != want[0] || o.Revoked != want[1] {
			t.Errorf("observation %s: %+v (found %v), want detect %v revoked %v", v, o, ok, want[0], want[1])
		}
	}
	if o := byValue["198.51.100.7"]; o.Context.TLP != "amber" || !slices.Equal(o.Context.Actors, []string{"Fancy Bear"}) ||
		!slices.Contains(o.Context.ReportRefs, r["id"].(string)) {
		t.Errorf("context: %+v", o.Context)
	}
	// The group uses the malware, which uses the techniques.
	dn, _ := ingest.Normalize("domain", "evil-lure[.]example")
	has := func(typ, src, tgt string) bool {
		for _, rel := range ingesttest.MustObjectsOf(t, b, "relationship") {
			if rel["relationship_type"] == typ && rel["source_ref"] == src && rel["target_ref"] == tgt {
				return true
			}
		}
		return false
	}
	if !refs[ingest.IndicatorID(dn)] || !refs[ingest.ObservableID(dn)] {
		t.Error("object_refs lacks the domain's indicator or observable")
	}
	if !has("uses", "intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c", "malware--a7881f21-e978-4fe4-af56-92c9416a2616") {
		t.Error("APT28 does not use Cobalt Strike")
	}
	if !has("uses", "malware--a7881f21-e978-4fe4-af56-92c9416a2616", "attack-pattern--7385dfaf-6886-4229-9ecd-6fd678040830") {
		t.Error("Cobalt Strike does not use T1059")
	}
	// Sectors: identity class with industry-sector-ov.
	secs := map[string]string{}
	for _, id := range ingesttest.MustObjectsOf(t, b, "identity") {
		if id["identity_class"] == "class" {
			secs[id["name"].(string)] = id["sectors"].([]any)[0].(string)
		}
	}
	if secs["Government"] != "government" || secs["Healthcare"] != "healthcare" || secs["Space Tourism"] != "space-tourism" {
		t.Errorf("sectors: %v", secs)
	}
	// The second pulse names no malware or group: its indicators indicate the technique.
	r2 := reports[1]
	if m := r2["object_marking_refs"].([]any); m[0] != stix.TLP2ClearID {
		t.Errorf("white → clear: %v", m)
	}
}

// TestRunnerValidates ingests the golden inputs through the Runner on a real
// store; every stored object validates with zero errors and every object_ref of
// every report resolves to a stored object or to an ATT&CK object.
func TestRunnerValidates(t *testing.T) {
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	ctx := context.Background()
	if err := s.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	ix := ingesttest.MustAttackSample(t)
	conv := &otx.Converter{Attack: ix, Identity: ingesttest.Identity, Now: testNow}
	var batches []ingest.Batch
	for _, c := range []string{"pulses", "details", "export"} {
		batches = append(batches, *convertFile(t, conv, filepath.Join("testdata", c, "input.json")))
	}
	r := &ingest.Runner{Store: s, Identity: ingesttest.Identity, Now: func() time.Time { return testNow }}
	cfg := ingest.FeedConfig{Name: "otx-test", Provider: "otx", Attack: ix}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(ctx, &ingest.Feed{Config: cfg, Source: ingesttest.Batches(batches)})
	if err != nil {
		t.Fatal(err)
	}
	if st.New == 0 || st.Observations == 0 {
		t.Fatalf("stats: %v", st)
	}
	page, err := s.QueryObjects(ctx, ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{ingesttest.Identity: true}
	for _, rec := range page.Records {
		stored[rec.ID] = true
	}
	v := ingesttest.Validator()
	for _, rec := range page.Records {
		for _, f := range v.Validate(rec.JSON) {
			if f.Severity == stix.SeverityError {
				t.Errorf("%s\n  %s", stix.FormatFinding(f), rec.JSON)
			}
		}
		if rec.Type != "report" && rec.Type != "relationship" {
			continue
		}
		var o struct {
			ObjectRefs []string `json:"object_refs"`
			SourceRef  string   `json:"source_ref"`
			TargetRef  string   `json:"target_ref"`
		}
		json.Unmarshal(rec.JSON, &o)
		for _, ref := range append(o.ObjectRefs, o.SourceRef, o.TargetRef) {
			if ref == "" || stored[ref] {
				continue
			}
			if _, ok := ix.Object(ref); !ok {
				t.Errorf("%s refers to %s: neither stored nor ATT&CK", rec.ID, ref)
			}
		}
	}
	// The Runner authored the indicates relationships from the observations'
	// context: the domain's indicator indicates Cobalt Strike (by name), APT28
	// (Fancy Bear, by alias), ExampleLoader and T1027.005 (T1066, revoked).
	dn, _ := ingest.Normalize("domain", "evil-lure.example")
	for _, target := range []string{"malware--a7881f21-e978-4fe4-af56-92c9416a2616", "intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c",
		"attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92", ingest.ContextID("malware", "ExampleLoader")} {
		id := stix.DeterministicID("relationship", mustUUID(t, ingest.Namespace), "indicates|"+ingest.IndicatorID(dn)+"|"+target)
		if !stored[id] {
			t.Errorf("no indicates relationship to %s", target)
		}
	}
	// A second run of the same batches writes nothing.
	st2, err := r.Run(ctx, &ingest.Feed{Config: cfg, Source: ingesttest.Batches(batches)})
	if err != nil {
		t.Fatal(err)
	}
	if st2.New != 0 || st2.Changed != 0 {
		t.Errorf("second run: %v", st2)
	}
}

// TestRealPayloads converts the real OTX payloads in ../shared (Elastic License:
// read from there, never copied) and checks the output against values read
// independently from the payload.
func TestRealPayloads(t *testing.T) {
	page1 := ingesttest.MustShared(t, "testdata/providers/otx/pulses_subscribed_page1.json")
	raw, err := os.ReadFile(page1)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []map[string]any `json:"results"`
		Next    string           `json:"next"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := doc.Results[0]
	ix := ingesttest.MustAttackSample(t)
	if full := filepath.Join(ingesttest.MustRepoRoot(t), "..", "shared", "attack", "enterprise-attack-18.1.json.gz"); !testing.Short() {
		if x, err := attack.Load(full); err == nil {
			ix = x
		}
	}
	modified, _ := otx.ParseTime(want["modified"].(string))
	conv := &otx.Converter{Attack: ix, Identity: ingesttest.Identity, Now: modified}
	var b ingest.Batch
	info, err := conv.Convert(bytes.NewReader(raw), &b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Next != doc.Next || info.Results != len(doc.Results) {
		t.Errorf("page info %+v, want next %q and %d results", info, doc.Next, len(doc.Results))
	}
	reports := ingesttest.MustObjectsOf(t, &b, "report")
	if len(reports) != 1 || reports[0]["name"] != want["name"] || reports[0]["id"] != otx.ReportID(want["id"].(string)) {
		t.Fatalf("reports: %v", reports)
	}
	if reports[0]["object_marking_refs"].([]any)[0] != stix.TLP2ClearID { // tlp white
		t.Errorf("tlp %v: %v", want["tlp"], reports[0]["object_marking_refs"])
	}
	inds := want["indicators"].([]any)
	if len(b.Observations) != len(inds) {
		t.Fatalf("got %d observations, want %d", len(b.Observations), len(inds))
	}
	for i, x := range inds {
		m := x.(map[string]any)
		o := b.Observations[i]
		if n, _ := ingest.Normalize(o.Type, m["indicator"].(string)); o.Value != n.Value || !o.Detect {
			t.Errorf("observation %d: %s detect %v, want %s active", i, o.Value, o.Detect, m["indicator"])
		}
		if _, err := ingest.Normalize(o.Type, o.Value); err != nil {
			t.Errorf("observation %d: %v", i, err)
		}
	}
	fams := ingesttest.MustObjectsOf(t, &b, "malware")
	if len(fams) != 1 || fams[0]["name"] != want["malware_families"].([]any)[0] || fams[0]["is_family"] != true {
		t.Errorf("malware: %v", fams)
	}
	// ATT&CK ids: each resolved to the attack-pattern MITRE gives it, or warned about.
	refs := map[string]bool{}
	for _, x := range reports[0]["object_refs"].([]any) {
		refs[x.(string)] = true
	}
	for _, a := range want["attack_ids"].([]any) {
		if ref, ok := ix.Resolve(a.(string)); ok {
			if !refs[ref.ID] {
				t.Errorf("%s (%s) not in object_refs", a, ref.ID)
			}
			continue
		}
		found := false
		for _, w := range b.Warnings {
			found = found || strings.Contains(w.Msg, a.(string))
		}
		if !found {
			t.Errorf("%s neither resolved nor warned about", a)
		}
	}
	ingesttest.MustValidateBatch(t, &b)
	// The empty last page and the export page.
	var empty ingest.Batch
	info, err = conv.Convert(mustOpen(t, ingesttest.MustShared(t, "testdata/providers/otx/pulses_subscribed_page2_empty.json")), &empty)
	if err != nil || info.Next != "" || len(empty.Objects)+len(empty.Observations) != 0 {
		t.Errorf("empty page: %+v %v %+v", info, err, empty)
	}
	exportRaw, err := os.ReadFile(ingesttest.MustShared(t, "testdata/providers/otx/indicators_export_page1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Results []struct {
			Indicator string `json:"indicator"`
		} `json:"results"`
		Next string `json:"next"`
	}
	json.Unmarshal(exportRaw, &exp)
	var eb ingest.Batch
	info, err = conv.Convert(bytes.NewReader(exportRaw), &eb)
	if err != nil || info.Kind != otx.KindExport || info.Next != exp.Next {
		t.Fatalf("export: %+v %v", info, err)
	}
	if len(eb.Observations) != len(exp.Results) {
		t.Fatalf("export: %d observations, want %d", len(eb.Observations), len(exp.Results))
	}
	for i, r := range exp.Results {
		if eb.Observations[i].Value != r.Indicator || !eb.Observations[i].Detect {
			t.Errorf("export %d: %+v", i, eb.Observations[i])
		}
	}
}

func mustOpen(tb testing.TB, p string) *os.File {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func TestDecodePageErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		in, want string
	}{
		"not json":       {`<html>`, "otx response"},
		"cut off":        {`{"results":[{"id":"a","name":"x","indicators":[`, "cut off"},
		"results string": {`{"results":"x"}`, "want an array"},
		"bad pulse":      {`{"results":[{"id":"a","indicators":"x"}]}`, "results[0]"},
		"neither":        {`{"foo":1}`, "neither a page"},
		"scalar":         {`42`, "want a JSON object or array"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := otx.DecodePage(strings.NewReader(tt.in), otx.KindAuto,
				func(*otx.Pulse) error { return nil }, func(*otx.ExportIndicator) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestExtensionID(t *testing.T) {
	want := stix.DeterministicID("extension-definition", mustUUID(t, ingest.Namespace), "ctibroker otx extension")
	if otx.ExtensionID != want {
		t.Fatalf("ExtensionID = %s, want %s", otx.ExtensionID, want)
	}
	for _, o := range []stix.Object{otx.ProviderIdentity(), otx.ExtensionDefinition(ingesttest.Identity)} {
		raw, _ := json.Marshal(o)
		if fs := ingesttest.Validator().Validate(raw); stix.HasErrors(fs) {
			t.Errorf("%s: %v", raw, fs)
		}
	}
}

func mustUUID(tb testing.TB, s string) uuid.UUID {
	tb.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestSettle: 198.51.100.7 has expired in the first pulse but is live in the
// second; for the feed it is live, so no withdrawal is emitted for it.
func TestSettle(t *testing.T) {
	conv := &otx.Converter{Attack: ingesttest.MustAttackSample(t), Identity: ingesttest.Identity, Now: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)}
	b := convertFile(t, conv, "testdata/pulses/input.json")
	n := 0
	for _, o := range b.Observations {
		if o.Value == "198.51.100.7" {
			n++
			if o.Revoked || !o.Detect {
				t.Errorf("withdrawal kept: %+v", o)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d observations of 198.51.100.7, want 1", n)
	}
}

// pageStream generates an OTX page of n copies of one pulse on the fly, so the
// whole page never exists in memory.
type pageStream struct {
	parts [][]byte
	pulse []byte
	n, i  int
	cur   []byte
}

func newPageStream(n int) *pageStream {
	p, _ := json.Marshal(pulseWith(100))
	return &pageStream{pulse: p, n: n}
}

func (s *pageStream) Read(b []byte) (int, error) {
	for len(s.cur) == 0 {
		switch {
		case s.i == 0:
			s.cur = []byte(`{"results":[`)
		case s.i <= s.n:
			s.cur = s.pulse
			if s.i > 1 {
				s.cur = append([]byte{','}, s.pulse...)
			}
		case s.i == s.n+1:
			s.cur = []byte(`],"count":1,"next":null}`)
		default:
			return 0, io.EOF
		}
		s.i++
	}
	n := copy(b, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

func pulseWith(n int) map[string]any {
	var inds []map[string]any
	for j := 0; j < n; j++ {
		inds = append(inds, map[string]any{"id": j, "indicator": fmt.Sprintf("198.51.100.%d", j%250), "type": "IPv4",
			"created": "2025-01-01T00:00:00", "is_active": 1, "description": strings.Repeat("x", 200)})
	}
	return map[string]any{"id": "66aa00000000000000000001", "name": "big", "created": "2025-01-01T00:00:00",
		"modified": "2025-01-01T00:00:00", "indicators": inds, "malware_families": []string{"BigBot"}}
}

// TestDecodeMemoryBounded streams a page of about 60 MB through DecodePage: the
// heap stays far below the page's size.
func TestDecodeMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 60 MB")
	}
	s := newPageStream(2000)
	total := len(s.pulse) * 2000
	var maxHeap uint64
	var ms runtime.MemStats
	n := 0
	info, err := otx.DecodePage(s, otx.KindAuto, func(p *otx.Pulse) error {
		if n++; n%250 == 0 {
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
		}
		return nil
	}, nil)
	if err != nil || info.Results != 2000 {
		t.Fatalf("%+v %v", info, err)
	}
	if maxHeap > 64<<20 {
		t.Errorf("heap in use reached %d MB streaming a %d MB page", maxHeap>>20, total>>20)
	}
	t.Logf("page %d MB, max heap in use %d MB", total>>20, maxHeap>>20)
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2023-08-22T09:43:18.855000":   "2023-08-22T09:43:18.855Z",
		"2023-08-22T09:43:18":          "2023-08-22T09:43:18Z",
		"2023-08-22 09:43:18":          "2023-08-22T09:43:18Z",
		"2023-08-22":                   "2023-08-22T00:00:00Z",
		"2023-08-22T09:43:18Z":         "2023-08-22T09:43:18Z",
		"2023-08-22T11:43:18.5+02:00":  "2023-08-22T09:43:18.5Z",
		"2023-08-22T04:43:18.5-05:00":  "2023-08-22T09:43:18.5Z",
		" 2023-08-22T09:43:18.000001 ": "2023-08-22T09:43:18.000001Z",
	} {
		got, err := otx.ParseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got.Format(time.RFC3339Nano), err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2023-13-01T00:00:00", "22/08/2023"} {
		if _, err := otx.ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}
