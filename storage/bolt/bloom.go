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

// buildBloom returns a filter holding every id of index bucket bk.
func buildBloom(bk *bbolt.Bucket, extra uint64) *bloom {
	var ids uint64
	cur := bk.Cursor()
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

// genBloomKey is the collection-bucket key of generation no's filter.
func genBloomKey(no uint64) []byte { return binary.BigEndian.AppendUint64(bytes.Clone(keyBloom), no) }

// loadBlooms reads the stored filters at Open, one per index bucket (nil: none).
func (s *Store) loadBlooms(tx *bbolt.Tx) error {
	return tx.Bucket(bktColls).ForEachBucket(func(name []byte) error {
		c, err := openColl(tx, string(name))
		if err != nil {
			return err
		}
		bl := []*bloom{decodeBloom(c.b.Get(keyBloom))}
		for _, no := range c.genNo {
			bl = append(bl, decodeBloom(c.b.Get(genBloomKey(no))))
		}
		s.blooms[c.name] = bl
		return nil
	})
}

// mayHave reports whether id may have entries in index bucket i of c.
func (s *Store) mayHave(c *coll, i int, id string) bool {
	bl := s.blooms[c.name]
	if i < len(bl) && bl[i] != nil {
		return bl[i].mayContain([]byte(id))
	}
	return true
}
