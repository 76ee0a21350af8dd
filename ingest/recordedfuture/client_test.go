package recordedfuture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/stix"
)

const testToken = "rf-test-token"

// replay is a Recorded Future stand-in on loopback: it serves risk lists and
// Connect API answers from memory, with ETag validators, and can be told what
// the next requests get.
type replay struct {
	mu                sync.Mutex
	lists             map[string][]byte // "/v2/ip/risklist?list=default" or "/v2/fusion/files?path=…" → body
	lookups           map[string][]byte // path → body
	ingesttest.Script                   // the next requests: "429", "429:N", "503", "cut", "401"
	srv               *httptest.Server
	plain             bool // serve lists without validators (no ETag, no 304)
}

func newReplay(t testing.TB) *replay {
	r := &replay{lists: map[string][]byte{}, lookups: map[string][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *replay) setList(key string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists[key] = body
}

func etag(b []byte) string { return `"` + strconv.Itoa(len(b)) + "-" + strconv.Itoa(int(crc(b))) + `"` }

func crc(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	step := r.Next(req)
	r.mu.Lock()
	var body []byte
	var ok, list bool
	plain := r.plain
	switch {
	case strings.HasSuffix(req.URL.Path, "/risklist"):
		if req.URL.Query().Get("format") != "csv/splunk" {
			r.mu.Unlock()
			http.Error(w, "format", http.StatusBadRequest)
			return
		}
		body, ok = r.lists[req.URL.Path+"?list="+req.URL.Query().Get("list")]
		list = true
	case req.URL.Path == "/v2/fusion/files":
		body, ok = r.lists[req.URL.Path+"?path="+req.URL.Query().Get("path")]
		list = true
	default:
		body, ok = r.lookups[req.URL.Path] // decoded: a URL entity is one segment
	}
	r.mu.Unlock()
	if req.Header.Get(recordedfuture.TokenHeader) != testToken || step == "401" {
		http.Error(w, `{"error":{"status":401,"message":"Invalid token"}}`, http.StatusUnauthorized)
		return
	}
	switch {
	case strings.HasPrefix(step, "429"):
		if s, ok := strings.CutPrefix(step, "429:"); ok {
			w.Header().Set("Retry-After", s)
		}
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		return
	case step == "503":
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, `{"error":{"status":404,"message":"Not found"}}`, http.StatusNotFound)
		return
	}
	if list && !plain {
		tag := etag(body)
		if req.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", tag)
		w.Header().Set("Content-Type", "text/csv")
	} else if !list {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if step == "cut" {
		// Promise the whole body, send half, hang up.
		_ = ingesttest.CutResponse(w, body, len(body)/2)
		return
	}
	w.Write(body)
}

// testClient returns a client of the replay whose waits are recorded, not slept.
func testClient(r *replay, token string) (*recordedfuture.Client, *[]time.Duration) {
	var mu sync.Mutex
	waits := &[]time.Duration{}
	hc := &ingest.HTTPClient{MaxRetries: 3, Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}}
	return &recordedfuture.Client{BaseURL: r.srv.URL, Token: token, HTTP: hc}, waits
}

func readAll(dst *[]byte, calls *int) func(io.Reader) error {
	return func(r io.Reader) error {
		*calls++
		b, err := io.ReadAll(r)
		*dst = b
		return err
	}
}

func TestClientRiskList(t *testing.T) {
	r := newReplay(t)
	body := ingesttest.MustRead(t, "testdata/ip_default/input.csv")
	r.setList("/v2/ip/risklist?list=default", body)
	c, waits := testClient(r, testToken)
	ctx := context.Background()

	var got []byte
	calls := 0
	v, notMod, err := c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls))
	if err != nil || notMod || !bytes.Equal(got, body) || v.ETag != etag(body) {
		t.Fatalf("RiskList: err %v, notModified %v, %d bytes of %d, validators %+v", err, notMod, len(got), len(body), v)
	}
	req := r.Requests()[0]
	if req.Header.Get(recordedfuture.TokenHeader) != testToken || req.URL.Query().Get("list") != "default" || req.URL.Path != "/v2/ip/risklist" {
		t.Errorf("request %s %v", req.URL, req.Header)
	}

	// Conditional: the same validators answer 304 and fn is not called.
	calls = 0
	_, notMod, err = c.RiskList(ctx, "ip", "default", v, readAll(&got, &calls))
	if err != nil || !notMod || calls != 0 {
		t.Errorf("conditional: err %v, notModified %v, fn calls %d", err, notMod, calls)
	}

	// 429 with Retry-After, 429 without, 503: retried, the Retry-After honoured.
	r.Fail("429:7", "429", "503")
	calls, got = 0, nil
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls)); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after 429/503: %v", err)
	}
	if len(*waits) != 3 || (*waits)[0] != 7*time.Second {
		t.Errorf("waits %v, want 3 with the first the Retry-After 7s", *waits)
	}

	// A body cut off mid-way is fetched again and fn starts over.
	r.Fail("cut", "cut")
	calls, got = 0, nil
	n := len(r.Requests())
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls)); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after cut-offs: %v, %d bytes", err, len(got))
	}
	if calls != 3 || len(r.Requests())-n != 3 {
		t.Errorf("fn called %d times over %d requests, want 3 and 3", calls, len(r.Requests())-n)
	}

	// Cut off more often than BodyRetries allows: an error naming the body.
	c.BodyRetries = 1
	r.Fail("cut", "cut")
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls)); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("persistent cut-off: %v", err)
	}

	// An error of fn itself is returned as is, not retried.
	mine := errors.New("disk full")
	n = len(r.Requests())
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, func(io.Reader) error { return mine }); !errors.Is(err, mine) || len(r.Requests())-n != 1 {
		t.Errorf("fn error: %v after %d requests", err, len(r.Requests())-n)
	}

	// Rate limited for good: ingest.ErrRateLimited.
	r.Fail("429", "429", "429", "429")
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls)); !errors.Is(err, ingest.ErrRateLimited) {
		t.Errorf("429 ×4: %v", err)
	}
	// Retry-After beyond what the client waits.
	r.Fail("429:86400")
	if _, _, err = c.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls)); !errors.Is(err, ingest.ErrRateLimited) {
		t.Errorf("429 a day: %v", err)
	}

	// A wrong token: ErrUnauthorized at once, the token nowhere in the error.
	bad, _ := testClient(r, "wrong-token")
	n = len(r.Requests())
	_, _, err = bad.RiskList(ctx, "ip", "default", recordedfuture.Validators{}, readAll(&got, &calls))
	if !errors.Is(err, recordedfuture.ErrUnauthorized) || len(r.Requests())-n != 1 || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("bad token: %v after %d requests", err, len(r.Requests())-n)
	}
	if _, _, err = c.RiskList(ctx, "malware", "default", recordedfuture.Validators{}, readAll(&got, &calls)); err == nil {
		t.Error("unknown entity accepted")
	}
}

func TestClientFusionFile(t *testing.T) {
	r := newReplay(t)
	body := ingesttest.MustRead(t, "testdata/vulnerability_fusion/input.csv")
	r.setList("/v2/fusion/files?path=/public/opencti/opencti_default_vulnerability_v2.csv", body)
	c, _ := testClient(r, testToken)
	var got []byte
	calls := 0
	if _, _, err := c.FusionFile(context.Background(), "/public/opencti/opencti_default_vulnerability_v2.csv", recordedfuture.Validators{}, readAll(&got, &calls)); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("FusionFile: %v", err)
	}
	if _, _, err := c.FusionFile(context.Background(), "public/x.csv", recordedfuture.Validators{}, readAll(&got, &calls)); err == nil {
		t.Error("relative fusion path accepted")
	}
}

// TestClientLookup replays the real Connect API answer (MIT, CiscoSecurity) for
// GET /v2/domain/cisco.com and the synthetic ones for the other entities.
func TestClientLookup(t *testing.T) {
	r := newReplay(t)
	real := ingesttest.MustRead(t, ingesttest.MustShared(t, "testdata/providers/recordedfuture/connect_api_domain_cisco.com.json"))
	r.lookups["/v2/domain/cisco.com"] = real
	var ents []json.RawMessage
	if err := json.Unmarshal(ingesttest.MustRead(t, "testdata/connect_entities/input.json"), &ents); err != nil {
		t.Fatal(err)
	}
	r.lookups["/v2/ip/198.51.100.23"] = ents[0]
	r.lookups["/v2/url/https://x.example/a b?c=1"] = ents[3]
	c, waits := testClient(r, testToken)
	ctx := context.Background()

	got, err := c.Lookup(ctx, "domain", "cisco.com", nil)
	if err != nil || !bytes.Equal(got, real) {
		t.Fatalf("Lookup cisco.com: %v", err)
	}
	q := r.Requests()[0].URL.Query().Get("fields")
	if !strings.Contains(q, "risk") || !strings.Contains(q, "relatedEntities") {
		t.Errorf("fields %q", q)
	}
	objs, obs, warns := convertBytes(t, got)
	if len(obs) != 1 || obs[0].Value != "cisco.com" || obs[0].Detect || len(warns) != 0 {
		t.Errorf("converted lookup: %+v %v", obs, warns)
	}
	ingesttest.MustValidateBundle(t, ingesttest.MustIngestBundle(t, ingest.FeedConfig{Name: "rf", Provider: "recordedfuture"}, objs, obs))

	r.Fail("503", "cut")
	if got, err = c.Lookup(ctx, "ip", "198.51.100.23", []string{"risk", "relatedEntities"}); err != nil || !bytes.Equal(got, ents[0]) {
		t.Errorf("Lookup after 503 and cut-off: %v", err)
	}
	if len(*waits) != 1 {
		t.Errorf("waits %v", *waits)
	}
	if _, err = c.Lookup(ctx, "url", "https://x.example/a b?c=1", nil); err != nil {
		t.Errorf("URL entity: %v", err)
	}
	if p := r.Requests()[len(r.Requests())-1].URL.EscapedPath(); !strings.HasPrefix(p, "/v2/url/https:%2F%2Fx.example%2Fa%20b%3Fc=1") {
		t.Errorf("URL entity sent as %s, want one escaped path segment", p)
	}
	if _, err = c.Lookup(ctx, "ip", "192.0.2.1", nil); !errors.Is(err, recordedfuture.ErrNotFound) {
		t.Errorf("unknown entity: %v", err)
	}
	// Budget: the HTTPClient's request budget holds for lookups.
	c.HTTP.MaxRequests = c.HTTP.Requests()
	if _, err = c.Lookup(ctx, "domain", "cisco.com", nil); !errors.Is(err, ingest.ErrBudget) {
		t.Errorf("over budget: %v", err)
	}
}

func convertBytes(t testing.TB, b []byte) ([]stix.Object, []ingest.Observation, []ingest.Warning) {
	t.Helper()
	objs, obs, warns, err := recordedfuture.ConvertFile(bytes.NewReader(b), testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	return objs, obs, warns
}

// TestEnrich looks values up through the replaying server and converts the
// answers: the real cisco.com answer (risk 10: an observable, no indicator) and
// the synthetic IP with entity references.
func TestEnrich(t *testing.T) {
	r := newReplay(t)
	r.lookups["/v2/domain/cisco.com"] = ingesttest.MustRead(t, ingesttest.MustShared(t, "testdata/providers/recordedfuture/connect_api_domain_cisco.com.json"))
	var ents []json.RawMessage
	if err := json.Unmarshal(ingesttest.MustRead(t, "testdata/connect_entities/input.json"), &ents); err != nil {
		t.Fatal(err)
	}
	r.lookups["/v2/ip/2001:db8::42"] = ents[0] // answers for the compressed form
	c, _ := testClient(r, testToken)
	ctx := context.Background()
	b, err := recordedfuture.Enrich(ctx, c, "cisco[.]com", testOptions(nil))
	if err != nil || len(b.Observations) != 1 || b.Observations[0].Value != "cisco.com" || b.Observations[0].Detect {
		t.Fatalf("Enrich cisco[.]com: %v %+v", err, b.Observations)
	}
	if _, err := recordedfuture.Enrich(ctx, c, "2001:0DB8:0000:0000:0000:0000:0000:0042", testOptions(nil)); err != nil {
		t.Errorf("uncompressed IPv6 not looked up in its compressed form: %v", err)
	}
	if _, err := recordedfuture.Enrich(ctx, c, "198.51.100.99", testOptions(nil)); !errors.Is(err, recordedfuture.ErrNotFound) {
		t.Errorf("unknown value: %v", err)
	}
	if _, err := recordedfuture.Enrich(ctx, c, "not a value", testOptions(nil)); !errors.Is(err, ingest.ErrInvalidValue) {
		t.Errorf("invalid value: %v", err)
	}
	for in, want := range map[string]string{"cve-2021-44228": "vulnerability", "hxxps://x[.]example/a": "url",
		"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855": "hash", "Example.COM": "domain"} {
		if got, _, err := recordedfuture.EntityOf(in); got != want || err != nil {
			t.Errorf("EntityOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
