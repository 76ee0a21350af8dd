package virustotal_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
)

// benchBody returns n IoC stream objects (as JSON lines) made from the
// synthetic IoC stream page with distinct values.
func benchBody(tb testing.TB, n int) []byte {
	s := &stream{}
	dates := make([]int64, n)
	for i := range dates {
		dates[i] = ingesttest.Time.Unix() + int64(i)
	}
	s.add(tb, dates...)
	var buf bytes.Buffer
	for _, it := range s.items {
		buf.Write(it)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkConvert measures ConvertFile over IoC stream objects (1,000 by
// default; VT_BENCH_OBJECTS for more; real objects are larger: the fixture's are
// trimmed) and reports objects/s and the ratio to decoding the same bytes into
// virustotal.Object with encoding/json, measured in the same loop (ns/op covers
// both). The machine is shared: figures are noisy.
func BenchmarkConvert(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("VT_BENCH_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	body := benchBody(b, n)
	opts := virustotal.Options{Feed: "bench", Identity: ingesttest.Identity, Attack: ingesttest.MustAttackSample(b), Now: func() time.Time { return ingesttest.Time }}
	// The baseline (plain decode into virustotal.Object) runs in the same loop,
	// just before each conversion, so both see the same machine load.
	var decode, convert time.Duration
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		dec := json.NewDecoder(bytes.NewReader(body))
		for dec.More() {
			var o virustotal.Object
			if err := dec.Decode(&o); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		_, obs, _, err := virustotal.ConvertFile(bytes.NewReader(body), opts)
		if err != nil || len(obs) == 0 {
			b.Fatal(err)
		}
		decode, convert = decode+t1.Sub(t0), convert+time.Since(t1)
	}
	b.StopTimer()
	per, dper := convert/time.Duration(b.N), decode/time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "objects/s")
	b.ReportMetric(float64(n)/dper.Seconds(), "decode-objects/s")
	b.ReportMetric(float64(per)/float64(dper), "x-decode")
}
