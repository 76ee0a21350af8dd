package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// raw builds a stix.RawObject from its exact bytes.
func raw(js string) stix.RawObject {
	var o stix.RawObject
	if err := json.Unmarshal([]byte(js), &o.Common); err != nil {
		log.Fatal(err)
	}
	o.JSON = []byte(js)
	return o
}

// openExample opens an embedded store in a temporary directory.
func openExample() (*bolt.Store, func()) {
	dir, err := os.MkdirTemp("", "ctibroker-example-")
	if err != nil {
		log.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(dir, "db"), bolt.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return st, func() { st.Close(); os.RemoveAll(dir) }
}

var exampleObjects = []string{
	`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`,
	`{"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z","name":"Emotet","is_family":true}`,
	`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00.000Z","modified":"2024-02-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","revoked":true}`,
}

// ExportBundle writes a whole collection, every version, as one STIX bundle.
func ExampleExportBundle() {
	st, done := openExample()
	defer done()
	ctx := context.Background()
	if err := st.EnsureCollection(ctx, "inbox", storage.KindStored); err != nil {
		log.Fatal(err)
	}
	var objs []stix.RawObject
	for _, js := range exampleObjects {
		objs = append(objs, raw(js))
	}
	if _, err := st.PutObjects(ctx, "inbox", objs); err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer
	if err := storage.ExportBundle(ctx, st, "inbox", &out); err != nil {
		log.Fatal(err)
	}
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(out.Bytes(), &bundle); err != nil {
		log.Fatal(err)
	}
	fmt.Println(bundle.Type, len(bundle.Objects), "objects")
	for i, o := range bundle.Objects {
		fmt.Println(i, string(o) == exampleObjects[i])
	}
	// Output:
	// bundle 3 objects
	// 0 true
	// 1 true
	// 2 true
}

// A Filter mirrors the TAXII 2.1 query parameters; Next continues a page.
func ExampleFilter() {
	st, done := openExample()
	defer done()
	ctx := context.Background()
	if err := st.EnsureCollection(ctx, "inbox", storage.KindStored); err != nil {
		log.Fatal(err)
	}
	for _, js := range exampleObjects {
		if _, err := st.PutObjects(ctx, "inbox", []stix.RawObject{raw(js)}); err != nil {
			log.Fatal(err)
		}
	}
	show := func(what string, f storage.Filter) {
		pg, err := st.QueryManifest(ctx, "inbox", f)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: more=%v\n", what, pg.More)
		for _, r := range pg.Records {
			fmt.Println("  ", r.ID, r.Version.Format(time.DateOnly))
		}
	}
	show("latest versions (default)", storage.Filter{})
	show("indicator, every version", storage.Filter{Types: []string{"indicator"}, Versions: []string{storage.VersionAll}})
	show("first versions, one a page", storage.Filter{Versions: []string{storage.VersionFirst}, Limit: 1})

	// Follow Next to the end.
	f := storage.Filter{Versions: []string{storage.VersionAll}, Limit: 2}
	n := 0
	for {
		pg, err := st.QueryObjects(ctx, "inbox", f)
		if err != nil {
			log.Fatal(err)
		}
		n += len(pg.Records)
		if !pg.More {
			break
		}
		f.Next = pg.Next
	}
	fmt.Println("paged through", n, "versions")
	// Output:
	// latest versions (default): more=false
	//    malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061 2024-01-02
	//    indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f 2024-02-01
	// indicator, every version: more=false
	//    indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f 2024-01-01
	//    indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f 2024-02-01
	// first versions, one a page: more=true
	//    indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f 2024-01-01
	// paged through 3 versions
}
