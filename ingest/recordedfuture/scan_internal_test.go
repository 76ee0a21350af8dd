package recordedfuture

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// scanCorpus is the EvidenceDetails arrays of the fixtures and of the shared
// real risk lists (read in place), plus edge cases.
func scanCorpus(t testing.TB) []string {
	out := []string{
		`[]`, ` [ ] `, `[null]`, `[{}]`, `[{"Rule":null,"Criticality":null}]`,
		`[{"rule":"a","RULE":"b"}]`, `[{"Rule":"a\"b\\c\u00e9\n"}]`, `[{"Rule":"caf\u00e9 ok","Name":"x"}]`,
		`[{"Criticality":4.0},{"Criticality":"3"},{"Criticality":-1e2},{"Criticality":0}]`,
		`[{"Sources":["a",{"b":[1,2,{"c":null}]}],"X":true,"Y":false,"Z":-0.5E+3}]`,
		"[{\"Rule\":\"bad \xff utf8\"}]", `[{"Rule":"\ud83d\ude00"}]`, `[{"Rule":"lone \ud83d"}]`,
		`[{"ſcore":1,"Kriticality":2}]`, `[{"Rule":"a"}`, `[{"Rule":"a"},]`, `[{"Rule":"a"} x]`, `[{"Rule":5}]`,
		`[{"Rule":"a","Criticality":01}]`, `[{"Criticality":1.}]`, `[{"Criticality":.5}]`, `[{"Criticality":1e}]`,
		`[{"Rule":"tab	raw"}]`, `[{"Rule":"\x"}]`, `[{"Rule":"\u12G4"}]`, `[1]`, `["a"]`, `[{"a" 1}]`, `[{"a":tru}]`,
		`[{"a":[1,]}]`, `[{,}]`, `{"EvidenceDetails":[]}`, ``, `[`, `[{"Rule":"x"}] `, `[{"Rule":"x"}]]`,
	}
	files, _ := filepath.Glob("testdata/*/input.csv")
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "providers", "recordedfuture")
	real, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	for _, f := range append(files, real...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(strings.NewReader(string(b)))
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		recs, _ := cr.ReadAll()
		for _, r := range recs[1:] {
			cell := r[len(r)-1]
			if inner, ok := evidenceArray(cell); ok {
				out = append(out, inner)
			}
		}
	}
	return out
}

// checkScan: where encoding/json decodes, scanEvidence gives the same entries
// or declines (errScan); where encoding/json fails, scanEvidence fails too.
func checkScan(t *testing.T, in string) {
	var want []Evidence
	wantErr := json.Unmarshal([]byte(in), &want)
	got, err := scanEvidence(in, nil)
	switch {
	case wantErr != nil && err == nil:
		t.Errorf("%q: scanner took input encoding/json rejects (%v): %+v", in, wantErr, got)
	case wantErr == nil && err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0):
		t.Errorf("%q:\n got  %+v\n want %+v", in, got, want)
	}
}

func TestScanEvidence(t *testing.T) {
	corpus := scanCorpus(t)
	if len(corpus) < 40 {
		t.Fatalf("corpus of %d", len(corpus))
	}
	taken := 0
	for _, in := range corpus {
		checkScan(t, in)
		if _, err := scanEvidence(in, nil); err == nil {
			taken++
		}
	}
	if taken < 20 {
		t.Errorf("the scanner took only %d of %d inputs", taken, len(corpus))
	}
}

func FuzzScanEvidence(f *testing.F) {
	for _, in := range scanCorpus(f) {
		f.Add(in)
	}
	f.Fuzz(checkScan)
}
