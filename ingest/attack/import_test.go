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
