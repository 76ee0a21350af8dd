package stixfeed_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
)

// relatedBundle: one indicator with indicates relationships to a malware, an
// intrusion set, an ATT&CK technique and a CVE, listed in a report; a second
// indicator with no relationship; a relationship from the first to a target
// missing from the bundle.
const relatedBundle = `{"type":"bundle","id":"bundle--7d2f1a3c-5b4e-4c6d-8e9f-0a1b2c3d4e5f","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--11111111-1111-4111-8111-111111111111","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.23']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--22222222-2222-4222-8222-222222222222","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[domain-name:value = 'lonely.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},
{"type":"relationship","spec_version":"2.1","id":"relationship--a1111111-1111-4111-8111-111111111111","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--11111111-1111-4111-8111-111111111111","target_ref":"malware--33333333-3333-4333-8333-333333333333"},
{"type":"relationship","spec_version":"2.1","id":"relationship--a2222222-2222-4222-8222-222222222222","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--11111111-1111-4111-8111-111111111111","target_ref":"intrusion-set--44444444-4444-4444-8444-444444444444"},
{"type":"relationship","spec_version":"2.1","id":"relationship--a3333333-3333-4333-8333-333333333333","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--11111111-1111-4111-8111-111111111111","target_ref":"attack-pattern--55555555-5555-4555-8555-555555555555"},
{"type":"relationship","spec_version":"2.1","id":"relationship--a4444444-4444-4444-8444-444444444444","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--11111111-1111-4111-8111-111111111111","target_ref":"vulnerability--66666666-6666-4666-8666-666666666666"},
{"type":"relationship","spec_version":"2.1","id":"relationship--a5555555-5555-4555-8555-555555555555","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","relationship_type":"indicates","source_ref":"indicator--11111111-1111-4111-8111-111111111111","target_ref":"malware--77777777-7777-4777-8777-777777777777"},
{"type":"malware","spec_version":"2.1","id":"malware--33333333-3333-4333-8333-333333333333","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"GlassRabbit","is_family":true},
{"type":"intrusion-set","spec_version":"2.1","id":"intrusion-set--44444444-4444-4444-8444-444444444444","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"Paper Heron"},
{"type":"attack-pattern","spec_version":"2.1","id":"attack-pattern--55555555-5555-4555-8555-555555555555","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"Application Layer Protocol","external_references":[{"source_name":"mitre-attack","external_id":"T1071"}]},
{"type":"vulnerability","spec_version":"2.1","id":"vulnerability--66666666-6666-4666-8666-666666666666","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"cve-2024-3400"},
{"type":"report","spec_version":"2.1","id":"report--88888888-8888-4888-8888-888888888888","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"Heron campaign","published":"2026-11-01T00:00:00Z","object_refs":["indicator--11111111-1111-4111-8111-111111111111"]}
]}`

// TestFilesRelateContext: the context a received bundle gives an indicator
// through its indicates relationships and reports reaches the value's
// provenance, and the Runner relates ctibroker's indicator of the value to it;
// an indicator with no relationship gets none, and a relationship to an
// object outside the bundle adds nothing.
func TestFilesRelateContext(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "feed.json")
	if err := os.WriteFile(file, []byte(relatedBundle), 0o644); err != nil {
		t.Fatal(err)
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(dir, "db"), mirrorColl)
	defer store.Close()
	if _, err := run(t, store, feedConfig(t, "  files: ["+file+"]\n")); err != nil {
		t.Fatal(err)
	}
	ctxOf := func(typ, value string) ingest.Context {
		t.Helper()
		recs, err := store.Provenance(t.Context(), typ, value)
		if err != nil || len(recs) != 1 {
			t.Fatalf("provenance of %s: %v %v", value, recs, err)
		}
		var v struct {
			Context ingest.Context `json:"context"`
		}
		if err := json.Unmarshal(recs[0].Verdict, &v); err != nil {
			t.Fatalf("verdict %s: %v", recs[0].Verdict, err)
		}
		return v.Context
	}
	c := ctxOf("ipv4-addr", "198.51.100.23")
	if !slices.Equal(c.Malware, []string{"GlassRabbit"}) || !slices.Equal(c.Actors, []string{"Paper Heron"}) ||
		!slices.Equal(c.AttackIDs, []string{"T1071"}) || !slices.Equal(c.CVEs, []string{"CVE-2024-3400"}) ||
		!slices.Equal(c.ReportRefs, []string{"report--88888888-8888-4888-8888-888888888888"}) {
		t.Errorf("context of the related indicator's value: %+v", c)
	}
	if c := ctxOf("domain-name", "lonely.example"); len(c.Malware)+len(c.Actors)+len(c.AttackIDs)+len(c.CVEs)+len(c.ReportRefs) != 0 {
		t.Errorf("context of the unrelated indicator's value: %+v", c)
	}

	// ctibroker's indicator of the value indicates the malware and the intrusion set
	ind := ingest.IndicatorID(ingest.Value{Type: ingest.TypeIPv4, Value: "198.51.100.23"})
	names := map[string]string{}
	for _, r := range records(t, store, ingest.DefaultPool, "malware", "intrusion-set") {
		var o struct{ Name string }
		json.Unmarshal(r.JSON, &o)
		names[r.ID] = o.Name
	}
	var targets []string
	for _, r := range records(t, store, ingest.DefaultPool, "relationship") {
		var rel struct {
			RelationshipType string `json:"relationship_type"`
			SourceRef        string `json:"source_ref"`
			TargetRef        string `json:"target_ref"`
		}
		json.Unmarshal(r.JSON, &rel)
		if rel.SourceRef == ind && rel.RelationshipType == "indicates" {
			targets = append(targets, names[rel.TargetRef])
		}
	}
	slices.Sort(targets)
	if !slices.Equal(targets, []string{"GlassRabbit", "Paper Heron"}) {
		t.Errorf("ctibroker's indicator of 198.51.100.23 indicates %q; want GlassRabbit and Paper Heron", targets)
	}
}
