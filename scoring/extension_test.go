package scoring_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExtensionDefinition(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	b, err := scoring.ExtensionDefinition("identity--2f9a0f1c-1c4e-4f4a-9a55-0c6a1bb2c001", created)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "extension-definition", "spec_version": "2.1", "id": scoring.ExtensionID,
		"created_by_ref": "identity--2f9a0f1c-1c4e-4f4a-9a55-0c6a1bb2c001",
		"created":        "2026-01-02T03:04:05.678Z", "modified": "2026-01-02T03:04:05.678Z",
		"schema": scoring.ExtensionSchemaURL, "version": scoring.ExtensionVersion,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if types, _ := got["extension_types"].([]any); len(types) != 1 || types[0] != "property-extension" {
		t.Errorf("extension_types = %v, want [property-extension]", got["extension_types"])
	}
	if name, _ := got["name"].(string); name == "" {
		t.Error("name is empty")
	}
	again, _ := scoring.ExtensionDefinition("identity--2f9a0f1c-1c4e-4f4a-9a55-0c6a1bb2c001", created)
	if !bytes.Equal(b, again) {
		t.Error("ExtensionDefinition is not deterministic")
	}
	// The id is a STIX id: type, "--", a UUID.
	if !regexp.MustCompile(`^extension-definition--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(scoring.ExtensionID) {
		t.Errorf("ExtensionID %q is not an extension-definition id with a v4 UUID", scoring.ExtensionID)
	}
	for _, bad := range []string{"", "identity--nope", "organization--2f9a0f1c-1c4e-4f4a-9a55-0c6a1bb2c001"} {
		_, err := scoring.ExtensionDefinition(bad, created)
		var ve *stix.ValidationError
		if !errors.As(err, &ve) || ve.Property != "created_by_ref" {
			t.Errorf("ExtensionDefinition(%q) error = %v, want a ValidationError on created_by_ref", bad, err)
		}
	}
}

// loadSchema reads the committed schema and checks it names itself as the
// extension-definition says.
func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	file, err := os.ReadFile(filepath.Join("schema", "risk-score.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, scoring.Schema()) {
		t.Fatal("Schema() differs from schema/risk-score.json")
	}
	var s map[string]any
	if err := json.Unmarshal(file, &s); err != nil {
		t.Fatal(err)
	}
	if s["$id"] != scoring.ExtensionSchemaURL {
		t.Fatalf("schema $id = %v, want %s", s["$id"], scoring.ExtensionSchemaURL)
	}
	if d, _ := s["description"].(string); !strings.Contains(d, scoring.ExtensionID) {
		t.Fatalf("schema description does not name %s", scoring.ExtensionID)
	}
	return s
}

// TestExtensionMatchesSchema validates extensions of random results against
// the committed schema. No JSON-schema library is in go.mod, so validate
// implements the keywords the schema uses (type, required, properties,
// additionalProperties, items, enum, minimum, maximum, pattern, $ref) and
// fails on any other keyword so the two cannot drift apart silently.
func TestExtensionMatchesSchema(t *testing.T) {
	s := loadSchema(t)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		in := randInputs(r)
		res := scoring.Score(in, scoring.DefaultWeights(), testTime)
		if i%2 == 1 { // every other one with a relevance, as explain shows it
			res = res.WithRelevance(testOrg.Relevance(scoring.RelevanceInputs{Type: "domain-name", Value: "acmebank-login.example",
				Sectors: []string{"financial-services"}}))
		}
		exts, err := res.Extensions()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := exts[scoring.ExtensionID]
		if !ok || len(exts) != 1 {
			t.Fatalf("Extensions() keys = %v, want only %s", exts, scoring.ExtensionID)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if errs := validate(s, s, doc, "$"); len(errs) > 0 {
			t.Fatalf("extension does not match the schema:\n%s\n%s", strings.Join(errs, "\n"), raw)
		}
	}
	// And the validator does reject what the schema forbids.
	for name, doc := range map[string]string{
		"missing score":      `{"extension_type":"property-extension","band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01T00:00:00.000Z","factors":[],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[]}`,
		"score too high":     `{"extension_type":"property-extension","score":101,"band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01T00:00:00.000Z","factors":[],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[]}`,
		"unknown field":      `{"extension_type":"property-extension","score":1,"band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01T00:00:00.000Z","factors":[],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[],"x":1}`,
		"bad timestamp":      `{"extension_type":"property-extension","score":1,"band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01 00:00","factors":[],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[]}`,
		"bad relevance kind": `{"extension_type":"property-extension","score":1,"band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01T00:00:00.000Z","factors":[],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[],"relevance":{"value":1,"priority":1,"reasons":[{"kind":"luck","match":"x","evidence":"y","weight":0.5}]}}`,
		"bad factor name":    `{"extension_type":"property-extension","score":1,"band":"low","alert":false,"confidence":15,"scored_at":"2026-01-01T00:00:00.000Z","factors":[{"name":"luck","value":1,"explanation":""}],"sources":[],"sightings":{"count":0},"false_positives":[],"allow_list_hits":[]}`,
	} {
		var d any
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if errs := validate(s, s, d, "$"); len(errs) == 0 {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

func validate(root, s map[string]any, v any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := root["$defs"].(map[string]any)
		target, _ := defs[name].(map[string]any)
		if !ok || target == nil {
			return []string{path + ": unresolvable $ref " + ref}
		}
		return validate(root, target, v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "$schema", "$id", "title", "description", "$defs", "type", "required", "properties",
			"additionalProperties", "items", "enum", "minimum", "maximum", "pattern":
		default:
			fail("validator does not implement keyword %q", k)
		}
	}
	if typ, ok := s["type"].(string); ok {
		okType := false
		switch x := v.(type) {
		case string:
			okType = typ == "string"
		case bool:
			okType = typ == "boolean"
		case float64:
			okType = typ == "number" || (typ == "integer" && x == float64(int64(x)))
		case map[string]any:
			okType = typ == "object"
		case []any:
			okType = typ == "array"
		}
		if !okType {
			fail("want %s, got %T", typ, v)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			fail("%v not in %v", v, enum)
		}
	}
	if n, ok := v.(float64); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v below minimum %v", n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			fail("%v above maximum %v", n, m)
		}
	}
	if str, ok := v.(string); ok {
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, k := range req {
				if _, ok := obj[k.(string)]; !ok {
					fail("required property %q missing", k)
				}
			}
		}
		for k, pv := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					fail("property %q not allowed", k)
				}
				continue
			}
			errs = append(errs, validate(root, ps, pv, path+"."+k)...)
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range arr {
				errs = append(errs, validate(root, items, it, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// TestExtensionGolden pins the extension of one realistic value; run with
// -update to rewrite testdata/golden/extension.json after a deliberate
// change.
func TestExtensionGolden(t *testing.T) {
	in := scoring.Inputs{Type: "domain-name", Value: "invoice-secure-docs.com", Reports: []scoring.Report{
		{Feed: "rf-domain-default", Provider: "recordedfuture", Reliability: 80,
			Verdict: scoring.SeverityRecordedFuture(87, 3), FirstSeen: testTime.Add(-days(30)), LastSeen: testTime.Add(-days(3))},
		{Feed: "vt-ioc-stream", Provider: "virustotal", Reliability: 80,
			Verdict: scoring.SeverityVirusTotal(9, 92, ""), LastSeen: testTime.Add(-days(1))},
		{Feed: "otx-subscribed", Provider: "otx", Reliability: 60,
			Verdict: scoring.SeverityOTX(scoring.OTXContext{Active: true, MalwareFamilies: 1, Role: "phishing"}), LastSeen: testTime.Add(-days(10))},
		{Feed: "maltiverse-phishing", Provider: "maltiverse", Reliability: 60,
			Verdict: scoring.SeverityMaltiverse("whitelist", 0), LastSeen: testTime.Add(-days(5)), Revoked: true},
	}, Sightings: scoring.Sightings{Count: 2, FirstSeen: testTime.Add(-days(2)), LastSeen: testTime.Add(-days(1))},
		FalsePositives: []scoring.FalsePositive{{From: "helpdesk", Count: 1}},
		AllowListHits:  []warninglist.Hit{{List: "lots-project", Name: "LOTS", Tier: warninglist.TierContext, ContextOnly: true, Entry: "docs.com"}},
	}
	got, err := json.MarshalIndent(scoring.Score(in, scoring.DefaultWeights(), testTime).Extension(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", "extension.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./scoring -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("extension differs from %s (rerun with -update after a deliberate change):\n%s", path, got)
	}
}
