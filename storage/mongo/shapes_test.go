package mongo

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// TestQueryShapesUseIndexes checks, without a server, that every query shape the
// backend issues is served by a declared index (equality keys first, then the
// sort, then ranges), and that residual filters say why they are bounded.
func TestQueryShapesUseIndexes(t *testing.T) {
	perColl := map[string][]string{"": {collFeeds, collMISPEvents, collSequences, collLeases}}
	for _, q := range allShapes {
		colls := []string{q.Coll}
		if q.Coll == "" {
			colls = perColl[""]
		}
		for _, c := range colls {
			ix := q.servedBy(c)
			switch {
			case ix == "" && q.Offline && len(q.Eq)+len(q.Sort)+len(q.Range) == 0:
				t.Logf("%-32s %-12s full scan, offline only (backup)", q.Name, c)
			case ix == "":
				t.Errorf("query %q on %s (eq %v, sort %v, range %v) is served by no declared index", q.Name, c, q.Eq, q.Sort, q.Range)
			default:
				t.Logf("%-32s %-12s index %s", q.Name, c, ix)
			}
		}
		if len(q.Residual) > 0 && q.Bounded == "" {
			t.Errorf("query %q filters %v outside its index without saying why that is bounded", q.Name, q.Residual)
		}
	}
}

// TestShapeFilterRejectsUndeclaredFields: a query cannot filter on a field its
// shape does not declare, so the shapes above are the queries that run.
func TestShapeFilterRejectsUndeclaredFields(t *testing.T) {
	if _, err := shapePage.filter(cond{"c", "x"}, cond{"da", bson.D{{Key: "$gt", Value: 1}}}); err != nil {
		t.Fatalf("declared fields: %v", err)
	}
	for _, c := range []cond{{"t", "indicator"}, {"sv", "2.1"}, {"j", nil}} {
		if _, err := shapePage.filter(cond{"c", "x"}, c); err == nil {
			t.Errorf("shape %q accepted undeclared field %q", shapePage.Name, c.Field)
		}
	}
}

// TestPrefixOf covers the index rule itself with shapes that must fail.
func TestPrefixOf(t *testing.T) {
	for name, tt := range map[string]struct {
		q    queryShape
		keys []string
		want bool
	}{
		"eq then sort":             {queryShape{Eq: []string{"c"}, Sort: []string{"da"}}, []string{"c", "da"}, true},
		"eq in any order":          {queryShape{Eq: []string{"t", "c"}, Sort: []string{"da"}}, []string{"c", "t", "da"}, true},
		"sort before eq":           {queryShape{Eq: []string{"t"}, Sort: []string{"da"}}, []string{"c", "t", "da"}, false},
		"sort not next":            {queryShape{Eq: []string{"c"}, Sort: []string{"da"}}, []string{"c", "t", "da"}, false},
		"range on next key":        {queryShape{Eq: []string{"c", "id"}, Range: []string{"da"}}, []string{"c", "id", "da"}, true},
		"range on a later key":     {queryShape{Eq: []string{"c"}, Range: []string{"da"}}, []string{"c", "id", "da"}, false},
		"empty shape is no use":    {queryShape{}, []string{"c"}, false},
		"index shorter than query": {queryShape{Eq: []string{"c"}, Sort: []string{"da", "x"}}, []string{"c", "da"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tt.q.prefixOf(tt.keys); got != tt.want {
				t.Fatalf("prefixOf(%v) = %v, want %v", tt.keys, got, tt.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, pos := range []int64{0, 1, 1717171717171717, math.MaxInt64, math.MinInt64} {
		got, err := decodeCursor(encodeCursor(pos))
		if err != nil || got != pos {
			t.Fatalf("decodeCursor(encodeCursor(%d)) = %d, %v", pos, got, err)
		}
	}
	for _, bad := range []string{"", "garbage", "%%%", "MS4", "Mi4x"} {
		if _, err := decodeCursor(bad); !errors.Is(err, storage.ErrInvalidCursor) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func TestParseVersions(t *testing.T) {
	ts := "2024-03-01T12:00:00.123456Z"
	for name, tt := range map[string]struct {
		in      []string
		def     string
		want    versionFilter
		wantErr bool
	}{
		"default last":   {nil, storage.VersionLast, versionFilter{last: true}, false},
		"default all":    {nil, storage.VersionAll, versionFilter{all: true}, false},
		"first and last": {[]string{"first", "last"}, "", versionFilter{first: true, last: true}, false},
		"timestamp":      {[]string{ts}, "", versionFilter{times: map[int64]bool{1709294400123456: true}}, false},
		"all with last":  {[]string{"all", "last"}, "", versionFilter{}, true},
		"bad word":       {[]string{"latest"}, "", versionFilter{}, true},
		"no Z":           {[]string{"2024-03-01T12:00:00"}, "", versionFilter{}, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseVersions(tt.in, tt.def)
			if tt.wantErr {
				if !errors.Is(err, storage.ErrInvalidFilter) {
					t.Fatalf("got error %v, want ErrInvalidFilter", err)
				}
				return
			}
			if err != nil || got.all != tt.want.all || got.first != tt.want.first || got.last != tt.want.last || len(got.times) != len(tt.want.times) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			for k := range tt.want.times {
				if !got.times[k] {
					t.Fatalf("times %v lacks %d", got.times, k)
				}
			}
		})
	}
}

func TestVersionKey(t *testing.T) {
	a := stix.RawObject{Common: stix.Common{Type: "ipv4-addr", ID: "ipv4-addr--1"}, JSON: []byte(`{"type":"ipv4-addr","id":"ipv4-addr--1","value":"192.0.2.1"}`)}
	b := stix.RawObject{Common: a.Common, JSON: []byte(`{ "value":"192.0.2.1", "id":"ipv4-addr--1", "type":"ipv4-addr" }`)}
	c := stix.RawObject{Common: a.Common, JSON: []byte(`{"type":"ipv4-addr","id":"ipv4-addr--1","value":"192.0.2.2"}`)}
	ka, va, err := versionKey(&a)
	if err != nil || va != 0 || !strings.HasPrefix(ka, "h") {
		t.Fatalf("SCO key %q, %d, %v", ka, va, err)
	}
	if kb, _, _ := versionKey(&b); kb != ka {
		t.Errorf("reordered SCO: key %s, want %s (canonical bytes)", kb, ka)
	}
	if kc, _, _ := versionKey(&c); kc == ka {
		t.Error("changed SCO has the same key")
	}
	mod := stix.NewTimestamp(time.Date(2024, 1, 2, 3, 4, 5, 678000000, time.UTC))
	sdo := stix.RawObject{Common: stix.Common{Type: "indicator", ID: "indicator--1", Modified: &mod}, JSON: []byte(`{}`)}
	if k, v, err := versionKey(&sdo); err != nil || v != mod.UnixMicro() || k != "m1704164645678000" {
		t.Fatalf("SDO key %q %d %v", k, v, err)
	}
	bad := stix.RawObject{Common: a.Common, JSON: []byte(`{"type":`)}
	if _, _, err := versionKey(&bad); err == nil {
		t.Fatal("broken JSON: no error")
	}
}

func TestWatermark(t *testing.T) {
	for name, tt := range map[string]struct {
		d    collDoc
		want int64
	}{
		"nothing in flight": {collDoc{Next: 100}, 100},
		"one in flight":     {collDoc{Next: 100, Pending: []pending{{Lo: 91, Hi: 100}}}, 90},
		"oldest wins":       {collDoc{Next: 100, Pending: []pending{{Lo: 95, Hi: 100}, {Lo: 41, Hi: 60}}}, 40},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tt.d.watermark(); got != tt.want {
				t.Fatalf("watermark() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTimeEncoding(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Unix(0, 1).UTC(), time.Date(2024, 5, 1, 0, 0, 0, 123456789, time.UTC)} {
		if got := fromNanos(nanos(tm)); !got.Equal(tm) || got.IsZero() != tm.IsZero() {
			t.Errorf("nanos round trip of %v = %v", tm, got)
		}
	}
}

// TestOpenUnreachable needs no server: a closed loopback port gives a clear error
// quickly.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Open(context.Background(), "mongodb://user:s3cret@"+addr+"/db", Options{ConnectTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("Open of a closed port: no error")
	}
	if !strings.Contains(err.Error(), "does not answer") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not say which server does not answer", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q leaks the password", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %s with a 300 ms timeout", d)
	}
	for _, bad := range []string{"http://x", "mongodb://", "mongodb://h:notaport/", "mongodb://" + addr + "/?w=0"} {
		if _, err := Open(context.Background(), bad, Options{ConnectTimeout: 100 * time.Millisecond}); err == nil {
			t.Errorf("Open(%q): no error", bad)
		}
	}
}
