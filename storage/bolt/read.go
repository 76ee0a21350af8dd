package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// query is a parsed storage.Filter.
type query struct {
	limit    int
	start    uint64 // only date_added > start
	ids      []string
	types    [][]byte
	specs    [][]byte
	all      bool
	last     bool
	first    bool
	times    [][]byte // encoded versions
	withJSON bool
	// defaultView restricts to each id's highest spec_version when specs is empty
	// (TAXII 2.1 §3.4.1 match[spec_version]); deletes see every version.
	defaultView bool
}

func (s *Store) newQuery(f storage.Filter, withJSON bool) (*query, error) {
	q := &query{limit: f.Limit, withJSON: withJSON, defaultView: true}
	if q.limit <= 0 {
		q.limit = s.opt.DefaultLimit
	}
	if !f.AddedAfter.IsZero() && f.AddedAfter.UnixMicro() > 0 {
		q.start = uint64(f.AddedAfter.UnixMicro())
	}
	if f.Next != "" {
		pos, ok := decodeCursor(f.Next)
		if !ok {
			return nil, fmt.Errorf("next %q: %w", f.Next, storage.ErrInvalidCursor)
		}
		q.start = max(q.start, pos)
	}
	q.ids = uniq(f.IDs)
	for _, t := range uniq(f.Types) {
		q.types = append(q.types, []byte(t))
	}
	for _, sv := range uniq(f.SpecVersions) {
		q.specs = append(q.specs, []byte(sv))
	}
	versions := f.Versions
	if len(versions) == 0 {
		versions = []string{storage.VersionLast}
	}
	for _, v := range versions {
		switch v {
		case storage.VersionAll:
			q.all = true
		case storage.VersionLast:
			q.last = true
		case storage.VersionFirst:
			q.first = true
		default:
			ts, err := stix.ParseTimestamp(v)
			if err != nil {
				return nil, fmt.Errorf("match[version] %q: %w", v, storage.ErrInvalidFilter)
			}
			q.times = append(q.times, appendVer(nil, ts.Time))
		}
	}
	if q.all && len(versions) > 1 {
		return nil, fmt.Errorf("match[version]: %q cannot be combined with other values: %w", storage.VersionAll, storage.ErrInvalidFilter)
	}
	return q, nil
}

func uniq(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// selectEntries applies the spec_version and version parts of q to the versions
// of one id.
func (q *query) selectEntries(es []entry) []bool {
	sel := make([]bool, len(es))
	inView := func(e *entry) bool {
		if len(q.specs) > 0 {
			return containsBytes(q.specs, e.spec)
		}
		return !q.defaultView || e.flags&flagSpecMax != 0
	}
	last, first := -1, -1
	for i := range es {
		if !inView(&es[i]) {
			continue
		}
		if last < 0 || bytes.Compare(es[i].ver, es[last].ver) > 0 {
			last = i
		}
		if first < 0 || bytes.Compare(es[i].ver, es[first].ver) < 0 {
			first = i
		}
	}
	for i := range es {
		if !inView(&es[i]) {
			continue
		}
		sel[i] = q.all || q.last && i == last || q.first && i == first || containsBytes(q.times, es[i].ver)
	}
	return sel
}

// seqGetter reads keys in ascending order from one bucket, stepping with Next
// when the wanted key is close to the previous one instead of searching from the
// root: pages of a curated collection materialised in source order, and pages
// through the type index, read their records almost sequentially.
type seqGetter struct {
	cur *bbolt.Cursor
	k   []byte
}

func (g *seqGetter) get(key []byte) []byte {
	if g.k != nil && bytes.Compare(key, g.k) > 0 {
		// Two steps at most: a Next that crosses into a cold leaf costs more than a
		// Seek through the (cached) branch pages.
		for i := 0; i < 2; i++ {
			k, v := g.cur.Next()
			g.k = k
			if k == nil {
				break
			}
			switch c := bytes.Compare(k, key); {
			case c == 0:
				return v
			case c > 0:
				return nil // stepped past: key absent
			}
		}
	}
	k, v := g.cur.Seek(key)
	g.k = k
	if k == nil || !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// pager builds one page inside a read transaction: records (QueryObjects and
// the other Record queries), or calls to emit (ScanObjects).
type pager struct {
	s       *Store
	q       *query
	c       *coll
	tx      *bbolt.Tx
	recs    []storage.Record
	offs    []int // start of each record's bytes in arena
	arena   []byte
	idOffs  []int           // end of each record's id in ids
	ids     strings.Builder // the records' ids, back to back
	n       int             // records on the page
	pos     uint64          // last date_added returned or examined
	scanned int
	more    bool
	// emit, when set, receives each record instead of recs; false ends the page.
	emit    func(dateAdded time.Time, json []byte) bool
	sources map[string]*seqGetter
	typ     string // the last type and spec_version interned
	spec    string
	h       header
	es      []entry
}

// intern returns last when b spells it, else a new string stored in last: a
// page mostly holds one type and one spec_version, so this allocates a few
// strings a page instead of two a record.
func intern(last *string, b []byte) string {
	if *last != string(b) { // no allocation: the conversion is only compared
		*last = string(b)
	}
	return *last
}

// body returns the JSON of the record in p.h, following a membership pointer.
// It returns nil when the referenced version no longer exists.
func (p *pager) body() []byte {
	if p.h.flags&flagRef == 0 {
		return p.h.body
	}
	src, ok := p.sources[string(p.h.src)]
	if !ok {
		if p.sources == nil {
			p.sources = map[string]*seqGetter{}
		}
		if b := p.tx.Bucket(bktColls).Bucket(p.h.src); b != nil {
			if l := b.Bucket(subLog); l != nil {
				src = &seqGetter{cur: l.Cursor()}
			}
		}
		p.sources[string(p.h.src)] = src
	}
	if src == nil {
		return nil
	}
	v := src.get(p.h.srcDA)
	var sh header
	if v == nil || decodeHeader(v, &sh) != nil || sh.flags&flagRef != 0 {
		return nil
	}
	return sh.body
}

// match reports whether the record in p.h at da passes q.
func (p *pager) match(da uint64) bool {
	h, q := &p.h, p.q
	if len(q.types) > 0 && !containsBytes(q.types, h.typ) {
		return false
	}
	if len(q.specs) > 0 {
		if !containsBytes(q.specs, h.spec) {
			return false
		}
	} else if h.flags&flagSpecMax == 0 {
		return false
	}
	if q.all || containsBytes(q.times, h.ver) {
		return true
	}
	if !q.last && !q.first {
		return false
	}
	if len(q.specs) == 0 {
		return q.last && h.flags&flagLast != 0 || q.first && h.flags&flagFirst != 0
	}
	// last/first within an explicit spec_version list: look at the id's versions.
	p.es = p.s.readVersions(p.c, p.es[:0], string(h.id))
	sel := q.selectEntries(p.es)
	for i, e := range p.es {
		if e.da == da {
			return sel[i]
		}
	}
	return false
}

// visit examines the record v at da; it returns true when the page is done.
func (p *pager) visit(da uint64, v []byte) (bool, error) {
	p.scanned++
	if err := decodeHeader(v, &p.h); err != nil {
		return false, fmt.Errorf("collection %q record %d: %w", p.c.name, da, err)
	}
	if p.match(da) {
		body := p.body()
		if body != nil || p.h.flags&flagRef == 0 {
			if p.n == p.q.limit {
				p.more = true
				return true, nil
			}
			if !p.add(da, body) {
				p.more = true
				return true, nil
			}
		}
	}
	if p.scanned >= p.s.opt.ScanBudget {
		p.more = true
		if p.n < p.q.limit {
			p.pos = da
		}
		return true, nil
	}
	return false, nil
}

// add puts the record in p.h at da on the page; it returns false when the
// page must end after it (emit said so).
func (p *pager) add(da uint64, body []byte) bool {
	p.n++
	p.pos = da
	if p.emit != nil {
		return p.emit(daTime(da), body)
	}
	h := &p.h
	p.recs = append(p.recs, storage.Record{
		Type:        intern(&p.typ, h.typ),
		SpecVersion: intern(&p.spec, h.spec),
		Version:     getVer(h.ver),
		DateAdded:   daTime(da),
	})
	// The ids share one string and the bytes one buffer, cut in page().
	p.ids.Write(h.id)
	p.idOffs = append(p.idOffs, p.ids.Len())
	if p.q.withJSON {
		p.offs = append(p.offs, len(p.arena))
		p.arena = append(p.arena, body...)
	}
	return true
}

func (p *pager) page() *storage.Page {
	pg := &storage.Page{Records: p.recs, More: p.more}
	ids := p.ids.String() // no copy
	for i := range p.recs {
		start := 0
		if i > 0 {
			start = p.idOffs[i-1]
		}
		p.recs[i].ID = ids[start:p.idOffs[i]]
	}
	if p.q.withJSON {
		for i := range p.recs {
			end := len(p.arena)
			if i+1 < len(p.offs) {
				end = p.offs[i+1]
			}
			p.recs[i].JSON = p.arena[p.offs[i]:end:end]
		}
	}
	if p.more {
		pg.Next = encodeCursor(p.pos)
	}
	return pg
}

// run fills the page from the cheapest source: the ids index for match[id], the
// type index for match[type], the date_added log otherwise.
func (p *pager) run() error {
	switch {
	case len(p.q.ids) > 0:
		return p.runIDs()
	case len(p.q.types) > 0:
		return p.runTypes()
	default:
		return p.runLog()
	}
}

// prefetchMax caps the read-ahead of one page (see prefetch).
const prefetchMax = 8 << 20

func (p *pager) runLog() error {
	cur := p.c.log.Cursor()
	for k, v := cur.Seek(daKey(p.q.start + 1)); k != nil; k, v = cur.Next() {
		if p.scanned == 0 {
			// The page's records follow this one in the file, mostly in order
			// (log pages are allocated as the log grows): about limit records
			// of this one's size, with a quarter more for keys and page headers.
			prefetch(v, min(prefetchMax, p.q.limit*(len(v)+len(v)/4)))
		}
		if done, err := p.visit(be64(k), v); done || err != nil {
			return err
		}
	}
	return nil
}

func (p *pager) runIDs() error {
	var das []uint64
	for _, id := range p.q.ids {
		p.es = p.s.readVersions(p.c, p.es[:0], id)
		sel := p.q.selectEntries(p.es)
		for i, e := range p.es {
			if sel[i] && e.da > p.q.start {
				das = append(das, e.da)
			}
		}
	}
	slices.Sort(das)
	// The selection above is exact: let match() accept what it chose.
	q := *p.q
	q.all, q.specs, q.times = true, nil, nil
	saved := p.q
	p.q = &q
	defer func() { p.q = saved }()
	for _, da := range das {
		v := p.c.log.Get(daKey(da))
		if v == nil {
			continue
		}
		if err := decodeHeader(v, &p.h); err != nil {
			return err
		}
		p.h.flags |= flagSpecMax // selection already applied the spec rule
		if err := p.visitDecoded(da); err != nil || p.more {
			return err
		}
	}
	return nil
}

// visitDecoded is visit for a header already in p.h.
func (p *pager) visitDecoded(da uint64) error {
	p.scanned++
	if !p.match(da) {
		return nil
	}
	body := p.body()
	if body == nil && p.h.flags&flagRef != 0 {
		return nil
	}
	if p.n == p.q.limit || !p.add(da, body) {
		p.more = true
	}
	return nil
}

func (p *pager) runTypes() error {
	type head struct {
		cur    *bbolt.Cursor
		prefix []byte
		da     uint64
	}
	var heads []*head
	logs := &seqGetter{cur: p.c.log.Cursor()}
	for _, t := range p.q.types {
		prefix := append(bytes.Clone(t), 0)
		h := &head{cur: p.c.types.Cursor(), prefix: prefix}
		k, _ := h.cur.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), p.q.start+1))
		if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			h.da = be64(k[len(prefix):])
			heads = append(heads, h)
		}
	}
	for len(heads) > 0 {
		mi := 0
		for i, h := range heads {
			if h.da < heads[mi].da {
				mi = i
			}
		}
		h := heads[mi]
		da := h.da
		if v := logs.get(daKey(da)); v != nil {
			if done, err := p.visit(da, v); done || err != nil {
				return err
			}
		}
		k, _ := h.cur.Next()
		if k != nil && bytes.HasPrefix(k, h.prefix) && len(k) == len(h.prefix)+8 {
			h.da = be64(k[len(h.prefix):])
		} else {
			heads = slices.Delete(heads, mi, mi+1)
		}
	}
	return nil
}

func (s *Store) query(ctx context.Context, collection string, f storage.Filter, withJSON bool, id string) (*storage.Page, error) {
	return s.run(ctx, collection, f, withJSON, id, nil)
}

// run reads one page: records, or calls to emit when it is set.
func (s *Store) run(ctx context.Context, collection string, f storage.Filter, withJSON bool, id string, emit func(time.Time, []byte) bool) (*storage.Page, error) {
	q, err := s.newQuery(f, withJSON)
	if err != nil {
		return nil, err
	}
	if id != "" {
		q.ids, q.types = []string{id}, nil
	}
	var pg *storage.Page
	if len(q.ids) > 0 || len(q.specs) > 0 {
		// These read the id index, part of which is the in-memory tail.
		s.tmu.RLock()
		defer s.tmu.RUnlock()
	}
	err = s.view(ctx, func(tx *bbolt.Tx) error {
		c, err := openColl(tx, collection)
		if err != nil {
			return err
		}
		if id != "" && len(s.readVersions(c, nil, id)) == 0 {
			return fmt.Errorf("object %q in collection %q: %w", id, collection, storage.ErrNotFound)
		}
		p := &pager{s: s, q: q, c: c, tx: tx, emit: emit}
		if emit == nil {
			n := min(q.limit, 1000)
			if withJSON {
				p.arena = make([]byte, 0, n*1024)
			}
			p.recs = make([]storage.Record, 0, n)
			p.idOffs = make([]int, 0, n)
			p.ids.Grow(n * 48)
		}
		if err := p.run(); err != nil {
			return err
		}
		pg = p.page()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pg, nil
}

// QueryObjects returns the records of collection matching f, oldest date_added
// first, with their stored bytes. Implements TAXII 2.1 §3.4 filtering: added_after
// (strictly greater), match[id], match[type], match[version] (default last: the
// latest version in the collection, returned only if it was added after
// added_after), match[spec_version] (default: each object's highest). Returns
// storage.ErrNotFound, storage.ErrInvalidCursor, storage.ErrInvalidFilter.
func (s *Store) QueryObjects(ctx context.Context, collection string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, true, "")
}

// ScanObjects is QueryObjects for a caller that needs only each record's
// date_added and bytes, such as a TAXII server splicing them into an envelope:
// fn gets them in page order inside the read transaction, and no Record is
// built. json aliases the memory-mapped file: it is valid only during the call
// and must not be modified. fn returns false to end the page after that record
// (the page then has More set, and Next continues after it). The returned page
// has More and Next and no Records. Errors are those of QueryObjects.
func (s *Store) ScanObjects(ctx context.Context, collection string, f storage.Filter, fn func(dateAdded time.Time, json []byte) bool) (*storage.Page, error) {
	return s.run(ctx, collection, f, true, "", fn)
}

// QueryManifest is QueryObjects without the bytes (TAXII 2.1 §5.3).
func (s *Store) QueryManifest(ctx context.Context, collection string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, false, "")
}

// GetObject returns the versions of id matching f (default last). Returns
// storage.ErrNotFound when no version of id exists, an empty page when none match.
func (s *Store) GetObject(ctx context.Context, collection, id string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, true, id)
}

// ListVersions returns the versions of id, oldest date_added first, without bytes
// (TAXII 2.1 §5.8; Versions defaults to all). Returns storage.ErrNotFound.
func (s *Store) ListVersions(ctx context.Context, collection, id string, f storage.Filter) (*storage.Page, error) {
	if len(f.Versions) == 0 {
		f.Versions = []string{storage.VersionAll}
	}
	return s.query(ctx, collection, f, false, id)
}
