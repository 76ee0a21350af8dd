package misp_test

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

// testNow is the converters' reference time for expiration sightings.
var testNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func convertPath(tb testing.TB, conv *misp.Converter, path string) *ingest.Batch {
	tb.Helper()
	var b ingest.Batch
	if _, err := misp.ReadPath(path, conv, &b); err != nil {
		tb.Fatalf("ReadPath(%s): %v", path, err)
	}
	return &b
}

// TestGolden converts each testdata/<case>/input.json and compares with
// want.json; -update rewrites want.json. Every object must validate with zero
// errors, and a second conversion gives the same bytes.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*/input.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	ix := ingesttest.MustAttackSample(t)
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			conv := &misp.Converter{Attack: ix, Identity: ingesttest.Identity, Now: testNow, Share: ingest.ShareCommunity}
			b := convertPath(t, conv, in)
			got := ingesttest.MustRenderBatch(t, b)
			ingesttest.MustMatchGolden(t, filepath.Join(dir, "want.json"), got, *update)
			if again := ingesttest.MustRenderBatch(t, convertPath(t, conv, in)); !bytes.Equal(again, got) {
				t.Error("second conversion differs")
			}
			ingesttest.MustValidateBatch(t, b)
		})
	}
}
