package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// Suite describes one backend to the contract suite.
type Suite struct {
	// Open returns a new, empty store for one subtest, closed by the suite or at
	// the end of the test, and reopen, which opens a new handle on the same data
	// after the first handle was closed (embedded: the same directory; MongoDB: a
	// new client on the same database). reopen may be nil: the reopen test skips.
	Open func(t *testing.T) (s storage.Store, reopen func(t *testing.T) storage.Store)
	// Crash, when set, starts a process that runs CrashWriter on a fresh store,
	// kills it with SIGKILL while it is writing a batch, and returns the store
	// reopened on the same data. The suite then checks that every batch is either
	// entirely visible or not at all. When nil the crash test skips.
	Crash func(t *testing.T) storage.Store
	// Sizes of the heavier cases; zero fields take the defaults.
	Sizes Sizes
}

// Sizes sets how big the heavier cases are. Defaults suit an embedded store and
// a FerretDB test server alike (about a minute each).
type Sizes struct {
	Bulk            int // objects in the one-batch pagination case (default 3000)
	BulkPage        int // page size used to walk it (default 700)
	WatermarkWrites int // objects each of two concurrent writers stores (default 1500)
	WatermarkBatch  int // objects per write batch of those writers (default 25)
}

func (z *Sizes) defaults() {
	if z.Bulk <= 0 {
		z.Bulk = 3000
	}
	if z.BulkPage <= 0 {
		z.BulkPage = 700
	}
	if z.WatermarkWrites <= 0 {
		z.WatermarkWrites = 1500
	}
	if z.WatermarkBatch <= 0 {
		z.WatermarkBatch = 25
	}
}

// Run runs the contract suite against fresh stores from open, without the reopen
// and crash tests. Use Suite.Run to include them.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	Suite{Open: func(t *testing.T) (storage.Store, func(*testing.T) storage.Store) {
		return open(t), nil
	}}.Run(t)
}

// Run runs every subtest of the contract suite.
func (s Suite) Run(t *testing.T) {
	s.Sizes.defaults()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *Suite)
	}{
		{"Collections", testCollections},
		{"PutAndQuery", testPutAndQuery},
		{"Idempotency", testIdempotency},
		{"Pagination", testPagination},
		{"Versions", testVersions},
		{"SCOVersions", testSCOVersions},
		{"SingleObject", testSingleObject},
		{"Filters", testFilters},
		{"Deletes", testDeletes},
		{"InvalidInput", testInvalidInput},
		{"Watermark", testWatermark},
		{"Reopen", testReopen},
		{"Crash", testCrash},
		{"Membership", testMembership},
		{"FeedState", testFeedState},
		{"Provenance", testProvenance},
		{"ScanProvenance", testScanProvenance},
		{"HasProvenance", testHasProvenance},
		{"Sightings", testSightings},
		{"Statuses", testStatuses},
		{"MISPEvents", testMISPEvents},
		{"Leases", testLeases},
		{"Sequences", testSequences},
		{"Backup", testBackup},
		{"Check", testCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, &s) })
	}
}

// open returns a fresh store that is closed when the test ends.
func (s *Suite) open(t *testing.T) storage.Store {
	t.Helper()
	st, _ := s.Open(t)
	t.Cleanup(func() { st.Close() })
	return st
}

// Collection ids the suite uses.
const (
	collA       = "0a0a0a0a-suite-stored-a"
	collB       = "0b0b0b0b-suite-stored-b"
	collCurated = "0c0c0c0c-suite-curated"
)

var ctx = context.Background()

// base is a fixed STIX time the suite's versions are built from.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// ver returns base plus n minutes, as a STIX timestamp.
func ver(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// SDO returns a STIX domain object of typ with id and version modified (created
// one day before), spec_version spec (omitted when empty), padded with a
// description so it weighs about size bytes. Its Common is filled.
func SDO(typ, id string, modified time.Time, spec string, size int) stix.RawObject {
	created := stix.NewTimestamp(modified.Add(-24 * time.Hour))
	mod := stix.NewTimestamp(modified)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":%q,`, typ)
	if spec != "" {
		fmt.Fprintf(&b, `"spec_version":%q,`, spec)
	}
	fmt.Fprintf(&b, `"id":%q,"created":%q,"modified":%q,"name":"suite object %s"`, id, created.String(), mod.String(), id)
	if typ == "indicator" {
		fmt.Fprintf(&b, `,"pattern":"[ipv4-addr:value = '10.%d.%d.%d']","pattern_type":"stix","valid_from":%q`,
			len(id)%256, modified.Minute(), modified.Second(), created.String())
	}
	if pad := size - b.Len() - 20; pad > 0 {
		b.WriteString(`,"description":"`)
		for i := 0; i < pad; i++ {
			b.WriteByte('a' + byte(i%26))
		}
		b.WriteString(`"`)
	}
	b.WriteString("}")
	return stix.RawObject{Common: stix.Common{Type: typ, SpecVersion: spec, ID: id, Created: &created, Modified: &mod}, JSON: b.Bytes()}
}

// Indicator returns a ~1 KB indicator with a random id and the given version.
func Indicator(modified time.Time) stix.RawObject {
	return SDO("indicator", "indicator--"+uuid.NewString(), modified, "2.1", 1000)
}

// SCO returns an ipv4-addr object with id and value, properties in the given order.
func SCO(id, value string, reversed bool) stix.RawObject {
	js := fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":%q,"value":%q}`, id, value)
	if reversed {
		js = fmt.Sprintf(`{"value":%q,"id":%q,"spec_version":"2.1","type":"ipv4-addr"}`, value, id)
	}
	return stix.RawObject{Common: stix.Common{Type: "ipv4-addr", SpecVersion: "2.1", ID: id}, JSON: []byte(js)}
}

func newID(typ string) string { return typ + "--" + uuid.NewString() }

func mustEnsure(t *testing.T, st storage.Store, id, kind string) {
	t.Helper()
	if err := st.EnsureCollection(ctx, id, kind); err != nil {
		t.Fatalf("EnsureCollection(%s, %s): %v", id, kind, err)
	}
}

func mustPut(t *testing.T, st storage.Store, coll string, objs ...stix.RawObject) *storage.WriteResult {
	t.Helper()
	res, err := st.PutObjects(ctx, coll, objs)
	if err != nil {
		t.Fatalf("PutObjects(%s, %d objects): %v", coll, len(objs), err)
	}
	return res
}

// everything is a filter selecting every stored version.
var everything = storage.Filter{Versions: []string{storage.VersionAll}, SpecVersions: []string{"2.0", "2.1"}}

// queryFunc is QueryObjects or QueryManifest.
type queryFunc func(ctx context.Context, collection string, f storage.Filter) (*storage.Page, error)

// walk follows Next until More is false and returns every record, checking the
// page invariants on the way.
func walk(t *testing.T, q queryFunc, coll string, f storage.Filter) []storage.Record {
	t.Helper()
	var all []storage.Record
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatalf("walk %s %+v: more than 100000 pages", coll, f)
		}
		pg, err := q(ctx, coll, f)
		if err != nil {
			t.Fatalf("query %s %+v: %v", coll, f, err)
		}
		if f.Limit > 0 && len(pg.Records) > f.Limit {
			t.Fatalf("query %s limit %d: got %d records", coll, f.Limit, len(pg.Records))
		}
		all = append(all, pg.Records...)
		if !pg.More {
			if pg.Next != "" {
				t.Errorf("query %s: More false but Next %q", coll, pg.Next)
			}
			break
		}
		if pg.Next == "" {
			t.Fatalf("query %s: More true without Next", coll)
		}
		f.Next = pg.Next
	}
	checkAscending(t, all)
	return all
}

// checkAscending fails unless DateAdded strictly increases (no duplicates either).
func checkAscending(t *testing.T, recs []storage.Record) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if !recs[i].DateAdded.After(recs[i-1].DateAdded) {
			t.Fatalf("record %d (%s) date_added %s not after record %d (%s) %s", i, recs[i].ID,
				recs[i].DateAdded.Format(time.RFC3339Nano), i-1, recs[i-1].ID, recs[i-1].DateAdded.Format(time.RFC3339Nano))
		}
	}
}

// key identifies a record for comparisons.
func key(r storage.Record) string {
	return r.ID + "@" + r.Version.UTC().Format(time.RFC3339Nano)
}

func keys(recs []storage.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = key(r)
	}
	return out
}

func sameKeys(t *testing.T, what string, got, want []storage.Record) {
	t.Helper()
	g, w := keys(got), keys(want)
	if len(g) != len(w) {
		t.Fatalf("%s: got %d records, want %d\n got %v\nwant %v", what, len(g), len(w), short(g), short(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: record %d is %s, want %s\n got %v\nwant %v", what, i, g[i], w[i], short(g), short(w))
		}
	}
}

func short(s []string) []string {
	if len(s) > 20 {
		return append(s[:20:20], fmt.Sprintf("... (%d more)", len(s)-20))
	}
	return s
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func sortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// describe prints a page briefly.
func describe(pg *storage.Page) string {
	if pg == nil {
		return "<nil page>"
	}
	return fmt.Sprintf("%d records %v more=%v next=%q", len(pg.Records), short(keys(pg.Records)), pg.More, pg.Next)
}
