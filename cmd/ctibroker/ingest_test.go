package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/otx"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

const (
	attackSample = "../../ingest/attack/testdata/enterprise-attack-18.1-sample.json"
	otxPulses    = "../../ingest/otx/testdata/pulses/input.json"
	otxDetails   = "../../ingest/otx/testdata/details/input.json"
	stixBundle   = "../../ingest/stixfeed/testdata/bundle/input.json"
	importColl   = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11"
	testID       = "identity--5f0b0d3e-2a7c-4f55-9d8e-1c2b3a4d5e6f"
)

// runVerb runs one of this file's verbs in-process.
func runVerb(t *testing.T, env map[string]string, fn func(*Main, context.Context, []string) error, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	m := NewMain(&out, &errb)
	m.Getenv = func(k string) string { return env[k] }
	err := fn(m, context.Background(), args)
	return out.String(), errb.String(), err
}

// testConfig writes a config with an embedded store in a temp dir and returns
// its path and the store directory.
func testConfig(t *testing.T, feeds string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := fmt.Sprintf(`store: embedded:%s
identity: {name: Test ctibroker, id: %s}
api_roots:
  - {name: intel, title: Test}
collections:
  - {id: %s, api_root: intel, title: Imports, kind: stored}
%s`, data, testID, importColl, feeds)
	p := filepath.Join(dir, "ctibroker.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// checkBundle validates a bundle with the full validator: zero errors; the only
// warning tolerated is DESIGN.md's indicator based-on SCO relationship.
func checkBundle(t *testing.T, b []byte) map[string]map[string]any {
	t.Helper()
	v := &stix.Validator{PatternChecker: pattern.Check}
	for _, f := range v.Validate(b) {
		if f.Severity == stix.SeverityError {
			t.Errorf("%s", stix.FormatFinding(f))
		}
	}
	var doc struct {
		Type    string           `json:"type"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Type != "bundle" {
		t.Fatalf("not a bundle: %v", err)
	}
	byID := map[string]map[string]any{}
	for _, o := range doc.Objects {
		byID[o["id"].(string)] = o
	}
	return byID
}

func TestConvertOTXDeterministic(t *testing.T) {
	args := []string{"--provider", "otx", "--attack", attackSample, otxPulses, otxDetails}
	out1, errOut, err := runVerb(t, nil, (*Main).runConvert, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	out2, _, err := runVerb(t, nil, (*Main).runConvert, args...)
	if err != nil || out1 != out2 {
		t.Fatalf("second run differs (%v)", err)
	}
	// The files' order does not matter either.
	out3, _, err := runVerb(t, nil, (*Main).runConvert, "--provider", "otx", "--attack", attackSample, otxDetails, otxPulses)
	if err != nil || out3 != out1 {
		t.Fatalf("reversed file order differs (%v)", err)
	}
	if !strings.Contains(errOut, "warning: otx: record pulse 65a1f0c2e4b0a1b2c3d4e5f6: attack_ids[3]: unknown ATT&CK id T9999") {
		t.Errorf("warnings on stderr: %s", errOut)
	}
	objs := checkBundle(t, []byte(out1))
	// Every reference resolves inside the bundle or to a real ATT&CK object.
	ix, err := attack.Load(attackSample)
	if err != nil {
		t.Fatal(err)
	}
	attackRefs := 0
	for id, o := range objs {
		var refs []string
		for _, k := range []string{"source_ref", "target_ref", "created_by_ref"} {
			if s, ok := o[k].(string); ok {
				refs = append(refs, s)
			}
		}
		if l, ok := o["object_refs"].([]any); ok {
			for _, x := range l {
				refs = append(refs, x.(string))
			}
		}
		for _, r := range refs {
			if objs[r] != nil {
				continue
			}
			if ref, ok := ix.Object(r); ok {
				attackRefs++
				if ref.ID != r {
					t.Errorf("%s refers to revoked ATT&CK %s", id, r)
				}
				continue
			}
			t.Errorf("%s refers to %s: not in the bundle, not ATT&CK", id, r)
		}
	}
	if attackRefs == 0 {
		t.Error("no reference to an ATT&CK object")
	}
	// The authored indicator of an active value, with the pool's id.
	v, _ := ingest.Normalize("ipv4-addr", "198.51.100.7")
	ind := objs[ingest.IndicatorID(v)]
	if ind == nil || ind["pattern"] != "[ipv4-addr:value = '198.51.100.7']" || ind["created_by_ref"] != defaultIdentity.ID {
		t.Errorf("indicator: %v", ind)
	}
	// The clock comes from the data: the latest pulse time.
	if ind["created"] != "2025-05-21T00:00:00.000Z" {
		t.Errorf("indicator created %v, want the latest time in the input", ind["created"])
	}
	// Inactive values author no indicator.
	v8, _ := ingest.Normalize("ipv4-addr", "198.51.100.8")
	if objs[ingest.IndicatorID(v8)] != nil {
		t.Error("inactive value has an indicator")
	}
}

func TestConvertSTIX(t *testing.T) {
	out, errOut, err := runVerb(t, nil, (*Main).runConvert, "--provider", "stix", stixBundle)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	objs := checkBundle(t, []byte(out))
	in, _ := os.ReadFile(stixBundle)
	// The received objects are there byte-for-byte.
	for _, id := range []string{"indicator--0b4a8c62-0c6e-4f3a-9d3f-6a0f1b2c3d41", "malware--7a0a1b2c-3d4e-4f50-8a61-72839a0b1c2d"} {
		if objs[id] == nil {
			t.Errorf("%s missing", id)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, ",")
		if strings.Contains(line, `"id":"indicator--0b4a8c62`) && !bytes.Contains(in, []byte(line)) {
			t.Errorf("not byte-exact: %s", line)
		}
	}
	v, _ := ingest.Normalize("ipv4-addr", "198.51.100.23")
	if objs[ingest.IndicatorID(v)] == nil {
		t.Error("no pool indicator for the simple pattern")
	}
	if !strings.Contains(errOut, "modified is required") {
		t.Errorf("stderr: %s", errOut)
	}
}

// TestConvertProviders converts a real payload of every provider of this build
// (read from ../shared; none under the Elastic License): one valid bundle each,
// the same bytes twice.
func TestConvertProviders(t *testing.T) {
	shared := "../../../shared/testdata"
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("../shared not available: %v", err)
	}
	for provider, file := range map[string]string{
		"maltiverse":     "providers/maltiverse/ip_110.189.222.98.json",
		"virustotal":     "providers/virustotal/ip_address_report.json",
		"recordedfuture": "providers/recordedfuture/connect_api_domain_cisco.com.json",
		"misp":           "providers/misp/feed_event_57c4445b-c548-4654-af0b-4be3950d210f.json",
		"stix":           "stix/valid/cti-documentation--malware-indicator-for-file-hash.json",
	} {
		t.Run(provider, func(t *testing.T) {
			path := filepath.Join(shared, file)
			out1, errOut, err := runVerb(t, nil, (*Main).runConvert, "--provider", provider, "--attack", attackSample, path)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			out2, _, _ := runVerb(t, nil, (*Main).runConvert, "--provider", provider, "--attack", attackSample, path)
			if out1 != out2 {
				t.Error("second run differs")
			}
			if objs := checkBundle(t, []byte(out1)); len(objs) < 2 {
				t.Errorf("%d objects", len(objs))
			}
		})
	}
	_, _, err := runVerb(t, nil, (*Main).runConvert, "--provider", "nope", otxPulses)
	if err == nil || !strings.Contains(err.Error(), `provider "nope": not available in this build`) {
		t.Errorf("unknown provider: %v", err)
	}
	if _, _, err := runVerb(t, nil, (*Main).runConvert, "--provider", "otx"); err != exitError(2) {
		t.Errorf("no files: %v", err)
	}
}

func openData(t *testing.T, dir string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func count(t *testing.T, s storage.Store, coll string, types ...string) int {
	t.Helper()
	page, err := s.QueryObjects(context.Background(), coll, storage.Filter{Types: types, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Records)
}

func TestAttackImportThenImportOTX(t *testing.T) {
	cfg, data := testConfig(t, "")
	out, errOut, err := runVerb(t, nil, (*Main).runAttackImport, "--config", cfg, attackSample)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "25 objects read, 25 added") || !strings.Contains(out, attack.Notice) {
		t.Errorf("attack import: %s", out)
	}
	out, errOut, err = runVerb(t, nil, (*Main).runImport, "--config", cfg, "--provider", "otx", "--collection", importColl, otxPulses)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "import-otx: ") || !strings.Contains(out, "collection "+importColl+": ") {
		t.Errorf("import output: %s", out)
	}
	s := openData(t, data)
	if n := count(t, s, ingest.DefaultPool, "report"); n != 2 {
		t.Errorf("pool reports %d, want 2", n)
	}
	if n := count(t, s, importColl, "report"); n != 2 {
		t.Errorf("collection reports %d, want 2", n)
	}
	if count(t, s, importColl, "indicator") == 0 || count(t, s, importColl, "indicator") != count(t, s, ingest.DefaultPool, "indicator") {
		t.Errorf("indicators: collection %d, pool %d", count(t, s, importColl, "indicator"), count(t, s, ingest.DefaultPool, "indicator"))
	}
	// ATT&CK ids resolved through the imported ATT&CK: a uses relationship
	// points at the real T1059 object stored by attack import.
	page, err := s.GetObject(context.Background(), AttackCollection, "attack-pattern--7385dfaf-6886-4229-9ecd-6fd678040830", storage.Filter{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("T1059 not stored: %v", err)
	}
	rels, _ := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"relationship"}, Limit: 10000})
	found := false
	for _, r := range rels.Records {
		found = found || bytes.Contains(r.JSON, []byte(`"target_ref":"attack-pattern--7385dfaf-6886-4229-9ecd-6fd678040830"`))
	}
	if !found {
		t.Error("no relationship to T1059's ATT&CK object")
	}
	// Importing again changes nothing.
	s.Close()
	out, _, err = runVerb(t, nil, (*Main).runImport, "--config", cfg, "--provider", "otx", otxPulses)
	if err != nil || !strings.Contains(out, " 0 new, 0 changed") {
		t.Errorf("second import: %v %s", err, out)
	}
}

func TestImportSTIXIntoCollection(t *testing.T) {
	cfg, data := testConfig(t, "")
	if _, errOut, err := runVerb(t, nil, (*Main).runImport, "--config", cfg, "--provider", "stix", "--collection", importColl, stixBundle); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	s := openData(t, data)
	page, err := s.GetObject(context.Background(), importColl, "indicator--0b4a8c62-0c6e-4f3a-9d3f-6a0f1b2c3d41", storage.Filter{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("received indicator not in the collection: %v", err)
	}
	in, _ := os.ReadFile(stixBundle)
	if !bytes.Contains(in, page.Records[0].JSON) {
		t.Errorf("not byte-exact: %s", page.Records[0].JSON)
	}
	v, _ := ingest.Normalize("ipv4-addr", "198.51.100.23")
	if _, err := s.GetObject(context.Background(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{}); err != nil {
		t.Errorf("pool indicator: %v", err)
	}
	if _, err := s.GetObject(context.Background(), ingest.DefaultPool, "indicator--0b4a8c62-0c6e-4f3a-9d3f-6a0f1b2c3d41", storage.Filter{}); err == nil {
		t.Error("received object copied into the pool")
	}
}

// TestIngestOTXFeed pulls an OTX feed from a replaying server in two separate
// `ctibroker ingest` runs: the cursor survives, the second run asks only for
// what changed.
func TestIngestOTXFeed(t *testing.T) {
	page, err := os.ReadFile(otxPulses)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reqs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.URL.RequestURI())
		mu.Unlock()
		if r.Header.Get("X-OTX-API-KEY") != "k3y" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.URL.Query().Get("modified_since") != "" {
			w.Write([]byte(`{"results":[],"count":0,"next":null,"previous":null}`))
			return
		}
		w.Write(page)
	}))
	defer srv.Close()
	cfg, data := testConfig(t, fmt.Sprintf(`feeds:
  - name: otx-sub
    provider: otx
    default_tlp: green
    options: {api_key_env: OTX_KEY, base_url: %s, backoff: 1ms}
  - name: off
    provider: nope
    enabled: false
`, srv.URL))
	env := map[string]string{"OTX_KEY": "k3y"}
	if _, errOut, err := runVerb(t, nil, (*Main).runAttackImport, "--config", cfg, attackSample); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	out, errOut, err := runVerb(t, env, (*Main).runIngest, "--config", cfg)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	if !strings.HasPrefix(out, "otx-sub: ") || strings.Contains(out, " 0 new") {
		t.Errorf("first run: %s", out)
	}
	out, _, err = runVerb(t, env, (*Main).runIngest, "--config", cfg, "--feed", "otx-sub")
	if err != nil || !strings.Contains(out, "otx-sub: 0 new, 0 changed") {
		t.Errorf("second run: %v %s", err, out)
	}
	if len(reqs) != 2 || !strings.Contains(reqs[1], "modified_since=2025-05-21T00%3A00%3A00Z") {
		t.Errorf("requests %v", reqs)
	}
	// A disabled feed of a provider this build lacks is skipped; named, it is an error.
	_, errOut, err = runVerb(t, env, (*Main).runIngest, "--config", cfg, "--feed", "off")
	if err != exitError(1) || !strings.Contains(errOut, `provider "nope": not available in this build`) {
		t.Errorf("misp feed: %v %s", err, errOut)
	}
	s := openData(t, data)
	if n := count(t, s, ingest.DefaultPool, "report"); n != 2 {
		t.Errorf("reports %d", n)
	}
	// The reports' ATT&CK references point at the imported ATT&CK objects.
	rep, err := s.GetObject(context.Background(), ingest.DefaultPool, otx.ReportID("65a1f0c2e4b0a1b2c3d4e5f6"), storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rep.Records[0].JSON, []byte("attack-pattern--2e34237d-8574-43f6-aace-ae2915de8597")) {
		t.Errorf("report lacks T1566.001: %s", rep.Records[0].JSON)
	}
}

// TestConvertExampleOTX converts the README's OTX sample with the full ATT&CK
// enterprise bundle when ../shared has it (the sample otherwise): a valid bundle,
// techniques pointing at ATT&CK objects.
func TestConvertExampleOTX(t *testing.T) {
	att := attackSample
	full := "../../../shared/attack/enterprise-attack-18.1.json.gz"
	if _, err := os.Stat(full); err == nil && !testing.Short() {
		att = full
	}
	out, errOut, err := runVerb(t, nil, (*Main).runConvert, "--provider", "otx", "--attack", att, "--tlp", "green", "../../examples/otx/pulses-subscribed.json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	objs := checkBundle(t, []byte(out))
	if att == full {
		if strings.Contains(errOut, "ATT&CK") {
			t.Errorf("unresolved ATT&CK ids with the full bundle: %s", errOut)
		}
		ix, err := attack.Load(full)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"T1566.001", "T1059.001", "T1071.001", "T1595"} {
			ref, ok := ix.Resolve(id)
			if !ok {
				t.Fatalf("%s unknown to ATT&CK", id)
			}
			found := false
			for _, o := range objs {
				found = found || o["type"] == "relationship" && o["target_ref"] == ref.ID
			}
			if !found {
				t.Errorf("no relationship to %s (%s)", id, ref.ID)
			}
		}
	}
}

// TestConvertMatchesImport: what convert writes for a file and what import puts
// in the pool agree: the same ids for indicators and relationships, and SCOs
// with the same bytes. The reference time for expirations is one after every
// expiration in the input, for convert (--now) as for import (the real clock).
func TestConvertMatchesImport(t *testing.T) {
	out, errOut, err := runVerb(t, nil, (*Main).runConvert, "--provider", "otx", "--attack", attackSample, "--now", "2026-01-01T00:00:00Z", otxPulses)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var doc struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	cfg, data := testConfig(t, "")
	if _, errOut, err := runVerb(t, nil, (*Main).runAttackImport, "--config", cfg, attackSample); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if _, errOut, err := runVerb(t, nil, (*Main).runImport, "--config", cfg, "--provider", "otx", otxPulses); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	s := openData(t, data)
	scos := 0
	for _, raw := range doc.Objects {
		o, err := stix.ParseRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		if o.Type == "identity" && o.ID == defaultIdentity.ID {
			continue // convert's stand-in for the instance identity
		}
		page, err := s.GetObject(context.Background(), ingest.DefaultPool, o.ID, storage.Filter{})
		if err != nil {
			t.Errorf("%s (%s) converted but not imported: %v", o.ID, o.Type, err)
			continue
		}
		if o.Created == nil { // an SCO: no version, same bytes
			scos++
			if !bytes.Equal(page.Records[0].JSON, raw) {
				t.Errorf("SCO bytes differ:\n convert %s\n pool    %s", raw, page.Records[0].JSON)
			}
		}
	}
	if scos == 0 {
		t.Error("no SCO compared")
	}
}

// TestPoolIdentity: an import puts the instance identity and the TLP 2.0
// definitions into the pool once; renaming the instance in the config gives
// the identity a new version with the new name, and an unchanged config none.
func TestPoolIdentity(t *testing.T) {
	cfg, data := testConfig(t, "")
	imp := func() {
		t.Helper()
		if _, errOut, err := runVerb(t, nil, (*Main).runImport, "--config", cfg, "--provider", "stix", stixBundle); err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
	}
	versions := func() []string {
		t.Helper()
		s := openData(t, data)
		defer s.Close()
		page, err := s.ListVersions(context.Background(), ingest.DefaultPool, testID, storage.Filter{})
		if err != nil {
			t.Fatalf("identity versions: %v", err)
		}
		var names []string
		for _, r := range page.Records {
			rec, err := s.GetObject(context.Background(), ingest.DefaultPool, testID, storage.Filter{Versions: []string{r.Version.UTC().Format("2006-01-02T15:04:05.000Z")}})
			if err != nil || len(rec.Records) != 1 {
				t.Fatalf("identity version %v: %v", r.Version, err)
			}
			var o struct{ Name string }
			json.Unmarshal(rec.Records[0].JSON, &o)
			names = append(names, o.Name)
		}
		if _, err := s.GetObject(context.Background(), ingest.DefaultPool, stix.TLPAmber.MarkingRef(), storage.Filter{}); err != nil {
			t.Errorf("TLP:AMBER definition not in the pool: %v", err)
		}
		return names
	}
	imp()
	imp()
	if got := versions(); !slices.Equal(got, []string{"Test ctibroker"}) {
		t.Fatalf("identity versions after two imports: %q", got)
	}
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(b, []byte("name: Test ctibroker"), []byte("name: ACME ctibroker"), 1), 0o600)
	imp()
	if got := versions(); !slices.Equal(got, []string{"Test ctibroker", "ACME ctibroker"}) {
		t.Fatalf("identity versions after the rename: %q", got)
	}
}
