package pattern_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

var fuzzSeeds = []string{
	"[ipv4-addr:value = '198.51.100.1']",
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']",
	"([a:b = 1] FOLLOWEDBY [c:d != 'x']) WITHIN 300 SECONDS REPEATS 2 TIMES",
	"[a:b NOT IN ('x', 1, -2.5, true, h'ff', b'AAAA', t'2020-01-01T00:00:00Z')]",
	"[(a:b LIKE 'x%' OR a:c MATCHES '^\\\\d+$') AND NOT EXISTS a:d[*].'e-f'[0]]",
	"[a:b = 1] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00Z'",
	"([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS",
	"[a:b ISSUBSET '10.0.0.0/8'] AND [a:c ISSUPERSET '10.0.0.0/8'] OR [a:d <= 5]",
	"/* comment */ [a:b = 'x\\'y\\\\z'] // end",
	"[a:b = t'2024-02-30T12:00:00Z']",
	"[a:b = b'====']",
	"[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS",
	"\u00a0[a:b\u3000=\u20281]",
	"[a:b = 'é' é]",
	"(((([a:b = 1]",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	// The shared vectors too, when they are there.
	if dir := sharedDirOrEmpty(); dir != "" {
		for _, name := range []string{"patterns-valid.txt", "patterns-invalid.txt"} {
			b, err := os.ReadFile(filepath.Join(dir, "testdata", "stix", name))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" {
					f.Add(l)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := pattern.Parse(s)
		if err != nil {
			var pe *pattern.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T, want *pattern.Error", s, err)
			}
			if pe.Offset < 0 || pe.Offset > len(s) || pe.Column != utf8.RuneCountInString(s[:pe.Offset])+1 || pe.Msg == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, pe)
			}
			return
		}
		c := p.String()
		// The canonical form may be longer than the input (spaces), so read it
		// back without the length limit.
		q, err := pattern.ParseWithLimits(c, pattern.Limits{MaxLength: 1 << 30})
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", s, c, err)
		}
		if c2 := q.String(); c2 != c {
			t.Fatalf("String not stable for %q: %q then %q", s, c, c2)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("AST of %q differs from AST of its String %q", s, c)
		}
		for _, cmp := range p.Comparisons() {
			if cmp.Path.ObjectType == "" || len(cmp.Path.Steps) == 0 {
				t.Fatalf("comparison without path in %q", s)
			}
		}
	})
}

// sharedDirOrEmpty is sharedDir without skipping.
func sharedDirOrEmpty() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(shared); err == nil {
				return shared
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
