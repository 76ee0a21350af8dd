package ingesttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ctibroker/ctibroker/ingest/attack"
)

// MustRepoRoot walks up from the working directory (the package directory under
// go test) to the directory holding go.mod, failing tb when there is none.
func MustRepoRoot(tb testing.TB) string {
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

// MustShared returns the path of rel inside the shared reference set
// (../shared relative to the repository root), skipping the test with a
// message when that path does not exist.
func MustShared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(MustRepoRoot(tb), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("../shared not available (%v)", err)
	}
	return p
}

// MustRead returns the contents of the file at path, failing tb when it
// cannot be read.
func MustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustAttackSample loads the 25-object ATT&CK sample kept in the repository
// at ingest/attack/testdata/enterprise-attack-18.1-sample.json.
func MustAttackSample(tb testing.TB) *attack.Index {
	tb.Helper()
	ix, err := attack.Load(filepath.Join(MustRepoRoot(tb), "ingest", "attack", "testdata", "enterprise-attack-18.1-sample.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return ix
}
