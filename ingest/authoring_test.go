package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
)

const day = 24 * time.Hour

// TestRunDefaultValidUntil: with DefaultConfig an indicator's valid_until is the
// latest report plus its type's lifetime; re-reports move it only when that
// gains more than half the lifetime; a withdrawal sets it to now and a later
// report gives a fresh lifetime; a feed's valid_for overrides the default.
func TestRunDefaultValidUntil(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	r.Config = ingest.DefaultConfig()
	obs := func(seen time.Time) []ingest.Observation {
		return []ingest.Observation{
			{Type: "ipv4-addr", Value: "198.51.100.20", Detect: true, Seen: seen},
			{Type: "domain-name", Value: "ttl.example", Detect: true, Seen: seen},
			{Type: "sha256", Value: strings.Repeat("ab", 32), Detect: true, Seen: seen},
			{Type: "url", Value: "http://ttl.example/x", Detect: true, Seen: seen},
		}
	}
	vals := obs(time.Time{})
	validUntil := func(i int) string {
		v, err := ingest.Normalize(vals[i].Type, vals[i].Value)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := getObject(t, s, ingest.IndicatorID(v))["valid_until"].(string)
		return u
	}
	ts := func(t time.Time) string { return t.UTC().Format(stix.TimestampLayout) }
	runAt := func(at, seen time.Time, name string) *ingest.Stats {
		now = at
		resetCursor(t, s, name)
		f := feed(name, &sliceSource{batches: []ingest.Batch{{Observations: obs(seen)}}})
		if name == "short" {
			f.Config.ValidFor = map[string]time.Duration{ingest.TypeDomain: 2 * day}
		}
		return mustRun(t, r, f)
	}
	seen := testTime.Add(-time.Hour)
	runAt(testTime, seen, "F")
	for i, want := range []time.Duration{ingest.DefaultValidForIP, ingest.DefaultValidForDomain, ingest.DefaultValidForHash, ingest.DefaultValidForDomain} {
		if got := validUntil(i); got != ts(seen.Add(want)) {
			t.Errorf("%s: valid_until %s, want %s", vals[i].Value, got, ts(seen.Add(want)))
		}
	}
	// Two days later: +2 days is less than half of any lifetime: nothing written.
	if st := runAt(testTime.Add(2*day), testTime.Add(2*day), "F"); st.Changed != 0 || st.New != 0 {
		t.Fatalf("re-report within half the lifetime: %+v", st)
	}
	// Five days later the IP (7 days) moves, the others do not.
	if st := runAt(testTime.Add(5*day), testTime.Add(5*day), "F"); st.Changed != 1 {
		t.Fatalf("re-report after half the IP lifetime: %+v", st)
	}
	if got, want := validUntil(0), ts(testTime.Add(5*day+ingest.DefaultValidForIP)); got != want {
		t.Fatalf("IP valid_until %s, want %s", got, want)
	}
	if got, want := validUntil(1), ts(seen.Add(ingest.DefaultValidForDomain)); got != want {
		t.Fatalf("domain valid_until moved: %s, want %s", got, want)
	}
	// An older report does not move it back.
	if st := runAt(testTime.Add(5*day), testTime, "F"); st.Changed != 0 {
		t.Fatalf("older report: %+v", st)
	}
	// Withdrawn: valid_until = now; reported again: a fresh lifetime.
	now = testTime.Add(6 * day)
	gone := vals[0]
	gone.Revoked = true
	resetCursor(t, s, "F")
	if st := mustRun(t, r, feed("F", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{gone}}}})); st.Revoked != 1 {
		t.Fatalf("withdrawal: %+v", st)
	}
	if got := validUntil(0); got != ts(now) {
		t.Fatalf("withdrawn valid_until %s, want %s", got, ts(now))
	}
	runAt(testTime.Add(7*day), testTime.Add(7*day), "F")
	if got, want := validUntil(0), ts(testTime.Add(7*day+ingest.DefaultValidForIP)); got != want {
		t.Fatalf("back: valid_until %s, want %s", got, want)
	}
	// A feed's valid_for: a 2-day domain lifetime moves valid_until back? No: a
	// new version only moves it forward by more than half the lifetime.
	cfg := ingest.FeedConfig{Name: "x", Provider: "test", ValidFor: map[string]time.Duration{"hostname": day}}
	if err := cfg.Validate(); !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "valid_for") {
		t.Fatalf("unknown valid_for type: %v", err)
	}
	cfg.ValidFor = map[string]time.Duration{ingest.TypeDomain: -day}
	if err := cfg.Validate(); !errors.Is(err, ingest.ErrConfig) {
		t.Fatalf("negative valid_for: %v", err)
	}
	// Per-feed lifetime on a fresh value.
	now = testTime
	resetCursor(t, s, "short")
	f := feed("short", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{{Type: "domain-name", Value: "short.example", Detect: true}}}}})
	f.Config.ValidFor = map[string]time.Duration{ingest.TypeDomain: 2 * day}
	mustRun(t, r, f)
	v, _ := ingest.Normalize("domain-name", "short.example")
	if got := getObject(t, s, ingest.IndicatorID(v))["valid_until"]; got != ts(testTime.Add(2*day)) {
		t.Fatalf("feed valid_for: %v", got)
	}
}

// TestRunMarkings: with Config.Markings the indicator and its relationships
// carry the TLP 2.0 marking of the most restrictive live report; a stricter
// report later makes a new version, a looser one does not loosen it; an
// unreadable level is a warning read as red. SCOs carry none.
func TestRunMarkings(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	r.Config.Markings = true
	o := func(tlp string) ingest.Observation {
		return ingest.Observation{Type: "domain-name", Value: "marked.example", Detect: true,
			Context: ingest.Context{TLP: tlp, Malware: []string{"Emotet"}}}
	}
	f := feed("M", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{o(""), o("TLP:AMBER")}}}})
	f.Config.DefaultTLP = "green"
	mustRun(t, r, f)
	v, _ := ingest.Normalize("domain-name", "marked.example")
	id := ingest.IndicatorID(v)
	marking := func(id string) any {
		m, _ := getObject(t, s, id)["object_marking_refs"].([]any)
		if len(m) == 0 {
			return nil
		}
		return m[0]
	}
	if got := marking(id); got != stix.TLP2AmberID {
		t.Fatalf("indicator marking %v, want amber", got)
	}
	sco := ingest.ObservableID(v)
	if got := marking(sco); got != nil {
		t.Fatalf("SCO marked: %v", got)
	}
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Types: []string{"relationship"}, Limit: 100})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("relationships %v %v", page, err)
	}
	for _, rec := range page.Records {
		if got := marking(rec.ID); got != stix.TLP2AmberID {
			t.Fatalf("relationship %s marking %v", rec.ID, got)
		}
	}
	run := func(tlp string) *ingest.Stats {
		now = now.Add(time.Hour)
		resetCursor(t, s, "M")
		return mustRun(t, r, feed("M", &sliceSource{batches: []ingest.Batch{{Observations: []ingest.Observation{o(tlp)}}}}))
	}
	if st := run("clear"); st.Changed != 0 || marking(id) != stix.TLP2AmberID {
		t.Fatalf("looser report: %+v, %v", st, marking(id))
	}
	if st := run("red"); st.Changed != 1 || marking(id) != stix.TLP2RedID {
		t.Fatalf("stricter report: %+v, %v", st, marking(id))
	}
	if st := run("purple"); st.Warnings != 1 || st.Changed != 0 {
		t.Fatalf("unknown TLP: %+v", st)
	}
}

// TestRunVulnerabilitiesAndSectors: CVEs and sectors in a value's context become
// vulnerability and identity (sectors) objects, targeted by the context's
// malware; every object validates; a malformed CVE is a warning.
func TestRunVulnerabilitiesAndSectors(t *testing.T) {
	s := testStore(t)
	now := testTime
	r := newRunner(s, &now)
	r.Config = ingest.DefaultConfig()
	obs := []ingest.Observation{
		{Type: "ipv4-addr", Value: "198.51.100.40", Detect: true, Context: ingest.Context{Malware: []string{"Emotet"},
			CVEs: []string{"cve-2024-3400 ", "CVE-24-1"}, Sectors: []string{"Finance", "Oil and Gas"}, TLP: "amber"}},
		{Type: "ipv4-addr", Value: "198.51.100.41", Detect: true, Context: ingest.Context{CVEs: []string{"CVE-2024-3400"}}},
	}
	st := mustRun(t, r, feed("V", &sliceSource{batches: []ingest.Batch{{Observations: obs}}}))
	if st.Warnings != 1 {
		t.Fatalf("stats %+v", st)
	}
	vid := ingest.ContextID("vulnerability", "CVE-2024-3400")
	vul := getObject(t, s, vid)
	refs, _ := vul["external_references"].([]any)
	if vul["name"] != "CVE-2024-3400" || len(refs) != 1 || refs[0].(map[string]any)["external_id"] != "CVE-2024-3400" || refs[0].(map[string]any)["source_name"] != "cve" {
		t.Fatalf("vulnerability %v", vul)
	}
	fin := getObject(t, s, ingest.SectorID("finance"))
	if fin["identity_class"] != "class" || fin["sectors"].([]any)[0] != "financial-services" {
		t.Fatalf("sector %v", fin)
	}
	energy := getObject(t, s, ingest.SectorID("Oil and Gas"))
	if energy["sectors"].([]any)[0] != "energy" {
		t.Fatalf("sector %v", energy)
	}
	mal := ingest.ContextID("malware", "Emotet")
	page, err := s.QueryObjects(context.Background(), ingest.DefaultPool, storage.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	validator := stix.Validator{PatternChecker: pattern.Check}
	for _, rec := range page.Records {
		var m map[string]any
		if err := json.Unmarshal(rec.JSON, &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range validator.Validate(rec.JSON) {
			if f.Severity == stix.SeverityError || f.Rule != "relationship-pair" {
				t.Errorf("%s", stix.FormatFinding(f))
			}
		}
		if m["relationship_type"] == "targets" {
			if m["source_ref"] != mal {
				t.Errorf("targets from %v", m["source_ref"])
			}
			targets[m["target_ref"].(string)] = true
		}
	}
	if len(targets) != 3 || !targets[vid] || !targets[ingest.SectorID("finance")] || !targets[ingest.SectorID("energy")] {
		t.Fatalf("targets %v", targets)
	}
}
