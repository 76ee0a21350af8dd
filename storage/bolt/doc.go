// Package bolt is ctibroker's embedded default storage backend: one bbolt
// (go.etcd.io/bbolt) file, DIR/ctibroker.db, for the store URL "embedded:DIR".
// It implements storage.Store and every optional interface of package storage.
//
// Figures, layout and the choice of bbolt are documented below as they are measured.
package bolt
