package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"
)

// Environment variables naming the server tests run against (see DESIGN.md):
// .ci/run sets both to the FerretDB test server of storage/mongo/testserver.
const (
	EnvTestURI    = "CTIBROKER_TEST_MONGODB_URI"
	EnvTestFlavor = "CTIBROKER_TEST_MONGODB_FLAVOR" // "ferretdb", or empty for real MongoDB
)

// TestURI returns the MongoDB URI and flavor tests should use. Without
// CTIBROKER_TEST_MONGODB_URI it skips tb, naming the variable, except under
// CI=true, where a missing server fails tb.
func TestURI(tb testing.TB) (uri, flavor string) {
	tb.Helper()
	uri = os.Getenv(EnvTestURI)
	if uri == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set under CI=true: .ci/run must start storage/mongo/testserver (eval \"$(storage/mongo/testserver/start.sh)\")", EnvTestURI)
		}
		tb.Skipf("%s is not set: no MongoDB server to test against (start one with eval \"$(storage/mongo/testserver/start.sh)\")", EnvTestURI)
	}
	return uri, os.Getenv(EnvTestFlavor)
}

// TempDatabase returns a fresh database name for one test.
func TempDatabase() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ctbt_" + hex.EncodeToString(b[:])
}

// MustOpen opens the store at uri with opt, failing tb on error and closing the
// store when the test ends.
func MustOpen(tb testing.TB, uri string, opt Options) *Store {
	tb.Helper()
	s, err := Open(context.Background(), uri, opt)
	if err != nil {
		tb.Fatalf("mongo.Open(%s): %v", opt.Database, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// MustOpenTemp opens a store on a fresh database of the server named by
// CTIBROKER_TEST_MONGODB_URI (see TestURI) and drops the database when the test
// ends.
func MustOpenTemp(tb testing.TB, opt Options) *Store {
	tb.Helper()
	uri, _ := TestURI(tb)
	if opt.Database == "" {
		opt.Database = TempDatabase()
	}
	s := MustOpen(tb, uri, opt)
	tb.Cleanup(func() { DropTestDatabase(uri, opt.Database) })
	return s
}

// DropTestDatabase drops database db on the server at uri, ignoring errors.
func DropTestDatabase(uri, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, Options{Database: db})
	if err != nil {
		return
	}
	_ = s.DropDatabase(ctx)
	_ = s.Close()
}
