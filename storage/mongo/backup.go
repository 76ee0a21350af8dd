package mongo

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ctibroker/ctibroker/storage"
)

var _ storage.Backuper = (*Store)(nil)

// BackupFormat names the stream Backup writes.
const BackupFormat = "ctibroker-mongo-dump/1"

// Backup writes a logical copy of the store to w while it stays usable: a stream
// of BSON documents, the first {format, database}, then one {coll, doc} per
// stored document. Object records of each ctibroker collection are copied up to
// that collection's visibility watermark when the backup starts, in date_added
// order, so each collection is copied as a consistent prefix; deletes and the
// small runtime collections (statuses, feeds, leases, ...) are copied as they are
// when reached. For a point-in-time copy of a replica set use mongodump --oplog.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := s.check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	put := func(v any) error {
		b, err := bson.Marshal(v)
		if err != nil {
			return fmt.Errorf("mongo: backup: %v", err)
		}
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("mongo: backup: %w", err)
		}
		return nil
	}
	if err := put(bson.D{{Key: "format", Value: BackupFormat}, {Key: "database", Value: s.db.Name()}}); err != nil {
		return err
	}
	var colls []collDoc
	if err := s.find(ctx, shapeCollAll, "", bson.D{}, &colls, options.Find().SetSort(shapeCollAll.sort(true))); err != nil {
		return err
	}
	for _, d := range colls {
		d.Pending = []pending{}
		if err := put(bson.D{{Key: "coll", Value: collCollections}, {Key: "doc", Value: d}}); err != nil {
			return err
		}
	}
	for _, d := range colls {
		f, err := shapePage.filter(cond{"c", d.ID}, cond{"da", bson.D{{Key: "$lte", Value: d.watermark()}}})
		if err != nil {
			return err
		}
		if err := s.dump(ctx, collObjects, f, shapePage.sort(true), put); err != nil {
			return err
		}
	}
	for _, c := range []string{collStatuses, collFeeds, collProvenance, collSightings, collMISPEvents, collLeases, collSequences} {
		f, err := shapeDump.filter()
		if err != nil {
			return err
		}
		if err := s.dump(ctx, c, f, nil, put); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mongo: backup: %w", err)
	}
	return nil
}

// dump streams the documents of coll matching filter to put.
func (s *Store) dump(ctx context.Context, coll string, filter bson.D, sort bson.D, put func(any) error) error {
	fo := options.Find().SetBatchSize(1000)
	if sort != nil {
		fo.SetSort(sort)
	}
	cur, err := s.db.Collection(coll).Find(ctx, filter, fo)
	if err != nil {
		return s.wrap(ctx, "backup "+coll, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if err := put(bson.D{{Key: "coll", Value: coll}, {Key: "doc", Value: cur.Current}}); err != nil {
			return err
		}
	}
	return s.wrap(ctx, "backup "+coll, cur.Err())
}
