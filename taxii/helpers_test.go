package taxii_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Collection ids of the test configuration.
const (
	collInbox     = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11" // stored, writable; soc rw, misp rw, writer w
	collPublished = "9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04" // stored; soc r, partner r
	collCurated   = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" // curated; soc r
	collPublic    = "7e6d5c4b-3a29-4187-9654-3210fedcba98" // stored, public
	collSecret    = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" // stored; nobody but admin
	collOther     = "2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6" // root "other"; partner r
)

// Consumer passwords.
var passwords = map[string]string{
	"soc": "soc-password", "partner": "partner-password", "writer": "writer-password",
	"misp": "misp-password", "admin": "admin-password",
}

const testCursorKey = "0123456789abcdef0123456789abcdef"

func testConfig() taxii.Config {
	return taxii.Config{
		Discovery: taxii.Discovery{Title: "ACME TAXII", Description: "test server", Contact: "soc@acme.example", Default: "intel"},
		APIRoots: []taxii.APIRoot{
			{Name: "intel", Title: "ACME curated intelligence", MaxContentLength: 1 << 20},
			{Name: "other", Title: "Other root"},
		},
		Collections: []taxii.Collection{
			{ID: collInbox, APIRoot: "intel", Title: "Inbox", Alias: "inbox", Kind: "stored", Writable: true},
			{ID: collPublished, APIRoot: "intel", Title: "Published", Kind: "stored"},
			{ID: collCurated, APIRoot: "intel", Title: "High confidence", Kind: "curated"},
			{ID: collPublic, APIRoot: "intel", Title: "Public", Kind: "stored", Public: true},
			{ID: collSecret, APIRoot: "intel", Title: "Secret", Kind: "stored", Writable: true},
			{ID: collOther, APIRoot: "other", Title: "Other", Kind: "stored"},
		},
	}
}

func testAuthConfig() auth.Config {
	return auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: "soc", PasswordEnv: "SOC_PASSWORD", Read: []string{collInbox, collPublished, collCurated}, Write: []string{collInbox}},
		{Name: "partner", PasswordEnv: "PARTNER_PASSWORD", Read: []string{collPublished, collOther}},
		{Name: "writer", PasswordEnv: "WRITER_PASSWORD", Write: []string{collInbox}},
		{Name: "misp", PasswordEnv: "MISP_PASSWORD", Read: []string{collInbox}, Write: []string{collInbox}},
		{Name: "admin", PasswordEnv: "ADMIN_PASSWORD", Admin: true},
	}}
}

// env is one running server over a real embedded store and real auth.
type env struct {
	t      testing.TB
	srv    *taxii.Server
	store  *bolt.Store
	http   *httptest.Server
	url    string
	audit  *syncBuffer
	logs   *syncBuffer
	client *http.Client
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func getenv(name string) string {
	switch name {
	case "SOC_PASSWORD":
		return passwords["soc"]
	case "PARTNER_PASSWORD":
		return passwords["partner"]
	case "WRITER_PASSWORD":
		return passwords["writer"]
	case "MISP_PASSWORD":
		return passwords["misp"]
	case "ADMIN_PASSWORD":
		return passwords["admin"]
	}
	return ""
}

// newEnv starts a server with cfg (testConfig() when mutate is nil).
func newEnv(t testing.TB, mutate func(*taxii.Config, *taxii.Deps)) *env {
	t.Helper()
	store := bolt.MustOpen(t, filepath.Join(t.TempDir(), "db"))
	e := &env{t: t, store: store, audit: &syncBuffer{}, logs: &syncBuffer{}}
	a, err := auth.New(testAuthConfig(), auth.Options{Getenv: getenv})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	cfg := testConfig()
	deps := taxii.Deps{
		Store:     store,
		Auth:      a,
		Challenge: auth.Challenge(),
		Logger:    slog.New(slog.NewJSONHandler(e.logs, nil)),
		Audit:     auth.NewAuditLog(e.audit, nil),
		CursorKey: []byte(testCursorKey),
	}
	if mutate != nil {
		mutate(&cfg, &deps)
	}
	srv, err := taxii.NewServer(cfg, deps)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(e.http.Close)
	e.url = e.http.URL
	e.client = e.http.Client()
	return e
}

// req is one HTTP request in a test.
type req struct {
	method  string
	path    string
	user    string // Basic auth user; "" = none
	headers map[string]string
	body    []byte
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

const accept21 = "application/taxii+json;version=2.1"

func (e *env) do(r req) *resp {
	e.t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	hr, err := http.NewRequest(method, e.url+r.path, body)
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if _, ok := r.headers["Accept"]; !ok {
		hr.Header.Set("Accept", accept21)
	}
	for k, v := range r.headers {
		if v == "" {
			hr.Header.Del(k)
			continue
		}
		hr.Header.Set(k, v)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, passwords[r.user])
	}
	res, err := e.client.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("reading body: %v", err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// get is do for a GET as user.
func (e *env) get(user, path string) *resp {
	e.t.Helper()
	return e.do(req{path: path, user: user})
}

// mustStatus fails unless r has status want, a TAXII content type, and — for
// errors — a TAXII error message with that http_status.
func mustStatus(t testing.TB, r *resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != taxii.MediaTypeTAXII {
		t.Fatalf("Content-Type %q, want %q", ct, taxii.MediaTypeTAXII)
	}
	if want >= 400 {
		m := r.json(t)
		if m["title"] == "" || m["title"] == nil {
			t.Fatalf("error without title: %s", r.body)
		}
		if m["http_status"] != fmt.Sprint(want) {
			t.Fatalf("http_status %v, want %d", m["http_status"], want)
		}
		if m["error_id"] != r.header.Get(taxii.HeaderRequestID) || m["error_id"] == "" {
			t.Fatalf("error_id %v, want the request id %q", m["error_id"], r.header.Get(taxii.HeaderRequestID))
		}
	}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// indicator returns a valid STIX 2.1 indicator with a deterministic id.
func indicator(n int, modified time.Time) []byte {
	return fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x","created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"n%d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`,
		n, n, modified.UTC().Format("2006-01-02T15:04:05.000Z"), n, n%256)
}

func indicatorID(n int) string { return fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", n, n) }

// seed stores n indicators (one version each) in collection through the store.
func (e *env) seed(collection string, n int) []string {
	e.t.Helper()
	var objs []stix.RawObject
	var ids []string
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		raw := indicator(i, base.Add(time.Duration(i)*time.Second))
		var o stix.RawObject
		if err := json.Unmarshal(raw, &o.Common); err != nil {
			e.t.Fatal(err)
		}
		o.JSON = raw
		objs = append(objs, o)
		ids = append(ids, o.ID)
	}
	for len(objs) > 0 {
		k := min(len(objs), 5000)
		if _, err := e.store.PutObjects(e.t.Context(), collection, objs[:k]); err != nil {
			e.t.Fatalf("PutObjects: %v", err)
		}
		objs = objs[k:]
	}
	return ids
}

// envelope wraps raw objects in {"objects":[...]}.
func envelope(objs ...[]byte) []byte {
	return append(append([]byte(`{"objects":[`), bytes.Join(objs, []byte(","))...), ']', '}')
}

// sharedDir returns ../shared relative to the repository root, or skips.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("reference data %s missing: %v", s, err)
	}
	return s
}

// readShared reads a file under ../shared.
func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// objectsOf returns the "objects" list of a response body.
func objectsOf(t testing.TB, body []byte) []json.RawMessage {
	t.Helper()
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not an envelope: %v\n%s", err, body)
	}
	return env.Objects
}

func idOf(t testing.TB, raw []byte) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

var _ = strings.Contains
var _ storage.Filter

func mustGlob(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
