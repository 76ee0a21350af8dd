package curation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

const pulseID = "report--5b0e0a52-8c4a-4f7e-9b0e-6f4a3c2d1e10"

// bank is the organisation profile of these tests.
var bank = &scoring.Organisation{
	Sectors:  []string{"financial-services"},
	Regions:  []string{"germany"},
	Products: []string{"cpe:2.3:o:paloaltonetworks:pan-os:*:*:*:*:*:*:*:*"},
	Brands:   []string{"acmebank"},
}

// mustRelevancePool ingests, with the real Runner:
//
//	acmebank-login.example  otx-a            brand look-alike host   relevance 90
//	203.0.113.30            rf, CVE-2024-3400 PAN-OS (CPE in the pool) relevance 80
//	198.51.100.20           rf, targets financial-services           relevance 60
//	192.0.2.88              otx-a, a pulse targeting Germany         relevance 40
//	192.0.2.77              otx-a, healthcare                       relevance 0
func mustRelevancePool(tb testing.TB) *env {
	e := mustEnv(tb)
	// An OTX pulse's report, as the otx converter writes it: the targeted
	// countries sit in its property extension.
	created := stix.NewTimestamp(testTime.Add(-time.Hour))
	pulse, _ := json.Marshal(map[string]any{"type": "report", "spec_version": "2.1", "id": pulseID, "created": created,
		"modified": created, "name": "pulse", "published": created, "object_refs": []string{identity},
		"extensions": map[string]any{"extension-definition--c063a405-04dd-54fd-8582-d816705623f6": map[string]any{
			"extension_type": "property-extension", "pulse_id": "p", "public": true, "indicator_count": 1,
			"targeted_countries": []string{"Germany", "Austria"}}}})
	if _, err := e.store.PutObjects(context.Background(), ingest.DefaultPool, []stix.RawObject{{JSON: pulse}}); err != nil {
		tb.Fatal(err)
	}
	e.ingest("otx-a", "otx", "community", "green",
		ingest.Observation{Type: "domain-name", Value: "acmebank-login.example", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"acmebank-login.example","type":"domain","role":"phishing","is_active":1}`),
			Context: ingest.Context{Labels: []string{"phishing"}}},
		ingest.Observation{Type: "ipv4-addr", Value: "192.0.2.77", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"192.0.2.77","type":"IPv4","role":"command_and_control","is_active":1}`),
			Context: ingest.Context{Sectors: []string{"healthcare"}}},
		ingest.Observation{Type: "ipv4-addr", Value: "192.0.2.88", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"192.0.2.88","type":"IPv4","role":"command_and_control","is_active":1}`),
			Context: ingest.Context{ReportRefs: []string{pulseID}}})
	e.ingest("rf", "recordedfuture", "internal", "amber",
		ingest.Observation{Type: "ipv4-addr", Value: "203.0.113.30", Detect: true, Verdict: json.RawMessage(`{"risk":80,"criticality":3}`),
			Context: ingest.Context{CVEs: []string{"CVE-2024-3400"}}},
		ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.20", Detect: true, Verdict: json.RawMessage(`{"risk":80,"criticality":3}`),
			Context: ingest.Context{Sectors: []string{"financial-services"}}})
	// A later version of the CVE's vulnerability, as a third-party feed
	// describes it, with the affected software's CPE.
	id := ingest.ContextID("vulnerability", "CVE-2024-3400")
	created, modified := stix.NewTimestamp(testTime.Add(-time.Hour)), stix.NewTimestamp(testTime.Add(time.Hour))
	vuln, _ := json.Marshal(map[string]any{"type": "vulnerability", "spec_version": "2.1", "id": id, "created": created,
		"modified": modified, "name": "CVE-2024-3400", "description": "GlobalProtect command injection",
		"x_affected_cpes": []string{"cpe:2.3:o:paloaltonetworks:pan-os:11.1.0:*:*:*:*:*:*:*"}})
	if _, err := e.store.PutObjects(context.Background(), ingest.DefaultPool, []stix.RawObject{{JSON: vuln}}); err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestMinRelevanceSelectsDifferentMembers: selections differing only by
// min_relevance select different members of the same pool.
func TestMinRelevanceSelectsDifferentMembers(t *testing.T) {
	e := mustRelevancePool(t)
	ctx := context.Background()
	c := curator()
	c.Organisation = bank
	targets := []curation.Target{
		{Collection: "all", Selection: curation.Selection{Types: []string{"indicator"}}},
		{Collection: "regional", Selection: curation.Selection{Types: []string{"indicator"}, MinRelevance: 30}},
		{Collection: "concerns-us", Selection: curation.Selection{Types: []string{"indicator"}, MinRelevance: 50}},
		{Collection: "targets-us", Selection: curation.Selection{Types: []string{"indicator"}, MinRelevance: 75}},
	}
	st, err := c.Run(ctx, e.store, targets, testTime)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"all":         {"192.0.2.77", "192.0.2.88", "198.51.100.20", "203.0.113.30", "acmebank-login.example"},
		"regional":    {"192.0.2.88", "198.51.100.20", "203.0.113.30", "acmebank-login.example"},
		"concerns-us": {"198.51.100.20", "203.0.113.30", "acmebank-login.example"},
		"targets-us":  {"203.0.113.30", "acmebank-login.example"},
	}
	for coll, w := range want {
		got := names(indicatorValues(t, records(t, e.store, coll, storage.Filter{})))
		if !slices.Equal(got, w) {
			t.Errorf("%s holds %v, want %v", coll, got, w)
		}
	}
	// Why 198.51.100.20 is not in targets-us, as the audit says.
	found := false
	for _, ev := range st.Events {
		if ev.Collection == "targets-us" && ev.Value == "198.51.100.20" {
			t.Errorf("audit event %+v for a value never selected", ev)
		}
		if ev.Collection == "concerns-us" && ev.Value == "198.51.100.20" && ev.Action == curation.ActionEnter {
			found = true
		}
	}
	if !found {
		t.Error("no enter event for 198.51.100.20 in concerns-us")
	}
	// The published versions carry the score but never the relevance: its
	// reasons would reveal the profile.
	for _, r := range records(t, e.store, curation.DefaultPublished, storage.Filter{}) {
		if bytes.Contains(r.JSON, []byte(`"relevance"`)) || bytes.Contains(r.JSON, []byte("acmebank\\\"")) {
			t.Errorf("published %s carries the relevance: %s", r.ID, r.JSON)
		}
		extOf(t, r)
	}
	// Without a profile nothing is relevant, and min_relevance selects nothing.
	c2 := curator()
	if _, err := c2.Run(ctx, e.store, []curation.Target{{Collection: "no-profile", Selection: curation.Selection{MinRelevance: 1}}}, testTime); err != nil {
		t.Fatal(err)
	}
	if got := records(t, e.store, "no-profile", storage.Filter{}); len(got) != 0 {
		t.Errorf("no profile: min_relevance 1 selected %d records", len(got))
	}
}

// TestMinReliability: min_reliability B keeps only values a feed rated 80 or
// better reports live; A keeps none.
func TestMinReliability(t *testing.T) {
	e := mustRelevancePool(t)
	ctx := context.Background()
	var sels map[string]curation.Selection
	if err := yaml.Unmarshal([]byte("b: {min_reliability: B}\na: {min_reliability: A}\nn: {min_reliability: 60}\n"), &sels); err != nil {
		t.Fatal(err)
	}
	var targets []curation.Target
	for _, k := range []string{"a", "b", "n"} {
		targets = append(targets, curation.Target{Collection: "rel-" + k, Selection: sels[k]})
	}
	if _, err := curator().Run(ctx, e.store, targets, testTime); err != nil {
		t.Fatal(err)
	}
	for coll, w := range map[string][]string{
		"rel-a": nil,
		"rel-b": {"198.51.100.20", "203.0.113.30"},
		"rel-n": {"192.0.2.77", "192.0.2.88", "198.51.100.20", "203.0.113.30", "acmebank-login.example"},
	} {
		if got := names(indicatorValues(t, records(t, e.store, coll, storage.Filter{}))); !slices.Equal(got, w) && len(got)+len(w) > 0 {
			t.Errorf("%s holds %v, want %v", coll, got, w)
		}
	}
}

// TestInputsFor builds the inputs of one value from provenance, sightings
// and the allow-lists, and RelevanceFor its relevance.
func TestInputsFor(t *testing.T) {
	e := mustRelevancePool(t)
	ctx := context.Background()
	e.now = testTime.Add(48 * time.Hour)
	e.ingest("otx-b", "otx", "", "",
		ingest.Observation{Type: "ipv4-addr", Value: "203.0.113.30", Detect: true, Revoked: true, Seen: e.now,
			Verdict: json.RawMessage(`{"pulse":"q","indicator":"203.0.113.30","type":"IPv4","is_active":0}`)})
	if _, err := e.store.AddSightings(ctx, []storage.Sighting{
		{ID: "s1", Type: "ipv4-addr", Value: "203.0.113.30", Source: "edr", Internal: true, Count: 3, FirstSeen: testTime, LastSeen: testTime.Add(time.Hour)},
		{ID: "s2", Type: "ipv4-addr", Value: "203.0.113.30", Source: "soc", FalsePositive: true, FirstSeen: testTime},
		{ID: "s3", Type: "ipv4-addr", Value: "203.0.113.30", Source: "soc", FalsePositive: true, Count: 2, FirstSeen: testTime.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	allow, err := warninglist.Config{Assets: warninglist.Assets{Networks: []string{"203.0.113.0/24"}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := curator()
	var logBuf bytes.Buffer
	in, m, err := curation.InputsFor(ctx, e.store, "ipv4-addr", "203.0.113.30", &curation.InputOptions{Feeds: c.Feeds, AllowList: allow,
		Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Reports) != 2 {
		t.Fatalf("reports %+v, want rf and otx-b", in.Reports)
	}
	rf, otx := in.Reports[0], in.Reports[1]
	if rf.Feed != "rf" || rf.Provider != "recordedfuture" || rf.Reliability != 80 || rf.Revoked || rf.Verdict.Severity <= 0 {
		t.Errorf("rf report %+v", rf)
	}
	if otx.Feed != "otx-b" || otx.Provider != "" || !otx.Revoked || !otx.LastSeen.Equal(e.now) {
		t.Errorf("otx-b report %+v, want an unconfigured, revoked report last seen %s", otx, e.now)
	}
	if in.Sightings.Count != 3 || !in.Sightings.LastSeen.Equal(testTime.Add(time.Hour)) {
		t.Errorf("sightings %+v, want 3, last %s", in.Sightings, testTime.Add(time.Hour))
	}
	if len(in.FalsePositives) != 1 || in.FalsePositives[0] != (scoring.FalsePositive{From: "soc", Count: 3}) {
		t.Errorf("false positives %+v, want soc ×3", in.FalsePositives)
	}
	if !slices.ContainsFunc(in.AllowListHits, func(h warninglist.Hit) bool { return h.Tier == warninglist.TierAsset }) {
		t.Errorf("allow-list hits %+v, want the organisation's network among them", in.AllowListHits)
	}
	if !slices.Equal(m.Feeds, []string{"rf"}) || !slices.Equal(m.CVEs, []string{"CVE-2024-3400"}) || m.Share.String() != "internal" {
		t.Errorf("meta %+v: want feeds [rf], CVEs [CVE-2024-3400], share internal", m)
	}
	if logBuf.Len() != 0 {
		t.Errorf("unexpected warnings: %s", logBuf.String())
	}
	rel, err := curation.RelevanceFor(ctx, e.store, ingest.DefaultPool, bank, &m)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Value != 80 || len(rel.Reasons) != 1 || !strings.Contains(rel.Reasons[0].Evidence, "CVE-2024-3400 affects cpe:2.3:o:paloaltonetworks:pan-os:11.1.0") {
		t.Errorf("relevance %+v, want 80 from CVE-2024-3400's CPE", rel)
	}
	// explain shows the relevance next to an unchanged score.
	res := scoring.Score(in, scoring.DefaultWeights(), e.now)
	with := res.WithRelevance(rel)
	if with.Value != res.Value || with.Relevance.Priority < res.Value {
		t.Errorf("with relevance: score %d priority %d, want score %d and priority at least it", with.Value, with.Relevance.Priority, res.Value)
	}
	// The region comes from the pulse's report in the pool.
	_, m, err = curation.InputsFor(ctx, e.store, "ipv4-addr", "192.0.2.88", &curation.InputOptions{Feeds: c.Feeds})
	if err != nil || !slices.Equal(m.ReportRefs, []string{pulseID}) {
		t.Fatalf("192.0.2.88: report refs %v, %v; want [%s]", m.ReportRefs, err, pulseID)
	}
	rel, err = curation.RelevanceFor(ctx, e.store, ingest.DefaultPool, bank, &m)
	if err != nil || rel.Value != 40 || len(rel.Reasons) != 1 || rel.Reasons[0].Match != "germany" ||
		!strings.Contains(rel.Reasons[0].Evidence, "Germany") {
		t.Errorf("192.0.2.88: relevance %+v, %v; want 40 from the pulse targeting Germany", rel, err)
	}
	// A value nobody reported has no reports.
	in, m, err = curation.InputsFor(ctx, e.store, "ipv4-addr", "192.0.2.200", nil)
	if err != nil || len(in.Reports) != 0 || len(m.Feeds) != 0 {
		t.Errorf("unreported value: %+v %+v %v", in, m, err)
	}
	if got := curation.ScoringType("file:SHA-256"); got != "file:sha256" {
		t.Errorf("ScoringType(file:SHA-256) = %q", got)
	}
}
