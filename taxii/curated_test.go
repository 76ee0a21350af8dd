package taxii_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// curatedSel is the selection of collCurated in the tiered tests: no share or
// TLP ceiling of its own, so every consumer's limits narrow it.
var curatedSel = curation.Selection{ValueTypes: []string{"ipv4-addr"}}

// community authenticates with soc's password (getenv's SOC_PASSWORD).
func init() { passwords["community"] = passwords["soc"] }

// tieredEnv serves collCurated with curatedSel to soc (internal, amber),
// partner (partners, green) and community (community, clear).
func tieredEnv(t *testing.T) *env {
	t.Helper()
	cc := testAuthConfig()
	cc.Consumers[1].Read = append(cc.Consumers[1].Read, collCurated)
	cc.Consumers[1].MaxShare, cc.Consumers[1].MaxTLP = "partners", "green"
	cc.Consumers = append(cc.Consumers, auth.ConsumerConfig{Name: "community", PasswordEnv: "SOC_PASSWORD",
		Read: []string{collCurated}, MaxShare: "community", MaxTLP: "clear"})
	a, err := auth.New(cc, auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		sel := curatedSel
		c.Collections[2].Selection = &sel
		d.Auth = a
	})
}

// manifestRefs returns the (id, version) of every object of collection as soc
// sees it there.
func manifestRefs(t *testing.T, e *env, collection string) []storage.VersionRef {
	t.Helper()
	r := e.get("soc", "/intel/collections/"+collection+"/manifest/")
	mustStatus(t, r, 200)
	var m struct {
		Objects []struct{ ID, Version string } `json:"objects"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	var refs []storage.VersionRef
	for _, o := range m.Objects {
		v, err := time.Parse(time.RFC3339Nano, o.Version)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, storage.VersionRef{Collection: collection, ID: o.ID, Version: v})
	}
	return refs
}

func idsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var ids []string
	for _, o := range objectsOf(t, body) {
		ids = append(ids, idOf(t, o))
	}
	return ids
}

// TestCuratedTiers: each consumer reading a curated collection with a
// selection is served its own tier (the members a curation pass wrote for its
// limits) under the configured id, on every read endpoint; `next` cursors are
// bound to the configured id and keep working; a tier no pass has written yet
// reads as an empty page.
func TestCuratedTiers(t *testing.T) {
	e := tieredEnv(t)
	ids := e.seed(collPublished, 5)
	refs := manifestRefs(t, e, collPublished)
	ms := storage.MembershipStore(e.store)
	socTier := curation.TierID(collCurated, curatedSel, curation.Limits{MaxShare: auth.ShareInternal, MaxTLP: stix.TLPAmber})
	partnerTier := curation.TierID(collCurated, curatedSel, curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen})
	if socTier == collCurated || partnerTier == collCurated || socTier == partnerTier {
		t.Fatalf("tier ids %q and %q: want two distinct tiers of %s", socTier, partnerTier, collCurated)
	}
	for tier, rs := range map[string][]storage.VersionRef{socTier: refs[:4], partnerTier: refs[1:3]} {
		if err := e.store.EnsureCollection(t.Context(), tier, storage.KindCurated); err != nil {
			t.Fatal(err)
		}
		if _, err := ms.AddMembers(t.Context(), tier, rs); err != nil {
			t.Fatal(err)
		}
	}
	objects := "/intel/collections/" + collCurated + "/objects/"
	if got := idsOf(t, e.get("soc", objects).body); !slices.Equal(got, ids[:4]) {
		t.Errorf("soc objects %v, want %v", got, ids[:4])
	}
	if got := idsOf(t, e.get("partner", objects).body); !slices.Equal(got, ids[1:3]) {
		t.Errorf("partner objects %v, want %v", got, ids[1:3])
	}
	r := e.get("partner", "/intel/collections/"+collCurated+"/manifest/")
	mustStatus(t, r, 200)
	if n := strings.Count(string(r.body), `"date_added"`); n != 2 {
		t.Errorf("partner manifest lists %d objects, want 2: %s", n, r.body)
	}
	// one object: in soc's tier, not in partner's
	mustStatus(t, e.get("soc", objects+ids[3]+"/"), 200)
	mustStatus(t, e.get("soc", objects+ids[3]+"/versions/"), 200)
	mustStatus(t, e.get("partner", objects+ids[3]+"/"), 404)
	mustStatus(t, e.get("partner", objects+ids[3]+"/versions/"), 404)
	mustStatus(t, e.get("partner", objects+ids[1]+"/"), 200)

	// paging: next is bound to the configured collection and the consumer
	r = e.get("partner", objects+"?limit=1")
	mustStatus(t, r, 200)
	m := r.json(t)
	next, _ := m["next"].(string)
	if m["more"] != true || next == "" {
		t.Fatalf("first page of 1: %s", r.body)
	}
	r2 := e.get("partner", objects+"?limit=1&next="+url.QueryEscape(next))
	mustStatus(t, r2, 200)
	if got := append(idsOf(t, r.body), idsOf(t, r2.body)...); !slices.Equal(got, ids[1:3]) {
		t.Errorf("paged partner objects %v, want %v", got, ids[1:3])
	}
	mustStatus(t, e.get("soc", objects+"?limit=1&next="+url.QueryEscape(next)), 400)

	// a tier nothing has written yet: an empty page, not 404
	r = e.get("community", objects)
	mustStatus(t, r, 200)
	if string(r.body) != "{}" {
		t.Errorf("empty tier: %s, want {}", r.body)
	}
	mustStatus(t, e.get("community", objects+ids[1]+"/"), 404)

	// the listing shows the configured collection only
	r = e.get("partner", "/intel/collections/")
	mustStatus(t, r, 200)
	if !strings.Contains(string(r.body), collCurated) || strings.Contains(string(r.body), "~") {
		t.Errorf("collections listing: %s", r.body)
	}
}

// TestCurationTargets: the targets of a pass are each curated collection with
// a selection and one tier per distinct limit of the consumers that read it.
func TestCurationTargets(t *testing.T) {
	cfg := testConfig()
	sel := curatedSel
	cfg.Collections[2].Selection = &sel
	// Consumer grants are unexported: take them from a real authenticator.
	cc := testAuthConfig()
	cc.Consumers[1].Read = append(cc.Consumers[1].Read, collCurated)
	cc.Consumers[1].MaxShare, cc.Consumers[1].MaxTLP = "partners", "green"
	a, err := auth.New(cc, auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	var cons []*auth.Consumer
	for _, name := range a.Consumers() {
		c, _ := a.Consumer(name)
		cons = append(cons, c)
	}
	var got []string
	for _, tg := range cfg.CurationTargets(cons) {
		got = append(got, tg.Collection)
	}
	want := []string{collCurated, collCurated + "~internal~amber", collCurated + "~partners~green"}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
	cfg.Collections[2].Public = true
	got = got[:0]
	for _, tg := range cfg.CurationTargets(cons) {
		got = append(got, tg.Collection)
	}
	if !slices.Contains(got, collCurated+"~community~clear") {
		t.Errorf("public collection's targets %v lack the anonymous tier", got)
	}
	if n := len(cfg.CuratedSelections()); n != 1 {
		t.Errorf("CuratedSelections: %d, want 1", n)
	}
}

func TestSelectionConfig(t *testing.T) {
	for name, tt := range map[string]struct {
		mutate func(*taxii.Config)
		want   string
	}{
		"selection on stored": {func(c *taxii.Config) { c.Collections[1].Selection = &curation.Selection{} }, "only a curated collection"},
		"bad selection": {func(c *taxii.Config) {
			c.Collections[2].Selection = &curation.Selection{MaxTLP: "purple"}
		}, "selection.max_tlp"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, taxii.ErrConfig) {
				t.Fatalf("Validate() = %v, want an ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
}

// BenchmarkCuratedTier reads one page of 1000 objects of a curated
// collection's tier as partner (the tier lookup, curation.TierID and the
// existence check, on every request). Reported: objects/s and the ratio to
// the baseline measured in the same run: the same 1000 members served from a
// curated collection without a selection (no tier lookup).
func BenchmarkCuratedTier(b *testing.B) {
	const plain = "4b3a2918-0716-4f5e-8d4c-3b2a19080706"
	cc := testAuthConfig()
	cc.Consumers[1].Read = append(cc.Consumers[1].Read, collCurated, plain)
	cc.Consumers[1].MaxShare, cc.Consumers[1].MaxTLP = "partners", "green"
	a, err := auth.New(cc, auth.Options{Getenv: getenv})
	if err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, func(c *taxii.Config, d *taxii.Deps) {
		sel := curatedSel
		c.Collections[2].Selection = &sel
		c.Collections = append(c.Collections, taxii.Collection{ID: plain, APIRoot: "intel", Title: "Plain", Kind: "curated"})
		d.Auth = a
	})
	e.seed(collPublished, 1000)
	page, err := e.store.QueryManifest(b.Context(), collPublished, storage.Filter{Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	var refs []storage.VersionRef
	for _, r := range page.Records {
		refs = append(refs, storage.VersionRef{Collection: collPublished, ID: r.ID, Version: r.Version})
	}
	tier := curation.TierID(collCurated, curatedSel, curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen})
	for _, coll := range []string{tier, plain} {
		if err := e.store.EnsureCollection(b.Context(), coll, storage.KindCurated); err != nil {
			b.Fatal(err)
		}
		if _, err := storage.MembershipStore(e.store).AddMembers(b.Context(), coll, refs); err != nil {
			b.Fatal(err)
		}
	}
	read := func(coll string) {
		r := e.get("partner", "/intel/collections/"+coll+"/objects/?limit=1000")
		if r.status != 200 || len(r.body) < 1000 {
			b.Fatalf("%s: %d %.200s", coll, r.status, r.body)
		}
	}
	start, n := time.Now(), 0
	for time.Since(start) < 500*time.Millisecond {
		read(plain)
		n++
	}
	baseline := float64(n*1000) / time.Since(start).Seconds()
	b.ResetTimer()
	start = time.Now()
	for b.Loop() {
		read(collCurated)
	}
	perSec := float64(b.N*1000) / time.Since(start).Seconds()
	b.ReportMetric(perSec, "objects/s")
	b.ReportMetric(baseline, "baseline-objects/s")
	b.ReportMetric(perSec/baseline, "ratio")
}
