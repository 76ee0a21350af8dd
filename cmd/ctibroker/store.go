package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// openStore opens the store named by url: `embedded:DIR` (a relative DIR resolves
// against the working directory) or a mongodb:// / mongodb+srv:// URI.
func openStore(ctx context.Context, url string) (storage.Store, error) {
	switch {
	case strings.HasPrefix(url, "embedded:"):
		dir := strings.TrimPrefix(url, "embedded:")
		if dir == "" {
			return nil, fmt.Errorf("store %q: embedded: needs a directory", url)
		}
		return bolt.Open(dir, bolt.Options{})
	case strings.HasPrefix(url, "mongodb://"), strings.HasPrefix(url, "mongodb+srv://"):
		return openMongo(ctx, url)
	}
	return nil, fmt.Errorf("store %q: want embedded:DIR or a mongodb:// URI", redactURI(url))
}
