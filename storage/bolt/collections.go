package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/storage"
)

// info is a collection's runtime state, stored under keyInfo.
type info struct {
	kind  string
	count uint64
	first uint64 // date_added µs of the oldest record, 0 when empty
	last  uint64 // date_added µs of the newest record, 0 when empty
	seq   uint64 // the highest date_added ever assigned; never decreases
	// indexed: every record with date_added ≤ indexed has its entry in the ids
	// bucket; later ones are in the in-memory tail, rebuilt at Open.
	indexed uint64
}

func (i *info) encode() []byte {
	b := make([]byte, 0, 41)
	if i.kind == storage.KindCurated {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, v := range []uint64{i.count, i.first, i.last, i.seq, i.indexed} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeInfo(b []byte) (info, error) {
	if len(b) != 41 {
		return info{}, errCorrupt
	}
	i := info{kind: storage.KindStored}
	if b[0] == 1 {
		i.kind = storage.KindCurated
	}
	i.count = binary.BigEndian.Uint64(b[1:])
	i.first = binary.BigEndian.Uint64(b[9:])
	i.last = binary.BigEndian.Uint64(b[17:])
	i.seq = binary.BigEndian.Uint64(b[25:])
	i.indexed = binary.BigEndian.Uint64(b[33:])
	return i, nil
}

func (i *info) public(id string) storage.CollectionInfo {
	ci := storage.CollectionInfo{ID: id, Kind: i.kind, Count: int64(i.count)}
	if i.count > 0 {
		ci.FirstAdded = daTime(i.first)
		ci.LastAdded = daTime(i.last)
	}
	return ci
}

// coll is an open collection bucket inside one transaction.
type coll struct {
	name  string
	b     *bbolt.Bucket
	log   *bbolt.Bucket
	ids   *bbolt.Bucket
	types *bbolt.Bucket
	gens  []*bbolt.Bucket // index generations, oldest first
	genNo []uint64
	info  info
	// blooms are the index buckets' filters (see mayHave), read from the
	// transaction at first use: valid only as long as it.
	blooms []*bloom
}

// idx returns index bucket i: 0 the ids bucket, i the i-th generation.
func (c *coll) idx(i int) *bbolt.Bucket {
	if i == 0 {
		return c.ids
	}
	return c.gens[i-1]
}

func openColl(tx *bbolt.Tx, name string) (*coll, error) {
	b := tx.Bucket(bktColls).Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("collection %q: %w", name, storage.ErrNotFound)
	}
	c := &coll{name: name, b: b, log: b.Bucket(subLog), ids: b.Bucket(subIDs), types: b.Bucket(subTypes)}
	if c.log == nil || c.ids == nil || c.types == nil {
		return nil, fmt.Errorf("collection %q: %w", name, errCorrupt)
	}
	if g := b.Bucket(subGens); g != nil {
		if err := g.ForEachBucket(func(k []byte) error {
			c.gens = append(c.gens, g.Bucket(k))
			c.genNo = append(c.genNo, be64(k))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	var err error
	if c.info, err = decodeInfo(b.Get(keyInfo)); err != nil {
		return nil, fmt.Errorf("collection %q: %w", name, err)
	}
	// Records are appended in date_added order: fill pages completely.
	c.log.FillPercent = 1.0
	return c, nil
}

func (c *coll) saveInfo() error { return c.b.Put(keyInfo, c.info.encode()) }

// EnsureCollection creates collection id of kind if it does not exist. It returns
// storage.ErrKind when id exists with another kind.
func (s *Store) EnsureCollection(ctx context.Context, id, kind string) error {
	if kind != storage.KindStored && kind != storage.KindCurated {
		return fmt.Errorf("collection %q: kind %q is neither %q nor %q", id, kind, storage.KindStored, storage.KindCurated)
	}
	if id == "" {
		return fmt.Errorf("collection id is empty")
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		root := tx.Bucket(bktColls)
		if b := root.Bucket([]byte(id)); b != nil {
			i, err := decodeInfo(b.Get(keyInfo))
			if err != nil {
				return fmt.Errorf("collection %q: %w", id, err)
			}
			if i.kind != kind {
				return fmt.Errorf("collection %q is %s, not %s: %w", id, i.kind, kind, storage.ErrKind)
			}
			return nil
		}
		b, err := root.CreateBucket([]byte(id))
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{subLog, subIDs, subTypes} {
			if _, err := b.CreateBucket(sub); err != nil {
				return err
			}
		}
		i := info{kind: kind}
		return b.Put(keyInfo, i.encode())
	})
}

// CollectionInfo returns the runtime state of collection id. Returns storage.ErrNotFound.
func (s *Store) CollectionInfo(ctx context.Context, id string) (*storage.CollectionInfo, error) {
	var ci storage.CollectionInfo
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c, err := openColl(tx, id)
		if err != nil {
			return err
		}
		ci = c.info.public(id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ci, nil
}

// Collections lists every collection, sorted by ID.
func (s *Store) Collections(ctx context.Context) ([]storage.CollectionInfo, error) {
	var out []storage.CollectionInfo
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bktColls).ForEachBucket(func(k []byte) error {
			c, err := openColl(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, c.info.public(c.name))
			return nil
		})
	})
	return out, err
}
