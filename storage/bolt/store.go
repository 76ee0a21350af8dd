package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ctibroker/ctibroker/storage"
)

// FileName is the name of the bbolt file inside the store directory.
const FileName = "ctibroker.db"

// pidFileName holds the pid of the process holding the store, for the "in use" error.
const pidFileName = "ctibroker.pid"

// Format is the on-disk format version this package writes. Open migrates older
// formats forward and refuses newer ones with storage.ErrFormat.
const Format = 1

// Options tunes a Store. The zero value is the production default.
type Options struct {
	// Timeout is how long Open waits for the file lock before failing with an
	// "in use by another process" error. Default 1 s.
	Timeout time.Duration
	// NoSync skips the fsync at each commit. Only for tests and benchmarks that
	// measure something else: a crash may then lose committed batches.
	NoSync bool
	// ReadOnly opens the file with a shared lock; writes fail.
	ReadOnly bool
	// ScanBudget caps how many records one query examines before it returns a
	// short page with More set. Default 50 000.
	ScanBudget int
	// DefaultLimit is the page size when Filter.Limit is 0. Default 1000.
	DefaultLimit int
	// Now is the clock for date_added, status expiry and leases. Default time.Now.
	Now func() time.Time
	// IndexTail is how many new id-index entries (of all collections) are kept in
	// memory, about 160 bytes each, before the largest collection's are written
	// as a new sorted generation of its on-disk id index. Default 262 144 (about
	// 40 MB at most). Open rebuilds the tails from the log after a crash.
	IndexTail int
	// IndexGenerations is how many sorted generations a collection's on-disk id
	// index may have before they are compacted into its main bucket. Default 8.
	IndexGenerations int
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.ScanBudget <= 0 {
		o.ScanBudget = 50000
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IndexTail <= 0 {
		o.IndexTail = 262144
	}
	if o.IndexGenerations <= 0 {
		o.IndexGenerations = 8
	}
}

// Store is the embedded storage backend: one bbolt file in a directory. It is
// safe for concurrent use; writes are serialised by bbolt's single writer.
type Store struct {
	db     *bbolt.DB
	dir    string
	opt    Options
	closed atomic.Bool
	wmu    sync.Mutex       // serialises writes together with their tail updates
	tmu    sync.RWMutex     // guards tails against readers (see tail.go)
	tails  map[string]*tail // per collection: index entries not yet in its ids bucket
}

var (
	_ storage.Store             = (*Store)(nil)
	_ storage.MembershipStore   = (*Store)(nil)
	_ storage.FeedStateStore    = (*Store)(nil)
	_ storage.ProvenanceStore   = (*Store)(nil)
	_ storage.ProvenanceScanner = (*Store)(nil)
	_ storage.SightingStore     = (*Store)(nil)
	_ storage.MISPEventIndex    = (*Store)(nil)
	_ storage.Leaser            = (*Store)(nil)
	_ storage.Sequencer         = (*Store)(nil)
	_ storage.Backuper          = (*Store)(nil)
	_ storage.Checker           = (*Store)(nil)
)

// Top-level bucket names.
var (
	bktMeta     = []byte("meta")
	bktColls    = []byte("collections")
	bktFeeds    = []byte("feeds")
	bktProv     = []byte("provenance")
	bktProvDay  = []byte("provenance-by-day")
	bktSight    = []byte("sightings")
	bktSightIdx = []byte("sightings-by-value")
	bktStatus   = []byte("statuses")
	bktStatExp  = []byte("statuses-by-expiry")
	bktMISP     = []byte("misp-events")
	bktLease    = []byte("leases")
	bktSeq      = []byte("sequences")

	topBuckets = [][]byte{bktMeta, bktColls, bktFeeds, bktProv, bktProvDay, bktSight, bktSightIdx,
		bktStatus, bktStatExp, bktMISP, bktLease, bktSeq}

	keyFormat = []byte("format")
)

// migrations[i] upgrades format i+1 to i+2 inside one write transaction.
// Format 1 is the first; the table grows with the format.
var migrations = []func(tx *bbolt.Tx) error{}

// Open opens (creating if needed) the store in directory dir; the bbolt file is
// dir/ctibroker.db. It fails with an error naming dir and the holder's pid when
// another process holds the store, and with storage.ErrFormat when the file was
// written by a newer ctibroker.
func Open(dir string, opt Options) (*Store, error) {
	opt.defaults()
	if !opt.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", dir, err)
		}
	}
	path := filepath.Join(dir, FileName)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        opt.Timeout,
		NoFreelistSync: true, // written once, at Close (see Close)
		FreelistType:   bbolt.FreelistMapType,
		ReadOnly:       opt.ReadOnly,
		NoSync:         opt.NoSync,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store %s is in use by another process (%s)", dir, holder(dir))
		}
		return nil, fmt.Errorf("store %s: %v", dir, err)
	}
	s := &Store{db: db, dir: dir, opt: opt, tails: map[string]*tail{}}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if err := db.View(s.rebuildTails); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: rebuilding the index tail: %w", dir, err)
	}
	if !opt.ReadOnly {
		_ = os.WriteFile(filepath.Join(dir, pidFileName), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	}
	return s, nil
}

// MustOpen opens a store in dir with default options and NoSync, failing tb on
// error and closing the store when the test ends.
func MustOpen(tb testing.TB, dir string) *Store {
	tb.Helper()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		tb.Fatalf("bolt.Open(%s): %v", dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func holder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, pidFileName))
	if err != nil {
		return "pid unknown"
	}
	return "pid " + strings.TrimSpace(string(b))
}

// init creates the buckets of a new file, checks the format and migrates.
func (s *Store) init() error {
	var format uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		if m := tx.Bucket(bktMeta); m != nil {
			if v := m.Get(keyFormat); len(v) == 8 {
				format = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if format > Format {
		return fmt.Errorf("file format %d, this binary reads up to %d: %w", format, Format, storage.ErrFormat)
	}
	if format == Format {
		return nil
	}
	if s.opt.ReadOnly {
		if format == 0 {
			return fmt.Errorf("not a ctibroker store (no format version)")
		}
		return fmt.Errorf("file format %d needs a migration to %d; open it read-write once", format, Format)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if format == 0 {
			// A new file, or one written before formats existed: create everything.
			for _, name := range topBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			format = 1
		}
		for ; format < Format; format++ {
			if err := migrations[format-1](tx); err != nil {
				return fmt.Errorf("migrating format %d to %d: %w", format, format+1, err)
			}
		}
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bktMeta).Put(keyFormat, binary.BigEndian.AppendUint64(nil, Format))
	})
}

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the store. Further calls return storage.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if !s.opt.ReadOnly {
		// Commits skip bbolt's freelist (NoFreelistSync), which otherwise costs
		// about half the CPU of an ingest batch on a churned file; one last commit
		// writes it, so that the next Open reads it instead of walking every
		// page (7.9 s for a 4 GB store here, 0.02 s with it: BenchmarkOpen).
		// After a crash the next Open walks the file once.
		s.wmu.Lock()
		// Merge the index tails too, so that the next Open has none to rebuild.
		for name := range s.tails {
			_ = s.mergeTail(name) // on failure the next Open rebuilds the tail
		}
		s.db.NoFreelistSync = false
		_ = s.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bktMeta).Put([]byte("closed"), binary.BigEndian.AppendUint64(nil, uint64(s.opt.Now().Unix())))
		})
		s.wmu.Unlock()
		_ = os.Remove(filepath.Join(s.dir, pidFileName))
	}
	return s.db.Close()
}

func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opt.ReadOnly {
		return fmt.Errorf("store %s is open read-only", s.dir)
	}
	err := s.db.Update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return storage.ErrClosed
	}
	return err
}
