// Package storagetest is the contract suite every storage backend runs: one
// Suite.Run (or Run) call exercises collections, TAXII 2.1 filtering and paging
// (§3.4–3.5), versions, deletes, idempotency, the visibility watermark under
// concurrent writers, reopen, crash safety and every optional interface, against
// a real store. Backends call it from their own tests:
//
//	func TestStore(t *testing.T) {
//		storagetest.Suite{Open: func(t *testing.T) (storage.Store, func(*testing.T) storage.Store) {
//			dir := filepath.Join(t.TempDir(), "db")
//			return bolt.MustOpen(t, dir), func(t *testing.T) storage.Store { return bolt.MustOpen(t, dir) }
//		}}.Run(t)
//	}
package storagetest
