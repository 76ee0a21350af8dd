package attack_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/attack"
)

const sample = "testdata/enterprise-attack-18.1-sample.json"

// sharedAttack returns ../shared/attack/name next to the repository root, or
// skips the test when it is absent.
func sharedAttack(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "attack", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("ATT&CK data not available: %v", err)
	}
	return p
}

// bundleObjects decodes a whole bundle with encoding/json, independently of the
// package under test.
func bundleObjects(tb testing.TB, file string) []map[string]any {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.NewDecoder(r).Decode(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Objects
}

func attackID(o map[string]any) string {
	refs, _ := o["external_references"].([]any)
	for _, r := range refs {
		m := r.(map[string]any)
		if s, _ := m["source_name"].(string); strings.HasPrefix(s, "mitre-") && strings.HasSuffix(s, "attack") {
			id, _ := m["external_id"].(string)
			return id
		}
	}
	return ""
}

func isTrue(o map[string]any, key string) bool { b, _ := o[key].(bool); return b }

func TestResolveSample(t *testing.T) {
	ix, err := attack.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]attack.Ref{
		"T1059.001":  {ID: "attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736", Type: "attack-pattern", Name: "PowerShell", ExternalID: "T1059.001", URL: "https://attack.mitre.org/techniques/T1059/001"},
		" t1059/001": {ID: "attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736", Type: "attack-pattern", Name: "PowerShell", ExternalID: "T1059.001", URL: "https://attack.mitre.org/techniques/T1059/001"},
		"S0154":      {ID: "malware--a7881f21-e978-4fe4-af56-92c9416a2616", Type: "malware", Name: "Cobalt Strike", ExternalID: "S0154", URL: "https://attack.mitre.org/software/S0154"},
		"S0002":      {ID: "tool--afc079f3-c0ea-4096-b75d-3f05338b7f60", Type: "tool", Name: "Mimikatz", ExternalID: "S0002", URL: "https://attack.mitre.org/software/S0002"},
		"g0007":      {ID: "intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c", Type: "intrusion-set", Name: "APT28", ExternalID: "G0007", URL: "https://attack.mitre.org/groups/G0007"},
		"TA0002":     {ID: "x-mitre-tactic--4ca45d45-df4d-4613-8980-bac22d278fa5", Type: "x-mitre-tactic", Name: "Execution", ExternalID: "TA0002", URL: "https://attack.mitre.org/tactics/TA0002"},
		"T1066":      {ID: "attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92", Type: "attack-pattern", Name: "Indicator Removal from Tools", ExternalID: "T1027.005", URL: "https://attack.mitre.org/techniques/T1027/005", Revoked: "T1066"},
		"T1153":      {ID: "attack-pattern--45d84c8b-c1e2-474d-a14d-69b5de0a2bc0", Type: "attack-pattern", Name: "Source", ExternalID: "T1153", URL: "https://attack.mitre.org/techniques/T1153", Deprecated: true},
	} {
		got, ok := ix.Resolve(in)
		if !ok || got != want {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"T9999", "", "X1", "S01540"} {
		if got, ok := ix.Resolve(in); ok {
			t.Errorf("Resolve(%q) = %+v, want not found", in, got)
		}
	}
	if got, ok := ix.Object("attack-pattern--00d0b012-8a03-410e-95de-5826bf542de6"); !ok || got.ExternalID != "T1027.005" {
		t.Errorf("Object(revoked T1066) = %+v, %v", got, ok)
	}
	if ix.Len() != 16 {
		t.Errorf("Len = %d, want 16 (25 objects less 9 relationships)", ix.Len())
	}
}

func TestResolveNameSample(t *testing.T) {
	ix, err := attack.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		types []string
		want  string // ATT&CK id, "" for not found
	}{
		{"Fancy Bear", nil, "G0007"},
		{"  fancy   BEAR ", nil, "G0007"},
		{"APT28", []string{"intrusion-set"}, "G0007"},
		{"Cobalt-Strike", nil, "S0154"},
		{"cobalt_strike", []string{"malware"}, "S0154"},
		{"Mimikatz", []string{"malware"}, ""},
		{"Mimikatz", []string{"malware", "tool"}, "S0002"},
		{"PowerShell", nil, "T1059.001"},
		{"Indicator Removal from Tools", nil, "T1027.005"}, // the current one, not revoked T1066
		{"Execution", nil, "TA0002"},
		{"Emotet", nil, ""},
	} {
		got, ok := ix.ResolveName(tt.name, tt.types...)
		if ok != (tt.want != "") || got.ExternalID != tt.want {
			t.Errorf("ResolveName(%q, %v) = %+v, %v; want %q", tt.name, tt.types, got, ok, tt.want)
		}
	}
	if got := attack.NormalizeName(" Cobalt\tStrike-_ X "); got != "cobalt strike x" {
		t.Errorf("NormalizeName = %q", got)
	}
}

func TestBadBundles(t *testing.T) {
	for name, in := range map[string]string{
		"array":        `[]`,
		"no objects":   `{"type":"bundle","id":"bundle--1"}`,
		"objects map":  `{"objects":{}}`,
		"cut off":      `{"objects":[{"type":"malware","id":"malware--1"`,
		"bad object":   `{"objects":[{"type":1}]}`,
		"not json":     `hello`,
		"object array": `{"objects":[[1]]}`,
	} {
		if err := attack.New().Add(strings.NewReader(in)); err == nil {
			t.Errorf("%s: Add accepted %q", name, in)
		}
	}
	if err := attack.New().Add(strings.NewReader("[]")); !errors.Is(err, attack.ErrNotBundle) {
		t.Errorf("got %v, want ErrNotBundle", err)
	}
}

// TestResolveRelease checks the real v18.1 bundles against facts read from them
// with encoding/json.
func TestResolveRelease(t *testing.T) {
	files := []string{
		sharedAttack(t, "enterprise-attack-18.1.json.gz"),
		sharedAttack(t, "mobile-attack-18.1.json.gz"),
		sharedAttack(t, "ics-attack-18.1.json.gz"),
	}
	ix, err := attack.Load(files...)
	if err != nil {
		t.Fatal(err)
	}
	objs := bundleObjects(t, files[0])
	byID := map[string]map[string]any{}
	revokedBy := map[string]string{}
	for _, o := range objs {
		byID[o["id"].(string)] = o
		if o["relationship_type"] == "revoked-by" {
			revokedBy[o["source_ref"].(string)] = o["target_ref"].(string)
		}
	}
	// Every current attack-pattern, intrusion-set, malware and tool resolves to itself.
	current := 0
	for _, o := range objs {
		typ := o["type"].(string)
		if typ != "attack-pattern" && typ != "intrusion-set" && typ != "malware" && typ != "tool" {
			continue
		}
		if isTrue(o, "revoked") || isTrue(o, "x_mitre_deprecated") {
			continue
		}
		ext := attackID(o)
		got, ok := ix.Resolve(ext)
		if !ok || got.ID != o["id"] || got.Name != o["name"] {
			t.Errorf("Resolve(%s) = %+v, %v; want %s %q", ext, got, ok, o["id"], o["name"])
		}
		current++
	}
	if current < 1000 {
		t.Fatalf("only %d current objects checked", current)
	}
	// Revoked techniques follow revoked-by to a current object.
	revoked := 0
	for _, o := range objs {
		if o["type"] != "attack-pattern" || !isTrue(o, "revoked") {
			continue
		}
		id := o["id"].(string)
		for hops := 0; isTrue(byID[id], "revoked"); hops++ {
			id = revokedBy[id]
			if id == "" || hops > 10 {
				t.Fatalf("broken revoked-by chain from %s", o["id"])
			}
		}
		ext := attackID(o)
		got, ok := ix.Resolve(ext)
		if !ok {
			t.Errorf("Resolve(revoked %s): not found", ext)
			continue
		}
		switch {
		case got.Revoked == "":
			// Another, current object carries the same ATT&CK id: it wins.
			if o2 := byID[got.ID]; o2 == nil || isTrue(o2, "revoked") || attackID(o2) != ext {
				t.Errorf("Resolve(revoked %s) = %+v, neither its replacement %s nor a current %s", ext, got, id, ext)
			}
		case got.ID != id || got.Revoked != ext:
			t.Errorf("Resolve(revoked %s) = %+v, want %s", ext, got, id)
		}
		if got.Type != "attack-pattern" {
			t.Errorf("Resolve(%s) type %s", ext, got.Type)
		}
		revoked++
	}
	if revoked < 100 {
		t.Fatalf("only %d revoked techniques checked", revoked)
	}
	// Deprecated course-of-action objects carrying T ids do not shadow techniques.
	shadows := 0
	for _, o := range objs {
		ext := attackID(o)
		if o["type"] != "course-of-action" || !strings.HasPrefix(ext, "T") {
			continue
		}
		got, ok := ix.Resolve(ext)
		if ok && got.Type != "attack-pattern" {
			t.Errorf("Resolve(%s) = %s %s, a course-of-action", ext, got.Type, got.ID)
		}
		shadows++
	}
	if shadows < 100 {
		t.Fatalf("only %d course-of-action T ids checked", shadows)
	}
	// Every alias of a current intrusion-set resolves to it, unless several current
	// groups share the alias.
	owners := map[string]map[string]bool{}
	for _, o := range objs {
		if o["type"] != "intrusion-set" || isTrue(o, "revoked") || isTrue(o, "x_mitre_deprecated") {
			continue
		}
		aliases, _ := o["aliases"].([]any)
		for _, a := range aliases {
			k := attack.NormalizeName(a.(string))
			if owners[k] == nil {
				owners[k] = map[string]bool{}
			}
			owners[k][o["id"].(string)] = true
		}
	}
	aliases := 0
	for k, ids := range owners {
		if len(ids) != 1 {
			continue
		}
		got, ok := ix.ResolveName(k, "intrusion-set")
		if !ok || !ids[got.ID] {
			t.Errorf("ResolveName(%q) = %+v, %v; want one of %v", k, got, ok, ids)
		}
		aliases++
	}
	if aliases < 300 {
		t.Fatalf("only %d aliases checked", aliases)
	}
	// The mobile and ICS domains resolve too.
	for _, file := range files[1:] {
		for _, o := range bundleObjects(t, file) {
			if o["type"] != "attack-pattern" || isTrue(o, "revoked") || isTrue(o, "x_mitre_deprecated") {
				continue
			}
			if got, ok := ix.Resolve(attackID(o)); !ok || got.ID != o["id"] {
				t.Errorf("%s: Resolve(%s) = %+v, %v", filepath.Base(file), attackID(o), got, ok)
			}
		}
	}
}

func TestResolveConcurrent(t *testing.T) {
	ix, err := attack.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if r, ok := ix.Resolve("T1066"); !ok || r.ExternalID != "T1027.005" {
					t.Error("concurrent Resolve failed")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLicense(t *testing.T) {
	l := attack.License()
	if !strings.Contains(l, attack.Notice) || !strings.Contains(l, "non-exclusive, royalty-free license") {
		t.Fatalf("NOTICE lacks MITRE's notice or licence:\n%s", l)
	}
}

// BenchmarkLoadEnterprise builds the index from the enterprise bundle (gzip) and,
// in the same iterations, decodes the same bytes with encoding/json into `any`
// as the baseline; it reports both and their ratio.
func BenchmarkLoadEnterprise(b *testing.B) {
	file := sharedAttack(b, "enterprise-attack-18.1.json.gz")
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var index, baseline time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		ix := attack.New()
		if err := ix.Add(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var v any
		if err := json.NewDecoder(zr).Decode(&v); err != nil {
			b.Fatal(err)
		}
		index += t1.Sub(t0)
		baseline += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(index.Milliseconds())/float64(n), "index-ms/op")
	b.ReportMetric(float64(baseline.Milliseconds())/float64(n), "baseline-ms/op")
	b.ReportMetric(float64(index)/float64(baseline), "index/baseline")
}

func BenchmarkResolve(b *testing.B) {
	ix, err := attack.Load(sample)
	if err != nil {
		b.Fatal(err)
	}
	ids := []string{"T1059.001", "S0154", "T1066", "g0007"}
	for i := 0; b.Loop(); i++ {
		if _, ok := ix.Resolve(ids[i%len(ids)]); !ok {
			b.Fatal("not found")
		}
	}
}

func TestReplacement(t *testing.T) {
	ix, err := attack.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"attack-pattern--00d0b012-8a03-410e-95de-5826bf542de6": "attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92", // T1066 → T1027.005
		"attack-pattern--45d84c8b-c1e2-474d-a14d-69b5de0a2bc0": "",                                                     // deprecated, no revoked-by
		"attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92": "",                                                     // current
		"attack-pattern--00000000-0000-4000-8000-000000000000": "",                                                     // unknown
	} {
		ref, ok := ix.Replacement(id)
		if ok != (want != "") || ref.ID != want {
			t.Errorf("Replacement(%s) = %+v, %v; want %q", id, ref, ok, want)
		}
	}
}
