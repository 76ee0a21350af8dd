package ingesttest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// Time is the fixed clock of the Runner that MustIngestBundle drives.
var Time = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// Identity is the identity the helpers' Runner authors objects as; provider
// tests use it for their converters too.
const Identity = "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"

// MustStore opens a real embedded store in a fresh t.TempDir() with the
// ingest pool collection; the store is closed when the test ends.
func MustStore(tb testing.TB) *bolt.Store {
	tb.Helper()
	s := bolt.MustOpen(tb, filepath.Join(tb.TempDir(), "db"))
	if err := s.EnsureCollection(context.Background(), ingest.DefaultPool, storage.KindStored); err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustOpenStore opens the embedded store in dir (NoSync) and ensures the ingest
// pool and every collection in colls. Unlike MustStore it does not close the
// store when the test ends: tests that reopen a directory close it themselves.
func MustOpenStore(tb testing.TB, dir string, colls ...string) *bolt.Store {
	tb.Helper()
	s, err := bolt.Open(dir, bolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range append([]string{ingest.DefaultPool}, colls...) {
		if err := s.EnsureCollection(context.Background(), c, storage.KindStored); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// Batches is an ingest.Source that emits its batches once, in order, and
// stops at the first error emit returns.
type Batches []ingest.Batch

// Pull emits every batch; cur is ignored.
func (b Batches) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	for _, x := range b {
		if err := emit(x); err != nil {
			return err
		}
	}
	return nil
}

// MustIngestBundle runs one batch of converted output (objs and obs) through
// the real ingest.Runner (clock Time, identity Identity) under cfg into a fresh
// embedded store, and returns every stored object version sorted by its bytes:
// the objects of the bundle ctibroker publishes, that is the provider's context
// objects and the indicators, observables and based-on relationships authored
// for the observations. cfg is validated first.
func MustIngestBundle(tb testing.TB, cfg ingest.FeedConfig, objs []stix.Object, obs []ingest.Observation) []json.RawMessage {
	tb.Helper()
	s := MustStore(tb)
	r := &ingest.Runner{Store: s, Now: func() time.Time { return Time }, Identity: Identity}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &ingest.Feed{Config: cfg, Source: Batches{{Objects: objs, Observations: obs}}}); err != nil {
		tb.Fatal(err)
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 100000, Versions: []string{storage.VersionAll}})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]json.RawMessage, 0, len(page.Records))
	for _, r := range page.Records {
		out = append(out, r.JSON)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i]) < string(out[j]) })
	return out
}

// FailingStore is an ingest.Store whose PutObjects fails with Err: a crash
// between fetching a page and making it durable, which a real store cannot be
// made to do on demand. Every other call goes to the embedded Store. Not safe
// for concurrent PutObjects calls (the Runner makes them one at a time).
type FailingStore struct {
	ingest.Store
	// Err is what a failing PutObjects returns.
	Err error
	// FailCall is the one PutObjects call, counting from 1, that fails;
	// 0 fails none by count.
	FailCall int
	// Fail, while set, fails every PutObjects call.
	Fail  bool
	calls int
}

// PutObjects fails with Err on call FailCall and while Fail is set, and
// otherwise stores objs in the embedded Store.
func (f *FailingStore) PutObjects(ctx context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	f.calls++
	if f.Fail || f.calls == f.FailCall {
		return nil, f.Err
	}
	return f.Store.PutObjects(ctx, coll, objs)
}
