package ingest_test

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/storage"
)

// TestAuthorMatchesRunner: AuthorWith returns exactly the objects (same bytes)
// a Runner with the same Config stores for the same observations in an empty
// pool, and the same warnings; twice the same input gives the same output. With
// DefaultConfig the first value also carries CVEs, sectors and a TLP.
func TestAuthorMatchesRunner(t *testing.T) {
	for name, tc := range map[string]struct {
		c    ingest.Config
		want int
	}{
		"zero config":    {ingest.Config{}, 3 + 2 + 2 + 1 + 2},                // SCOs, indicators, based-on, Emotet malware, indicates ×2
		"default config": {ingest.DefaultConfig(), 3 + 2 + 2 + 1 + 2 + 2 + 2}, // + vulnerability, sector, Emotet targets ×2
	} {
		t.Run(name, func(t *testing.T) { authorMatchesRunner(t, tc.c, tc.want) })
	}
}

func authorMatchesRunner(t *testing.T, c ingest.Config, want int) {
	ix, err := attack.Load("attack/testdata/enterprise-attack-18.1-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx0 := ingest.Context{Malware: []string{"Emotet"}, AttackIDs: []string{"T1059.001", "T9999"}}
	if c.Markings {
		ctx0.CVEs, ctx0.Sectors, ctx0.TLP = []string{"CVE-2024-3400"}, []string{"Finance"}, "amber"
	}
	in := []ingest.Observation{
		{Type: "url", Value: "hxxp://evil[.]example/a?b=<c>&d", Detect: true, Context: ctx0},
		{Type: "ipv4-addr", Value: "198.51.100.9"},
		{Type: "ipv4-addr", Value: "010.0.0.1", Detect: true},
		{Type: "sha256", Value: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", Detect: true, Seen: testTime.Add(-48 * time.Hour)},
		{Type: "domain-name", Value: "gone.example", Detect: true, Revoked: true},
	}
	cfg := ingest.FeedConfig{Name: "author", Provider: "test", Attack: ix, DefaultTLP: "green"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	objs, warns, err := ingest.AuthorWith(c, cfg, testIdentity, testTime, in)
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := ingest.AuthorWith(c, cfg, testIdentity, testTime, in)
	if len(again) != len(objs) {
		t.Fatal("not deterministic")
	}
	for i := range objs {
		if !bytes.Equal(objs[i].JSON, again[i].JSON) {
			t.Fatalf("not deterministic: %s vs %s", objs[i].JSON, again[i].JSON)
		}
	}

	s := testStore(t)
	now := testTime
	f := feed("author", &sliceSource{batches: []ingest.Batch{{Observations: in}}})
	f.Config = cfg
	r := newRunner(s, &now)
	r.Config = c
	st := mustRun(t, r, f)
	if st.Warnings != len(warns) || len(warns) != 2 {
		t.Fatalf("warnings: runner %d, Author %v", st.Warnings, warns)
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(objs) || st.New != len(objs) {
		t.Fatalf("runner stored %d objects (%d new), Author returned %d", len(page.Records), st.New, len(objs))
	}
	stored := map[string][]byte{}
	for _, r := range page.Records {
		stored[r.ID] = r.JSON
	}
	ids := make([]string, 0, len(objs))
	marked := 0
	for _, o := range objs {
		ids = append(ids, o.ID)
		if !bytes.Equal(stored[o.ID], o.JSON) {
			t.Errorf("%s: runner stored %s, Author returned %s", o.ID, stored[o.ID], o.JSON)
		}
		if bytes.Contains(o.JSON, []byte(`"object_marking_refs"`)) {
			marked++
		}
	}
	sort.Strings(ids)
	if len(ids) != want {
		t.Fatalf("%d objects, want %d: %v", len(ids), want, ids)
	}
	// Indicators (2) and their based-on (2), indicates (2) and targets (2) relationships.
	if c.Markings && marked != 8 || !c.Markings && marked != 0 {
		t.Fatalf("%d marked objects", marked)
	}
}
