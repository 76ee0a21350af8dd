package curation_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// The pool of these tests (scores with the default weights as of testTime):
//
//	198.51.100.1  otx-a (community, green), Emotet context       medium (40)
//	evil.example  otx-a and rf (rf is internal, amber)            high (60)
//	203.0.113.9   rf only (internal, amber)                       high (66)
//	192.0.2.50    misp-x (partners, TLP:RED)                      medium (52)
func mustPool(tb testing.TB) *env {
	e := mustEnv(tb)
	e.ingest("otx-a", "otx", "community", "green",
		ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"198.51.100.1","type":"IPv4","role":"command_and_control","is_active":1}`),
			Context: ingest.Context{Malware: []string{"Emotet"}, Labels: []string{"botnet"}}},
		ingest.Observation{Type: "domain-name", Value: "evil.example", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"evil.example","type":"domain","is_active":1}`)})
	e.ingest("rf", "recordedfuture", "internal", "amber",
		ingest.Observation{Type: "ipv4-addr", Value: "203.0.113.9", Detect: true, Verdict: json.RawMessage(`{"risk":95,"criticality":4}`)},
		ingest.Observation{Type: "domain-name", Value: "evil.example", Detect: true, Verdict: json.RawMessage(`{"risk":70,"criticality":3}`)})
	e.ingest("misp-x", "misp", "partners", "red",
		ingest.Observation{Type: "ipv4-addr", Value: "192.0.2.50", Detect: true, Verdict: json.RawMessage(`{"threat_level_id":1,"to_ids":true}`)})
	return e
}

func curator() *curation.Curator {
	return &curation.Curator{Identity: identity, Feeds: map[string]curation.Feed{
		"otx-a":  {Provider: "otx", Reliability: 60},
		"rf":     {Provider: "recordedfuture", Reliability: 80},
		"misp-x": {Provider: "misp", Reliability: 60},
		"mlt":    {Provider: "maltiverse", Reliability: 80},
	}}
}

func names(m map[string]storage.Record) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func extOf(tb testing.TB, r storage.Record) scoring.Extension {
	tb.Helper()
	var d struct {
		Confidence *int                       `json:"confidence"`
		Extensions map[string]json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(r.JSON, &d); err != nil {
		tb.Fatal(err)
	}
	var x scoring.Extension
	if err := json.Unmarshal(d.Extensions[scoring.ExtensionID], &x); err != nil {
		tb.Fatalf("%s: risk-score extension: %v (%s)", r.ID, err, r.JSON)
	}
	if d.Confidence == nil || *d.Confidence != x.Confidence {
		tb.Fatalf("%s: confidence %v, want the band's %d", r.ID, d.Confidence, x.Confidence)
	}
	return x
}

func TestTwoSelectionsDifferentMembers(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	targets := []curation.Target{
		{Collection: "high", Selection: curation.Selection{MinBand: "high"}},
		{Collection: "ip-otx", Selection: curation.Selection{ValueTypes: []string{"ipv4-addr"}, Feeds: []string{"otx-a"}, MinScore: 30}},
	}
	st, err := c.Run(ctx, e.store, targets, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.Values != 4 || st.NewVersions != 4 {
		t.Fatalf("values %d, new versions %d: want 4, 4", st.Values, st.NewVersions)
	}
	high := indicatorValues(t, records(t, e.store, "high", storage.Filter{}))
	if got, want := names(high), []string{"203.0.113.9", "evil.example"}; !slices.Equal(got, want) {
		t.Errorf("high holds %v, want %v", got, want)
	}
	for v, r := range high {
		if x := extOf(t, r); x.Band != "high" && x.Band != "critical" || x.Value < 60 {
			t.Errorf("%s in high: band %s score %d", v, x.Band, x.Value)
		}
	}
	all := records(t, e.store, "ip-otx", storage.Filter{})
	ips := indicatorValues(t, all)
	if got, want := names(ips), []string{"198.51.100.1"}; !slices.Equal(got, want) {
		t.Errorf("ip-otx holds %v, want %v", got, want)
	}
	// The context came along: the indicates relationship, Emotet, the identity.
	types := map[string]int{}
	for _, r := range all {
		types[r.Type]++
	}
	if types["malware"] != 1 || types["relationship"] != 1 || types["identity"] != 1 {
		t.Errorf("ip-otx types %v: want the indicator with its malware, indicates relationship and identity", types)
	}
	for _, r := range all {
		if r.Type == "relationship" && !strings.Contains(string(r.JSON), `"relationship_type":"indicates"`) {
			t.Errorf("relationship %s is not the indicates one: %s", r.ID, r.JSON)
		}
	}
	// A second pass with nothing changed writes nothing.
	before, _ := e.store.CollectionInfo(ctx, "high")
	st, err = c.Run(ctx, e.store, targets, testTime)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := e.store.CollectionInfo(ctx, "high")
	if st.NewVersions != 0 || after.Count != before.Count || st.Collections["high"].Entered != 0 {
		t.Errorf("unchanged re-run: %d new versions, high %d → %d records", st.NewVersions, before.Count, after.Count)
	}
}

func TestThresholdCrossingSeenByAddedAfter(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	sel := curation.Selection{MinBand: "high"}
	if _, err := c.Materialize(ctx, e.store, "high", sel, testTime); err != nil {
		t.Fatal(err)
	}
	info, err := e.store.CollectionInfo(ctx, "high")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := indicatorValues(t, records(t, e.store, "high", storage.Filter{}))["198.51.100.1"]; ok {
		t.Fatal("198.51.100.1 (medium) is in high before a second source reports it")
	}
	// A second, independent source lifts it into the high band.
	e.now = testTime.Add(time.Hour)
	e.ingest("mlt", "maltiverse", "community", "green", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Detect: true,
		Verdict: json.RawMessage(`{"classification":"malicious","blacklist_sources":3}`)})
	st, err := c.Materialize(ctx, e.store, "high", sel, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Collections["high"].Entered != 1 {
		t.Errorf("entered %d, want 1", st.Collections["high"].Entered)
	}
	got := indicatorValues(t, records(t, e.store, "high", storage.Filter{AddedAfter: info.LastAdded}))
	r, ok := got["198.51.100.1"]
	if !ok {
		t.Fatalf("added_after poll after the crossing returned %v, want 198.51.100.1", names(got))
	}
	if x := extOf(t, r); x.Value < 60 || len(x.Sources) != 2 {
		t.Errorf("crossed value scores %d with %d sources, want >= 60 with 2", x.Value, len(x.Sources))
	}
	if len(got) != 1 {
		t.Errorf("added_after poll returned %v, want only the new member", names(got))
	}
}

// lastIndicator returns the last version of the value's indicator in coll.
func lastIndicator(tb testing.TB, st storage.Store, coll, value string) (storage.Record, bool) {
	tb.Helper()
	r, ok := indicatorValues(tb, records(tb, st, coll, storage.Filter{Types: []string{"indicator"}}))[value]
	return r, ok
}

func validUntil(tb testing.TB, r storage.Record) *stix.Timestamp {
	tb.Helper()
	var d struct {
		ValidUntil *stix.Timestamp `json:"valid_until"`
	}
	if err := json.Unmarshal(r.JSON, &d); err != nil {
		tb.Fatal(err)
	}
	return d.ValidUntil
}

func TestRevokedBySourceEntersEveryCollectionThatHeldIt(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	targets := []curation.Target{
		{Collection: "all", Selection: curation.Selection{}},
		{Collection: "ips", Selection: curation.Selection{ValueTypes: []string{"ipv4-addr"}}},
		{Collection: "critical", Selection: curation.Selection{MinBand: "critical"}},
		{Collection: "domains", Selection: curation.Selection{ValueTypes: []string{"domain-name"}}},
	}
	if _, err := c.Run(ctx, e.store, targets, testTime); err != nil {
		t.Fatal(err)
	}
	// otx-a, the only source of 198.51.100.1, withdraws it.
	e.now = testTime.Add(2 * time.Hour)
	e.ingest("otx-a", "otx", "community", "green", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Revoked: true})
	asOf := e.now.Add(time.Minute)
	st, err := c.Run(ctx, e.store, targets, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Withdrawals != 1 {
		t.Errorf("withdrawals %d, want 1", st.Withdrawals)
	}
	for _, coll := range []string{"all", "ips"} {
		r, ok := lastIndicator(t, e.store, coll, "198.51.100.1")
		if !ok {
			t.Fatalf("%s lost 198.51.100.1", coll)
		}
		if u := validUntil(t, r); u == nil || u.After(asOf) {
			t.Errorf("%s: last version %s has valid_until %v, want a withdrawal at or before %s", coll, r.JSON, u, asOf)
		}
		extOf(t, r) // still scored
		if n := st.Collections[coll].Withdrawn; n != 1 {
			t.Errorf("%s: withdrawn %d, want 1", coll, n)
		}
	}
	for _, coll := range []string{"critical", "domains"} {
		if _, ok := lastIndicator(t, e.store, coll, "198.51.100.1"); ok {
			t.Errorf("%s never held 198.51.100.1 but received its withdrawal", coll)
		}
	}
	// Nothing more happens on the next pass.
	st, err = c.Run(ctx, e.store, targets, asOf.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if st.NewVersions != 0 || st.Collections["all"].Withdrawn != 0 {
		t.Errorf("pass after the withdrawal: %d new versions, %d withdrawn", st.NewVersions, st.Collections["all"].Withdrawn)
	}
}

func TestFalsePositivesBelowFloorWithdraw(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	sels := []curation.Selection{{MinBand: "medium"}, {MinBand: "high"}}
	w := scoring.DefaultWeights()
	floor, err := curation.Floor(&w, sels...)
	if err != nil || floor != 30 {
		t.Fatalf("Floor = %d, %v; want 30 (medium)", floor, err)
	}
	c.Floor = floor
	var events []curation.AuditEvent
	c.Audit = func(a curation.AuditEvent) { events = append(events, a) }
	if _, err := c.Materialize(ctx, e.store, "medium", sels[0], testTime); err != nil {
		t.Fatal(err)
	}
	// Two consumers report 198.51.100.1 as a false positive: 40 × 0.6² < 30.
	if _, err := e.store.AddSightings(ctx, []storage.Sighting{
		{ID: "fp-1", Type: "ipv4-addr", Value: "198.51.100.1", Source: "soc", FalsePositive: true, Count: 1, FirstSeen: testTime},
		{ID: "fp-2", Type: "ipv4-addr", Value: "198.51.100.1", Source: "partner", FalsePositive: true, Count: 1, FirstSeen: testTime},
	}); err != nil {
		t.Fatal(err)
	}
	events = nil
	st, err := c.Materialize(ctx, e.store, "medium", sels[0], testTime.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := lastIndicator(t, e.store, "medium", "198.51.100.1")
	if !ok || validUntil(t, r) == nil {
		t.Fatalf("medium: 198.51.100.1 has no withdrawing version after the false positives (%d withdrawn)", st.Collections["medium"].Withdrawn)
	}
	x := extOf(t, r)
	if x.Value >= 30 || len(x.FalsePositives) != 1 || x.FalsePositives[0].From != "consumers" || x.FalsePositives[0].Count != 2 {
		t.Errorf("withdrawn version: score %d, false positives %+v; want < 30 and the consumers' names left out", x.Value, x.FalsePositives)
	}
	if len(events) != 1 || events[0].Action != curation.ActionWithdraw || !strings.Contains(events[0].Reason, "below") {
		t.Errorf("events %+v, want one withdraw for the score", events)
	}
}

func TestCollectionSpecificLeaveIsAuditOnly(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	if _, err := c.Materialize(ctx, e.store, "otx", curation.Selection{Feeds: []string{"otx-a"}}, testTime); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.CollectionInfo(ctx, "otx")
	// The selection now leaves otx-a out: a change specific to this collection.
	sel := curation.Selection{Feeds: []string{"rf"}}
	st, err := c.Materialize(ctx, e.store, "otx", sel, testTime)
	if err != nil {
		t.Fatal(err)
	}
	cs := st.Collections["otx"]
	if cs.Left != 1 || cs.Withdrawn != 0 || st.NewVersions != 0 {
		t.Errorf("left %d withdrawn %d new versions %d: want 1 leave (198.51.100.1), no version", cs.Left, cs.Withdrawn, st.NewVersions)
	}
	if len(st.Events) == 0 || st.Events[0].Action != curation.ActionLeave || st.Events[0].Value != "198.51.100.1" {
		t.Errorf("events %+v, want a leave of 198.51.100.1 first", st.Events)
	}
	r, _ := lastIndicator(t, e.store, "otx", "198.51.100.1")
	if validUntil(t, r) != nil {
		t.Errorf("a collection-specific leave wrote a withdrawing version: %s", r.JSON)
	}
	// Audited once, not on every pass.
	st, err = c.Materialize(ctx, e.store, "otx", sel, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.Collections["otx"].Left != 0 {
		t.Errorf("second pass left %d again", st.Collections["otx"].Left)
	}
	after, _ := e.store.CollectionInfo(ctx, "otx")
	if after.Count < before.Count {
		t.Errorf("records %d → %d", before.Count, after.Count)
	}
}

func TestPartnerNeverReceivesInternalOrRed(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	// An internal sighting of the community value: its score moves, its
	// details never leave.
	if _, err := e.store.AddSightings(ctx, []storage.Sighting{{ID: "s-1", Type: "ipv4-addr", Value: "198.51.100.1",
		Source: "edr", Internal: true, Count: 5, FirstSeen: testTime, LastSeen: testTime}}); err != nil {
		t.Fatal(err)
	}
	partner := curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen}
	soc := curation.Limits{MaxShare: auth.ShareInternal, MaxTLP: stix.TLPAmber}
	sel := curation.Selection{}
	targets := curation.Tiers("feed", sel, partner, soc, curation.Unlimited)
	if len(targets) != 3 {
		t.Fatalf("tiers %+v, want the collection and two narrowed ones", targets)
	}
	if _, err := c.Run(ctx, e.store, targets, testTime); err != nil {
		t.Fatal(err)
	}
	pid := curation.TierID("feed", sel, partner)
	recs := records(t, e.store, pid, storage.Filter{})
	got := indicatorValues(t, recs)
	if !slices.Equal(names(got), []string{"198.51.100.1"}) {
		t.Errorf("partner tier %s holds %v, want only the community value 198.51.100.1", pid, names(got))
	}
	for _, r := range recs {
		var d struct {
			Markings []string `json:"object_marking_refs"`
		}
		_ = json.Unmarshal(r.JSON, &d)
		if l := stix.MaxTLP(d.Markings); l > stix.TLPGreen {
			t.Errorf("partner tier holds %s marked %s", r.ID, l)
		}
	}
	x := extOf(t, got["198.51.100.1"])
	if x.Sightings.Count != 0 || strings.Contains(string(got["198.51.100.1"].JSON), "edr") {
		t.Errorf("internal sighting leaked: %+v", x.Sightings)
	}
	for _, f := range x.Factors {
		if f.Name == scoring.FactorSightings && f.Value <= 0 {
			t.Errorf("sightings factor %v: the internal sighting should still raise the score", f.Value)
		}
	}
	soct := indicatorValues(t, records(t, e.store, curation.TierID("feed", sel, soc), storage.Filter{}))
	if want := []string{"198.51.100.1", "203.0.113.9", "evil.example"}; !slices.Equal(names(soct), want) {
		t.Errorf("soc tier holds %v, want %v (no TLP:RED)", names(soct), want)
	}
	if full := indicatorValues(t, records(t, e.store, "feed", storage.Filter{})); len(full) != 4 {
		t.Errorf("unlimited collection holds %v, want all 4", names(full))
	}
}

func TestVersionCap(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	c.MaxNewVersionsPerRun = 1
	st, err := c.Materialize(ctx, e.store, "all", curation.Selection{}, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewVersions != 1 || st.Deferred != 3 || st.Collections["all"].Entered != 1 {
		t.Errorf("capped run: %d new, %d deferred, %d entered; want 1, 3, 1", st.NewVersions, st.Deferred, st.Collections["all"].Entered)
	}
	c.Force = true
	st, err = c.Materialize(ctx, e.store, "all", curation.Selection{}, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewVersions != 3 || st.Deferred != 0 || st.Collections["all"].Entered != 3 {
		t.Errorf("forced run: %d new, %d deferred, %d entered; want 3, 0, 3", st.NewVersions, st.Deferred, st.Collections["all"].Entered)
	}
}

func TestSelectionValidate(t *testing.T) {
	w := scoring.DefaultWeights()
	for name, tt := range map[string]struct {
		sel   curation.Selection
		field string // "" means valid
	}{
		"empty":                     {curation.Selection{}, ""},
		"full":                      {curation.Selection{Types: []string{"indicator"}, ValueTypes: []string{"file"}, MinBand: "high", MaxTLP: "amber+strict", Share: "partners", Feeds: []string{"a"}, ExcludeFeeds: []string{"b"}, Labels: []string{"x"}, Attack: []string{"T1059"}, MaxAge: time.Hour}, ""},
		"bad type":                  {curation.Selection{Types: []string{"Indicator"}}, "selection.types[0]"},
		"score range":               {curation.Selection{MinScore: 101}, "selection.min_score"},
		"tlp":                       {curation.Selection{MaxTLP: "orange"}, "selection.max_tlp"},
		"share":                     {curation.Selection{Share: "public"}, "selection.share"},
		"feed both ways":            {curation.Selection{Feeds: []string{"a"}, ExcludeFeeds: []string{"a"}}, "selection.feeds[0]"},
		"empty label":               {curation.Selection{Labels: []string{" "}}, "selection.labels[0]"},
		"negative age":              {curation.Selection{MaxAge: -time.Hour}, "selection.max_age"},
		"unknown band":              {curation.Selection{MinBand: "severe"}, "selection.min_band"},
		"relevance":                 {curation.Selection{MinRelevance: 101}, "selection.min_relevance"},
		"reliability":               {curation.Selection{MinReliability: -1}, "selection.min_reliability"},
		"relevance and reliability": {curation.Selection{MinRelevance: 50, MinReliability: 80}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := tt.sel.Validate()
			if err == nil {
				_, err = tt.sel.MinScoreFor(&w)
			}
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field+":") || !errors.Is(err, curation.ErrSelection)):
				t.Fatalf("got %v, want an ErrSelection naming %s", err, tt.field)
			}
		})
	}
}

func TestVisible(t *testing.T) {
	partner := curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPAmber}
	for name, tt := range map[string]struct {
		m    curation.Meta
		want bool
	}{
		"community clear":       {curation.Meta{Share: auth.ShareCommunity, TLP: stix.TLPClear}, true},
		"unmarked partners":     {curation.Meta{Share: auth.SharePartners}, true},
		"internal":              {curation.Meta{Share: auth.ShareInternal, TLP: stix.TLPClear}, false},
		"amber+strict":          {curation.Meta{Share: auth.ShareCommunity, TLP: stix.TLPAmberStrict}, false},
		"red":                   {curation.Meta{Share: auth.ShareCommunity, TLP: stix.TLPRed}, false},
		"amber partners passes": {curation.Meta{Share: auth.SharePartners, TLP: stix.TLPAmber}, true},
	} {
		if got := curation.Visible(partner, &tt.m); got != tt.want {
			t.Errorf("%s: Visible = %v, want %v", name, got, tt.want)
		}
	}
}

func TestAttackTacticSelectsThroughThePool(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	sample := filepath.Join("..", "..", "ingest", "attack", "testdata", "enterprise-attack-18.1-sample.json")
	ix, err := attack.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attack.Import(ctx, e.store, ingest.DefaultPool, sample); err != nil {
		t.Fatal(err)
	}
	cfg := ingest.FeedConfig{Name: "otx-a", Provider: "otx", Share: "community", DefaultTLP: "green", Attack: ix}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	obs := []ingest.Observation{
		{Type: "domain-name", Value: "phish.example", Detect: true, Verdict: json.RawMessage(`{"is_active":1,"role":"phishing"}`),
			Context: ingest.Context{AttackIDs: []string{"T1566.001"}}},
		{Type: "domain-name", Value: "other.example", Detect: true, Verdict: json.RawMessage(`{"is_active":1,"role":"phishing"}`)},
	}
	if _, err := e.runner.Run(ctx, &ingest.Feed{Config: cfg, Source: batchSource{{Observations: obs}}}); err != nil {
		t.Fatal(err)
	}
	c := curator()
	targets := []curation.Target{
		{Collection: "tactic", Selection: curation.Selection{Attack: []string{"initial-access"}}},
		{Collection: "technique", Selection: curation.Selection{Attack: []string{"T1566"}}},
		{Collection: "execution", Selection: curation.Selection{Attack: []string{"execution"}}},
	}
	if _, err := c.Run(ctx, e.store, targets, testTime); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"tactic", "technique"} {
		recs := records(t, e.store, coll, storage.Filter{})
		if got := names(indicatorValues(t, recs)); !slices.Equal(got, []string{"phish.example"}) {
			t.Errorf("%s holds %v, want phish.example", coll, got)
		}
		types := map[string]int{}
		for _, r := range recs {
			types[r.Type]++
		}
		// The attack pattern with MITRE's identity and marking came along.
		if types["attack-pattern"] != 1 || types["identity"] != 2 || types["marking-definition"] != 1 || types["relationship"] != 1 {
			t.Errorf("%s types %v: want the attack pattern, MITRE's identity and marking, ours, and the relationship", coll, types)
		}
	}
	if got := indicatorValues(t, records(t, e.store, "execution", storage.Filter{})); len(got) != 0 {
		t.Errorf("execution holds %v, want nothing", names(got))
	}
}

func TestThirdPartyIndicatorsAreNotCurated(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	// A partner's indicator stored as received in the pool, for a value the pool also knows.
	raw := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--6f0ab4a5-2f4c-4a8b-9f7e-0f4f3c1b2a10",` +
		`"created_by_ref":"identity--0e4b3b5a-9d2a-4c1e-8f3e-5a6b7c8d9e0f","created":"2026-03-01T00:00:00.000Z",` +
		`"modified":"2026-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix",` +
		`"valid_from":"2026-03-01T00:00:00.000Z"}`)
	if _, err := e.store.PutObjects(ctx, ingest.DefaultPool, []stix.RawObject{{JSON: raw}}); err != nil {
		t.Fatal(err)
	}
	c := curator()
	st, err := c.Materialize(ctx, e.store, "all", curation.Selection{}, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.Values != 4 {
		t.Errorf("curated %d indicators, want the 4 ctibroker authored", st.Values)
	}
	for _, r := range records(t, e.store, curation.DefaultPublished, storage.Filter{}) {
		if r.ID == "indicator--6f0ab4a5-2f4c-4a8b-9f7e-0f4f3c1b2a10" {
			t.Errorf("the third-party indicator was re-published: %s", r.JSON)
		}
	}
	c.Identity = ""
	if _, err := c.Materialize(ctx, e.store, "all", curation.Selection{}, testTime); err == nil {
		t.Error("Run without an identity succeeded")
	}
}

func TestObservablesAreScoredAndSelectable(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	// Maltiverse calls 198.51.100.77 suspicious without making it detection-worthy:
	// the pool gets its SCO and no indicator.
	e.ingest("mlt", "maltiverse", "community", "green", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.77",
		Verdict: json.RawMessage(`{"classification":"suspicious","blacklist_sources":2}`)})
	c := curator()
	targets := []curation.Target{
		{Collection: "ip-objects", Selection: curation.Selection{Types: []string{"ipv4-addr"}}},
		{Collection: "indicators", Selection: curation.Selection{Types: []string{"indicator"}}},
	}
	st, err := c.Run(ctx, e.store, targets, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if st.Values != 5 {
		t.Errorf("values %d, want 4 indicators and 1 observable", st.Values)
	}
	recs := records(t, e.store, "ip-objects", storage.Filter{})
	if len(recs) != 1 || recs[0].Type != "ipv4-addr" {
		t.Fatalf("ip-objects holds %d records, want the observable alone (the pool has no marking definitions)", len(recs))
	}
	sco := recs[0]
	var d struct {
		Value      string                     `json:"value"`
		Confidence *int                       `json:"confidence"`
		Markings   []string                   `json:"object_marking_refs"`
		Extensions map[string]json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(sco.JSON, &d); err != nil {
		t.Fatal(err)
	}
	var x scoring.Extension
	if err := json.Unmarshal(d.Extensions[scoring.ExtensionID], &x); err != nil || d.Value != "198.51.100.77" || d.Confidence != nil {
		t.Fatalf("observable %s: want the value with the risk-score extension and no confidence (%v)", sco.JSON, err)
	}
	if x.Value <= 0 || len(x.Sources) != 1 || stix.MaxTLP(d.Markings) != stix.TLPGreen {
		t.Errorf("observable score %d, sources %d, markings %v", x.Value, len(x.Sources), d.Markings)
	}
	if got := indicatorValues(t, records(t, e.store, "indicators", storage.Filter{})); len(got) != 4 {
		t.Errorf("indicators holds %v, want the 4 indicators", names(got))
	}
	// Nothing changes on a second pass.
	st, err = c.Run(ctx, e.store, targets, testTime)
	if err != nil || st.NewVersions != 0 || st.Collections["ip-objects"].Entered != 0 {
		t.Errorf("second pass: %v, %d new versions, %d entered", err, st.NewVersions, st.Collections["ip-objects"].Entered)
	}
}

// A partner tier that held a community value receives its withdrawal, which
// must not name the internal feed that reported the value meanwhile.
func TestWithdrawalNamesNoSource(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	c := curator()
	partner := curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen}
	targets := curation.Tiers("feed", curation.Selection{}, partner)
	pid := curation.TierID("feed", curation.Selection{}, partner)
	if _, err := c.Run(ctx, e.store, targets, testTime); err != nil {
		t.Fatal(err)
	}
	if _, ok := lastIndicator(t, e.store, pid, "198.51.100.1"); !ok {
		t.Fatal("partner tier lacks the community value")
	}
	e.now = testTime.Add(time.Hour)
	e.ingest("rf", "recordedfuture", "internal", "amber", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1",
		Detect: true, Verdict: json.RawMessage(`{"risk":91,"criticality":4}`)})
	st, err := c.Run(ctx, e.store, targets, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Collections[pid].Left != 1 || st.Collections[pid].Updated != 0 {
		t.Errorf("partner tier: left %d updated %d; want the value to leave without the internal version", st.Collections[pid].Left, st.Collections[pid].Updated)
	}
	e.now = testTime.Add(2 * time.Hour)
	e.ingest("otx-a", "otx", "community", "green", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Revoked: true})
	e.ingest("rf", "recordedfuture", "internal", "amber", ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Revoked: true})
	if _, err := c.Run(ctx, e.store, targets, e.now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, _ := lastIndicator(t, e.store, pid, "198.51.100.1")
	if validUntil(t, r) == nil {
		t.Fatalf("partner tier did not receive the withdrawal: %s", r.JSON)
	}
	if strings.Contains(string(r.JSON), `"rf"`) || strings.Contains(string(r.JSON), "recordedfuture") || strings.Contains(string(r.JSON), "risk 91") {
		t.Errorf("withdrawal in the partner tier names the internal feed: %s", r.JSON)
	}
}

// snapshotSource is a risk list: every pull is the complete current list.
type snapshotSource struct{ batchSource }

func (snapshotSource) Snapshot() bool { return true }

// The end-to-end case: a value vanishing from a Recorded Future list
// shows, after one ingest and one materialisation pass, a withdrawing version
// in every curated collection that held the indicator.
func TestVanishedFromRiskListWithdrawnEverywhere(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	cfg := ingest.FeedConfig{Name: "rf", Provider: "recordedfuture", Share: "internal", DefaultTLP: "amber"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	row := func(ip string, risk int) ingest.Observation {
		return ingest.Observation{Type: "ipv4-addr", Value: ip, Detect: true, Verdict: json.RawMessage(`{"risk":` + strconv.Itoa(risk) + `,"criticality":4}`)}
	}
	pull := func(obs ...ingest.Observation) {
		t.Helper()
		src := snapshotSource{batchSource{{Observations: obs, Cursor: ingest.Cursor("list@" + e.now.Format(time.RFC3339))}}}
		if _, err := e.runner.Run(ctx, &ingest.Feed{Config: cfg, Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	pull(row("203.0.113.1", 95), row("203.0.113.2", 90), row("203.0.113.3", 92))
	c := curator()
	targets := []curation.Target{
		{Collection: "soc", Selection: curation.Selection{MinBand: "high"}},
		{Collection: "ips", Selection: curation.Selection{ValueTypes: []string{"ipv4-addr"}}},
	}
	if _, err := c.Run(ctx, e.store, targets, e.now); err != nil {
		t.Fatal(err)
	}
	e.now = testTime.Add(24 * time.Hour)
	pull(row("203.0.113.1", 95), row("203.0.113.3", 92)) // .2 vanished from the list
	st, err := c.Run(ctx, e.store, targets, e.now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"soc", "ips"} {
		r, ok := lastIndicator(t, e.store, coll, "203.0.113.2")
		if !ok || validUntil(t, r) == nil {
			t.Errorf("%s: 203.0.113.2 has no withdrawing version (stats %+v)", coll, st.Collections[coll])
		}
		for _, still := range []string{"203.0.113.1", "203.0.113.3"} {
			if r, ok := lastIndicator(t, e.store, coll, still); !ok || validUntil(t, r) != nil {
				t.Errorf("%s: %s should still be live", coll, still)
			}
		}
	}
}

func TestRunLeased(t *testing.T) {
	e := mustPool(t)
	ctx := context.Background()
	if err := e.store.AcquireLease(ctx, curation.LeaseName, "other-process", time.Hour); err != nil {
		t.Fatal(err)
	}
	c := curator()
	targets := []curation.Target{{Collection: "all"}}
	if _, err := c.RunLeased(ctx, e.store, e.store, "me", time.Hour, targets, testTime); !errors.Is(err, storage.ErrLeaseHeld) {
		t.Fatalf("RunLeased while another holds the lease: %v, want ErrLeaseHeld", err)
	}
	if err := e.store.ReleaseLease(ctx, curation.LeaseName, "other-process"); err != nil {
		t.Fatal(err)
	}
	st, err := c.RunLeased(ctx, e.store, e.store, "me", time.Hour, targets, testTime)
	if err != nil || st.NewVersions != 4 {
		t.Fatalf("RunLeased: %v, %+v", err, st)
	}
	// Released afterwards: another holder may take it.
	if err := e.store.AcquireLease(ctx, curation.LeaseName, "other-process", time.Hour); err != nil {
		t.Errorf("lease not released after the run: %v", err)
	}
}
