package stix_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFindingsGolden records every finding (errors and warnings) for every file
// of ../shared/testdata/stix in testdata/findings.golden, so that a change to a
// rule shows up as a reviewable diff. go test ./stix -run Golden -update rewrites
// it.
func TestFindingsGolden(t *testing.T) {
	root := filepath.Join(sharedDir(t), "testdata", "stix")
	var files []string
	for _, dir := range []string{"valid", "invalid", "should"} {
		ents, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			files = append(files, dir+"/"+e.Name())
		}
	}
	sort.Strings(files)
	v := stix.Validator{PatternChecker: pattern.Check}
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("== " + f + "\n")
		for _, fd := range v.Validate(raw) {
			b.WriteString(stix.FormatFinding(fd) + "\n")
		}
	}
	got := b.String()
	golden := filepath.Join("testdata", "findings.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("findings differ from %s at line %d:\n got %s\nwant %s\n(run with -update after checking)", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("findings differ from %s in length: got %d lines, want %d", golden, len(gl), len(wl))
	}
}
