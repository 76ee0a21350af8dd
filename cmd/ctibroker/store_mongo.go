package main

import (
	"context"
	"errors"

	"github.com/ctibroker/ctibroker/storage"
)

func openMongo(ctx context.Context, url string) (storage.Store, error) {
	return nil, errors.New("mongodb store: not wired yet")
}
