package virustotal_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
	"github.com/ctibroker/ctibroker/stix"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

func testOptions(ix *attack.Index) virustotal.Options {
	return virustotal.Options{Feed: "vt-test", Identity: ingesttest.Identity, Attack: ix}
}

// TestGolden converts each testdata/<case>/input.json and compares with
// want.json; -update rewrites want.json. Each conversion is also ingested through
// the Runner and the stored bundle validated.
func TestGolden(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	ingesttest.RunConversionGolden(t, ingesttest.ConversionGolden{
		Glob: "testdata/*/input.json",
		Convert: func(tb testing.TB, path string) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
			return convertFile(tb, path, testOptions(ix))
		},
		Feed:   ingest.FeedConfig{Name: "vt", Provider: "virustotal", Attack: ix},
		Update: *update,
	})
}

func convertFile(tb testing.TB, path string, opts virustotal.Options) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	objs, obs, warns, err := virustotal.ConvertFile(f, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return objs, obs, warns
}

func objectByID(objs []stix.Object, id string) stix.Object {
	for _, o := range objs {
		if o.Base().ID == id {
			return o
		}
	}
	return nil
}

// mustAuthor returns what ctibroker authors for obs (ingest.Author, as convert
// does), relationships decoded.
func mustAuthor(t *testing.T, ix *attack.Index, obs []ingest.Observation) []stix.Object {
	t.Helper()
	cfg := ingest.FeedConfig{Name: "vt", Provider: "virustotal", Attack: ix}
	authored, _, err := ingest.Author(cfg, ingesttest.Identity, ingesttest.Time, obs)
	if err != nil {
		t.Fatal(err)
	}
	var out []stix.Object
	for _, o := range authored {
		if o.Type == "relationship" {
			var r stix.Relationship
			if err := json.Unmarshal(o.JSON, &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, &r)
		}
	}
	return out
}

func hasRel(objs []stix.Object, typ, src, tgt string) bool {
	for _, o := range objs {
		if r, ok := o.(*stix.Relationship); ok && r.RelationshipType == typ && r.SourceRef == src && r.TargetRef == tgt {
			return true
		}
	}
	return false
}

// TestOddValues checks odd content one case at a time, independently of the
// golden file.
func TestOddValues(t *testing.T) {
	_, obs, warns := convertFile(t, "testdata/odd_values/input.json", testOptions(nil))
	for _, w := range []struct{ record, field string }{
		{"0[0] (url 5e4d3c2b1a)", "attributes.url"},
		{"0[1] (file xxxx", "attributes.sha256"},
		{"0[2] (ip_address 999.1.1.1)", "id"},
		{"0[3] (domain quiet.example)", "attributes.last_analysis_stats"},
		{"0[4] (", "type"},
		{"0[5] (graph g-1)", "type"},
		{"0[6]", "error"},
		{"0[7] (domain evil[.]example)", "attributes.last_dns_records[0].value"},
		{"0[8] (collection malware--9)", "attributes.name"},
		{"0[9] (collection vulnerability--x)", "attributes.name"},
		{"0[10]", "document"},
	} {
		if !ingesttest.HasWarning(warns, w.record, w.field) {
			t.Errorf("no warning for record %q field %q; got %v", w.record, w.field, warns)
		}
	}
	for _, w := range warns {
		if w.Feed != "vt-test" || w.Record == "" || w.Field == "" || w.Msg == "" {
			t.Errorf("warning without feed/record/field/msg: %+v", w)
		}
	}
	if o := ingesttest.FindObservation(obs, "evil.example"); o == nil || !o.Detect {
		t.Errorf("defanged domain id: %+v", obs)
	}
	if o := ingesttest.FindObservation(obs, "quiet.example"); o == nil || o.Detect {
		t.Errorf("a domain without analysis must be observed without an indicator: %+v", o)
	}
}

// TestStreamAndGTI checks the IoC stream page and the GTI objects value by value.
func TestStreamAndGTI(t *testing.T) {
	ix := ingesttest.MustAttackSample(t)
	objs, obs, _ := convertFile(t, "testdata/ioc_stream_page/input.json", testOptions(ix))
	objs = append(objs, mustAuthor(t, ix, obs)...)
	// A hunting match with 1 of 70 engines is detection-worthy (own rule); both
	// hashes are observed, the MD5 lower-cased.
	for _, v := range []string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "098f6bcd4621d373cade4e832627b4f6"} {
		if o := ingesttest.FindObservation(obs, v); o == nil || !o.Detect || !slices.Contains(o.Context.Labels, "livehunt:ps_loader_generic") ||
			!slices.Contains(o.Context.CVEs, "CVE-2023-23397") {
			t.Errorf("hunting file %s: %+v", v, o)
		}
	}
	// A subscription to the Cobalt Strike collection links the URL's indicator to
	// ATT&CK's Cobalt Strike (S0154).
	cs, _ := ix.Resolve("S0154")
	u := ingesttest.FindObservation(obs, "https://cdn-update.example/jquery-3.3.1.min.js")
	v, _ := ingest.Normalize("url", u.Value)
	if !u.Detect || !hasRel(objs, "indicates", ingest.IndicatorID(v), cs.ID) || !slices.Contains(u.Context.AttackIDs, "S0154") {
		t.Errorf("url: %+v", u)
	}
	// Domain: lower-cased, DNS A/AAAA records resolved, the IPv6 compressed.
	d := ingesttest.FindObservation(obs, "update-check.example")
	dv, _ := ingest.Normalize("domain", d.Value)
	v6, _ := ingest.Normalize("ipv6-addr", "2001:db8::ff00:42:8329")
	if d == nil || !hasRel(objs, "resolves-to", ingest.ObservableID(dv), ingest.ObservableID(v6)) {
		t.Errorf("domain resolution to %s missing", v6.Value)
	}
	apt28, _ := ix.Resolve("G0007")
	if !hasRel(objs, "indicates", ingest.IndicatorID(dv), apt28.ID) {
		t.Error("domain of an APT28 subscription does not indicate G0007")
	}
	// IP with no detections: observed, no indicator; its AS.
	ip := ingesttest.FindObservation(obs, "198.51.100.77")
	if ip == nil || ip.Detect {
		t.Errorf("clean IP: %+v", ip)
	}
	var native map[string]any
	if err := json.Unmarshal(ip.Verdict, &native); err != nil || native["as_owner"] != "EXAMPLE-HOSTING" || native["malicious"] != 0.0 || native["total"] != 90.0 {
		t.Errorf("native fields: %v %v", native, err)
	}

	_, obs, _ = convertFile(t, "testdata/gti_objects/input.json", testOptions(ix))
	// GTI verdict malicious wins over 0 detections; benign over 2.
	if o := ingesttest.FindObservation(obs, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); o == nil || !o.Detect ||
		!slices.Contains(o.Context.Malware, "lockbit") || !slices.Contains(o.Context.AttackIDs, "S0002") {
		t.Errorf("GTI malicious file: %+v", o)
	}
	if o := ingesttest.FindObservation(obs, "http://downloads.example/get?a=1&b=2"); o == nil || o.Detect {
		t.Errorf("GTI benign URL (HTML entity unescaped): %+v", o)
	}
	if o := ingesttest.FindObservation(obs, "2001:db8::bad"); o == nil || !o.Detect {
		t.Errorf("uncompressed IPv6 with 3 detections: %+v", o)
	}
}

// TestRealPayloads converts the real VirusTotal and GTI payloads of the shared set
// (OpenCTI connector fixtures, Apache-2.0) and checks values read independently
// from each payload.
func TestRealPayloads(t *testing.T) {
	dir := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/virustotal/file_report.json"))
	ix, err := attack.Load(ingesttest.MustShared(t, "attack/enterprise-attack-18.1.json.gz"), ingesttest.MustShared(t, "attack/ics-attack-18.1.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(ix)
	type doc struct {
		Data struct {
			ID         string         `json:"id"`
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	for _, name := range []string{"file_report.json", "ip_address_report.json", "url_report.json"} {
		t.Run(name, func(t *testing.T) {
			var d doc
			if err := json.Unmarshal(ingesttest.MustRead(t, filepath.Join(dir, name)), &d); err != nil {
				t.Fatal(err)
			}
			objs, obs, warns := convertFile(t, filepath.Join(dir, name), opts)
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
			a := d.Data.Attributes
			stats := a["last_analysis_stats"].(map[string]any)
			value := d.Data.ID
			if d.Data.Type == "url" {
				value = a["url"].(string)
			}
			o := ingesttest.FindObservation(obs, value)
			if o == nil {
				t.Fatalf("no observation of %s in %+v", value, obs)
			}
			if want := stats["malicious"].(float64) > 0; o.Detect != want {
				t.Errorf("detect %v, %v engines malicious", o.Detect, stats["malicious"])
			}
			var native map[string]any
			if err := json.Unmarshal(o.Verdict, &native); err != nil {
				t.Fatal(err)
			}
			total := stats["harmless"].(float64) + stats["malicious"].(float64) + stats["suspicious"].(float64) + stats["undetected"].(float64)
			if native["malicious"] != stats["malicious"] || native["total"] != total || native["reputation"] != a["reputation"] {
				t.Errorf("native %v; stats %v reputation %v", native, stats, a["reputation"])
			}
			at, ok := a["last_analysis_date"].(float64)
			if !ok {
				at = a["last_modification_date"].(float64)
			}
			if want := time.Unix(int64(at), 0).UTC(); !o.Seen.Equal(want) {
				t.Errorf("seen %v, want %v", o.Seen, want)
			}
			switch d.Data.Type {
			case "file":
				for _, h := range []string{"md5", "sha1"} {
					if ingesttest.FindObservation(obs, a[h].(string)) == nil {
						t.Errorf("no observation of the %s", h)
					}
				}
				ptc := a["popular_threat_classification"].(map[string]any)
				if native["suggested_threat_label"] != ptc["suggested_threat_label"] || !slices.Contains(o.Context.Malware, "dllhijacker") {
					t.Errorf("threat classification: %v / %v", native["suggested_threat_label"], o.Context.Malware)
				}
			case "ip_address":
				as := stix.NewAutonomousSystem(int64(a["asn"].(float64)))
				got, ok := objectByID(objs, as.ID).(*stix.AutonomousSystem)
				if !ok || got.Name != a["as_owner"] {
					t.Errorf("autonomous system %d: %+v", int64(a["asn"].(float64)), got)
				}
			}
			ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "vt", Provider: "virustotal", Attack: ix}, objs, obs))
		})
	}
	t.Run("gti_collection_malware_family", func(t *testing.T) {
		var d struct {
			Response struct {
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"response"`
		}
		path := filepath.Join(dir, "gti_collection_malware_family_debugwrapped.json")
		if err := json.Unmarshal(ingesttest.MustRead(t, path), &d); err != nil {
			t.Fatal(err)
		}
		objs, obs, warns := convertFile(t, path, opts)
		if len(warns) != 0 || len(obs) != 0 {
			t.Errorf("warnings %v, observations %v", warns, obs)
		}
		a := d.Response.Attributes
		m, ok := objectByID(objs, ingest.ContextID("malware", a["name"].(string))).(*stix.Malware)
		if !ok || !m.IsFamily || m.Description != a["description"] || !slices.Contains(m.MalwareTypes, "ransomware") {
			t.Fatalf("malware family %v: %+v", a["name"], m)
		}
		industries := a["targeted_industries_tree"].([]any)
		n := 0
		for _, in := range industries {
			sector := in.(map[string]any)["industry_group"].(string)
			id := ingest.ContextID("identity", "sector "+sector)
			if objectByID(objs, id) != nil && hasRel(objs, "targets", m.ID, id) {
				n++
			}
		}
		if n != len(industries) {
			t.Errorf("%d of %d targeted industries related", n, len(industries))
		}
		ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "vt", Provider: "virustotal", Attack: ix}, objs, obs))
	})
	t.Run("gti_attack_technique", func(t *testing.T) {
		path := filepath.Join(dir, "gti_attack_technique_T1482_debugwrapped.json")
		objs, obs, warns := convertFile(t, path, opts)
		if len(warns) != 0 || len(obs) != 0 || len(objs) != 3 {
			t.Errorf("an ATT&CK technique ATT&CK knows: %d objects, %v, %v", len(objs), obs, warns)
		}
		ix2 := ingesttest.MustAttackSample(t) // the 25-object sample has no T1482
		_, _, warns = convertFile(t, path, testOptions(ix2))
		if !ingesttest.HasWarning(warns, "T1482", "id") {
			t.Errorf("unknown technique: %v", warns)
		}
	})
}

// TestCompressedFeedFile: a file-feed batch (bzip2 JSON lines) and the same lines
// gzip-compressed convert to the observations of the plain answers.
func TestCompressedFeedFile(t *testing.T) {
	_, want, _ := convertFile(t, "testdata/gti_objects/input.json", testOptions(nil))
	_, got, warns := convertFile(t, "testdata/compressed/feed-202603141200.bz2", testOptions(nil))
	if len(warns) != 0 || len(got) != len(want) {
		t.Fatalf("bzip2: %d observations (want %d), warnings %v", len(got), len(want), warns)
	}
	for i := range want {
		if got[i].Value != want[i].Value || got[i].Detect != want[i].Detect || !bytes.Equal(got[i].Verdict, want[i].Verdict) {
			t.Errorf("bzip2 observation %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	var plain bytes.Buffer
	for _, l := range strings.Split(string(ingesttest.MustRead(t, "testdata/gti_objects/input.json")), "\n") {
		plain.WriteString(l + "\n")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain.Bytes())
	_ = zw.Close()
	_, got, _, err := virustotal.ConvertFile(&gz, testOptions(nil))
	if err != nil || len(got) != len(want) {
		t.Fatalf("gzip: %d observations, %v", len(got), err)
	}
	if _, _, _, err := virustotal.ConvertFile(strings.NewReader(`{"data": [`), testOptions(nil)); err == nil {
		t.Error("truncated JSON converted without an error")
	}
}
