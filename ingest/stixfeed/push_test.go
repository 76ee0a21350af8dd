package stixfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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
	outbox       = "outbox"
	partnerInbox = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	partnerUser  = "acme-push"
	partnerPass  = "push-s3cret"
)

// partner is a partner's TAXII 2.1 server: ctibroker's own taxii.Server over
// its own embedded store, with a writable inbox and a small max_content_length
// so that pushes need several envelopes. It counts the POSTs it receives.
type partner struct {
	*httptest.Server
	store *bolt.Store
	mu    sync.Mutex
	posts []int // objects per POST
}

func newPartner(t *testing.T, maxContentLength int64) *partner {
	return newPartnerTB(t, maxContentLength)
}

func newPartnerTB(t testing.TB, maxContentLength int64) *partner {
	t.Helper()
	p := &partner{store: ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "partner"))}
	t.Cleanup(func() { p.store.Close() })
	authn, err := auth.New(auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: partnerUser, PasswordEnv: "PUSH_PASSWORD", Read: []string{partnerInbox}, Write: []string{partnerInbox}},
	}}, auth.Options{Getenv: func(string) string { return partnerPass }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := taxii.NewServer(taxii.Config{
		APIRoots:    []taxii.APIRoot{{Name: "api1", Title: "Partner", MaxContentLength: maxContentLength}},
		Collections: []taxii.Collection{{ID: partnerInbox, APIRoot: "api1", Title: "Inbox", Kind: "stored", Writable: true}},
	}, taxii.Deps{Store: p.store, Auth: authn, CursorKey: []byte("at-least-sixteen-bytes-of-key")})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			var env struct{ Objects []json.RawMessage }
			_ = json.Unmarshal(b, &env)
			p.mu.Lock()
			p.posts = append(p.posts, len(env.Objects))
			p.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *partner) postCounts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.posts)
}

// pushIndicator is a valid indicator, or one whose pattern a TAXII server
// with the STIX pattern checker refuses.
func pushIndicator(n int, bad bool) stix.RawObject {
	pat := fmt.Sprintf("[ipv4-addr:value = '203.0.113.%d']", n%250)
	if bad {
		pat = "[ipv4-addr:value = "
	}
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--5d2e8f3c-7a1b-4c9d-8e6f-%012d","created":"2025-05-01T00:00:00.000Z","modified":"2025-05-01T00:00:00.000Z","name":"push %d","pattern":%q,"pattern_type":"stix","valid_from":"2025-05-01T00:00:00Z"}`, n, n, pat)
	o, err := stix.ParseRaw([]byte(raw))
	if err != nil {
		panic(err)
	}
	return *o
}

func mustPut(t *testing.T, s storage.ObjectWriter, coll string, objs ...stix.RawObject) {
	t.Helper()
	if _, err := s.PutObjects(context.Background(), coll, objs); err != nil {
		t.Fatal(err)
	}
}

func pusherFor(store stixfeed.PushStore, apiRoot, coll string) *stixfeed.Pusher {
	return &stixfeed.Pusher{
		Client: &stixfeed.Client{Username: partnerUser, Password: partnerPass,
			HTTP: &ingest.HTTPClient{MinBackoff: time.Millisecond}},
		Store: store, Collection: outbox, APIRoot: apiRoot, CollectionID: coll,
	}
}

// TestPushToTAXIIServer pushes a collection to ctibroker's own TAXII server as
// the partner: envelopes stay under its max_content_length, every object
// arrives byte-exact, the object the partner refuses and the one too large to
// send are reported, the cursor survives a restart so the second push sends
// nothing, and the third sends only what was added since.
func TestPushToTAXIIServer(t *testing.T) {
	const maxLen = 4096
	p := newPartner(t, maxLen)
	dir := filepath.Join(t.TempDir(), "local")
	local := ingesttest.MustOpenStore(t, dir, outbox)
	var objs []stix.RawObject
	for i := range 30 {
		objs = append(objs, pushIndicator(i, i == 7))
	}
	big := pushIndicator(100, false)
	big.JSON = []byte(strings.Replace(string(big.JSON), `"name":"push 100"`, `"name":"push 100","description":"`+strings.Repeat("x", maxLen)+`"`, 1))
	objs = append(objs[:20], append([]stix.RawObject{big}, objs[20:]...)...)
	mustPut(t, local, outbox, objs...)

	pu := pusherFor(local, p.URL+"/api1/", partnerInbox)
	st, err := pu.Push(t.Context())
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if st.Read != 31 || st.Sent != 30 || st.Succeeded != 29 || len(st.Failed) != 2 {
		t.Fatalf("stats %+v: want 31 read, 30 sent, 29 succeeded, 2 failed", st)
	}
	failed := map[string]string{}
	for _, f := range st.Failed {
		failed[f.ID] = f.Message
	}
	if m := failed[objs[7].ID]; m == "" {
		t.Errorf("the refused indicator is not reported: %v", st.Failed)
	}
	if m := failed[big.ID]; !strings.Contains(m, "max_content_length") {
		t.Errorf("the oversized object is reported as %q, want a max_content_length message", m)
	}
	posts := p.postCounts()
	if len(posts) < 3 || st.Envelopes != len(posts) {
		t.Fatalf("POSTs %v (envelopes %d): want several envelopes of a 4 KiB max_content_length", posts, st.Envelopes)
	}
	page, err := p.store.QueryObjects(t.Context(), partnerInbox, storage.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range page.Records {
		got[r.ID] = string(r.JSON)
	}
	if len(got) != 29 {
		t.Fatalf("partner holds %d objects, want 29", len(got))
	}
	for _, o := range objs {
		if o.ID == objs[7].ID || o.ID == big.ID {
			continue
		}
		if got[o.ID] != string(o.JSON) {
			t.Fatalf("object %s at the partner differs:\n got %s\nwant %s", o.ID, got[o.ID], o.JSON)
		}
	}

	// restart: the cursor is in the store
	local.Close()
	local = ingesttest.MustOpenStore(t, dir, outbox)
	defer local.Close()
	pu = pusherFor(local, p.URL+"/api1", partnerInbox)
	st2, err := pu.Push(t.Context())
	if err != nil {
		t.Fatalf("second Push: %v", err)
	}
	if st2.Read != 0 || st2.Sent != 0 || len(p.postCounts()) != len(posts) {
		t.Fatalf("second push %+v, POSTs %v: want nothing sent", st2, p.postCounts())
	}
	if !st2.Cursor.Equal(st.Cursor) || st.Cursor.IsZero() {
		t.Errorf("cursor %v after restart, want %v", st2.Cursor, st.Cursor)
	}

	mustPut(t, local, outbox, pushIndicator(200, false), pushIndicator(201, false))
	st3, err := pu.Push(t.Context())
	if err != nil {
		t.Fatalf("third Push: %v", err)
	}
	if st3.Read != 2 || st3.Sent != 2 || st3.Succeeded != 2 || len(st3.Failed) != 0 {
		t.Fatalf("third push %+v: want the 2 new objects only", st3)
	}
	fs, err := local.FeedState(t.Context(), stixfeed.PushName(outbox, p.URL+"/api1", partnerInbox))
	if err != nil || fs.LastError != "" || fs.LastSuccess.IsZero() {
		t.Fatalf("feed state %+v, %v: want a success without error", fs, err)
	}
}

// TestPushPartnerRefuses: credentials without a write grant stop the push
// before any POST, with the reason, and leave no cursor.
func TestPushPartnerRefuses(t *testing.T) {
	p := newPartner(t, 1<<20)
	local := ingesttest.MustStore(t)
	if err := local.EnsureCollection(t.Context(), outbox, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	mustPut(t, local, outbox, pushIndicator(1, false))
	pu := pusherFor(local, p.URL+"/api1/", partnerInbox)
	pu.Client.Password = "wrong"
	pu.Client.HTTP.MaxRetries = -1
	_, err := pu.Push(t.Context())
	var he *ingest.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Push with a wrong password: %v, want a 401 naming the credentials", err)
	}
	pu = pusherFor(local, p.URL+"/api1/", "00000000-0000-4000-8000-000000000000")
	if _, err := pu.Push(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Push to an unknown collection: %v, want a 404", err)
	}
	if len(p.postCounts()) != 0 {
		t.Errorf("POSTs %v, want none", p.postCounts())
	}
	fs, err := local.FeedState(t.Context(), stixfeed.PushName(outbox, p.URL+"/api1/", partnerInbox))
	if err != nil || fs.Cursor != nil || fs.ErrorCount != 1 || fs.LastError == "" {
		t.Fatalf("feed state %+v, %v: want the error recorded and no cursor", fs, err)
	}
}

// scripted is a TAXII 2.1 stand-in that answers POSTs and status polls from a
// script: "429" (Retry-After: 7), "pending", "complete".
type scripted struct {
	*httptest.Server
	ingesttest.Script
	mu    sync.Mutex
	total int
	posts int
}

func newScripted(t *testing.T) *scripted {
	s := &scripted{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

const scriptedColl = "c1"

func (s *scripted) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", stixfeed.MediaTypeTAXII)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api1/":
		fmt.Fprint(w, `{"title":"scripted","versions":["application/taxii+json;version=2.1"],"max_content_length":1048576}`)
		return
	case r.Method == http.MethodGet && r.URL.Path == "/api1/collections/"+scriptedColl+"/":
		fmt.Fprintf(w, `{"id":%q,"title":"in","can_read":false,"can_write":true}`, scriptedColl)
		return
	}
	step := s.Next(r)
	if r.Method == http.MethodPost {
		var env struct{ Objects []json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&env)
		s.mu.Lock()
		s.total = len(env.Objects)
		s.posts++
		s.mu.Unlock()
	}
	s.mu.Lock()
	total := s.total
	s.mu.Unlock()
	switch step {
	case "429":
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"title":"slow down"}`)
	case "pending":
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"st-1","status":"pending","total_count":%d,"success_count":0,"failure_count":0,"pending_count":%d}`, total, total)
	case "complete":
		fmt.Fprintf(w, `{"id":"st-1","status":"complete","total_count":%d,"success_count":%d,"failure_count":1,"pending_count":0,"failures":[{"id":"indicator--5d2e8f3c-7a1b-4c9d-8e6f-000000000001","version":"2025-05-01T00:00:00.000Z","message":"duplicate"}]}`, total, total-1)
	default:
		http.Error(w, "unscripted "+r.Method+" "+r.URL.Path, http.StatusTeapot)
	}
}

// TestPushRetriesAndPolls: a 429 is waited out for its Retry-After, a pending
// status is polled until complete, the partner's failure is reported, and the
// cursor is saved only after the complete status; a status that stays pending
// past StatusWait is an error that leaves the cursor, so the next push sends
// the same objects again.
func TestPushRetriesAndPolls(t *testing.T) {
	srv := newScripted(t)
	local := ingesttest.MustStore(t)
	if err := local.EnsureCollection(t.Context(), outbox, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	mustPut(t, local, outbox, pushIndicator(1, false), pushIndicator(2, false), pushIndicator(3, false))
	clock := ingesttest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	newPusher := func() *stixfeed.Pusher {
		pu := pusherFor(local, srv.URL+"/api1/", scriptedColl)
		pu.Client.HTTP.Sleep = clock.Sleep
		pu.Sleep = clock.Sleep
		pu.Now = clock.Now
		pu.StatusWait = 3 * time.Second
		return pu
	}
	name := stixfeed.PushName(outbox, srv.URL+"/api1/", scriptedColl)

	// stays pending: 1 s + 2 s of polls, then ErrStatusTimeout
	srv.Fail("pending", "pending", "pending")
	_, err := newPusher().Push(t.Context())
	if !errors.Is(err, stixfeed.ErrStatusTimeout) {
		t.Fatalf("Push with a status that stays pending: %v, want ErrStatusTimeout", err)
	}
	if fs, err := local.FeedState(t.Context(), name); err != nil || fs.Cursor != nil || fs.ErrorCount != 1 {
		t.Fatalf("feed state %+v, %v: want no cursor and one error", fs, err)
	}
	if got, want := clock.Sleeps(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("sleeps %v, want %v", got, want)
	}

	srv.Fail("429", "pending", "pending", "complete")
	st, err := newPusher().Push(t.Context())
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got := clock.Sleeps()[2:]; len(got) != 3 || got[0] != 7*time.Second || got[1] != time.Second || got[2] != 2*time.Second {
		t.Fatalf("sleeps %v, want Retry-After 7s then polls of 1s and 2s", got)
	}
	if st.Sent != 3 || st.Envelopes != 1 || st.Succeeded != 2 || len(st.Failed) != 1 || st.Failed[0].Message != "duplicate" {
		t.Fatalf("stats %+v: want 3 sent in 1 envelope, 2 succeeded, the duplicate failed", st)
	}
	srv.mu.Lock()
	posts := srv.posts
	srv.mu.Unlock()
	if posts != 3 { // the timed-out one, the 429, the accepted one
		t.Fatalf("POSTs %d, want 3", posts)
	}
	fs, err := local.FeedState(t.Context(), name)
	if err != nil || fs.Cursor == nil || fs.ErrorCount != 0 || !fs.LastSuccess.Equal(clock.Now().UTC()) {
		t.Fatalf("feed state %+v, %v: want the cursor saved with the success", fs, err)
	}
	// nothing new: no POST, and no status to wait for
	if st, err := newPusher().Push(t.Context()); err != nil || st.Read != 0 {
		t.Fatalf("push with nothing new: %+v, %v", st, err)
	}
	// a failure with nothing to send (the partner is down), then a clean run
	// with nothing new clears it
	down := newPusher()
	down.APIRoot = "http://127.0.0.1:1/api1/"
	down.Name = name
	down.Client.HTTP.MaxRetries = -1
	if _, err := down.Push(t.Context()); err == nil {
		t.Fatal("push to a closed port: no error")
	}
	if fs, _ := local.FeedState(t.Context(), name); fs.ErrorCount != 1 || fs.Cursor == nil {
		t.Fatalf("feed state %+v: want the error counted and the cursor kept", fs)
	}
	if _, err := newPusher().Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fs, _ := local.FeedState(t.Context(), name); fs.ErrorCount != 0 || fs.LastError != "" {
		t.Fatalf("feed state %+v: want the error cleared", fs)
	}
}

// TestPushWithholdsTLP: with MaxTLP green, objects marked AMBER+STRICT or
// RED (also as a granular marking) are never sent, the cursor passes them,
// and the partner holds only what it may receive.
func TestPushWithholdsTLP(t *testing.T) {
	p := newPartner(t, 1<<20)
	local := ingesttest.MustStore(t)
	if err := local.EnsureCollection(t.Context(), outbox, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	mark := func(n int, extra string) stix.RawObject {
		o := pushIndicator(n, false)
		o.JSON = []byte(strings.Replace(string(o.JSON), `"name":`, extra+`"name":`, 1))
		r, err := stix.ParseRaw(o.JSON)
		if err != nil {
			t.Fatal(err)
		}
		return *r
	}
	green := mark(1, `"object_marking_refs":["`+stix.TLPGreen.MarkingRef()+`"],`)
	mustPut(t, local, outbox, green,
		mark(2, `"object_marking_refs":["`+stix.TLPRed.MarkingRef()+`"],`),
		mark(3, `"granular_markings":[{"marking_ref":"`+stix.TLPAmberStrict.MarkingRef()+`","selectors":["name"]}],`),
		pushIndicator(4, false))
	pu := pusherFor(local, p.URL+"/api1/", partnerInbox)
	pu.MaxTLP = stix.TLPGreen
	st, err := pu.Push(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 4 || st.Withheld != 2 || st.Sent != 2 || st.Succeeded != 2 {
		t.Fatalf("stats %+v: want 4 read, 2 withheld, 2 sent", st)
	}
	page, err := p.store.QueryObjects(t.Context(), partnerInbox, storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Records {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	want := []string{green.ID, pushIndicator(4, false).ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("partner holds %v, want %v", ids, want)
	}
	if st, err := pu.Push(t.Context()); err != nil || st.Read != 0 {
		t.Fatalf("second push %+v, %v: want nothing read", st, err)
	}
}
