package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/storage"
)

// Limits of one HasProvenance find: at most provCheckKeys distinct keys, and at
// most provCheckBytes of key strings, so a filter stays far below MongoDB's
// 16 MiB command limit whatever the values' lengths.
const (
	provCheckKeys  = 500
	provCheckBytes = 4 << 20
)

// provKeyDoc is a provenance document's key, the only fields HasProvenance reads.
type provKeyDoc struct {
	F string `bson:"f"`
	T string `bson:"t"`
	V string `bson:"v"`
	D int64  `bson:"d"`
}

// HasProvenance reports, for each of recs, whether a record with its key (Feed,
// Type, Value, Day) is stored, without reading verdicts (Verdict and Revoked of
// recs are ignored). The answers are in the order of recs; a key may appear
// more than once. Day matches exactly, as in Provenance and AddProvenance (the
// embedded backend's key keeps whole seconds, so the two backends agree for
// days without a fraction of a second, which is what the ingest Runner writes).
//
// The ingest Runner's unchanged re-pull checks a whole batch with it
// (ingest.ProvenanceChecker) instead of one Provenance read per value. The
// distinct keys are looked up with one find per chunk of up to 500 keys: a
// $or of exact {t, v, d, f} matches, each clause served by the unique t_v_d_f
// index, projecting only those fields (a covered query on MongoDB: no document
// is fetched), with a batch size that returns every match in the first reply.
func (s *Store) HasProvenance(ctx context.Context, recs []storage.Provenance) ([]bool, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([]bool, len(recs))
	where := make(map[provKeyDoc][]int, len(recs)) // distinct key → positions in recs
	keys := make([]provKeyDoc, 0, len(recs))       // distinct keys, first seen first
	for i := range recs {
		r := &recs[i]
		if r.Feed == "" || r.Type == "" || r.Value == "" {
			return nil, fmt.Errorf("mongo: provenance[%d]: feed, type and value are required: %w", i, storage.ErrInvalidFilter)
		}
		k := provKeyDoc{F: r.Feed, T: r.Type, V: r.Value, D: nanos(r.Day)}
		if _, ok := where[k]; !ok {
			keys = append(keys, k)
		}
		where[k] = append(where[k], i)
	}
	for start := 0; start < len(keys); {
		end, size := start, 0
		for end < len(keys) && end-start < provCheckKeys {
			n := len(keys[end].F) + len(keys[end].T) + len(keys[end].V) + 40 // strings and BSON overhead
			if end > start && size+n > provCheckBytes {
				break
			}
			size += n
			end++
		}
		if err := s.hasProvChunk(ctx, keys[start:end], where, out); err != nil {
			return nil, err
		}
		start = end
	}
	return out, nil
}

// hasProvChunk runs one find for the distinct keys of chunk and sets out at the
// positions (where) of each key found.
func (s *Store) hasProvChunk(ctx context.Context, chunk []provKeyDoc, where map[provKeyDoc][]int, out []bool) error {
	clauses := make(bson.A, len(chunk))
	for i, k := range chunk {
		f, err := shapeProvKey.filter(cond{"t", k.T}, cond{"v", k.V}, cond{"d", k.D}, cond{"f", k.F})
		if err != nil {
			return err
		}
		clauses[i] = f
	}
	var filter bson.D
	if len(clauses) == 1 {
		filter = clauses[0].(bson.D)
	} else {
		filter = bson.D{{Key: "$or", Value: clauses}}
	}
	proj := bson.D{{Key: "_id", Value: 0}, {Key: "t", Value: 1}, {Key: "v", Value: 1}, {Key: "d", Value: 1}, {Key: "f", Value: 1}}
	// Each key matches at most one document (t_v_d_f is unique): a batch size
	// above the chunk's length answers in the first reply, with no getMore.
	var found []provKeyDoc
	if err := s.find(ctx, shapeProvKey, "", filter, &found, options.Find().SetProjection(proj).SetBatchSize(int32(len(chunk)+1))); err != nil {
		return err
	}
	for _, k := range found {
		for _, i := range where[k] {
			out[i] = true
		}
	}
	return nil
}
