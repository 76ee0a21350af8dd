package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

const (
	t1066     = "attack-pattern--00d0b012-8a03-410e-95de-5826bf542de6" // revoked by T1027.005 in 18.1
	t1027005  = "attack-pattern--b0533c6e-8fea-4788-874f-b799cacc4b92"
	cobalt    = "malware--a7881f21-e978-4fe4-af56-92c9416a2616"
	revokedBy = "relationship--cb4015bf-e7a4-4b26-8816-1f7a996adf4f"
)

// attackReleases writes two synthetic ATT&CK releases built from the 25-object
// 18.1 sample: the older one has T1066 current (not revoked, no revoked-by
// relationship), the newer one is the sample, where T1066 is revoked by
// T1027.005 with a later modified.
func attackReleases(t *testing.T) (older, newer string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("attack", "testdata", "enterprise-attack-18.1-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle map[string]any
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	objs := bundle["objects"].([]any)
	var old []any
	for _, o := range objs {
		m := o.(map[string]any)
		switch m["id"] {
		case revokedBy:
			continue
		case t1066:
			c := map[string]any{}
			for k, v := range m {
				c[k] = v
			}
			c["revoked"] = false
			c["modified"] = "2019-01-01T00:00:00.000Z"
			m = c
		}
		old = append(old, m)
	}
	dir := t.TempDir()
	write := func(name string, objs []any) string {
		out, err := json.Marshal(map[string]any{"type": "bundle", "id": bundle["id"], "objects": objs})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("older.json", old), write("newer.json", objs)
}

// TestRepointAttack: relationships authored against an older ATT&CK release (an
// indicator indicates T1066; a provider's Cobalt Strike uses T1066) are revoked
// and replaced by relationships to T1027.005 once the newer release, where
// T1066 is revoked by T1027.005, is imported; the Runner with the new index then
// finds its relationship stored; a second pass changes nothing.
func TestRepointAttack(t *testing.T) {
	ctx := context.Background()
	older, newer := attackReleases(t)
	s := testStore(t)
	if err := s.(interface {
		EnsureCollection(context.Context, string, string) error
	}).EnsureCollection(ctx, "attack", storage.KindStored); err != nil {
		t.Fatal(err)
	}
	if _, err := attack.Import(ctx, s, "attack", older); err != nil {
		t.Fatal(err)
	}
	ixOld, err := attack.Load(older)
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := ixOld.Resolve("T1066"); !ok || ref.ID != t1066 {
		t.Fatalf("older release: T1066 → %+v", ref)
	}
	now := testTime
	r := newRunner(s, &now)
	ts := stix.NewTimestamp(testTime)
	uses := &stix.Relationship{Common: stix.Common{Type: "relationship", SpecVersion: "2.1", ID: ingest.RelationshipID("uses", cobalt, t1066),
		CreatedByRef: testIdentity, Created: &ts, Modified: &ts}, RelationshipType: "uses", SourceRef: cobalt, TargetRef: t1066}
	obs := []ingest.Observation{{Type: "domain-name", Value: "t1066.example", Detect: true, Context: ingest.Context{AttackIDs: []string{"T1066"}, TLP: "amber"}}}
	src := &sliceSource{batches: []ingest.Batch{{Objects: []stix.Object{uses}, Observations: obs}}}
	f := feed("attack-feed", src)
	f.Config.Attack = ixOld
	r.Config.Markings = true
	mustRun(t, r, f)
	v, _ := ingest.Normalize("domain-name", "t1066.example")
	ind := ingest.IndicatorID(v)
	oldIndicates := ingest.RelationshipID("indicates", ind, t1066)
	getObject(t, s, oldIndicates)

	// The newer release.
	if _, err := attack.Import(ctx, s, "attack", newer); err != nil {
		t.Fatal(err)
	}
	ixNew, err := attack.Load(newer)
	if err != nil {
		t.Fatal(err)
	}
	later := testTime.Add(48 * time.Hour)
	res, err := ingest.RepointAttack(ctx, s, ingest.DefaultPool, ixNew, testIdentity, later)
	if err != nil {
		t.Fatal(err)
	}
	if res.Repointed != 2 || res.Added != 2 {
		t.Fatalf("RepointAttack = %+v", res)
	}
	for _, old := range []string{oldIndicates, uses.ID} {
		if m := getObject(t, s, old); m["revoked"] != true || m["modified"] != later.Format(stix.TimestampLayout) {
			t.Fatalf("old relationship %s not revoked: %v", old, m)
		}
	}
	newIndicates := getObject(t, s, ingest.RelationshipID("indicates", ind, t1027005))
	if newIndicates["target_ref"] != t1027005 || newIndicates["source_ref"] != ind || newIndicates["created_by_ref"] != testIdentity {
		t.Fatalf("new indicates %v", newIndicates)
	}
	if m, _ := newIndicates["object_marking_refs"].([]any); len(m) != 1 || m[0] != stix.TLP2AmberID {
		t.Fatalf("marking not carried over: %v", newIndicates)
	}
	if m := getObject(t, s, ingest.RelationshipID("uses", cobalt, t1027005)); m["relationship_type"] != "uses" || m["target_ref"] != t1027005 {
		t.Fatalf("new uses %v", m)
	}
	// Idempotent.
	res, err = ingest.RepointAttack(ctx, s, ingest.DefaultPool, ixNew, testIdentity, later)
	if err != nil || res.Repointed != 0 || res.Added != 0 {
		t.Fatalf("second pass = %+v, %v", res, err)
	}
	// The Runner on the new index finds the re-pointed relationship stored.
	now = later
	resetCursor(t, s, "attack-feed")
	f.Config.Attack = ixNew
	src.batches[0].Objects = nil
	if st := mustRun(t, r, f); st.New != 0 {
		t.Fatalf("runner after repoint wrote new objects: %+v", st)
	}
	// Relationships of another identity are left alone.
	if res, err := ingest.RepointAttack(ctx, s, ingest.DefaultPool, ixNew, "identity--00000000-0000-4000-8000-000000000009", later); err != nil || res.Scanned != 0 {
		t.Fatalf("other identity: %+v %v", res, err)
	}
}
