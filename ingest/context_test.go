package ingest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
)

// TestRunContext: the malware, actors and ATT&CK ids of detection-worthy values
// become indicates relationships from the authored indicator, to MITRE's objects
// where ATT&CK knows the id or name, else to SDOs ctibroker authors once.
func TestRunContext(t *testing.T) {
	ix, err := attack.Load("attack/testdata/enterprise-attack-18.1-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	batch := ingest.Batch{Observations: []ingest.Observation{
		{Type: "domain-name", Value: "x.example", Detect: true, Context: ingest.Context{
			Malware: []string{"Emotet", "cobalt strike"}, Actors: []string{"Fancy Bear", "Unknown Group"},
			AttackIDs: []string{"T1059.001", "T1066", "TA0002", "T9999"}}},
		{Type: "domain-name", Value: "y.example", Detect: true, Context: ingest.Context{Malware: []string{" emotet "}}},
		{Type: "domain-name", Value: "z.example", Context: ingest.Context{Malware: []string{"Emotet"}}},
	}}
	f := feed("ctx", &sliceSource{batches: []ingest.Batch{batch}})
	f.Config.Attack = ix
	st := mustRun(t, r, f)
	if st.New != 3+2+2+2+7 || st.Warnings != 2 {
		t.Fatalf("first run: %+v", st)
	}
	x, _ := ingest.Normalize("domain-name", "x.example")
	y, _ := ingest.Normalize("domain-name", "y.example")
	emotet := ingest.ContextID("malware", "Emotet")
	wantRels := map[string][]string{
		ingest.IndicatorID(x): {emotet, "malware--a7881f21-e978-4fe4-af56-92c9416a2616", "intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c",
			ingest.ContextID("intrusion-set", "unknown group"), "attack-pattern--970a3432-3237-47ad-bcca-7d8cbb217736",
			"attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92"},
		ingest.IndicatorID(y): {emotet},
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"relationship", "malware", "intrusion-set"}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	v := stix.Validator{PatternChecker: pattern.Check}
	for _, rec := range page.Records {
		for _, f := range v.Validate(rec.JSON) {
			if !(f.Rule == "relationship-pair" && f.Severity != stix.SeverityError) {
				t.Errorf("%s in %s", stix.FormatFinding(f), rec.JSON)
			}
		}
		var m map[string]any
		json.Unmarshal(rec.JSON, &m)
		switch rec.Type {
		case "relationship":
			if m["relationship_type"] == "indicates" {
				got[m["source_ref"].(string)] = append(got[m["source_ref"].(string)], m["target_ref"].(string))
			}
		case "malware":
			if rec.ID != emotet || m["name"] != "Emotet" || m["is_family"] != true || m["created_by_ref"] != testIdentity {
				t.Errorf("malware %s", rec.JSON)
			}
		case "intrusion-set":
			if m["name"] != "Unknown Group" {
				t.Errorf("intrusion-set %s", rec.JSON)
			}
		}
	}
	for ind, want := range wantRels {
		if len(got[ind]) != len(want) {
			t.Fatalf("%s indicates %v, want %v", ind, got[ind], want)
		}
		for _, w := range want {
			found := false
			for _, g := range got[ind] {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s does not indicate %s (got %v)", ind, w, got[ind])
			}
		}
	}
	if len(got) != 2 {
		t.Errorf("indicates relationships from %d indicators, want 2", len(got))
	}
	// Unchanged the same day: nothing written.
	resetCursor(t, s, "ctx")
	now = testTime.Add(time.Hour)
	if st := mustRun(t, r, f); st.New+st.Changed != 0 || st.Unchanged != 16 {
		t.Fatalf("rerun: %+v", st)
	}
	// Without an index, ATT&CK ids are a warning and names become authored SDOs.
	f2 := feed("ctx-noindex", &sliceSource{batches: []ingest.Batch{batch}})
	// New: malware "cobalt strike" and intrusion-set "Fancy Bear" authored, and
	// x's relationships to them.
	if st := mustRun(t, r, f2); st.Warnings != 1 || st.New != 4 {
		t.Fatalf("no index: %+v", st)
	}
}
