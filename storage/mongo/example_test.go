package mongo_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/mongo"
)

// ExampleOpen opens a store on a replica set and reads the first page of a
// collection. (Not run: it needs a server.)
func ExampleOpen() {
	ctx := context.Background()
	st, err := mongo.Open(ctx, "mongodb://ctibroker:secret@db1:27017,db2:27017/ctibroker?replicaSet=rs0&w=majority", mongo.Options{})
	if err != nil {
		log.Fatal(err) // e.g. "mongo: server db1:27017,db2:27017 does not answer within 10s ..."
	}
	defer st.Close()
	if err := st.EnsureCollection(ctx, "pool", storage.KindStored); err != nil {
		log.Fatal(err)
	}
	page, err := st.QueryObjects(ctx, "pool", storage.Filter{Types: []string{"indicator"}, Limit: 1000})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page.Records), page.More)
}
