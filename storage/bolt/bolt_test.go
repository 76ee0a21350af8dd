package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

var ctx = context.Background()

func TestOpenInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st := bolt.MustOpen(t, dir)
	if _, err := os.Stat(filepath.Join(dir, bolt.FileName)); err != nil {
		t.Fatalf("store file: %v", err)
	}
	_, err := bolt.Open(dir, bolt.Options{Timeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("second Open of a held store: no error")
	}
	want := fmt.Sprintf("store %s is in use by another process (pid %d)", dir, os.Getpid())
	if err.Error() != want {
		t.Fatalf("second Open: %q, want %q", err, want)
	}
	st.Close()
	st2, err := bolt.Open(dir, bolt.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	st2.Close()
	if _, err := st.QueryObjects(ctx, "x", storage.Filter{}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("query on a closed store: %v, want ErrClosed", err)
	}
}

func TestOpenNotAStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bolt.FileName), bytes.Repeat([]byte("not bolt"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := bolt.Open(dir, bolt.Options{})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open of a non-bbolt file: %v, want an error naming %s", err, dir)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	if err := st.EnsureCollection(ctx, "inbox", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	objs := []stix.RawObject{storagetest.Indicator(time.Now()), storagetest.SCO("ipv4-addr--6e1e40b3-0a7d-4e2b-8d2f-2c3f7c9f1a11", "192.0.2.9", true)}
	for i := 0; i < 1500; i++ {
		objs = append(objs, storagetest.Indicator(time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC)))
	}
	if _, err := st.PutObjects(ctx, "inbox", objs); err != nil {
		t.Fatal(err)
	}
	var before bytes.Buffer
	if err := storage.ExportBundle(ctx, st, "inbox", &before); err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := st.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if err := bolt.Restore(bytes.NewReader(backup.Bytes()), dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Restore over a running store: %v, want an in-use error", err)
	}
	for _, o := range objs[:10] {
		if _, err := st.DeleteObject(ctx, "inbox", o.ID, storage.Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if err := bolt.Restore(strings.NewReader("garbage"), dir); err == nil {
		t.Fatal("Restore of garbage: no error")
	}
	if err := bolt.Restore(bytes.NewReader(backup.Bytes()), dir); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if st, err = bolt.Open(dir, bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	var after bytes.Buffer
	if err := storage.ExportBundle(ctx, st, "inbox", &after); err != nil {
		t.Fatal(err)
	}
	// Bundle ids differ; every object must come back byte for byte, in order.
	strip := func(b []byte) []byte { return b[bytes.Index(b, []byte(`"objects":[`)):] }
	if !bytes.Equal(strip(before.Bytes()), strip(after.Bytes())) {
		t.Fatalf("export after restore differs from the export before (%d vs %d bytes)", before.Len(), after.Len())
	}
	for _, o := range objs {
		if !bytes.Contains(after.Bytes(), o.JSON) {
			t.Fatalf("object %s missing from the export after restore", o.ID)
		}
	}
	// A restored store into a fresh directory works too.
	dir2 := filepath.Join(t.TempDir(), "fresh")
	if err := bolt.Restore(bytes.NewReader(backup.Bytes()), dir2); err != nil {
		t.Fatalf("Restore into a new dir: %v", err)
	}
	st2 := bolt.MustOpen(t, dir2)
	info, err := st2.CollectionInfo(ctx, "inbox")
	if err != nil || info.Count != int64(len(objs)) {
		t.Fatalf("restored copy: %+v %v, want %d objects", info, err, len(objs))
	}
}

func TestScanBudget(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{NoSync: true, ScanBudget: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	var objs []stix.RawObject
	var want []string
	for i := 0; i < 300; i++ {
		spec := "2.1"
		if i%50 == 7 {
			spec = ""
		}
		o := storagetest.SDO("indicator", fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i), time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC), spec, 100)
		if spec == "" {
			want = append(want, o.ID)
		}
		objs = append(objs, o)
	}
	if _, err := st.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	f := storage.Filter{SpecVersions: []string{"2.0"}, Limit: 100}
	var got []string
	short := 0
	for pages := 0; ; pages++ {
		pg, err := st.QueryManifest(ctx, "c", f)
		if err != nil {
			t.Fatal(err)
		}
		if pages > 100 {
			t.Fatal("no progress")
		}
		for _, r := range pg.Records {
			got = append(got, r.ID)
		}
		if pg.More && len(pg.Records) < f.Limit {
			short++
		}
		if !pg.More {
			break
		}
		f.Next = pg.Next
	}
	if short == 0 {
		t.Fatal("a scan budget of 20 over 300 records never returned a short page")
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paging under a scan budget: got %v, want %v", got, want)
	}
}

func TestDateAddedClockBackwards(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(-time.Second); return now }
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{NoSync: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := st.PutObjects(ctx, "c", []stix.RawObject{storagetest.Indicator(now), storagetest.Indicator(now)}); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := st.QueryManifest(ctx, "c", storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Records) != 6 {
		t.Fatalf("%d records, want 6", len(pg.Records))
	}
	for i := 1; i < len(pg.Records); i++ {
		if d := pg.Records[i].DateAdded.Sub(pg.Records[i-1].DateAdded); d != time.Microsecond && i%2 == 1 {
			t.Fatalf("record %d: date_added step %s, want 1µs within a batch", i, d)
		} else if d <= 0 {
			t.Fatalf("record %d: date_added went backwards with the clock (%s)", i, d)
		}
	}
	if want := time.Date(2029, 12, 31, 23, 59, 59, 0, time.UTC); !pg.Records[0].DateAdded.Equal(want) {
		t.Fatalf("first date_added %s, want the clock %s", pg.Records[0].DateAdded, want)
	}
}

func TestReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := bolt.Open(dir, bolt.Options{NoSync: true, IndexTail: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	o := storagetest.Indicator(time.Now())
	if _, err := st.PutObjects(ctx, "c", []stix.RawObject{o}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro, err := bolt.Open(dir, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	pg, err := ro.GetObject(ctx, "c", o.ID, storage.Filter{})
	if err != nil || len(pg.Records) != 1 || !bytes.Equal(pg.Records[0].JSON, o.JSON) {
		t.Fatalf("read-only GetObject: %v", err)
	}
	if _, err := ro.PutObjects(ctx, "c", []stix.RawObject{storagetest.Indicator(time.Now())}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("PutObjects on a read-only store: %v, want a read-only error", err)
	}
}

// TestTailRebuilt takes a backup while index entries are only in the in-memory
// tail (as after a crash, nothing merged them), and checks that a store opened on
// it finds every version.
func TestTailRebuilt(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{NoSync: true, IndexTail: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	id := "indicator--00000000-0000-4000-8000-000000000001"
	var objs []stix.RawObject
	for i := 0; i < 12; i++ { // two merges of 5, then 2 versions in the tail
		o := storagetest.SDO("indicator", id, time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC), "2.1", 100)
		objs = append(objs, o)
		if _, err := st.PutObjects(ctx, "c", []stix.RawObject{o}); err != nil {
			t.Fatal(err)
		}
	}
	var backup bytes.Buffer
	if err := st.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := bolt.Restore(&backup, dir); err != nil {
		t.Fatal(err)
	}
	st2 := bolt.MustOpen(t, dir)
	lv, err := st2.ListVersions(ctx, "c", id, storage.Filter{})
	if err != nil || len(lv.Records) != 12 {
		t.Fatalf("ListVersions after rebuild: %v, %d versions, want 12", err, len(lv.Records))
	}
	pg, err := st2.GetObject(ctx, "c", id, storage.Filter{})
	if err != nil || len(pg.Records) != 1 || !bytes.Equal(pg.Records[0].JSON, objs[11].JSON) {
		t.Fatalf("last version after rebuild: %v", err)
	}
	res, err := st2.PutObjects(ctx, "c", objs[10:])
	if err != nil || res.Existing != 2 {
		t.Fatalf("re-adding tail versions: %+v %v, want Existing 2", res, err)
	}
	if report, err := st2.Check(ctx, false); err != nil || len(report) != 0 {
		t.Fatalf("Check after rebuild: %v %v", report, err)
	}
}

// TestTailConcurrentReaders writes new versions of a few ids while readers list
// them, with a tail small enough to merge every few writes: a reader never loses
// an id or a version it saw before (run it with -race).
func TestTailConcurrentReaders(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{NoSync: true, IndexTail: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	ids := []string{"indicator--00000000-0000-4000-8000-00000000000a", "indicator--00000000-0000-4000-8000-00000000000b", "indicator--00000000-0000-4000-8000-00000000000c"}
	for _, id := range ids {
		if _, err := st.PutObjects(ctx, "c", []stix.RawObject{storagetest.SDO("indicator", id, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2.1", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 60
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= rounds; i++ {
			var objs []stix.RawObject
			for _, id := range ids {
				objs = append(objs, storagetest.SDO("indicator", id, time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC), "2.1", 100))
			}
			if _, err := st.PutObjects(ctx, "c", objs); err != nil {
				done <- err
				return
			}
			if i%10 == 0 { // deletes too: first versions go, the rest stays
				if _, err := st.DeleteObject(ctx, "c", ids[0], storage.Filter{Versions: []string{storage.VersionFirst}}); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	seen := map[string]int{}
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		for _, id := range ids {
			lv, err := st.ListVersions(ctx, "c", id, storage.Filter{Limit: 1000})
			if err != nil {
				t.Fatalf("ListVersions(%s) while writing: %v", id, err)
			}
			n := len(lv.Records)
			if id != ids[0] && n < seen[id] {
				t.Fatalf("%s: %d versions after %d: a version disappeared", id, n, seen[id])
			}
			seen[id] = n
			pg, err := st.GetObject(ctx, "c", id, storage.Filter{})
			if err != nil || len(pg.Records) != 1 {
				t.Fatalf("GetObject(%s) while writing: %v", id, err)
			}
			if !pg.Records[0].Version.Equal(lv.Records[len(lv.Records)-1].Version) && pg.Records[0].Version.Before(lv.Records[len(lv.Records)-1].Version) {
				t.Fatalf("%s: last %s older than the newest listed %s", id, pg.Records[0].Version, lv.Records[len(lv.Records)-1].Version)
			}
		}
	}
	for _, id := range ids[1:] {
		if seen[id] != rounds+1 {
			lv, _ := st.ListVersions(ctx, "c", id, storage.Filter{Limit: 1000})
			if len(lv.Records) != rounds+1 {
				t.Fatalf("%s: %d versions at the end, want %d", id, len(lv.Records), rounds+1)
			}
		}
	}
}

// TestIndexCompaction fills three index generations of 20 000 random ids each
// and compacts them into an empty main bucket (keys must go in in global order,
// or bbolt copies a growing node for each: minutes instead of a second), then
// checks the ids are found.
func TestIndexCompaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := bolt.Open(dir, bolt.Options{NoSync: true, IndexTail: 20000, IndexGenerations: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	var all []stix.RawObject
	for b := 0; b < 60; b++ {
		objs := make([]stix.RawObject, 1000)
		for i := range objs {
			objs[i] = storagetest.SDO("indicator", "indicator--"+uuid.NewString(), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2.1", 50)
		}
		if _, err := st.PutObjects(ctx, "c", objs); err != nil {
			t.Fatal(err)
		}
		all = append(all, objs[0], objs[999])
	}
	st.Close() // merges the rest
	st = bolt.MustOpen(t, dir)
	res, err := st.PutObjects(ctx, "c", all)
	if err != nil || res.Existing != len(all) || res.Added != 0 {
		t.Fatalf("re-adding %d stored objects after compaction: %+v %v", len(all), res, err)
	}
	for _, o := range all[:20] {
		if pg, err := st.GetObject(ctx, "c", o.ID, storage.Filter{}); err != nil || len(pg.Records) != 1 {
			t.Fatalf("GetObject(%s) after compaction: %v", o.ID, err)
		}
	}
	if report, err := st.Check(ctx, false); err != nil || len(report) != 0 {
		t.Fatalf("Check: %v %v", report, err)
	}
}
