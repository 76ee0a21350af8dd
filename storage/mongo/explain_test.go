package mongo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// TestExplain asks a real MongoDB for the plans of the request-path queries and
// fails on a collection scan or an in-memory SORT stage. It runs only when
// CTIBROKER_TEST_MONGODB_URI is set and CTIBROKER_TEST_MONGODB_FLAVOR is not
// "ferretdb" (FerretDB pushes no query down to SQLite, so its plans say nothing).
func TestExplain(t *testing.T) {
	if _, flavor := TestURI(t); flavor == "ferretdb" {
		t.Skip("explain plans are meaningful only on MongoDB, not on FerretDB")
	}
	ctx := context.Background()
	s := MustOpenTemp(t, Options{})
	if err := s.EnsureCollection(ctx, "c", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	var objs []stix.RawObject
	var ids []string
	mod := stix.NewTimestamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < 300; i++ {
		typ := []string{"indicator", "malware", "identity"}[i%3]
		id := fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, i)
		ids = append(ids, id)
		objs = append(objs, stix.RawObject{Common: stix.Common{Type: typ, ID: id, SpecVersion: "2.1", Modified: &mod},
			JSON: []byte(fmt.Sprintf(`{"type":%q,"id":%q,"spec_version":"2.1","modified":%q}`, typ, id, mod))})
	}
	if _, err := s.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	da := bson.D{{Key: "$gt", Value: int64(0)}, {Key: "$lte", Value: int64(1) << 62}}
	type find struct {
		shape  queryShape
		conds  []cond
		sorted bool
	}
	for _, q := range []find{
		{shapePage, []cond{{"c", "c"}, {"da", da}}, true},
		{shapePageType, []cond{{"c", "c"}, {"t", "malware"}, {"da", da}}, true},
		{shapePageType, []cond{{"c", "c"}, {"t", bson.D{{Key: "$in", Value: bson.A{"malware", "identity"}}}}, {"da", da}}, true},
		{shapePageID, []cond{{"c", "c"}, {"id", bson.D{{Key: "$in", Value: ids[:50]}}}, {"da", da}}, true},
		{shapePageID, []cond{{"c", "c"}, {"id", bson.D{{Key: "$in", Value: ids[:50]}}}, {"t", "malware"}, {"da", da}}, true},
		{shapeVersions, []cond{{"c", "c"}, {"id", bson.D{{Key: "$in", Value: ids[:50]}}}, {"da", bson.D{{Key: "$lte", Value: int64(1) << 62}}}}, false},
		{shapeVersions, []cond{{"c", "c"}, {"id", ids[7]}}, false},
		{shapeRange, []cond{{"c", "c"}, {"da", da}}, false},
		{shapeFirstLast, []cond{{"c", "c"}, {"da", bson.D{{Key: "$lte", Value: int64(1) << 62}}}}, true},
		{shapeProv, []cond{{"t", "ipv4-addr"}, {"v", "192.0.2.1"}}, true},
		{shapeProvPrune, []cond{{"d", bson.D{{Key: "$lt", Value: int64(5)}}}}, false},
		{shapeSightings, []cond{{"t", "ipv4-addr"}, {"v", "192.0.2.1"}}, true},
		{shapeStatusPurg, []cond{{"exp", bson.D{{Key: "$lt", Value: int64(5)}}}}, false},
	} {
		t.Run(q.shape.Name, func(t *testing.T) {
			f, err := q.shape.filter(q.conds...)
			if err != nil {
				t.Fatal(err)
			}
			cmd := bson.D{{Key: "find", Value: q.shape.Coll}, {Key: "filter", Value: f}, {Key: "limit", Value: 1001}}
			if q.sorted {
				cmd = append(cmd, bson.E{Key: "sort", Value: q.shape.sort(true)})
			}
			var res bson.M
			if err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: cmd}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&res); err != nil {
				t.Fatal(err)
			}
			var stages []string
			collectStages(field(field(res, "queryPlanner"), "winningPlan"), &stages)
			t.Logf("%s: %v", q.shape.Name, stages)
			ix := false
			for _, st := range stages {
				switch {
				case st == "COLLSCAN":
					t.Errorf("collection scan: %v", stages)
				case st == "SORT":
					t.Errorf("in-memory sort: %v", stages)
				case strings.Contains(st, "IXSCAN") || st == "IDHACK":
					ix = true
				}
			}
			if !ix {
				t.Errorf("no index scan in %v", stages)
			}
		})
	}
}

// field returns the value of key in a document decoded as bson.M or bson.D.
func field(doc any, key string) any {
	switch d := doc.(type) {
	case bson.M:
		return d[key]
	case bson.D:
		for _, e := range d {
			if e.Key == key {
				return e.Value
			}
		}
	}
	return nil
}

// collectStages appends every "stage" value found in an explain plan tree.
func collectStages(v any, out *[]string) {
	switch x := v.(type) {
	case bson.M:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "stage" {
				*out = append(*out, s)
				continue
			}
			collectStages(e, out)
		}
	case bson.D:
		for _, e := range x {
			if s, ok := e.Value.(string); ok && e.Key == "stage" {
				*out = append(*out, s)
				continue
			}
			collectStages(e.Value, out)
		}
	case bson.A:
		for _, e := range x {
			collectStages(e, out)
		}
	}
}

// TestExplainHasProvenance asks a real MongoDB for the plan of HasProvenance's
// find (a $or of exact {t, v, d, f} keys projecting only those fields): every
// clause must be an index scan, with no collection scan; a FETCH stage (the
// query not covered by t_v_d_f) is logged, not failed. Like TestExplain it does
// not run on FerretDB.
func TestExplainHasProvenance(t *testing.T) {
	if _, flavor := TestURI(t); flavor == "ferretdb" {
		t.Skip("explain plans are meaningful only on MongoDB, not on FerretDB")
	}
	ctx := context.Background()
	s := MustOpenTemp(t, Options{})
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	var recs []storage.Provenance
	for i := 0; i < 300; i++ {
		recs = append(recs, storage.Provenance{Feed: "otx", Type: "ipv4-addr", Value: fmt.Sprintf("192.0.2.%d", i), Day: day})
	}
	if _, err := s.AddProvenance(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var clauses bson.A
	for _, r := range recs[:50] {
		f, err := shapeProvKey.filter(cond{"t", r.Type}, cond{"v", r.Value}, cond{"d", nanos(r.Day)}, cond{"f", r.Feed})
		if err != nil {
			t.Fatal(err)
		}
		clauses = append(clauses, f)
	}
	proj := bson.D{{Key: "_id", Value: 0}, {Key: "t", Value: 1}, {Key: "v", Value: 1}, {Key: "d", Value: 1}, {Key: "f", Value: 1}}
	cmd := bson.D{{Key: "find", Value: collProvenance}, {Key: "filter", Value: bson.D{{Key: "$or", Value: clauses}}}, {Key: "projection", Value: proj}}
	var res bson.M
	if err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: cmd}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&res); err != nil {
		t.Fatal(err)
	}
	var stages []string
	collectStages(field(field(res, "queryPlanner"), "winningPlan"), &stages)
	t.Logf("%s: %v", shapeProvKey.Name, stages)
	ix := 0
	for _, st := range stages {
		switch {
		case st == "COLLSCAN":
			t.Errorf("collection scan: %v", stages)
		case strings.Contains(st, "IXSCAN"):
			ix++
		case st == "FETCH":
			t.Logf("not covered (FETCH): %v", stages)
		}
	}
	if ix == 0 {
		t.Errorf("no index scan in %v", stages)
	}
	// Every clause also has an equality on d, which the d index could serve
	// (a scan of a whole day): the plan must use t_v_d_f only.
	plan, err := bson.MarshalExtJSON(bson.M{"p": field(field(res, "queryPlanner"), "winningPlan")}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plan), `"indexName":"t_v_d_f"`) || strings.Contains(string(plan), `"indexName":"d"`) {
		t.Errorf("plan does not use t_v_d_f alone: %s", plan)
	}
}
