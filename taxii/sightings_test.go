package taxii_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// edr is the consumer with the sightings right (writer's password).
func init() { passwords["edr"] = passwords["writer"] }

const sightIdentity = "identity--8f6f0bd2-4d0c-4f9e-9a43-0c6d0f5e3b11"

// sightClock is the server's clock in the sightings tests; the pool is
// ingested a day earlier.
var sightClock = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// minScore is the curated collection's min_score in the sightings tests:
// 198.51.100.1 (one OTX report) scores below it, and above it once sighted
// (TestSightingsMoveScoreAndMembership checks both from the published
// scores).
const minScore = 45

// sightEnv is a server whose curated collection (collCurated, min_score
// minScore) is materialised by a real curation pass over a real pool, run
// by Deps.OnSightings as cmd does.
type sightEnv struct {
	*env
	cur   *curation.Curator
	authn *auth.Authenticator
	mu    sync.Mutex
	hooks [][]storage.Sighting // what OnSightings received
}

// batchSource emits its batches once.
type batchSource []ingest.Batch

func (s batchSource) Pull(_ context.Context, _ ingest.Cursor, emit func(ingest.Batch) error) error {
	for _, b := range s {
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// newSightEnvB is a sightEnv for benchmarks: no curation pass on sightings.
func newSightEnvB(b *testing.B) *sightEnv {
	b.Helper()
	cc := testAuthConfig()
	cc.Consumers = append(cc.Consumers, auth.ConsumerConfig{Name: "edr", PasswordEnv: "WRITER_PASSWORD", Sightings: true})
	a, err := auth.New(cc, auth.Options{Getenv: getenv})
	if err != nil {
		b.Fatal(err)
	}
	return &sightEnv{authn: a, env: newEnv(b, func(c *taxii.Config, d *taxii.Deps) {
		d.Auth = a
		d.Now = func() time.Time { return sightClock }
	})}
}

func newSightEnv(t *testing.T, mutate func(*taxii.Config)) *sightEnv {
	t.Helper()
	cc := testAuthConfig()
	cc.Consumers = append(cc.Consumers, auth.ConsumerConfig{Name: "edr", PasswordEnv: "WRITER_PASSWORD",
		Read: []string{collCurated}, Sightings: true})
	a, err := auth.New(cc, auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	se := &sightEnv{authn: a, cur: &curation.Curator{Identity: sightIdentity,
		Feeds: map[string]curation.Feed{"otx-a": {Provider: "otx", Reliability: 60}, "rf": {Provider: "recordedfuture", Reliability: 80}}}}
	se.env = newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		c.Collections[2].Selection = &curation.Selection{MinScore: minScore}
		if mutate != nil {
			mutate(c)
		}
		d.Auth = a
		d.Now = func() time.Time { return sightClock }
		d.OnSightings = func(ctx context.Context, s []storage.Sighting) {
			se.mu.Lock()
			se.hooks = append(se.hooks, s)
			se.mu.Unlock()
			se.pass(t, ctx)
		}
	})
	se.seedPool(t)
	return se
}

// seedPool ingests the pool with the real ingest Runner:
//
//	198.51.100.1  otx-a (community, green)   medium, below minScore
//	evil.example  otx-a and rf               high
func (se *sightEnv) seedPool(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	if err := se.store.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	created := stix.NewTimestamp(sightClock.Add(-48 * time.Hour))
	idJSON, _ := json.Marshal(map[string]any{"type": "identity", "spec_version": "2.1", "id": sightIdentity,
		"created": created, "modified": created, "name": "ctibroker test", "identity_class": "system"})
	if _, err := se.store.PutObjects(ctx, ingest.DefaultPool, []stix.RawObject{{JSON: idJSON}}); err != nil {
		t.Fatal(err)
	}
	runner := &ingest.Runner{Store: se.store, Identity: sightIdentity, Now: func() time.Time { return sightClock.Add(-24 * time.Hour) }}
	feed := func(name, provider, share, tlp string, obs ...ingest.Observation) {
		cfg := ingest.FeedConfig{Name: name, Provider: provider, Share: share, DefaultTLP: tlp}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := runner.Run(ctx, &ingest.Feed{Config: cfg, Source: batchSource{{Observations: obs, Cursor: ingest.Cursor("c")}}}); err != nil {
			t.Fatal(err)
		}
	}
	feed("otx-a", "otx", "community", "green",
		ingest.Observation{Type: "ipv4-addr", Value: "198.51.100.1", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"198.51.100.1","type":"IPv4","role":"command_and_control","is_active":1}`)},
		ingest.Observation{Type: "domain-name", Value: "evil.example", Detect: true,
			Verdict: json.RawMessage(`{"pulse":"p","indicator":"evil.example","type":"domain","is_active":1}`)})
	feed("rf", "recordedfuture", "community", "green",
		ingest.Observation{Type: "domain-name", Value: "evil.example", Detect: true, Verdict: json.RawMessage(`{"risk":70,"criticality":3}`)})
}

// pass runs one curation pass over every curated target, as cmd's loop does.
func (se *sightEnv) pass(t *testing.T, ctx context.Context) {
	t.Helper()
	cfg := se.srv.Config()
	var cons []*auth.Consumer
	for _, n := range se.authn.Consumers() {
		c, _ := se.authn.Consumer(n)
		cons = append(cons, c)
	}
	w := scoring.DefaultWeights()
	floor, err := curation.Floor(&w, cfg.CuratedSelections()...)
	if err != nil {
		t.Error(err)
		return
	}
	se.cur.Floor = floor
	if _, err := se.cur.Run(ctx, se.store, cfg.CurationTargets(cons), sightClock); err != nil {
		t.Errorf("curation pass: %v", err)
	}
}

// score returns the published score of v's indicator.
func (se *sightEnv) score(t *testing.T, typ, value string) int {
	t.Helper()
	v, err := ingest.Normalize(typ, value)
	if err != nil {
		t.Fatal(err)
	}
	p, err := se.store.QueryObjects(t.Context(), curation.DefaultPublished, storage.Filter{IDs: []string{ingest.IndicatorID(v)}})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("published %s: %v (%d records)", value, err, len(p.Records))
	}
	var d struct {
		Extensions map[string]scoring.Extension `json:"extensions"`
	}
	if err := json.Unmarshal(p.Records[0].JSON, &d); err != nil {
		t.Fatal(err)
	}
	return d.Extensions[scoring.ExtensionID].Value
}

// member reports whether consumer reads v's indicator in the curated
// collection over HTTP, and whether that version withdraws it (valid_until).
func (se *sightEnv) member(t *testing.T, consumer, value string) (present, withdrawn bool) {
	t.Helper()
	r := se.get(consumer, "/intel/collections/"+collCurated+"/objects/?match[type]=indicator")
	mustStatus(t, r, http.StatusOK)
	id := ingest.IndicatorID(ingest.Value{Type: ingest.TypeIPv4, Value: value})
	for _, o := range objectsOf(t, r.body) {
		var d struct {
			ID         string `json:"id"`
			ValidUntil string `json:"valid_until"`
		}
		if err := json.Unmarshal(o, &d); err != nil {
			t.Fatal(err)
		}
		if d.ID == id {
			return true, d.ValidUntil != ""
		}
	}
	return false, false
}

// answer is the POST answer as a client reads it.
type answer struct {
	RequestID      string `json:"request_id"`
	Items          int    `json:"items"`
	New            int    `json:"new"`
	Existing       int    `json:"existing"`
	Sightings      int    `json:"sightings"`
	FalsePositives int    `json:"false_positives"`
	ContextObjects int    `json:"context_objects"`
	Accepted       []struct {
		Index     int    `json:"index"`
		SourceID  string `json:"source_id"`
		ID        string `json:"id"`
		Type      string `json:"type"`
		Value     string `json:"value"`
		Verdict   string `json:"verdict"`
		Count     int    `json:"count"`
		FirstSeen string `json:"first_seen"`
		LastSeen  string `json:"last_seen"`
		Note      string `json:"note"`
		Stored    string `json:"stored"`
		Known     *bool  `json:"known"`
	} `json:"accepted"`
	Refused []struct {
		Index    int    `json:"index"`
		SourceID string `json:"source_id"`
		Field    string `json:"field"`
		Message  string `json:"message"`
	} `json:"refused"`
}

func (se *sightEnv) post(t *testing.T, user, ctype, body string) (*resp, answer) {
	t.Helper()
	r := se.do(req{method: http.MethodPost, path: "/intel/sightings/", user: user,
		headers: map[string]string{"Content-Type": ctype}, body: []byte(body)})
	var a answer
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatalf("answer: %v\n%s", err, r.body)
		}
	}
	return r, a
}

// TestSightingsMoveScoreAndMembership: a sighting raises a value's score
// and brings it into a curated collection whose min_score it did not meet;
// a false-positive verdict lowers it below and withdraws it.
func TestSightingsMoveScoreAndMembership(t *testing.T) {
	se := newSightEnv(t, nil)
	// A value below the floor (the lowest min_score) is never published:
	// one pass without a floor and without targets publishes its score.
	if _, err := se.cur.Run(t.Context(), se.store, nil, sightClock); err != nil {
		t.Fatal(err)
	}
	before := se.score(t, "ipv4-addr", "198.51.100.1")
	se.pass(t, t.Context())
	if before >= minScore {
		t.Fatalf("198.51.100.1 scores %d before any sighting; the test needs < %d", before, minScore)
	}
	if in, _ := se.member(t, "edr", "198.51.100.1"); in {
		t.Fatalf("198.51.100.1 (score %d) is in the min_score %d collection before any sighting", before, minScore)
	}

	// Defanged, type inferred: the value meets the pool's provenance key.
	r, a := se.post(t, "edr", "application/json",
		`[{"value":"198[.]51[.]100[.]1","count":5,"first_seen":"2026-03-02T08:00:00Z","last_seen":"2026-03-02T09:30:00+00:00"}]`)
	mustStatus(t, r, http.StatusOK)
	if len(a.Accepted) != 1 || len(a.Refused) != 0 || a.New != 1 || a.Sightings != 1 {
		t.Fatalf("answer %s: want one new sighting", r.body)
	}
	got := a.Accepted[0]
	if got.Type != "ipv4-addr" || got.Value != "198.51.100.1" || got.Count != 5 || got.Stored != "new" ||
		got.Known == nil || !*got.Known || got.FirstSeen != "2026-03-02T08:00:00.000Z" || got.LastSeen != "2026-03-02T09:30:00.000Z" {
		t.Errorf("accepted %+v", got)
	}
	after := se.score(t, "ipv4-addr", "198.51.100.1")
	if after < minScore || after <= before {
		t.Fatalf("score %d → %d after a sighting of count 5; want ≥ %d", before, after, minScore)
	}
	if in, withdrawn := se.member(t, "edr", "198.51.100.1"); !in || withdrawn {
		t.Fatalf("after the sighting (score %d): member %v withdrawn %v; want a member", after, in, withdrawn)
	}
	if len(se.hooks) != 1 || len(se.hooks[0]) != 1 || se.hooks[0][0].Source != "edr" || !se.hooks[0][0].Internal {
		t.Errorf("OnSightings got %+v, want one internal sighting by edr", se.hooks)
	}

	// The same report again: idempotent, no new record, no hook call.
	r, a = se.post(t, "edr", "application/json",
		`[{"value":"198.51.100.1","count":5,"first_seen":"2026-03-02T08:00:00Z","last_seen":"2026-03-02T09:30:00Z"}]`)
	mustStatus(t, r, http.StatusOK)
	if a.New != 0 || a.Existing != 1 || a.Accepted[0].Stored != "existing" || a.Accepted[0].ID != got.ID {
		t.Errorf("re-post: %s; want the same id, existing", r.body)
	}
	if len(se.hooks) != 1 {
		t.Errorf("OnSightings called %d times, want 1 (the re-post stored nothing)", len(se.hooks))
	}
	if s := se.score(t, "ipv4-addr", "198.51.100.1"); s != after {
		t.Errorf("score %d after the re-post, want %d", s, after)
	}

	// A false positive lowers the score below min_score (the lowest selected
	// score): a withdrawing version enters the collection.
	r, a = se.post(t, "edr", "application/json",
		`[{"type":"ip","value":"198.51.100.1","verdict":"false-positive","note":"our mail relay"}]`)
	mustStatus(t, r, http.StatusOK)
	if a.FalsePositives != 1 || a.New != 1 || a.Accepted[0].Verdict != "false-positive" || a.Accepted[0].Note != "our mail relay" {
		t.Fatalf("false positive answer %s", r.body)
	}
	fp := se.score(t, "ipv4-addr", "198.51.100.1")
	if fp >= minScore || fp >= after {
		t.Fatalf("score %d → %d after a false positive; want < %d", after, fp, minScore)
	}
	t.Logf("198.51.100.1 scores %d, %d once sighted, %d after a false positive (min_score %d)", before, after, fp, minScore)
	if in, withdrawn := se.member(t, "edr", "198.51.100.1"); !in || !withdrawn {
		t.Errorf("after the false positive (score %d): member %v withdrawn %v; want a withdrawing version", fp, in, withdrawn)
	}
	// The same verdict again (another day, other words) does not compound.
	r, a = se.post(t, "edr", "application/json",
		`[{"value":"198.51.100.1","verdict":"false-positive","first_seen":"2026-03-01T00:00:00Z","note":"still our relay"}]`)
	mustStatus(t, r, http.StatusOK)
	if a.New != 0 || a.Existing != 1 {
		t.Errorf("repeated false positive: %s; want existing", r.body)
	}

	// GET shows edr its reports; an admin sees them all.
	r = se.get("edr", "/intel/sightings?value=198.51.100.1")
	mustStatus(t, r, http.StatusOK)
	var vs struct {
		Type, Value, Scope string
		Count              int
		FalsePositives     int `json:"false_positives"`
		Sightings          []struct {
			ID, Source, Verdict string
			Internal            bool
			Count               int
		}
	}
	if err := json.Unmarshal(r.body, &vs); err != nil {
		t.Fatal(err)
	}
	if vs.Type != "ipv4-addr" || vs.Scope != "own" || vs.Count != 5 || vs.FalsePositives != 1 || len(vs.Sightings) != 2 {
		t.Errorf("GET as edr: %s", r.body)
	}
	// admin reports too; edr still sees only its own reports, admin all.
	r, _ = se.post(t, "admin", "application/json", `[{"value":"198.51.100.1","count":2}]`)
	mustStatus(t, r, http.StatusOK)
	r = se.get("edr", "/intel/sightings?value=198.51.100.1")
	if strings.Contains(string(r.body), `"source":"admin"`) || strings.Count(string(r.body), `"source":"edr"`) != 2 {
		t.Errorf("GET as edr after admin's report: %s", r.body)
	}
	r = se.get("admin", "/intel/sightings/?type=ipv4-addr&value=198.51.100.1")
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"scope":"all"`) || !strings.Contains(string(r.body), `"source":"edr"`) ||
		!strings.Contains(string(r.body), `"source":"admin"`) || !strings.Contains(string(r.body), `"count":7`) {
		t.Errorf("GET as admin: %s", r.body)
	}

	// Audit and metrics.
	audit := se.audit.String()
	if n := strings.Count(audit, `"event":"sightings.added"`); n != 5 {
		t.Errorf("%d sightings.added audit events, want one per POST (5):\n%s", n, audit)
	}
	if !strings.Contains(audit, `fp=ipv4-addr:\"198.51.100.1\" note=\"our mail relay\"`) {
		t.Errorf("audit does not name the false positive and its note:\n%s", audit)
	}
	m := se.get("", "/metrics")
	for _, want := range []string{`ctibroker_sightings_recorded_total{consumer="edr",verdict="sighting"} 1`,
		`ctibroker_sightings_recorded_total{consumer="edr",verdict="false-positive"} 1`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSightingsSTIX: STIX sightings and opinions resolve to values through
// the body and the pool.
func TestSightingsSTIX(t *testing.T) {
	se := newSightEnv(t, nil)
	se.pass(t, t.Context())
	poolInd := ingest.IndicatorID(ingest.Value{Type: ingest.TypeIPv4, Value: "198.51.100.1"})
	domInd := ingest.IndicatorID(ingest.Value{Type: ingest.TypeDomain, Value: "evil.example"})
	const (
		ts       = `"created":"2026-03-02T09:00:00.000Z","modified":"2026-03-02T09:00:00.000Z"`
		sgPool   = "sighting--0b1d7c3e-5d8e-4c1a-9f00-000000000001"
		sgObs    = "sighting--0b1d7c3e-5d8e-4c1a-9f00-000000000002"
		sgFP     = "sighting--0b1d7c3e-5d8e-4c1a-9f00-000000000003"
		sgGhost  = "sighting--0b1d7c3e-5d8e-4c1a-9f00-000000000004"
		opDis    = "opinion--0b1d7c3e-5d8e-4c1a-9f00-000000000005"
		opAgree  = "opinion--0b1d7c3e-5d8e-4c1a-9f00-000000000006"
		obsData  = "observed-data--0b1d7c3e-5d8e-4c1a-9f00-000000000007"
		malware  = "malware--0b1d7c3e-5d8e-4c1a-9f00-000000000008"
		ipSCO    = "ipv4-addr--0b1d7c3e-5d8e-4c1a-9f00-000000000009"
		fileSCO  = "file--0b1d7c3e-5d8e-4c1a-9f00-00000000000a"
		ghostInd = "indicator--0b1d7c3e-5d8e-4c1a-9f00-00000000000b"
	)
	sha := strings.Repeat("AB", 32)
	objs := []string{
		// 0: a sighting of the pool's indicator
		`{"type":"sighting","spec_version":"2.1","id":"` + sgPool + `",` + ts + `,"sighting_of_ref":"` + poolInd + `","count":4,"first_seen":"2026-03-02T07:00:00Z","last_seen":"2026-03-02T08:00:00Z"}`,
		// 1: a sighting of a malware, with observed data in the body
		`{"type":"sighting","spec_version":"2.1","id":"` + sgObs + `",` + ts + `,"sighting_of_ref":"` + malware + `","observed_data_refs":["` + obsData + `"]}`,
		// 2-4: context
		`{"type":"observed-data","spec_version":"2.1","id":"` + obsData + `",` + ts + `,"first_observed":"2026-03-02T07:00:00Z","last_observed":"2026-03-02T07:00:00Z","number_observed":1,"object_refs":["` + ipSCO + `","` + fileSCO + `"]}`,
		`{"type":"ipv4-addr","spec_version":"2.1","id":"` + ipSCO + `","value":"203.0.113.77"}`,
		`{"type":"file","spec_version":"2.1","id":"` + fileSCO + `","hashes":{"SHA-256":"` + sha + `"}}`,
		// 5: a false-positive sighting of the domain's pool indicator
		`{"type":"sighting","spec_version":"2.1","id":"` + sgFP + `",` + ts + `,"sighting_of_ref":"` + domInd + `","x_ctibroker_verdict":"false-positive","description":"sinkholed"}`,
		// 6: a sighting of an indicator nobody has
		`{"type":"sighting","spec_version":"2.1","id":"` + sgGhost + `",` + ts + `,"sighting_of_ref":"` + ghostInd + `"}`,
		// 7: disagree over the pool indicator: a false positive
		`{"type":"opinion","spec_version":"2.1","id":"` + opDis + `",` + ts + `,"opinion":"strongly-disagree","object_refs":["` + poolInd + `"],"explanation":"lab range"}`,
		// 8: agree: refused
		`{"type":"opinion","spec_version":"2.1","id":"` + opAgree + `",` + ts + `,"opinion":"agree","object_refs":["` + poolInd + `"]}`,
		// 9: not a valid sighting (no sighting_of_ref)
		`{"type":"sighting","spec_version":"2.1","id":"sighting--0b1d7c3e-5d8e-4c1a-9f00-00000000000c",` + ts + `}`,
	}
	body := `{"type":"bundle","id":"bundle--0b1d7c3e-5d8e-4c1a-9f00-0000000000ff","objects":[` + strings.Join(objs, ",") + `]}`
	r, a := se.post(t, "edr", "application/stix+json;version=2.1", body)
	mustStatus(t, r, http.StatusOK)
	if a.Items != 7 || a.ContextObjects != 3 {
		t.Errorf("items %d context %d; want 7 sightings and opinions, 3 context objects", a.Items, a.ContextObjects)
	}
	type acc struct {
		index                   int
		id, typ, value, verdict string
		count                   int
	}
	var gotAcc []acc
	for _, x := range a.Accepted {
		gotAcc = append(gotAcc, acc{x.Index, x.ID, x.Type, x.Value, x.Verdict, x.Count})
	}
	want := []acc{
		{0, sgPool, "ipv4-addr", "198.51.100.1", "sighting", 4},
		{1, sgObs + "#ipv4-addr:203.0.113.77", "ipv4-addr", "203.0.113.77", "sighting", 1},
		{1, sgObs + "#file:sha-256:" + strings.ToLower(sha), "file:sha-256", strings.ToLower(sha), "sighting", 1},
		{5, gotAcc[3].id, "domain-name", "evil.example", "false-positive", 1},
		{7, gotAcc[4].id, "ipv4-addr", "198.51.100.1", "false-positive", 1},
	}
	if fmt.Sprint(gotAcc) != fmt.Sprint(want) {
		t.Errorf("accepted\n got %v\nwant %v", gotAcc, want)
	}
	refused := map[int]string{}
	for _, x := range a.Refused {
		refused[x.Index] = x.Field + ": " + x.Message
	}
	for idx, want := range map[int]string{6: "sighting_of_ref: " + ghostInd + " not found", 8: `opinion: "agree"`, 9: "sighting_of_ref"} {
		if !strings.Contains(refused[idx], want) {
			t.Errorf("refused[%d] = %q, want it to contain %q", idx, refused[idx], want)
		}
	}
	if len(a.Refused) != 3 {
		t.Errorf("refused %s; want 3", r.body)
	}
	// The sighting's times; the opinion's note.
	if a.Accepted[0].FirstSeen != "2026-03-02T07:00:00.000Z" || a.Accepted[0].LastSeen != "2026-03-02T08:00:00.000Z" || a.Accepted[4].Note != "lab range" {
		t.Errorf("accepted %+v", a.Accepted)
	}
	// Re-posting the bundle stores nothing new.
	r, a = se.post(t, "edr", "application/taxii+json;version=2.1", body)
	mustStatus(t, r, http.StatusOK)
	if a.New != 0 || a.Existing != 5 {
		t.Errorf("re-post: new %d existing %d; want 0 and 5", a.New, a.Existing)
	}
	// The opinion's false positive and the sighting are the same value's.
	r = se.get("edr", "/intel/sightings/?value=198.51.100.1")
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"count":4,"false_positives":1`) {
		t.Errorf("GET: %s", r.body)
	}
}

// TestSightingsValueNormalisation: values are normalised as the ingest
// Runner normalises pool values; bad items are refused one by one.
func TestSightingsItems(t *testing.T) {
	se := newSightEnv(t, nil)
	future := sightClock.Add(time.Hour).Format(time.RFC3339)
	items := []string{
		`{"value":"2001:DB8:0:0::1"}`,
		`{"value":"EVIL.Example."}`,
		`{"type":"sha256","value":"` + strings.Repeat("CD", 32) + `"}`,
		`{"value":"hxxp://bad[.]example/x"}`,
		`{"value":"not a value"}`,
		`{"type":"foo","value":"1.2.3.4"}`,
		`{"value":"0.0.0.0"}`,
		`{"value":"192.0.2.1","first_seen":"` + future + `"}`,
		`{"value":"192.0.2.1","first_seen":"2026-03-02T09:00:00Z","last_seen":"2026-03-02T08:00:00Z"}`,
		`{"value":"192.0.2.1","verdict":"maybe"}`,
		`{"value":"192.0.2.1","count":0}`,
		`{"value":"192.0.2.1","first_seen":"yesterday"}`,
		`{"value":"192.0.2.1","note":"` + strings.Repeat("x", taxii.MaxSightingNote+1) + `"}`,
		`{"count":2}`,
	}
	r, a := se.post(t, "edr", "application/json", "["+strings.Join(items, ",")+"]")
	mustStatus(t, r, http.StatusOK)
	var got []string
	for _, x := range a.Accepted {
		got = append(got, fmt.Sprintf("%d %s %s", x.Index, x.Type, x.Value))
	}
	want := []string{"0 ipv6-addr 2001:db8::1", "1 domain-name evil.example",
		"2 file:sha-256 " + strings.Repeat("cd", 32), "3 url http://bad.example/x"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("accepted\n got %v\nwant %v", got, want)
	}
	if a.Accepted[0].Known == nil || *a.Accepted[0].Known {
		t.Errorf("2001:db8::1 known %v; no feed reports it", a.Accepted[0].Known)
	}
	wantRefused := map[int]string{4: "value", 5: "type", 6: "value", 7: "first_seen", 8: "last_seen",
		9: "verdict", 10: "count", 11: "first_seen", 12: "note", 13: "value"}
	gotRefused := map[int]string{}
	for _, x := range a.Refused {
		gotRefused[x.Index] = x.Field
		if x.Message == "" {
			t.Errorf("refused [%d] without a message", x.Index)
		}
	}
	if fmt.Sprint(gotRefused) != fmt.Sprint(wantRefused) {
		t.Errorf("refused fields\n got %v\nwant %v\n%s", gotRefused, wantRefused, r.body)
	}
	if a.Items != len(items) {
		t.Errorf("items %d, want %d", a.Items, len(items))
	}
}

// TestSightingsErrors: rights, limits and malformed bodies.
func TestSightingsErrors(t *testing.T) {
	se := newSightEnv(t, func(c *taxii.Config) { c.MaxSightings = 3 })
	big := `[{"value":"192.0.2.1","note":"` + strings.Repeat("x", 1<<20) + `"}]`
	for name, tt := range map[string]struct {
		user, path, ctype, body string
		status                  int
		want                    string // in the error description
	}{
		"anonymous":           {"", "/intel/sightings/", "application/json", `[{"value":"192.0.2.1"}]`, 401, "credentials"},
		"no sightings right":  {"soc", "/intel/sightings", "application/json", `[{"value":"192.0.2.1"}]`, 403, "sightings: true"},
		"unknown root":        {"edr", "/nowhere/sightings/", "application/json", `[{"value":"192.0.2.1"}]`, 404, "nowhere"},
		"over-size body":      {"edr", "/intel/sightings/", "application/json", big, 413, "max_content_length"},
		"too many items":      {"edr", "/intel/sightings/", "application/json", `[{"value":"192.0.2.1"},{"value":"192.0.2.2"},{"value":"192.0.2.3"},{"value":"192.0.2.4"}]`, 413, "max_sightings 3"},
		"not JSON":            {"edr", "/intel/sightings/", "application/json", `[{"value":`, 422, "invalid JSON"},
		"not a list":          {"edr", "/intel/sightings/", "application/json", `"192.0.2.1"`, 422, "JSON list"},
		"entry not object":    {"edr", "/intel/sightings/", "application/json", `[{"value":"192.0.2.1"},7]`, 400, "[1]: want an object"},
		"wrong field type":    {"edr", "/intel/sightings/", "application/json", `[{"value":"192.0.2.1"},{"value":"192.0.2.2","count":"three"}]`, 400, "[1].count: want a whole number, got string"},
		"unknown field":       {"edr", "/intel/sightings/", "application/json", `[{"valeu":"192.0.2.1"}]`, 400, "[0].valeu: unknown field"},
		"list as TAXII":       {"edr", "/intel/sightings/", "application/taxii+json;version=2.1", `[{"value":"192.0.2.1"}]`, 422, "envelope"},
		"text/plain":          {"edr", "/intel/sightings/", "text/plain", `[{"value":"192.0.2.1"}]`, 415, "Content-Type"},
		"too many STIX items": {"edr", "/intel/sightings/", "application/taxii+json", envelopeOf(4), 413, "max_sightings 3"},
	} {
		t.Run(name, func(t *testing.T) {
			r := se.do(req{method: http.MethodPost, path: tt.path, user: tt.user,
				headers: map[string]string{"Content-Type": tt.ctype}, body: []byte(tt.body)})
			mustStatus(t, r, tt.status)
			if d, _ := r.json(t)["description"].(string); !strings.Contains(d, tt.want) {
				t.Errorf("description %q, want it to name %q", d, tt.want)
			}
		})
	}
	// A malformed entry names its index and field in details too, and
	// nothing of the body is stored.
	r := se.do(req{method: http.MethodPost, path: "/intel/sightings/", user: "edr",
		headers: map[string]string{"Content-Type": "application/json"}, body: []byte(`[{"value":"192.0.2.9"},{"value":"192.0.2.8","count":1.5}]`)})
	mustStatus(t, r, 400)
	det, _ := r.json(t)["details"].(map[string]any)
	if det["index"] != float64(1) || det["field"] != "count" {
		t.Errorf("details %v, want index 1 and field count", det)
	}
	if got, err := se.store.Sightings(t.Context(), "ipv4-addr", "192.0.2.9"); err != nil || len(got) != 0 {
		t.Errorf("stored %v (%v) from a refused body", got, err)
	}
	if len(se.hooks) != 0 {
		t.Errorf("OnSightings called for refused bodies: %v", se.hooks)
	}
	// GET needs a value, and the right.
	mustStatus(t, se.get("edr", "/intel/sightings/"), 400)
	mustStatus(t, se.get("soc", "/intel/sightings/?value=192.0.2.1"), 403)
	mustStatus(t, se.get("", "/intel/sightings/?value=192.0.2.1"), 401)
	// A JSON client may ask for application/json.
	r = se.do(req{path: "/intel/sightings/?value=192.0.2.1", user: "edr", headers: map[string]string{"Accept": "application/json"}})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("Accept application/json: %d %q", r.status, r.header.Get("Content-Type"))
	}
	mustStatus(t, se.do(req{path: "/intel/sightings/?value=192.0.2.1", user: "edr", headers: map[string]string{"Accept": "text/html"}}), 406)
}

// envelopeOf returns an envelope of n sightings.
func envelopeOf(n int) string {
	var b bytes.Buffer
	b.WriteString(`{"objects":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"sighting","spec_version":"2.1","id":"sighting--0b1d7c3e-5d8e-4c1a-9f00-%012x","created":"2026-03-02T09:00:00.000Z","modified":"2026-03-02T09:00:00.000Z","sighting_of_ref":"indicator--0b1d7c3e-5d8e-4c1a-9f00-000000000001"}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestSightingsReferences: an opinion over a sighting of the body, and
// indicators found only in a stored collection the consumer may read.
func TestSightingsReferences(t *testing.T) {
	se := newSightEnv(t, nil)
	domInd := ingest.IndicatorID(ingest.Value{Type: ingest.TypeDomain, Value: "evil.example"})
	const (
		ts    = `"created":"2026-03-02T09:00:00.000Z","modified":"2026-03-02T09:00:00.000Z"`
		sg    = "sighting--1c2d7c3e-5d8e-4c1a-9f00-000000000001"
		op    = "opinion--1c2d7c3e-5d8e-4c1a-9f00-000000000002"
		third = "indicator--1c2d7c3e-5d8e-4c1a-9f00-000000000003"
		sgTP  = "sighting--1c2d7c3e-5d8e-4c1a-9f00-000000000004"
	)
	r, a := se.post(t, "edr", "application/taxii+json", `{"objects":[`+
		`{"type":"sighting","spec_version":"2.1","id":"`+sg+`",`+ts+`,"sighting_of_ref":"`+domInd+`"},`+
		`{"type":"opinion","spec_version":"2.1","id":"`+op+`",`+ts+`,"opinion":"disagree","object_refs":["`+sg+`"]}]}`)
	mustStatus(t, r, http.StatusOK)
	if len(a.Accepted) != 2 || a.Accepted[0].Verdict != "sighting" || a.Accepted[1].Verdict != "false-positive" ||
		a.Accepted[1].Value != "evil.example" || a.Accepted[1].SourceID != op {
		t.Errorf("opinion over a sighting: %s", r.body)
	}
	// A third party's indicator in collSecret, which only admin may read:
	// edr cannot learn its value through a sighting, admin can report it.
	ind := `{"type":"indicator","spec_version":"2.1","id":"` + third + `",` + ts + `,"pattern":"[url:value = 'http://third.example/a']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z"}`
	var obj stix.RawObject
	if err := json.Unmarshal([]byte(ind), &obj.Common); err != nil {
		t.Fatal(err)
	}
	obj.JSON = []byte(ind)
	if _, err := se.store.PutObjects(t.Context(), collSecret, []stix.RawObject{obj}); err != nil {
		t.Fatal(err)
	}
	body := `{"objects":[{"type":"sighting","spec_version":"2.1","id":"` + sgTP + `",` + ts + `,"sighting_of_ref":"` + third + `"}]}`
	r, a = se.post(t, "edr", "application/taxii+json", body)
	mustStatus(t, r, http.StatusOK)
	if len(a.Accepted) != 0 || len(a.Refused) != 1 || !strings.Contains(a.Refused[0].Message, "not found") {
		t.Errorf("edr, indicator in a collection it may not read: %s", r.body)
	}
	r, a = se.post(t, "admin", "application/taxii+json", body)
	mustStatus(t, r, http.StatusOK)
	if len(a.Accepted) != 1 || a.Accepted[0].Type != "url" || a.Accepted[0].Value != "http://third.example/a" {
		t.Errorf("admin, indicator in collSecret: %s", r.body)
	}
}

func TestMaxSightingsConfig(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSightings = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "max_sightings") {
		t.Errorf("Validate with max_sightings -1: %v", err)
	}
}

// BenchmarkPostSightings posts 1000 new JSON sightings per request and
// reports ns per item, against storing the same records with AddSightings
// directly (the baseline: what the endpoint adds is decoding, normalising,
// the provenance lookups and the answer).
func BenchmarkPostSightings(b *testing.B) {
	const n = 1000
	se := newSightEnvB(b)
	body := func(round int) []byte {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"value":"10.%d.%d.%d","count":2,"first_seen":"2026-03-01T%02d:00:00Z"}`, round%250, i/250, i%250, round%24)
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
	var base time.Duration
	b.Run("store-baseline", func(b *testing.B) {
		for i := range b.N {
			recs := make([]storage.Sighting, n)
			for j := range recs {
				recs[j] = storage.Sighting{ID: fmt.Sprintf("base-%d-%d", i, j), Type: "ipv4-addr", Value: fmt.Sprintf("10.9.%d.%d", j/250, j%250),
					Source: "edr", Internal: true, Count: 2, FirstSeen: sightClock, LastSeen: sightClock}
			}
			if _, err := se.store.AddSightings(b.Context(), recs); err != nil {
				b.Fatal(err)
			}
		}
		base = b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(base.Nanoseconds())/n, "ns/item")
	})
	b.Run("post", func(b *testing.B) {
		for i := range b.N {
			r := se.do(req{method: http.MethodPost, path: "/intel/sightings/", user: "edr",
				headers: map[string]string{"Content-Type": "application/json"}, body: body(i)})
			if r.status != 200 {
				b.Fatalf("%d %s", r.status, r.body)
			}
		}
		per := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(per.Nanoseconds())/n, "ns/item")
		if base > 0 {
			b.ReportMetric(float64(per)/float64(base), "x-baseline")
		}
	})
}

// TestSightingsVersions: a later version of a STIX sighting with a higher
// count records the increase; older or repeated versions record nothing.
func TestSightingsVersions(t *testing.T) {
	se := newSightEnv(t, nil)
	poolInd := ingest.IndicatorID(ingest.Value{Type: ingest.TypeIPv4, Value: "198.51.100.1"})
	const sg = "sighting--2d3e7c3e-5d8e-4c1a-9f00-000000000001"
	version := func(modified string, count int) string {
		return fmt.Sprintf(`{"objects":[{"type":"sighting","spec_version":"2.1","id":%q,"created":"2026-03-02T06:00:00.000Z","modified":%q,"sighting_of_ref":%q,"count":%d}]}`,
			sg, modified, poolInd, count)
	}
	total := func() int {
		r := se.get("edr", "/intel/sightings/?value=198.51.100.1")
		mustStatus(t, r, http.StatusOK)
		var v struct{ Count int }
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		return v.Count
	}
	for i, step := range []struct {
		modified string
		count    int
		stored   string
		total    int
	}{
		{"2026-03-02T06:00:00.000Z", 3, "new", 3},
		{"2026-03-02T07:00:00.000Z", 5, "updated", 5},
		{"2026-03-02T07:00:00.000Z", 5, "existing", 5},
		{"2026-03-02T06:00:00.000Z", 3, "existing", 5},
		{"2026-03-02T08:00:00.000Z", 9, "updated", 9},
	} {
		r, a := se.post(t, "edr", "application/taxii+json", version(step.modified, step.count))
		mustStatus(t, r, http.StatusOK)
		if len(a.Accepted) != 1 || a.Accepted[0].Stored != step.stored || a.Accepted[0].Count != step.count {
			t.Errorf("step %d: %s; want stored %q, count %d", i, r.body, step.stored, step.count)
		}
		if got := total(); got != step.total {
			t.Errorf("step %d: total count %d, want %d", i, got, step.total)
		}
	}
	// Two versions in one body count once, at the higher count.
	const sg2 = "sighting--2d3e7c3e-5d8e-4c1a-9f00-000000000002"
	body := fmt.Sprintf(`{"objects":[`+
		`{"type":"sighting","spec_version":"2.1","id":%[1]q,"created":"2026-03-02T06:00:00.000Z","modified":"2026-03-02T06:00:00.000Z","sighting_of_ref":%[2]q,"count":2},`+
		`{"type":"sighting","spec_version":"2.1","id":%[1]q,"created":"2026-03-02T06:00:00.000Z","modified":"2026-03-02T07:00:00.000Z","sighting_of_ref":%[2]q,"count":4}]}`, sg2, poolInd)
	r, _ := se.post(t, "edr", "application/taxii+json", body)
	mustStatus(t, r, http.StatusOK)
	if got := total(); got != 13 {
		t.Errorf("total count %d after two versions (2, then 4) of another sighting, want 9+4", got)
	}
}

// TestSightingsConfigKeys: the YAML keys of the sightings right and limit.
func TestSightingsConfigKeys(t *testing.T) {
	var ac auth.Config
	if err := yaml.Unmarshal([]byte("consumers:\n  - name: edr\n    api_key_hash: sha256:00\n    sightings: true\n"), &ac); err != nil {
		t.Fatal(err)
	}
	if len(ac.Consumers) != 1 || !ac.Consumers[0].Sightings {
		t.Errorf("sightings: true decoded as %+v", ac.Consumers)
	}
	var tc taxii.Config
	if err := yaml.Unmarshal([]byte("max_sightings: 500\n"), &tc); err != nil || tc.MaxSightings != 500 {
		t.Errorf("max_sightings: 500 decoded as %d (%v)", tc.MaxSightings, err)
	}
}
