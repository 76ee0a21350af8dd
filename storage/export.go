package storage

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/google/uuid"
)

// exportSpecVersions lists every STIX spec version a stored object can carry, so
// that an export holds every version, not only each object's highest spec version.
var exportSpecVersions = []string{"2.0", "2.1"}

// ExportBundle writes every object version stored in collection as one STIX 2.1
// bundle, {"type":"bundle","id":"bundle--<uuid>","objects":[...]}, oldest
// date_added first. It pages through r with QueryObjects (match[version]=all,
// 1000 records a page) and splices the stored bytes unchanged, so memory stays
// at about one page whatever the collection size. Returns ErrNotFound when the
// collection does not exist, or the first write error.
func ExportBundle(ctx context.Context, r ObjectReader, collection string, w io.Writer) error {
	f := Filter{Versions: []string{VersionAll}, SpecVersions: exportSpecVersions, Limit: 1000}
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	for {
		pg, err := r.QueryObjects(ctx, collection, f)
		if err != nil {
			return fmt.Errorf("export %s: %w", collection, err)
		}
		if f.Next == "" {
			fmt.Fprintf(bw, `{"type":"bundle","id":"bundle--%s","objects":[`, uuid.NewString())
		}
		for _, rec := range pg.Records {
			if n > 0 {
				bw.WriteByte(',')
			}
			n++
			bw.Write(rec.JSON)
		}
		if !pg.More {
			break
		}
		if pg.Next == "" || pg.Next == f.Next {
			return fmt.Errorf("export %s: the store said more without a new next position", collection)
		}
		f.Next = pg.Next
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}
