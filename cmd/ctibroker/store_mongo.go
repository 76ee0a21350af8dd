package main

import (
	"context"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/mongo"
)

// openMongo connects to the MongoDB named by uri (database from the URI path,
// default "ctibroker"), creating missing indexes.
func openMongo(ctx context.Context, uri string) (storage.Store, error) {
	return mongo.Open(ctx, uri, mongo.Options{})
}
