package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// as type-asserts an optional interface, failing the test when it is missing:
// both shipped backends implement every one.
func as[T any](t *testing.T, st storage.Store) T {
	t.Helper()
	x, ok := st.(T)
	if !ok {
		var zero T
		t.Fatalf("%T does not implement %T", st, &zero)
	}
	return x
}

func testMembership(t *testing.T, s *Suite) {
	st := s.open(t)
	ms := as[storage.MembershipStore](t, st)
	mustEnsure(t, st, collA, storage.KindStored)
	mustEnsure(t, st, collCurated, storage.KindCurated)
	id := newID("indicator")
	v1, v2 := SDO("indicator", id, ver(1), "2.1", 500), SDO("indicator", id, ver(2), "2.1", 500)
	mal := SDO("malware", newID("malware"), ver(1), "2.1", 300)
	sco := SCO(newID("ipv4-addr"), "192.0.2.77", false)
	mustPut(t, st, collA, v1, v2, mal, sco)
	stored := walk(t, st.QueryObjects, collA, everything)
	scoVer := stored[3].Version

	_, err := st.PutObjects(ctx, collCurated, []stix.RawObject{Indicator(ver(1))})
	wantErr(t, "PutObjects into a curated collection", err, storage.ErrKind)
	_, err = ms.AddMembers(ctx, collA, []storage.VersionRef{{Collection: collA, ID: id, Version: ver(1)}})
	wantErr(t, "AddMembers into a stored collection", err, storage.ErrKind)
	_, err = ms.AddMembers(ctx, "missing", []storage.VersionRef{{Collection: collA, ID: id, Version: ver(1)}})
	wantErr(t, "AddMembers into a missing collection", err, storage.ErrNotFound)
	_, err = ms.AddMembers(ctx, collCurated, []storage.VersionRef{
		{Collection: collA, ID: mal.ID, Version: ver(1)},
		{Collection: collA, ID: id, Version: ver(7)},
	})
	wantErr(t, "AddMembers of a missing version", err, storage.ErrNotFound)
	if info, _ := st.CollectionInfo(ctx, collCurated); info.Count != 0 {
		t.Fatalf("a failed AddMembers left %d members", info.Count)
	}

	res, err := ms.AddMembers(ctx, collCurated, []storage.VersionRef{
		{Collection: collA, ID: id, Version: ver(2)},
		{Collection: collA, ID: mal.ID, Version: ver(1)},
		{Collection: collA, ID: sco.ID, Version: scoVer},
	})
	if err != nil || res.Added != 3 {
		t.Fatalf("AddMembers = %+v, %v; want 3 added", res, err)
	}
	res, err = ms.AddMembers(ctx, collCurated, []storage.VersionRef{
		{Collection: collA, ID: mal.ID, Version: ver(1)},
		{Collection: collA, ID: id, Version: ver(1)}, // an older version joins later
	})
	if err != nil || res.Added != 1 || res.Existing != 1 {
		t.Fatalf("AddMembers again = %+v, %v; want Added 1 Existing 1", res, err)
	}
	members := walk(t, st.QueryObjects, collCurated, storage.Filter{Versions: []string{"all"}})
	if len(members) != 4 {
		t.Fatalf("curated collection: %d records, want 4", len(members))
	}
	wantBytes := [][]byte{v2.JSON, mal.JSON, sco.JSON, v1.JSON}
	for i, r := range members {
		if !bytes.Equal(r.JSON, wantBytes[i]) {
			t.Fatalf("member %d (%s) bytes differ from the stored copy:\n got %s\nwant %s", i, r.ID, r.JSON, wantBytes[i])
		}
	}
	if !members[2].Version.Equal(scoVer) || members[2].Type != "ipv4-addr" {
		t.Fatalf("SCO member: version %s type %s, want %s ipv4-addr", members[2].Version, members[2].Type, scoVer)
	}
	if !members[0].DateAdded.After(stored[len(stored)-1].DateAdded) {
		t.Errorf("member date_added %s is not the curated collection's own (after %s)", members[0].DateAdded, stored[len(stored)-1].DateAdded)
	}
	last := walk(t, st.QueryObjects, collCurated, storage.Filter{})
	if len(last) != 3 || !bytes.Equal(last[0].JSON, v2.JSON) {
		t.Fatalf("curated last versions: %v, want v2 of the indicator first", keys(last))
	}
	sameKeys(t, "curated match[type]", walk(t, st.QueryManifest, collCurated, storage.Filter{Types: []string{"malware"}}), members[1:2])
	sameKeys(t, "curated paged", walk(t, st.QueryObjects, collCurated, storage.Filter{Versions: []string{"all"}, Limit: 1}), members)
	pg, err := st.GetObject(ctx, collCurated, id, storage.Filter{Versions: []string{"first"}})
	if err != nil || len(pg.Records) != 1 || !bytes.Equal(pg.Records[0].JSON, v1.JSON) {
		t.Fatalf("curated GetObject first: %v %v", err, describe(pg))
	}
	n, err := ms.RemoveMembers(ctx, collCurated, []string{id, newID("indicator")})
	if err != nil || n != 2 {
		t.Fatalf("RemoveMembers = %d, %v; want 2", n, err)
	}
	_, err = st.GetObject(ctx, collCurated, id, storage.Filter{})
	wantErr(t, "GetObject of a removed member", err, storage.ErrNotFound)
	if pg, err := st.GetObject(ctx, collA, id, storage.Filter{}); err != nil || len(pg.Records) != 1 {
		t.Fatalf("removing members touched the stored collection: %v", err)
	}
	info, _ := st.CollectionInfo(ctx, collCurated)
	if info.Count != 2 || info.Kind != storage.KindCurated {
		t.Fatalf("curated info %+v, want 2 members", info)
	}
}

func testFeedState(t *testing.T, s *Suite) {
	st := s.open(t)
	fs := as[storage.FeedStateStore](t, st)
	_, err := fs.FeedState(ctx, "otx")
	wantErr(t, "FeedState(never saved)", err, storage.ErrNotFound)
	want := storage.FeedState{Feed: "otx", Cursor: []byte("page=2&since=x"), LastSuccess: base, LastError: "boom", ErrorCount: 2, Snapshot: []byte{1, 2, 3}}
	if err := fs.PutFeedState(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if err := fs.PutFeedState(ctx, &storage.FeedState{Feed: "misp", Cursor: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	got, err := fs.FeedState(ctx, "otx")
	if err != nil {
		t.Fatal(err)
	}
	if got.Feed != want.Feed || !bytes.Equal(got.Cursor, want.Cursor) || !got.LastSuccess.Equal(want.LastSuccess) ||
		got.LastError != want.LastError || got.ErrorCount != want.ErrorCount || !bytes.Equal(got.Snapshot, want.Snapshot) {
		t.Fatalf("FeedState = %+v, want %+v", got, want)
	}
	want.Cursor, want.ErrorCount, want.LastError = []byte("page=3"), 0, ""
	if err := fs.PutFeedState(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if got, _ = fs.FeedState(ctx, "otx"); string(got.Cursor) != "page=3" || got.ErrorCount != 0 {
		t.Fatalf("after replace: %+v", got)
	}
}

func testProvenance(t *testing.T, s *Suite) {
	st := s.open(t)
	ps := as[storage.ProvenanceStore](t, st)
	day := func(n int) time.Time { return time.Date(2024, 5, 1+n, 0, 0, 0, 0, time.UTC) }
	recs := []storage.Provenance{
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2), Verdict: []byte(`{"score":7}`)},
		{Feed: "misp", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(2)},
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(0), Revoked: true},
		{Feed: "otx", Type: "ipv4-addr", Value: "192.0.2.10", Day: day(1)},
		{Feed: "otx", Type: "domain-name", Value: "192.0.2.1", Day: day(1)},
	}
	res, err := ps.AddProvenance(ctx, recs)
	if err != nil || res.Added != 5 {
		t.Fatalf("AddProvenance = %+v, %v", res, err)
	}
	res, err = ps.AddProvenance(ctx, []storage.Provenance{recs[0], {Feed: "vt", Type: "ipv4-addr", Value: "192.0.2.1", Day: day(1)}})
	if err != nil || res.Added != 1 || res.Existing != 1 {
		t.Fatalf("AddProvenance again = %+v, %v; want Added 1 Existing 1", res, err)
	}
	got, err := ps.Provenance(ctx, "ipv4-addr", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range got {
		order = append(order, p.Day.Format("02")+"/"+p.Feed)
		if p.Type != "ipv4-addr" || p.Value != "192.0.2.1" {
			t.Fatalf("Provenance returned %s %s", p.Type, p.Value)
		}
	}
	want := []string{"01/otx", "02/vt", "03/misp", "03/otx"}
	if len(order) != len(want) {
		t.Fatalf("Provenance order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("Provenance order %v, want %v (Day then Feed)", order, want)
		}
	}
	if !got[0].Revoked || got[1].Revoked || string(got[3].Verdict) != `{"score":7}` {
		t.Fatalf("Provenance fields lost: %+v", got)
	}
	n, err := ps.PruneProvenance(ctx, day(2))
	if err != nil || n != 4 {
		t.Fatalf("PruneProvenance(before day 2) = %d, %v; want 4", n, err)
	}
	if got, _ = ps.Provenance(ctx, "ipv4-addr", "192.0.2.1"); len(got) != 2 {
		t.Fatalf("after prune: %d records, want 2", len(got))
	}
}

// testScanProvenance: every value once with all of its records in Day then
// Feed order, over more values than one read chunk of the embedded engine; an
// error from fn stops the scan and comes back unchanged.
func testScanProvenance(t *testing.T, s *Suite) {
	st := s.open(t)
	ps := as[storage.ProvenanceStore](t, st)
	sc := as[storage.ProvenanceScanner](t, st)
	day := func(n int) time.Time { return time.Date(2024, 5, 1+n, 0, 0, 0, 0, time.UTC) }
	const n = 4500
	var recs []storage.Provenance
	want := map[string]int{}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("198.51.%d.%d", i/256, i%256)
		recs = append(recs, storage.Provenance{Feed: "otx", Type: "ipv4-addr", Value: v, Day: day(i % 3), Verdict: []byte(`{"i":1}`)})
		want["ipv4-addr|"+v] = 1
		if i%3 == 0 {
			recs = append(recs, storage.Provenance{Feed: "misp", Type: "ipv4-addr", Value: v, Day: day(0), Revoked: true},
				storage.Provenance{Feed: "abuse", Type: "ipv4-addr", Value: v, Day: day(5)})
			want["ipv4-addr|"+v] = 3
		}
	}
	recs = append(recs, storage.Provenance{Feed: "otx", Type: "domain-name", Value: "198.51.0.1", Day: day(1)})
	want["domain-name|198.51.0.1"] = 1
	if _, err := ps.AddProvenance(ctx, recs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	total := 0
	err := sc.ScanProvenance(ctx, func(g []storage.Provenance) error {
		if len(g) == 0 {
			return errors.New("empty group")
		}
		key := g[0].Type + "|" + g[0].Value
		if seen[key] {
			return fmt.Errorf("%s handed over twice", key)
		}
		seen[key] = true
		if len(g) != want[key] {
			return fmt.Errorf("%s: %d records, want %d", key, len(g), want[key])
		}
		for i, p := range g {
			if p.Type+"|"+p.Value != key {
				return fmt.Errorf("%s: group holds %s %s", key, p.Type, p.Value)
			}
			if i > 0 && (p.Day.Before(g[i-1].Day) || p.Day.Equal(g[i-1].Day) && p.Feed < g[i-1].Feed) {
				return fmt.Errorf("%s: records not in Day then Feed order: %+v", key, g)
			}
		}
		if len(g) == 3 && (g[0].Feed != "misp" || !g[0].Revoked || g[2].Feed != "abuse") {
			return fmt.Errorf("%s: fields lost: %+v", key, g)
		}
		if g[0].Feed == "otx" && string(g[0].Verdict) != `{"i":1}` && key != "domain-name|198.51.0.1" {
			return fmt.Errorf("%s: verdict %q", key, g[0].Verdict)
		}
		total += len(g)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanProvenance: %v", err)
	}
	if len(seen) != len(want) || total != len(recs) {
		t.Fatalf("ScanProvenance saw %d values, %d records; want %d, %d", len(seen), total, len(want), len(recs))
	}
	stop := errors.New("stop here")
	calls := 0
	err = sc.ScanProvenance(ctx, func([]storage.Provenance) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 10 {
		t.Fatalf("ScanProvenance with fn failing on call 10 = %v after %d calls, want the same error after 10", err, calls)
	}
}

func testSightings(t *testing.T, s *Suite) {
	st := s.open(t)
	ss := as[storage.SightingStore](t, st)
	in := []storage.Sighting{
		{ID: "sighting--2", Type: "domain-name", Value: "example.org", Source: "soc", Internal: true, Count: 3, FirstSeen: base.Add(time.Hour), LastSeen: base.Add(2 * time.Hour)},
		{ID: "sighting--1", Type: "domain-name", Value: "example.org", Source: "partner", Count: 1, FirstSeen: base, LastSeen: base, FalsePositive: true},
		{ID: "sighting--3", Type: "domain-name", Value: "example.com", Source: "soc", Count: 1, FirstSeen: base, LastSeen: base},
	}
	res, err := ss.AddSightings(ctx, in)
	if err != nil || res.Added != 3 {
		t.Fatalf("AddSightings = %+v, %v", res, err)
	}
	if res, err = ss.AddSightings(ctx, in[:1]); err != nil || res.Existing != 1 || res.Added != 0 {
		t.Fatalf("AddSightings again = %+v, %v; want Existing 1", res, err)
	}
	got, err := ss.Sightings(ctx, "domain-name", "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "sighting--1" || got[1].ID != "sighting--2" {
		t.Fatalf("Sightings = %+v, want sighting--1 then sighting--2 (oldest FirstSeen first)", got)
	}
	g := got[1]
	if !g.Internal || g.Count != 3 || g.Source != "soc" || !g.LastSeen.Equal(in[0].LastSeen) || !got[0].FalsePositive {
		t.Fatalf("Sightings lost fields: %+v", got)
	}
	if got, _ := ss.Sightings(ctx, "domain-name", "example.net"); len(got) != 0 {
		t.Fatalf("Sightings of an unseen value: %+v", got)
	}
}

func testStatuses(t *testing.T, s *Suite) {
	st := s.open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	live := &storage.Status{ID: "status-live", Status: "pending", RequestTimestamp: now, TotalCount: 3, SuccessCount: 1,
		Successes:    []storage.StatusDetails{{ID: "indicator--1", Version: "2024-01-01T00:00:00.000Z"}},
		FailureCount: 1, Failures: []storage.StatusDetails{{ID: "indicator--2", Version: "v", Message: "bad"}},
		PendingCount: 1, Pendings: []storage.StatusDetails{{ID: "indicator--3", Version: "v"}},
		Owner: "alice", ExpiresAt: now.Add(24 * time.Hour)}
	expired := &storage.Status{ID: "status-old", Status: "complete", RequestTimestamp: now.Add(-48 * time.Hour), Owner: "bob", ExpiresAt: now.Add(-time.Hour)}
	for _, x := range []*storage.Status{live, expired} {
		if err := st.PutStatus(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.GetStatus(ctx, live.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "pending" || got.Owner != "alice" || got.TotalCount != 3 || len(got.Failures) != 1 || got.Failures[0].Message != "bad" ||
		!got.ExpiresAt.Equal(live.ExpiresAt) || !got.RequestTimestamp.Equal(now) || len(got.Pendings) != 1 {
		t.Fatalf("GetStatus = %+v, want %+v", got, live)
	}
	_, err = st.GetStatus(ctx, expired.ID)
	wantErr(t, "GetStatus(expired)", err, storage.ErrNotFound)
	_, err = st.GetStatus(ctx, "status-missing")
	wantErr(t, "GetStatus(missing)", err, storage.ErrNotFound)
	live.Status, live.PendingCount, live.Pendings, live.SuccessCount = "complete", 0, nil, 2
	if err := st.PutStatus(ctx, live); err != nil {
		t.Fatal(err)
	}
	if got, _ = st.GetStatus(ctx, live.ID); got.Status != "complete" || got.SuccessCount != 2 {
		t.Fatalf("replaced status: %+v", got)
	}
	n, err := st.PurgeStatuses(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("PurgeStatuses(now) = %d, %v; want 1", n, err)
	}
	n, err = st.PurgeStatuses(ctx, now)
	if err != nil || n != 0 {
		t.Fatalf("PurgeStatuses again = %d, %v; want 0", n, err)
	}
	if n, err = st.PurgeStatuses(ctx, now.Add(48*time.Hour)); err != nil || n != 1 {
		t.Fatalf("PurgeStatuses(later) = %d, %v; want 1", n, err)
	}
	_, err = st.GetStatus(ctx, live.ID)
	wantErr(t, "GetStatus(purged)", err, storage.ErrNotFound)
}

func testMISPEvents(t *testing.T, s *Suite) {
	st := s.open(t)
	mi := as[storage.MISPEventIndex](t, st)
	_, err := mi.MISPEvent(ctx, "5e8f7c1e-0000-4000-8000-000000000001")
	wantErr(t, "MISPEvent(unknown)", err, storage.ErrNotFound)
	ts := time.Unix(1717000000, 0).UTC()
	if err := mi.PutMISPEvent(ctx, "5e8f7c1e-0000-4000-8000-000000000001", ts); err != nil {
		t.Fatal(err)
	}
	if err := mi.PutMISPEvent(ctx, "5e8f7c1e-0000-4000-8000-000000000001", ts.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := mi.MISPEvent(ctx, "5e8f7c1e-0000-4000-8000-000000000001")
	if err != nil || !got.Equal(ts.Add(time.Hour)) {
		t.Fatalf("MISPEvent = %s, %v; want %s", got, err, ts.Add(time.Hour))
	}
}

func testLeases(t *testing.T, s *Suite) {
	st := s.open(t)
	l := as[storage.Leaser](t, st)
	if err := l.AcquireLease(ctx, "pull-otx", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := l.AcquireLease(ctx, "pull-otx", "a", time.Minute); err != nil {
		t.Fatalf("renewing by the holder: %v", err)
	}
	wantErr(t, "AcquireLease by another holder", l.AcquireLease(ctx, "pull-otx", "b", time.Minute), storage.ErrLeaseHeld)
	if err := l.AcquireLease(ctx, "pull-misp", "b", time.Minute); err != nil {
		t.Fatalf("another lease name: %v", err)
	}
	if err := l.ReleaseLease(ctx, "pull-otx", "b"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "release by a non-holder does nothing", l.AcquireLease(ctx, "pull-otx", "b", time.Minute), storage.ErrLeaseHeld)
	if err := l.ReleaseLease(ctx, "pull-otx", "a"); err != nil {
		t.Fatal(err)
	}
	if err := l.AcquireLease(ctx, "pull-otx", "b", 200*time.Millisecond); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := l.AcquireLease(ctx, "pull-otx", "a", time.Minute); err != nil {
		t.Fatalf("acquire after expiry: %v", err)
	}
	if err := l.AcquireLease(ctx, "pull-otx", "b", time.Minute); !errors.Is(err, storage.ErrLeaseHeld) {
		t.Fatalf("the previous holder after takeover: %v, want ErrLeaseHeld", err)
	}
}

func testSequences(t *testing.T, s *Suite) {
	st := s.open(t)
	sq := as[storage.Sequencer](t, st)
	for _, tt := range []struct {
		name  string
		n     int
		start int64
		want  int64
	}{
		{"sid", 1, 9000000, 9000000},
		{"sid", 10, 9000000, 9000001},
		{"sid", 1, 1, 9000011},
		{"other", 5, 1, 1},
		{"other", 1, 1, 6},
	} {
		got, err := sq.NextSequence(ctx, tt.name, tt.n, tt.start)
		if err != nil || got != tt.want {
			t.Fatalf("NextSequence(%s, %d, %d) = %d, %v; want %d", tt.name, tt.n, tt.start, got, err, tt.want)
		}
	}
}

func testBackup(t *testing.T, s *Suite) {
	st := s.open(t)
	b := as[storage.Backuper](t, st)
	mustEnsure(t, st, collA, storage.KindStored)
	mustPut(t, st, collA, Indicator(ver(1)))
	var buf bytes.Buffer
	if err := b.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Fatal("Backup wrote nothing")
	}
	// The store stays usable after a backup.
	mustPut(t, st, collA, Indicator(ver(2)))
}

func testCheck(t *testing.T, s *Suite) {
	st := s.open(t)
	c := as[storage.Checker](t, st)
	mustEnsure(t, st, collA, storage.KindStored)
	mustEnsure(t, st, collB, storage.KindStored)
	mustPut(t, st, collA, Indicator(ver(1)), Indicator(ver(2)))
	id := newID("indicator")
	mustPut(t, st, collB, SDO("indicator", id, ver(1), "2.1", 200), SDO("indicator", id, ver(2), "2.1", 200))
	if _, err := st.DeleteObject(ctx, collB, id, storage.Filter{Versions: []string{"first"}}); err != nil {
		t.Fatal(err)
	}
	report, err := c.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 0 {
		t.Fatalf("Check on a consistent store reported %v", report)
	}
	if report, err = c.Check(ctx, true); err != nil || len(report) != 0 {
		t.Fatalf("Check(repair) on a consistent store: %v %v", report, err)
	}
	info, _ := st.CollectionInfo(ctx, collB)
	if info.Count != 1 {
		t.Fatalf("after Check: count %d, want 1", info.Count)
	}
}
