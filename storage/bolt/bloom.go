package bolt

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"

	bbolt "go.etcd.io/bbolt"
)

// A bloom filter per collection over the ids in its on-disk id index spares a
// writer the random B+tree read that otherwise checks every new id for earlier
// versions. Each index bucket has its own: the main bucket's is rebuilt by
// every compaction, a generation's is written with it, and both are stored in
// the collection bucket (keyBloom, genBloomKey); ids deleted from the index
// stay in them, which only costs a lookup. Writers alone use them, and read
// them where they are stored: a writer's transaction tests the bits in the
// memory-mapped file (coll.mayHave) and never keeps them, so the filters cost
// no heap at all between writes and only page cache (file-backed, which the
// kernel may drop) while a write runs. Nothing outside the file describes
// them, so a crash leaves no filter out of step with its index: both are
// written in the same transaction.

var keyBloom = []byte("bloom")

const (
	bloomBitsPerID = 10 // about 1 % false positives with bloomHashes
	bloomHashes    = 7
	bloomMinIDs    = 1 << 16
)

// bloom is a filter, in the stored form: capacity, n (8 bytes each, big
// endian), then the bits. A filter being built lives on the heap; one decoded
// from a transaction aliases the memory map and is only read, and only during
// that transaction.
type bloom struct {
	capacity uint64 // ids it was sized for
	n        uint64 // ids added
	bits     []byte
	buf      []byte // the stored form: header and bits (built filters only)
}

func newBloom(capacity uint64) *bloom {
	capacity = max(capacity, bloomMinIDs)
	buf := make([]byte, 16+capacity*bloomBitsPerID/8)
	return &bloom{capacity: capacity, bits: buf[16:], buf: buf}
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

// encode returns the stored form of a filter built by newBloom: its own
// buffer, not a copy (a compaction at 10 M ids builds a 25 MB filter).
func (b *bloom) encode() []byte {
	binary.BigEndian.PutUint64(b.buf, b.capacity)
	binary.BigEndian.PutUint64(b.buf[8:], b.n)
	return b.buf
}

// decodeBloom returns the filter stored in v, aliasing v (no copy), or nil
// when v is not one.
func decodeBloom(v []byte) *bloom {
	if len(v) < 16 {
		return nil
	}
	b := &bloom{capacity: binary.BigEndian.Uint64(v), n: binary.BigEndian.Uint64(v[8:]), bits: v[16:]}
	if b.capacity > uint64(len(v))*8/bloomBitsPerID || uint64(len(b.bits)) != b.capacity*bloomBitsPerID/8 || len(b.bits) == 0 {
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

// mayHave reports whether id may have entries in index bucket i of c. The
// filters are decoded from c's transaction at the first call and alias its
// memory map: c lives no longer than its transaction. A missing or malformed
// filter answers true (the index is read).
func (c *coll) mayHave(i int, id string) bool {
	if c.blooms == nil {
		c.blooms = make([]*bloom, 1+len(c.gens))
		c.blooms[0] = decodeBloom(c.b.Get(keyBloom))
		for j, no := range c.genNo {
			c.blooms[1+j] = decodeBloom(c.b.Get(genBloomKey(no)))
		}
	}
	if i < len(c.blooms) && c.blooms[i] != nil {
		return c.blooms[i].mayContain([]byte(id))
	}
	return true
}
