package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Suite{
		Open: func(t *testing.T) (storage.Store, func(*testing.T) storage.Store) {
			dir := filepath.Join(t.TempDir(), "db")
			return bolt.MustOpen(t, dir), func(t *testing.T) storage.Store { return bolt.MustOpen(t, dir) }
		},
		Crash: crashStore,
	}.Run(t)
}

// TestStoreSmallTail runs the suite with an index tail of three entries and at
// most three index generations, so that nearly every write merges the in-memory
// tail into a new generation and every third merge compacts them.
func TestStoreSmallTail(t *testing.T) {
	open := func(t *testing.T, dir string) storage.Store {
		st, err := bolt.Open(dir, bolt.Options{NoSync: true, IndexTail: 3, IndexGenerations: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	storagetest.Suite{
		Open: func(t *testing.T) (storage.Store, func(*testing.T) storage.Store) {
			dir := filepath.Join(t.TempDir(), "db")
			return open(t, dir), func(t *testing.T) storage.Store { return open(t, dir) }
		},
		Sizes: storagetest.Sizes{Bulk: 1000, WatermarkWrites: 500},
	}.Run(t)
}
