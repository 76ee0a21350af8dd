package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gowebpki/jcs"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// objectDoc is one record in the "objects" MongoDB collection: an object version of
// a stored collection (J holds its exact bytes) or a membership record of a
// curated collection (R points at the stored version's document).
type objectDoc struct {
	OID bson.ObjectID `bson:"_id"`
	C   string        `bson:"c"`            // ctibroker collection id
	DA  int64         `bson:"da"`           // date_added, µs, unique and increasing within C
	ID  string        `bson:"id"`           // STIX id
	T   string        `bson:"t"`            // STIX type
	SV  string        `bson:"sv,omitempty"` // spec_version as stored ("" when absent)
	V   int64         `bson:"v"`            // TAXII version, µs
	VK  string        `bson:"vk"`           // version key: "m"+µs of modified/created, or "h"+SHA-256 of canonical bytes (SCOs)
	J   []byte        `bson:"j,omitempty"`  // exact bytes (stored collections)
	R   bson.ObjectID `bson:"r,omitempty"`  // the stored version (curated collections)

	sco bool // a stored SCO: its version is its date_added
}

// maxObjectBytes is the largest object MongoDB can store: its 16 MiB document
// limit less room for the indexed fields.
const maxObjectBytes = 16<<20 - 8<<10

// projManifest leaves the bytes out.
var projManifest = bson.D{{Key: "j", Value: 0}}

// versionKey returns the version key and TAXII version of o. SDOs and SROs are
// versioned by modified (created when there is none); SCOs by the SHA-256 of their
// canonical (RFC 8785) bytes, their TAXII version being the date_added (0 here).
func versionKey(o *stix.RawObject) (string, int64, error) {
	switch {
	case o.Modified != nil:
		us := micros(o.Modified.Time)
		return "m" + strconv.FormatInt(us, 10), us, nil
	case o.Created != nil:
		us := micros(o.Created.Time)
		return "m" + strconv.FormatInt(us, 10), us, nil
	}
	canon, err := jcs.Transform(o.JSON)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(canon)
	return "h" + hex.EncodeToString(sum[:]), 0, nil
}

// PutObjects stores objs in collection. See the package doc for how the batch is
// made visible all at once.
func (s *Store) PutObjects(ctx context.Context, collection string, objs []stix.RawObject) (*storage.WriteResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	docs := make([]objectDoc, len(objs))
	for i := range objs {
		o := &objs[i]
		switch {
		case o.ID == "":
			return nil, &stix.ValidationError{Type: o.Type, Property: fmt.Sprintf("objects[%d].id", i), Reason: "required"}
		case o.Type == "":
			return nil, &stix.ValidationError{ID: o.ID, Property: fmt.Sprintf("objects[%d].type", i), Reason: "required"}
		case len(o.JSON) == 0:
			return nil, &stix.ValidationError{ID: o.ID, Type: o.Type, Property: fmt.Sprintf("objects[%d]", i), Reason: "no JSON bytes"}
		case len(o.JSON) > maxObjectBytes:
			return nil, &stix.ValidationError{ID: o.ID, Type: o.Type, Property: fmt.Sprintf("objects[%d]", i),
				Reason: fmt.Sprintf("%d bytes: larger than the %d a MongoDB document can hold with its index fields", len(o.JSON), maxObjectBytes)}
		}
		vk, v, err := versionKey(o)
		if err != nil {
			return nil, &stix.ValidationError{ID: o.ID, Type: o.Type, Property: fmt.Sprintf("objects[%d]", i), Reason: "not canonicalisable JSON: " + err.Error()}
		}
		sv := o.SpecVersion
		if sv == "" {
			sv = "2.0" // STIX 2.0 objects carry no spec_version
		}
		docs[i] = objectDoc{OID: bson.NewObjectID(), C: collection, ID: o.ID, T: o.Type, SV: sv, V: v, VK: vk, J: o.JSON, sco: v == 0 && vk[0] == 'h'}
	}
	if len(docs) == 0 {
		if _, err := s.collDoc(ctx, collection); err != nil {
			return nil, err
		}
		return &storage.WriteResult{}, nil
	}
	return s.insertBatch(ctx, collection, storage.KindStored, docs)
}

// insertBatch reserves date_added values for docs, inserts them unordered
// (duplicate keys are versions already stored) and finishes the reservation.
// When a duplicate is a record of another write still in flight, that write may
// yet be discarded (its writer died), so counting the version as existing could
// lose it: the batch is then undone, and retried once that write has finished or
// expired.
func (s *Store) insertBatch(ctx context.Context, collection, kind string, docs []objectDoc) (*storage.WriteResult, error) {
	for {
		res, blockers, err := s.insertOnce(ctx, collection, kind, docs)
		if err != nil || blockers == nil {
			return res, err
		}
		if err := s.waitFor(ctx, collection, blockers); err != nil {
			return nil, err
		}
	}
}

// insertOnce is one attempt of insertBatch. A non-nil blockers (possibly empty)
// asks for a retry after those pending writes are gone.
func (s *Store) insertOnce(ctx context.Context, collection, kind string, docs []objectDoc) (*storage.WriteResult, []bson.ObjectID, error) {
	r, err := s.reserve(ctx, collection, kind, len(docs))
	if err != nil {
		return nil, nil, err
	}
	for i := range docs {
		docs[i].DA = r.lo + int64(i)
		if docs[i].sco {
			docs[i].V = docs[i].DA
		}
	}
	wctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	_, err = s.db.Collection(collObjects).InsertMany(wctx, docs, options.InsertMany().SetOrdered(false))
	dup := map[int]bool{}
	if err != nil {
		var bwe mongodrv.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			s.abandon(collection, r)
			return nil, nil, s.wrap(ctx, "insert objects", err)
		}
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 && we.Code != 11001 && we.Code != 12582 {
				s.abandon(collection, r)
				return nil, nil, s.wrap(ctx, "insert objects", err)
			}
			dup[we.Index] = true
		}
	}
	if len(dup) > 0 {
		blockers, err := s.unsettled(ctx, collection, r, docs, dup)
		if err != nil || blockers != nil {
			s.abandon(collection, r)
			return nil, blockers, err
		}
	}
	res := &storage.WriteResult{Existing: len(dup)}
	var first, last int64
	for i := range docs {
		if dup[i] {
			continue
		}
		if res.Added == 0 {
			first = docs[i].DA
		}
		last = docs[i].DA
		res.Added++
		res.AddedIDs = append(res.AddedIDs, docs[i].ID)
	}
	if s.opt.Now().After(r.deadline) {
		s.abandon(collection, r)
		return nil, nil, fmt.Errorf("mongo: collection %q: write took longer than %s, batch discarded", collection, s.opt.PendingTTL/2)
	}
	ok, err := s.finish(ctx, collection, r, int64(res.Added), first, last)
	if err != nil {
		var probe bson.ObjectID
		for i := range docs {
			if !dup[i] {
				probe = docs[i].OID
				break
			}
		}
		if s.finishedAnyway(collection, r, probe) {
			return res, nil, nil
		}
		s.abandon(collection, r)
		return nil, nil, err
	}
	if !ok {
		s.abandon(collection, r)
		return nil, nil, fmt.Errorf("mongo: collection %q: the write outlived its reservation (%s) and was discarded", collection, s.opt.PendingTTL)
	}
	return res, nil, nil
}

// unsettled checks the stored records that docs[i] (i in dup) duplicated. It
// returns nil when all of them are finished records, else the tokens of the
// pending writes they belong to (empty when one vanished, i.e. was discarded
// after our insert: retry at once). With no other write in flight it costs one
// read of the collection document.
func (s *Store) unsettled(ctx context.Context, collection string, r *reservation, docs []objectDoc, dup map[int]bool) ([]bson.ObjectID, error) {
	d, err := s.collDoc(ctx, collection)
	if err != nil {
		return nil, err
	}
	var others []pending
	for _, p := range d.Pending {
		if p.K != r.token {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(dup))
	for i := range dup {
		ids = append(ids, docs[i].ID)
	}
	f, err := shapeVersions.filter(cond{"c", collection}, cond{"id", inOrEq(uniq(ids))})
	if err != nil {
		return nil, err
	}
	var stored []objectDoc
	fo := options.Find().SetProjection(bson.D{{Key: "id", Value: 1}, {Key: "vk", Value: 1}, {Key: "da", Value: 1}})
	if err := s.find(ctx, shapeVersions, "", f, &stored, fo); err != nil {
		return nil, err
	}
	da := make(map[string]int64, len(stored))
	for _, x := range stored {
		da[x.ID+"\x00"+x.VK] = x.DA
	}
	var blockers []bson.ObjectID
	for i := range dup {
		at, ok := da[docs[i].ID+"\x00"+docs[i].VK]
		if !ok {
			return []bson.ObjectID{}, nil
		}
		if at >= r.lo && at <= r.hi {
			continue // a duplicate within this batch
		}
		for _, p := range others {
			if at >= p.Lo && at <= p.Hi && !slices.Contains(blockers, p.K) {
				blockers = append(blockers, p.K)
			}
		}
	}
	return blockers, nil
}

// waitFor polls until none of the pending writes named by tokens is registered
// any more (finished, or expired and discarded).
func (s *Store) waitFor(ctx context.Context, collection string, tokens []bson.ObjectID) error {
	for {
		d, err := s.liveCollDoc(ctx, collection)
		if err != nil {
			return err
		}
		busy := false
		for _, p := range d.Pending {
			busy = busy || slices.Contains(tokens, p.K)
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mongo: collection %q: waiting for another write of the same versions: %w", collection, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// AddMembers appends membership records to a curated collection.
func (s *Store) AddMembers(ctx context.Context, collection string, refs []storage.VersionRef) (*storage.WriteResult, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	d, err := s.collDoc(ctx, collection)
	if err != nil {
		return nil, err
	}
	if d.Kind != storage.KindCurated {
		return nil, fmt.Errorf("mongo: collection %q is %s, not curated: %w", collection, d.Kind, storage.ErrKind)
	}
	if len(refs) == 0 {
		return &storage.WriteResult{}, nil
	}
	// Look up the referenced versions, one query per source collection.
	bySrc := map[string][]string{}
	for _, r := range refs {
		bySrc[r.Collection] = append(bySrc[r.Collection], r.ID)
	}
	type key struct {
		c, id string
		v     int64
	}
	found := map[key]*objectDoc{}
	for src, ids := range bySrc {
		if _, err := s.collDoc(ctx, src); err != nil {
			return nil, err
		}
		f, err := shapeVersions.filter(cond{"c", src}, cond{"id", bson.D{{Key: "$in", Value: uniq(ids)}}})
		if err != nil {
			return nil, err
		}
		var vs []objectDoc
		if err := s.find(ctx, shapeVersions, "", f, &vs, options.Find().SetProjection(projManifest)); err != nil {
			return nil, err
		}
		for i := range vs {
			found[key{src, vs[i].ID, vs[i].V}] = &vs[i]
		}
	}
	docs := make([]objectDoc, len(refs))
	for i, r := range refs {
		src, ok := found[key{r.Collection, r.ID, micros(r.Version)}]
		if !ok {
			return nil, fmt.Errorf("mongo: %s version %s in collection %q: %w", r.ID, r.Version.UTC().Format(time.RFC3339Nano), r.Collection, storage.ErrNotFound)
		}
		docs[i] = objectDoc{OID: bson.NewObjectID(), C: collection, ID: src.ID, T: src.T, SV: src.SV, V: src.V, VK: src.VK, R: src.OID}
	}
	return s.insertBatch(ctx, collection, storage.KindCurated, docs)
}

// RemoveMembers deletes the membership records of ids.
func (s *Store) RemoveMembers(ctx context.Context, collection string, ids []string) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	d, err := s.collDoc(ctx, collection)
	if err != nil {
		return 0, err
	}
	if d.Kind != storage.KindCurated {
		return 0, fmt.Errorf("mongo: collection %q is %s, not curated: %w", collection, d.Kind, storage.ErrKind)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	f, err := shapeVersions.filter(cond{"c", collection}, cond{"id", bson.D{{Key: "$in", Value: uniq(ids)}}})
	if err != nil {
		return 0, err
	}
	var gone []objectDoc
	fo := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "da", Value: 1}})
	if err := s.find(ctx, shapeVersions, "", f, &gone, fo); err != nil {
		return 0, err
	}
	res, err := s.db.Collection(collObjects).DeleteMany(ctx, f)
	if err != nil {
		return 0, s.wrap(ctx, "remove members", err)
	}
	if res.DeletedCount > 0 {
		das := make([]int64, len(gone))
		for i := range gone {
			das[i] = gone[i].DA
		}
		if err := s.afterDelete(ctx, collection, res.DeletedCount, das); err != nil {
			return int(res.DeletedCount), err
		}
	}
	return int(res.DeletedCount), nil
}

// DeleteObject deletes the versions of id that match f.
func (s *Store) DeleteObject(ctx context.Context, collection, id string, f storage.Filter) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if _, err := s.collDoc(ctx, collection); err != nil {
		return 0, err
	}
	vf, err := parseVersions(f.Versions, storage.VersionAll)
	if err != nil {
		return 0, err
	}
	q, err := shapeVersions.filter(cond{"c", collection}, cond{"id", id})
	if err != nil {
		return 0, err
	}
	var vs []objectDoc
	if err := s.find(ctx, shapeVersions, "", q, &vs, options.Find().SetProjection(projManifest)); err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, fmt.Errorf("mongo: object %s in collection %q: %w", id, collection, storage.ErrNotFound)
	}
	inSpec := func(sv string) bool { return len(f.SpecVersions) == 0 || contains(f.SpecVersions, sv) }
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, v := range vs {
		if inSpec(v.SV) {
			lo, hi = min(lo, v.V), max(hi, v.V)
		}
	}
	var del []bson.ObjectID
	var delDA []int64
	for _, v := range vs {
		if inSpec(v.SV) && vf.match(v.V, lo, hi) {
			del = append(del, v.OID)
			delDA = append(delDA, v.DA)
		}
	}
	if len(del) == 0 {
		return 0, nil
	}
	q, err = shapeByOID.filter(cond{"_id", bson.D{{Key: "$in", Value: del}}})
	if err != nil {
		return 0, err
	}
	res, err := s.db.Collection(collObjects).DeleteMany(ctx, q)
	if err != nil {
		return 0, s.wrap(ctx, "delete object", err)
	}
	if res.DeletedCount > 0 {
		if err := s.afterDelete(ctx, collection, res.DeletedCount, delDA); err != nil {
			return int(res.DeletedCount), err
		}
	}
	return int(res.DeletedCount), nil
}

func uniq(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
