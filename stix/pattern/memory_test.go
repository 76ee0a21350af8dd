package pattern_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

// fill repeats unit between prefix and suffix up to about n bytes.
func fill(prefix, unit, sep, suffix string, n int) string {
	k := (n - len(prefix) - len(suffix)) / (len(unit) + len(sep))
	return prefix + strings.Repeat(unit+sep, k-1) + unit + suffix
}

// TestParseMemory bounds the memory of one parse for inputs at MaxLength that
// are worst cases for the AST (tiny literals and comparisons), so hostile
// patterns cost bounded memory: the AST kept after the parse (bytes per input
// byte, factor) and everything allocated on the way (at most 150 bytes per
// input byte, about 10 MB for 64 KiB; slices grow by 1.25x when large).
func TestParseMemory(t *testing.T) {
	const n = pattern.DefaultMaxLength
	for name, tt := range map[string]struct {
		in     string
		factor float64
	}{
		"IN of ints":          {fill("[a:b IN (", "1", ",", ")]", n), 40},
		"IN of floats":        {fill("[a:b IN (", ".1", ",", ")]", n), 40},
		"OR of compares":      {fill("[", "a:b=1", " OR ", "]", n), 40},
		"AND of observations": {fill("", "[a:b=1]", "AND", "", n), 40},
		"long path":           {fill("[a:b", ".c", "", "=1]", n), 40},
		"escaped string":      {"[a:b = '" + strings.Repeat(`\'`, n/2-8) + "']", 4},
		"plain string":        {"[a:b = '" + strings.Repeat("x", n-12) + "']", 1},
	} {
		t.Run(name, func(t *testing.T) {
			if len(tt.in) > n {
				t.Fatalf("input %d bytes, over the limit", len(tt.in))
			}
			if _, err := pattern.Parse(tt.in); err != nil {
				t.Fatal(err)
			}
			var before, after, kept runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			p, err := pattern.Parse(tt.in)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&kept)
			runtime.KeepAlive(p)
			total := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(tt.in))
			live := (float64(kept.HeapAlloc) - float64(before.HeapAlloc)) / float64(len(tt.in))
			t.Logf("%d bytes in: %.1f bytes allocated and %.1f kept per input byte", len(tt.in), total, live)
			if total > 150 {
				t.Errorf("allocated %.1f bytes per input byte, want at most 150", total)
			}
			if live > tt.factor {
				t.Errorf("AST keeps %.1f bytes per input byte, want at most %.0f", live, tt.factor)
			}
		})
	}
}
