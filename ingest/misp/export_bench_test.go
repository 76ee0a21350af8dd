package misp_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
)

// poolObjects builds what a pool holds for n values: per value the authored
// indicator (TLP marking, a valid_until, every third a risk score), its SCO
// and the based-on relationship, an indicates relationship to one of 20
// malware families for every fifth, and one report referencing the first
// fifth; the rest spreads over 10 days and is grouped.
func poolObjects(tb testing.TB, n int) []stix.RawObject {
	tb.Helper()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var out []stix.RawObject
	add := func(s string) {
		o, err := stix.ParseRaw([]byte(s))
		if err != nil {
			tb.Fatalf("%v: %s", err, s)
		}
		out = append(out, *o)
	}
	var refs []string
	for m := 0; m < 20; m++ {
		add(fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"Family %d","is_family":true}`, m, m))
	}
	for i := 0; i < n; i++ {
		var v ingest.Value
		var err error
		switch i % 4 {
		case 0:
			v, err = ingest.Normalize("ip", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		case 1:
			v, err = ingest.Normalize("domain", fmt.Sprintf("host-%d.example.com", i))
		case 2:
			v, err = ingest.Normalize("sha256", fmt.Sprintf("%064x", i))
		default:
			v, err = ingest.Normalize("url", fmt.Sprintf("https://host-%d.example.com/p?i=%d", i, i))
		}
		if err != nil {
			tb.Fatal(err)
		}
		id, sco := ingest.IndicatorID(v), ingest.ObservableID(v)
		created := stix.NewTimestamp(day.Add(time.Duration(i%10) * 24 * time.Hour).Add(time.Duration(i) * time.Second))
		ext := ""
		if i%3 == 0 {
			ext = fmt.Sprintf(`,"extensions":{%q:{"extension_type":"property-extension","score":%d,"band":"high","confidence":85}}`, scoring.ExtensionID, 60+i%40)
		}
		tlp := stix.TLPGreen
		if i%7 == 0 {
			tlp = stix.TLPAmber
		}
		add(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created_by_ref":%q,"created":"%s","modified":"%s","name":%q,"pattern":%q,"pattern_type":"stix","pattern_version":"2.1","valid_from":"%s","valid_until":"2027-01-01T00:00:00.000Z","object_marking_refs":[%q]%s}`,
			id, ingesttest.Identity, created, created, v.Value, ingest.Pattern(v), created, tlp.MarkingRef(), ext))
		path := `"value":` + strconv.Quote(v.Value)
		if v.Type == ingest.TypeFile {
			path = `"hashes":{"SHA-256":` + strconv.Quote(v.Value) + `}`
		}
		add(fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,%s}`, v.Type, sco, path))
		add(fmt.Sprintf(`{"type":"relationship","spec_version":"2.1","id":%q,"created":"%s","modified":"%s","relationship_type":"based-on","source_ref":%q,"target_ref":%q}`,
			ingest.RelationshipID("based-on", id, sco), created, created, id, sco))
		if i%5 == 0 {
			mw := fmt.Sprintf("malware--00000000-0000-4000-8000-%012d", i%20)
			add(fmt.Sprintf(`{"type":"relationship","spec_version":"2.1","id":%q,"created":"%s","modified":"%s","relationship_type":"indicates","source_ref":%q,"target_ref":%q}`,
				ingest.RelationshipID("indicates", id, mw), created, created, id, mw))
		}
		if i < n/5 {
			refs = append(refs, strconv.Quote(id), strconv.Quote(sco))
		}
	}
	add(fmt.Sprintf(`{"type":"report","spec_version":"2.1","id":"report--00000000-0000-4000-8000-00000000ffff","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","published":"2026-03-01T00:00:00.000Z","name":"bench","report_types":["threat-report"],"object_refs":[%s]}`,
		joinStrings(refs)))
	return out
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// BenchmarkExport exports a pool of 10k values (MISP_BENCH_EXPORT for
// another size; about 35k objects) into MISP events and reports values/s and
// the ratios to two baselines measured in the same run: json.Marshal of the
// events it produces (MarshalFeedEvent per event, what serving them costs
// anyway) and decoding every input object into a generic map (what any
// reader of the stored objects pays).
func BenchmarkExport(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("MISP_BENCH_EXPORT")); err == nil && v > 0 {
		n = v
	}
	objs := poolObjects(b, n)
	opt := misp.ExportOptions{Org: testOrg, Collection: "bench", Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	events, warns, err := misp.Export(objs, opt)
	if err != nil || len(warns) > 0 {
		b.Fatal(err, warns)
	}
	attrs := 0
	for _, ev := range events {
		attrs += len(ev.Attribute)
	}
	if attrs != n {
		b.Fatalf("%d attributes, want %d", attrs, n)
	}
	var base, decode float64
	b.Run("baseline-decode-input", func(b *testing.B) {
		for b.Loop() {
			for i := range objs {
				var v map[string]any
				if err := json.Unmarshal(objs[i].JSON, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
		decode = b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/decode, "values/s")
	})
	b.Run("baseline-marshal-events", func(b *testing.B) {
		for b.Loop() {
			for i := range events {
				if _, err := misp.MarshalFeedEvent(&events[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		base = b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/base, "values/s")
	})
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := misp.Export(objs, opt); err != nil {
				b.Fatal(err)
			}
		}
		per := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/per, "values/s")
		if base > 0 {
			b.ReportMetric(per/base, "x-marshal")
		}
		if decode > 0 {
			b.ReportMetric(per/decode, "x-decode")
		}
	})
	// As the MISP feed calls it: records with only type and id, the common
	// properties read from the bytes.
	bare := make([]stix.RawObject, len(objs))
	for i, o := range objs {
		bare[i] = stix.RawObject{Common: stix.Common{Type: o.Type, ID: o.ID}, JSON: o.JSON}
	}
	b.Run("export-from-bytes", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := misp.Export(bare, opt); err != nil {
				b.Fatal(err)
			}
		}
		per := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/per, "values/s")
		if base > 0 {
			b.ReportMetric(per/base, "x-marshal")
		}
		if decode > 0 {
			b.ReportMetric(per/decode, "x-decode")
		}
	})
}
