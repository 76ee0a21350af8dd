package mongo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/storage"
)

// statusDoc keeps a TAXII status as JSON next to the fields queries use.
type statusDoc struct {
	ID  string `bson:"_id"`
	Exp int64  `bson:"exp"` // ExpiresAt, ns
	J   []byte `bson:"j"`
}

// PutStatus creates or replaces a status.
func (s *Store) PutStatus(ctx context.Context, st *storage.Status) error {
	if err := s.check(); err != nil {
		return err
	}
	if st.ID == "" {
		return fmt.Errorf("mongo: status id is empty: %w", storage.ErrInvalidFilter)
	}
	j, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("mongo: status %s: %v", st.ID, err)
	}
	f, err := shapeByKey.filter(cond{"_id", st.ID})
	if err != nil {
		return err
	}
	_, err = s.db.Collection(collStatuses).ReplaceOne(ctx, f, statusDoc{ID: st.ID, Exp: nanos(st.ExpiresAt), J: j}, options.Replace().SetUpsert(true))
	return s.wrap(ctx, "put status", err)
}

// GetStatus returns a status that has not expired (the expires_at filter; no TTL
// index is needed).
func (s *Store) GetStatus(ctx context.Context, id string) (*storage.Status, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := shapeStatus.filter(cond{"_id", id}, cond{"exp", bson.D{{Key: "$gt", Value: nanos(s.opt.Now())}}})
	if err != nil {
		return nil, err
	}
	var d statusDoc
	if err := s.db.Collection(collStatuses).FindOne(ctx, f).Decode(&d); err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("mongo: status %s: %w", id, storage.ErrNotFound)
		}
		return nil, s.wrap(ctx, "get status", err)
	}
	var st storage.Status
	if err := json.Unmarshal(d.J, &st); err != nil {
		return nil, fmt.Errorf("mongo: status %s: stored JSON: %v", id, err)
	}
	return &st, nil
}

// PurgeStatuses deletes statuses whose ExpiresAt is before t.
func (s *Store) PurgeStatuses(ctx context.Context, t time.Time) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	f, err := shapeStatusPurg.filter(cond{"exp", bson.D{{Key: "$lt", Value: nanos(t)}}})
	if err != nil {
		return 0, err
	}
	res, err := s.db.Collection(collStatuses).DeleteMany(ctx, f)
	if err != nil {
		return 0, s.wrap(ctx, "purge statuses", err)
	}
	return int(res.DeletedCount), nil
}

type feedDoc struct {
	Feed        string `bson:"_id"`
	Cursor      []byte `bson:"cursor"`
	LastSuccess int64  `bson:"last_success"`
	LastError   string `bson:"last_error"`
	ErrorCount  int    `bson:"error_count"`
	Snapshot    []byte `bson:"snapshot"`
}

// FeedState returns the state of feed.
func (s *Store) FeedState(ctx context.Context, feed string) (*storage.FeedState, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := shapeByKey.filter(cond{"_id", feed})
	if err != nil {
		return nil, err
	}
	var d feedDoc
	if err := s.db.Collection(collFeeds).FindOne(ctx, f).Decode(&d); err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("mongo: feed %q: %w", feed, storage.ErrNotFound)
		}
		return nil, s.wrap(ctx, "feed state", err)
	}
	return &storage.FeedState{Feed: d.Feed, Cursor: d.Cursor, LastSuccess: fromNanos(d.LastSuccess),
		LastError: d.LastError, ErrorCount: d.ErrorCount, Snapshot: d.Snapshot}, nil
}

// PutFeedState saves st in one document replacement.
func (s *Store) PutFeedState(ctx context.Context, st *storage.FeedState) error {
	if err := s.check(); err != nil {
		return err
	}
	if st.Feed == "" {
		return fmt.Errorf("mongo: feed state: feed name is empty: %w", storage.ErrInvalidFilter)
	}
	f, err := shapeByKey.filter(cond{"_id", st.Feed})
	if err != nil {
		return err
	}
	d := feedDoc{Feed: st.Feed, Cursor: st.Cursor, LastSuccess: nanos(st.LastSuccess), LastError: st.LastError, ErrorCount: st.ErrorCount, Snapshot: st.Snapshot}
	_, err = s.db.Collection(collFeeds).ReplaceOne(ctx, f, d, options.Replace().SetUpsert(true))
	return s.wrap(ctx, "put feed state", err)
}

type provDoc struct {
	F   string `bson:"f"`
	T   string `bson:"t"`
	V   string `bson:"v"`
	D   int64  `bson:"d"` // Day, ns
	Ver []byte `bson:"ver,omitempty"`
	Rev bool   `bson:"rev,omitempty"`
}

// AddProvenance inserts records; one already present is counted as Existing.
func (s *Store) AddProvenance(ctx context.Context, recs []storage.Provenance) (*storage.WriteResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	docs := make([]provDoc, len(recs))
	for i, r := range recs {
		if r.Feed == "" || r.Type == "" || r.Value == "" {
			return nil, fmt.Errorf("mongo: provenance[%d]: feed, type and value are required: %w", i, storage.ErrInvalidFilter)
		}
		docs[i] = provDoc{F: r.Feed, T: r.Type, V: r.Value, D: nanos(r.Day), Ver: r.Verdict, Rev: r.Revoked}
	}
	dup, err := s.insertUnordered(ctx, collProvenance, docs)
	if err != nil {
		return nil, err
	}
	res := &storage.WriteResult{Existing: len(dup)}
	for i, r := range recs {
		if !dup[i] {
			res.Added++
			res.AddedIDs = append(res.AddedIDs, r.Feed+"|"+r.Type+"|"+r.Value)
		}
	}
	return res, nil
}

// insertUnordered inserts docs (a slice) unordered and returns the indexes that
// were duplicates of stored documents.
func (s *Store) insertUnordered(ctx context.Context, coll string, docs any) (map[int]bool, error) {
	dup := map[int]bool{}
	_, err := s.db.Collection(coll).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil || errors.Is(err, mongodrv.ErrEmptySlice) {
		return dup, nil
	}
	var bwe mongodrv.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return nil, s.wrap(ctx, "insert into "+coll, err)
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && we.Code != 11001 && we.Code != 12582 {
			return nil, s.wrap(ctx, "insert into "+coll, err)
		}
		dup[we.Index] = true
	}
	return dup, nil
}

// Provenance returns the records for (typ, value), ordered by Day then Feed.
func (s *Store) Provenance(ctx context.Context, typ, value string) ([]storage.Provenance, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := shapeProv.filter(cond{"t", typ}, cond{"v", value})
	if err != nil {
		return nil, err
	}
	var docs []provDoc
	if err := s.find(ctx, shapeProv, "", f, &docs, options.Find().SetSort(shapeProv.sort(true))); err != nil {
		return nil, err
	}
	out := make([]storage.Provenance, len(docs))
	for i, d := range docs {
		out[i] = storage.Provenance{Feed: d.F, Type: d.T, Value: d.V, Day: fromNanos(d.D), Verdict: d.Ver, Revoked: d.Rev}
	}
	return out, nil
}

// ScanProvenance calls fn for each (Type, Value) with its records ordered by
// Day then Feed, values ordered by type then value (the t_v_d_f index). The
// documents stream through one cursor; a value's records are handed over once
// its last one is read.
func (s *Store) ScanProvenance(ctx context.Context, fn func(recs []storage.Provenance) error) error {
	if err := s.check(); err != nil {
		return err
	}
	f, err := shapeProvScan.filter()
	if err != nil {
		return err
	}
	cur, err := s.db.Collection(collProvenance).Find(ctx, f, options.Find().SetSort(shapeProvScan.sort(true)).SetBatchSize(1000))
	if err != nil {
		return s.wrap(ctx, shapeProvScan.Name, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var group []storage.Provenance
	for cur.Next(ctx) {
		var d provDoc
		if err := cur.Decode(&d); err != nil {
			return s.wrap(ctx, shapeProvScan.Name, err)
		}
		if len(group) > 0 && (group[0].Type != d.T || group[0].Value != d.V) {
			if err := fn(group); err != nil {
				return err
			}
			group = nil
		}
		group = append(group, storage.Provenance{Feed: d.F, Type: d.T, Value: d.V, Day: fromNanos(d.D), Verdict: bytes.Clone(d.Ver), Revoked: d.Rev})
	}
	if err := cur.Err(); err != nil {
		return s.wrap(ctx, shapeProvScan.Name, err)
	}
	if len(group) > 0 {
		return fn(group)
	}
	return nil
}

// PruneProvenance deletes records older than before.
func (s *Store) PruneProvenance(ctx context.Context, before time.Time) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	f, err := shapeProvPrune.filter(cond{"d", bson.D{{Key: "$lt", Value: nanos(before)}}})
	if err != nil {
		return 0, err
	}
	res, err := s.db.Collection(collProvenance).DeleteMany(ctx, f)
	if err != nil {
		return 0, s.wrap(ctx, "prune provenance", err)
	}
	return int(res.DeletedCount), nil
}

type sightingDoc struct {
	ID  string `bson:"_id"`
	T   string `bson:"t"`
	V   string `bson:"v"`
	Src string `bson:"src"`
	In  bool   `bson:"in"`
	N   int    `bson:"n"`
	FS  int64  `bson:"fs"`
	LS  int64  `bson:"ls"`
	FP  bool   `bson:"fp"`
}

// AddSightings inserts sightings; an ID already present is counted as Existing.
func (s *Store) AddSightings(ctx context.Context, ss []storage.Sighting) (*storage.WriteResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	docs := make([]sightingDoc, len(ss))
	for i, x := range ss {
		if x.ID == "" {
			return nil, fmt.Errorf("mongo: sightings[%d]: id is required: %w", i, storage.ErrInvalidFilter)
		}
		docs[i] = sightingDoc{ID: x.ID, T: x.Type, V: x.Value, Src: x.Source, In: x.Internal, N: x.Count, FS: nanos(x.FirstSeen), LS: nanos(x.LastSeen), FP: x.FalsePositive}
	}
	dup, err := s.insertUnordered(ctx, collSightings, docs)
	if err != nil {
		return nil, err
	}
	res := &storage.WriteResult{Existing: len(dup)}
	for i, x := range ss {
		if !dup[i] {
			res.Added++
			res.AddedIDs = append(res.AddedIDs, x.ID)
		}
	}
	return res, nil
}

// Sightings returns the sightings of (typ, value), oldest FirstSeen first.
func (s *Store) Sightings(ctx context.Context, typ, value string) ([]storage.Sighting, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	f, err := shapeSightings.filter(cond{"t", typ}, cond{"v", value})
	if err != nil {
		return nil, err
	}
	var docs []sightingDoc
	if err := s.find(ctx, shapeSightings, "", f, &docs, options.Find().SetSort(shapeSightings.sort(true))); err != nil {
		return nil, err
	}
	out := make([]storage.Sighting, len(docs))
	for i, d := range docs {
		out[i] = storage.Sighting{ID: d.ID, Type: d.T, Value: d.V, Source: d.Src, Internal: d.In, Count: d.N,
			FirstSeen: fromNanos(d.FS), LastSeen: fromNanos(d.LS), FalsePositive: d.FP}
	}
	return out, nil
}

// MISPEvent returns the stored timestamp of event uuid.
func (s *Store) MISPEvent(ctx context.Context, uuid string) (time.Time, error) {
	if err := s.check(); err != nil {
		return time.Time{}, err
	}
	f, err := shapeByKey.filter(cond{"_id", uuid})
	if err != nil {
		return time.Time{}, err
	}
	var d struct {
		TS int64 `bson:"ts"`
	}
	if err := s.db.Collection(collMISPEvents).FindOne(ctx, f).Decode(&d); err != nil {
		if notFound(err) {
			return time.Time{}, fmt.Errorf("mongo: MISP event %s: %w", uuid, storage.ErrNotFound)
		}
		return time.Time{}, s.wrap(ctx, "MISP event", err)
	}
	return fromNanos(d.TS), nil
}

// PutMISPEvent records ts for uuid.
func (s *Store) PutMISPEvent(ctx context.Context, uuid string, ts time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	f, err := shapeByKey.filter(cond{"_id", uuid})
	if err != nil {
		return err
	}
	_, err = s.db.Collection(collMISPEvents).UpdateOne(ctx, f, bson.D{{Key: "$set", Value: bson.D{{Key: "ts", Value: nanos(ts)}}}}, options.UpdateOne().SetUpsert(true))
	return s.wrap(ctx, "put MISP event", err)
}

// AcquireLease takes or renews lease name for holder until now+ttl: one update
// that matches only a free, expired or own lease, with upsert; a duplicate key on
// the upsert means another holder has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error {
	if err := s.check(); err != nil {
		return err
	}
	if name == "" || holder == "" {
		return fmt.Errorf("mongo: lease name and holder are required: %w", storage.ErrInvalidFilter)
	}
	now := s.opt.Now()
	f, err := shapeLease.filter(cond{"_id", name}, cond{"$or", bson.A{
		bson.D{{Key: "holder", Value: holder}},
		bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: nanos(now)}}}},
	}})
	if err != nil {
		return err
	}
	upd := bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "until", Value: nanos(now.Add(ttl))}}}}
	_, err = s.db.Collection(collLeases).UpdateOne(ctx, f, upd, options.UpdateOne().SetUpsert(true))
	if err != nil {
		if mongodrv.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: lease %q: %w", name, storage.ErrLeaseHeld)
		}
		return s.wrap(ctx, "acquire lease", err)
	}
	return nil
}

// ReleaseLease gives up the lease if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := s.check(); err != nil {
		return err
	}
	f, err := shapeLease.filter(cond{"_id", name}, cond{"holder", holder})
	if err != nil {
		return err
	}
	_, err = s.db.Collection(collLeases).DeleteOne(ctx, f)
	return s.wrap(ctx, "release lease", err)
}

// NextSequence reserves n numbers of sequence name with one atomic $inc.
func (s *Store) NextSequence(ctx context.Context, name string, n int, start int64) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("mongo: sequence %q: n = %d, want > 0: %w", name, n, storage.ErrInvalidFilter)
	}
	f, err := shapeByKey.filter(cond{"_id", name})
	if err != nil {
		return 0, err
	}
	defer s.lockColl("\x00sequence " + name)() // see lockColl: FerretDB's $inc is not atomic
	upd := bson.D{
		{Key: "$inc", Value: bson.D{{Key: "used", Value: int64(n)}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "start", Value: start}}},
	}
	var d struct {
		Used  int64 `bson:"used"`
		Start int64 `bson:"start"`
	}
	fo := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	if err := s.db.Collection(collSequences).FindOneAndUpdate(ctx, f, upd, fo).Decode(&d); err != nil {
		return 0, s.wrap(ctx, "next sequence", err)
	}
	return d.Start + d.Used - int64(n), nil
}

// Check recomputes each collection's count and first/last date_added (count with
// countDocuments, first/last with a sort and limit 1 on the (c, da) index) and,
// with repair, stores them. It also discards writes whose writers died.
func (s *Store) Check(ctx context.Context, repair bool) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	cols, err := s.Collections(ctx)
	if err != nil {
		return nil, err
	}
	var report []string
	for _, ci := range cols {
		if _, err := s.reserve(ctx, ci.ID, "", 0); err != nil {
			return report, err
		}
		d, err := s.collDoc(ctx, ci.ID)
		if err != nil {
			return report, err
		}
		f, err := shapeCount.filter(cond{"c", ci.ID}, cond{"da", bson.D{{Key: "$lte", Value: d.watermark()}}})
		if err != nil {
			return report, err
		}
		n, err := s.db.Collection(collObjects).CountDocuments(ctx, f)
		if err != nil {
			return report, s.wrap(ctx, "count", err)
		}
		first, last := int64(math.MaxInt64), int64(0)
		for _, asc := range []bool{true, false} {
			ff, err := shapeFirstLast.filter(cond{"c", ci.ID}, cond{"da", bson.D{{Key: "$lte", Value: d.watermark()}}})
			if err != nil {
				return report, err
			}
			var docs []objectDoc
			fo := options.Find().SetSort(shapeFirstLast.sort(asc)).SetLimit(1).SetProjection(bson.D{{Key: "da", Value: 1}})
			if err := s.find(ctx, shapeFirstLast, "", ff, &docs, fo); err != nil {
				return report, err
			}
			if len(docs) == 1 {
				if asc {
					first = docs[0].DA
				} else {
					last = docs[0].DA
				}
			}
		}
		var diffs []string
		if n != d.Count {
			diffs = append(diffs, fmt.Sprintf("collection %q: count %d, stored %d", ci.ID, n, d.Count))
		}
		if n > 0 && (first != d.First || last != d.Last) {
			diffs = append(diffs, fmt.Sprintf("collection %q: first/last date_added %s/%s, stored %s/%s", ci.ID,
				fromMicros(first).Format(time.RFC3339Nano), fromMicros(last).Format(time.RFC3339Nano),
				fromMicros(d.First).Format(time.RFC3339Nano), fromMicros(d.Last).Format(time.RFC3339Nano)))
		}
		report = append(report, diffs...)
		if repair && len(diffs) > 0 {
			cf, err := shapeCollDoc.filter(cond{"_id", ci.ID})
			if err != nil {
				return report, err
			}
			upd := bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: n}, {Key: "first", Value: first}, {Key: "last", Value: last}}}}
			if _, err := s.db.Collection(collCollections).UpdateOne(ctx, cf, upd); err != nil {
				return report, s.wrap(ctx, "repair counters", err)
			}
		}
	}
	return report, nil
}
