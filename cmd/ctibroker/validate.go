package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// newValidator returns the full STIX validator: MUST-level rules plus pattern
// checking with the default limits.
func newValidator(lenient bool) *stix.Validator {
	lim := stix.DefaultLimits
	return &stix.Validator{
		Limits:         lim,
		PatternChecker: pattern.Checker(pattern.Limits{MaxLength: lim.MaxPatternSize, MaxDepth: lim.MaxPatternDepth}),
		Lenient:        lenient,
	}
}

func (m *Main) runValidate(_ context.Context, args []string) error {
	fs := m.flagSet("validate", "[--strict] [--lenient] FILE|-\n       ctibroker validate [--strict] --pattern 'PATTERN'")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	lenient := fs.Bool("lenient", false, "the TAXII lenient profile: second-precision timestamps, upper-case UUIDs and TLP 1.0 markings are warnings")
	pat := fs.String("pattern", "", "validate this STIX pattern instead of a file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pat != "" {
		if fs.NArg() != 0 {
			fs.Usage()
			return exitError(2)
		}
		if err := pattern.Check(*pat); err != nil {
			fmt.Fprintf(m.Stdout, "error: pattern: %v\n", err)
			return exitError(1)
		}
		fmt.Fprintln(m.Stdout, "pattern: valid")
		return nil
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError(2)
	}
	name := fs.Arg(0)
	var r io.Reader = m.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		defer f.Close()
		r = f
	}
	findings, err := newValidator(*lenient).ValidateReader(r)
	if err != nil {
		return fmt.Errorf("validate %s: %w", name, err)
	}
	var nerr, nwarn int
	for _, f := range findings {
		fmt.Fprintln(m.Stdout, stix.FormatFinding(f))
		if f.Severity == stix.SeverityError {
			nerr++
		} else {
			nwarn++
		}
	}
	fmt.Fprintf(m.Stderr, "%s: %d errors, %d warnings\n", name, nerr, nwarn)
	if nerr > 0 || (*strict && nwarn > 0) {
		return exitError(1)
	}
	return nil
}

// validIdentifier checks a STIX identifier (§2.9).
func validIdentifier(id string) error {
	if !stix.ValidID(id) {
		return errors.New("not a STIX identifier (type--UUID)")
	}
	return nil
}
