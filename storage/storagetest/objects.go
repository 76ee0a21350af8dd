package storagetest

import (
	"bytes"
	"sort"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

func testCollections(t *testing.T, s *Suite) {
	st := s.open(t)
	if _, err := st.CollectionInfo(ctx, collA); err == nil {
		t.Fatalf("CollectionInfo of a missing collection: got no error, want ErrNotFound")
	} else {
		wantErr(t, "CollectionInfo(missing)", err, storage.ErrNotFound)
	}
	mustEnsure(t, st, collB, storage.KindStored)
	mustEnsure(t, st, collA, storage.KindStored)
	mustEnsure(t, st, collA, storage.KindStored) // no-op
	mustEnsure(t, st, collCurated, storage.KindCurated)
	wantErr(t, "EnsureCollection with another kind", st.EnsureCollection(ctx, collA, storage.KindCurated), storage.ErrKind)

	info, err := st.CollectionInfo(ctx, collA)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != collA || info.Kind != storage.KindStored || info.Count != 0 || !info.FirstAdded.IsZero() || !info.LastAdded.IsZero() {
		t.Fatalf("CollectionInfo(empty) = %+v", info)
	}
	before := time.Now().Add(-time.Second)
	mustPut(t, st, collA, Indicator(ver(1)), Indicator(ver(2)), Indicator(ver(3)))
	info, err = st.CollectionInfo(ctx, collA)
	if err != nil {
		t.Fatal(err)
	}
	all := walk(t, st.QueryManifest, collA, everything)
	if info.Count != 3 || len(all) != 3 {
		t.Fatalf("after 3 puts: Count %d, %d records, want 3", info.Count, len(all))
	}
	if !info.FirstAdded.Equal(all[0].DateAdded) || !info.LastAdded.Equal(all[2].DateAdded) {
		t.Fatalf("FirstAdded/LastAdded %s/%s, want %s/%s", info.FirstAdded, info.LastAdded, all[0].DateAdded, all[2].DateAdded)
	}
	if info.FirstAdded.Before(before) || info.LastAdded.After(time.Now().Add(time.Minute)) {
		t.Fatalf("date_added %s..%s is not around now", info.FirstAdded, info.LastAdded)
	}
	list, err := st.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
		if c.ID == collA && c.Count != 3 {
			t.Errorf("Collections: %s count %d, want 3", c.ID, c.Count)
		}
		if c.ID == collCurated && c.Kind != storage.KindCurated {
			t.Errorf("Collections: %s kind %q, want curated", c.ID, c.Kind)
		}
	}
	if want := []string{collA, collB, collCurated}; len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("Collections = %v, want %v", ids, want)
	}
}

func testPutAndQuery(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	if _, err := st.PutObjects(ctx, "missing", []stix.RawObject{Indicator(ver(1))}); err == nil {
		t.Fatal("PutObjects into a missing collection: no error")
	} else {
		wantErr(t, "PutObjects(missing)", err, storage.ErrNotFound)
	}
	objs := []stix.RawObject{
		Indicator(ver(1)),
		SDO("malware", newID("malware"), ver(2), "2.1", 300),
		SCO(newID("ipv4-addr"), "192.0.2.1", false),
		SDO("marking-definition", newID("marking-definition"), ver(3), "2.1", 200),
	}
	// A marking definition has created but no modified: its version is created.
	md := &objs[3]
	created := *md.Created
	md.Modified = nil
	md.JSON = []byte(`{"type":"marking-definition","spec_version":"2.1","id":"` + md.ID + `","created":"` + created.String() + `","definition_type":"statement","definition":{"statement":"suite"}}`)
	res := mustPut(t, st, collA, objs...)
	if res.Added != 4 || res.Existing != 0 || len(res.AddedIDs) != 4 {
		t.Fatalf("PutObjects = %+v, want 4 added", res)
	}
	for i, id := range res.AddedIDs {
		if id != objs[i].ID {
			t.Fatalf("AddedIDs[%d] = %s, want %s (input order)", i, id, objs[i].ID)
		}
	}
	pg, err := st.QueryObjects(ctx, collA, storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Records) != 4 || pg.More || pg.Next != "" {
		t.Fatalf("QueryObjects: %d records more=%v next=%q, want 4, false, empty", len(pg.Records), pg.More, pg.Next)
	}
	checkAscending(t, pg.Records)
	for i, r := range pg.Records {
		o := objs[i]
		if r.ID != o.ID || r.Type != o.Type || r.SpecVersion != "2.1" {
			t.Errorf("record %d = %s %s %s, want %s %s 2.1", i, r.ID, r.Type, r.SpecVersion, o.ID, o.Type)
		}
		if !bytes.Equal(r.JSON, o.JSON) {
			t.Errorf("record %d bytes differ:\n got %s\nwant %s", i, r.JSON, o.JSON)
		}
		if r.DateAdded.Nanosecond()%1000 != 0 {
			t.Errorf("record %d date_added %s is finer than microseconds", i, r.DateAdded.Format(time.RFC3339Nano))
		}
		var want time.Time
		switch {
		case o.Modified != nil:
			want = o.Modified.Time
		case o.Created != nil:
			want = o.Created.Time
		default:
			want = r.DateAdded // SCO: first date_added
		}
		if !r.Version.Equal(want) {
			t.Errorf("record %d (%s) version %s, want %s", i, r.Type, r.Version, want)
		}
	}
	man, err := st.QueryManifest(ctx, collA, storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "manifest vs objects", man.Records, pg.Records)
	for i, r := range man.Records {
		if r.JSON != nil {
			t.Errorf("manifest record %d carries JSON", i)
		}
		if !r.DateAdded.Equal(pg.Records[i].DateAdded) {
			t.Errorf("manifest record %d date_added %s, objects say %s", i, r.DateAdded, pg.Records[i].DateAdded)
		}
	}
	// A spec_version-less SDO is STIX 2.0.
	old := SDO("indicator", newID("indicator"), ver(5), "", 300)
	mustPut(t, st, collA, old)
	r := walk(t, st.QueryManifest, collA, storage.Filter{IDs: []string{old.ID}})
	if len(r) != 1 || r[0].SpecVersion != "2.0" {
		t.Fatalf("object without spec_version: got %+v, want one record with spec_version 2.0", r)
	}
}

func testIdempotency(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	a, b := Indicator(ver(1)), Indicator(ver(1))
	mustPut(t, st, collA, a, b)
	before := walk(t, st.QueryObjects, collA, everything)
	c := Indicator(ver(1))
	res := mustPut(t, st, collA, b, c, a, c)
	if res.Added != 1 || res.Existing != 3 || len(res.AddedIDs) != 1 || res.AddedIDs[0] != c.ID {
		t.Fatalf("re-add: %+v, want Added 1 (%s) Existing 3", res, c.ID)
	}
	after := walk(t, st.QueryObjects, collA, everything)
	if len(after) != 3 {
		t.Fatalf("after re-add: %d records, want 3", len(after))
	}
	for i := range before {
		if !after[i].DateAdded.Equal(before[i].DateAdded) || !bytes.Equal(after[i].JSON, before[i].JSON) {
			t.Fatalf("re-adding changed record %d", i)
		}
	}
	info, _ := st.CollectionInfo(ctx, collA)
	if info.Count != 3 {
		t.Fatalf("Count %d after re-adds, want 3", info.Count)
	}
}

func testPagination(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	n := s.Sizes.Bulk
	objs := make([]stix.RawObject, n)
	for i := range objs {
		if i%10 == 3 {
			objs[i] = SDO("malware", newID("malware"), ver(i%50), "2.1", 400)
		} else {
			objs[i] = Indicator(ver(i % 50))
		}
	}
	mustPut(t, st, collA, objs...)
	unpaged := walk(t, st.QueryObjects, collA, storage.Filter{Limit: n + 1})
	if len(unpaged) != n {
		t.Fatalf("unpaged: %d records, want %d", len(unpaged), n)
	}
	for i, r := range unpaged {
		if r.ID != objs[i].ID || !bytes.Equal(r.JSON, objs[i].JSON) {
			t.Fatalf("record %d is %s, want %s in input order with its bytes", i, r.ID, objs[i].ID)
		}
	}
	f := storage.Filter{Limit: s.Sizes.BulkPage}
	sameKeys(t, "objects paged by next", walk(t, st.QueryObjects, collA, f), unpaged)
	sameKeys(t, "manifest paged by next", walk(t, st.QueryManifest, collA, f), unpaged)
	sameKeys(t, "objects with default limit", walk(t, st.QueryObjects, collA, storage.Filter{}), unpaged)

	// Continuing with added_after = the last date_added of each page (TAXII §3.5).
	var byDate []storage.Record
	f = storage.Filter{Limit: s.Sizes.BulkPage}
	for {
		pg, err := st.QueryManifest(ctx, collA, f)
		if err != nil {
			t.Fatal(err)
		}
		byDate = append(byDate, pg.Records...)
		if len(pg.Records) == 0 {
			break
		}
		f.AddedAfter = pg.Records[len(pg.Records)-1].DateAdded
	}
	sameKeys(t, "manifest paged by added_after", byDate, unpaged)

	// Pages of a selective type filter.
	var malware []storage.Record
	for _, r := range unpaged {
		if r.Type == "malware" {
			malware = append(malware, r)
		}
	}
	sameKeys(t, "match[type]=malware paged", walk(t, st.QueryManifest, collA, storage.Filter{Types: []string{"malware"}, Limit: 37}), malware)
	// limit 1: one record per page.
	sameKeys(t, "limit 1", walk(t, st.QueryManifest, collA, storage.Filter{Types: []string{"malware"}, Limit: 1}), malware)
}

// testVersions checks match[version] over versions that arrive out of order.
func testVersions(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	id := newID("indicator")
	v1, v2, v3 := SDO("indicator", id, ver(1), "2.1", 300), SDO("indicator", id, ver(2), "2.1", 300), SDO("indicator", id, ver(3), "2.1", 300)
	mustPut(t, st, collA, v2)
	mustPut(t, st, collA, v3)
	mustPut(t, st, collA, v1) // an old version arriving after the newer ones
	get := func(f storage.Filter) []storage.Record {
		t.Helper()
		pg, err := st.GetObject(ctx, collA, id, f)
		if err != nil {
			t.Fatalf("GetObject %+v: %v", f, err)
		}
		return pg.Records
	}
	versions := func(recs []storage.Record) []time.Time {
		var out []time.Time
		for _, r := range recs {
			out = append(out, r.Version)
		}
		return out
	}
	check := func(what string, got []storage.Record, want ...time.Time) {
		t.Helper()
		g := versions(got)
		if len(g) != len(want) {
			t.Fatalf("%s: versions %v, want %v", what, g, want)
		}
		for i := range g {
			if !g[i].Equal(want[i]) {
				t.Fatalf("%s: versions %v, want %v", what, g, want)
			}
		}
	}
	check("default (last)", get(storage.Filter{}), ver(3))
	check("last", get(storage.Filter{Versions: []string{"last"}}), ver(3))
	check("first", get(storage.Filter{Versions: []string{"first"}}), ver(1))
	check("first,last (date_added order)", get(storage.Filter{Versions: []string{"first", "last"}}), ver(3), ver(1))
	check("all (date_added order)", get(storage.Filter{Versions: []string{"all"}}), ver(2), ver(3), ver(1))
	check("timestamp", get(storage.Filter{Versions: []string{stix.NewTimestamp(ver(2)).String()}}), ver(2))
	check("timestamp in microseconds", get(storage.Filter{Versions: []string{ver(2).Format("2006-01-02T15:04:05.000000Z")}}), ver(2))
	check("two timestamps", get(storage.Filter{Versions: []string{stix.NewTimestamp(ver(1)).String(), stix.NewTimestamp(ver(3)).String()}}), ver(3), ver(1))
	all := get(storage.Filter{Versions: []string{"all"}})

	// added_after with last: returned only if the latest version was added after it.
	check("last, added_after before v3", get(storage.Filter{AddedAfter: all[0].DateAdded}), ver(3))
	check("last, added_after = v3's date_added", get(storage.Filter{AddedAfter: all[1].DateAdded}))
	check("first, added_after before v1", get(storage.Filter{Versions: []string{"first"}, AddedAfter: all[1].DateAdded}), ver(1))
	check("all, added_after", get(storage.Filter{Versions: []string{"all"}, AddedAfter: all[0].DateAdded}), ver(3), ver(1))
	m := walk(t, st.QueryManifest, collA, storage.Filter{AddedAfter: all[1].DateAdded})
	if len(m) != 0 {
		t.Fatalf("QueryManifest last with added_after after the latest version's date_added: %v, want none", keys(m))
	}

	lv, err := st.ListVersions(ctx, collA, id, storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("ListVersions", lv.Records, ver(2), ver(3), ver(1))
	for _, r := range lv.Records {
		if r.JSON != nil {
			t.Fatal("ListVersions returned JSON")
		}
	}
	lv, err = st.ListVersions(ctx, collA, id, storage.Filter{AddedAfter: all[0].DateAdded, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	check("ListVersions added_after limit 1", lv.Records, ver(3))
	if !lv.More {
		t.Fatal("ListVersions limit 1 of 2: More false")
	}
	lv, err = st.ListVersions(ctx, collA, id, storage.Filter{AddedAfter: all[0].DateAdded, Limit: 1, Next: lv.Next})
	if err != nil {
		t.Fatal(err)
	}
	check("ListVersions second page", lv.Records, ver(1))
	info, _ := st.CollectionInfo(ctx, collA)
	if info.Count != 3 {
		t.Fatalf("Count %d, want 3 versions", info.Count)
	}
}

// testSCOVersions: SCO versions are keyed by the SHA-256 of their canonical
// bytes and their TAXII version is their first date_added.
func testSCOVersions(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	id := newID("ipv4-addr")
	a := SCO(id, "198.51.100.7", false)
	res := mustPut(t, st, collA, a)
	if res.Added != 1 {
		t.Fatalf("first put: %+v", res)
	}
	res = mustPut(t, st, collA, SCO(id, "198.51.100.7", true)) // same canonical bytes, other order
	if res.Added != 0 || res.Existing != 1 {
		t.Fatalf("same SCO with reordered properties: %+v, want Existing 1", res)
	}
	b := SCO(id, "198.51.100.8", false)
	if res = mustPut(t, st, collA, b, a); res.Added != 1 || res.Existing != 1 {
		t.Fatalf("changed SCO then the first content again: %+v, want Added 1 Existing 1", res)
	}
	recs := walk(t, st.QueryObjects, collA, storage.Filter{Versions: []string{"all"}})
	if len(recs) != 2 {
		t.Fatalf("SCO versions: %d, want 2", len(recs))
	}
	for i, r := range recs {
		if !r.Version.Equal(r.DateAdded) {
			t.Errorf("SCO version %d: version %s, want its first date_added %s", i, r.Version, r.DateAdded)
		}
	}
	if !bytes.Equal(recs[0].JSON, a.JSON) || !bytes.Equal(recs[1].JSON, b.JSON) {
		t.Fatalf("SCO versions hold the wrong bytes: %s, %s", recs[0].JSON, recs[1].JSON)
	}
	last := walk(t, st.QueryObjects, collA, storage.Filter{})
	if len(last) != 1 || !bytes.Equal(last[0].JSON, b.JSON) {
		t.Fatalf("last SCO version: %v, want the changed content", keys(last))
	}
	ts := recs[0].Version.UTC().Format("2006-01-02T15:04:05.000000Z")
	pg, err := st.GetObject(ctx, collA, id, storage.Filter{Versions: []string{ts}})
	if err != nil || len(pg.Records) != 1 || !bytes.Equal(pg.Records[0].JSON, a.JSON) {
		t.Fatalf("GetObject SCO by version %s: %v, %v", ts, err, pg)
	}
}

func testSingleObject(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	mustEnsure(t, st, collB, storage.KindStored)
	o := Indicator(ver(1))
	mustPut(t, st, collA, o, Indicator(ver(2)))
	_, err := st.GetObject(ctx, collA, newID("indicator"), storage.Filter{})
	wantErr(t, "GetObject(unknown id)", err, storage.ErrNotFound)
	_, err = st.GetObject(ctx, collB, o.ID, storage.Filter{})
	wantErr(t, "GetObject(id stored in another collection)", err, storage.ErrNotFound)
	_, err = st.GetObject(ctx, "missing", o.ID, storage.Filter{})
	wantErr(t, "GetObject(missing collection)", err, storage.ErrNotFound)
	_, err = st.ListVersions(ctx, collA, newID("indicator"), storage.Filter{})
	wantErr(t, "ListVersions(unknown id)", err, storage.ErrNotFound)
	_, err = st.QueryObjects(ctx, "missing", storage.Filter{})
	wantErr(t, "QueryObjects(missing collection)", err, storage.ErrNotFound)
	_, err = st.QueryManifest(ctx, "missing", storage.Filter{})
	wantErr(t, "QueryManifest(missing collection)", err, storage.ErrNotFound)

	for name, f := range map[string]storage.Filter{
		"other version":      {Versions: []string{stix.NewTimestamp(ver(7)).String()}},
		"other spec_version": {SpecVersions: []string{"2.0"}},
		"added_after later":  {AddedAfter: time.Now().Add(time.Hour)},
	} {
		pg, err := st.GetObject(ctx, collA, o.ID, f)
		if err != nil {
			t.Fatalf("GetObject(%s): %v, want an empty page", name, err)
		}
		if len(pg.Records) != 0 || pg.More {
			t.Fatalf("GetObject(%s): %d records more=%v, want an empty page", name, len(pg.Records), pg.More)
		}
		lv, err := st.ListVersions(ctx, collA, o.ID, storage.Filter{SpecVersions: f.SpecVersions, AddedAfter: f.AddedAfter})
		if err != nil {
			t.Fatalf("ListVersions(%s): %v", name, err)
		}
		if name != "other version" && len(lv.Records) != 0 {
			t.Fatalf("ListVersions(%s): %d records, want none", name, len(lv.Records))
		}
	}
	pg, err := st.GetObject(ctx, collA, o.ID, storage.Filter{IDs: []string{"ignored"}, Types: []string{"ignored"}})
	if err != nil || len(pg.Records) != 1 || !bytes.Equal(pg.Records[0].JSON, o.JSON) {
		t.Fatalf("GetObject ignores match[id]/match[type]: %v, %d records", err, len(pg.Records))
	}
}

func testDeletes(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	id := newID("malware")
	other := Indicator(ver(1))
	mustPut(t, st, collA, SDO("malware", id, ver(1), "2.1", 200), SDO("malware", id, ver(2), "2.1", 200),
		SDO("malware", id, ver(3), "2.1", 200), SDO("malware", id, ver(4), "", 200), other)
	_, err := st.DeleteObject(ctx, collA, newID("malware"), storage.Filter{})
	wantErr(t, "DeleteObject(unknown)", err, storage.ErrNotFound)
	_, err = st.DeleteObject(ctx, "missing", id, storage.Filter{})
	wantErr(t, "DeleteObject(missing collection)", err, storage.ErrNotFound)

	n, err := st.DeleteObject(ctx, collA, id, storage.Filter{Versions: []string{stix.NewTimestamp(ver(3)).String()}})
	if err != nil || n != 1 {
		t.Fatalf("DeleteObject(version 3) = %d, %v; want 1", n, err)
	}
	pg, err := st.GetObject(ctx, collA, id, storage.Filter{Versions: []string{stix.NewTimestamp(ver(3)).String()}})
	if err != nil || len(pg.Records) != 0 {
		t.Fatalf("deleted version still served: %v %v", err, describe(pg))
	}
	pg, err = st.GetObject(ctx, collA, id, storage.Filter{})
	if err != nil || len(pg.Records) != 1 || !pg.Records[0].Version.Equal(ver(2)) {
		t.Fatalf("last after deleting version 3: %v %v, want version 2 (highest 2.1 version)", err, describe(pg))
	}
	n, err = st.DeleteObject(ctx, collA, id, storage.Filter{Versions: []string{stix.NewTimestamp(ver(9)).String()}})
	if err != nil || n != 0 {
		t.Fatalf("DeleteObject(no matching version) = %d, %v; want 0, nil", n, err)
	}
	n, err = st.DeleteObject(ctx, collA, id, storage.Filter{SpecVersions: []string{"2.0"}})
	if err != nil || n != 1 {
		t.Fatalf("DeleteObject(spec_version 2.0) = %d, %v; want 1", n, err)
	}
	n, err = st.DeleteObject(ctx, collA, id, storage.Filter{Versions: []string{"first"}})
	if err != nil || n != 1 {
		t.Fatalf("DeleteObject(first) = %d, %v; want 1", n, err)
	}
	pg, err = st.GetObject(ctx, collA, id, storage.Filter{Versions: []string{"all"}})
	if err != nil || len(pg.Records) != 1 || !pg.Records[0].Version.Equal(ver(2)) {
		t.Fatalf("after deleting first: %v %v, want only version 2", err, describe(pg))
	}
	n, err = st.DeleteObject(ctx, collA, id, storage.Filter{})
	if err != nil || n != 1 {
		t.Fatalf("DeleteObject(all) = %d, %v; want 1", n, err)
	}
	_, err = st.GetObject(ctx, collA, id, storage.Filter{})
	wantErr(t, "GetObject after deleting every version", err, storage.ErrNotFound)
	for _, q := range []queryFunc{st.QueryObjects, st.QueryManifest} {
		recs := walk(t, q, collA, everything)
		if len(recs) != 1 || recs[0].ID != other.ID {
			t.Fatalf("after deletes the collection holds %v, want only %s", keys(recs), other.ID)
		}
	}
	recs := walk(t, st.QueryManifest, collA, storage.Filter{Types: []string{"malware"}, Versions: []string{"all"}})
	if len(recs) != 0 {
		t.Fatalf("match[type]=malware after deletes: %v", keys(recs))
	}
	info, _ := st.CollectionInfo(ctx, collA)
	if info.Count != 1 {
		t.Fatalf("Count after deletes %d, want 1", info.Count)
	}
	// Re-adding a deleted version stores it again.
	if res := mustPut(t, st, collA, SDO("malware", id, ver(1), "2.1", 200)); res.Added != 1 {
		t.Fatalf("re-adding a deleted version: %+v", res)
	}
}

func testInvalidInput(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	mustPut(t, st, collA, Indicator(ver(1)), Indicator(ver(2)))
	for _, next := range []string{"garbage", "AAAAAAAAAAAAAAAAAAAAAAAA", "%%%", "eyJhIjoxfQ"} {
		_, err := st.QueryObjects(ctx, collA, storage.Filter{Next: next})
		wantErr(t, "QueryObjects(next="+next+")", err, storage.ErrInvalidCursor)
		_, err = st.QueryManifest(ctx, collA, storage.Filter{Next: next})
		wantErr(t, "QueryManifest(next="+next+")", err, storage.ErrInvalidCursor)
	}
	for _, v := range [][]string{{"yesterday"}, {"all", "last"}} {
		_, err := st.QueryObjects(ctx, collA, storage.Filter{Versions: v})
		wantErr(t, "QueryObjects(match[version]="+v[0]+")", err, storage.ErrInvalidFilter)
	}
	if _, err := st.PutObjects(ctx, collA, []stix.RawObject{{Common: stix.Common{Type: "indicator"}, JSON: []byte(`{"type":"indicator"}`)}}); err == nil {
		t.Fatal("PutObjects of an object without id: no error")
	}
	info, _ := st.CollectionInfo(ctx, collA)
	if info.Count != 2 {
		t.Fatalf("a rejected batch changed the collection: Count %d, want 2", info.Count)
	}
	// A valid cursor from one query keeps working.
	pg, err := st.QueryObjects(ctx, collA, storage.Filter{Limit: 1})
	if err != nil || !pg.More {
		t.Fatalf("limit 1 of 2: %v %v", err, describe(pg))
	}
	pg2, err := st.QueryObjects(ctx, collA, storage.Filter{Limit: 1, Next: pg.Next})
	if err != nil || len(pg2.Records) != 1 || pg2.Records[0].ID == pg.Records[0].ID {
		t.Fatalf("second page: %v %v", err, describe(pg2))
	}
}

func testReopen(t *testing.T, s *Suite) {
	st, reopen := s.Open(t)
	if reopen == nil {
		st.Close()
		t.Skip("backend gave no reopen function")
	}
	mustEnsure(t, st, collA, storage.KindStored)
	objs := []stix.RawObject{Indicator(ver(1)), Indicator(ver(2)), Indicator(ver(3))}
	mustPut(t, st, collA, objs...)
	pg, err := st.QueryObjects(ctx, collA, storage.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := walk(t, st.QueryObjects, collA, everything)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := st.QueryObjects(ctx, collA, storage.Filter{}); err == nil {
		t.Error("QueryObjects after Close: no error")
	}
	st = reopen(t)
	t.Cleanup(func() { st.Close() })
	after := walk(t, st.QueryObjects, collA, everything)
	sameKeys(t, "after reopen", after, before)
	for i := range after {
		if !after[i].DateAdded.Equal(before[i].DateAdded) || !bytes.Equal(after[i].JSON, before[i].JSON) {
			t.Fatalf("record %d changed across reopen", i)
		}
	}
	rest := walk(t, st.QueryObjects, collA, storage.Filter{Limit: 1, Next: pg.Next})
	sameKeys(t, "cursor issued before reopen", rest, before[1:])
	mustPut(t, st, collA, Indicator(ver(4)))
	all := walk(t, st.QueryObjects, collA, everything)
	if len(all) != 4 {
		t.Fatalf("after reopen and one more put: %d records", len(all))
	}
	if res := mustPut(t, st, collA, objs[0]); res.Existing != 1 {
		t.Fatalf("re-adding after reopen: %+v", res)
	}
}

// checkBatches fails unless every batch of the crash writer is all or nothing.
func checkBatches(t *testing.T, recs []storage.Record) int {
	t.Helper()
	per := map[int]int{}
	for _, r := range recs {
		b, _, ok := crashBatchOf(r.ID)
		if !ok {
			t.Fatalf("unexpected object %s in the crash collection", r.ID)
		}
		per[b]++
	}
	var batches []int
	for b, n := range per {
		if n != CrashBatchSize {
			t.Errorf("batch %d: %d of %d objects visible after the crash", b, n, CrashBatchSize)
		}
		batches = append(batches, b)
	}
	sort.Ints(batches)
	for i, b := range batches {
		if b != i {
			t.Errorf("batches visible: %v, want 0..%d without gaps", batches, len(batches)-1)
			break
		}
	}
	return len(batches)
}

func testCrash(t *testing.T, s *Suite) {
	if s.Crash == nil {
		t.Skip("backend gave no crash hook")
	}
	st := s.Crash(t)
	t.Cleanup(func() { st.Close() })
	recs := walk(t, st.QueryManifest, CrashCollection, storage.Filter{Limit: 5000, Versions: []string{"all"}})
	n := checkBatches(t, recs)
	if n == 0 {
		t.Fatal("no batch survived: the writer was killed before its first commit")
	}
	t.Logf("%d complete batches of %d visible after SIGKILL", n, CrashBatchSize)
	info, err := st.CollectionInfo(ctx, CrashCollection)
	if err != nil {
		t.Fatal(err)
	}
	if info.Count != int64(len(recs)) {
		t.Logf("advisory count %d differs from %d records after the crash", info.Count, len(recs))
	}
	// The store is writable again and the next date_added comes after the last.
	mustPut(t, st, CrashCollection, Indicator(ver(1)))
	all := walk(t, st.QueryManifest, CrashCollection, storage.Filter{Limit: 5000, Versions: []string{"all"}})
	if len(all) != len(recs)+1 {
		t.Fatalf("after a put on the recovered store: %d records, want %d", len(all), len(recs)+1)
	}
}
