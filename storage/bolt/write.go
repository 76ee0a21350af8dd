package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gowebpki/jcs"
	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// prepared is one object ready to store, computed outside the write transaction.
type prepared struct {
	id, typ, spec string
	ver           [verLen]byte // zero for SCOs: assigned from date_added
	sco           bool
	hash          []byte // SCOs: SHA-256 of the JCS-canonical bytes
	json          []byte
}

// prepare extracts what the indexes need from obj. Objects with `modified` (or
// `created`) are versioned by it; objects with neither (SCOs) by the SHA-256 of
// their canonical bytes (RFC 8785), their TAXII version being the first date_added.
func prepare(i int, obj *stix.RawObject) (prepared, error) {
	if len(obj.JSON) == 0 {
		return prepared{}, &stix.ValidationError{ID: obj.ID, Type: obj.Type, Property: fmt.Sprintf("objects[%d]", i), Reason: "no JSON bytes"}
	}
	c := obj.Common
	if c.ID == "" || c.Type == "" {
		if err := json.Unmarshal(obj.JSON, &c); err != nil {
			return prepared{}, &stix.ValidationError{Property: fmt.Sprintf("objects[%d]", i), Reason: "not a JSON object: " + err.Error()}
		}
	}
	if c.ID == "" {
		return prepared{}, &stix.ValidationError{Type: c.Type, Property: fmt.Sprintf("objects[%d].id", i), Reason: "required"}
	}
	if c.Type == "" {
		return prepared{}, &stix.ValidationError{ID: c.ID, Property: fmt.Sprintf("objects[%d].type", i), Reason: "required"}
	}
	p := prepared{id: c.ID, typ: c.Type, spec: c.SpecVersion, json: obj.JSON}
	switch {
	case c.Modified != nil:
		putVer(p.ver[:], c.Modified.Time)
	case c.Created != nil:
		putVer(p.ver[:], c.Created.Time)
	default:
		p.sco = true
		canon, err := jcs.Transform(obj.JSON)
		if err != nil {
			return prepared{}, &stix.ValidationError{ID: c.ID, Type: c.Type, Property: fmt.Sprintf("objects[%d]", i), Reason: "cannot canonicalise: " + err.Error()}
		}
		h := sha256.Sum256(canon)
		p.hash = h[:]
	}
	if p.spec == "" {
		// STIX 2.1 §3.2: an absent spec_version means 2.0, except for SCOs (2.1).
		if p.sco {
			p.spec = "2.1"
		} else {
			p.spec = "2.0"
		}
	}
	return p, nil
}

// PutObjects stores objs in a stored collection in one transaction: all or none,
// durable when it returns (unless Options.NoSync). date_added values are
// max(now, previous+1 µs), strictly increasing within the collection.
func (s *Store) PutObjects(ctx context.Context, collection string, objs []stix.RawObject) (*storage.WriteResult, error) {
	ps := make([]prepared, len(objs))
	for i := range objs {
		var err error
		if ps[i], err = prepare(i, &objs[i]); err != nil {
			return nil, err
		}
	}
	res := &storage.WriteResult{}
	err := s.write(ctx, func(tx *bbolt.Tx, ws *writeState) error {
		*res = storage.WriteResult{}
		c, err := openColl(tx, collection)
		if err != nil {
			return err
		}
		if c.info.kind != storage.KindStored {
			return fmt.Errorf("collection %q is curated, write members instead: %w", collection, storage.ErrKind)
		}
		now := uint64(s.opt.Now().UnixMicro())
		var es []entry
		for i := range ps {
			p := &ps[i]
			es = ws.writeVersions(c, es[:0], p.id)
			exists := false
			for _, e := range es {
				if p.sco && e.flags&flagSCO != 0 && bytes.Equal(e.hash, p.hash) || !p.sco && bytes.Equal(e.ver, p.ver[:]) {
					exists = true
					break
				}
			}
			if exists {
				res.Existing++
				continue
			}
			da := c.nextDA(now)
			ver := p.ver[:]
			var flags byte
			if p.sco {
				flags |= flagSCO
				putVer(p.ver[:], daTime(da))
			}
			// bbolt keeps the value until commit: one buffer per record.
			rec := appendRecord(make([]byte, 0, 100+len(p.id)+len(p.json)), flags, ver, p.id, p.typ, p.spec, p.hash)
			rec = append(rec, p.json...)
			if err := c.insert(ws, da, p.id, p.typ, p.spec, ver, flags, p.hash, rec, es); err != nil {
				return err
			}
			res.Added++
			res.AddedIDs = append(res.AddedIDs, p.id)
		}
		return c.saveInfo()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// nextDA assigns the next date_added: max(now, last assigned + 1 µs).
func (c *coll) nextDA(now uint64) uint64 {
	da := c.info.seq + 1
	if now > da {
		da = now
	}
	c.info.seq = da
	return da
}

// write runs fn in a write transaction with a writeState for the index tails,
// publishes the tail changes around the commit and merges tails that are full.
func (s *Store) write(ctx context.Context, fn func(tx *bbolt.Tx, ws *writeState) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	ws := newWriteState(s)
	published := false
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if err := fn(tx, ws); err != nil {
			return err
		}
		ws.publish(false)
		published = true
		return nil
	})
	if err != nil {
		if published {
			ws.undo()
		}
		return err
	}
	ws.publish(true)
	// Options.IndexTail bounds the tails of all collections together: past it,
	// merge the largest. A failed merge leaves the tail in memory, correct and
	// retried by the next write: the write itself has committed.
	total, largest := 0, ""
	for name, t := range s.tails {
		total += t.n
		if largest == "" || t.n > s.tails[largest].n {
			largest = name
		}
	}
	if total >= s.opt.IndexTail {
		_ = s.mergeTail(largest)
	}
	return nil
}

// insert writes a new version (record rec, whose first byte holds the ref/SCO
// flags) at date_added da, indexes it, and refreshes the flags of the id's versions.
func (c *coll) insert(ws *writeState, da uint64, id, typ, spec string, ver []byte, flags byte, hash, rec []byte, existing []entry) error {
	key := append(idPrefix(id), ver...)
	es := append(existing, entry{key: key, ver: key[len(key)-verLen:], flags: flags, da: da, hash: hash, spec: []byte(spec)})
	nf := computeFlags(es)
	newFlags := nf[len(es)-1]
	rec[0] = newFlags
	dk := daKey(da)
	if err := c.log.Put(dk, rec); err != nil {
		return err
	}
	ne := es[len(es)-1]
	ne.flags = newFlags
	ws.setTailList(c, id, append(slices.Clone(ws.tailList(c, id)), ne))
	if err := c.types.Put(typeKey(typ, da), nil); err != nil {
		return err
	}
	if err := c.updateFlags(ws, id, es[:len(es)-1], nf[:len(es)-1]); err != nil {
		return err
	}
	c.info.count++
	if c.info.first == 0 {
		c.info.first = da
	}
	if da > c.info.last {
		c.info.last = da
	}
	return nil
}

func typeKey(typ string, da uint64) []byte {
	b := make([]byte, 0, len(typ)+9)
	b = append(b, typ...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, da)
}

// specLess orders spec_version strings ("2.0" < "2.1" < "2.10").
func specLess(a, b []byte) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}

// computeFlags returns each entry's flags: flagSpecMax on the versions of the
// highest spec_version, flagLast/flagFirst on the latest/earliest of those.
func computeFlags(es []entry) []byte {
	out := make([]byte, len(es))
	if len(es) == 0 {
		return out
	}
	maxSpec := es[0].spec
	for _, e := range es[1:] {
		if specLess(maxSpec, e.spec) {
			maxSpec = e.spec
		}
	}
	last, first := -1, -1
	for i, e := range es {
		out[i] = e.flags &^ (flagLast | flagFirst | flagSpecMax)
		if !bytes.Equal(e.spec, maxSpec) {
			continue
		}
		out[i] |= flagSpecMax
		if last < 0 || bytes.Compare(e.ver, es[last].ver) > 0 {
			last = i
		}
		if first < 0 || bytes.Compare(e.ver, es[first].ver) < 0 {
			first = i
		}
	}
	out[last] |= flagLast
	out[first] |= flagFirst
	return out
}

// updateFlags rewrites the index entries and log records whose flags changed.
func (c *coll) updateFlags(ws *writeState, id string, es []entry, nf []byte) error {
	for i, e := range es {
		if e.flags == nf[i] {
			continue
		}
		if e.idx >= 0 {
			if err := c.idx(e.idx).Put(e.key, appendEntry(nil, nf[i], e.da, e.hash, string(e.spec))); err != nil {
				return err
			}
		} else {
			l := slices.Clone(ws.tailList(c, id))
			for j := range l {
				if bytes.Equal(l[j].key, e.key) {
					l[j].flags = nf[i]
				}
			}
			ws.setTailList(c, id, l)
		}
		dk := daKey(e.da)
		v := c.log.Get(dk)
		if len(v) == 0 {
			return fmt.Errorf("collection %q: index entry without record: %w", c.name, errCorrupt)
		}
		nv := bytes.Clone(v)
		nv[0] = nf[i]
		if err := c.log.Put(dk, nv); err != nil {
			return err
		}
	}
	return nil
}

// deleteVersions deletes the selected entries of one id and refreshes the rest.
func (c *coll) deleteVersions(ws *writeState, id string, es []entry, sel []bool) (int, error) {
	n := 0
	var keep []entry
	var h header
	for i, e := range es {
		if !sel[i] {
			keep = append(keep, e)
			continue
		}
		dk := daKey(e.da)
		if v := c.log.Get(dk); v != nil {
			if err := decodeHeader(v, &h); err == nil {
				if err := c.types.Delete(typeKey(string(h.typ), e.da)); err != nil {
					return n, err
				}
			}
			if err := c.log.Delete(dk); err != nil {
				return n, err
			}
		}
		if e.idx >= 0 {
			if err := c.idx(e.idx).Delete(e.key); err != nil {
				return n, err
			}
		} else {
			l := slices.DeleteFunc(slices.Clone(ws.tailList(c, id)), func(x entry) bool { return bytes.Equal(x.key, e.key) })
			ws.setTailList(c, id, l)
		}
		n++
		if c.info.count > 0 {
			c.info.count--
		}
		if e.da == c.info.first || e.da == c.info.last {
			c.info.first, c.info.last = 0, 0 // recomputed below
		}
	}
	if err := c.updateFlags(ws, id, keep, computeFlags(keep)); err != nil {
		return n, err
	}
	if n > 0 && c.info.first == 0 {
		c.info.first, c.info.last = c.bounds()
	}
	return n, c.saveInfo()
}

// bounds returns the first and last date_added in the log (0, 0 when empty).
func (c *coll) bounds() (uint64, uint64) {
	cur := c.log.Cursor()
	k, _ := cur.First()
	if k == nil {
		return 0, 0
	}
	first := be64(k)
	k, _ = cur.Last()
	return first, be64(k)
}

func be64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// DeleteObject deletes the versions of id matching f.Versions and f.SpecVersions
// (default: every version). Returns storage.ErrNotFound when no version of id exists.
func (s *Store) DeleteObject(ctx context.Context, collection, id string, f storage.Filter) (int, error) {
	if len(f.Versions) == 0 {
		f.Versions = []string{storage.VersionAll}
	}
	q, err := s.newQuery(f, false)
	if err != nil {
		return 0, err
	}
	q.defaultView = false
	var n int
	err = s.write(ctx, func(tx *bbolt.Tx, ws *writeState) error {
		c, err := openColl(tx, collection)
		if err != nil {
			return err
		}
		es := ws.writeVersions(c, nil, id)
		if len(es) == 0 {
			return fmt.Errorf("object %q in collection %q: %w", id, collection, storage.ErrNotFound)
		}
		n, err = c.deleteVersions(ws, id, es, q.selectEntries(es))
		return err
	})
	return n, err
}

// AddMembers appends membership records to a curated collection, each pointing
// at the stored bytes of ref in its stored collection. Returns storage.ErrNotFound
// when the collection or a referenced version does not exist (and writes nothing).
func (s *Store) AddMembers(ctx context.Context, collection string, refs []storage.VersionRef) (*storage.WriteResult, error) {
	res := &storage.WriteResult{}
	err := s.write(ctx, func(tx *bbolt.Tx, ws *writeState) error {
		*res = storage.WriteResult{}
		c, err := openColl(tx, collection)
		if err != nil {
			return err
		}
		if c.info.kind != storage.KindCurated {
			return fmt.Errorf("collection %q is stored, not curated: %w", collection, storage.ErrKind)
		}
		sources := map[string]*coll{}
		now := uint64(s.opt.Now().UnixMicro())
		var es []entry
		var h header
		for i, ref := range refs {
			src := sources[ref.Collection]
			if src == nil {
				if src, err = openColl(tx, ref.Collection); err != nil {
					return fmt.Errorf("refs[%d]: %w", i, err)
				}
				if src.info.kind != storage.KindStored {
					return fmt.Errorf("refs[%d]: collection %q is curated: %w", i, ref.Collection, storage.ErrKind)
				}
				sources[ref.Collection] = src
			}
			key := appendVer(idPrefix(ref.ID), ref.Version)
			var se entry
			found := false
			for _, e := range ws.writeVersions(src, es[:0], ref.ID) {
				if bytes.Equal(e.key, key) {
					se, found = e, true
					break
				}
			}
			if !found {
				return fmt.Errorf("refs[%d]: %s version %s in collection %q: %w", i, ref.ID,
					ref.Version.UTC().Format(timeLayout), ref.Collection, storage.ErrNotFound)
			}
			lv := src.log.Get(daKey(se.da))
			if lv == nil || decodeHeader(lv, &h) != nil {
				return fmt.Errorf("refs[%d]: %s in collection %q: %w", i, ref.ID, ref.Collection, errCorrupt)
			}
			es = ws.writeVersions(c, es[:0], ref.ID)
			exists := false
			for _, e := range es {
				if bytes.Equal(e.ver, se.ver) {
					exists = true
					break
				}
			}
			if exists {
				res.Existing++
				continue
			}
			da := c.nextDA(now)
			flags := flagRef | (h.flags & flagSCO)
			ver := bytes.Clone(se.ver)
			rec := appendRecord(nil, flags, ver, ref.ID, string(h.typ), string(h.spec), se.hash)
			rec = binary.AppendUvarint(rec, uint64(len(ref.Collection)))
			rec = append(rec, ref.Collection...)
			rec = binary.BigEndian.AppendUint64(rec, se.da)
			if err := c.insert(ws, da, ref.ID, string(h.typ), string(h.spec), ver, flags, bytes.Clone(se.hash), rec, es); err != nil {
				return err
			}
			res.Added++
			res.AddedIDs = append(res.AddedIDs, ref.ID)
		}
		return c.saveInfo()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// RemoveMembers deletes every membership record of each id and returns how many.
func (s *Store) RemoveMembers(ctx context.Context, collection string, ids []string) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *bbolt.Tx, ws *writeState) error {
		n = 0
		c, err := openColl(tx, collection)
		if err != nil {
			return err
		}
		if c.info.kind != storage.KindCurated {
			return fmt.Errorf("collection %q is stored, not curated: %w", collection, storage.ErrKind)
		}
		for _, id := range ids {
			es := ws.writeVersions(c, nil, id)
			sel := make([]bool, len(es))
			for i := range sel {
				sel[i] = true
			}
			k, err := c.deleteVersions(ws, id, es, sel)
			n += k
			if err != nil {
				return err
			}
		}
		return c.saveInfo()
	})
	return n, err
}

const timeLayout = "2006-01-02T15:04:05.000000Z"
