package bolt

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"

	bbolt "go.etcd.io/bbolt"
)

// A bloom filter per collection over the ids in its on-disk id index spares a
// writer the random B+tree read that otherwise checks every new id for earlier
// versions. It is rebuilt (bigger) when it fills, extended by every tail merge
// in the merge's transaction, and stored under keyBloom; ids deleted from the
// index stay in it, which only costs a lookup. Writers alone use it, under wmu.

var keyBloom = []byte("bloom")

const (
	bloomBitsPerID = 10 // about 1 % false positives with bloomHashes
	bloomHashes    = 7
	bloomMinIDs    = 1 << 16
)

type bloom struct {
	capacity uint64 // ids it was sized for
	n        uint64 // ids added
	bits     []byte
}

func newBloom(capacity uint64) *bloom {
	capacity = max(capacity, bloomMinIDs)
	return &bloom{capacity: capacity, bits: make([]byte, capacity*bloomBitsPerID/8)}
}

func bloomHash(id []byte) (uint64, uint64) {
	h := fnv.New64a()
	h.Write(id)
	h1 := h.Sum64()
	return h1, h1>>29 | 1
}

func (b *bloom) add(id []byte) {
	m := uint64(len(b.bits)) * 8
	h1, h2 := bloomHash(id)
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) % m
		b.bits[bit/8] |= 1 << (bit % 8)
	}
	b.n++
}

func (b *bloom) mayContain(id []byte) bool {
	m := uint64(len(b.bits)) * 8
	h1, h2 := bloomHash(id)
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) % m
		if b.bits[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

func (b *bloom) encode() []byte {
	out := make([]byte, 0, 16+len(b.bits))
	out = binary.BigEndian.AppendUint64(out, b.capacity)
	out = binary.BigEndian.AppendUint64(out, b.n)
	return append(out, b.bits...)
}

func decodeBloom(v []byte) *bloom {
	if len(v) < 16 {
		return nil
	}
	b := &bloom{capacity: binary.BigEndian.Uint64(v), n: binary.BigEndian.Uint64(v[8:]), bits: bytes.Clone(v[16:])}
	if uint64(len(b.bits)) != b.capacity*bloomBitsPerID/8 {
		return nil
	}
	return b
}

// buildBloom returns a filter holding every id of c's on-disk index.
func buildBloom(c *coll, extra uint64) *bloom {
	var ids uint64
	cur := c.ids.Cursor()
	var last []byte
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if id := idOfKey(k); !bytes.Equal(id, last) {
			ids++
			last = id
		}
	}
	b := newBloom(2 * (ids + extra))
	last = nil
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if id := idOfKey(k); !bytes.Equal(id, last) {
			b.add(id)
			last = id
		}
	}
	return b
}

func idOfKey(k []byte) []byte {
	if len(k) < verLen+1 {
		return nil
	}
	return k[:len(k)-verLen-1]
}

// loadBlooms reads the stored filters at Open.
func (s *Store) loadBlooms(tx *bbolt.Tx) error {
	return tx.Bucket(bktColls).ForEachBucket(func(name []byte) error {
		if b := decodeBloom(tx.Bucket(bktColls).Bucket(name).Get(keyBloom)); b != nil {
			s.blooms[string(name)] = b
		}
		return nil
	})
}

// mayHaveOnDisk reports whether id may have entries in c's on-disk index.
func (s *Store) mayHaveOnDisk(c *coll, id string) bool {
	b := s.blooms[c.name]
	return b == nil || b.mayContain([]byte(id))
}
