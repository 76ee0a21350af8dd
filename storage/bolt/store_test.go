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
