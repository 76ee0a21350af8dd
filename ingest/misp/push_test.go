package misp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
)

const pushKey = "0123456789abcdef0123456789abcdef01234567"

// mispStandIn is a MISP instance's event API on loopback: it keeps events by
// uuid and answers as MISP 2.5 does (misp.md §2.2): HEAD /events/view/{uuid}
// 200/404, POST /events/add (403 "already exists" for a known uuid), POST
// /events/edit/{uuid} (403 "not newer" unless the timestamp is newer), POST
// /events/upload_stix/2. It checks every request's headers.
type mispStandIn struct {
	t      *testing.T
	mu     sync.Mutex
	events map[string]json.RawMessage
	ts     map[string]int64
	log    []string
	noHEAD bool // answer HEAD with 405, as a proxy might
}

func newStandIn(t *testing.T) (*mispStandIn, *misp.Client) {
	s := &mispStandIn{t: t, events: map[string]json.RawMessage{}, ts: map[string]int64{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, &misp.Client{BaseURL: srv.URL + "/", APIKey: pushKey, HTTP: &ingest.HTTPClient{MaxRetries: -1}}
}

func (s *mispStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r.Method+" "+r.URL.Path)
	switch got := r.Header.Get("Authorization"); {
	case got == "" || strings.Contains(got, " "):
		s.t.Errorf("%s %s: Authorization %q, want the raw key without a scheme", r.Method, r.URL.Path, got)
		w.WriteHeader(http.StatusUnauthorized)
		return
	case got != pushKey:
		w.WriteHeader(http.StatusForbidden) // MISP: "Authentication failed. Please make sure you pass the API key ..."
		io.WriteString(w, `{"name":"Authentication failed.","message":"Authentication failed.","url":"`+r.URL.Path+`"}`)
		return
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		s.t.Errorf("%s %s: Accept %q", r.Method, r.URL.Path, got)
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		s.t.Errorf("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	w.Header().Set("Content-Type", "application/json")
	path := r.URL.Path
	switch {
	case r.Method == http.MethodHead && strings.HasPrefix(path, "/events/view/"):
		if s.noHEAD {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if _, ok := s.events[strings.TrimPrefix(path, "/events/view/")]; ok {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodPost && path == "/events/add":
		ev := s.read(r)
		if ev == nil {
			http.Error(w, `{"errors":"bad body"}`, http.StatusBadRequest)
			return
		}
		if _, ok := s.events[ev.UUID]; ok {
			w.Header().Set("Location", "/events/view/"+ev.UUID)
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"name":"Event already exists, if you would like to edit it, use the url in the location header.","message":"Event already exists, if you would like to edit it, use the url in the location header.","url":"/events/add","errors":"Event already exists"}`)
			return
		}
		s.save(w, ev)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/events/edit/"):
		ev := s.read(r)
		id := strings.TrimPrefix(path, "/events/edit/")
		if ev == nil || ev.UUID != id {
			http.Error(w, `{"errors":"bad body"}`, http.StatusBadRequest)
			return
		}
		ts, _ := ev.Timestamp.Int()
		if ts <= s.ts[id] {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"name":"Event could not be saved: Event in the request not newer than the local copy.","message":"Event could not be saved: Event in the request not newer than the local copy.","url":"/events/edit/`+id+`","errors":"Event could not be saved: Event in the request not newer than the local copy."}`)
			return
		}
		s.save(w, ev)
	case r.Method == http.MethodPost && path == "/events/upload_stix/2":
		var b struct {
			Type    string            `json:"type"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Objects) == 0 {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"saved":false,"name":"Could not import the STIX file","message":"Could not import the STIX file","url":"/events/upload_stix","errors":"Issues while loading the stix file."}`)
			return
		}
		io.WriteString(w, `{"saved":true,"success":true,"name":"STIX document imported.","message":"STIX document imported.","url":"/events/upload_stix"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"name":"Not Found","message":"Not Found","url":"`+path+`"}`)
	}
}

func (s *mispStandIn) read(r *http.Request) *misp.Event {
	var got *misp.Event
	if _, err := misp.DecodeEvents(r.Body, func(ev *misp.Event) error { got = ev; return nil }); err != nil {
		s.t.Errorf("%s: body: %v", r.URL.Path, err)
		return nil
	}
	return got
}

func (s *mispStandIn) save(w http.ResponseWriter, ev *misp.Event) {
	b, _ := json.Marshal(ev)
	s.events[ev.UUID] = b
	s.ts[ev.UUID], _ = ev.Timestamp.Int()
	io.WriteString(w, `{"Event":{"id":"`+itoa(int64(len(s.events)))+`","uuid":"`+ev.UUID+`","info":`+string(mustJSON(ev.Info))+`}}`)
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func (s *mispStandIn) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

// TestPushEvent: a new event is added, a newer one edited, an unchanged one
// answered "not newer" (ErrNotNewer); the exact request sequence is checked.
func TestPushEvent(t *testing.T) {
	s, c := newStandIn(t)
	ctx := context.Background()
	events := exportReport(t)
	ev := events[0]

	created, err := c.PushEvent(ctx, &ev)
	if err != nil || !created {
		t.Fatalf("first push: created %v, err %v", created, err)
	}
	if got := strings.Join(s.requests(), ", "); got != "HEAD /events/view/"+ev.UUID+", POST /events/add" {
		t.Errorf("first push requests: %s", got)
	}
	var stored misp.Event
	json.Unmarshal(s.events[ev.UUID], &stored)
	if len(stored.Attribute) != len(ev.Attribute) || stored.Info != ev.Info {
		t.Errorf("MISP stored %d attributes, info %q", len(stored.Attribute), stored.Info)
	}

	created, err = c.PushEvent(ctx, &ev)
	if !errors.Is(err, misp.ErrNotNewer) || created {
		t.Errorf("same push again: created %v, err %v, want ErrNotNewer", created, err)
	}
	if got := strings.Join(s.requests(), ", "); got != "HEAD /events/view/"+ev.UUID+", POST /events/edit/"+ev.UUID {
		t.Errorf("second push requests: %s", got)
	}

	newer := ev
	ts, _ := ev.Timestamp.Int()
	newer.Timestamp = misp.Num(itoa(ts + 60))
	created, err = c.PushEvent(ctx, &newer)
	if err != nil || created {
		t.Errorf("newer push: created %v, err %v, want an edit", created, err)
	}
	if got, _ := s.ts[ev.UUID]; got != ts+60 {
		t.Errorf("MISP keeps timestamp %d, want %d", got, ts+60)
	}
	s.requests()

	// HEAD refused (405): add, MISP says "already exists", the push edits.
	s.noHEAD = true
	newer.Timestamp = misp.Num(itoa(ts + 120))
	created, err = c.PushEvent(ctx, &newer)
	if err != nil || created {
		t.Errorf("push without HEAD: created %v, err %v", created, err)
	}
	if got := strings.Join(s.requests(), ", "); got != "HEAD /events/view/"+ev.UUID+", POST /events/add, POST /events/edit/"+ev.UUID {
		t.Errorf("push without HEAD requests: %s", got)
	}
}

// TestPushEventErrors: a refused key, an event MISP cannot take, and an
// answer that is not the saved event are errors.
func TestPushEventErrors(t *testing.T) {
	_, c := newStandIn(t)
	ctx := context.Background()
	ev := exportReport(t)[0]

	bad := *c
	bad.APIKey = "wrong"
	if _, err := (&bad).PushEvent(ctx, &ev); err == nil || !strings.Contains(err.Error(), "refuses the key") {
		t.Errorf("wrong key: %v", err)
	}
	noOrg := ev
	noOrg.Orgc = nil
	if _, err := c.PushEvent(ctx, &noOrg); !errors.Is(err, misp.ErrFeedEvent) {
		t.Errorf("event without Orgc: %v, want ErrFeedEvent", err)
	}

	// A server that answers 200 with an HTML login page (a wrong base URL).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		io.WriteString(w, "<html>login</html>")
	}))
	defer srv.Close()
	html := &misp.Client{BaseURL: srv.URL, APIKey: pushKey, HTTP: &ingest.HTTPClient{MaxRetries: -1}}
	if _, err := html.PushEvent(ctx, &ev); !errors.Is(err, misp.ErrRejected) {
		t.Errorf("HTML answer: %v, want ErrRejected", err)
	}
}

// TestUploadSTIX posts a bundle to /events/upload_stix/2; MISP's refusal is an
// error with its message, and a body that is no bundle never leaves.
func TestUploadSTIX(t *testing.T) {
	s, c := newStandIn(t)
	ctx := context.Background()
	bundle := `{"type":"bundle","id":"bundle--5c6d4d5e-0e8a-4a7b-9d3c-111111111111","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--5c6d4d5e-0e8a-4a7b-9d3c-222222222222","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00.000Z"}]}`
	if err := c.UploadSTIX(ctx, []byte(bundle)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.requests(), ", "); got != "POST /events/upload_stix/2" {
		t.Errorf("requests: %s", got)
	}
	err := c.UploadSTIX(ctx, []byte(`{"type":"bundle","id":"bundle--5c6d4d5e-0e8a-4a7b-9d3c-111111111111","objects":[]}`))
	if !errors.Is(err, misp.ErrRejected) || !strings.Contains(err.Error(), "Could not import") {
		t.Errorf("empty bundle: %v, want ErrRejected with MISP's message", err)
	}
	s.requests()
	if err := c.UploadSTIX(ctx, []byte(`{"objects":[]}`)); err == nil {
		t.Error("no bundle: no error")
	}
	if got := s.requests(); len(got) != 0 {
		t.Errorf("a body that is no bundle was sent: %v", got)
	}
}

// TestPushEvents pushes a grouped export twice: first every event is created,
// then each is unchanged; after a new value only the changed event is sent
// (ChangedEvents) and edited. A bad event fails alone.
func TestPushEvents(t *testing.T) {
	s, c := newStandIn(t)
	ctx := context.Background()
	objs, opt := mustReadCase(t, "testdata/export/grouped")
	events, _, err := misp.Export(objs, opt)
	if err != nil {
		t.Fatal(err)
	}
	var uuids []string
	for _, ev := range events {
		uuids = append(uuids, ev.UUID)
	}
	st, err := c.PushEvents(ctx, events)
	if err != nil || st.Created != len(events) || st.Edited+st.Unchanged+st.Failed != 0 || !slices.Equal(st.Done, uuids) {
		t.Fatalf("first push: %+v, %v", st, err)
	}
	st, err = c.PushEvents(ctx, events)
	if err != nil || st.Unchanged != len(events) || st.Created+st.Edited+st.Failed != 0 || !slices.Equal(st.Done, uuids) {
		t.Fatalf("second push: %+v, %v", st, err)
	}
	prev := misp.FeedManifest(events)
	if got := misp.ChangedEvents(prev, events); len(got) != 0 {
		t.Errorf("ChangedEvents of the same events: %d", len(got))
	}
	more := append(append([]stix.RawObject(nil), objs...), mustRawObjects(t, []json.RawMessage{json.RawMessage(
		`{"type":"indicator","spec_version":"2.1","id":"indicator--a0000000-0000-4000-8000-000000000099","created":"2026-03-01T05:00:00.000Z","modified":"2026-03-01T05:00:00.000Z","pattern":"[domain-name:value = 'new.amber.example']","pattern_type":"stix","valid_from":"2026-03-01T05:00:00.000Z","object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]}`)})...)
	again, _, err := misp.Export(more, opt)
	if err != nil {
		t.Fatal(err)
	}
	changed := misp.ChangedEvents(prev, again)
	if len(changed) != 1 || !strings.Contains(changed[0].Info, "TLP:AMBER") {
		t.Fatalf("changed events: %d (%v)", len(changed), changed)
	}
	s.requests()
	st, err = c.PushEvents(ctx, changed)
	if err != nil || st.Edited != 1 || st.Created+st.Unchanged+st.Failed != 0 || len(st.Done) != 1 {
		t.Errorf("push of the change: %+v, %v", st, err)
	}
	bad := append([]misp.Event{{UUID: "x", Info: "no org"}}, again[0])
	st, err = c.PushEvents(ctx, bad)
	if st.Failed != 1 || st.Failed+st.Unchanged+st.Edited+st.Created != 2 || len(st.Done) != 1 || st.Done[0] != again[0].UUID ||
		err == nil || !strings.Contains(err.Error(), "no org") {
		t.Errorf("push with a bad event: %+v, %v", st, err)
	}
}
