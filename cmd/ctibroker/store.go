package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// openStore opens the store named by url: `embedded:DIR` (relative DIR resolves
// against base) or a mongodb:// / mongodb+srv:// URI.
func openStore(ctx context.Context, url, base string, readOnly bool) (storage.Store, error) {
	switch {
	case strings.HasPrefix(url, "embedded:"):
		dir := strings.TrimPrefix(url, "embedded:")
		if dir == "" {
			return nil, fmt.Errorf("store %q: embedded: needs a directory", url)
		}
		if !filepath.IsAbs(dir) && base != "" {
			dir = filepath.Join(base, dir)
		}
		return bolt.Open(dir, bolt.Options{ReadOnly: readOnly})
	case strings.HasPrefix(url, "mongodb://"), strings.HasPrefix(url, "mongodb+srv://"):
		return openMongo(ctx, url)
	}
	return nil, fmt.Errorf("store %q: want embedded:DIR or a mongodb:// URI", redactURI(url))
}
