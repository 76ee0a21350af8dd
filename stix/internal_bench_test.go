package stix

import (
	"os"
	"testing"
)

// BenchmarkCheckOnly times the validation rules alone over an already parsed
// object (the 1 KB indicator of bench_test.go, read from a file the external
// test writes; skipped otherwise).
func BenchmarkCheckOnly(b *testing.B) {
	raw, err := os.ReadFile("testdata/indicator-1k.json")
	if err != nil {
		b.Skip("testdata/indicator-1k.json missing")
	}
	_, members, err := parseObject(raw, DefaultLimits, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	v := &Validator{}
	b.ReportAllocs()
	for b.Loop() {
		c := objCheck{v: v, lim: DefaultLimits, ms: members}
		c.check()
		if len(c.out) != 0 {
			b.Fatal(c.out)
		}
	}
}

// BenchmarkScanOnly times the syntax scan and member collection alone
// (ValidateObject's parse), over the same indicator as BenchmarkCheckOnly.
func BenchmarkScanOnly(b *testing.B) {
	raw, err := os.ReadFile("testdata/indicator-1k.json")
	if err != nil {
		b.Skip("testdata/indicator-1k.json missing")
	}
	ms := make([]member, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, ms, err = parseObjectFill(raw, DefaultLimits, 0, ms[:0], fillNone); err != nil {
			b.Fatal(err)
		}
	}
}
