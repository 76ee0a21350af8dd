package misp_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// syntheticEvent covers what the real events lack: ip-src, hostname, values
// with to_ids false, composite types, ATT&CK techniques at event and
// attribute level, an attribute tagged more restrictively than its event, a
// deleted attribute and a MISP object.
const syntheticEvent = `{"Event": {
 "uuid": "8d1f3a52-3c1e-4d7a-9b0e-5f4c2a1b0c01", "info": "Synthetic round trip", "date": "2026-02-10",
 "timestamp": "1770800000", "publish_timestamp": "1770800100", "published": true, "threat_level_id": "2",
 "analysis": "1", "distribution": "3", "Orgc": {"name": "Partner CERT", "uuid": "8d1f3a52-3c1e-4d7a-9b0e-5f4c2a1b0c99"},
 "Tag": [{"name": "tlp:amber"}, {"name": "misp-galaxy:mitre-attack-pattern=\"Command and Scripting Interpreter - T1059\""},
         {"name": "misp:confidence-level=\"usually-confident\""}],
 "Galaxy": [{"uuid": "c4e851fa-775f-11e7-8163-b774922098cd", "name": "Attack Pattern", "type": "mitre-attack-pattern",
   "GalaxyCluster": [{"uuid": "7e150503-88e7-4861-866b-ff1ac82c4475", "type": "mitre-attack-pattern",
     "value": "Command and Scripting Interpreter - T1059", "tag_name": "misp-galaxy:mitre-attack-pattern=\"Command and Scripting Interpreter - T1059\"",
     "meta": {"external_id": ["T1059"]}}]}],
 "Attribute": [
  {"uuid": "8d1f3a52-0000-4000-8000-000000000001", "type": "ip-src", "category": "Network activity", "value": "203.0.113.5", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000002", "type": "ip-dst", "category": "Network activity", "value": "203.0.113.6", "to_ids": false, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000003", "type": "hostname", "category": "Network activity", "value": "c2.example.net", "to_ids": true, "timestamp": "1770790000",
   "Tag": [{"name": "tlp:red"}, {"name": "misp-galaxy:mitre-attack-pattern=\"Spearphishing Attachment - T1566.001\""}]},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000004", "type": "domain", "category": "Network activity", "value": "benign.example.org", "to_ids": false, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000005", "type": "url", "category": "Network activity", "value": "http://c2.example.net/a.php?x=1", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000006", "type": "email-src", "category": "Payload delivery", "value": "attacker@example.net", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000007", "type": "sha256", "category": "Payload delivery", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000008", "type": "md5", "category": "Artifacts dropped", "value": "098f6bcd4621d373cade4e832627b4f6", "to_ids": false, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000009", "type": "ip-dst|port", "category": "Network activity", "value": "198.51.100.20|443", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000010", "type": "domain|ip", "category": "Network activity", "value": "pair.example.com|192.0.2.1", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000011", "type": "filename|sha256", "category": "Payload delivery", "value": "drop.exe|2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000012", "type": "mutex", "category": "Artifacts dropped", "value": "Global\\evil-mutex", "to_ids": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000013", "type": "vulnerability", "category": "External analysis", "value": "CVE-2021-44228", "to_ids": false, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000014", "type": "ip-dst", "category": "Network activity", "value": "203.0.113.66", "to_ids": true, "deleted": true, "timestamp": "1770790000"},
  {"uuid": "8d1f3a52-0000-4000-8000-000000000015", "type": "filename", "category": "Payload delivery", "value": "readme.txt", "to_ids": false, "timestamp": "1770790000"}
 ],
 "EventReport": [{"uuid": "8d1f3a52-0000-4000-8000-000000000200", "name": "Analysis", "content": "# Findings\n\nC2 at c2.example.net, see @[attribute](8d1f3a52-0000-4000-8000-000000000003).", "timestamp": "1770790000"}],
 "Object": [{"uuid": "8d1f3a52-0000-4000-8000-000000000100", "name": "file", "meta-category": "file", "timestamp": "1770790000",
   "Attribute": [
    {"uuid": "8d1f3a52-0000-4000-8000-000000000101", "type": "filename", "category": "Payload delivery", "object_relation": "filename", "value": "loader.dll", "to_ids": true, "timestamp": "1770790000"},
    {"uuid": "8d1f3a52-0000-4000-8000-000000000102", "type": "sha1", "category": "Payload delivery", "object_relation": "sha1", "value": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "to_ids": true, "timestamp": "1770790000"}]}]
}}`

// mitreLookup serves MITRE's objects, which a deployment keeps in the ATT&CK
// collection, from the index: enough of each (type, name, ATT&CK external
// reference) for a galaxy cluster.
func mitreLookup(ix *attack.Index) func(string) (stix.RawObject, bool) {
	return func(id string) (stix.RawObject, bool) {
		ref, ok := ix.Object(id)
		if !ok || ref.ID != id {
			return stix.RawObject{}, false
		}
		b, _ := json.Marshal(map[string]any{"type": ref.Type, "spec_version": "2.1", "id": ref.ID, "name": ref.Name,
			"created": "2017-05-31T21:30:00.000Z", "modified": "2025-04-15T00:00:00.000Z",
			"external_references": []map[string]string{{"source_name": "mitre-attack", "external_id": ref.ExternalID, "url": ref.URL}}})
		o, err := stix.ParseRaw(b)
		if err != nil {
			return stix.RawObject{}, false
		}
		return *o, true
	}
}

// ingestPool ingests the MISP events in path through the converter and the
// Runner (DefaultConfig: TLP markings, valid_until) into a real embedded pool
// and returns the pool's objects and a Native reading its provenance.
func ingestPool(t *testing.T, path string, now time.Time) ([]stix.RawObject, func(kind, value string) (string, string, bool), storage.ProvenanceStore) {
	t.Helper()
	ix := fullIndex(t)
	conv := &misp.Converter{Attack: ix, Identity: ingesttest.Identity, Share: ingest.ShareCommunity, Now: now}
	b := convertPath(t, conv, path)
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	t.Cleanup(func() { store.Close() })
	cfg := ingest.FeedConfig{Name: "misp-partner", Provider: misp.Provider, Attack: ix}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runner := &ingest.Runner{Store: store, Identity: ingesttest.Identity, Config: ingest.DefaultConfig(),
		Now: func() time.Time { return now }}
	if _, err := runner.Run(ctx, &ingest.Feed{Config: cfg, Source: ingesttest.Batches{*b}}); err != nil {
		t.Fatal(err)
	}
	page, err := store.QueryObjects(ctx, ingest.DefaultPool, storage.Filter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if page.More {
		t.Fatal("pool larger than one page")
	}
	objs := make([]stix.RawObject, 0, len(page.Records))
	for _, r := range page.Records {
		o, err := stix.ParseRaw(r.JSON)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, *o)
	}
	native := func(kind, value string) (string, string, bool) {
		recs, err := store.Provenance(ctx, kind, value)
		if err != nil {
			t.Errorf("Provenance(%s, %s): %v", kind, value, err)
			return "", "", false
		}
		var vs [][]byte
		for _, r := range recs {
			vs = append(vs, r.Verdict)
		}
		return misp.NativeOf(vs...)
	}
	return objs, native, store
}

// provenanceTLP is ExportOptions.TLP over store's provenance.
func provenanceTLP(t *testing.T, store storage.ProvenanceStore) func(kind, value string) (stix.TLP, bool) {
	return func(kind, value string) (stix.TLP, bool) {
		recs, err := store.Provenance(context.Background(), kind, value)
		if err != nil {
			t.Errorf("Provenance(%s, %s): %v", kind, value, err)
			return stix.TLPNone, false
		}
		var vs [][]byte
		for _, r := range recs {
			vs = append(vs, r.Verdict)
		}
		return misp.ProvenanceTLP(vs...)
	}
}

// roundTrip ingests the MISP events in path into a pool and exports the pool
// back, failing on any export warning.
func roundTrip(t *testing.T, path string, now time.Time) []misp.Event {
	t.Helper()
	objs, native, store := ingestPool(t, path, now)
	events, warns, err := misp.Export(objs, misp.ExportOptions{Org: testOrg, Now: now.Add(time.Hour), Native: native,
		Collection: ingest.DefaultPool, Lookup: mitreLookup(fullIndex(t)), TLP: provenanceTLP(t, store)})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Errorf("export warning: %s", w)
	}
	return events
}

var techniqueSuffix = regexp.MustCompile(` - (T\d{4}(?:\.\d{3})?)"?$`)

// techniques returns the ATT&CK technique ids of tags and galaxy blocks.
func techniques(tags []any, galaxies []any) map[string]bool {
	out := map[string]bool{}
	for _, t := range tags {
		name, _ := t.(map[string]any)["name"].(string)
		if strings.HasPrefix(name, "misp-galaxy:mitre-attack-pattern=") {
			if m := techniqueSuffix.FindStringSubmatch(name); m != nil {
				out[m[1]] = true
			}
		}
	}
	for _, g := range galaxies {
		gm := g.(map[string]any)
		if gm["type"] != "mitre-attack-pattern" {
			continue
		}
		cls, _ := gm["GalaxyCluster"].([]any)
		for _, c := range cls {
			cm := c.(map[string]any)
			if v, _ := cm["value"].(string); techniqueSuffix.MatchString(v) {
				out[techniqueSuffix.FindStringSubmatch(v)[1]] = true
			}
		}
	}
	return out
}

func tlpOf(tags []any) string {
	level := ""
	rank := map[string]int{"": 0, "tlp:clear": 1, "tlp:green": 2, "tlp:amber": 3, "tlp:amber+strict": 4, "tlp:red": 5}
	for _, t := range tags {
		name, _ := t.(map[string]any)["name"].(string)
		name = strings.ToLower(name)
		if name == "tlp:white" {
			name = "tlp:clear"
		}
		if _, ok := rank[name]; ok && rank[name] > rank[level] {
			level = name
		}
	}
	return level
}

// simpleRoundTrip are the attribute types whose value comes back under the
// same type (given Native from provenance), value and to_ids.
var simpleRoundTrip = map[string]bool{"ip-src": true, "ip-dst": true, "domain": true, "hostname": true, "url": true,
	"uri": true, "email-src": true, "email-dst": true, "email": true, "md5": true, "sha1": true, "sha256": true,
	"sha512": true, "ssdeep": true}

// nonPoolIndicators come back as the same type and value when to_ids; with
// to_ids false, the types with an SCO come back as the same type (regkey|value
// as its key alone).
var nonPoolIndicators = map[string]bool{"filename": true, "mutex": true, "regkey": true, "regkey|value": true,
	"vulnerability": true}

// TestExportRoundTrip: MISP → ctibroker (converter, Runner, embedded pool) →
// MISP (Export) keeps values, types, to_ids, TLP and ATT&CK techniques of the
// real events in ../shared and of a synthetic one. Expectations come from the
// raw MISP JSON, read independently of the package.
func TestExportRoundTrip(t *testing.T) {
	synth := filepath.Join(t.TempDir(), "synthetic.json")
	if err := os.WriteFile(synth, []byte(syntheticEvent), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{synth}
	for _, f := range []string{"event_sednit_objects_galaxies.json", "event_sunorcal_attributes.json",
		"feed_event_57c4445b-c548-4654-af0b-4be3950d210f.json"} {
		paths = append(paths, ingesttest.MustShared(t, "testdata/providers/misp/"+f))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			orig := rawEvents(t, path)
			if len(orig) != 1 {
				t.Fatalf("%d events in %s", len(orig), path)
			}
			o := orig[0]
			ts, _ := o["timestamp"].(string)
			var sec int64
			fmt.Sscan(ts, &sec)
			now := time.Unix(sec, 0).UTC().Add(24 * time.Hour)
			events := roundTrip(t, path, now)
			var ev map[string]any
			for i := range events {
				if events[i].UUID == o["uuid"] {
					b, _ := misp.MarshalFeedEvent(&events[i])
					var w map[string]map[string]any
					if err := json.Unmarshal(b, &w); err != nil {
						t.Fatal(err)
					}
					ev = w["Event"]
				}
			}
			if ev == nil {
				t.Fatalf("no exported event with the original uuid %v among %d", o["uuid"], len(events))
			}
			if len(events) != 1 {
				t.Errorf("%d events, want the one: every value is in the event's report", len(events))
			}
			checkRoundTrip(t, o, ev)
		})
	}
}

type exported struct {
	typ     string
	toIDs   bool
	deleted bool
	tlp     string
}

func checkRoundTrip(t *testing.T, o, ev map[string]any) {
	t.Helper()
	evTLP := tlpOf(anyList(ev["Tag"]))
	origTLP := tlpOf(anyList(o["Tag"]))
	got := map[string][]exported{}
	for _, a := range anyList(ev["Attribute"]) {
		am := a.(map[string]any)
		tlp := tlpOf(anyList(am["Tag"]))
		if tlp == "" {
			tlp = evTLP
		}
		v := am["value"].(string)
		got[v] = append(got[v], exported{am["type"].(string), am["to_ids"] == true, am["deleted"] == true, tlp})
	}
	// Every original attribute (objects' included).
	type want struct {
		types map[string]bool
		toIDs bool
		tlp   string
	}
	wants := map[string]*want{}
	var deleted []string
	add := func(value, typ string, toIDs bool, tlp string) {
		w := wants[value]
		if w == nil {
			w = &want{types: map[string]bool{}}
			wants[value] = w
		}
		w.types[typ] = true
		w.toIDs = w.toIDs || toIDs
		rank := map[string]int{"": 0, "tlp:clear": 1, "tlp:green": 2, "tlp:amber": 3, "tlp:amber+strict": 4, "tlp:red": 5}
		if rank[tlp] > rank[w.tlp] {
			w.tlp = tlp
		}
	}
	var attrs []map[string]any
	for _, a := range anyList(o["Attribute"]) {
		attrs = append(attrs, a.(map[string]any))
	}
	for _, ob := range anyList(o["Object"]) {
		for _, a := range anyList(ob.(map[string]any)["Attribute"]) {
			attrs = append(attrs, a.(map[string]any))
		}
	}
	for _, a := range attrs {
		typ, _ := a["type"].(string)
		value, _ := a["value"].(string)
		toIDs := truthy(a["to_ids"])
		tlp := tlpOf(append(append([]any(nil), anyList(o["Tag"])...), anyList(a["Tag"])...))
		if truthy(a["deleted"]) {
			deleted = append(deleted, value)
			continue
		}
		switch {
		case simpleRoundTrip[typ]:
			add(normalised(t, typ, value), typ, toIDs, tlp)
		case typ == "domain|ip" || typ == "ip-src|port" || typ == "ip-dst|port" || typ == "hostname|port" ||
			strings.HasPrefix(typ, "filename|"):
			// The pool keeps the values, not the pair: each value comes back alone.
			left, right, _ := strings.Cut(value, "|")
			parts := map[string][2]string{"domain|ip": {"domain", "ip-dst"}, "ip-src|port": {"ip-src", ""},
				"ip-dst|port": {"ip-dst", ""}, "hostname|port": {"hostname", ""}}[typ]
			if strings.HasPrefix(typ, "filename|") {
				parts = [2]string{"", strings.TrimPrefix(typ, "filename|")}
			}
			for i, p := range []string{left, right} {
				if parts[i] != "" && simpleRoundTrip[parts[i]] {
					add(normalised(t, parts[i], p), "*", toIDs, tlp)
				}
			}
		case nonPoolIndicators[typ] && (toIDs || typ != "regkey|value"):
			add(value, typ, toIDs, tlp)
		case typ == "link" && strings.Contains(value, "://") && !strings.ContainsAny(value, " \t\n"):
			// Links are the report's external references; with to_ids they
			// are url values as well.
			if toIDs {
				add(value, "url", true, tlp)
			} else {
				add(value, typ, false, tlp)
			}
		}
	}
	if len(wants) == 0 {
		t.Fatal("no attribute to check")
	}
	for value, w := range wants {
		g := got[value]
		if len(g) != 1 {
			t.Errorf("%q: %d exported attributes, want 1", value, len(g))
			continue
		}
		e := g[0]
		if !w.types["*"] && !w.types[e.typ] {
			t.Errorf("%q: type %s, want one of %v", value, e.typ, w.types)
		}
		if e.toIDs != w.toIDs || e.deleted {
			t.Errorf("%q: to_ids %v deleted %v, want to_ids %v, live", value, e.toIDs, e.deleted, w.toIDs)
		}
		// The level of a value with to_ids false (an SCO, no marking of its
		// own) comes from provenance (ExportOptions.TLP).
		if e.tlp != w.tlp {
			t.Errorf("%q: TLP %s, want %s", value, e.tlp, w.tlp)
		}
	}
	for _, v := range deleted {
		for _, e := range got[v] {
			if !e.deleted && wants[v] == nil {
				t.Errorf("deleted %q came back live", v)
			}
		}
	}
	if rank := map[string]int{"": 0, "tlp:clear": 1, "tlp:green": 2, "tlp:amber": 3, "tlp:amber+strict": 4, "tlp:red": 5}; rank[evTLP] < rank[origTLP] {
		t.Errorf("event TLP %s, looser than the original %s", evTLP, origTLP)
	}
	// ATT&CK techniques, of the event and of its attributes.
	origTech := techniques(anyList(o["Tag"]), anyList(o["Galaxy"]))
	for _, a := range attrs {
		for id := range techniques(anyList(a["Tag"]), anyList(a["Galaxy"])) {
			origTech[id] = true
		}
	}
	gotTech := techniques(anyList(ev["Tag"]), anyList(ev["Galaxy"]))
	for _, a := range anyList(ev["Attribute"]) {
		am := a.(map[string]any)
		for id := range techniques(anyList(am["Tag"]), anyList(am["Galaxy"])) {
			gotTech[id] = true
		}
	}
	for id := range origTech {
		if !gotTech[id] {
			t.Errorf("ATT&CK technique %s lost (got %v)", id, gotTech)
		}
	}
	// Event reports: uuid, name and content.
	gotReports := map[string]map[string]any{}
	for _, r := range anyList(ev["EventReport"]) {
		rm := r.(map[string]any)
		gotReports[rm["uuid"].(string)] = rm
	}
	for _, r := range anyList(o["EventReport"]) {
		rm := r.(map[string]any)
		if truthy(rm["deleted"]) {
			continue
		}
		g := gotReports[rm["uuid"].(string)]
		if g == nil || g["name"] != rm["name"] || g["content"] != rm["content"] {
			t.Errorf("event report %v came back as %v", rm["uuid"], g)
		}
	}
	// Galaxy blocks carry meta.external_id for every mitre-* cluster.
	for _, g := range anyList(ev["Galaxy"]) {
		gm := g.(map[string]any)
		if !strings.HasPrefix(gm["type"].(string), "mitre-") {
			continue
		}
		for _, c := range anyList(gm["GalaxyCluster"]) {
			meta, _ := c.(map[string]any)["meta"].(map[string]any)
			if len(anyList(meta["external_id"])) != 1 {
				t.Errorf("cluster %v has no meta.external_id", c.(map[string]any)["value"])
			}
		}
	}
}

func normalised(t *testing.T, typ, value string) string {
	t.Helper()
	nt := map[string]string{"ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain", "url": "url",
		"uri": "url", "email-src": "email", "email-dst": "email", "email": "email", "md5": "md5", "sha1": "sha1",
		"sha256": "sha256", "sha512": "sha512", "ssdeep": "ssdeep"}[typ]
	v, err := ingest.Normalize(nt, value)
	if err != nil {
		return value
	}
	return v.Value
}

// TestExportRealGolden: the real events in ../shared, ingested into a pool
// a day after the event's timestamp and exported (as TestExportRoundTrip
// does; the clock is fixed, so values are live), compared with
// testdata/export/real/<file>; -update rewrites them. The pool's
// relationships carry the Runner's clock, so the output is the same every run.
func TestExportRealGolden(t *testing.T) {
	for _, f := range []string{"event_sednit_objects_galaxies.json", "event_sunorcal_attributes.json",
		"feed_event_57c4445b-c548-4654-af0b-4be3950d210f.json"} {
		t.Run(f, func(t *testing.T) {
			path := ingesttest.MustShared(t, "testdata/providers/misp/"+f)
			var sec int64
			fmt.Sscan(rawEvents(t, path)[0]["timestamp"].(string), &sec)
			events := roundTrip(t, path, time.Unix(sec, 0).UTC().Add(24*time.Hour))
			ingesttest.MustMatchGolden(t, filepath.Join("testdata/export/real", f), renderEvents(t, events), *update)
		})
	}
}

// TestExportRoundTripExpired: exported after the Runner's default lifetimes
// have passed, every detection-worthy pool value of the synthetic event is a
// deleted attribute (the indicators the converter authors for other types,
// mutex and filename, carry no valid_until and stay live).
func TestExportRoundTripExpired(t *testing.T) {
	synth := filepath.Join(t.TempDir(), "synthetic.json")
	if err := os.WriteFile(synth, []byte(syntheticEvent), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, _, _ := ingestPool(t, synth, time.Unix(1770800000, 0).UTC())
	later, _, err := misp.Export(objs, misp.ExportOptions{Org: testOrg, Now: time.Unix(1770800000, 0).AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range later {
		for _, a := range ev.Attribute {
			if a.ToIDs == nil || !bool(*a.ToIDs) {
				continue
			}
			if a.Type == "mutex" || a.Type == "filename" {
				if a.Deleted {
					t.Errorf("%s %s deleted, but it has no valid_until", a.Type, a.Value)
				}
				continue
			}
			n++
			if !a.Deleted {
				t.Errorf("%s %s is live a year later", a.Type, a.Value)
			}
		}
		var h strings.Builder
		if err := misp.WriteHashesCSV(&h, []misp.Event{ev}); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, a := range ev.Attribute {
			if !a.Deleted {
				sum := md5.Sum([]byte(a.Value))
				want[hex.EncodeToString(sum[:])+","+ev.UUID] = true
			}
		}
		lines := strings.Split(strings.TrimSuffix(h.String(), "\n"), "\n")
		for _, l := range lines {
			if !want[l] {
				t.Errorf("hashes.csv line %q is no live value", l)
			}
		}
		if len(lines) != len(want) {
			t.Errorf("hashes.csv has %d lines, want %d (the live values)", len(lines), len(want))
		}
	}
	if n == 0 {
		t.Fatal("no detection-worthy attributes")
	}
}

func anyList(v any) []any { l, _ := v.([]any); return l }
