package misp_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
)

// TestRealEventThroughRunner imports the real 49-object Sednit event through
// the Runner into a bolt pool with ATT&CK 18.1: its galaxy clusters resolve to
// MITRE's objects (Sofacy is APT28, G0007), every detection-worthy value gets
// an indicator that indicates APT28, and every object the report references
// that is not MITRE's is stored.
func TestRealEventThroughRunner(t *testing.T) {
	ix := fullIndex(t)
	path := ingesttest.MustShared(t, "testdata/providers/misp/event_sednit_objects_galaxies.json")
	conv := &misp.Converter{Attack: ix, Identity: ingesttest.Identity, Share: ingest.ShareCommunity}
	b := convertPath(t, conv, path)
	ingesttest.MustValidateBatch(t, b)
	apt28, ok := ix.Resolve("G0007")
	if !ok {
		t.Fatal("ATT&CK 18.1 has no G0007")
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"))
	defer store.Close()
	cfg := ingest.FeedConfig{Name: "misp-import", Provider: misp.Provider, Attack: ix}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := (&ingest.Runner{Store: store, Identity: ingesttest.Identity}).Run(context.Background(),
		&ingest.Feed{Config: cfg, Source: ingesttest.Batches{*b}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Warnings != 0 {
		t.Errorf("runner warnings: %d", st.Warnings)
	}
	detect := map[string]bool{}
	for _, o := range b.Observations {
		if o.Detect {
			v, err := ingest.Normalize(o.Type, o.Value)
			if err != nil {
				t.Fatal(err)
			}
			detect[ingest.IndicatorID(v)] = true
		}
	}
	if len(detect) == 0 {
		t.Fatal("no detection-worthy values in the Sednit event")
	}
	page, err := store.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"relationship"}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	indicatesAPT28 := map[string]bool{}
	for _, rec := range page.Records {
		var r struct {
			Type   string `json:"relationship_type"`
			Source string `json:"source_ref"`
			Target string `json:"target_ref"`
		}
		if err := json.Unmarshal(rec.JSON, &r); err != nil {
			t.Fatal(err)
		}
		if r.Type == "indicates" && r.Target == apt28.ID {
			indicatesAPT28[r.Source] = true
		}
	}
	for id := range detect {
		if !indicatesAPT28[id] {
			t.Errorf("%s does not indicate APT28 (%s)", id, apt28.ID)
		}
	}
	reports, err := store.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"report"}})
	if err != nil || len(reports.Records) != 1 {
		t.Fatalf("reports %v, err %v", reports, err)
	}
	var rep struct {
		ObjectRefs []string `json:"object_refs"`
	}
	json.Unmarshal(reports.Records[0].JSON, &rep)
	for _, id := range rep.ObjectRefs {
		if _, ok := ix.Object(id); ok {
			continue // MITRE's own: `ctibroker attack import` stores those
		}
		if _, err := store.GetObject(context.Background(), ingest.DefaultPool, id, storage.Filter{}); err != nil {
			t.Errorf("report references %s: %v", id, err)
		}
	}
	if !containsRef(rep.ObjectRefs, apt28.ID) {
		t.Error("the report does not reference APT28")
	}
}

func containsRef(refs []string, id string) bool {
	for _, r := range refs {
		if r == id {
			return true
		}
	}
	return false
}
