package pattern_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

// sharedDir returns ../shared next to the repository root (the directory
// holding go.mod), or skips the test when it is missing.
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
	if _, err := os.Stat(filepath.Join(shared, "testdata", "stix")); err != nil {
		tb.Skipf("%s missing: pattern vectors not available", shared)
	}
	return shared
}

// readLines returns the non-empty lines of testdata/stix/name in ../shared.
func readLines(tb testing.TB, name string) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(sharedDir(tb), "testdata", "stix", name))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// MustParse parses s or fails the test.
func MustParse(tb testing.TB, s string) *pattern.Pattern {
	tb.Helper()
	p, err := pattern.Parse(s)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", s, err)
	}
	return p
}

func TestValidVectors(t *testing.T) {
	lines := readLines(t, "patterns-valid.txt")
	if len(lines) < 80 {
		t.Fatalf("got %d valid patterns, want at least 80", len(lines))
	}
	for i, l := range lines {
		t.Run(strconv.Itoa(i+1), func(t *testing.T) {
			p := MustParse(t, l)
			// The canonical form parses back to the same AST and the same text.
			s := p.String()
			q := MustParse(t, s)
			if !reflect.DeepEqual(p, q) {
				t.Errorf("Parse(String()) AST differs for %q\nString: %q", l, s)
			}
			if s2 := q.String(); s2 != s {
				t.Errorf("String not stable: got %q, want %q", s2, s)
			}
			if len(p.Comparisons()) == 0 {
				t.Errorf("no comparisons in %q", l)
			}
		})
	}
}

func TestInvalidVectors(t *testing.T) {
	lines := readLines(t, "patterns-invalid.txt")
	if len(lines) < 20 {
		t.Fatalf("got %d invalid patterns, want at least 20", len(lines))
	}
	for i, l := range lines {
		t.Run(strconv.Itoa(i+1), func(t *testing.T) {
			p, err := pattern.Parse(l)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", l, p.String())
			}
			var pe *pattern.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *pattern.Error", err, err)
			}
			if pe.Column < 1 || pe.Column > len(l)+1 || pe.Msg == "" {
				t.Errorf("bad error %+v for %q", pe, l)
			}
			if want := "column " + strconv.Itoa(pe.Column) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

// TestPatternsJSON checks every entry of patterns.json, and where
// cti-pattern-validator reports a position ("line 1:N", N a 0-based code point
// column) that this parser reports the same place (column N+1).
func TestPatternsJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sharedDir(t), "testdata", "stix", "patterns.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Pattern         string   `json:"pattern"`
		Expected        string   `json:"expected"`
		ValidatorErrors []string `json:"validator_errors"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) < 100 {
		t.Fatalf("got %d entries, want at least 100", len(entries))
	}
	pos := regexp.MustCompile(`line 1:(\d+)\.`)
	counts := map[string]int{}
	positions := 0
	for i, e := range entries {
		_, err := pattern.Parse(e.Pattern)
		counts[e.Expected]++
		switch e.Expected {
		case "valid":
			if err != nil {
				t.Errorf("#%d %q: %v, want valid", i, e.Pattern, err)
			}
		case "invalid":
			if err == nil {
				t.Errorf("#%d %q: parsed, want an error", i, e.Pattern)
				continue
			}
			if len(e.ValidatorErrors) == 0 {
				continue
			}
			if m := pos.FindStringSubmatch(e.ValidatorErrors[0]); m != nil {
				n, _ := strconv.Atoi(m[1])
				positions++
				if got := err.(*pattern.Error).Column; got != n+1 {
					t.Errorf("#%d %q: column %d, want %d (validator: %s)", i, e.Pattern, got, n+1, e.ValidatorErrors[0])
				}
			}
		case "valid-syntax-only":
			// Documented choice: dates that do not exist are rejected.
			if err == nil || !strings.Contains(err.Error(), "not a calendar date") {
				t.Errorf("#%d %q: err = %v, want a calendar-date error", i, e.Pattern, err)
			}
		default:
			t.Errorf("#%d: unknown expected %q", i, e.Expected)
		}
	}
	if positions < 15 {
		t.Errorf("compared %d error positions, want at least 15", positions)
	}
	if counts["valid-syntax-only"] != 3 {
		t.Errorf("got %d valid-syntax-only entries, want 3", counts["valid-syntax-only"])
	}
}

// TestBundlePatterns parses the pattern of every indicator in the bundles of
// testdata/stix: those in valid/ and should/ parse, and the two bundles in
// invalid/ that are invalid because of their pattern do not.
func TestBundlePatterns(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "testdata", "stix")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Objects []struct {
				Type        string `json:"type"`
				Pattern     string `json:"pattern"`
				PatternType string `json:"pattern_type"`
			} `json:"objects"`
		}
		if json.Unmarshal(b, &bundle) != nil {
			continue // not JSON or not a bundle: other tests' business
		}
		rel, _ := filepath.Rel(dir, f)
		for _, o := range bundle.Objects {
			if o.Type != "indicator" || o.Pattern == "" || o.PatternType != "stix" {
				continue
			}
			seen++
			_, err := pattern.Parse(o.Pattern)
			wantErr := strings.HasPrefix(filepath.Base(f), "indicator-pattern-")
			if (err != nil) != wantErr {
				t.Errorf("%s: Parse(%q) error = %v, want error %v", rel, o.Pattern, err, wantErr)
			}
		}
	}
	if seen < 50 {
		t.Errorf("checked %d indicator patterns, want at least 50", seen)
	}
}
