package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// model computes the expected answer of a filter over every stored version,
// following TAXII 2.1 §3.4.1 as the contract states it.
func model(all []storage.Record, f storage.Filter) []storage.Record {
	maxSpec := map[string]string{}
	for _, r := range all {
		if r.SpecVersion > maxSpec[r.ID] {
			maxSpec[r.ID] = r.SpecVersion
		}
	}
	inView := func(r storage.Record) bool {
		if len(f.SpecVersions) > 0 {
			return slices.Contains(f.SpecVersions, r.SpecVersion)
		}
		return r.SpecVersion == maxSpec[r.ID]
	}
	last, first := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range all {
		if !inView(r) {
			continue
		}
		if l, ok := last[r.ID]; !ok || r.Version.After(l) {
			last[r.ID] = r.Version
		}
		if f0, ok := first[r.ID]; !ok || r.Version.Before(f0) {
			first[r.ID] = r.Version
		}
	}
	versions := f.Versions
	if len(versions) == 0 {
		versions = []string{storage.VersionLast}
	}
	var out []storage.Record
	for _, r := range all {
		if !inView(r) || !r.DateAdded.After(f.AddedAfter) {
			continue
		}
		if len(f.IDs) > 0 && !slices.Contains(f.IDs, r.ID) {
			continue
		}
		if len(f.Types) > 0 && !slices.Contains(f.Types, r.Type) {
			continue
		}
		ok := false
		for _, v := range versions {
			switch v {
			case storage.VersionAll:
				ok = true
			case storage.VersionLast:
				ok = ok || r.Version.Equal(last[r.ID])
			case storage.VersionFirst:
				ok = ok || r.Version.Equal(first[r.ID])
			default:
				ts, err := stix.ParseTimestamp(v)
				ok = ok || err == nil && ts.Time.Equal(r.Version)
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// testFilters compares every combination of filters with the model, paging with
// small and large limits.
func testFilters(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	ind1, ind2, mal, sco := newID("indicator"), newID("indicator"), newID("malware"), newID("ipv4-addr")
	rel := newID("relationship")
	// Batch 1.
	mustPut(t, st, collA,
		SDO("indicator", ind1, ver(2), "2.1", 300),
		SDO("malware", mal, ver(5), "", 300), // STIX 2.0, newest by modified
		SCO(sco, "203.0.113.5", false),
		SDO("identity", newID("identity"), ver(1), "2.1", 200),
	)
	// Batch 2: newer and older versions, a 2.1 malware version older than the 2.0 one.
	mustPut(t, st, collA,
		SDO("indicator", ind1, ver(3), "2.1", 300),
		SDO("malware", mal, ver(4), "2.1", 300),
		SDO("indicator", ind2, ver(1), "2.1", 300),
		SDO("relationship", rel, ver(1), "2.1", 200),
	)
	// Batch 3: an old version arriving late, a changed SCO, more identities.
	mustPut(t, st, collA,
		SDO("indicator", ind1, ver(1), "2.1", 300),
		SCO(sco, "203.0.113.6", false),
		SDO("identity", newID("identity"), ver(2), "2.1", 200),
		SDO("relationship", rel, ver(2), "2.1", 200),
	)
	all := walk(t, st.QueryManifest, collA, everything)
	if len(all) != 12 {
		t.Fatalf("stored %d versions, want 12", len(all))
	}
	mid := all[5].DateAdded
	ts := func(n int) string { return stix.NewTimestamp(ver(n)).String() }

	addedAfter := []time.Time{{}, mid, all[len(all)-1].DateAdded}
	idSets := [][]string{nil, {ind1, mal}, {sco, newID("indicator")}}
	typeSets := [][]string{nil, {"indicator"}, {"malware", "ipv4-addr"}, {"campaign"}}
	versionSets := [][]string{nil, {"first"}, {"all"}, {"first", "last"}, {ts(2)}, {ts(1), ts(4)}, {ts(5), "last"}}
	specSets := [][]string{nil, {"2.0"}, {"2.1"}, {"2.0", "2.1"}}
	n := 0
	for _, aa := range addedAfter {
		for _, ids := range idSets {
			for _, types := range typeSets {
				for _, vs := range versionSets {
					for _, specs := range specSets {
						n++
						limit := []int{2, 1000, 3}[n%3]
						f := storage.Filter{AddedAfter: aa, IDs: ids, Types: types, Versions: vs, SpecVersions: specs, Limit: limit}
						want := model(all, f)
						what := fmt.Sprintf("added_after=%v ids=%d types=%v versions=%v specs=%v limit=%d",
							!aa.IsZero(), len(ids), types, vs, specs, limit)
						sameKeys(t, "manifest "+what, walk(t, st.QueryManifest, collA, f), want)
						if n%7 == 0 {
							got := walk(t, st.QueryObjects, collA, f)
							sameKeys(t, "objects "+what, got, want)
							for _, r := range got {
								if len(r.JSON) == 0 {
									t.Fatalf("objects %s: %s without JSON", what, key(r))
								}
							}
						}
					}
				}
			}
		}
	}
	// The same rules on GetObject and ListVersions.
	for _, id := range []string{ind1, mal, sco, rel} {
		for _, vs := range versionSets {
			for _, specs := range specSets {
				for _, aa := range addedAfter[:2] {
					f := storage.Filter{Versions: vs, SpecVersions: specs, AddedAfter: aa}
					pg, err := st.GetObject(ctx, collA, id, f)
					if err != nil {
						t.Fatalf("GetObject(%s, %+v): %v", id, f, err)
					}
					f.IDs = []string{id}
					sameKeys(t, fmt.Sprintf("GetObject %s versions=%v specs=%v", id, vs, specs), pg.Records, model(all, f))
				}
			}
		}
	}
}

// testWatermark runs two concurrent writers and an added_after poller; the
// poller's union must equal the final collection.
func testWatermark(t *testing.T, s *Suite) {
	st := s.open(t)
	mustEnsure(t, st, collA, storage.KindStored)
	per, batch := s.Sizes.WatermarkWrites, s.Sizes.WatermarkBatch
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	done := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += batch {
				objs := make([]stix.RawObject, 0, batch)
				for j := i; j < i+batch && j < per; j++ {
					objs = append(objs, SDO("indicator", newID("indicator"), ver(j%60), "2.1", 400))
				}
				if _, err := st.PutObjects(ctx, collA, objs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[string]int{}
	var last time.Time
	poll := func() {
		for {
			pg, err := st.QueryManifest(ctx, collA, storage.Filter{AddedAfter: last, Limit: 97})
			if err != nil {
				t.Errorf("poll: %v", err)
				return
			}
			for _, r := range pg.Records {
				if !r.DateAdded.After(last) {
					t.Errorf("poll returned %s added %s, not after %s", r.ID, r.DateAdded, last)
				}
				seen[r.ID]++
				last = r.DateAdded
			}
			if len(pg.Records) == 0 {
				return
			}
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		poll()
		if t.Failed() {
			break
		}
	}
	poll()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	final := walk(t, st.QueryManifest, collA, storage.Filter{Limit: 1000})
	if len(final) != 2*per {
		t.Fatalf("final collection holds %d, want %d", len(final), 2*per)
	}
	for _, r := range final {
		if seen[r.ID] != 1 {
			t.Fatalf("poller saw %s %d times, want once (it saw %d of %d)", r.ID, seen[r.ID], len(seen), len(final))
		}
	}
	if len(seen) != len(final) {
		t.Fatalf("poller saw %d ids, final collection %d", len(seen), len(final))
	}
}
