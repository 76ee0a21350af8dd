package enrich_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/enrich"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// standIn is one provider's API on loopback: it answers the lookups it has a
// real payload for, 404 for others, checks the credential header, and hands out
// scripted failures ("429:N" with Retry-After N, "429", "500") to the next
// requests.
type standIn struct {
	header, key string            // the credential header and its value
	bodies      map[string][]byte // URL path → body
	notFound    string            // the provider's 404 body
	mu          sync.Mutex
	script      []string
	requests    []string // paths asked, in order
	srv         *httptest.Server
}

func newStandIn(t *testing.T, header, key, notFound string) *standIn {
	s := &standIn{header: header, key: key, bodies: map[string][]byte{}, notFound: notFound}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) fail(steps ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, steps...)
}

func (s *standIn) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.Path)
	step := ""
	if len(s.script) > 0 {
		step, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get(s.header) != s.key {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"wrong credentials"}`))
		return
	}
	switch {
	case strings.HasPrefix(step, "429"):
		if n, ok := strings.CutPrefix(step, "429:"); ok {
			w.Header().Set("Retry-After", n)
		}
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"code":"QuotaExceededError","message":"quota exceeded"}}`))
		return
	case step == "500":
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"code":"InternalError","message":"oops"}}`))
		return
	}
	b, ok := s.bodies[r.URL.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(s.notFound))
		return
	}
	_, _ = w.Write(b)
}

// providers are the three stand-ins serving the real payloads of
// ../shared/testdata/providers.
type providers struct {
	mv, vt, rf *standIn
}

const (
	mvIP     = "110.189.222.98"
	mvHost   = "59022.flatblastard.com"
	mvURL    = "https://alleom.com/weqmo"
	mvSHA256 = "b4e29d41ca04fccfa5d92be5bae506c556c6c880a4f5e9932f1e4a0766a2fd15"
	mvMD5    = "e09f2eaebc86f54b48e4fb5101454535"
	vtFile   = "4bc00f7d638e042da764e8648c03c0db46700599dd4f08d117e3e9e8b538519b"
	vtIP     = "138.128.150.133"
	vtURL    = "http://soclosebutyetqq.com/69.exe"
	rfDomain = "cisco.com"
)

func newProviders(t *testing.T) *providers {
	shared := filepath.Dir(ingesttest.MustShared(t, "testdata/providers/SOURCES.md"))
	read := func(rel string) []byte { return ingesttest.MustRead(t, filepath.Join(shared, rel)) }
	p := &providers{
		mv: newStandIn(t, "Authorization", "Bearer mv-key", `{"status":"fail","message":"Not found"}`),
		vt: newStandIn(t, "x-apikey", "vt-key", `{"error":{"code":"NotFoundError","message":"not found"}}`),
		rf: newStandIn(t, recordedfuture.TokenHeader, "rf-token", `{"error":{"status":404,"message":"Not found"}}`),
	}
	p.mv.bodies["/ip/"+mvIP] = read("maltiverse/ip_110.189.222.98.json")
	p.mv.bodies["/hostname/"+mvHost] = read("maltiverse/hostname_59022.flatblastard.com.json")
	p.mv.bodies["/url/"+maltiverse.URLChecksum(mvURL)] = read("maltiverse/url_alleom.com_weqmo.json")
	p.mv.bodies["/sample/"+mvSHA256] = read("maltiverse/sample_b4e29d41.json")
	p.mv.bodies["/sample/md5/"+mvMD5] = read("maltiverse/sample_b4e29d41.json")
	p.vt.bodies["/api/v3/files/"+vtFile] = read("virustotal/file_report.json")
	p.vt.bodies["/api/v3/ip_addresses/"+vtIP] = read("virustotal/ip_address_report.json")
	p.vt.bodies["/api/v3/urls/"+virustotal.URLID(vtURL)] = read("virustotal/url_report.json")
	p.rf.bodies["/v2/domain/"+rfDomain] = read("recordedfuture/connect_api_domain_cisco.com.json")
	return p
}

var env = map[string]string{"MV_KEY": "mv-key", "VT_KEY": "vt-key", "RF_TOKEN": "rf-token"}

// feedDocs are the feeds' YAML. Budgets are unlimited unless mvEnrich (the
// Maltiverse feed's enrich block) or vtOptions (appended to the VirusTotal
// feed's options) say otherwise.
func (p *providers) feedDocs(mvEnrich, vtOptions string) []string {
	if mvEnrich == "" {
		mvEnrich = "{per_minute: -1, per_day: -1}"
	}
	if vtOptions == "" {
		vtOptions = ", requests_per_minute: -1, requests_per_day: -1"
	}
	return []string{
		`{name: mv-feed, provider: maltiverse, enrich: ` + mvEnrich + `, options: {collection: c1, api_key_env: MV_KEY, max_retries: -1, base_url: "` + p.mv.srv.URL + `"}}`,
		`{name: vt-feed, provider: virustotal, options: {api_key_env: VT_KEY, max_retries: -1, base_url: "` + p.vt.srv.URL + `/api/v3"` + vtOptions + `}}`,
		`{name: rf-feed, provider: recordedfuture, enrich: {per_minute: -1, per_day: -1}, options: {entity: ip, token_env: RF_TOKEN, max_retries: -1, base_url: "` + p.rf.srv.URL + `"}}`,
	}
}

// mustFeeds builds the feeds as cmd does, through one registry.
func mustFeeds(t *testing.T, docs ...string) []*ingest.Feed {
	t.Helper()
	reg := ingest.NewRegistry()
	reg.Identity = ingesttest.Identity
	for name, f := range map[string]ingest.Factory{"maltiverse": maltiverse.New, "virustotal": virustotal.New, "recordedfuture": recordedfuture.New} {
		if err := reg.Register(name, f); err != nil {
			t.Fatal(err)
		}
	}
	var out []*ingest.Feed
	for _, d := range docs {
		f, err := reg.New(ingesttest.MustFeedConfig(t, d, env))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// clock is the Enricher's clock: real time plus an offset tests move.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
func mustStore(t *testing.T) *bolt.Store { return ingesttest.MustStore(t) }
func runner(s ingest.Store) *ingest.Runner {
	return &ingest.Runner{Store: s, Identity: ingesttest.Identity}
}

func mustEnricher(t *testing.T, s ingest.Store, c *clock, feeds []*ingest.Feed) *enrich.Enricher {
	t.Helper()
	cfg := enrich.Config{}
	if c != nil {
		cfg.Now = c.now
	}
	e, err := enrich.New(runner(s), feeds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustEnrich(t *testing.T, e *enrich.Enricher, kind, value string) *enrich.Result {
	t.Helper()
	res, err := e.Enrich(context.Background(), kind, value)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// outcomes maps feed → outcome.
func outcomes(res *enrich.Result) map[string]enrich.Outcome {
	out := map[string]enrich.Outcome{}
	for _, p := range res.Providers {
		out[p.Feed] = p.Outcome
	}
	return out
}

func of(t *testing.T, res *enrich.Result, feed string) *enrich.ProviderResult {
	t.Helper()
	for i := range res.Providers {
		if res.Providers[i].Feed == feed {
			return &res.Providers[i]
		}
	}
	t.Fatalf("no result for feed %s in %+v", feed, res.Providers)
	return nil
}

// mustInPool checks that the value's SCO is in the pool and that its
// provenance names feed with the feed's share level.
func mustInPool(t *testing.T, s *bolt.Store, kind, value, feed string) {
	t.Helper()
	v, err := ingest.Normalize(kind, value)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.GetObject(ctx, ingest.DefaultPool, ingest.ObservableID(v), storage.Filter{}); err != nil {
		t.Errorf("%s %s: observable not in the pool: %v", kind, value, err)
	}
	recs, err := s.Provenance(ctx, v.Kind(), v.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Feed != feed {
			continue
		}
		var verdict struct {
			Share string `json:"share"`
		}
		if err := json.Unmarshal(r.Verdict, &verdict); err != nil || verdict.Share != ingest.ShareInternal {
			t.Errorf("%s %s: provenance of %s: share %q (%v), want internal", kind, value, feed, verdict.Share, err)
		}
		return
	}
	t.Errorf("%s %s: no provenance record of feed %s in %+v", kind, value, feed, recs)
}

func mustNotInPool(t *testing.T, s *bolt.Store, kind, value string) {
	t.Helper()
	v, err := ingest.Normalize(kind, value)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.GetObject(ctx, ingest.DefaultPool, ingest.ObservableID(v), storage.Filter{}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s %s: in the pool (%v), want not", kind, value, err)
	}
	if recs, _ := s.Provenance(ctx, v.Kind(), v.Value); len(recs) > 0 {
		t.Errorf("%s %s: provenance %+v, want none", kind, value, recs)
	}
}

// TestEnrichLookupPaths looks up every value a payload exists for, through
// every provider's lookup path: the provider holding the payload answers and
// its answer is in the pool with that feed's provenance; the other providers
// able to look the value up answer 404 (not found, nothing stored).
func TestEnrichLookupPaths(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	e := mustEnricher(t, s, nil, mustFeeds(t, p.feedDocs("", "")...))
	if got := strings.Join(e.Feeds(), ","); got != "mv-feed,vt-feed,rf-feed" {
		t.Fatalf("feeds %s", got)
	}
	for _, tt := range []struct {
		kind, value, feed string
		want              map[string]enrich.Outcome
		path              string // the path the answering provider was asked
	}{
		{"ipv4-addr", mvIP, "mv-feed", map[string]enrich.Outcome{"mv-feed": enrich.LookedUp, "vt-feed": enrich.NotFound, "rf-feed": enrich.NotFound}, "/ip/" + mvIP},
		{"domain-name", mvHost, "mv-feed", map[string]enrich.Outcome{"mv-feed": enrich.LookedUp, "vt-feed": enrich.NotFound, "rf-feed": enrich.NotFound}, "/hostname/" + mvHost},
		{"url", mvURL, "mv-feed", map[string]enrich.Outcome{"mv-feed": enrich.LookedUp, "vt-feed": enrich.NotFound, "rf-feed": enrich.NotFound}, "/url/" + maltiverse.URLChecksum(mvURL)},
		{"sha256", strings.ToUpper(mvSHA256), "mv-feed", map[string]enrich.Outcome{"mv-feed": enrich.LookedUp, "vt-feed": enrich.NotFound, "rf-feed": enrich.NotFound}, "/sample/" + mvSHA256},
		{"", mvMD5, "mv-feed", map[string]enrich.Outcome{"mv-feed": enrich.LookedUp, "vt-feed": enrich.NotFound, "rf-feed": enrich.NotFound}, "/sample/md5/" + mvMD5},
		{"file", vtFile, "vt-feed", map[string]enrich.Outcome{"mv-feed": enrich.NotFound, "vt-feed": enrich.LookedUp, "rf-feed": enrich.NotFound}, "/api/v3/files/" + vtFile},
		{"ip", vtIP, "vt-feed", map[string]enrich.Outcome{"mv-feed": enrich.NotFound, "vt-feed": enrich.LookedUp, "rf-feed": enrich.NotFound}, "/api/v3/ip_addresses/" + vtIP},
		{"url", vtURL, "vt-feed", map[string]enrich.Outcome{"mv-feed": enrich.NotFound, "vt-feed": enrich.LookedUp, "rf-feed": enrich.NotFound}, "/api/v3/urls/" + virustotal.URLID(vtURL)},
		{"domain", rfDomain, "rf-feed", map[string]enrich.Outcome{"mv-feed": enrich.NotFound, "vt-feed": enrich.NotFound, "rf-feed": enrich.LookedUp}, "/v2/domain/" + rfDomain},
	} {
		t.Run(tt.feed+" "+tt.value, func(t *testing.T) {
			res := mustEnrich(t, e, tt.kind, tt.value)
			if got := outcomes(res); len(got) != len(tt.want) || !equal(got, tt.want) {
				t.Fatalf("outcomes %v, want %v (%+v)", got, tt.want, res.Providers)
			}
			pr := of(t, res, tt.feed)
			// The MD5 lookup answers the sample document the SHA-256 one stored:
			// nothing is written again.
			again := tt.value == mvMD5
			if pr.Stats == nil || pr.Stats.Observations == 0 || (len(pr.Objects) == 0) != again {
				t.Fatalf("answer of %s: stats %v, objects %v", tt.feed, pr.Stats, pr.Objects)
			}
			mustInPool(t, s, res.Kind, res.Value, tt.feed)
			var stand *standIn
			switch tt.feed {
			case "mv-feed":
				stand = p.mv
			case "vt-feed":
				stand = p.vt
			default:
				stand = p.rf
			}
			asked := stand.asked()
			if asked[len(asked)-1] != tt.path {
				t.Errorf("%s asked %s, want %s", tt.feed, asked[len(asked)-1], tt.path)
			}
			// The objects written are in the pool.
			for _, id := range pr.Objects {
				if _, err := s.GetObject(context.Background(), ingest.DefaultPool, id, storage.Filter{}); err != nil {
					t.Errorf("written object %s: %v", id, err)
				}
			}
		})
	}
}

func equal(a, b map[string]enrich.Outcome) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestEnrichCacheAndNotFound: an answer (found or not found) is reused within
// the TTL, across a restart (a new Enricher on the same store), and asked again
// after it; a not-found stores nothing.
func TestEnrichCacheAndNotFound(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	c := &clock{}
	docs := p.feedDocs("", "")
	e := mustEnricher(t, s, c, mustFeeds(t, docs...))
	first := mustEnrich(t, e, "ipv4-addr", mvIP)
	if got := of(t, first, "mv-feed").Outcome; got != enrich.LookedUp {
		t.Fatalf("first: %s", got)
	}
	unknown := mustEnrich(t, e, "domain-name", "unknown.example")
	for _, pr := range unknown.Providers {
		if pr.Outcome != enrich.NotFound {
			t.Errorf("unknown value at %s: %s", pr.Feed, pr.String())
		}
	}
	mustNotInPool(t, s, "domain-name", "unknown.example")
	n := len(p.mv.asked()) + len(p.vt.asked()) + len(p.rf.asked())

	// A restart: new feeds and Enricher on the same store, an hour later.
	c.advance(time.Hour)
	e = mustEnricher(t, s, c, mustFeeds(t, docs...))
	for _, v := range []string{mvIP, "unknown.example"} {
		res := mustEnrich(t, e, "", v)
		for _, pr := range res.Providers {
			if pr.Outcome != enrich.Cached {
				t.Errorf("%s at %s after a restart: %s, want cached", v, pr.Feed, pr.String())
			}
			wantNF := v == "unknown.example" || pr.Feed != "mv-feed"
			if pr.NotFound != wantNF {
				t.Errorf("%s at %s: cached NotFound %v, want %v", v, pr.Feed, pr.NotFound, wantNF)
			}
		}
	}
	if m := len(p.mv.asked()) + len(p.vt.asked()) + len(p.rf.asked()); m != n {
		t.Errorf("cached answers asked %d more requests", m-n)
	}
	// After the TTL the value is asked again.
	c.advance(enrich.DefaultTTL)
	res := mustEnrich(t, e, "", mvIP)
	if got := outcomes(res); got["mv-feed"] != enrich.LookedUp || got["vt-feed"] != enrich.NotFound {
		t.Errorf("after the TTL: %v", got)
	}
	if got := of(t, res, "mv-feed").String(); !strings.HasPrefix(got, "maltiverse (mv-feed): looked up at ") {
		t.Errorf("String() = %q", got)
	}
}

// TestEnrichLocalBudget: the enrich budget of a feed refuses lookups without
// sending them, per minute and per day, naming when the next is allowed; the
// day's usage survives a restart; other providers go on.
func TestEnrichLocalBudget(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	docs := p.feedDocs("{per_minute: 2, per_day: 3}", "")
	e := mustEnricher(t, s, nil, mustFeeds(t, docs...))
	for _, v := range []string{mvIP, mvHost} {
		if got := of(t, mustEnrich(t, e, "", v), "mv-feed").Outcome; got != enrich.LookedUp {
			t.Fatalf("%s: %s", v, got)
		}
	}
	before := len(p.mv.asked())
	start := time.Now()
	res := mustEnrich(t, e, "url", mvURL)
	pr := of(t, res, "mv-feed")
	if pr.Outcome != enrich.Quota || pr.Next.Before(start) || pr.Next.After(time.Now().Add(time.Minute)) {
		t.Fatalf("third lookup in a minute: %s (next %s)", pr.String(), pr.Next)
	}
	if !strings.Contains(pr.String(), "quota exhausted, next at ") || !errors.Is(pr.Err, ingest.ErrBudget) {
		t.Errorf("String() = %q, err %v", pr.String(), pr.Err)
	}
	if got := of(t, res, "vt-feed").Outcome; got != enrich.NotFound {
		t.Errorf("VirusTotal, whose budget is its own: %s", got)
	}
	if len(p.mv.asked()) != before {
		t.Errorf("a refused lookup was sent")
	}
	mustNotInPool(t, s, "url", mvURL)

	// The day: 3 lookups. A restart keeps the day's 2; the minute is new.
	feeds := mustFeeds(t, docs...)
	feeds[0].Source.(*maltiverse.Source).Lookups.PerMinute = 0 // the minute is not what this part tests
	e = mustEnricher(t, s, nil, feeds)
	if got := of(t, mustEnrich(t, e, "url", mvURL), "mv-feed").Outcome; got != enrich.LookedUp {
		t.Fatalf("third of the day: %s", got)
	}
	pr = of(t, mustEnrich(t, e, "sha256", mvSHA256), "mv-feed")
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if pr.Outcome != enrich.Quota || !pr.Next.Equal(midnight) {
		t.Fatalf("fourth of the day: %s, want quota until %s", pr.String(), midnight)
	}
}

// TestEnrichSharedVirusTotalBudget: VirusTotal lookups spend the feed's own
// requests_per_day, counting the requests its pulls recorded in the feed
// cursor; and an enrich budget on a VirusTotal feed is a config error.
func TestEnrichSharedVirusTotalBudget(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	ctx := context.Background()
	day := time.Now().UTC().Format(time.DateOnly)
	cur, _ := json.Marshal(map[string]any{"day": day, "used": 1})
	if err := s.PutFeedState(ctx, &storage.FeedState{Feed: "vt-feed", Cursor: cur}); err != nil {
		t.Fatal(err)
	}
	e := mustEnricher(t, s, nil, mustFeeds(t, p.feedDocs("", ", requests_per_minute: -1, requests_per_day: 2")...))
	if got := of(t, mustEnrich(t, e, "", vtFile), "vt-feed").Outcome; got != enrich.LookedUp {
		t.Fatalf("second request of the day: %s", got)
	}
	before := len(p.vt.asked())
	pr := of(t, mustEnrich(t, e, "", vtIP), "vt-feed")
	if pr.Outcome != enrich.Quota || !errors.Is(pr.Err, virustotal.ErrQuotaExhausted) || len(p.vt.asked()) != before {
		t.Fatalf("third request of a 2-a-day budget: %s, %d requests sent", pr.String(), len(p.vt.asked())-before)
	}

	reg := ingest.NewRegistry()
	_ = reg.Register("virustotal", virustotal.New)
	doc := `{name: vt, provider: virustotal, enrich: {per_day: 5}, options: {api_key_env: VT_KEY}}`
	if _, err := reg.New(ingesttest.MustFeedConfig(t, doc, env)); !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "requests_per_day") {
		t.Errorf("enrich budget on a VirusTotal feed: %v", err)
	}
}

// TestEnrichProvider429: a provider's 429 is a quota outcome at once (no
// waiting for its Retry-After), named with the time it gives, not cached: the
// next Enrich asks again.
func TestEnrichProvider429(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	e := mustEnricher(t, s, nil, mustFeeds(t, p.feedDocs("", "")...))
	for _, tt := range []struct {
		stand       *standIn
		feed, value string
	}{{p.mv, "mv-feed", mvHost}, {p.vt, "vt-feed", vtFile}, {p.rf, "rf-feed", rfDomain}} {
		t.Run(tt.feed, func(t *testing.T) {
			tt.stand.fail("429:600")
			start := time.Now()
			res := mustEnrich(t, e, "", tt.value)
			if time.Since(start) > 30*time.Second {
				t.Errorf("the lookup waited %s", time.Since(start))
			}
			pr := of(t, res, tt.feed)
			if pr.Outcome != enrich.Quota || pr.Next.Before(start.Add(599*time.Second)) || pr.Next.After(time.Now().Add(601*time.Second)) {
				t.Fatalf("429 with Retry-After 600: %s (next %s)", pr.String(), pr.Next)
			}
			if !errors.Is(pr.Err, ingest.ErrRateLimited) {
				t.Errorf("err %v, want ErrRateLimited", pr.Err)
			}
			v, _ := ingest.Guess(tt.value)
			mustNotInPool(t, s, v.Type, tt.value)
			if got := of(t, mustEnrich(t, e, "", tt.value), tt.feed).Outcome; got != enrich.LookedUp {
				t.Errorf("after the 429: %s", got)
			}
			mustInPool(t, s, v.Kind(), v.Value, tt.feed)
		})
	}
}

// TestEnrichErrors: a failing provider is an error outcome, not cached; a
// value that does not normalise is Enrich's error.
func TestEnrichErrors(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	e := mustEnricher(t, s, nil, mustFeeds(t, p.feedDocs("", "")...))
	p.mv.fail("500")
	res := mustEnrich(t, e, "", mvIP)
	if pr := of(t, res, "mv-feed"); pr.Outcome != enrich.Failed || pr.Err == nil || !strings.Contains(pr.String(), "error: ") {
		t.Fatalf("500: %s", pr.String())
	}
	if got := of(t, mustEnrich(t, e, "", mvIP), "mv-feed").Outcome; got != enrich.LookedUp {
		t.Errorf("after the 500: %s", got)
	}
	if _, err := e.Enrich(context.Background(), "ipv4-addr", "not an address"); !errors.Is(err, ingest.ErrInvalidValue) {
		t.Errorf("bad value: %v", err)
	}
	// Only Maltiverse looks e-mail addresses up.
	if res := mustEnrich(t, e, "email-addr", "a@b.example"); len(res.Providers) != 1 || res.Providers[0].Feed != "mv-feed" {
		t.Errorf("e-mail: %+v", res.Providers)
	}
	// A feed whose enabled_types would drop the answer is not asked.
	docs := p.feedDocs("", "")
	docs[0] = strings.Replace(docs[0], "provider: maltiverse,", "provider: maltiverse, enabled_types: [file],", 1)
	e = mustEnricher(t, s, nil, mustFeeds(t, docs...))
	before := len(p.mv.asked())
	if res := mustEnrich(t, e, "", mvHost); len(res.Providers) != 2 || outcomes(res)["mv-feed"] != "" || len(p.mv.asked()) != before {
		t.Errorf("maltiverse feed of files only, a host name: %+v", res.Providers)
	}
}

// TestNewChoosesFeeds: per provider the first feed with an enrich block, else
// the first; disabled feeds and enrich enabled: false are left out.
func TestNewChoosesFeeds(t *testing.T) {
	p := newProviders(t)
	mv := func(name, extra string) string {
		return `{name: ` + name + `, provider: maltiverse` + extra + `, options: {collection: c1, base_url: "` + p.mv.srv.URL + `"}}`
	}
	rf := func(name, extra string) string {
		return `{name: ` + name + `, provider: recordedfuture` + extra + `, options: {entity: ip, token_env: RF_TOKEN}}`
	}
	for name, tt := range map[string]struct {
		docs []string
		want string
	}{
		"first":            {[]string{mv("a", ""), mv("b", ""), rf("r", "")}, "a,r"},
		"enrich block":     {[]string{mv("a", ""), mv("b", ", enrich: {per_day: 10}"), rf("r", "")}, "b,r"},
		"enrich disabled":  {[]string{mv("a", ", enrich: {enabled: false}"), mv("b", ""), rf("r", ", enrich: {enabled: false}")}, "b"},
		"feed disabled":    {[]string{mv("a", ", enabled: false"), mv("b", "")}, "b"},
		"no lookup feeds":  {nil, ""},
		"only one enabled": {[]string{rf("r", "")}, "r"},
	} {
		t.Run(name, func(t *testing.T) {
			e := mustEnricher(t, mustStore(t), nil, mustFeeds(t, tt.docs...))
			if got := strings.Join(e.Feeds(), ","); got != tt.want {
				t.Errorf("feeds %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := enrich.New(&ingest.Runner{}, nil, enrich.Config{}); err == nil {
		t.Error("a Runner without a Store was accepted")
	}
}

// TestSubmitRun: a submitted value is looked up in the background and enters
// the pool; a full queue refuses without blocking.
func TestSubmitRun(t *testing.T) {
	p := newProviders(t)
	s := mustStore(t)
	results := make(chan *enrich.Result, 4)
	e, err := enrich.New(runner(s), mustFeeds(t, p.feedDocs("", "")...), enrich.Config{QueueSize: 1,
		OnResult: func(res *enrich.Result, err error) {
			if err != nil {
				t.Error(err)
			}
			results <- res
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Submit("ipv4-addr", mvIP) {
		t.Fatal("Submit refused the first value")
	}
	if e.Submit("domain-name", mvHost) {
		t.Error("a full queue took a value")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	res := <-results
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := of(t, res, "mv-feed").Outcome; got != enrich.LookedUp {
		t.Fatalf("background lookup: %s", got)
	}
	mustInPool(t, s, "ipv4-addr", mvIP, "mv-feed")
}
