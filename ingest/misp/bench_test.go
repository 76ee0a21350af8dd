package misp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

// largeEvent is a synthetic event with n attributes of mixed types (a tenth
// composite), in MISP's JSON shape.
func largeEvent(n int) []byte {
	attrs := make([]map[string]any, 0, n)
	for i := 0; i < n; i++ {
		a := map[string]any{"id": strconv.Itoa(i), "uuid": fmt.Sprintf("a0000000-0000-4000-8000-%012d", i), "category": "Network activity",
			"to_ids": i%8 != 0, "timestamp": strconv.Itoa(1740000000 + i), "distribution": "5", "deleted": false, "comment": ""}
		switch i % 10 {
		case 0, 1, 2:
			a["type"], a["value"] = "ip-dst", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		case 3, 4, 5:
			a["type"], a["value"] = "domain", fmt.Sprintf("host-%d.example.com", i)
		case 6, 7:
			a["type"], a["value"] = "sha256", fmt.Sprintf("%064x", i)
		case 8:
			a["type"], a["value"] = "url", fmt.Sprintf("https://host-%d.example.com/p?i=%d", i, i)
		default:
			a["type"], a["value"] = "ip-dst|port", fmt.Sprintf("10.%d.%d.%d|443", i>>16&255, i>>8&255, i&255)
		}
		attrs = append(attrs, a)
	}
	ev := map[string]any{"Event": map[string]any{"id": "1", "uuid": "6b1c2f0e-8a3d-4c6e-9f11-2a7d5e0b9c01", "info": "large",
		"date": "2025-03-02", "timestamp": "1741000000", "published": true, "threat_level_id": "2", "analysis": "2",
		"distribution": "3", "Orgc": map[string]any{"name": "ExampleCERT", "uuid": "5f6e4a1b-3c2d-4e5f-8a9b-0c1d2e3f4a5b"},
		"Tag": []map[string]any{{"name": "tlp:green"}}, "Attribute": attrs}}
	b, _ := json.Marshal(ev)
	return b
}

// BenchmarkConvertLargeEvent converts one event of 10k attributes (or
// MISP_BENCH_ATTRS), reporting attributes/s and the ratio to decoding the same
// bytes into generic JSON (the baseline, measured in the same run).
func BenchmarkConvertLargeEvent(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("MISP_BENCH_ATTRS")); err == nil && v > 0 {
		n = v
	}
	data := largeEvent(n)
	var base float64
	b.Run("baseline-json-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
		base = b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/base, "attrs/s")
	})
	b.Run("convert", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		conv := &misp.Converter{Identity: ingesttest.Identity}
		for b.Loop() {
			var out ingest.Batch
			if _, err := conv.Convert(bytes.NewReader(data), &out); err != nil {
				b.Fatal(err)
			}
			if len(out.Observations) != n {
				b.Fatalf("observations %d, want %d", len(out.Observations), n)
			}
		}
		per := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(n)/per, "attrs/s")
		if base > 0 {
			b.ReportMetric(per/base, "x-json-decode")
		}
	})
}
