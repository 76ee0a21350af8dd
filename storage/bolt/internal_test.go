package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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
