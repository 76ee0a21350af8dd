package taxii_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// feedOrg is the instance organisation of the MISP feed tests.
var feedOrg = misp.Org{Name: "ACME CTI", UUID: "6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"}

// partnerFeedKey is partner's API key ("Authorization: Token <key>").
const partnerFeedKey = "partner-feed-key-0123456789"

// feedEnv is tieredEnv (soc: internal/amber, partner: partners/green,
// community: community/clear; collCurated with curatedSel) with MISP feeds on.
func feedEnv(t testing.TB) *env {
	t.Helper()
	e, _ := feedEnvAuth(t)
	return e
}

// feedEnvAuth is feedEnv, with its authenticator.
func feedEnvAuth(t testing.TB) (*env, *auth.Authenticator) {
	t.Helper()
	cc := testAuthConfig()
	cc.Consumers[1].Read = append(cc.Consumers[1].Read, collCurated)
	cc.Consumers[1].MaxShare, cc.Consumers[1].MaxTLP = "partners", "green"
	cc.Consumers[1].APIKeyEnv = "PARTNER_FEED_KEY"
	cc.Consumers = append(cc.Consumers, auth.ConsumerConfig{Name: "community", PasswordEnv: "SOC_PASSWORD",
		Read: []string{collCurated}, MaxShare: "community", MaxTLP: "clear"})
	a, err := auth.New(cc, auth.Options{Getenv: func(name string) string {
		if name == "PARTNER_FEED_KEY" {
			return partnerFeedKey
		}
		return getenv(name)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		sel := curatedSel
		c.Collections[2].Selection = &sel
		d.Auth = a
		d.MISPFeed = taxii.MISPFeed{Org: feedOrg}
	}), a
}

// markedIndicator is an indicator of 198.51.100.<n> marked with tlp (none:
// unmarked).
func markedIndicator(n int, tlp stix.TLP) stix.RawObject {
	marks := ""
	if tlp != stix.TLPNone {
		marks = fmt.Sprintf(`,"object_marking_refs":[%q]`, tlp.MarkingRef())
	}
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-1111-4000-8000-%012x","created":"2025-06-01T00:00:00.000Z","modified":"2025-06-01T00:00:00.000Z","name":"tlp %s","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2025-06-01T00:00:00Z"%s}`,
		n, n, tlp, n, marks)
	o, err := stix.ParseRaw([]byte(raw))
	if err != nil {
		panic(err)
	}
	return *o
}

func (e *env) put(collection string, objs ...stix.RawObject) {
	e.t.Helper()
	if _, err := e.store.PutObjects(e.t.Context(), collection, objs); err != nil {
		e.t.Fatal(err)
	}
}

// feedPath is the MISP feed base path of a collection.
func feedPath(collection string) string { return "/intel/collections/" + collection + "/misp/" }

// mustFeedStatus fails unless r has status want and a JSON body (MISP's
// error shape for errors).
func mustFeedStatus(t testing.TB, r *resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	if want == http.StatusNotModified {
		return
	}
	ct := r.header.Get("Content-Type")
	if want == 200 && strings.HasPrefix(ct, "text/csv") {
		return
	}
	if !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if want >= 400 {
		m := r.json(t)
		if m["name"] == nil || m["message"] == nil || m["request_id"] != r.header.Get(taxii.HeaderRequestID) {
			t.Fatalf("error body %s: want name, message and the request id", r.body)
		}
	}
}

// feedValues returns the attribute values of every event of a feed as user
// sees it, fetching the manifest and each event it lists.
func feedValues(t *testing.T, e *env, user, collection string) []string {
	t.Helper()
	r := e.get(user, feedPath(collection)+"manifest.json")
	mustFeedStatus(t, r, 200)
	var man misp.Manifest
	if err := json.Unmarshal(r.body, &man); err != nil {
		t.Fatalf("manifest: %v\n%s", err, r.body)
	}
	var values []string
	for id, entry := range man {
		if entry.Orgc == nil || entry.Orgc.UUID != feedOrg.UUID {
			t.Errorf("manifest entry %s: Orgc %+v, want the instance org", id, entry.Orgc)
		}
		r := e.get(user, feedPath(collection)+id+".json")
		mustFeedStatus(t, r, 200)
		var doc struct{ Event misp.Event }
		if err := json.Unmarshal(r.body, &doc); err != nil || doc.Event.UUID != id {
			t.Fatalf("event %s: %v (uuid %q)\n%.300s", id, err, doc.Event.UUID, r.body)
		}
		for _, a := range doc.Event.Attribute {
			values = append(values, a.Value)
		}
		for _, o := range doc.Event.Object {
			for _, a := range o.Attribute {
				values = append(values, a.Value)
			}
		}
	}
	slices.Sort(values)
	return values
}

func hashLines(values ...string) []string {
	var out []string
	for _, v := range values {
		h := md5.Sum([]byte(v))
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

// TestMISPFeedAccess: the feed URLs follow the objects endpoint's access
// rules and answer MISP-readable JSON: 401 with a challenge without
// credentials, 404 for an invisible collection, 403 for a write-only one;
// an API key (Authorization: Token) authenticates like Basic; an unknown event is 404; feeds are
// 404 without an instance organisation.
func TestMISPFeedAccess(t *testing.T) {
	e := feedEnv(t)
	e.put(collPublished, markedIndicator(1, stix.TLPGreen))
	man := feedPath(collPublished) + "manifest.json"

	r := e.get("", man)
	mustFeedStatus(t, r, 401)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	mustFeedStatus(t, e.get("partner", feedPath(collSecret)+"manifest.json"), 404)
	mustFeedStatus(t, e.get("writer", feedPath(collInbox)+"manifest.json"), 403)
	mustFeedStatus(t, e.get("writer", feedPath(collInbox)+"hashes.csv"), 403)
	mustFeedStatus(t, e.get("soc", feedPath(collPublished)+"00000000-0000-4000-8000-000000000000.json"), 404)
	mustFeedStatus(t, e.get("soc", feedPath(collPublished)+"notes.txt"), 404)
	mustFeedStatus(t, e.do(req{path: man, headers: map[string]string{"Authorization": "Basic " +
		base64.StdEncoding.EncodeToString([]byte("partner:wrong"))}}), 401)
	// MISP sends its Accept; the alias resolves like on the objects endpoint
	r = e.do(req{path: feedPath("inbox") + "manifest.json", user: "soc", headers: map[string]string{"Accept": "application/json, text/plain, text/*"}})
	mustFeedStatus(t, r, 200)
	r = e.get("partner", man)
	mustFeedStatus(t, r, 200)
	if tag := r.header.Get("ETag"); !strings.HasPrefix(tag, `"`) || len(tag) < 10 {
		t.Errorf("ETag %q, want a strong entity tag", tag)
	}
	mustFeedStatus(t, e.get("partner", feedPath(collPublished)+"hashes.csv"), 200)
	// the API key as a MISP feed's custom header
	r = e.do(req{path: man, headers: map[string]string{"Authorization": "Token " + partnerFeedKey}})
	mustFeedStatus(t, r, 200)
	mustFeedStatus(t, e.do(req{path: man, headers: map[string]string{"Authorization": "Token wrong-key-0123456789"}}), 401)

	off := newEnv(t, nil)
	mustFeedStatus(t, off.get("soc", man), 404)
}

// TestMISPFeedTLP: from a stored collection each consumer gets the values
// marked at most its max_tlp: partner (green) never sees AMBER, AMBER+STRICT
// or RED, soc (amber) sees AMBER but not AMBER+STRICT or RED; hashes.csv
// follows the same cut.
func TestMISPFeedTLP(t *testing.T) {
	e := feedEnv(t)
	levels := []stix.TLP{stix.TLPNone, stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}
	for i, l := range levels {
		e.put(collPublished, markedIndicator(i+1, l))
	}
	ip := func(ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("198.51.100.%d", n))
		}
		slices.Sort(out)
		return out
	}
	for user, want := range map[string][]string{"partner": ip(1, 2, 3), "soc": ip(1, 2, 3, 4)} {
		got := feedValues(t, e, user, collPublished)
		if !slices.Equal(got, want) {
			t.Errorf("%s: feed values %v, want %v", user, got, want)
		}
		r := e.get(user, feedPath(collPublished)+"hashes.csv")
		mustFeedStatus(t, r, 200)
		for i, l := range levels {
			h := hashLines(fmt.Sprintf("198.51.100.%d", i+1))[0]
			if in := strings.Contains(string(r.body), h); in != slices.Contains(want, fmt.Sprintf("198.51.100.%d", i+1)) {
				t.Errorf("%s: hashes.csv lists the %s value: %v, want %v", user, l, in, !in)
			}
		}
	}
}

// TestMISPFeedCuratedTier: a curated collection is served in the consumer's
// tier, which the curation pass fills without the values partner may not
// receive (internal share, TLP above green): partner's feed has only its
// tier's values, soc's has its own; community's empty tier is an empty feed.
func TestMISPFeedCuratedTier(t *testing.T) {
	e := feedEnv(t)
	var objs []stix.RawObject
	for i := range 4 {
		objs = append(objs, markedIndicator(10+i, stix.TLPNone))
	}
	e.put(collPublished, objs...)
	refs := manifestRefs(t, e, collPublished)
	socTier := curation.TierID(collCurated, curatedSel, curation.Limits{MaxShare: auth.ShareInternal, MaxTLP: stix.TLPAmber})
	partnerTier := curation.TierID(collCurated, curatedSel, curation.Limits{MaxShare: auth.SharePartners, MaxTLP: stix.TLPGreen})
	// as a curation pass would: values 12 and 13 are internal-share, so only soc's tier has them
	for tier, rs := range map[string][]storage.VersionRef{socTier: refs, partnerTier: refs[:2]} {
		if err := e.store.EnsureCollection(t.Context(), tier, storage.KindCurated); err != nil {
			t.Fatal(err)
		}
		if _, err := storage.MembershipStore(e.store).AddMembers(t.Context(), tier, rs); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := feedValues(t, e, "partner", collCurated), []string{"198.51.100.10", "198.51.100.11"}; !slices.Equal(got, want) {
		t.Errorf("partner's curated feed %v, want %v (its tier)", got, want)
	}
	if got := feedValues(t, e, "soc", collCurated); len(got) != 4 {
		t.Errorf("soc's curated feed %v, want the 4 values of its tier", got)
	}
	r := e.get("community", feedPath(collCurated)+"manifest.json")
	mustFeedStatus(t, r, 200)
	if string(r.body) != "{}" {
		t.Errorf("community's empty tier: manifest %s, want {}", r.body)
	}
}

// feedSource is an ingest.Source emitting one batch of observations.
type feedSource []ingest.Observation

func (s feedSource) Pull(_ context.Context, _ ingest.Cursor, emit func(ingest.Batch) error) error {
	return emit(ingest.Batch{Observations: s, Cursor: ingest.Cursor("done")})
}

// TestMISPFeedCuratedPass runs the real chain: feeds with different share
// levels and TLPs ingested into the pool by the ingest Runner, a curation
// pass over the targets of the configured consumers, then each consumer's
// MISP feed of the curated collection. partner (partners, green) gets only
// the value no internal feed reports and no TLP above green marks; soc
// (internal, amber) also the internal ones, not the RED one.
func TestMISPFeedCuratedPass(t *testing.T) {
	e, a := feedEnvAuth(t)
	ctx := t.Context()
	const identity = "identity--8f6f0bd2-4d0c-4f9e-9a43-0c6d0f5e3b11"
	if err := e.store.EnsureCollection(ctx, ingest.DefaultPool, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	runner := &ingest.Runner{Store: e.store, Identity: identity}
	obs := func(ips ...string) feedSource {
		var out feedSource
		for _, ip := range ips {
			out = append(out, ingest.Observation{Type: "ipv4-addr", Value: ip, Detect: true, Verdict: json.RawMessage(`{}`)})
		}
		return out
	}
	for _, f := range []struct {
		name, share, tlp string
		src              feedSource
	}{
		{"open", "community", "green", obs("198.51.100.1", "198.51.100.2")},
		{"licensed", "internal", "green", obs("198.51.100.2", "198.51.100.3")},
		{"closed-group", "partners", "red", obs("198.51.100.4")},
	} {
		cfg := ingest.FeedConfig{Name: f.name, Provider: f.name, Share: f.share, DefaultTLP: f.tlp}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if _, err := runner.Run(ctx, &ingest.Feed{Config: cfg, Source: f.src}); err != nil {
			t.Fatal(err)
		}
	}
	var cons []*auth.Consumer
	for _, name := range a.Consumers() {
		c, _ := a.Consumer(name)
		cons = append(cons, c)
	}
	cur := &curation.Curator{Identity: identity}
	if _, err := cur.Run(ctx, e.store, e.srv.Config().CurationTargets(cons), time.Now()); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string][]string{
		"partner": {"198.51.100.1"},
		"soc":     {"198.51.100.1", "198.51.100.2", "198.51.100.3"},
	} {
		if got := feedValues(t, e, user, collCurated); !slices.Equal(got, want) {
			t.Errorf("%s's MISP feed of the curated collection: %v, want %v", user, got, want)
		}
	}
}

// feedBuilds counts the feed builds in the server's log.
func (e *env) feedBuilds() int { return strings.Count(e.logs.String(), `"msg":"MISP feed built"`) }

// TestMISPFeedCacheAndETag: repeated polls are served from one build; the
// manifest's ETag answers If-None-Match with 304; a write to the collection
// builds again and changes the ETag; consumers with different limits get
// separate builds.
func TestMISPFeedCacheAndETag(t *testing.T) {
	e := feedEnv(t)
	e.put(collPublished, markedIndicator(1, stix.TLPClear), markedIndicator(2, stix.TLPAmber))
	man := feedPath(collPublished) + "manifest.json"
	r := e.get("soc", man)
	mustFeedStatus(t, r, 200)
	tag := r.header.Get("ETag")
	for range 3 {
		r = e.do(req{path: man, user: "soc", headers: map[string]string{"If-None-Match": tag}})
		mustFeedStatus(t, r, 304)
		if r.header.Get("ETag") != tag || len(r.body) != 0 {
			t.Fatalf("304 with ETag %q and body %q", r.header.Get("ETag"), r.body)
		}
	}
	mustFeedStatus(t, e.do(req{path: man, user: "soc", headers: map[string]string{"If-None-Match": `"other", W/` + tag}}), 304)
	mustFeedStatus(t, e.do(req{path: man, user: "soc", headers: map[string]string{"If-None-Match": `"other"`}}), 200)
	mustFeedStatus(t, e.get("soc", feedPath(collPublished)+"hashes.csv"), 200)
	if n := e.feedBuilds(); n != 1 {
		t.Fatalf("%d builds for 7 requests of one consumer on an unchanged collection, want 1", n)
	}
	mustFeedStatus(t, e.get("partner", man), 200)
	if n := e.feedBuilds(); n != 2 {
		t.Fatalf("%d builds after partner's first poll, want 2 (another max_tlp)", n)
	}
	e.put(collPublished, markedIndicator(3, stix.TLPGreen))
	r = e.do(req{path: man, user: "soc", headers: map[string]string{"If-None-Match": tag}})
	mustFeedStatus(t, r, 200)
	if r.header.Get("ETag") == tag {
		t.Error("the ETag did not change after a write")
	}
	if n := e.feedBuilds(); n != 3 {
		t.Fatalf("%d builds after a write, want 3", n)
	}
}

// TestMISPFeedSubscribe is the "MISP can subscribe" proof: ctibroker's own
// MISP feed ingester (misp.Source, mode feed, the key sent as the
// Authorization header like a MISP feed's custom header) pulls partner's
// feed of a collection to the end, into another store: the values partner
// may receive become indicators of the pool, the others do not; a second
// pull gets 304 on the manifest and fetches nothing else.
func TestMISPFeedSubscribe(t *testing.T) {
	e := feedEnv(t)
	e.put(collPublished, markedIndicator(1, stix.TLPClear), markedIndicator(2, stix.TLPGreen),
		markedIndicator(3, stix.TLPRed), markedIndicator(4, stix.TLPAmberStrict))
	var fetched []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched = append(fetched, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		e.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	key := "Basic " + base64.StdEncoding.EncodeToString([]byte("partner:"+passwords["partner"]))
	cfg := ingesttest.MustFeedConfig(t, fmt.Sprintf("name: acme-feed\nprovider: misp\nshare: partners\noptions:\n  mode: feed\n  base_url: %s%s\n  api_key_env: ACME_FEED_KEY\n  backoff: 1ms\n",
		proxy.URL, strings.TrimSuffix(feedPath(collPublished), "/")), map[string]string{"ACME_FEED_KEY": key})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sub := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "subscriber"))
	defer sub.Close()
	pull := func() *ingest.Stats {
		f := ingesttest.MustNewFeed(t, misp.New, cfg)
		st, err := (&ingest.Runner{Store: sub, Identity: ingesttest.Identity}).Run(t.Context(), f)
		if err != nil {
			t.Fatalf("pulling ctibroker's MISP feed: %v", err)
		}
		return st
	}
	st := pull()
	if st.Observations != 2 {
		t.Errorf("observations %d, want 2 (the clear and green values)", st.Observations)
	}
	for n, want := range map[int]bool{1: true, 2: true, 3: false, 4: false} {
		v, err := ingest.Normalize("ipv4-addr", fmt.Sprintf("198.51.100.%d", n))
		if err != nil {
			t.Fatal(err)
		}
		_, err = sub.GetObject(t.Context(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{})
		if got := err == nil; got != want {
			t.Errorf("198.51.100.%d in the subscriber's pool: %v, want %v (%v)", n, got, want, err)
		}
	}
	if len(fetched) < 2 || fetched[0] != "manifest.json" {
		t.Fatalf("first pull fetched %v, want the manifest then the events", fetched)
	}
	before := len(fetched)
	pull()
	if got := fetched[before:]; len(got) != 1 || got[0] != "manifest.json" {
		t.Errorf("second pull fetched %v, want the manifest only (304)", got)
	}
	// a late arrival: modified a month before everything else (a new event of
	// an older day, stamped with its publication time, so fetched)
	e.put(collPublished, olderIndicator(5, stix.TLPClear))
	before = len(fetched)
	pull()
	if got := fetched[before:]; len(got) != 2 || got[0] != "manifest.json" {
		t.Errorf("third pull fetched %v, want the manifest and the changed event", got)
	}
	v, _ := ingest.Normalize("ipv4-addr", "198.51.100.5")
	if _, err := sub.GetObject(t.Context(), ingest.DefaultPool, ingest.IndicatorID(v), storage.Filter{}); err != nil {
		t.Errorf("the late value is not in the subscriber's pool: %v", err)
	}
}

// olderIndicator is markedIndicator modified a month earlier.
func olderIndicator(n int, tlp stix.TLP) stix.RawObject {
	o := markedIndicator(n, tlp)
	js := strings.ReplaceAll(string(o.JSON), "2025-06-01T", "2025-05-01T")
	r, err := stix.ParseRaw([]byte(js))
	if err != nil {
		panic(err)
	}
	return *r
}

// manifestOf returns a manifest as user sees it and its ETag.
func manifestOf(t *testing.T, e *env, user, collection string) (misp.Manifest, string) {
	t.Helper()
	r := e.get(user, feedPath(collection)+"manifest.json")
	mustFeedStatus(t, r, 200)
	var m misp.Manifest
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	return m, r.header.Get("ETag")
}

// TestMISPFeedTimestamps: a new event's manifest timestamp is its publication
// time, not its content's, and moves forward when its content changes even
// though no object in it is newer (a late arrival),
// and stays put when it does not: the feed of a new server over the same
// store is byte-identical (same ETag), so subscribers fetch nothing again
// after a restart.
func TestMISPFeedTimestamps(t *testing.T) {
	start := time.Now()
	e := feedEnv(t)
	e.put(collPublished, markedIndicator(1, stix.TLPNone))
	m1, _ := manifestOf(t, e, "soc", collPublished)
	if len(m1) != 1 {
		t.Fatalf("manifest %v: want one event", m1)
	}
	var id string
	for id = range m1 {
	}
	e.put(collPublished, markedIndicator(2, stix.TLPNone)) // as old as the event's content: no newer modified
	m2, tag2 := manifestOf(t, e, "soc", collPublished)
	ts1, _ := m1[id].Timestamp.Int()
	if ts1 < start.Unix() {
		t.Fatalf("event %s: timestamp %d, want its publication time (%d or later), not its content's", id, ts1, start.Unix())
	}
	ts2, ok := m2[id].Timestamp.Int()
	if !ok || ts2 <= ts1 {
		t.Fatalf("event %s: timestamp %d after a late arrival, want more than %d", id, ts2, ts1)
	}
	if got := feedValues(t, e, "soc", collPublished); len(got) != 2 {
		t.Fatalf("feed values %v, want both", got)
	}
	// a restart: a new server (empty cache) over the same store
	a, err := auth.New(testAuthConfig(), auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := taxii.NewServer(testConfig(), taxii.Deps{Store: e.store, Auth: a, CursorKey: []byte(testCursorKey),
		MISPFeed: taxii.MISPFeed{Org: feedOrg}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, feedPath(collPublished)+"manifest.json", nil)
	r.SetBasicAuth("soc", passwords["soc"])
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	var m3 misp.Manifest
	if err := json.Unmarshal(w.Body.Bytes(), &m3); w.Code != 200 || err != nil {
		t.Fatalf("manifest after a restart: %d %v %s", w.Code, err, w.Body)
	}
	if tag3 := w.Header().Get("ETag"); tag3 != tag2 || m3[id].Timestamp != m2[id].Timestamp {
		t.Fatalf("an unchanged feed changed across a restart: ETag %s → %s, timestamp %s → %s", tag2, tag3, m2[id].Timestamp, m3[id].Timestamp)
	}
}

// BenchmarkMISPFeed measures a feed build of a collection of N indicators
// (CTIBROKER_BENCH_MISPFEED_N, default 10 000; the report quotes 100 000):
// "build" is a cold manifest.json (a new server, so an empty cache: read every
// latest version, misp.Export, marshal), "cached" the same request answered
// from the cache. Reported: objects/s of a build, and the ratio build/cached.
func BenchmarkMISPFeed(b *testing.B) {
	n := 10000
	if v := os.Getenv("CTIBROKER_BENCH_MISPFEED_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	e := feedEnv(b)
	e.seed(collPublished, n)
	a, err := auth.New(testAuthConfig(), auth.Options{Getenv: getenv})
	if err != nil {
		b.Fatal(err)
	}
	newSrv := func() http.Handler {
		srv, err := taxii.NewServer(testConfig(), taxii.Deps{Store: e.store, Auth: a, CursorKey: []byte(testCursorKey),
			MISPFeed: taxii.MISPFeed{Org: feedOrg}})
		if err != nil {
			b.Fatal(err)
		}
		return srv.Handler()
	}
	get := func(h http.Handler) {
		r := httptest.NewRequest(http.MethodGet, feedPath(collPublished)+"manifest.json", nil)
		r.SetBasicAuth("soc", passwords["soc"])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.Len() < 2 {
			b.Fatalf("manifest: %d %.200s", w.Code, w.Body.String())
		}
	}
	var build, cached time.Duration
	b.Run("build", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			get(newSrv())
		}
		build = time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(n)/build.Seconds(), "objects/s")
	})
	b.Run("cached", func(b *testing.B) {
		h := newSrv()
		get(h)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			get(h)
		}
		cached = time.Since(start) / time.Duration(b.N)
		if cached > 0 && build > 0 {
			b.ReportMetric(float64(build)/float64(cached), "build/cached")
		}
	})
}

// TestMISPFeedProvenanceTLP: an SCO carries no marking, so its level comes
// from its reports (MISPFeed.TLP, here RED for one value): Export tags it,
// and no consumer whose max_tlp is below RED (soc and partner) is served it,
// while the value next to it is.
func TestMISPFeedProvenanceTLP(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		d.MISPFeed = taxii.MISPFeed{Org: feedOrg, TLP: func(kind, value string) (stix.TLP, bool) {
			if value == "198.51.100.9" {
				return stix.TLPRed, true
			}
			return stix.TLPNone, false
		}}
	})
	for _, ip := range []string{"198.51.100.8", "198.51.100.9"} {
		o, err := stix.ParseRaw(fmt.Appendf(nil, `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--%s","value":%q}`,
			map[string]string{"198.51.100.8": "0f2c5b8e-7a31-5d4c-9e6a-1b2c3d4e5f60", "198.51.100.9": "1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d"}[ip], ip))
		if err != nil {
			t.Fatal(err)
		}
		e.put(collPublished, *o)
	}
	for _, user := range []string{"soc", "partner"} {
		if got, want := feedValues(t, e, user, collPublished), []string{"198.51.100.8"}; !slices.Equal(got, want) {
			t.Errorf("%s: feed values %v, want %v (the RED value capped)", user, got, want)
		}
	}
}

// TestMISPFeedMaxObjects: a collection larger than MISPFeed.MaxObjects is not
// built into a MISP feed: 422 with a message naming the limit; within the
// limit it is served.
func TestMISPFeedMaxObjects(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		d.MISPFeed = taxii.MISPFeed{Org: feedOrg, MaxObjects: 2}
	})
	e.put(collPublished, markedIndicator(1, stix.TLPNone), markedIndicator(2, stix.TLPNone))
	mustFeedStatus(t, e.get("soc", feedPath(collPublished)+"manifest.json"), 200)
	e.put(collPublished, markedIndicator(3, stix.TLPNone))
	r := e.get("soc", feedPath(collPublished)+"manifest.json")
	mustFeedStatus(t, r, 422)
	if !strings.Contains(string(r.body), "misp_feed.max_objects") || !strings.Contains(string(r.body), "3 object versions") {
		t.Errorf("over the limit: %s; want a message naming the count and misp_feed.max_objects", r.body)
	}
}
