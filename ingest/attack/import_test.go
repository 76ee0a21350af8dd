package attack_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

func TestImportByteExact(t *testing.T) {
	ctx := context.Background()
	file, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	if err := s.EnsureCollection(ctx, "attack", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	res, err := attack.Import(ctx, s, "attack", sample)
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 25 || res.Added != 25 || res.Existing != 0 {
		t.Fatalf("Import = %+v", res)
	}
	want := bundleObjects(t, sample)
	for _, o := range want {
		id := o["id"].(string)
		page, err := s.GetObject(ctx, "attack", id, storage.Filter{})
		if err != nil {
			t.Fatalf("GetObject(%s): %v", id, err)
		}
		got := page.Records[0].JSON
		if !bytes.Contains(file, got) || got[0] != '{' || !bytes.Contains(got, []byte(`"id": "`+id+`"`)) {
			t.Fatalf("%s: stored bytes are not a byte-exact copy of the file's object", id)
		}
	}
	res, err = attack.Import(ctx, s, "attack", sample)
	if err != nil || res.Existing != 25 || res.Added != 0 {
		t.Fatalf("re-import = %+v, %v", res, err)
	}
	if _, err := attack.Import(ctx, s, "attack", "testdata/missing.json"); err == nil {
		t.Fatal("missing file imported")
	}
	if _, err := attack.Import(ctx, s, "nope", sample); err == nil {
		t.Fatal("import into a missing collection succeeded")
	}
}

// TestImportRelease imports the three v18.1 bundles into the embedded store:
// every object is read, each distinct (id, version) stored once.
func TestImportRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("imports ~29 000 objects")
	}
	ctx := context.Background()
	files := []string{
		sharedAttack(t, "enterprise-attack-18.1.json.gz"),
		sharedAttack(t, "mobile-attack-18.1.json.gz"),
		sharedAttack(t, "ics-attack-18.1.json.gz"),
	}
	total := 0
	distinct := map[string]bool{}
	for _, f := range files {
		for _, o := range bundleObjects(t, f) {
			total++
			v, _ := o["modified"].(string)
			if v == "" {
				v, _ = o["created"].(string)
			}
			distinct[o["id"].(string)+"|"+v] = true
		}
	}
	s := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	if err := s.EnsureCollection(ctx, "attack", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	res, err := attack.Import(ctx, s, "attack", files...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != total || res.Added != len(distinct) || res.Added+res.Existing != total {
		t.Fatalf("Import = %+v; want %d objects, %d distinct versions", res, total, len(distinct))
	}
	info, err := s.CollectionInfo(ctx, "attack")
	if err != nil || info.Count != int64(len(distinct)) {
		t.Fatalf("collection %+v, %v; want %d versions", info, err, len(distinct))
	}
}
