package mongo

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// DefaultLimit is the page size when Filter.Limit is 0.
const DefaultLimit = 1000

// maxLimit caps Filter.Limit (the TAXII layer enforces its own, smaller maximum).
const maxLimit = 100000

// versionFilter is a parsed match[version] (TAXII 2.1 §3.4.1).
type versionFilter struct {
	all, first, last bool
	times            map[int64]bool // µs
}

// parseVersions parses words and timestamps; an empty list means def.
func parseVersions(vs []string, def string) (versionFilter, error) {
	if len(vs) == 0 {
		vs = []string{def}
	}
	var vf versionFilter
	for _, v := range vs {
		switch v {
		case storage.VersionAll:
			if len(vs) > 1 {
				return vf, fmt.Errorf("mongo: match[version] \"all\" combined with other values: %w", storage.ErrInvalidFilter)
			}
			vf.all = true
		case storage.VersionFirst:
			vf.first = true
		case storage.VersionLast:
			vf.last = true
		default:
			ts, err := stix.ParseTimestamp(v)
			if err != nil {
				return vf, fmt.Errorf("mongo: match[version] %q: %w", v, storage.ErrInvalidFilter)
			}
			if vf.times == nil {
				vf.times = map[int64]bool{}
			}
			vf.times[micros(ts.Time)] = true
		}
	}
	return vf, nil
}

// needsRange says whether matching needs each id's first and last version.
func (vf versionFilter) needsRange() bool { return !vf.all && (vf.first || vf.last) }

// match reports whether version v of an object whose versions span lo..hi matches.
func (vf versionFilter) match(v, lo, hi int64) bool {
	return vf.all || (vf.first && v == lo) || (vf.last && v == hi) || vf.times[v]
}

// Cursors: "1." then the date_added (µs, base 36) of the last record examined.
const cursorPrefix = "1."

func encodeCursor(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(pos, 36)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, fmt.Errorf("mongo: next %q: %w", s, storage.ErrInvalidCursor)
	}
	pos, err := strconv.ParseInt(string(b[len(cursorPrefix):]), 36, 64)
	if err != nil {
		return 0, fmt.Errorf("mongo: next %q: %w", s, storage.ErrInvalidCursor)
	}
	return pos, nil
}

// QueryObjects returns the records of collection that match f (TAXII 2.1 §5.4).
func (s *Store) QueryObjects(ctx context.Context, collection string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, nil, storage.VersionLast, true)
}

// QueryManifest is QueryObjects without the bytes (TAXII 2.1 §5.6).
func (s *Store) QueryManifest(ctx context.Context, collection string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, nil, storage.VersionLast, false)
}

// GetObject returns the versions of id that match f (TAXII 2.1 §5.7).
func (s *Store) GetObject(ctx context.Context, collection, id string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, &id, storage.VersionLast, true)
}

// ListVersions returns the versions of id, without bytes (TAXII 2.1 §5.8).
func (s *Store) ListVersions(ctx context.Context, collection, id string, f storage.Filter) (*storage.Page, error) {
	return s.query(ctx, collection, f, &id, storage.VersionAll, false)
}

// query is every read: one page of records in date_added order, examined in index
// order and filtered here by spec_version and version (the first/last of each id
// is read with one more indexed query per round). It examines at most
// Options.ScanBudget records.
func (s *Store) query(ctx context.Context, collection string, f storage.Filter, one *string, defVersion string, withJSON bool) (*storage.Page, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	vf, err := parseVersions(f.Versions, defVersion)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, maxLimit)
	pos := int64(math.MinInt64)
	if !f.AddedAfter.IsZero() {
		pos = micros(f.AddedAfter)
	}
	if f.Next != "" {
		c, err := decodeCursor(f.Next)
		if err != nil {
			return nil, err
		}
		pos = max(pos, c)
	}
	d, err := s.liveCollDoc(ctx, collection)
	if err != nil {
		return nil, err
	}
	w := d.watermark()
	curated := d.Kind == storage.KindCurated

	ids := f.IDs
	if one != nil {
		// A single-object request (TAXII §5.7, §5.8) has no match[id] or match[type].
		ids = []string{*one}
		f.IDs, f.Types = nil, nil
	}
	page := &storage.Page{}
	{
		recs, more, last, err := s.scan(ctx, d, ids, f, vf, pos, w, limit, withJSON && !curated)
		if err != nil {
			return nil, err
		}
		if withJSON && curated {
			if recs, err = s.memberBytes(ctx, recs); err != nil {
				return nil, err
			}
		}
		page.Records = make([]storage.Record, 0, len(recs))
		for i := range recs {
			page.Records = append(page.Records, recs[i].record(withJSON))
		}
		if more {
			page.More = true
			page.Next = encodeCursor(last)
		}
	}
	if one != nil && len(page.Records) == 0 && !page.More {
		q, err := shapeVersions.filter(cond{"c", collection}, cond{"id", *one})
		if err != nil {
			return nil, err
		}
		err = s.db.Collection(collObjects).FindOne(ctx, q, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if notFound(err) {
			return nil, fmt.Errorf("mongo: object %s in collection %q: %w", *one, collection, storage.ErrNotFound)
		}
		if err != nil {
			return nil, s.wrap(ctx, "find object", err)
		}
	}
	return page, nil
}

func (d *objectDoc) record(withJSON bool) storage.Record {
	r := storage.Record{ID: d.ID, Type: d.T, SpecVersion: d.SV, Version: fromMicros(d.V), DateAdded: fromMicros(d.DA)}
	if withJSON {
		r.JSON = d.J
	}
	return r
}

// scan examines records of collection d after pos up to the watermark w, in
// date_added order, and returns up to limit that match, whether more may follow,
// and the date_added of the last record examined (the position to continue from).
func (s *Store) scan(ctx context.Context, d *collDoc, ids []string, f storage.Filter, vf versionFilter,
	pos, w int64, limit int, withJSON bool) ([]objectDoc, bool, int64, error) {
	budget := max(s.opt.ScanBudget, limit+1)
	coll := s.db.Collection(collObjects)
	var out []objectDoc
	scanned := 0
	for {
		want := min(limit+1-len(out), budget-scanned)
		if want <= 0 {
			return out, true, pos, nil
		}
		if pos >= w {
			return out, false, pos, nil
		}
		da := bson.D{{Key: "$lte", Value: w}}
		if pos != math.MinInt64 {
			da = bson.D{{Key: "$gt", Value: pos}, {Key: "$lte", Value: w}}
		}
		shape := shapePage
		conds := []cond{{"c", d.ID}}
		switch {
		case len(ids) > 0:
			shape = shapePageID
			conds = append(conds, cond{"id", inOrEq(ids)})
			if len(f.Types) > 0 {
				conds = append(conds, cond{"t", inOrEq(f.Types)})
			}
		case len(f.Types) > 0:
			shape = shapePageType
			conds = append(conds, cond{"t", inOrEq(f.Types)})
		}
		conds = append(conds, cond{"da", da})
		filter, err := shape.filter(conds...)
		if err != nil {
			return nil, false, 0, err
		}
		// The whole page in the first reply (the default first batch is 101 documents).
		fo := options.Find().SetSort(shape.sort(true)).SetLimit(int64(want)).SetBatchSize(int32(min(want, 100000)))
		if !withJSON {
			fo.SetProjection(projManifest)
		}
		cur, err := coll.Find(ctx, filter, fo)
		if err != nil {
			return nil, false, 0, s.wrap(ctx, shape.Name, err)
		}
		var docs []objectDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, false, 0, s.wrap(ctx, shape.Name, err)
		}
		scanned += len(docs)
		var view map[string]*idView
		if len(f.SpecVersions) == 0 || vf.needsRange() {
			ids := make([]string, 0, len(docs))
			for i := range docs {
				ids = append(ids, docs[i].ID)
			}
			if view, err = s.versionViews(ctx, d.ID, uniq(ids), w, f.SpecVersions); err != nil {
				return nil, false, 0, err
			}
		}
		for i := range docs {
			doc := &docs[i]
			var keep bool
			if len(f.SpecVersions) > 0 {
				keep = contains(f.SpecVersions, doc.SV)
			} else {
				keep = view[doc.ID] != nil && doc.SV == view[doc.ID].maxSpec
			}
			if keep {
				lo, hi := doc.V, doc.V
				if v := view[doc.ID]; v != nil && v.seen {
					lo, hi = v.lo, v.hi
				}
				keep = vf.match(doc.V, lo, hi)
			}
			if keep {
				if len(out) == limit {
					return out, true, pos, nil
				}
				out = append(out, *doc)
			}
			pos = doc.DA
		}
		if len(docs) < want {
			return out, false, pos, nil
		}
	}
}

// idView is what version filtering needs to know about one id: its highest
// spec_version, and its first and last version among the versions in view (those
// of the requested spec_versions, else those of the highest spec_version).
type idView struct {
	maxSpec string
	lo, hi  int64
	seen    bool
}

// versionViews reads the versions of ids in collection c visible under watermark w
// (one query on the (c, id, da) index) and returns each id's view.
func (s *Store) versionViews(ctx context.Context, c string, ids []string, w int64, specs []string) (map[string]*idView, error) {
	f, err := shapeVersions.filter(cond{"c", c}, cond{"id", inOrEq(ids)}, cond{"da", bson.D{{Key: "$lte", Value: w}}})
	if err != nil {
		return nil, err
	}
	var vs []struct {
		ID string `bson:"id"`
		SV string `bson:"sv"`
		V  int64  `bson:"v"`
	}
	// Covered by the c_id_da_v_sv index: no document is fetched.
	fo := options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "id", Value: 1}, {Key: "sv", Value: 1}, {Key: "v", Value: 1}}).
		SetBatchSize(int32(min(len(ids)*4+16, 100000)))
	if err := s.find(ctx, shapeVersions, "", f, &vs, fo); err != nil {
		return nil, err
	}
	views := make(map[string]*idView, len(ids))
	for _, v := range vs {
		iv := views[v.ID]
		if iv == nil {
			iv = &idView{}
			views[v.ID] = iv
		}
		if v.SV > iv.maxSpec {
			iv.maxSpec = v.SV
		}
	}
	for _, v := range vs {
		iv := views[v.ID]
		if len(specs) > 0 && !contains(specs, v.SV) || len(specs) == 0 && v.SV != iv.maxSpec {
			continue
		}
		if !iv.seen {
			iv.lo, iv.hi, iv.seen = v.V, v.V, true
			continue
		}
		iv.lo, iv.hi = min(iv.lo, v.V), max(iv.hi, v.V)
	}
	return views, nil
}

// memberBytes fills the bytes of membership records from the stored versions they
// point at, in one query by _id; a record whose version was deleted is dropped.
func (s *Store) memberBytes(ctx context.Context, recs []objectDoc) ([]objectDoc, error) {
	if len(recs) == 0 {
		return recs, nil
	}
	refs := make([]bson.ObjectID, len(recs))
	for i := range recs {
		refs[i] = recs[i].R
	}
	f, err := shapeByOID.filter(cond{"_id", bson.D{{Key: "$in", Value: refs}}})
	if err != nil {
		return nil, err
	}
	var src []struct {
		OID bson.ObjectID `bson:"_id"`
		J   []byte        `bson:"j"`
	}
	fo := options.Find().SetProjection(bson.D{{Key: "j", Value: 1}}).SetBatchSize(int32(len(refs)))
	if err := s.find(ctx, shapeByOID, "", f, &src, fo); err != nil {
		return nil, err
	}
	byOID := make(map[bson.ObjectID][]byte, len(src))
	for _, d := range src {
		byOID[d.OID] = d.J
	}
	out := recs[:0]
	for _, r := range recs {
		if j, ok := byOID[r.R]; ok {
			r.J = j
			out = append(out, r)
		}
	}
	return out, nil
}

// inOrEq is v itself for one value, else {$in: vs}.
func inOrEq(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return bson.D{{Key: "$in", Value: uniq(vs)}}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
