package misp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
)

var (
	fullOnce sync.Once
	fullIx   *attack.Index
	fullErr  error
)

// fullIndex is MITRE ATT&CK 18.1 enterprise from ../shared/attack.
func fullIndex(tb testing.TB) *attack.Index {
	tb.Helper()
	p := ingesttest.MustShared(tb, "attack/enterprise-attack-18.1.json.gz")
	fullOnce.Do(func() { fullIx, fullErr = attack.Load(p) })
	if fullErr != nil {
		tb.Fatal(fullErr)
	}
	return fullIx
}

// rawEvents reads the events of a MISP JSON file independently of the package
// under test, as generic maps.
func rawEvents(tb testing.TB, path string) []map[string]any {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var top any
	if err := json.Unmarshal(b, &top); err != nil {
		tb.Fatal(err)
	}
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if ev, ok := x["Event"].(map[string]any); ok {
				out = append(out, ev)
			} else if r, ok := x["response"]; ok {
				walk(r)
			} else if _, ok := x["uuid"]; ok {
				out = append(out, x)
			}
		}
	}
	walk(top)
	return out
}

// poolParts is how many pool values an attribute type carries (read from
// misp.md §4.1, independently of the converter's tables).
var poolParts = map[string]int{"ip-src": 1, "ip-dst": 1, "domain": 1, "hostname": 1, "url": 1, "uri": 1, "email": 1,
	"email-src": 1, "email-dst": 1, "md5": 1, "sha1": 1, "sha256": 1, "sha512": 1, "ssdeep": 1, "ip-src|port": 1,
	"ip-dst|port": 1, "hostname|port": 1, "domain|ip": 2, "filename|md5": 1, "filename|sha1": 1, "filename|sha256": 1,
	"filename|sha512": 1, "filename|ssdeep": 1, "malware-sample": 1}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "1" || x == "true"
	case float64:
		return x == 1
	}
	return false
}

// allAttributes returns an event's attributes, its objects' included, with
// whether their object is deleted.
func allAttributes(ev map[string]any) (attrs []map[string]any, objDeleted []bool) {
	for _, a := range asList(ev["Attribute"]) {
		attrs = append(attrs, a)
		objDeleted = append(objDeleted, false)
	}
	for _, o := range asList(ev["Object"]) {
		for _, a := range asList(o["Attribute"]) {
			attrs = append(attrs, a)
			objDeleted = append(objDeleted, truthy(o["deleted"]))
		}
	}
	return attrs, objDeleted
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestRealEvents converts the real MISP events in ../shared: every bundle
// validates with zero errors, the detection-worthy observations are exactly
// the to_ids pool values counted from the payload, each event is one report
// carrying its uuid and TLP, and every ATT&CK technique cluster points at the
// attack-pattern whose external id it names.
func TestRealEvents(t *testing.T) {
	files := []string{
		"testdata/providers/misp/event_sednit_objects_galaxies.json",
		"testdata/providers/misp/event_sunorcal_attributes.json",
		"testdata/providers/misp/feed_event_57c4445b-c548-4654-af0b-4be3950d210f.json",
		"testdata/misp/pymisp/galaxy_1.json",
		"testdata/misp/pymisp/sighting_1.json",
		"testdata/misp/pymisp/misp_event.json",
		"testdata/misp-stix/head/test_events_collection_1.json",
		"testdata/misp-stix/head/test_events_collection_2.json",
	}
	ix := fullIndex(t)
	for _, rel := range files {
		path := ingesttest.MustShared(t, rel)
		t.Run(filepath.Base(rel), func(t *testing.T) {
			conv := &misp.Converter{Attack: ix, Identity: ingesttest.Identity, Share: ingest.ShareCommunity}
			b := convertPath(t, conv, path)
			ingesttest.MustValidateBatch(t, b)
			events := rawEvents(t, path)
			reports := ingesttest.MustObjectsOf(t, b, "report")
			if len(reports) != len(events) {
				t.Fatalf("got %d reports, want %d (one per event)", len(reports), len(events))
			}
			wantDetect, wantObs := 0, 0
			for _, ev := range events {
				attrs, objDel := allAttributes(ev)
				for i, a := range attrs {
					typ, _ := a["type"].(string)
					n := poolParts[typ]
					toIDs := truthy(a["to_ids"])
					if _, ok := a["to_ids"]; !ok {
						toIDs = true // every pool type defaults to to_ids in describeTypes
					}
					wantObs += n
					if toIDs && !truthy(a["deleted"]) && !objDel[i] {
						wantDetect += n
					}
				}
			}
			gotDetect := 0
			for _, o := range b.Observations {
				if o.Detect {
					gotDetect++
				}
			}
			// Invalid values are warnings, not observations: allow them to explain a gap.
			valueWarnings := 0
			for _, w := range b.Warnings {
				if w.Field == "value" {
					valueWarnings++
				}
			}
			if gotDetect > wantDetect || gotDetect+valueWarnings < wantDetect {
				t.Errorf("detect observations %d, want %d (value warnings %d)", gotDetect, wantDetect, valueWarnings)
			}
			if len(b.Observations)+valueWarnings < wantObs || len(b.Observations) > wantObs {
				t.Errorf("observations %d, want %d", len(b.Observations), wantObs)
			}
			for _, ev := range events {
				uuid := ev["uuid"].(string)
				var rep map[string]any
				for _, r := range reports {
					if r["id"] == misp.ReportID(uuid) {
						rep = r
					}
				}
				if rep == nil {
					t.Fatalf("no report for event %s", uuid)
				}
				if name, _ := ev["info"].(string); rep["name"] != strings.TrimSpace(name) {
					t.Errorf("report name %q, want %q", rep["name"], name)
				}
				ext := rep["extensions"].(map[string]any)[misp.ExtensionID].(map[string]any)
				if ext["event_uuid"] != uuid {
					t.Errorf("extension event_uuid %v, want %s", ext["event_uuid"], uuid)
				}
				if orgc, ok := ev["Orgc"].(map[string]any); ok {
					if rep["created_by_ref"] != "identity--"+orgc["uuid"].(string) {
						t.Errorf("created_by_ref %v, want the Orgc identity %v", rep["created_by_ref"], orgc["uuid"])
					}
				}
				// TLP: the most restrictive tlp tag of the event.
				want := stix.TLPNone
				for _, tg := range asList(ev["Tag"]) {
					if l, ok := stix.TLPFromTag(tg["name"].(string)); ok && l > want {
						want = l
					}
				}
				var marks []string
				ms, _ := rep["object_marking_refs"].([]any)
				for _, m := range ms {
					marks = append(marks, m.(string))
				}
				if got := stix.MaxTLP(marks); got != want {
					t.Errorf("report TLP %v, want %v", got, want)
				}
				// ATT&CK techniques named by the event's galaxies.
				refs := map[string]bool{}
				for _, r := range rep["object_refs"].([]any) {
					refs[r.(string)] = true
				}
				galaxies := asList(ev["Galaxy"])
				attrs, _ := allAttributes(ev)
				for _, a := range attrs {
					galaxies = append(galaxies, asList(a["Galaxy"])...)
				}
				techniques := 0
				for _, g := range galaxies {
					if g["type"] != "mitre-attack-pattern" {
						continue
					}
					for _, cl := range asList(g["GalaxyCluster"]) {
						val := cl["value"].(string)
						id := val[strings.LastIndex(val, " - ")+3:]
						techniques++
						ref, ok := ix.Resolve(id)
						if !ok {
							t.Errorf("ATT&CK 18.1 does not know %s", id)
							continue
						}
						if !refs[ref.ID] {
							t.Errorf("report does not reference %s (%s) for cluster %q", ref.ID, id, val)
						}
						if ref.Type != "attack-pattern" || (ref.ExternalID != id && !strings.HasPrefix(ref.ExternalID, id)) {
							t.Errorf("%s resolved to %s %s", id, ref.Type, ref.ExternalID)
						}
					}
				}
				if strings.Contains(rel, "galaxy_1") && techniques == 0 {
					t.Error("galaxy_1.json names ATT&CK techniques; the test found none")
				}
			}
		})
	}
}

// TestEvalFeed reads the synthetic MISP feed of the scoring evaluation
// (scoring/testdata/eval/misp) as a feed directory: one report per manifest
// entry, every attribute one observation, Detect exactly where to_ids is set,
// the admiralty tag carried for scoring.
func TestEvalFeed(t *testing.T) {
	dir := filepath.Join(ingesttest.MustRepoRoot(t), "scoring", "testdata", "eval", "misp")
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Skipf("eval feed not generated: %v", err)
	}
	var manifest map[string]any
	if err := json.Unmarshal(mb, &manifest); err != nil {
		t.Fatal(err)
	}
	b := convertPath(t, &misp.Converter{Identity: ingesttest.Identity, Share: ingest.ShareCommunity}, dir)
	ingesttest.MustValidateBatch(t, b)
	if got := len(ingesttest.MustObjectsOf(t, b, "report")); got != len(manifest) {
		t.Fatalf("reports %d, want %d", got, len(manifest))
	}
	want := map[string]bool{} // value → to_ids
	tagged := 0
	for u := range manifest {
		for _, ev := range rawEvents(t, filepath.Join(dir, u+".json")) {
			cred := false
			for _, tg := range asList(ev["Tag"]) {
				cred = cred || strings.HasPrefix(tg["name"].(string), "admiralty-scale:information-credibility")
			}
			for _, a := range asList(ev["Attribute"]) {
				want[a["uuid"].(string)] = truthy(a["to_ids"])
				if cred {
					tagged++
				}
			}
		}
	}
	if len(b.Observations) != len(want) {
		t.Fatalf("observations %d, want %d", len(b.Observations), len(want))
	}
	gotTagged := 0
	for _, o := range b.Observations {
		var v misp.Verdict
		if err := json.Unmarshal(o.Verdict, &v); err != nil {
			t.Fatal(err)
		}
		if o.Detect != want[v.Attribute] {
			t.Errorf("%s: detect %v, want %v", v.Attribute, o.Detect, want[v.Attribute])
		}
		if v.ThreatLevel < 1 || v.ThreatLevel > 3 || v.Share != ingest.ShareCommunity {
			t.Errorf("%s: threat level %d share %q", v.Attribute, v.ThreatLevel, v.Share)
		}
		if strings.HasPrefix(v.ConfidenceTag, "admiralty-scale:information-credibility") {
			gotTagged++
		}
		if s := v.Score(); s.Severity <= 0 || s.Severity > 1 {
			t.Errorf("%s: severity %v", v.Attribute, s.Severity)
		}
		if !slices.Contains(o.Context.ReportRefs, misp.ReportID(v.Event)) || o.Context.TLP != "green" {
			t.Errorf("%s: context %+v", v.Attribute, o.Context)
		}
	}
	if gotTagged != tagged {
		t.Errorf("observations with the admiralty tag %d, want %d", gotTagged, tagged)
	}
}
