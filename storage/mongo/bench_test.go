package mongo_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/mongo"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// The read fixture: a database holding CTIBROKER_BENCH_N ~1 KB objects (default
// 2000 on FerretDB, whose every query decodes the whole MongoDB collection, and
// 100 000 on MongoDB) in one stored collection, every tenth a malware. Built once
// per test binary and dropped at exit.
const benchColl = "bench-stored"

var (
	fixtureOnce sync.Once
	fixtureDB   string
	fixtureN    int
	fixtureErr  error
	dropFixture = func() {}
)

func benchN(flavor string) int {
	if v, err := strconv.Atoi(os.Getenv("CTIBROKER_BENCH_N")); err == nil && v > 0 {
		return v
	}
	if flavor == "ferretdb" {
		return 2000
	}
	return 100000
}

func benchObjects(n int) []stix.RawObject {
	objs := make([]stix.RawObject, n)
	for i := range objs {
		if i%10 == 3 {
			objs[i] = storagetest.SDO("malware", "malware--"+bson.NewObjectID().Hex()+"-0000-4000-8000", time.Now(), "2.1", 1000)
		} else {
			objs[i] = storagetest.Indicator(time.Now())
		}
	}
	return objs
}

func fixture(b *testing.B, uri, flavor string) string {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureN = benchN(flavor)
		fixtureDB = mongo.TempDatabase()
		db := fixtureDB
		dropFixture = func() { mongo.DropTestDatabase(uri, db) }
		st, err := mongo.Open(context.Background(), uri, mongo.Options{Database: db})
		if err != nil {
			fixtureErr = err
			return
		}
		defer st.Close()
		if fixtureErr = st.EnsureCollection(context.Background(), benchColl, storage.KindStored); fixtureErr != nil {
			return
		}
		for done := 0; done < fixtureN; done += 1000 {
			if _, fixtureErr = st.PutObjects(context.Background(), benchColl, benchObjects(min(1000, fixtureN-done))); fixtureErr != nil {
				return
			}
		}
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixtureDB
}

// BenchmarkPutObjects stores batches of 1000 ~1 KB indicators with random ids
// (acknowledged by the server's write concern before returning) and compares
// with a raw unordered insertMany of the same documents into an unindexed
// collection, measured in the same run.
func BenchmarkPutObjects(b *testing.B) {
	uri, _ := mongo.TestURI(b)
	ctx := context.Background()
	st := mongo.MustOpenTemp(b, mongo.Options{})
	if err := st.EnsureCollection(ctx, "ingest", storage.KindStored); err != nil {
		b.Fatal(err)
	}
	raw, err := mongodrv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Disconnect(ctx)
	rawColl := raw.Database(st.Database()).Collection("raw_baseline")
	const batch = 1000
	var ours, base time.Duration
	for b.Loop() {
		objs := benchObjects(batch)
		docs := make([]bson.D, len(objs))
		for i, o := range objs {
			docs[i] = bson.D{{Key: "id", Value: o.ID}, {Key: "j", Value: []byte(o.JSON)}}
		}
		t0 := time.Now()
		if _, err := rawColl.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		res, err := st.PutObjects(ctx, "ingest", objs)
		if err != nil || res.Added != batch {
			b.Fatalf("PutObjects: %+v, %v", res, err)
		}
		base += t1.Sub(t0)
		ours += time.Since(t1)
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/ours.Seconds(), "objects/s")
	b.ReportMetric(n/base.Seconds(), "raw-objects/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "ratio-to-raw")
}

// BenchmarkQueryPage reads a 1000-object page (objects with bytes, default
// match[version]=last) at a random depth of the fixture collection, and with a
// 10 %-selective match[type], and compares with a raw find of the same number of
// documents on the (c, da) index in the same run. Reports p99 latency.
func BenchmarkQueryPage(b *testing.B) {
	uri, flavor := mongo.TestURI(b)
	db := fixture(b, uri, flavor)
	st := mongo.MustOpen(b, uri, mongo.Options{Database: db})
	ctx := context.Background()
	all, err := st.QueryManifest(ctx, benchColl, storage.Filter{Limit: 100000, Versions: []string{storage.VersionAll}})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := mongodrv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Disconnect(ctx)
	rawColl := raw.Database(db).Collection("objects")
	for _, tc := range []struct {
		name  string
		types []string
	}{{"all", nil}, {"type-10pct", []string{"malware"}}} {
		b.Run(tc.name, func(b *testing.B) {
			const limit = 1000
			var lat, baseLat []time.Duration
			for b.Loop() {
				depth := rand.IntN(max(1, len(all.Records)-limit))
				after := all.Records[depth].DateAdded
				t0 := time.Now()
				pg, err := st.QueryObjects(ctx, benchColl, storage.Filter{AddedAfter: after, Types: tc.types, Limit: limit})
				if err != nil || len(pg.Records) == 0 {
					b.Fatalf("QueryObjects: %v, %d records", err, len(pg.Records))
				}
				t1 := time.Now()
				filter := bson.D{{Key: "c", Value: benchColl}, {Key: "da", Value: bson.D{{Key: "$gt", Value: after.UnixMicro()}}}}
				cur, err := rawColl.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "da", Value: 1}}).SetLimit(int64(len(pg.Records))))
				if err != nil {
					b.Fatal(err)
				}
				var docs []bson.Raw
				if err := cur.All(ctx, &docs); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, t1.Sub(t0))
				baseLat = append(baseLat, time.Since(t1))
			}
			slices.Sort(lat)
			slices.Sort(baseLat)
			var sum, bsum time.Duration
			for i := range lat {
				sum += lat[i]
				bsum += baseLat[i]
			}
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(baseLat[len(baseLat)*99/100].Microseconds())/1000, "raw-p99-ms")
			b.ReportMetric(bsum.Seconds()/sum.Seconds(), "ratio-to-raw")
			b.ReportMetric(float64(fixtureN), "collection-size")
		})
	}
}
