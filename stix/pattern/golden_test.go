package pattern_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/stix/pattern"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*/want.txt")

// TestGolden parses testdata/golden/<case>/input.txt and compares the
// canonical form and an indented dump of the AST with want.txt.
// go test ./stix/pattern -run TestGolden -update rewrites want.txt.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, "input.txt"))
			if err != nil {
				t.Fatal(err)
			}
			p := MustParse(t, strings.TrimSuffix(string(in), "\n"))
			var b strings.Builder
			b.WriteString(p.String())
			b.WriteString("\n\n")
			dumpObs(&b, p.Expr, 0)
			got := b.String()
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func indent(b *strings.Builder, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
}

func dumpObs(b *strings.Builder, e pattern.ObservationExpr, depth int) {
	indent(b, depth)
	switch e := e.(type) {
	case *pattern.ObservationSimple:
		b.WriteString("observation\n")
		dumpCmp(b, e.Comparison, depth+1)
	case *pattern.ObservationCompound:
		fmt.Fprintf(b, "%s\n", e.Op)
		for _, o := range e.Operands {
			dumpObs(b, o, depth+1)
		}
	case *pattern.ObservationQualified:
		q := e.Qualifier
		switch q.Kind {
		case pattern.QualStartStop:
			fmt.Fprintf(b, "qualifier %s start=%s stop=%s\n", q.Kind, dumpLit(q.Start), dumpLit(q.Stop))
		default:
			fmt.Fprintf(b, "qualifier %s %s\n", q.Kind, dumpLit(q.Value))
		}
		dumpObs(b, e.Expr, depth+1)
	default:
		fmt.Fprintf(b, "unknown %T\n", e)
	}
}

func dumpCmp(b *strings.Builder, e pattern.ComparisonExpr, depth int) {
	indent(b, depth)
	switch e := e.(type) {
	case *pattern.ComparisonCompound:
		fmt.Fprintf(b, "%s\n", e.Op)
		for _, o := range e.Operands {
			dumpCmp(b, o, depth+1)
		}
	case *pattern.Comparison:
		b.WriteString("comparison type=" + e.Path.ObjectType + " steps=")
		for i, s := range e.Path.Steps {
			if i > 0 {
				b.WriteByte(',')
			}
			switch s.Kind {
			case pattern.StepKey:
				fmt.Fprintf(b, "key(%q)", s.Key)
			case pattern.StepIndex:
				fmt.Fprintf(b, "index(%d)", s.Index)
			case pattern.StepAnyIndex:
				b.WriteString("index(*)")
			}
		}
		if e.Negated {
			b.WriteString(" NOT")
		}
		b.WriteString(" op=" + e.Op.String())
		switch e.Op {
		case pattern.OpExists:
		case pattern.OpIn:
			b.WriteString(" values=")
			for i, v := range e.Values {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(dumpLit(v))
			}
		default:
			b.WriteString(" value=" + dumpLit(e.Value))
		}
		b.WriteByte('\n')
	default:
		fmt.Fprintf(b, "unknown %T\n", e)
	}
}

func dumpLit(l pattern.Literal) string {
	return fmt.Sprintf("%s(%q)", l.Kind, l.Text())
}
