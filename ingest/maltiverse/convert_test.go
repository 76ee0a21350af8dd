package maltiverse_test

import (
	"bytes"
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
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
	"github.com/ctibroker/ctibroker/stix"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

func testOptions(ix *attack.Index) maltiverse.Options {
	return maltiverse.Options{Feed: "maltiverse-test", Identity: ingesttest.Identity, Attack: ix}
}

// convertFile converts the Maltiverse file at path, failing tb on error.
func convertFile(tb testing.TB, path string, opts maltiverse.Options) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	objs, obs, warns, err := maltiverse.ConvertFile(f, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return objs, obs, warns
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
		Feed:   ingest.FeedConfig{Name: "mv", Provider: "maltiverse", Attack: ix},
		Update: *update,
	})
}

// TestOddValues checks the odd content cases one by one, independently of the
// golden file.
func TestOddValues(t *testing.T) {
	f, err := os.Open("testdata/odd_values/input.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, obs, warns, err := maltiverse.ConvertFile(f, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Defanged URL, HTML entity unescaped, bytes otherwise kept.
	if o := ingesttest.FindObservation(obs, "https://login-portal.example/auth?user=a&next=%2Fhome"); o == nil || !o.Detect || o.Type != "url" {
		t.Errorf("defanged URL with &amp;: got %+v", obs)
	} else if !slices.Contains(o.Context.Malware, "Trick&Bot") {
		t.Errorf("HTML entity in description: malware %v, want Trick&Bot", o.Context.Malware)
	}
	for _, w := range []struct{ record, field string }{
		{"0 (url", "blacklist[0].last_seen"},      // "yesterday"
		{"0 (url", "blacklist[1].source"},         // missing source
		{"1 (ip N/A)", "ip_addr"},                 // placeholder
		{"2 (hostname", "resolved_ip[0].ip_addr"}, // 999.12.3.4
		{"2 (hostname", "resolved_ip[1].ip_addr"}, // 0.0.0.0
		{"2 (hostname", "resolved_ip[3].ip_addr"}, // x.x.x.x
		{"3 (ip", "modification_time"},            // 05/03/2026
		{"4 (ip", "classification"},               // dangerous
		{"5", "sha256"},                           // sample without hashes
		{"6 (", "type"},                           // missing type
		{"7", "type"},                             // unknown type domain
		{"8", "document"},                         // ip_addr not a string
		{"9 (sample", "md5"},                      // not a hash
	} {
		if !ingesttest.HasWarning(warns, w.record, w.field) {
			t.Errorf("no warning for record %q field %q; got %v", w.record, w.field, warns)
		}
	}
	for _, w := range warns {
		if w.Feed != "maltiverse-test" || w.Record == "" || w.Field == "" || w.Msg == "" {
			t.Errorf("warning without feed/record/field/msg: %+v", w)
		}
	}
	if o := ingesttest.FindObservation(obs, "203.0.113.10"); o == nil || o.Detect {
		t.Errorf("unknown classification must be observed without an indicator: %+v", o)
	}
	// The description that is a timestamp is not a malware family.
	for _, o := range obs {
		for _, m := range o.Context.Malware {
			if strings.HasPrefix(m, "2026") {
				t.Errorf("timestamp taken as malware family: %q", m)
			}
		}
	}
}

// TestRealPayloads converts the real Maltiverse payloads of the shared set
// (python-maltiverse README outputs, MIT; the Elastic mock collection, read in
// place and never copied) and checks values read from each payload independently.
func TestRealPayloads(t *testing.T) {
	dir := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/maltiverse/feed_collection_download.json"))
	ix, err := attack.Load(ingesttest.MustShared(t, "attack/enterprise-attack-18.1.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 5 {
		t.Fatalf("want 5 payloads, found %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// The expectations, read from the payload with plain encoding/json.
			var docs []map[string]any
			if raw[0] == '[' {
				if err := json.Unmarshal(raw, &docs); err != nil {
					t.Fatal(err)
				}
			} else {
				var d map[string]any
				if err := json.Unmarshal(raw, &d); err != nil {
					t.Fatal(err)
				}
				docs = []map[string]any{d}
			}
			objs, obs, warns, err := maltiverse.ConvertFile(bytes.NewReader(raw), testOptions(ix))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != 0 {
				t.Errorf("warnings on a real payload: %v", warns)
			}
			for _, d := range docs {
				var want []string
				switch d["type"] {
				case "ip":
					want = []string{d["ip_addr"].(string)}
				case "hostname":
					want = []string{d["hostname"].(string)}
				case "url":
					want = []string{d["url"].(string)}
				case "sample":
					want = []string{d["sha256"].(string), d["sha1"].(string), d["md5"].(string)}
				}
				for _, v := range want {
					o := ingesttest.FindObservation(obs, v)
					if o == nil {
						t.Fatalf("no observation of %s", v)
					}
					if !o.Detect || d["classification"] != "malicious" {
						t.Errorf("%s: detect %v, classification %v", v, o.Detect, d["classification"])
					}
					var native map[string]any
					if err := json.Unmarshal(o.Verdict, &native); err != nil {
						t.Fatal(err)
					}
					if native["classification"] != d["classification"] || native["modification_time"] != d["modification_time"] {
						t.Errorf("%s: native fields %v", v, native)
					}
					bl := d["blacklist"].([]any)
					if got := native["blacklist"].([]any); len(got) != len(bl) {
						t.Errorf("%s: %d blacklist entries kept, payload has %d", v, len(got), len(bl))
					}
					mt, _ := time.Parse("2006-01-02 15:04:05", d["modification_time"].(string))
					if !o.Seen.Equal(mt) {
						t.Errorf("%s: seen %v, want %v", v, o.Seen, mt)
					}
				}
			}
			ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "mv", Provider: "maltiverse", Attack: ix}, objs, obs))
		})
	}
	// ATT&CK: QakBot and Mirai from the collection download.
	f, _ := os.Open(filepath.Join(dir, "feed_collection_download.json"))
	defer f.Close()
	objs, obs, _, _ := maltiverse.ConvertFile(f, testOptions(ix))
	qak, ok := ix.ResolveName("QakBot")
	if !ok {
		t.Fatal("QakBot not in ATT&CK")
	}
	url := ingesttest.FindObservation(obs, "https://autooutletllc.com/spares.php")
	if url == nil || !slices.Contains(url.Context.AttackIDs, qak.ExternalID) || !slices.Contains(url.Context.Malware, "QakBot") {
		t.Fatalf("QakBot context: %+v", url)
	}
	// What ctibroker authors for the observations (ingest.Author, as convert
	// does): the URL's indicator indicates ATT&CK's QakBot.
	v, _ := ingest.Normalize("url", "https://autooutletllc.com/spares.php")
	cfg := ingest.FeedConfig{Name: "mv", Provider: "maltiverse", Attack: ix}
	authored, warns, err := ingest.Author(cfg, ingesttest.Identity, ingesttest.Time, obs)
	if err != nil || len(warns) != 0 {
		t.Fatalf("author: %v %v", err, warns)
	}
	found := false
	for _, o := range authored {
		var r struct {
			RelationshipType string `json:"relationship_type"`
			SourceRef        string `json:"source_ref"`
			TargetRef        string `json:"target_ref"`
		}
		_ = json.Unmarshal(o.JSON, &r)
		found = found || r.RelationshipType == "indicates" && r.SourceRef == ingest.IndicatorID(v) && r.TargetRef == qak.ID
	}
	if !found {
		t.Errorf("no indicator indicates %s (QakBot) among %d authored objects", qak.ID, len(authored))
	}
	_ = objs
}
