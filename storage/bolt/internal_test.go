package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

func TestNewerFormatRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st := MustOpen(t, dir)
	err := st.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktMeta).Put(keyFormat, binary.BigEndian.AppendUint64(nil, Format+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = Open(dir, Options{})
	if !errors.Is(err, storage.ErrFormat) || !strings.Contains(err.Error(), "format 2") {
		t.Fatalf("Open of a newer format: %v, want ErrFormat naming format 2", err)
	}
}

func TestMigration(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st := MustOpen(t, dir)
	// Pretend the file is format 0 (before formats): Open recreates the missing buckets.
	err := st.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bktSeq); err != nil {
			return err
		}
		return tx.Bucket(bktMeta).Delete(keyFormat)
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = MustOpen(t, dir)
	if _, err := st.NextSequence(context.Background(), "sid", 1, 1); err != nil {
		t.Fatalf("after migration: %v", err)
	}
	st.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bktMeta).Get(keyFormat); binary.BigEndian.Uint64(v) != Format {
			t.Errorf("format after migration %d, want %d", binary.BigEndian.Uint64(v), Format)
		}
		return nil
	})
}

func TestCheckRepair(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t, filepath.Join(t.TempDir(), "db"))
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	obj := stix.RawObject{JSON: []byte(`{"type":"identity","spec_version":"2.1","id":"identity--7f2a4e0c-2f0a-4f55-9c1b-0d7a9d1e6a01","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"x"}`)}
	if _, err := st.PutObjects(ctx, "c", []stix.RawObject{obj}); err != nil {
		t.Fatal(err)
	}
	// Damage the advisory counters.
	err := st.db.Update(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, "c")
		if err != nil {
			return err
		}
		c.info.count, c.info.first = 42, 0
		return c.saveInfo()
	})
	if err != nil {
		t.Fatal(err)
	}
	report, err := st.Check(ctx, false)
	if err != nil || len(report) != 1 || !strings.Contains(report[0], "count=42") {
		t.Fatalf("Check = %v, %v; want one finding about count=42", report, err)
	}
	if info, _ := st.CollectionInfo(ctx, "c"); info.Count != 42 {
		t.Fatal("Check without repair changed the counters")
	}
	if _, err := st.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	info, _ := st.CollectionInfo(ctx, "c")
	if info.Count != 1 || info.FirstAdded.IsZero() || !info.FirstAdded.Equal(info.LastAdded) {
		t.Fatalf("after repair: %+v", info)
	}
	if report, _ := st.Check(ctx, false); len(report) != 0 {
		t.Fatalf("Check after repair: %v", report)
	}
}

func TestBloom(t *testing.T) {
	b := newBloom(1000)
	for i := 0; i < 1000; i++ {
		b.add([]byte("indicator--" + strconv.Itoa(i)))
	}
	fp := 0
	for i := 0; i < 1000; i++ {
		if !b.mayContain([]byte("indicator--" + strconv.Itoa(i))) {
			t.Fatalf("added id %d not found", i)
		}
		if b.mayContain([]byte("malware--" + strconv.Itoa(i))) {
			fp++
		}
	}
	if fp > 50 {
		t.Fatalf("%d false positives in 1000, want about 1 %%", fp)
	}
	if c := decodeBloom(b.encode()); c == nil || !bytes.Equal(c.bits, b.bits) || c.n != b.n {
		t.Fatal("bloom does not round-trip")
	}
}

// TestBloomInFile checks that writers test the filters where they are stored
// (nothing is loaded at Open) and that a filter that is missing, truncated or
// not a filter at all only costs index reads: a version already stored is
// still found, a new one still added.
func TestBloomInFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	open := func() *Store {
		st, err := Open(dir, Options{NoSync: true, IndexTail: 300, IndexGenerations: 3})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	id := func(i int) string { return fmt.Sprintf("identity--7f2a4e0c-2f0a-4f55-9c1b-%012x", i) }
	obj := func(i int, mod string) stix.RawObject {
		return stix.RawObject{JSON: fmt.Appendf(nil, `{"type":"identity","spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"x"}`, id(i), mod)}
	}
	batch := func(from, to int, mod string) []stix.RawObject {
		var objs []stix.RawObject
		for i := from; i < to; i++ {
			objs = append(objs, obj(i, mod))
		}
		return objs
	}
	const v1, v2, v3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"
	st := open()
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	for from := 0; from < 2000; from += 250 { // merges into generations and compactions
		if _, err := st.PutObjects(ctx, "c", batch(from, from+250, v1)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = open()
	defer func() { st.Close() }()

	// Every filter holds every id of its bucket, and keeps most absent ids out.
	gens := 0
	err := st.db.View(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, "c")
		if err != nil {
			return err
		}
		gens = len(c.gens)
		for i := 0; i <= len(c.gens); i++ {
			n := 0
			err := c.idx(i).ForEach(func(k, _ []byte) error {
				n++
				if !c.mayHave(i, string(idOfKey(k))) {
					t.Errorf("index bucket %d: filter misses %s", i, idOfKey(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if c.blooms[i] == nil {
				t.Errorf("index bucket %d (%d entries) has no filter in the file", i, n)
			}
		}
		fp := 0
		for i := 5000; i < 6000; i++ {
			if c.mayHave(0, id(i)) {
				fp++
			}
		}
		if fp > 100 {
			t.Errorf("%d of 1000 absent ids pass the main filter, want about 1 %%", fp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gens == 0 {
		t.Fatal("want at least one generation besides the main bucket: the test covers both")
	}
	if r, err := st.PutObjects(ctx, "c", batch(0, 2000, v1)); err != nil || r.Existing != 2000 || r.Added != 0 {
		t.Fatalf("re-put of 2000 stored versions: %+v, %v; want 2000 existing", r, err)
	}

	// Damage the filters three ways: gone, truncated, garbage.
	err = st.db.Update(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, "c")
		if err != nil {
			return err
		}
		if err := c.b.Delete(keyBloom); err != nil {
			return err
		}
		for j, no := range c.genNo {
			v := bytes.Clone(c.b.Get(genBloomKey(no)))
			if j%2 == 0 {
				v = v[:len(v)/2]
			} else {
				v = bytes.Repeat([]byte{0xff}, 20)
			}
			if err := c.b.Put(genBloomKey(no), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.PutObjects(ctx, "c", batch(0, 2000, v1)); err != nil || r.Existing != 2000 || r.Added != 0 {
		t.Fatalf("re-put with damaged filters: %+v, %v; want 2000 existing", r, err)
	}
	if r, err := st.PutObjects(ctx, "c", batch(0, 100, v2)); err != nil || r.Existing != 0 || r.Added != 100 {
		t.Fatalf("new versions with damaged filters: %+v, %v; want 100 added", r, err)
	}
	// The next compaction writes a sound main filter again.
	for from := 100; from < 2000; from += 250 {
		if _, err := st.PutObjects(ctx, "c", batch(from, min(from+250, 2000), v2)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = open()
	err = st.db.View(func(tx *bbolt.Tx) error {
		c, err := openColl(tx, "c")
		if err != nil {
			return err
		}
		c.mayHave(0, "")
		if c.blooms[0] == nil {
			t.Error("no main filter after the compactions that followed the damage")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.PutObjects(ctx, "c", append(batch(0, 2000, v2), batch(0, 2000, v3)...)); err != nil || r.Existing != 2000 || r.Added != 2000 {
		t.Fatalf("re-put of v2 and new v3: %+v, %v; want 2000 existing, 2000 added", r, err)
	}
	if info, _ := st.CollectionInfo(ctx, "c"); info.Count != 6000 {
		t.Fatalf("collection holds %d versions, want 6000", info.Count)
	}
}
