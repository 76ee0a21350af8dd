package virustotal_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

const testIdentity = "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// sharedFile returns a file of the shared reference set, skipping the test when
// the set is not there.
func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared reference set not available (%v)", err)
	}
	return p
}

// MustAttackSample loads the in-repo 25-object ATT&CK sample.
func MustAttackSample(t testing.TB) *attack.Index {
	t.Helper()
	ix, err := attack.Load(filepath.Join(repoRoot(t), "ingest", "attack", "testdata", "enterprise-attack-18.1-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// MustStore opens a real embedded store with the pool collection.
func MustStore(t testing.TB) *bolt.Store {
	t.Helper()
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	if err := s.EnsureCollection(context.Background(), ingest.DefaultPool, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	return s
}

// batchSource emits fixed batches once.
type batchSource struct{ batches []ingest.Batch }

func (b *batchSource) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	for _, x := range b.batches {
		if err := emit(x); err != nil {
			return err
		}
	}
	return nil
}

// MustIngestBundle runs converted output through the real Runner (with the
// ATT&CK index ix) into a fresh embedded store and returns every stored object version as one bundle's objects,
// so the bundle holds what ctibroker publishes: the provider's context objects
// and the indicators, observables and based-on relationships authored for the
// observations.
func MustIngestBundle(t testing.TB, ix *attack.Index, objs []stix.Object, obs []ingest.Observation) []json.RawMessage {
	t.Helper()
	s := MustStore(t)
	r := &ingest.Runner{Store: s, Now: func() time.Time { return testTime }, Identity: testIdentity}
	cfg := ingest.FeedConfig{Name: "vt", Provider: "virustotal", Attack: ix}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &ingest.Feed{Config: cfg, Source: &batchSource{[]ingest.Batch{{Objects: objs, Observations: obs}}}}); err != nil {
		t.Fatal(err)
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 100000, Versions: []string{storage.VersionAll}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]json.RawMessage, 0, len(page.Records))
	for _, r := range page.Records {
		out = append(out, r.JSON)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i]) < string(out[j]) })
	return out
}

// checkValid validates every object and the bundle with the pattern checker:
// zero errors. The only warning tolerated is STIX's list of relationship pairs
// not naming DESIGN.md's indicator based-on SCO.
func checkValid(t testing.TB, objects []json.RawMessage) {
	t.Helper()
	v := stix.Validator{PatternChecker: pattern.Check}
	for _, b := range objects {
		for _, f := range v.Validate(b) {
			if f.Severity == stix.SeverityError {
				t.Errorf("%s\n  in %s", stix.FormatFinding(f), b)
			}
		}
	}
	bundle, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--0f1b5a4e-8f55-4c55-9b52-4f0a6b3b8a11", "objects": objects})
	if err != nil {
		t.Fatal(err)
	}
	if fs := v.Validate(bundle); stix.HasErrors(fs) {
		for _, f := range fs {
			if f.Severity == stix.SeverityError {
				t.Errorf("bundle: %s", stix.FormatFinding(f))
			}
		}
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
