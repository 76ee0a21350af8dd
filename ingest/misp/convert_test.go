package misp_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json")

// golden is how a batch is written to want.json.
type golden struct {
	Objects      []json.RawMessage `json:"objects"`
	Observations []goldenObs       `json:"observations"`
	Warnings     []string          `json:"warnings"`
}

type goldenObs struct {
	Type    string          `json:"type"`
	Value   string          `json:"value"`
	Detect  bool            `json:"detect"`
	Revoked bool            `json:"revoked,omitempty"`
	Seen    string          `json:"seen"`
	Verdict json.RawMessage `json:"verdict,omitempty"`
	Context ingest.Context  `json:"context"`
}

func render(tb testing.TB, b *ingest.Batch) []byte {
	tb.Helper()
	g := golden{Objects: []json.RawMessage{}, Observations: []goldenObs{}, Warnings: []string{}}
	for _, o := range b.Objects {
		raw, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		g.Objects = append(g.Objects, raw)
	}
	for _, o := range b.Observations {
		g.Observations = append(g.Observations, goldenObs{o.Type, o.Value, o.Detect, o.Revoked,
			o.Seen.UTC().Format(time.RFC3339), o.Verdict, o.Context})
	}
	for _, w := range b.Warnings {
		g.Warnings = append(g.Warnings, w.String())
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, '\n')
}

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
	ix := sampleIndex(t)
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			conv := &misp.Converter{Attack: ix, Identity: testIdentity, Now: testNow, Share: ingest.ShareCommunity}
			b := convertPath(t, conv, in)
			got := render(t, b)
			want := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("output differs from %s (go test ./ingest/misp -update rewrites it); got:\n%s", want, got)
			}
			if again := render(t, convertPath(t, conv, in)); !bytes.Equal(again, got) {
				t.Error("second conversion differs")
			}
			mustValidate(t, b)
		})
	}
}
