package misp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
)

const testIdentity = "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"

// testNow is the converters' reference time for expiration sightings.
var testNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// repoRoot walks up from the package directory to go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// shared returns a path under ../shared, skipping the test when it is missing.
func shared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(repoRoot(tb), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("../shared not available (%v)", err)
	}
	return p
}

// sampleIndex is the 25-object ATT&CK sample kept in ingest/attack/testdata.
func sampleIndex(tb testing.TB) *attack.Index {
	tb.Helper()
	ix, err := attack.Load(filepath.Join(repoRoot(tb), "ingest", "attack", "testdata", "enterprise-attack-18.1-sample.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return ix
}

// mustValidate fails on any error-severity finding of the full validator
// (MUST rules and patterns).
func mustValidate(tb testing.TB, b *ingest.Batch) {
	tb.Helper()
	v := &stix.Validator{PatternChecker: pattern.Check}
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

// objectsOf returns the objects of type typ in b, decoded as maps.
func objectsOf(tb testing.TB, b *ingest.Batch, typ string) []map[string]any {
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
