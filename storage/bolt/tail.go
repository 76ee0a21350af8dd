package bolt

import (
	"bytes"
	"encoding/binary"
	"slices"

	bbolt "go.etcd.io/bbolt"
)

// The ids index is written lazily. New index entries first go to an in-memory
// tail (per collection, at most Options.IndexTail entries), rebuilt at Open from
// the log records after info.indexed; when the tail is full, one transaction
// merges it into the ids bucket in key order. A batch of 1000 random ids thus
// dirties a few hundred B+tree pages once per merge instead of about 1000 pages
// per batch: random STIX ids were the ingest bottleneck.
//
// Concurrency: writers hold Store.wmu, so only one goroutine changes tails.
// Readers that consult the tail hold Store.tmu.RLock from before their read
// transaction begins until they are done; writers take tmu.Lock to publish new
// entries just before commit (readers ignore entries above their snapshot's last
// date_added), and to drop deleted or merged entries just after commit (readers
// skip entries whose record is gone from their snapshot, and prefer the ids
// bucket when an entry is in both).

// tail holds the index entries of one collection not yet in its ids bucket,
// packed (about 130 bytes an entry with the map) to keep memory and GC work low.
type tail struct {
	byID map[string][]byte // id → packed entries: version, flags, date_added, hash, spec
	n    int
}

// packEntries encodes the entries of one id.
func packEntries(l []entry) []byte {
	var b []byte
	for _, e := range l {
		b = append(b, e.ver...)
		b = append(b, e.flags)
		b = binary.BigEndian.AppendUint64(b, e.da)
		b = append(b, byte(len(e.hash)))
		b = append(b, e.hash...)
		b = append(b, byte(len(e.spec)))
		b = append(b, e.spec...)
	}
	return b
}

// unpackEntries decodes the packed entries of id, allocating their keys.
func unpackEntries(id string, b []byte) []entry {
	var out []entry
	for len(b) >= verLen+11 {
		e := entry{key: append(idPrefix(id), b[:verLen]...), flags: b[verLen], da: binary.BigEndian.Uint64(b[verLen+1:])}
		e.ver = e.key[len(e.key)-verLen:]
		b = b[verLen+9:]
		n := int(b[0])
		if len(b) < 1+n+1 {
			break
		}
		e.hash = b[1 : 1+n]
		b = b[1+n:]
		m := int(b[0])
		if len(b) < 1+m {
			break
		}
		e.spec = b[1 : 1+m]
		b = b[1+m:]
		out = append(out, e)
	}
	return out
}

func countEntries(b []byte) int {
	n := 0
	for len(b) >= verLen+11 {
		b = b[verLen+9:]
		b = b[1+int(b[0]):]
		if len(b) == 0 {
			break
		}
		b = b[1+int(b[0]):]
		n++
	}
	return n
}

func (t *tail) get(id string) []entry {
	if t == nil {
		return nil
	}
	if b, ok := t.byID[id]; ok {
		return unpackEntries(id, b)
	}
	return nil
}

// set replaces the entries of id.
func (t *tail) set(id string, l []entry) {
	t.n += len(l) - countEntries(t.byID[id])
	if len(l) == 0 {
		delete(t.byID, id)
		return
	}
	t.byID[id] = packEntries(l)
}

// tailOf returns the tail of collection name, creating it.
func (s *Store) tailOf(name string) *tail {
	t := s.tails[name]
	if t == nil {
		t = &tail{byID: map[string][]byte{}}
		s.tails[name] = t
	}
	return t
}

// writeState is what one write transaction changes in the tails.
type writeState struct {
	s     *Store
	lists map[*coll]map[string][]entry // staged full entry lists per id (tail part only)
	olds  map[*coll]map[string][]entry // the lists before, to undo a failed commit
}

func newWriteState(s *Store) *writeState {
	return &writeState{s: s, lists: map[*coll]map[string][]entry{}, olds: map[*coll]map[string][]entry{}}
}

// tailList returns the staged tail entries of id in c.
func (w *writeState) tailList(c *coll, id string) []entry {
	if m := w.lists[c]; m != nil {
		if l, ok := m[id]; ok {
			return l
		}
	}
	return w.s.tails[c.name].get(id)
}

func (w *writeState) setTailList(c *coll, id string, l []entry) {
	if w.lists[c] == nil {
		w.lists[c] = map[string][]entry{}
		w.olds[c] = map[string][]entry{}
	}
	if _, ok := w.lists[c][id]; !ok {
		w.olds[c][id] = w.s.tails[c.name].get(id)
	}
	w.lists[c][id] = l
}

// publish makes the staged lists visible to readers. Before commit (final
// false) it adds new and changed entries and keeps the ones being deleted, so
// that readers of older snapshots still find them; after commit (final true) it
// sets the lists exactly.
func (w *writeState) publish(final bool) {
	w.s.tmu.Lock()
	defer w.s.tmu.Unlock()
	for c, m := range w.lists {
		t := w.s.tailOf(c.name)
		for id, l := range m {
			_, had := t.byID[id]
			if !had && len(l) > 0 {
				if !final { // a new id: nothing for older snapshots to keep
					t.set(id, l)
				}
				continue
			}
			if !final {
				merged := slices.Clone(l)
				for _, o := range t.get(id) {
					if !slices.ContainsFunc(l, func(e entry) bool { return bytes.Equal(e.key, o.key) }) {
						merged = append(merged, o)
					}
				}
				l = merged
			}
			t.set(id, l)
		}
	}
}

// undo restores the lists changed by publish(false) after a failed commit.
func (w *writeState) undo() {
	w.s.tmu.Lock()
	defer w.s.tmu.Unlock()
	for c, m := range w.olds {
		t := w.s.tailOf(c.name)
		for id, l := range m {
			t.set(id, l)
		}
	}
}

// writeVersions returns the index entries of id for a writer: the ids bucket's
// and the staged tail's, sorted by version.
func (w *writeState) writeVersions(c *coll, dst []entry, id string) []entry {
	for i := 0; i <= len(c.gens); i++ {
		if c.mayHave(i, id) {
			dst = c.idxVersions(dst, i, id)
		}
	}
	for _, e := range w.tailList(c, id) {
		e.idx = -1
		dst = append(dst, e)
	}
	slices.SortFunc(dst, func(a, b entry) int { return bytes.Compare(a.ver, b.ver) })
	return dst
}

// diskVersions appends copies of the on-disk index entries of id.
func (c *coll) diskVersions(dst []entry, id string) []entry {
	for i := 0; i <= len(c.gens); i++ {
		dst = c.idxVersions(dst, i, id)
	}
	return dst
}

// idxVersions appends copies of the entries of id in index bucket i.
func (c *coll) idxVersions(dst []entry, i int, id string) []entry {
	prefix := idPrefix(id)
	cur := c.idx(i).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+verLen; k, v = cur.Next() {
		var e entry
		if decodeEntry(bytes.Clone(k), bytes.Clone(v), &e) == nil {
			e.idx = i
			dst = append(dst, e)
		}
	}
	return dst
}

// readVersions returns the entries of id visible in the reader's snapshot: the
// ids bucket's, plus tail entries at or below the snapshot's last date_added
// whose record exists, deduplicated, sorted by version. The caller holds tmu.RLock.
func (s *Store) readVersions(c *coll, dst []entry, id string) []entry {
	dst = c.diskVersions(dst, id)
	n := len(dst)
	for _, e := range s.tails[c.name].get(id) {
		if e.da > c.info.seq || c.log.Get(daKey(e.da)) == nil {
			continue
		}
		if slices.ContainsFunc(dst[:n], func(d entry) bool { return bytes.Equal(d.key, e.key) }) {
			continue
		}
		dst = append(dst, e)
	}
	slices.SortFunc(dst, func(a, b entry) int { return bytes.Compare(a.ver, b.ver) })
	return dst
}

// rebuildTails fills the tails from the log records not yet merged, at Open.
func (s *Store) rebuildTails(tx *bbolt.Tx) error {
	return tx.Bucket(bktColls).ForEachBucket(func(name []byte) error {
		c, err := openColl(tx, string(name))
		if err != nil {
			return err
		}
		t := s.tailOf(c.name)
		cur := c.log.Cursor()
		var h header
		for k, v := cur.Seek(daKey(c.info.indexed + 1)); k != nil; k, v = cur.Next() {
			if err := decodeHeader(v, &h); err != nil {
				return err
			}
			da := be64(k)
			e := entry{key: appendVer(idPrefix(string(h.id)), getVer(h.ver)), flags: h.flags, da: da,
				hash: bytes.Clone(h.hash), spec: bytes.Clone(h.spec)}
			e.ver = e.key[len(e.key)-verLen:]
			id := string(h.id)
			t.set(id, append(t.get(id), e))
		}
		return nil
	})
}

// mergeTail writes the whole tail of collection name into a new sorted
// generation of its on-disk index (a sequential write into an empty bucket, with
// its own bloom filter) or, when Options.IndexGenerations would be exceeded,
// compacts every generation and the tail into the main ids bucket. It records
// that every record up to the last assigned date_added is indexed, then drops
// the merged entries. The caller holds wmu.
func (s *Store) mergeTail(name string) error {
	t := s.tails[name]
	if t == nil || t.n == 0 {
		return nil
	}
	var all []entry
	for id, b := range t.byID {
		all = append(all, unpackEntries(id, b)...)
	}
	slices.SortFunc(all, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	err := s.db.Update(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, name)
		if err != nil {
			return err
		}
		if len(c.gens)+1 >= s.opt.IndexGenerations {
			// Compact: the generations and the tail into the main bucket, in key
			// order per source, filling the pages it writes.
			base := c.ids
			base.FillPercent = 0.9
			if err := compactInto(base, c.gens, all); err != nil {
				return err
			}
			if len(c.gens) > 0 {
				if err := c.b.DeleteBucket(subGens); err != nil {
					return err
				}
			}
			for _, no := range c.genNo {
				if err := c.b.Delete(genBloomKey(no)); err != nil {
					return err
				}
			}
			bl := buildBloom(base, 0)
			if err := c.b.Put(keyBloom, bl.encode()); err != nil {
				return err
			}
		} else {
			gens, err := c.b.CreateBucketIfNotExists(subGens)
			if err != nil {
				return err
			}
			no, err := gens.NextSequence()
			if err != nil {
				return err
			}
			g, err := gens.CreateBucket(daKey(no))
			if err != nil {
				return err
			}
			g.FillPercent = 1.0 // keys arrive in order into an empty bucket
			for _, e := range all {
				if err := g.Put(e.key, appendEntry(nil, e.flags, e.da, e.hash, string(e.spec))); err != nil {
					return err
				}
			}
			bl := newBloom(uint64(len(t.byID)))
			for id := range t.byID {
				bl.add([]byte(id))
			}
			if err := c.b.Put(genBloomKey(no), bl.encode()); err != nil {
				return err
			}
		}
		c.info.indexed = c.info.seq
		return c.saveInfo()
	})
	if err != nil {
		return err
	}
	s.tmu.Lock()
	delete(s.tails, name)
	s.tmu.Unlock()
	return nil
}

// compactInto puts every entry of gens and tail into base in global key order.
// The order matters: bbolt splits nodes only at commit, so keys inserted out of
// order into a node that grows within the transaction cost a copy of the node
// each (quadratic); in order they append.
func compactInto(base *bbolt.Bucket, gens []*bbolt.Bucket, tail []entry) error {
	type head struct {
		cur  *bbolt.Cursor
		k, v []byte
	}
	var heads []*head
	for _, g := range gens {
		h := &head{cur: g.Cursor()}
		if h.k, h.v = h.cur.First(); h.k != nil {
			heads = append(heads, h)
		}
	}
	ti := 0
	for len(heads) > 0 || ti < len(tail) {
		mi := -1
		for i, h := range heads {
			if mi < 0 || bytes.Compare(h.k, heads[mi].k) < 0 {
				mi = i
			}
		}
		if ti < len(tail) && (mi < 0 || bytes.Compare(tail[ti].key, heads[mi].k) < 0) {
			e := tail[ti]
			if err := base.Put(e.key, appendEntry(nil, e.flags, e.da, e.hash, string(e.spec))); err != nil {
				return err
			}
			ti++
			continue
		}
		h := heads[mi]
		if err := base.Put(h.k, h.v); err != nil {
			return err
		}
		if h.k, h.v = h.cur.Next(); h.k == nil {
			heads = slices.Delete(heads, mi, mi+1)
		}
	}
	return nil
}
