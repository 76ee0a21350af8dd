package taxii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// sightingEvent returns the real PyMISP sighting event (sighting_1.json) in
// MISP's sync-push form (misp.md §2.4: Org and org ids removed, no Galaxy
// blocks, locked) with its attributes' Sighting blocks taken out (returned
// separately: what MISP then sends to bulkSaveSightings), plus three
// attributes of our own: a composite domain|ip, a mutex (no pool value) and
// a domain nobody sights (the baseline score).
func sightingEvent(t *testing.T) (ev map[string]any, sightings []any) {
	t.Helper()
	var doc map[string]map[string]any
	if err := json.Unmarshal(readShared(t, "testdata/misp/pymisp/sighting_1.json"), &doc); err != nil {
		t.Fatal(err)
	}
	e := doc["Event"]
	for _, k := range []string{"Org", "org_id", "orgc_id", "Galaxy", "ShadowAttribute", "RelatedEvent", "id"} {
		delete(e, k)
	}
	e["locked"] = 1
	attrs := e["Attribute"].([]any)
	for _, a := range attrs {
		am := a.(map[string]any)
		sightings = append(sightings, am["Sighting"].([]any)...)
		delete(am, "Sighting")
	}
	ts := "1533306058"
	e["Attribute"] = append(attrs,
		map[string]any{"uuid": "5b6464ca-0001-4000-8000-d0350acd0835", "type": "domain|ip", "category": "Network activity",
			"value": "relay.example.net|203.0.113.9", "to_ids": true, "timestamp": ts, "distribution": "5"},
		map[string]any{"uuid": "5b6464ca-0002-4000-8000-d0350acd0835", "type": "mutex", "category": "Artifacts dropped",
			"value": "Global\\ursnif", "to_ids": false, "timestamp": ts, "distribution": "5"},
		map[string]any{"uuid": "5b6464ca-0003-4000-8000-d0350acd0835", "type": "domain", "category": "Network activity",
			"value": "baseline.example.org", "to_ids": true, "timestamp": ts, "distribution": "5"})
	return map[string]any{"Event": e}, sightings
}

// misSighting is a MISP sighting in bulkSaveSightings' shape.
func misSighting(uuid, attr, typ string, date int64, org string) map[string]any {
	return map[string]any{"id": "90", "attribute_id": "1", "event_id": "60", "org_id": "1", "date_sighting": fmt.Sprint(date),
		"uuid": uuid, "source": "", "type": typ, "attribute_uuid": attr,
		"Organisation": map[string]any{"id": "1", "uuid": org, "name": "Org " + org[:4]}}
}

type sightingsLog struct {
	mu    sync.Mutex
	calls [][]storage.Sighting
}

func (l *sightingsLog) on(_ context.Context, s []storage.Sighting) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, append([]storage.Sighting(nil), s...))
}

// TestMISPSyncSightings replays MISP's sightings push (misp.md §2.2 step 6,
// §2.3): the event is pushed, then filterSightingUuidsForPush and
// bulkSaveSightings carry the real sightings of sighting_1.json (two
// sightings, three false positives, an expiration) and our own (a sighting
// of a composite attribute, of a mutex, of an unknown attribute, a repeated
// false positive, a malformed type). The SightingStore holds them under the
// right (type, value), OnSightings gets the new records, the scoring inputs
// carry them (a sighting raises the score, a false positive lowers it), and a
// re-send is filtered, and idempotent when sent anyway.
func TestMISPSyncSightings(t *testing.T) {
	log := &sightingsLog{}
	me := newMISPEnvDeps(t, nil, func(d *taxii.Deps) { d.OnSightings = log.on })
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	ctx := t.Context()

	ev, real := sightingEvent(t)
	evUUID := ev["Event"].(map[string]any)["uuid"].(string)
	m.ok(m.do("POST", "/events/add/metadata:1", ev), "events/add")

	const org = "5c6983c8-3af8-4304-869c-4800d6c1883c"
	extra := []any{
		misSighting("c0000001-0000-4000-8000-000000000001", "5b6464ca-0001-4000-8000-d0350acd0835", "0", 1551254000, org), // domain|ip
		misSighting("c0000001-0000-4000-8000-000000000002", "5b6464ca-0002-4000-8000-d0350acd0835", "0", 1551254000, org), // mutex
		misSighting("c0000001-0000-4000-8000-000000000003", "5b6464ca-9999-4000-8000-d0350acd0835", "0", 1551254000, org), // unknown
		misSighting("c0000001-0000-4000-8000-000000000004", "5b6464ca-45f8-43d0-8b78-d0350acd0835", "1", 1551254100, org), // FP again
		misSighting("c0000001-0000-4000-8000-000000000005", "5b6464ca-e73c-4707-9b8a-d0350acd0835", "7", 1551254000, org), // bad type
	}
	all := append(append([]any(nil), real...), extra...)
	var uuids []string
	for _, s := range all {
		uuids = append(uuids, s.(map[string]any)["uuid"].(string))
	}

	filter := func() []string {
		var out []string
		for _, u := range m.ok(m.do("POST", "/sightings/filterSightingUuidsForPush/"+evUUID, uuids), "filterSightingUuidsForPush").([]any) {
			out = append(out, u.(string))
		}
		return out
	}
	if got := filter(); len(got) != 0 {
		t.Fatalf("filterSightingUuidsForPush before any sighting = %v, want []", got)
	}
	res := m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, all), "bulkSaveSightings").(map[string]any)
	want := map[string]float64{"added": 7, "existing": 0, "sightings": 3, "false_positives": 4, "expirations": 1,
		"unknown_attribute": 1, "no_pool_value": 1, "refused": 1}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("bulkSaveSightings %s = %v, want %v (answer %v)", k, res[k], v, res)
		}
	}
	if res["saved"] != true || res["success"] != "7 sightings added." {
		t.Errorf("bulkSaveSightings answer %v", res)
	}

	// Stored under the right (type, value).
	for _, c := range []struct {
		typ, value, id string
		fp             bool
		first          int64
	}{
		{"domain-name", "ooiasjdnqjwbeasdasd.com", "5c7641bf-a4e8-4d5d-a653-03240a00020f", false, 1551253950},
		{"url", "http://sistemait.it/softaculous/backup/client.rar", "5c7641b7-b618-4e41-a9c9-03240a00020f", false, 1551253943},
		{"domain-name", "eqowiesajenqweasd.com", "", true, 1551253959}, // two false positives of one org: one record
		{"domain-name", "dquohwdihaewqdcas.com", "", true, 1551253962},
		{"domain-name", "diqjwhebseqhbasdh.com", "", true, 1551253976}, // its expiration is not stored
		{"domain-name", "relay.example.net", "c0000001-0000-4000-8000-000000000001#domain-name:relay.example.net", false, 1551254000},
		{"ipv4-addr", "203.0.113.9", "c0000001-0000-4000-8000-000000000001#ipv4-addr:203.0.113.9", false, 1551254000},
	} {
		got, err := me.store.Sightings(ctx, c.typ, c.value)
		if err != nil || len(got) != 1 {
			t.Fatalf("sightings of %s %s: %+v, %v; want one", c.typ, c.value, got, err)
		}
		g := got[0]
		if c.id != "" && g.ID != c.id || g.FalsePositive != c.fp || g.Source != "misp-partner" || g.Internal || g.Count != 1 ||
			!g.FirstSeen.Equal(time.Unix(c.first, 0)) || !g.LastSeen.Equal(g.FirstSeen) {
			t.Errorf("sighting of %s %s: %+v; want id %q fp %v source misp-partner, external, count 1, seen %d", c.typ, c.value, g, c.id, c.fp, c.first)
		}
	}
	if got, _ := me.store.Sightings(ctx, "domain-name", "baseline.example.org"); len(got) != 0 {
		t.Errorf("baseline domain has sightings %+v", got)
	}
	log.mu.Lock()
	if len(log.calls) != 1 || len(log.calls[0]) != 7 {
		t.Errorf("OnSightings calls %v, want one with the 7 new records", log.calls)
	}
	log.mu.Unlock()

	// They move the scoring inputs as consumer sightings do.
	asOf := time.Unix(1533306058+86400, 0).UTC() // a day after the attributes (age decay aside)
	score := func(value string) (scoring.Inputs, int) {
		in, _, err := curation.InputsFor(ctx, me.store, "domain-name", value,
			&curation.InputOptions{Feeds: map[string]curation.Feed{"misp-partner": {Provider: "misp", Reliability: 80}}})
		if err != nil {
			t.Fatal(err)
		}
		return in, scoring.Score(in, scoring.DefaultWeights(), asOf).Value
	}
	inSeen, seen := score("ooiasjdnqjwbeasdasd.com")
	inFP, fp := score("eqowiesajenqweasd.com")
	_, base := score("baseline.example.org")
	if inSeen.Sightings.Count != 1 || len(inFP.FalsePositives) != 1 || inFP.FalsePositives[0] != (scoring.FalsePositive{From: "misp-partner", Count: 1}) {
		t.Fatalf("scoring inputs: sighted %+v, false positive %+v", inSeen.Sightings, inFP.FalsePositives)
	}
	t.Logf("scores: sighted %d, baseline %d, false positive %d", seen, base, fp)
	if !(seen > base && base > fp) {
		t.Errorf("scores sighted %d, baseline %d, false positive %d; want sighted > baseline > false positive", seen, base, fp)
	}

	// MISP asks again: everything handled is held, the unknown attribute's
	// and the malformed sighting are not.
	var wantHeld []string
	for _, u := range uuids {
		if u != "c0000001-0000-4000-8000-000000000003" && u != "c0000001-0000-4000-8000-000000000005" {
			wantHeld = append(wantHeld, u)
		}
	}
	if got := filter(); !slices.Equal(got, wantHeld) {
		t.Fatalf("filterSightingUuidsForPush after the save = %v, want %v", got, wantHeld)
	}
	// A MISP that does not filter sends them again: nothing new.
	res = m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, all), "bulkSaveSightings again").(map[string]any)
	if res["added"] != 0.0 || res["existing"] != 7.0 {
		t.Errorf("re-send answered %v, want added 0 existing 7", res)
	}
	log.mu.Lock()
	if len(log.calls) != 1 {
		t.Errorf("OnSightings called for a re-send: %d calls", len(log.calls))
	}
	log.mu.Unlock()
	if got, _ := me.store.Sightings(ctx, "domain-name", "ooiasjdnqjwbeasdasd.com"); len(got) != 1 {
		t.Errorf("re-send stored again: %+v", got)
	}
}

// TestMISPSyncSightingsEdges: an event never pushed makes every sighting
// unknown and holds nothing; an edit push that drops an attribute makes its
// later sightings unknown; a consumer with the sightings right (the
// operator's own MISP) pushes internal sightings; a malformed event uuid or
// body is a MISP 400; a consumer that may not push is 403.
func TestMISPSyncSightingsEdges(t *testing.T) {
	me := newMISPEnvDeps(t, nil, func(d *taxii.Deps) {
		acfg := testAuthConfig()
		acfg.Consumers = append(acfg.Consumers,
			auth.ConsumerConfig{Name: "mispsync", MISPKeyEnv: "MISP_SYNC_KEY", Read: []string{collInbox}, Write: []string{collInbox}, Sightings: true},
			auth.ConsumerConfig{Name: "mispro", MISPKeyEnv: "MISP_RO_KEY", Read: []string{collInbox}})
		a, err := auth.New(acfg, auth.Options{Getenv: func(n string) string {
			switch n {
			case "MISP_SYNC_KEY":
				return mispSyncKey
			case "MISP_RO_KEY":
				return mispROKey
			}
			return getenv(n)
		}})
		if err != nil {
			t.Fatal(err)
		}
		d.Auth = a
	})
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	ctx := t.Context()
	const org = "5c6983c8-3af8-4304-869c-4800d6c1883c"
	const evUUID = "6d1e2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"
	s1 := misSighting("d0000001-0000-4000-8000-000000000001", "a1000001-0000-4000-8000-000000000001", "0", 1746100100, org)

	res := m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, []any{s1}), "bulkSave unknown event").(map[string]any)
	if res["unknown_attribute"] != 1.0 || res["added"] != 0.0 {
		t.Fatalf("sighting of an event never pushed: %v", res)
	}
	if got := m.ok(m.do("POST", "/sightings/filterSightingUuidsForPush/"+evUUID, []string{s1["uuid"].(string)}), "filter").([]any); len(got) != 0 {
		t.Fatalf("an unknown attribute's sighting is held: %v", got)
	}

	const ts1 = int64(1746100000)
	m.ok(m.do("POST", "/events/add", syncEvent(evUUID, ts1, []map[string]any{
		attr("a1000001-0000-4000-8000-000000000001", "ip-dst", "203.0.113.77", ts1-10, false),
		attr("a1000001-0000-4000-8000-000000000002", "domain", "dropped.example.org", ts1-10, false),
	})), "events/add")
	res = m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID+".json", []any{s1}), "bulkSave").(map[string]any)
	if res["added"] != 1.0 {
		t.Fatalf("sighting after the push: %v", res)
	}
	got, err := me.store.Sightings(ctx, "ipv4-addr", "203.0.113.77")
	if err != nil || len(got) != 1 || !got[0].Internal || got[0].Source != "misp-partner" {
		t.Fatalf("own MISP's sighting: %+v, %v; want one internal record of misp-partner", got, err)
	}

	// The edit no longer carries the domain (its distribution was lowered).
	m.ok(m.do("POST", "/events/edit/"+evUUID, syncEvent(evUUID, ts1+60, []map[string]any{
		attr("a1000001-0000-4000-8000-000000000001", "ip-dst", "203.0.113.77", ts1-10, false),
	})), "events/edit")
	s2 := misSighting("d0000001-0000-4000-8000-000000000002", "a1000001-0000-4000-8000-000000000002", "0", 1746100200, org)
	res = m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, []any{s2}), "bulkSave dropped").(map[string]any)
	if res["unknown_attribute"] != 1.0 {
		t.Fatalf("sighting of a dropped attribute: %v", res)
	}

	for _, c := range []struct {
		path string
		body any
	}{
		{"/sightings/bulkSaveSightings/not-a-uuid", []any{s1}},
		{"/sightings/filterSightingUuidsForPush/not-a-uuid", []string{}},
		{"/sightings/bulkSaveSightings/" + evUUID, map[string]any{"uuid": "x"}},
		{"/sightings/filterSightingUuidsForPush/" + evUUID, []any{1}},
	} {
		mispErr(t, m.do("POST", c.path, c.body), 400)
	}
	ro := &mispClient{t: t, e: me, key: mispROKey}
	mispErr(t, ro.do("POST", "/sightings/bulkSaveSightings/"+evUUID, []any{s1}), 403)
	mispErr(t, ro.do("POST", "/sightings/filterSightingUuidsForPush/"+evUUID, []string{}), 403)
}

// TestMISPSyncSightingsLargeEvent pushes a 10 000-attribute event and sights
// its last attribute: the attribute map covers every attribute.
func TestMISPSyncSightingsLargeEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000-attribute event")
	}
	me := newMISPEnvDeps(t, func(c *taxii.Config) { c.MISPSync.MaxBody = 16 << 20 }, nil)
	me.noPool = true
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	const evUUID = "7e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
	const ts = int64(1746100000)
	const n = 10000
	attrs := make([]map[string]any, n)
	for i := range n {
		attrs[i] = attr(fmt.Sprintf("e0000000-0000-4000-8000-%012d", i), "domain", fmt.Sprintf("h%d.big.example.com", i), ts-10, false)
	}
	m.ok(m.do("POST", "/events/add", syncEvent(evUUID, ts, attrs)), "events/add")
	var list []any
	for _, i := range []int{0, n / 2, n - 1} {
		list = append(list, misSighting(fmt.Sprintf("f0000000-0000-4000-8000-%012d", i), fmt.Sprintf("e0000000-0000-4000-8000-%012d", i), "0", ts, "5c6983c8-3af8-4304-869c-4800d6c1883c"))
	}
	res := m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, list), "bulkSave").(map[string]any)
	if res["added"] != 3.0 || res["unknown_attribute"] != 0.0 {
		t.Fatalf("sightings of a 10 000-attribute event: %v", res)
	}
	if got, err := me.store.Sightings(t.Context(), "domain-name", fmt.Sprintf("h%d.big.example.com", n-1)); err != nil || len(got) != 1 {
		t.Fatalf("sighting of the last attribute: %+v, %v", got, err)
	}
}
