package mongo

import (
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoDB collection names inside the store's database.
const (
	collCollections = "collections" // one document per ctibroker collection: kind, counters, date_added allocator, pending writes
	collObjects     = "objects"     // object versions (stored) and membership records (curated)
	collStatuses    = "statuses"    // TAXII status resources
	collFeeds       = "feeds"       // feed state
	collProvenance  = "provenance"  // (feed, type, value, day) records
	collSightings   = "sightings"   // sightings
	collMISPEvents  = "misp_events" // MISP event uuid → timestamp
	collLeases      = "leases"      // named leases
	collSequences   = "sequences"   // sequence allocators
)

// indexSpec declares one secondary index (all keys ascending). Every query the
// backend issues names a queryShape, and TestQueryShapesUseIndexes checks each
// shape against this list.
type indexSpec struct {
	Coll   string
	Name   string
	Keys   []string
	Unique bool
}

// indexes is every index the backend creates (besides MongoDB's own _id index).
var indexes = []indexSpec{
	{collObjects, "c_da", []string{"c", "da"}, false},
	{collObjects, "c_t_da", []string{"c", "t", "da"}, false},
	{collObjects, "c_id_da_v_sv", []string{"c", "id", "da", "v", "sv"}, false}, // v, sv: covers the versions query
	{collObjects, "c_id_vk", []string{"c", "id", "vk"}, true},
	{collStatuses, "exp", []string{"exp"}, false},
	{collProvenance, "t_v_d_f", []string{"t", "v", "d", "f"}, true},
	{collProvenance, "d", []string{"d"}, false},
	{collSightings, "t_v_fs", []string{"t", "v", "fs"}, false},
}

// idIndex stands for MongoDB's built-in unique index on _id.
const idIndex = "_id_"

// queryShape is the shape of one query: equality (or $in) fields, the sort, range
// conditions, and residual conditions the index does not serve. A shape is served
// by an index when the equality fields are its first keys (in any order), the
// sort keys follow in order, and every range field is one of those keys or the
// next one. Residual fields are allowed only when Bounded says why the scan they
// filter is small.
type queryShape struct {
	Name     string
	Coll     string
	Eq       []string
	Sort     []string
	Range    []string
	Residual []string
	Bounded  string // why residual filtering is bounded, e.g. "at most the versions of the requested ids"
	Offline  bool   // used only by Check (a maintenance pass), never on a request path
}

// Query shapes: every find, update and delete filter the backend issues.
var (
	shapeCollDoc    = queryShape{Name: "collection by id", Coll: collCollections, Eq: []string{"_id"}}
	shapeCollAll    = queryShape{Name: "all collections", Coll: collCollections, Sort: []string{"_id"}}
	shapeCollCAS    = queryShape{Name: "collection compare-and-set", Coll: collCollections, Eq: []string{"_id"}, Residual: []string{"ver"}, Bounded: "one document by _id"}
	shapeCollDone   = queryShape{Name: "collection pending entry", Coll: collCollections, Eq: []string{"_id"}, Residual: []string{"pending.k"}, Bounded: "one document by _id"}
	shapePage       = queryShape{Name: "page of a collection", Coll: collObjects, Eq: []string{"c"}, Sort: []string{"da"}, Range: []string{"da"}}
	shapePageType   = queryShape{Name: "page of a collection by type", Coll: collObjects, Eq: []string{"c", "t"}, Sort: []string{"da"}, Range: []string{"da"}}
	shapePageID     = queryShape{Name: "page of a collection by id", Coll: collObjects, Eq: []string{"c", "id"}, Sort: []string{"da"}, Range: []string{"da"}, Residual: []string{"t"}, Bounded: "at most the versions of the requested ids"}
	shapeVersions   = queryShape{Name: "versions of ids", Coll: collObjects, Eq: []string{"c", "id"}, Range: []string{"da"}}
	shapeByOID      = queryShape{Name: "documents by _id", Coll: collObjects, Eq: []string{"_id"}}
	shapeRange      = queryShape{Name: "date_added range of a batch", Coll: collObjects, Eq: []string{"c"}, Range: []string{"da"}}
	shapeFirstLast  = queryShape{Name: "first or last date_added", Coll: collObjects, Eq: []string{"c"}, Sort: []string{"da"}, Range: []string{"da"}}
	shapeCount      = queryShape{Name: "count a collection", Coll: collObjects, Eq: []string{"c"}, Range: []string{"da"}, Offline: true}
	shapeStatus     = queryShape{Name: "unexpired status", Coll: collStatuses, Eq: []string{"_id"}, Residual: []string{"exp"}, Bounded: "one document by _id"}
	shapeStatusPurg = queryShape{Name: "expired statuses", Coll: collStatuses, Range: []string{"exp"}}
	shapeByKey      = queryShape{Name: "document by _id", Eq: []string{"_id"}} // feeds, misp_events, sequences, leases (Coll set per use)
	shapeLease      = queryShape{Name: "lease free or ours", Coll: collLeases, Eq: []string{"_id"}, Residual: []string{"holder", "$or"}, Bounded: "one document by _id"}
	shapeProv       = queryShape{Name: "provenance of a value", Coll: collProvenance, Eq: []string{"t", "v"}, Sort: []string{"d", "f"}}
	shapeProvKey    = queryShape{Name: "provenance records by key", Coll: collProvenance, Eq: []string{"t", "v", "d", "f"}} // one $or clause per key (HasProvenance)
	shapeProvPrune  = queryShape{Name: "old provenance", Coll: collProvenance, Range: []string{"d"}}
	shapeProvScan   = queryShape{Name: "all provenance by value", Coll: collProvenance, Sort: []string{"t", "v", "d", "f"}, Offline: true}
	shapeSightings  = queryShape{Name: "sightings of a value", Coll: collSightings, Eq: []string{"t", "v"}, Sort: []string{"fs"}}
	shapeDump       = queryShape{Name: "every document (backup)", Offline: true}
)

// allShapes lists every shape for TestQueryShapesUseIndexes.
var allShapes = []queryShape{
	shapeCollDoc, shapeCollAll, shapeCollCAS, shapeCollDone,
	shapePage, shapePageType, shapePageID, shapeVersions, shapeByOID, shapeRange,
	shapeFirstLast, shapeCount,
	shapeStatus, shapeStatusPurg, shapeByKey, shapeLease,
	shapeProv, shapeProvKey, shapeProvPrune, shapeProvScan, shapeSightings, shapeDump,
}

// cond is one condition of a filter: a field and its value (a plain value for
// equality, or an operator document such as bson.M{"$in": ...}).
type cond struct {
	Field string
	Value any
}

// filter builds the filter document of a query of shape q. It returns an error
// (a bug, never user input) when a condition names a field the shape does not
// declare, so no query can drift away from the indexes checked in tests.
func (q queryShape) filter(conds ...cond) (bson.D, error) {
	d := make(bson.D, 0, len(conds))
	for _, c := range conds {
		if !slices.Contains(q.Eq, c.Field) && !slices.Contains(q.Range, c.Field) && !slices.Contains(q.Residual, c.Field) {
			return nil, fmt.Errorf("mongo: internal error: query %q does not declare field %q", q.Name, c.Field)
		}
		d = append(d, bson.E{Key: c.Field, Value: c.Value})
	}
	return d, nil
}

// sort returns the sort document of shape q, ascending or descending.
func (q queryShape) sort(asc bool) bson.D {
	dir := 1
	if !asc {
		dir = -1
	}
	d := make(bson.D, 0, len(q.Sort))
	for _, k := range q.Sort {
		d = append(d, bson.E{Key: k, Value: dir})
	}
	return d
}

// servedBy returns the name of an index serving shape q in collection coll, or "".
func (q queryShape) servedBy(coll string) string {
	if q.Coll != "" {
		coll = q.Coll
	}
	cands := []indexSpec{{Coll: coll, Name: idIndex, Keys: []string{"_id"}, Unique: true}}
	for _, ix := range indexes {
		if ix.Coll == coll {
			cands = append(cands, ix)
		}
	}
	for _, ix := range cands {
		if q.prefixOf(ix.Keys) {
			return ix.Name
		}
	}
	return ""
}

// prefixOf reports whether an index with keys serves q (see queryShape).
func (q queryShape) prefixOf(keys []string) bool {
	n := len(q.Eq)
	if n+len(q.Sort) > len(keys) {
		return false
	}
	for _, f := range keys[:n] {
		if !slices.Contains(q.Eq, f) {
			return false
		}
	}
	if !slices.Equal(keys[n:n+len(q.Sort)], q.Sort) {
		return false
	}
	used := n + len(q.Sort)
	for _, r := range q.Range {
		if !slices.Contains(keys[:min(used+1, len(keys))], r) {
			return false
		}
	}
	return n+len(q.Sort)+len(q.Range) > 0
}
