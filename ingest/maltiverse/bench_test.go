package maltiverse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
)

// benchBody returns a collection download of n documents made from the
// synthetic fixture's documents with distinct values.
func benchBody(tb testing.TB, n int) []byte {
	tb.Helper()
	var docs []map[string]any
	if err := json.Unmarshal(ingesttest.MustRead(tb, "testdata/collection/input.json"), &docs); err != nil {
		tb.Fatal(err)
	}
	out := make([]map[string]any, 0, n)
	for i := 0; i < n; i++ {
		d := map[string]any{}
		for k, v := range docs[i%len(docs)] {
			d[k] = v
		}
		switch d["type"] {
		case "ip":
			d["ip_addr"] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		case "hostname":
			d["hostname"] = fmt.Sprintf("h%d.flatbox.example", i)
		case "url":
			d["url"] = fmt.Sprintf("https://cdn%d.example/x.js", i)
		case "sample":
			d["sha256"], d["sha1"], d["md5"] = fmt.Sprintf("%064x", i), fmt.Sprintf("%040x", i), fmt.Sprintf("%032x", i)
		case "email":
			d["email"] = "u" + strconv.Itoa(i) + "@mailer.example"
		}
		out = append(out, d)
	}
	b, err := json.Marshal(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkConvert measures ConvertFile on a collection download (2,000
// documents; MALTIVERSE_BENCH_DOCS for more) and reports documents/s and the
// ratio to decoding the same bytes into []maltiverse.Document with encoding/json,
// measured in the same loop (ns/op covers both). The machine is shared: figures
// are noisy.
func BenchmarkConvert(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("MALTIVERSE_BENCH_DOCS")); err == nil && v > 0 {
		n = v
	}
	body := benchBody(b, n)
	ix := ingesttest.MustAttackSample(b)
	opts := maltiverse.Options{Feed: "bench", Identity: ingesttest.Identity, Attack: ix, Now: func() time.Time { return ingesttest.Time }}
	// The baseline (plain decode into []maltiverse.Document) runs in the same
	// loop, just before each conversion, so both see the same machine load.
	var decode, convert time.Duration
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		var docs []maltiverse.Document
		if err := json.Unmarshal(body, &docs); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		_, obs, _, err := maltiverse.ConvertFile(bytes.NewReader(body), opts)
		if err != nil || len(obs) == 0 {
			b.Fatal(err)
		}
		decode, convert = decode+t1.Sub(t0), convert+time.Since(t1)
	}
	b.StopTimer()
	per, dper := convert/time.Duration(b.N), decode/time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "docs/s")
	b.ReportMetric(float64(n)/dper.Seconds(), "decode-docs/s")
	b.ReportMetric(float64(per)/float64(dper), "x-decode")
}
