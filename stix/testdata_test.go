package stix_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
)

// sharedDir returns ../shared relative to the repository root, or skips.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		tb.Skipf("../shared is missing (%v): skipping tests over the shared test data", err)
	}
	return shared
}

// MustReadShared returns the content of a file under ../shared.
func MustReadShared(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(sharedDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type expectation struct {
	Expected       string `json:"expected"`
	WhatIsWrong    string `json:"what_is_wrong"`
	ValidatorFirst string `json:"stix2_validator_first_error"`
	Strict         string `json:"stix2_validator_strict"`
}

// patternVectors need a PatternChecker to be judged invalid.
var patternVectors = map[string]bool{
	"invalid/indicator-pattern-double-quotes.json": true,
	"invalid/indicator-pattern-no-brackets.json":   true,
}

func TestExpectedVerdicts(t *testing.T) {
	var exp map[string]expectation
	if err := json.Unmarshal(MustReadShared(t, "testdata/stix/expected.json"), &exp); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(exp))
	for n := range exp {
		names = append(names, n)
	}
	sort.Strings(names)
	// Every file on disk has a verdict.
	for _, dir := range []string{"valid", "invalid", "should"} {
		ents, err := os.ReadDir(filepath.Join(sharedDir(t), "testdata/stix", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if _, ok := exp[dir+"/"+e.Name()]; !ok {
				t.Errorf("%s/%s has no verdict in expected.json", dir, e.Name())
			}
		}
	}
	v := stix.Validator{PatternChecker: stix.PatternChecker(testPatternChecker)}
	for _, name := range names {
		want := exp[name]
		t.Run(name, func(t *testing.T) {
			raw := MustReadShared(t, filepath.Join("testdata/stix", name))
			fs := v.Validate(raw)
			got := "valid"
			if stix.HasErrors(fs) {
				got = "invalid"
			}
			if patternVectors[name] {
				// Without the checker these pass: the pattern is the only defect.
				var plain stix.Validator
				if stix.HasErrors(plain.Validate(raw)) {
					t.Errorf("without a PatternChecker: got invalid, want valid (the pattern is the only defect)")
				}
			}
			if got != want.Expected {
				var lines []string
				for _, f := range fs {
					lines = append(lines, stix.FormatFinding(f))
				}
				t.Fatalf("got %s, want %s (%s)\n%s", got, want.Expected, want.WhatIsWrong, strings.Join(lines, "\n"))
			}
			if strings.HasPrefix(name, "should/") {
				warned := false
				for _, f := range fs {
					warned = warned || f.Severity == stix.SeverityWarning
				}
				if !warned {
					t.Errorf("got no warning for a SHOULD-level problem (%s)", want.WhatIsWrong)
				}
			}
		})
	}
}
