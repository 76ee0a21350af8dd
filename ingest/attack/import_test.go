package attack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// collector records what Import writes; re-puts of a stored (id, modified) count
// as Existing, as the storage contract says.
type collector struct {
	objs map[string][]stix.RawObject
	seen map[string]bool
}

func (c *collector) PutObjects(_ context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	res := &storage.WriteResult{}
	for _, o := range objs {
		k := o.ID
		if o.Modified != nil {
			k += o.Modified.String()
		}
		if c.seen[k] {
			res.Existing++
			continue
		}
		c.seen[k] = true
		c.objs[coll] = append(c.objs[coll], o)
		res.Added++
	}
	return res, nil
}

func (c *collector) DeleteObject(context.Context, string, string, storage.Filter) (int, error) {
	return 0, nil
}

func TestImportByteExact(t *testing.T) {
	file, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{objs: map[string][]stix.RawObject{}, seen: map[string]bool{}}
	res, err := attack.Import(context.Background(), c, "attack", sample)
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 25 || res.Added != 25 || res.Existing != 0 {
		t.Fatalf("Import = %+v", res)
	}
	want := bundleObjects(t, sample)
	for i, o := range c.objs["attack"] {
		if !bytes.Contains(file, o.JSON) || o.JSON[0] != '{' {
			t.Fatalf("object %d (%s) is not a byte-exact copy of the file's bytes", i, o.ID)
		}
		var got map[string]any
		if err := json.Unmarshal(o.JSON, &got); err != nil {
			t.Fatal(err)
		}
		if got["id"] != want[i]["id"] || o.ID != want[i]["id"] || o.Type != want[i]["type"] {
			t.Fatalf("object %d: got %s, want %s", i, o.ID, want[i]["id"])
		}
	}
	res, err = attack.Import(context.Background(), c, "attack", sample)
	if err != nil || res.Existing != 25 || res.Added != 0 {
		t.Fatalf("re-import = %+v, %v", res, err)
	}
	if _, err := attack.Import(context.Background(), c, "attack", "testdata/missing.json"); err == nil {
		t.Fatal("missing file imported")
	}
}
