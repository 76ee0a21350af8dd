package mongo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/storage"
)

// collDoc is one ctibroker collection in the "collections" MongoDB collection: its
// kind, advisory counters, the date_added allocator and the writes in flight.
type collDoc struct {
	ID      string    `bson:"_id"`
	Kind    string    `bson:"kind"`
	Count   int64     `bson:"count"`
	First   int64     `bson:"first"`   // µs; math.MaxInt64 when never written
	Last    int64     `bson:"last"`    // µs; 0 when never written
	Next    int64     `bson:"next"`    // the last date_added reserved (µs)
	Ver     int64     `bson:"ver"`     // bumped by every change of Next or Pending (compare-and-set)
	Pending []pending `bson:"pending"` // reservations whose writes have not finished
}

// pending is one write in flight: it reserved the date_added values Lo..Hi and
// must finish before Exp (µs, wall clock of the writer) or be discarded.
type pending struct {
	K   bson.ObjectID `bson:"k"`
	Lo  int64         `bson:"lo"`
	Hi  int64         `bson:"hi"`
	Exp int64         `bson:"exp"`
}

// watermark returns the highest date_added readers may see: every value at or
// below it was either written by a finished write or never used.
func (d *collDoc) watermark() int64 {
	w := d.Next
	for _, p := range d.Pending {
		if p.Lo-1 < w {
			w = p.Lo - 1
		}
	}
	return w
}

func (d *collDoc) info() storage.CollectionInfo {
	ci := storage.CollectionInfo{ID: d.ID, Kind: d.Kind, Count: d.Count}
	if d.Count > 0 && d.First != math.MaxInt64 && d.Last > 0 {
		ci.FirstAdded = fromMicros(d.First)
		ci.LastAdded = fromMicros(d.Last)
	}
	return ci
}

// EnsureCollection creates the collection with kind if it does not exist.
func (s *Store) EnsureCollection(ctx context.Context, id, kind string) error {
	if err := s.check(); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("mongo: collection id is empty: %w", storage.ErrInvalidFilter)
	}
	if kind != storage.KindStored && kind != storage.KindCurated {
		return fmt.Errorf("mongo: collection %q: kind %q is neither %q nor %q: %w", id, kind, storage.KindStored, storage.KindCurated, storage.ErrKind)
	}
	_, err := s.db.Collection(collCollections).InsertOne(ctx, collDoc{
		ID: id, Kind: kind, First: math.MaxInt64, Pending: []pending{},
	})
	if err == nil {
		return nil
	}
	if !mongodrv.IsDuplicateKeyError(err) {
		return s.wrap(ctx, "create collection", err)
	}
	d, err := s.collDoc(ctx, id)
	if err != nil {
		return err
	}
	if d.Kind != kind {
		return fmt.Errorf("mongo: collection %q exists with kind %q, not %q: %w", id, d.Kind, kind, storage.ErrKind)
	}
	return nil
}

// collDoc reads collection id's document. Returns storage.ErrNotFound.
func (s *Store) collDoc(ctx context.Context, id string) (*collDoc, error) {
	f, err := shapeCollDoc.filter(cond{"_id", id})
	if err != nil {
		return nil, err
	}
	var d collDoc
	if err := s.db.Collection(collCollections).FindOne(ctx, f).Decode(&d); err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("mongo: collection %q: %w", id, storage.ErrNotFound)
		}
		return nil, s.wrap(ctx, "read collection", err)
	}
	return &d, nil
}

// liveCollDoc reads collection id's document, first discarding writes whose
// writers died (see reserve), so that readers' watermark moves on.
func (s *Store) liveCollDoc(ctx context.Context, id string) (*collDoc, error) {
	d, err := s.collDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	now := micros(s.opt.Now())
	for _, p := range d.Pending {
		if p.Exp < now {
			if _, err := s.reserve(ctx, id, "", 0); err != nil {
				return nil, err
			}
			return s.collDoc(ctx, id)
		}
	}
	return d, nil
}

// CollectionInfo returns the runtime state of collection id.
func (s *Store) CollectionInfo(ctx context.Context, id string) (*storage.CollectionInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	d, err := s.collDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	ci := d.info()
	return &ci, nil
}

// Collections lists every collection, sorted by ID.
func (s *Store) Collections(ctx context.Context) ([]storage.CollectionInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var docs []collDoc
	fo := options.Find().SetSort(shapeCollAll.sort(true)).SetProjection(bson.M{"pending": 0})
	if err := s.find(ctx, shapeCollAll, "", bson.D{}, &docs, fo); err != nil {
		return nil, err
	}
	out := make([]storage.CollectionInfo, 0, len(docs))
	for i := range docs {
		out = append(out, docs[i].info())
	}
	return out, nil
}

// reservation is a block of date_added values reserved by reserve.
type reservation struct {
	token    bson.ObjectID
	lo, hi   int64
	deadline time.Time // the writer must have finished by then
	entry    pending   // as registered
}

// reserve reserves n consecutive date_added values in collection id (of kind,
// unless kind is empty) and registers them as a pending write, in one
// compare-and-set of the collection document. On the way it discards pending
// writes that expired: their writers died or gave up, so the records they may have
// inserted are deleted (all or none of a batch becomes visible) before the
// registration that holds the watermark back is dropped. With n == 0 it only
// discards expired writes.
func (s *Store) reserve(ctx context.Context, id, kind string, n int) (*reservation, error) {
	defer s.lockColl(id)()
	coll := s.db.Collection(collCollections)
	for attempt := 0; ; attempt++ {
		d, err := s.collDoc(ctx, id)
		if err != nil {
			return nil, err
		}
		if kind != "" && d.Kind != kind {
			return nil, fmt.Errorf("mongo: collection %q is %s, not %s: %w", id, d.Kind, kind, storage.ErrKind)
		}
		nowT := s.opt.Now()
		now := micros(nowT)
		keep := make([]pending, 0, len(d.Pending)+1)
		for _, p := range d.Pending {
			if p.Exp >= now {
				keep = append(keep, p)
				continue
			}
			if err := s.deleteRange(ctx, id, p.Lo, p.Hi); err != nil {
				return nil, err
			}
		}
		if n == 0 && len(keep) == len(d.Pending) {
			return nil, nil
		}
		r := &reservation{token: bson.NewObjectID()}
		next := d.Next
		if n > 0 {
			r.lo = max(d.Next+1, now)
			r.hi = r.lo + int64(n) - 1
			r.deadline = nowT.Add(s.opt.PendingTTL / 2)
			next = r.hi
			r.entry = pending{K: r.token, Lo: r.lo, Hi: r.hi, Exp: micros(nowT.Add(s.opt.PendingTTL))}
			keep = append(keep, r.entry)
		}
		f, err := shapeCollCAS.filter(cond{"_id", id}, cond{"ver", d.Ver})
		if err != nil {
			return nil, err
		}
		res, err := coll.UpdateOne(ctx, f, bson.D{
			{Key: "$set", Value: bson.D{{Key: "next", Value: next}, {Key: "pending", Value: keep}}},
			{Key: "$inc", Value: bson.D{{Key: "ver", Value: int64(1)}}},
		})
		if err != nil {
			return nil, s.wrap(ctx, "reserve date_added", err)
		}
		if res.MatchedCount == 1 {
			return r, nil
		}
		if attempt >= 1000 {
			return nil, fmt.Errorf("mongo: collection %q: could not reserve date_added values: too much contention", id)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("mongo: reserve date_added: %w", err)
		}
		// Another process changed the document: back off a little, randomly.
		time.Sleep(time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond))))
	}
}

// finish removes reservation r and adds the counters in one update. It returns
// false when r was no longer registered: another process took it for expired and
// discarded it.
func (s *Store) finish(ctx context.Context, id string, r *reservation, added int64, first, last int64) (bool, error) {
	defer s.lockColl(id)()
	f, err := shapeCollDone.filter(cond{"_id", id}, cond{"pending.k", r.token})
	if err != nil {
		return false, err
	}
	inc := bson.D{{Key: "ver", Value: int64(1)}}
	// $pull names the whole entry: FerretDB 1.24 ignores a $pull condition that
	// names only some fields of an array element; MongoDB accepts both.
	upd := bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: r.entry}}}}
	if added > 0 {
		inc = append(inc, bson.E{Key: "count", Value: added})
		upd = append(upd,
			bson.E{Key: "$min", Value: bson.D{{Key: "first", Value: first}}},
			bson.E{Key: "$max", Value: bson.D{{Key: "last", Value: last}}})
	}
	upd = append(upd, bson.E{Key: "$inc", Value: inc})
	res, err := s.db.Collection(collCollections).UpdateOne(ctx, f, upd)
	if err != nil {
		return false, s.wrap(ctx, "finish write", err)
	}
	return res.MatchedCount == 1, nil
}

// finishedAnyway reports, after finish returned an error, whether its update was
// applied all the same (the reply was lost): r is no longer registered and the
// record with _id probe (one r inserted; zero when r inserted none) is still
// there, which a discarded write's record would not be.
func (s *Store) finishedAnyway(id string, r *reservation, probe bson.ObjectID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.PendingTTL/4)
	defer cancel()
	d, err := s.collDoc(ctx, id)
	if err != nil {
		return false
	}
	for _, p := range d.Pending {
		if p.K == r.token {
			return false
		}
	}
	if probe.IsZero() {
		return true
	}
	f, err := shapeByOID.filter(cond{"_id", probe})
	if err != nil {
		return false
	}
	return s.db.Collection(collObjects).FindOne(ctx, f, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err() == nil
}

// abandon undoes a write that failed: deletes whatever it inserted, then drops
// its registration. Uses a fresh context so a cancelled request still cleans up.
func (s *Store) abandon(id string, r *reservation) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.PendingTTL/2)
	defer cancel()
	if err := s.deleteRange(ctx, id, r.lo, r.hi); err != nil {
		return // the registration stays; it expires and the next writer deletes the range
	}
	_, _ = s.finish(ctx, id, r, 0, 0, 0)
}

// deleteRange deletes the records of collection id with date_added in lo..hi.
func (s *Store) deleteRange(ctx context.Context, id string, lo, hi int64) error {
	f, err := shapeRange.filter(cond{"c", id}, cond{"da", bson.D{{Key: "$gte", Value: lo}, {Key: "$lte", Value: hi}}})
	if err != nil {
		return err
	}
	if _, err := s.db.Collection(collObjects).DeleteMany(ctx, f); err != nil {
		return s.wrap(ctx, "discard unfinished write", err)
	}
	return nil
}

// afterDelete keeps the advisory counters after n records with date_added das
// were deleted: the count drops by n, and when the first or last record went,
// the new first or last is read with a sort and limit 1 on the (c, da) index.
func (s *Store) afterDelete(ctx context.Context, id string, n int64, das []int64) error {
	defer s.lockColl(id)()
	f, err := shapeCollDoc.filter(cond{"_id", id})
	if err != nil {
		return err
	}
	coll := s.db.Collection(collCollections)
	var d collDoc
	fo := options.FindOneAndUpdate().SetReturnDocument(options.After)
	err = coll.FindOneAndUpdate(ctx, f, bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: -n}}}}, fo).Decode(&d)
	if err != nil {
		return s.wrap(ctx, "update count", err)
	}
	set := bson.D{}
	for _, edge := range []struct {
		field string
		cur   int64
		asc   bool
		none  int64
	}{{"first", d.First, true, math.MaxInt64}, {"last", d.Last, false, 0}} {
		if !slices.Contains(das, edge.cur) {
			continue
		}
		q, err := shapeFirstLast.filter(cond{"c", id})
		if err != nil {
			return err
		}
		var docs []objectDoc
		fo := options.Find().SetSort(shapeFirstLast.sort(edge.asc)).SetLimit(1).SetProjection(bson.D{{Key: "da", Value: 1}})
		if err := s.find(ctx, shapeFirstLast, "", q, &docs, fo); err != nil {
			return err
		}
		v := edge.none
		if len(docs) == 1 {
			v = docs[0].DA
		}
		set = append(set, bson.E{Key: edge.field, Value: v})
	}
	if len(set) == 0 {
		return nil
	}
	_, err = coll.UpdateOne(ctx, f, bson.D{{Key: "$set", Value: set}})
	return s.wrap(ctx, "update first/last", err)
}

// lockColl serialises this process's updates of collection id's document and
// returns the unlock. Correctness across processes rests on the compare-and-set
// alone; the lock spares MongoDB compare-and-set retries between goroutines and
// keeps FerretDB 1.24 correct within one process (it applies an update as a read
// and a write in two SQLite transactions, so concurrent updates of one document
// can be lost there).
func (s *Store) lockColl(id string) func() {
	m, _ := s.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
