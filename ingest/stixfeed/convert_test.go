package stixfeed_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/stixfeed"
	"github.com/ctibroker/ctibroker/stix"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

var testNow = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)

func render(tb testing.TB, b *ingest.Batch) []byte {
	tb.Helper()
	g := struct {
		Objects      []string                       `json:"objects"` // ids, in order; the bytes are checked against the input
		Observations []ingesttest.GoldenObservation `json:"observations"`
		Warnings     []string                       `json:"warnings"`
	}{[]string{}, []ingesttest.GoldenObservation{}, ingesttest.WarningStrings(b.Warnings)}
	for _, o := range b.Objects {
		g.Objects = append(g.Objects, o.Base().ID)
	}
	for _, o := range b.Observations {
		g.Observations = append(g.Observations, ingesttest.NewGoldenObservation(o))
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, '\n')
}

func readBatch(tb testing.TB, path string) *ingest.Batch {
	tb.Helper()
	var b ingest.Batch
	conv := &stixfeed.Converter{Now: testNow}
	if err := stixfeed.ReadFile(path, conv, stix.Limits{}, &b, 0, nil); err != nil {
		tb.Fatal(err)
	}
	return &b
}

// TestGolden: objects kept byte-exact (each object's bytes occur verbatim in the
// input), observations and warnings as in want.json (-update rewrites it).
func TestGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*/input.json")
	if len(ins) == 0 {
		t.Fatal("no golden cases")
	}
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b := readBatch(t, in)
			input, _ := os.ReadFile(in)
			for _, o := range b.Objects {
				raw := o.(*stix.RawObject).JSON
				if !bytes.Contains(input, raw) {
					t.Errorf("%s: bytes not as received: %s", o.Base().ID, raw)
				}
			}
			got := render(t, b)
			ingesttest.MustMatchGolden(t, filepath.Join(dir, "want.json"), got, *update)
		})
	}
}

func TestValueOf(t *testing.T) {
	for p, want := range map[string][2]string{
		"[ipv4-addr:value = '198.51.100.1']":                                                           {"ipv4-addr", "198.51.100.1"},
		"[ipv6-addr:value = '2001:db8::1']":                                                            {"ipv6-addr", "2001:db8::1"},
		"[domain-name:value = 'a.example']":                                                            {"domain-name", "a.example"},
		"[url:value = 'http://a.example/it\\'s']":                                                      {"url", "http://a.example/it's"},
		"[email-addr:value = 'x@a.example']":                                                           {"email-addr", "x@a.example"},
		"[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']":                                       {"md5", "d41d8cd98f00b204e9800998ecf8427e"},
		"[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']":                           {"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		"[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']": {"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		"[file:name = 'a.exe']":                                                                        {"", ""},
		"[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '1.2.3.5']":                              {"", ""},
		"[ipv4-addr:value != '1.2.3.4']":                                                               {"", ""},
		"not a pattern":                                                                                {"", ""},
	} {
		typ, v, ok := stixfeed.ValueOf(p)
		if typ != want[0] || v != want[1] || ok != (want[0] != "") {
			t.Errorf("ValueOf(%s) = %q %q %v, want %q %q", p, typ, v, ok, want[0], want[1])
		}
	}
}

// TestRealBundles reads the real STIX bundles in ../shared/testdata/stix/valid
// and the misp-stix STIX 2.1 output: every object is kept with its bytes, and
// every simple-pattern indicator becomes an observation with the pattern's value.
func TestRealBundles(t *testing.T) {
	var files []string
	for _, g := range []string{"testdata/stix/valid/*.json", "testdata/misp-stix/head/*stix21*.json"} {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(ingesttest.MustShared(t, "testdata/stix")), "..", g))
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Skipf("only %d real bundles found", len(files))
	}
	total, observed := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			continue // not a bundle
		}
		b := readBatch(t, f)
		if len(b.Objects)+len(b.Warnings) < len(doc.Objects) {
			t.Errorf("%s: %d objects + %d warnings for %d input objects", f, len(b.Objects), len(b.Warnings), len(doc.Objects))
		}
		wantObs := map[string]string{} // value → indicator id
		for _, o := range doc.Objects {
			var m map[string]any
			json.Unmarshal(o, &m)
			if m["type"] != "indicator" || m["pattern_type"] != "stix" {
				continue
			}
			if _, v, ok := stixfeed.ValueOf(m["pattern"].(string)); ok {
				wantObs[v], _ = m["id"].(string)
			}
		}
		got := map[string]bool{}
		for _, o := range b.Observations {
			got[o.Value] = true
		}
		for v, id := range wantObs {
			if !got[v] && !warnedAbout(b, id) {
				t.Errorf("%s: simple-pattern value %q neither observed nor warned about", filepath.Base(f), v)
			}
		}
		for _, o := range b.Objects {
			if !bytes.Contains(raw, o.(*stix.RawObject).JSON) {
				t.Errorf("%s: %s not byte-exact", f, o.Base().ID)
			}
		}
		total += len(b.Objects)
		observed += len(b.Observations)
	}
	if total == 0 || observed == 0 {
		t.Errorf("%d objects, %d observations from %d files", total, observed, len(files))
	}
	t.Logf("%d files, %d objects, %d observations", len(files), total, observed)
}

// warnedAbout reports whether a warning names the object id.
func warnedAbout(b *ingest.Batch, id string) bool {
	for _, w := range b.Warnings {
		if id != "" && strings.Contains(w.Record, id) {
			return true
		}
	}
	return false
}
