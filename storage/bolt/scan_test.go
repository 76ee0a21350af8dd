package bolt_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/storage/storagetest"
)

// scanned is one record as ScanObjects hands it out.
type scanned struct {
	da   time.Time
	json string
}

// TestScanObjects checks that ScanObjects hands out, page by page, exactly the
// date_added and bytes QueryObjects returns, with the same More and Next, for
// every query shape the pager has (log scan, type index, id index, explicit
// spec_version, curated pointer records, a scan budget), and that a page ended
// early by the callback continues after its last record.
func TestScanObjects(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{NoSync: true, ScanBudget: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct{ id, kind string }{{"s", storage.KindStored}, {"c", storage.KindCurated}} {
		if err := st.EnsureCollection(ctx, c.id, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var objs []stix.RawObject
	var refs []storage.VersionRef
	var ids []string
	for i := range 120 {
		typ, spec := "indicator", "2.1"
		if i%3 == 0 {
			typ = "malware"
		}
		if i%17 == 0 {
			spec = ""
		}
		id := fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, i)
		ids = append(ids, id)
		for v := range 1 + i%2 { // every other object has two versions
			o := storagetest.SDO(typ, id, base.Add(time.Duration(v)*time.Hour), spec, 200+i)
			objs = append(objs, o)
			refs = append(refs, storage.VersionRef{Collection: "s", ID: id, Version: o.Modified.Time})
		}
	}
	if _, err := st.PutObjects(ctx, "s", objs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMembers(ctx, "c", refs); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		coll string
		f    storage.Filter
	}{
		"default":           {"s", storage.Filter{Limit: 25}},
		"all versions":      {"s", storage.Filter{Limit: 25, Versions: []string{storage.VersionAll}}},
		"first":             {"s", storage.Filter{Limit: 7, Versions: []string{storage.VersionFirst}}},
		"type":              {"s", storage.Filter{Limit: 10, Types: []string{"malware"}}},
		"ids":               {"s", storage.Filter{Limit: 3, IDs: ids[10:20], Versions: []string{storage.VersionAll}}},
		"spec 2.0 (budget)": {"s", storage.Filter{Limit: 5, SpecVersions: []string{"2.0"}}},
		"spec 2.1 last":     {"s", storage.Filter{Limit: 30, SpecVersions: []string{"2.1"}, Versions: []string{storage.VersionLast}}},
		"added_after":       {"s", storage.Filter{Limit: 50, AddedAfter: time.Now().Add(-time.Hour)}},
		"curated":           {"c", storage.Filter{Limit: 33, Versions: []string{storage.VersionAll}}},
	} {
		t.Run(name, func(t *testing.T) {
			want, wantPages := walkQuery(t, st, tt.coll, tt.f)
			if len(want) == 0 {
				t.Fatal("the query selects nothing: the case tests nothing")
			}
			f := tt.f
			var got []scanned
			var pages []string
			for range 1000 {
				pg, err := st.ScanObjects(ctx, tt.coll, f, func(da time.Time, js []byte) bool {
					got = append(got, scanned{da, string(js)})
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Records) != 0 {
					t.Fatalf("ScanObjects returned %d records, want none", len(pg.Records))
				}
				pages = append(pages, fmt.Sprintf("%d %v %s", len(got), pg.More, pg.Next))
				if !pg.More {
					break
				}
				f.Next = pg.Next
			}
			if fmt.Sprint(pages) != fmt.Sprint(wantPages) {
				t.Fatalf("pages (records so far, more, next):\ngot  %v\nwant %v", pages, wantPages)
			}
			mustSameRecords(t, got, want)

			// The callback ends each page after its third record.
			f, got = tt.f, nil
			for range 1000 {
				n := 0
				pg, err := st.ScanObjects(ctx, tt.coll, f, func(da time.Time, js []byte) bool {
					got = append(got, scanned{da, string(js)})
					n++
					return n < 3
				})
				if err != nil {
					t.Fatal(err)
				}
				if n == 3 && !pg.More {
					t.Fatal("a page the callback ended has More false")
				}
				if !pg.More {
					break
				}
				f.Next = pg.Next
			}
			mustSameRecords(t, got, want)
		})
	}
	if _, err := st.ScanObjects(ctx, "nope", storage.Filter{}, func(time.Time, []byte) bool { return true }); err == nil {
		t.Fatal("ScanObjects of a missing collection: no error")
	}
	if _, err := st.ScanObjects(ctx, "s", storage.Filter{Next: "garbage"}, func(time.Time, []byte) bool { return true }); err == nil {
		t.Fatal("ScanObjects with a garbage cursor: no error")
	}
}

// walkQuery pages through QueryObjects and returns its records and a summary
// of each page (records so far, More, Next).
func walkQuery(t *testing.T, st *bolt.Store, coll string, f storage.Filter) ([]scanned, []string) {
	t.Helper()
	var recs []scanned
	var pages []string
	for range 1000 {
		pg, err := st.QueryObjects(ctx, coll, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pg.Records {
			recs = append(recs, scanned{r.DateAdded, string(r.JSON)})
		}
		pages = append(pages, fmt.Sprintf("%d %v %s", len(recs), pg.More, pg.Next))
		if !pg.More {
			return recs, pages
		}
		f.Next = pg.Next
	}
	t.Fatal("no end after 1000 pages")
	return nil, nil
}

func mustSameRecords(t *testing.T, got, want []scanned) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].da.Equal(want[i].da) || !bytes.Equal([]byte(got[i].json), []byte(want[i].json)) {
			t.Fatalf("record %d: got %s %.60s, want %s %.60s", i, got[i].da, got[i].json, want[i].da, want[i].json)
		}
	}
}
