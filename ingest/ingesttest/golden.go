package ingesttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
)

// MustMatchGolden compares got with the golden file wantFile, reporting
// (tb.Errorf) a difference with got in full. With update set it first rewrites
// wantFile with got, as `go test -update` does; a missing file fails tb.
func MustMatchGolden(tb testing.TB, wantFile string, got []byte, update bool) {
	tb.Helper()
	if update {
		if err := os.WriteFile(wantFile, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(wantFile)
	if err != nil {
		tb.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (go test -update rewrites it); got:\n%s", wantFile, got)
	}
}

// MustRenderConversion renders a converter's output as a want.json document:
// the objects as typed, the observations and warnings as encoded by ingest,
// indented, with a final newline.
func MustRenderConversion(tb testing.TB, objs []stix.Object, obs []ingest.Observation, warns []ingest.Warning) []byte {
	tb.Helper()
	got, err := json.MarshalIndent(struct {
		Objects      []stix.Object        `json:"objects"`
		Observations []ingest.Observation `json:"observations"`
		Warnings     []ingest.Warning     `json:"warnings"`
	}{objs, obs, warns}, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(got, '\n')
}

// GoldenObservation is how a batch's observation is written to want.json by
// MustRenderBatch: Seen in whole UTC seconds, the rest as is.
type GoldenObservation struct {
	Type    string          `json:"type"`
	Value   string          `json:"value"`
	Detect  bool            `json:"detect"`
	Revoked bool            `json:"revoked,omitempty"`
	Seen    string          `json:"seen"`
	Verdict json.RawMessage `json:"verdict,omitempty"`
	Context ingest.Context  `json:"context"`
}

// NewGoldenObservation returns o as written to want.json.
func NewGoldenObservation(o ingest.Observation) GoldenObservation {
	return GoldenObservation{o.Type, o.Value, o.Detect, o.Revoked, o.Seen.UTC().Format(time.RFC3339), o.Verdict, o.Context}
}

// WarningStrings returns each warning's String(), never nil.
func WarningStrings(ws []ingest.Warning) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// MustRenderBatch renders b as a want.json document: its objects as encoded,
// its observations as GoldenObservation and its warnings as strings (empty
// lists, never null), indented, with a final newline.
func MustRenderBatch(tb testing.TB, b *ingest.Batch) []byte {
	tb.Helper()
	g := struct {
		Objects      []json.RawMessage   `json:"objects"`
		Observations []GoldenObservation `json:"observations"`
		Warnings     []string            `json:"warnings"`
	}{[]json.RawMessage{}, []GoldenObservation{}, WarningStrings(b.Warnings)}
	for _, o := range b.Objects {
		raw, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		g.Objects = append(g.Objects, raw)
	}
	for _, o := range b.Observations {
		g.Observations = append(g.Observations, NewGoldenObservation(o))
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, '\n')
}

// ConversionGolden describes the golden test of a converter whose output is
// objects, observations and warnings (see RunConversionGolden).
type ConversionGolden struct {
	// Glob matches the input files, one case per directory holding the input
	// and its want.json, e.g. "testdata/*/input.json".
	Glob string
	// Min is the fewest cases Glob must match; below 1 it is 1.
	Min int
	// Convert converts the file at path, failing tb on error.
	Convert func(tb testing.TB, path string) ([]stix.Object, []ingest.Observation, []ingest.Warning)
	// Feed is the feed each conversion is ingested under (MustIngestBundle).
	Feed ingest.FeedConfig
	// Update rewrites want.json: pass the package's -update flag.
	Update bool
}

// RunConversionGolden runs one subtest per input file matching c.Glob, named
// after its directory: the conversion rendered by MustRenderConversion must
// equal the directory's want.json (MustMatchGolden), a second conversion of
// the same input must give the same bytes, and the conversion ingested through
// the real Runner (MustIngestBundle) must validate (MustValidateBundle).
func RunConversionGolden(t *testing.T, c ConversionGolden) {
	t.Helper()
	min := max(c.Min, 1)
	ins, err := filepath.Glob(c.Glob)
	if err != nil || len(ins) < min {
		t.Fatalf("want ≥ %d golden cases matching %s, got %v (%v)", min, c.Glob, ins, err)
	}
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			objs, obs, warns := c.Convert(t, in)
			got := MustRenderConversion(t, objs, obs, warns)
			MustMatchGolden(t, filepath.Join(dir, "want.json"), got, c.Update)
			// Same input, same bytes.
			objs2, obs2, warns2 := c.Convert(t, in)
			if again := MustRenderConversion(t, objs2, obs2, warns2); !bytes.Equal(again, got) {
				t.Error("a second conversion of the same input gave other bytes")
			}
			MustValidateBundle(t, MustIngestBundle(t, c.Feed, objs, obs))
		})
	}
}
