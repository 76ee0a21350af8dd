package misp_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
)

// testOrg is the instance identity the export tests publish as.
var testOrg = misp.Org{Name: "ctibroker test", UUID: strings.TrimPrefix(ingesttest.Identity, "identity--")}

// exportCase is testdata/export/<case>/options.json.
type exportCase struct {
	Now           time.Time            `json:"now"`
	Collection    string               `json:"collection"`
	Grouping      string               `json:"grouping"`
	MaxAttributes int                  `json:"max_attributes"`
	Native        map[string][2]string `json:"native"` // "kind|value": [type, category]
	Added         map[string]time.Time `json:"added"`
	Lookup        []json.RawMessage    `json:"lookup"`
}

func (c *exportCase) options(tb testing.TB) misp.ExportOptions {
	tb.Helper()
	opt := misp.ExportOptions{Org: testOrg, Now: c.Now, Collection: c.Collection, Grouping: c.Grouping,
		MaxAttributes: c.MaxAttributes}
	if c.Native != nil {
		opt.Native = func(kind, value string) (string, string, bool) {
			n, ok := c.Native[kind+"|"+value]
			return n[0], n[1], ok
		}
	}
	if c.Added != nil {
		opt.Added = func(id string) (time.Time, bool) { t, ok := c.Added[id]; return t, ok }
	}
	if c.Lookup != nil {
		objs := map[string]stix.RawObject{}
		for _, o := range mustRawObjects(tb, c.Lookup) {
			objs[o.ID] = o
		}
		opt.Lookup = func(id string) (stix.RawObject, bool) { o, ok := objs[id]; return o, ok }
	}
	return opt
}

func mustRawObjects(tb testing.TB, list []json.RawMessage) []stix.RawObject {
	tb.Helper()
	out := make([]stix.RawObject, 0, len(list))
	for i, b := range list {
		o, err := stix.ParseRaw(b)
		if err != nil {
			tb.Fatalf("object %d: %v", i, err)
		}
		out = append(out, *o)
	}
	return out
}

func mustReadCase(tb testing.TB, dir string) ([]stix.RawObject, misp.ExportOptions) {
	tb.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(ingesttest.MustRead(tb, filepath.Join(dir, "input.json")), &list); err != nil {
		tb.Fatal(err)
	}
	var c exportCase
	if err := json.Unmarshal(ingesttest.MustRead(tb, filepath.Join(dir, "options.json")), &c); err != nil {
		tb.Fatal(err)
	}
	return mustRawObjects(tb, list), c.options(tb)
}

// renderEvents renders events as a feed would serve them (MarshalFeedEvent),
// one per line inside a JSON array, indented for reviewable diffs, followed by
// the manifest and hashes.csv.
func renderEvents(tb testing.TB, events []misp.Event) []byte {
	tb.Helper()
	var out struct {
		Events   []json.RawMessage `json:"events"`
		Manifest misp.Manifest     `json:"manifest"`
		Hashes   []string          `json:"hashes_csv"`
	}
	for i := range events {
		b, err := misp.MarshalFeedEvent(&events[i])
		if err != nil {
			tb.Fatal(err)
		}
		out.Events = append(out.Events, b)
	}
	out.Manifest = misp.FeedManifest(events)
	var h bytes.Buffer
	if err := misp.WriteHashesCSV(&h, events); err != nil {
		tb.Fatal(err)
	}
	out.Hashes = strings.Split(strings.TrimSuffix(h.String(), "\n"), "\n")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportGolden converts each testdata/export/<case>/input.json with its
// options.json and compares the events, manifest and hashes.csv with
// want.json; -update rewrites want.json. Converting the input shuffled gives
// the same bytes, and every event reads back through DecodeEvents.
func TestExportGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/export/*/input.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no export golden cases: %v", err)
	}
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			objs, opt := mustReadCase(t, dir)
			events, warns, err := misp.Export(objs, opt)
			if err != nil {
				t.Fatal(err)
			}
			got := renderEvents(t, events)
			var ws []string
			for _, w := range warns {
				ws = append(ws, w.String())
			}
			if len(ws) > 0 {
				got = append(got, []byte("warnings:\n"+strings.Join(ws, "\n")+"\n")...)
			}
			ingesttest.MustMatchGolden(t, filepath.Join(dir, "want.json"), got, *update)

			// The bytes are the truth: objects carrying only their type and id
			// (as a store's records give them) convert the same.
			bare := make([]stix.RawObject, len(objs))
			for i, o := range objs {
				bare[i] = stix.RawObject{Common: stix.Common{Type: o.Type, ID: o.ID}, JSON: o.JSON}
			}
			fromBytes, _, err := misp.Export(bare, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(renderEvents(t, fromBytes), renderEvents(t, events)) {
				t.Error("objects with only type and id give other events")
			}

			r := rand.New(rand.NewPCG(1, 2))
			for range 3 {
				shuffled := append([]stix.RawObject(nil), objs...)
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				again, _, err := misp.Export(shuffled, opt)
				if err != nil {
					t.Fatal(err)
				}
				if b := renderEvents(t, again); !bytes.Equal(b, renderEvents(t, events)) {
					t.Fatal("shuffled input gives other events")
				}
			}
			for i := range events {
				b, _ := misp.MarshalFeedEvent(&events[i])
				n, err := misp.DecodeEvents(bytes.NewReader(b), func(ev *misp.Event) error {
					if ev.UUID != events[i].UUID || len(ev.Attribute) != len(events[i].Attribute) {
						t.Errorf("event %s reads back as %s with %d attributes", events[i].UUID, ev.UUID, len(ev.Attribute))
					}
					return nil
				})
				if err != nil || n != 1 {
					t.Errorf("DecodeEvents(event %d) = %d, %v", i, n, err)
				}
			}
		})
	}
}

// exportReport exports the report golden case.
func exportReport(t *testing.T) []misp.Event {
	t.Helper()
	objs, opt := mustReadCase(t, "testdata/export/report")
	events, _, err := misp.Export(objs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func findAttr(ev *misp.Event, value string) *misp.Attribute {
	for i := range ev.Attribute {
		if ev.Attribute[i].Value == value {
			return &ev.Attribute[i]
		}
	}
	return nil
}

func tagNames(tags []misp.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}

func hasTag(tags []misp.Tag, name string) bool {
	for _, t := range tags {
		if t.Name == name {
			return true
		}
	}
	return false
}

// TestExportRules checks the rules of the report case one by one, so that a
// wrong golden file cannot hide them.
func TestExportRules(t *testing.T) {
	events := exportReport(t)
	var ev *misp.Event
	for i := range events {
		if events[i].UUID == "11111111-1111-4111-8111-111111111111" {
			ev = &events[i]
		}
	}
	if ev == nil {
		t.Fatalf("no event with the report's uuid among %d events", len(events))
	}
	if ev.Info != "Operation Test <& friends>" || ev.Date != "2026-03-01" || !bool(ev.Published) || ev.Analysis != "2" {
		t.Errorf("event header: info %q date %s published %v analysis %s", ev.Info, ev.Date, ev.Published, ev.Analysis)
	}
	if ev.Orgc == nil || ev.Orgc.UUID != testOrg.UUID {
		t.Errorf("Orgc %+v, want %+v", ev.Orgc, testOrg)
	}
	// The latest modified of the content: indicator 1 at 12:00 on 2026-03-01 is
	// older than the report's 2026-03-02.
	if want := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix(); string(ev.Timestamp) != itoa(want) {
		t.Errorf("timestamp %s, want %d", ev.Timestamp, want)
	}
	if ev.ThreatLevelID != "1" {
		t.Errorf("threat_level_id %s, want 1 (an attribute in the high band)", ev.ThreatLevelID)
	}
	// TLP: the observed-data's TLP 1.0 red is the most restrictive content.
	if !hasTag(ev.Tag, "tlp:red") || hasTag(ev.Tag, "tlp:green") {
		t.Errorf("event tags %v, want tlp:red only", tagNames(ev.Tag))
	}
	for _, want := range []string{`misp-galaxy:mitre-attack-pattern="Command and Scripting Interpreter - T1059"`,
		`misp-galaxy:threat-actor="Test Actor"`, `misp:confidence-level="fairly-confident"`, "campaign:test", "kill-chain:delivery"} {
		if !hasTag(ev.Tag, want) {
			t.Errorf("event tags %v lack %s", tagNames(ev.Tag), want)
		}
	}
	for _, no := range []string{"Threat-Report", `misp:tool="MISP-STIX-Converter"`} {
		if hasTag(ev.Tag, no) {
			t.Errorf("event tags %v have bookkeeping label %s", tagNames(ev.Tag), no)
		}
	}
	var attackExt string
	for _, g := range ev.Galaxy {
		if g.Type == "mitre-attack-pattern" && len(g.GalaxyCluster) == 1 {
			if ids := g.GalaxyCluster[0].MetaStrings("external_id"); len(ids) == 1 {
				attackExt = ids[0]
			}
		}
	}
	if attackExt != "T1059" {
		t.Errorf("no mitre-attack-pattern Galaxy block with meta.external_id T1059: %+v", ev.Galaxy)
	}
	for _, tt := range []struct {
		value, typ, cat string
		toIDs, deleted  bool
		tags            []string
	}{
		{"198.51.100.7", "ip-src", "Network activity", true, false,
			[]string{"tlp:amber", `misp-galaxy:malpedia="Emotet"`, `misp:confidence-level="usually-confident"`}},
		{"evil.example.com", "hostname", "Network activity", true, false, []string{`misp:confidence-level="fairly-confident"`}},
		{"http://evil.example.com/gate.php?id=1&x=<y>", "url", "Network activity", true, false, nil},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256", "Payload delivery", true, false, []string{"malicious-activity"}},
		{"phish@example.org", "email-src", "Payload delivery", true, false, nil},
		{"[ipv4-addr:value = '203.0.113.1'] OR [ipv4-addr:value = '203.0.113.2']", "stix2-pattern", "Payload installation", true, false, nil},
		{"invoice.exe|a3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "filename|sha256", "Payload delivery", true, false, nil},
		{"192.0.2.10", "ip-src", "Network activity", true, false, nil},
		{"rule test { condition: true }", "yara", "Payload installation", true, false, nil},
		{"revoked.example.net", "domain", "Network activity", true, true, nil},
		{"192.0.2.99", "ip-dst", "Network activity", true, true, nil},
		{"192.0.2.55", "ip-dst", "Network activity", false, false, nil}, // Native's domain|ip does not fit one address
		{"d41d8cd98f00b204e9800998ecf8427e", "md5", "Payload delivery", false, false, nil},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1", "Payload delivery", false, false, nil},
		{"CVE-2024-3400", "vulnerability", "External analysis", false, false, nil},
		{"Test Campaign", "campaign-name", "Attribution", false, false, nil},
	} {
		a := findAttr(ev, tt.value)
		if a == nil {
			t.Errorf("no attribute %q", tt.value)
			continue
		}
		if a.Type != tt.typ || a.Category != tt.cat || a.ToIDs == nil || bool(*a.ToIDs) != tt.toIDs || bool(a.Deleted) != tt.deleted {
			t.Errorf("%s: type %s category %s to_ids %v deleted %v, want %s %s %v %v", tt.value, a.Type, a.Category,
				a.ToIDs != nil && bool(*a.ToIDs), a.Deleted, tt.typ, tt.cat, tt.toIDs, tt.deleted)
		}
		for _, tag := range tt.tags {
			if !hasTag(a.Tag, tag) {
				t.Errorf("%s: tags %v lack %s", tt.value, tagNames(a.Tag), tag)
			}
		}
		if hasTag(a.Tag, "tlp:red") {
			t.Errorf("%s carries the event's own TLP", tt.value)
		}
	}
	// The indicator and the SCO of evil.example.com are one attribute; the
	// technique it indicates is already the event's, so not repeated.
	n := 0
	for _, a := range ev.Attribute {
		if a.Value == "evil.example.com" {
			n++
			if len(a.Galaxy) > 0 {
				t.Errorf("evil.example.com repeats the event's galaxy: %+v", a.Galaxy)
			}
		}
	}
	if n != 1 {
		t.Errorf("evil.example.com is %d attributes, want 1", n)
	}
	if a := findAttr(ev, "198.51.100.7"); a != nil && !strings.Contains(a.Comment, "C2 server") ||
		a != nil && !strings.Contains(a.Comment, "ctibroker risk score 72 (high)") {
		t.Errorf("comment %q, want the description and the score", a.Comment)
	}
	if len(events) != 1 {
		t.Errorf("%d events, want 1: every indicator is in the report", len(events))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestExportGrouping checks the grouped case: per day and TLP, the size cap
// with stable part uuids, SCOs travelling with their indicator.
func TestExportGrouping(t *testing.T) {
	objs, opt := mustReadCase(t, "testdata/export/grouped")
	events, _, err := misp.Export(objs, opt)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ date, tlp string }
	got := map[key][]string{}
	byUUID := map[string]bool{}
	for _, ev := range events {
		if byUUID[ev.UUID] {
			t.Errorf("uuid %s twice", ev.UUID)
		}
		byUUID[ev.UUID] = true
		tlp := ""
		for _, tag := range ev.Tag {
			if strings.HasPrefix(tag.Name, "tlp:") {
				tlp = tag.Name
			}
		}
		if len(ev.Attribute) > 2 {
			t.Errorf("event %s has %d attributes, cap 2", ev.Info, len(ev.Attribute))
		}
		for _, a := range ev.Attribute {
			got[key{ev.Date, tlp}] = append(got[key{ev.Date, tlp}], a.Value)
		}
	}
	want := map[key][]string{
		{"2026-03-01", "tlp:clear"}: {"198.51.100.1", "198.51.100.2", "198.51.100.3"},
		{"2026-03-01", "tlp:amber"}: {"amber.example"},
		{"2026-03-02", ""}:          {"https://day2.example/x", "observed@example.org"},
	}
	for k, vs := range want {
		slices.Sort(got[k])
		if strings.Join(got[k], ",") != strings.Join(vs, ",") {
			t.Errorf("%v: %v, want %v", k, got[k], vs)
		}
	}
	// The SCO without date_added or created lands on the day of the export's
	// latest modified (2026-03-03).
	if strings.Join(got[key{"2026-03-03", ""}], ",") != "b3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("undated SCO: %v", got)
	}
	// A new value on day 1 (clear) appended: part 1 keeps its attributes.
	more := append(append([]stix.RawObject(nil), objs...), mustRawObjects(t, []json.RawMessage{json.RawMessage(
		`{"type":"indicator","spec_version":"2.1","id":"indicator--a0000000-0000-4000-8000-000000000099","created":"2026-03-01T05:00:00.000Z","modified":"2026-03-01T05:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.9']","pattern_type":"stix","valid_from":"2026-03-01T05:00:00.000Z","object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}`)})...)
	again, _, err := misp.Export(more, opt)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, ev := range events {
		b, _ := json.Marshal(ev.Attribute)
		before[ev.UUID] = string(b)
	}
	same := 0
	for _, ev := range again {
		b, _ := json.Marshal(ev.Attribute)
		if before[ev.UUID] == string(b) {
			same++
		}
	}
	if same < len(events)-1 {
		t.Errorf("adding one value changed %d events' attributes, want at most 1", len(events)-same)
	}
}

// TestExportOptionsErrors: bad options are errors naming the option.
func TestExportOptionsErrors(t *testing.T) {
	for name, opt := range map[string]misp.ExportOptions{
		"Grouping":      {Org: testOrg, Grouping: "per-feed"},
		"MaxAttributes": {Org: testOrg, MaxAttributes: -1},
		"Org":           {Org: misp.Org{UUID: testOrg.UUID}},
		"uuid":          {Org: misp.Org{Name: "x", UUID: "not-a-uuid"}},
	} {
		if _, _, err := misp.Export(nil, opt); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v, want one naming %s", name, err, name)
		}
	}
}

// TestExportBadObjects: an unparsable pattern or unknown pattern language is a
// warning naming the object and field; the rest converts.
func TestExportBadObjects(t *testing.T) {
	objs := mustRawObjects(t, []json.RawMessage{
		json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--f0000000-0000-4000-8000-000000000001","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = ","pattern_type":"stix","valid_from":"2026-03-01T00:00:00.000Z"}`),
		json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--f0000000-0000-4000-8000-000000000002","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","pattern":"index=main","pattern_type":"splunk","valid_from":"2026-03-01T00:00:00.000Z"}`),
		json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--f0000000-0000-4000-8000-000000000003","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00.000Z"}`),
	})
	events, warns, err := misp.Export(objs, misp.ExportOptions{Org: testOrg, Collection: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !ingesttest.HasWarning(warns, "indicator--f0000000-0000-4000-8000-000000000001", "pattern") ||
		!ingesttest.HasWarning(warns, "indicator--f0000000-0000-4000-8000-000000000002", "pattern_type") {
		t.Errorf("warnings %v", ingesttest.WarningStrings(warns))
	}
	if len(events) != 1 || len(events[0].Attribute) != 1 || events[0].Attribute[0].Value != "192.0.2.1" {
		t.Errorf("events %+v", events)
	}
}

// TestExportMISPSTIX exports the STIX bundles misp-stix makes of MISP's own
// test events (../shared/testdata/misp-stix, both the style MISP 2.5.1 ships
// and the current one: what a MISP "TAXII server" push stores in a
// collection) and compares the events with misp-stix's MISP input: same
// uuids and info, same attributes (type, value, to_ids).
func TestExportMISPSTIX(t *testing.T) {
	type attrKey struct {
		typ, value string
		toIDs      bool
	}
	want := map[string]map[attrKey]bool{}
	info := map[string]string{}
	for _, f := range []string{"head/test_events_collection_1.json", "head/test_events_collection_2.json"} {
		for _, ev := range rawEvents(t, ingesttest.MustShared(t, "testdata/misp-stix/"+f)) {
			u := ev["uuid"].(string)
			info[u] = ev["info"].(string)
			want[u] = map[attrKey]bool{}
			for _, a := range asList(ev["Attribute"]) {
				typ := a["type"].(string)
				toIDs := truthy(a["to_ids"])
				if a["to_ids"] == nil {
					toIDs = typ != "AS" // describeTypes: AS false, the others here true
				}
				want[u][attrKey{typ, a["value"].(string), toIDs}] = true
			}
		}
	}
	for _, style := range []string{"v2.4.196", "head"} {
		t.Run(style, func(t *testing.T) {
			var bundle struct {
				Objects []json.RawMessage `json:"objects"`
			}
			path := ingesttest.MustShared(t, "testdata/misp-stix/"+style+"/test_events_collection_stix21.json")
			if err := json.Unmarshal(ingesttest.MustRead(t, path), &bundle); err != nil {
				t.Fatal(err)
			}
			events, warns, err := misp.Export(mustRawObjects(t, bundle.Objects), misp.ExportOptions{Org: testOrg, Collection: "misp-push"})
			if err != nil || len(warns) > 0 {
				t.Fatalf("err %v, warnings %v", err, ingesttest.WarningStrings(warns))
			}
			if len(events) != len(want) {
				t.Errorf("%d events, want %d", len(events), len(want))
			}
			for _, ev := range events {
				w, ok := want[ev.UUID]
				if !ok {
					t.Errorf("event %s (%s) is none of misp-stix's input", ev.UUID, ev.Info)
					continue
				}
				if ev.Info != info[ev.UUID] {
					t.Errorf("%s: info %q, want %q", ev.UUID, ev.Info, info[ev.UUID])
				}
				got := map[attrKey]bool{}
				for _, a := range ev.Attribute {
					got[attrKey{a.Type, a.Value, a.ToIDs != nil && bool(*a.ToIDs)}] = true
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s: attributes %v, want %v", ev.UUID, got, w)
				}
			}
		})
	}
}

// TestExportWithdrawalStaysInPart: a value withdrawn by a new version (revoked,
// later modified) stays in its event part under the same attribute uuid, so
// that MISP, which edits attributes by uuid, deletes its copy.
func TestExportWithdrawalStaysInPart(t *testing.T) {
	objs, opt := mustReadCase(t, "testdata/export/grouped")
	before, _, err := misp.Export(objs, opt)
	if err != nil {
		t.Fatal(err)
	}
	where := func(events []misp.Event, value string) (string, *misp.Attribute) {
		for i := range events {
			if a := findAttr(&events[i], value); a != nil {
				return events[i].UUID, a
			}
		}
		return "", nil
	}
	ev1, a1 := where(before, "198.51.100.1")
	if a1 == nil || a1.Deleted {
		t.Fatalf("198.51.100.1: %+v", a1)
	}
	withdrawn := mustRawObjects(t, []json.RawMessage{json.RawMessage(
		`{"type":"indicator","spec_version":"2.1","id":"indicator--a0000000-0000-4000-8000-000000000001","created":"2026-03-01T01:00:00.000Z","modified":"2026-03-09T00:00:00.000Z","revoked":true,"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","pattern_version":"2.1","valid_from":"2026-03-01T01:00:00.000Z","object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}`)})
	// The new version's date_added is the day of the withdrawal.
	prevAdded := opt.Added
	opt.Added = func(id string) (time.Time, bool) {
		if id == "indicator--a0000000-0000-4000-8000-000000000001" {
			return time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), true
		}
		return prevAdded(id)
	}
	after, _, err := misp.Export(append(append([]stix.RawObject(nil), objs...), withdrawn...), opt)
	if err != nil {
		t.Fatal(err)
	}
	ev2, a2 := where(after, "198.51.100.1")
	if a2 == nil || ev2 != ev1 || a2.UUID != a1.UUID || !a2.Deleted {
		t.Errorf("withdrawn value: event %s attribute %+v, want event %s, uuid %s, deleted", ev2, a2, ev1, a1.UUID)
	}
	var ts1, ts2 string
	for _, e := range before {
		if e.UUID == ev1 {
			ts1 = string(e.Timestamp)
		}
	}
	for _, e := range after {
		if e.UUID == ev1 {
			ts2 = string(e.Timestamp)
		}
	}
	if ts2 <= ts1 {
		t.Errorf("event timestamp %s after the withdrawal, was %s: MISP would not pull it", ts2, ts1)
	}
}

// TestExportRevokedReport: a revoked report's event stays (a MISP feed cannot
// delete an event) with every attribute deleted.
func TestExportRevokedReport(t *testing.T) {
	objs, opt := mustReadCase(t, "testdata/export/report")
	var rep map[string]any
	for _, o := range objs {
		if o.Type == "report" {
			if err := json.Unmarshal(o.JSON, &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep["revoked"] = true
	rep["modified"] = "2026-03-05T00:00:00.000Z"
	b, _ := json.Marshal(rep)
	events, _, err := misp.Export(append(append([]stix.RawObject(nil), objs...), mustRawObjects(t, []json.RawMessage{b})...), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || len(events[0].Attribute) == 0 {
		t.Fatalf("%d events", len(events))
	}
	for _, a := range events[0].Attribute {
		if !a.Deleted {
			t.Errorf("%s %s live in a revoked report's event", a.Type, a.Value)
		}
	}
	if want := itoa(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC).Unix()); string(events[0].Timestamp) != want {
		t.Errorf("timestamp %s, want the revocation's %s", events[0].Timestamp, want)
	}
}

// TestExportSameValueStricterTLP: two indicators of one value (ctibroker's and
// a partner's, say) are one attribute at the stricter of their levels,
// whichever of them wins.
func TestExportSameValueStricterTLP(t *testing.T) {
	for _, order := range [][2]string{{"green", "red"}, {"red", "green"}} {
		refs := map[string]string{"green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
		objs := mustRawObjects(t, []json.RawMessage{
			json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--e0000000-0000-4000-8000-000000000001","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.7']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00.000Z","object_marking_refs":["` + refs[order[0]] + `"]}`),
			json.RawMessage(`{"type":"indicator","spec_version":"2.1","id":"indicator--e0000000-0000-4000-8000-000000000002","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-02T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.7']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00.000Z","object_marking_refs":["` + refs[order[1]] + `"]}`),
			json.RawMessage(`{"type":"report","spec_version":"2.1","id":"report--e0000000-0000-4000-8000-000000000003","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","published":"2026-03-01T00:00:00.000Z","name":"r","object_refs":["indicator--e0000000-0000-4000-8000-000000000001","indicator--e0000000-0000-4000-8000-000000000002"],"object_marking_refs":["` + refs["green"] + `"]}`),
		})
		events, _, err := misp.Export(objs, misp.ExportOptions{Org: testOrg})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || len(events[0].Attribute) != 1 {
			t.Fatalf("%v: %d events", order, len(events))
		}
		if !hasTag(events[0].Tag, "tlp:red") {
			t.Errorf("%v: event tags %v, want tlp:red", order, tagNames(events[0].Tag))
		}
	}
}
