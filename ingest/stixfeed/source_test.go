package stixfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/stixfeed"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

const (
	peerColl   = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	mirrorColl = "mirror"
	peerUser   = "ctibroker"
	peerPass   = "peer-s3cret"
)

// peer is another TAXII 2.1 server: ctibroker's own taxii.Server over its own
// embedded store, behind a wrapper that records requests and can inject
// failures.
type peer struct {
	*httptest.Server
	store    *bolt.Store
	handler  http.Handler // the TAXII server without the wrapper
	mu       sync.Mutex
	requests []*http.Request
	hook     func(w http.ResponseWriter, r *http.Request, n int) bool
	n        int // indicators added so far
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	p := &peer{store: ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "peer"), peerColl)}
	t.Cleanup(func() { p.store.Close() })
	authn, err := auth.New(auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: peerUser, PasswordEnv: "PEER_PASSWORD", Read: []string{peerColl}},
	}}, auth.Options{Getenv: func(string) string { return peerPass }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := taxii.NewServer(taxii.Config{
		APIRoots:    []taxii.APIRoot{{Name: "intel", Title: "Peer intelligence"}},
		Collections: []taxii.Collection{{ID: peerColl, APIRoot: "intel", Title: "Shared", Kind: "stored"}},
	}, taxii.Deps{Store: p.store, Auth: authn, CursorKey: []byte("at-least-sixteen-bytes-of-key")})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	p.handler = h
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Clone(context.Background()))
		n, hook := len(p.requests), p.hook
		p.mu.Unlock()
		if hook != nil && hook(w, r, n) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// add stores n new indicators (and their simple patterns) on the peer.
func (p *peer) add(t *testing.T, n int) []stix.RawObject {
	t.Helper()
	var objs []stix.RawObject
	for i := 0; i < n; i++ {
		p.n++
		id := fmt.Sprintf("indicator--0c6e9a2b-1d3f-4e5a-9b7c-%012d", p.n)
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2025-03-01T00:00:00.000Z","modified":"2025-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.%d']","pattern_type":"stix","valid_from":"2025-03-01T00:00:00Z"}`, id, p.n%250)
		o, err := stix.ParseRaw([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, *o)
	}
	if _, err := p.store.PutObjects(context.Background(), peerColl, objs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // date_added moves on
	return objs
}

func (p *peer) log() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.requests...)
}

func feedConfig(t *testing.T, options string) ingest.FeedConfig {
	t.Helper()
	src := "name: peer\nprovider: stix\ncollection: " + mirrorColl + "\noptions:\n" + options
	cfg := ingesttest.MustFeedConfig(t, src, map[string]string{"PEER_USER": peerUser, "PEER_PASSWORD": peerPass})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (p *peer) config(t *testing.T, extra string) ingest.FeedConfig {
	return feedConfig(t, fmt.Sprintf("  url: %s/intel/collections/%s/\n  username_env: PEER_USER\n  password_env: PEER_PASSWORD\n  limit: 2\n  backoff: 1ms\n%s",
		p.URL, peerColl, extra))
}

func run(t *testing.T, store ingest.Store, cfg ingest.FeedConfig) (*ingest.Stats, error) {
	t.Helper()
	return (&ingest.Runner{Store: store, Identity: ingesttest.Identity}).Run(context.Background(), ingesttest.MustNewFeed(t, stixfeed.New, cfg))
}

func records(t *testing.T, s ingest.Store, coll string, types ...string) []storage.Record {
	t.Helper()
	page, err := s.QueryObjects(context.Background(), coll, storage.Filter{Types: types, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// TestTAXIIPoll polls a real TAXII 2.1 server (ctibroker's) with Basic auth and
// the TAXII Accept header, follows next to the end, keeps the objects
// byte-exact, feeds their values to the pool, and after a restart asks only for
// what was added since X-TAXII-Date-Added-Last.
func TestTAXIIPoll(t *testing.T) {
	p := newPeer(t)
	sent := p.add(t, 5)
	dir := filepath.Join(t.TempDir(), "db")
	store := ingesttest.MustOpenStore(t, dir, mirrorColl)
	cfg := p.config(t, "")
	st, err := run(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs := p.log()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages of 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("Accept") != stixfeed.MediaTypeTAXII {
			t.Errorf("request %d Accept %q", i, r.Header.Get("Accept"))
		}
		if u, pw, ok := r.BasicAuth(); !ok || u != peerUser || pw != peerPass {
			t.Errorf("request %d: no Basic credentials", i)
		}
		if i > 0 && r.URL.Query().Get("next") == "" {
			t.Errorf("request %d does not follow next: %s", i, r.URL)
		}
	}
	got := records(t, store, mirrorColl)
	if len(got) != 5 {
		t.Fatalf("mirror holds %d objects, want 5", len(got))
	}
	byID := map[string]string{}
	for _, r := range got {
		byID[r.ID] = string(r.JSON)
	}
	for _, o := range sent {
		if byID[o.ID] != string(o.JSON) {
			t.Errorf("%s not byte-exact: %s", o.ID, byID[o.ID])
		}
	}
	if st.Observations != 5 || len(records(t, store, ingest.DefaultPool, "indicator")) != 5 {
		t.Errorf("stats %v", st)
	}
	state, _ := store.FeedState(context.Background(), "peer")
	var c map[string]string
	json.Unmarshal(state.Cursor, &c)
	if c["added_after"] == "" || c["next"] != "" {
		t.Fatalf("cursor %s", state.Cursor)
	}
	store.Close()

	// Restart: two more objects on the peer; the new run asks from the last date added.
	p.add(t, 2)
	store = ingesttest.MustOpenStore(t, dir, mirrorColl)
	defer store.Close()
	if _, err := run(t, store, cfg); err != nil {
		t.Fatal(err)
	}
	reqs = p.log()[3:]
	if len(reqs) != 1 || reqs[0].URL.Query().Get("added_after") != c["added_after"] {
		t.Fatalf("second run: %d requests, first %v", len(reqs), reqs[0].URL)
	}
	if n := len(records(t, store, mirrorColl)); n != 7 {
		t.Errorf("mirror holds %d, want 7", n)
	}
}

func TestTAXIIBearerToken(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", stixfeed.MediaTypeTAXII)
		w.Write([]byte(`{"more":false}`))
	}))
	defer srv.Close()
	cfg := feedConfig(t, "  url: "+srv.URL+"/api1/collections/"+peerColl+"/\n  token_env: PEER_PASSWORD\n")
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
	defer store.Close()
	if _, err := run(t, store, cfg); err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer "+peerPass {
		t.Errorf("Authorization %q", gotAuth)
	}
}

func TestTAXIIFailures(t *testing.T) {
	for name, tt := range map[string]struct {
		hook     func(p *peer) func(w http.ResponseWriter, r *http.Request, n int) bool
		requests int
		minGap   time.Duration // between the first two requests
	}{
		"429 Retry-After": {func(*peer) func(http.ResponseWriter, *http.Request, int) bool {
			return func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
					return true
				}
				return false
			}
		}, 4, 900 * time.Millisecond},
		"5xx": {func(*peer) func(http.ResponseWriter, *http.Request, int) bool {
			return func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n <= 2 {
					http.Error(w, "upstream down", http.StatusBadGateway)
					return true
				}
				return false
			}
		}, 5, 0},
		"cut off mid-stream": {func(p *peer) func(http.ResponseWriter, *http.Request, int) bool {
			return func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n != 2 {
					return false
				}
				// The real page, sent short under its full Content-Length.
				rec := httptest.NewRecorder()
				p.handler.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(rec.Code)
				w.Write(body[:len(body)/2])
				return true
			}
		}, 4, 0},
	} {
		t.Run(name, func(t *testing.T) {
			p := newPeer(t)
			p.add(t, 5)
			p.hook = tt.hook(p)
			store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
			defer store.Close()
			start := time.Now()
			if _, err := run(t, store, p.config(t, "")); err != nil {
				t.Fatal(err)
			}
			reqs := p.log()
			if len(reqs) != tt.requests {
				t.Errorf("%d requests, want %d", len(reqs), tt.requests)
			}
			if d := time.Since(start); d < tt.minGap {
				t.Errorf("done after %s, want the Retry-After wait of %s", d, tt.minGap)
			}
			if n := len(records(t, store, mirrorColl)); n != 5 {
				t.Errorf("mirror holds %d, want 5", n)
			}
		})
	}
}

func TestTAXIICrashBetweenFetchAndStore(t *testing.T) {
	p := newPeer(t)
	p.add(t, 5)
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
	defer store.Close()
	fs := &ingesttest.FailingStore{Store: store, Err: errors.New("disk on fire")}
	p.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fs.Fail = n == 2
		return false
	}
	if _, err := run(t, fs, p.config(t, "")); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v", err)
	}
	if n := len(records(t, store, mirrorColl)); n != 2 {
		t.Fatalf("after the crash the mirror holds %d, want the first page (2)", n)
	}
	p.hook, fs.Fail = nil, false
	if _, err := run(t, fs, p.config(t, "")); err != nil {
		t.Fatal(err)
	}
	reqs := p.log()
	if len(reqs) != 4 || reqs[2].URL.RawQuery != reqs[1].URL.RawQuery {
		t.Errorf("rerun did not fetch the failed page again: %d requests", len(reqs))
	}
	if n := len(records(t, store, mirrorColl)); n != 5 {
		t.Errorf("mirror holds %d, want 5", n)
	}
}

func TestTAXIIAuthFailure(t *testing.T) {
	p := newPeer(t)
	cfg := p.config(t, "")
	cfg.Getenv = func(k string) string { return "wrong" }
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
	defer store.Close()
	_, err := run(t, store, cfg)
	var he *ingest.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || len(p.log()) != 1 {
		t.Fatalf("got %v after %d requests", err, len(p.log()))
	}
}

// TestFiles: a bundle file is a snapshot. Unchanged, it is not read again; when
// an indicator disappears from it, its value is withdrawn.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "feed.json")
	in, err := os.ReadFile("testdata/bundle/input.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, in, 0o644); err != nil {
		t.Fatal(err)
	}
	store := ingesttest.MustOpenStore(t, filepath.Join(dir, "db"), mirrorColl)
	defer store.Close()
	cfg := feedConfig(t, "  files: ["+file+"]\n")
	st, err := run(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Observations != 5 || st.Warnings != 2 || len(records(t, store, mirrorColl)) != 11 {
		t.Fatalf("first run %v, mirror %d", st, len(records(t, store, mirrorColl)))
	}
	st, err = run(t, store, cfg)
	if err != nil || st.Batches != 0 {
		t.Fatalf("unchanged file re-read: %v %v", st, err)
	}
	// The C2 address's indicator disappears from the file.
	var doc map[string]any
	json.Unmarshal(in, &doc)
	objs := doc["objects"].([]any)
	var kept []any
	for _, o := range objs {
		if m, ok := o.(map[string]any); ok && m["id"] == "indicator--0b4a8c62-0c6e-4f3a-9d3f-6a0f1b2c3d41" {
			continue
		}
		kept = append(kept, o)
	}
	doc["objects"] = kept
	b, _ := json.Marshal(doc)
	os.WriteFile(file, b, 0o644)
	st, err = run(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revoked != 1 {
		t.Errorf("withdrawal run: %v", st)
	}
}

func TestNewConfigErrors(t *testing.T) {
	for name, tt := range map[string]struct{ options, want string }{
		"neither":     {"  limit: 3\n", "either files or"},
		"both":        {"  files: [a.json]\n  url: https://x.example/api1/collections/c/\n", "either files or"},
		"bad url":     {"  url: https://x.example/api1/\n", "TAXII collection URL"},
		"no password": {"  url: https://x.example/api1/collections/c/\n  username_env: PEER_USER\n  password_env: NOPE\n", "NOPE is empty"},
		"bad since":   {"  url: https://x.example/api1/collections/c/\n  added_after: soon\n", "added_after"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := stixfeed.New(feedConfig(t, tt.options))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ingest.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig with %q", err, tt.want)
			}
		})
	}
}

// TestTAXIIStaleNext: a stored next token the server refuses (ctibroker's
// server answers 400 for a token it did not sign) is dropped with a warning and
// the poll continues from added_after.
func TestTAXIIStaleNext(t *testing.T) {
	p := newPeer(t)
	p.add(t, 3)
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
	defer store.Close()
	if err := store.PutFeedState(context.Background(), &storage.FeedState{Feed: "peer", Cursor: []byte(`{"next":"forged-token"}`)}); err != nil {
		t.Fatal(err)
	}
	st, err := run(t, store, p.config(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	reqs := p.log()
	if reqs[0].URL.Query().Get("next") != "forged-token" || reqs[1].URL.Query().Get("next") != "" {
		t.Errorf("requests: %v then %v", reqs[0].URL, reqs[1].URL)
	}
	if st.Warnings != 1 || len(records(t, store, mirrorColl)) != 3 {
		t.Errorf("stats %v, mirror %d", st, len(records(t, store, mirrorColl)))
	}
}

// TestTAXIIRequestBudget: with a budget of 2 requests the poll stops after two
// pages with a warning; the next poll continues with the stored next token.
func TestTAXIIRequestBudget(t *testing.T) {
	p := newPeer(t)
	p.add(t, 5)
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "db"), mirrorColl)
	defer store.Close()
	cfg := p.config(t, "  max_requests: 2\n")
	st, err := run(t, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Warnings != 1 || len(records(t, store, mirrorColl)) != 4 {
		t.Fatalf("stats %v, mirror %d", st, len(records(t, store, mirrorColl)))
	}
	if _, err := run(t, store, cfg); err != nil {
		t.Fatal(err)
	}
	reqs := p.log()
	if len(reqs) != 3 || reqs[2].URL.Query().Get("next") == "" || len(records(t, store, mirrorColl)) != 5 {
		t.Errorf("%d requests, last %v, mirror %d", len(reqs), reqs[len(reqs)-1].URL, len(records(t, store, mirrorColl)))
	}
}
