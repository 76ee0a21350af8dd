package ingesttest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

// Validator returns the full validator: STIX 2.1 MUST rules and patterns
// (stix/pattern's checker).
func Validator() *stix.Validator { return &stix.Validator{PatternChecker: pattern.Check} }

// MustValidateBundle reports (tb.Errorf) every error-severity finding of the
// full validator on each of objects and on one bundle holding them all.
// Warnings are tolerated: the only one expected is STIX's list of relationship
// pairs not naming DESIGN.md's indicator based-on SCO.
func MustValidateBundle(tb testing.TB, objects []json.RawMessage) {
	tb.Helper()
	v := Validator()
	for _, b := range objects {
		for _, f := range v.Validate(b) {
			if f.Severity == stix.SeverityError {
				tb.Errorf("%s\n  in %s", stix.FormatFinding(f), b)
			}
		}
	}
	bundle, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--0f1b5a4e-8f55-4c55-9b52-4f0a6b3b8a11", "objects": objects})
	if err != nil {
		tb.Fatal(err)
	}
	if fs := v.Validate(bundle); stix.HasErrors(fs) {
		for _, f := range fs {
			if f.Severity == stix.SeverityError {
				tb.Errorf("bundle: %s", stix.FormatFinding(f))
			}
		}
	}
}

// MustValidateBatch reports (tb.Errorf) every error-severity finding of the
// full validator on each object of b, naming the object's id.
func MustValidateBatch(tb testing.TB, b *ingest.Batch) {
	tb.Helper()
	v := Validator()
	for _, o := range b.Objects {
		raw, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range v.Validate(raw) {
			if f.Severity == stix.SeverityError {
				tb.Errorf("%s: %s", o.Base().ID, stix.FormatFinding(f))
			}
		}
	}
}

// MustObjectsOf returns the objects of type typ in b, in order, decoded as
// maps.
func MustObjectsOf(tb testing.TB, b *ingest.Batch, typ string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, o := range b.Objects {
		if o.Base().Type != typ {
			continue
		}
		raw, _ := json.Marshal(o)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// FindObservation returns the first observation in obs whose Value is value,
// or nil.
func FindObservation(obs []ingest.Observation, value string) *ingest.Observation {
	for i := range obs {
		if obs[i].Value == value {
			return &obs[i]
		}
	}
	return nil
}

// HasWarning reports whether ws holds a warning on field whose Record contains
// record.
func HasWarning(ws []ingest.Warning, record, field string) bool {
	for _, w := range ws {
		if strings.Contains(w.Record, record) && w.Field == field {
			return true
		}
	}
	return false
}
