package mongo

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// halfWrite does what a writer killed mid-batch leaves behind: a reservation for
// objs and the first n of them inserted, never finished.
func halfWrite(t *testing.T, s *Store, coll string, objs []stix.RawObject, n int) *reservation {
	t.Helper()
	ctx := context.Background()
	r, err := s.reserve(ctx, coll, storage.KindStored, len(objs))
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]any, n)
	for i := 0; i < n; i++ {
		vk, v, err := versionKey(&objs[i])
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = objectDoc{OID: bson.NewObjectID(), C: coll, DA: r.lo + int64(i), ID: objs[i].ID, T: objs[i].Type, SV: "2.1", V: v, VK: vk, J: objs[i].JSON}
	}
	if _, err := s.db.Collection(collObjects).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	return r
}

func visible(t *testing.T, s *Store, coll string) map[string]bool {
	t.Helper()
	pg, err := s.QueryManifest(context.Background(), coll, storage.Filter{Versions: []string{storage.VersionAll}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range pg.Records {
		out[r.ID] = true
	}
	return out
}

// TestRetryAfterDeadWriter: a batch that repeats versions a dead writer had half
// inserted must not count them as existing (they are discarded when the dead
// writer's reservation expires); it waits for the expiry and stores them.
func TestRetryAfterDeadWriter(t *testing.T) {
	ctx := context.Background()
	dead := MustOpenTemp(t, Options{PendingTTL: 2 * time.Second})
	s := MustOpen(t, mustURI(t), Options{Database: dead.Database()})
	if err := s.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	before := storagetest.Indicator(time.Now())
	if _, err := s.PutObjects(ctx, "c", []stix.RawObject{before}); err != nil {
		t.Fatal(err)
	}
	objs := []stix.RawObject{storagetest.Indicator(time.Now()), storagetest.Indicator(time.Now()), storagetest.Indicator(time.Now())}
	halfWrite(t, dead, "c", objs, 2)

	if v := visible(t, s, "c"); len(v) != 1 || !v[before.ID] {
		t.Fatalf("with a dead writer's half batch in flight: visible %v, want only the earlier object", v)
	}
	start := time.Now()
	res, err := s.PutObjects(ctx, "c", objs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Existing != 0 {
		t.Fatalf("retry of the dead writer's batch: %+v, want 3 added", res)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("the retry returned after %s, before the dead writer's reservation (2 s) expired", waited)
	}
	v := visible(t, s, "c")
	for _, o := range append(objs, before) {
		if !v[o.ID] {
			t.Errorf("%s not visible after the retry", o.ID)
		}
	}
	info, _ := s.CollectionInfo(ctx, "c")
	if info.Count != 4 {
		t.Errorf("count %d, want 4", info.Count)
	}
}

// TestConcurrentSameVersions: a batch repeating versions another live writer is
// writing waits for that write and then counts them as existing.
func TestConcurrentSameVersions(t *testing.T) {
	ctx := context.Background()
	s := MustOpenTemp(t, Options{})
	if err := s.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	objs := []stix.RawObject{storagetest.Indicator(time.Now()), storagetest.Indicator(time.Now())}
	r := halfWrite(t, s, "c", objs, 2)
	done := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ok, err := s.finish(ctx, "c", r, 2, r.lo, r.lo+1)
		if err == nil && !ok {
			t.Error("finish: reservation gone")
		}
		done <- err
	}()
	res, err := s.PutObjects(ctx, "c", append(objs, storagetest.Indicator(time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Existing != 2 {
		t.Fatalf("PutObjects while the same versions were being written: %+v, want Added 1 Existing 2", res)
	}
	if v := visible(t, s, "c"); len(v) != 3 {
		t.Fatalf("visible %d objects, want 3", len(v))
	}
}

func mustURI(t *testing.T) string {
	uri, _ := TestURI(t)
	return uri
}

// TestPutObjectsRejects needs no server: bad objects are refused before any write,
// naming the offending object.
func TestPutObjectsRejects(t *testing.T) {
	s := &Store{}
	big := make([]byte, maxObjectBytes+1)
	for name, tt := range map[string]struct {
		obj  stix.RawObject
		prop string
	}{
		"no id":     {stix.RawObject{Common: stix.Common{Type: "indicator"}, JSON: []byte(`{}`)}, "objects[1].id"},
		"no type":   {stix.RawObject{Common: stix.Common{ID: "x--1"}, JSON: []byte(`{}`)}, "objects[1].type"},
		"no bytes":  {stix.RawObject{Common: stix.Common{ID: "x--1", Type: "x"}}, "objects[1]"},
		"too large": {stix.RawObject{Common: stix.Common{ID: "x--1", Type: "x"}, JSON: big}, "objects[1]"},
		"bad SCO":   {stix.RawObject{Common: stix.Common{ID: "x--1", Type: "x"}, JSON: []byte(`{"a":`)}, "objects[1]"},
	} {
		t.Run(name, func(t *testing.T) {
			ok := storagetest.Indicator(time.Now())
			_, err := s.PutObjects(context.Background(), "c", []stix.RawObject{ok, tt.obj})
			var ve *stix.ValidationError
			if !errors.As(err, &ve) || ve.Property != tt.prop {
				t.Fatalf("got %v, want a ValidationError on %s", err, tt.prop)
			}
		})
	}
}

// TestFinishedAnyway: after an error from finish, the writer asks whether the
// update was applied (reply lost) before undoing its batch.
func TestFinishedAnyway(t *testing.T) {
	ctx := context.Background()
	s := MustOpenTemp(t, Options{})
	if err := s.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	objs := []stix.RawObject{storagetest.Indicator(time.Now())}
	r := halfWrite(t, s, "c", objs, 1)
	var probe objectDoc
	if err := s.db.Collection(collObjects).FindOne(ctx, bson.D{{Key: "c", Value: "c"}}).Decode(&probe); err != nil {
		t.Fatal(err)
	}
	if s.finishedAnyway("c", r, probe.OID) {
		t.Fatal("a reservation still registered counts as finished")
	}
	if ok, err := s.finish(ctx, "c", r, 1, r.lo, r.lo); err != nil || !ok {
		t.Fatalf("finish: %v %v", ok, err)
	}
	if !s.finishedAnyway("c", r, probe.OID) {
		t.Fatal("a finished reservation does not count as finished")
	}
	if s.finishedAnyway("c", r, bson.NewObjectID()) {
		t.Fatal("a reservation whose records are gone (discarded) counts as finished")
	}
}
