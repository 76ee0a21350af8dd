package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/ingest/ingesttest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// The partner's side of the push tests.
const (
	partnerInboxColl = "4a7c1e2d-9b3f-4d6a-8e5c-2f1a0b9c8d7e"
	partnerTAXIIUser = "acme-inbound"
	partnerTAXIIPass = "acme-inbound-s3cret"
	partnerMISPKey   = "abcdef0123456789abcdef0123456789abcdef01"
)

// pushEnv is curatedEnv plus the partners' credentials.
func pushEnv() map[string]string {
	env := maps.Clone(curatedEnv)
	env["ACME_TAXII_USER"] = partnerTAXIIUser
	env["ACME_TAXII_PASSWORD"] = partnerTAXIIPass
	env["ACME_MISP_KEY"] = partnerMISPKey
	return env
}

// pushConfig writes the curated evaluation config with the push section
// given and returns its path.
func pushConfig(t *testing.T, dir, pushYAML string) string {
	t.Helper()
	p := curatedConfig(t, dir, time.Hour)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, []byte(pushYAML)...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// partnerTAXII is a partner's TAXII 2.1 server: a second ctibroker
// taxii.Server over its own embedded store, with one writable inbox. It
// counts the POSTs it receives.
type partnerTAXII struct {
	*httptest.Server
	mu    sync.Mutex
	posts int
}

func newPartnerTAXII(t *testing.T) *partnerTAXII {
	t.Helper()
	store := ingesttest.MustOpenStore(t, filepath.Join(t.TempDir(), "partner"), partnerInboxColl)
	t.Cleanup(func() { store.Close() })
	authn, err := auth.New(auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: partnerTAXIIUser, PasswordEnv: "P", Read: []string{partnerInboxColl}, Write: []string{partnerInboxColl}},
	}}, auth.Options{Getenv: func(string) string { return partnerTAXIIPass }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := taxii.NewServer(taxii.Config{
		APIRoots:    []taxii.APIRoot{{Name: "api1", Title: "Partner"}},
		Collections: []taxii.Collection{{ID: partnerInboxColl, APIRoot: "api1", Title: "Inbox", Kind: "stored", Writable: true}},
	}, taxii.Deps{Store: store, Auth: authn, CursorKey: []byte("partner-cursor-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	p := &partnerTAXII{}
	h := srv.Handler()
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			p.mu.Lock()
			p.posts++
			p.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *partnerTAXII) postCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posts
}

// inbox returns "id modified" of the latest version of every object in the
// partner's inbox.
func (p *partnerTAXII) inbox(t *testing.T) []string {
	t.Helper()
	var out []string
	next := ""
	for range 1000 {
		u := p.URL + "/api1/collections/" + partnerInboxColl + "/objects/?limit=1000"
		if next != "" {
			u += "&next=" + next
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		req.SetBasicAuth(partnerTAXIIUser, partnerTAXIIPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("partner inbox: %d %s", resp.StatusCode, body)
		}
		var env struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []map[string]any `json:"objects"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, versionsOf(env.Objects)...)
		if !env.More {
			slices.Sort(out)
			return out
		}
		next = env.Next
	}
	t.Fatal("more than 1000 pages")
	return nil
}

// versionsOf returns "id modified" of each object (objects without modified,
// SCOs and marking definitions of old, by id alone), sorted.
func versionsOf(objs []map[string]any) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		m, _ := o["modified"].(string)
		out = append(out, o["id"].(string)+" "+m)
	}
	slices.Sort(out)
	return out
}

// metric returns the value of the series named by prefix (name{labels}) in
// serve's /metrics, or -1.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestServePushTAXII: serve pushes partner-net, as the partner consumer sees
// it, to a collection on another TAXII 2.1 server on its schedule; the
// partner's collection then holds exactly the objects the partner polls from
// partner-net, and a push run after that sends nothing.
func TestServePushTAXII(t *testing.T) {
	partner := newPartnerTAXII(t)
	refusing := newPartnerTAXII(t) // acme-refused's wrong password gets its address blocked there
	dir := t.TempDir()
	cfg := pushConfig(t, dir, `
push:
  - name: acme-taxii
    collection: partner-net
    as: partner
    to: taxii
    url: `+partner.URL+`/api1/
    collection_id: `+partnerInboxColl+`
    username_env: ACME_TAXII_USER
    password_env: ACME_TAXII_PASSWORD
    interval: 1s
  - name: acme-refused
    collection: partner-net
    as: partner
    to: taxii
    url: `+refusing.URL+`/api1/
    collection_id: `+partnerInboxColl+`
    username_env: ACME_TAXII_USER
    password_env: ACME_OLD_PASSWORD
    interval: 1s
`)
	importEvalCorpus(t, cfg)
	env := pushEnv()
	env["ACME_OLD_PASSWORD"] = "expired-password"
	base := startServeAt(t, cfg, env, evalClock)
	waitPasses(t, base, 1)

	want := versionsOf(mustPoll(t, base, "partner", partnerNetColl))
	if len(want) == 0 {
		t.Fatal("the partner polls nothing from partner-net")
	}
	deadline := time.Now().Add(20 * time.Second)
	var got []string
	for {
		if got = partner.inbox(t); slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s the partner's inbox holds %d objects, the partner polls %d from partner-net\nmissing: %v\nextra: %v",
				len(got), len(want), minus(want, got), minus(got, want))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ok := metric(t, base, `ctibroker_push_runs_total{outcome="ok",push="acme-taxii"}`); ok < 1 {
		t.Errorf("ctibroker_push_runs_total ok = %v, want at least 1", ok)
	}
	if sent := metric(t, base, `ctibroker_push_objects_total{outcome="sent",push="acme-taxii"}`); sent < float64(len(want)) {
		t.Errorf("ctibroker_push_objects_total sent = %v, want at least %d", sent, len(want))
	}
	// A partner refusing the credentials is counted and logged; serve and the other push go on.
	for metric(t, base, `ctibroker_push_runs_total{outcome="error",push="acme-refused"}`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no failed run of acme-refused counted after 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok := metric(t, base, `ctibroker_push_runs_total{outcome="ok",push="acme-refused"}`); ok > 0 {
		t.Errorf("acme-refused: %v successful runs with a wrong password", ok)
	}

	// A push now (through serve's admin socket) has nothing new to send.
	posts := partner.postCount()
	var out, errOut bytes.Buffer
	if err := NewMain(&out, &errOut).Run(t.Context(), []string{"push", "--config", cfg, "--name", "acme-taxii"}); err != nil {
		t.Fatalf("push: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "acme-taxii: taxii push of "+partnerNetColl+"~partners~green as partner") ||
		!strings.Contains(out.String(), " 0 sent in 0 envelopes") {
		t.Errorf("second push: %q; want the partner's tier and nothing sent", out.String())
	}
	if n := partner.postCount(); n != posts {
		t.Errorf("the second push POSTed %d envelopes", n-posts)
	}
	if got := partner.inbox(t); !slices.Equal(got, want) {
		t.Errorf("after the second push the inbox holds %d objects, want %d", len(got), len(want))
	}
	t.Logf("pushed %d objects of partner-net to the partner's inbox in %d envelopes", len(want), posts)
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// mispStandIn is a MISP instance's event API on loopback: HEAD
// /events/view/{uuid} (200/404), POST /events/add, POST /events/edit/{uuid}
// (403 "not newer" unless the timestamp is newer) and POST
// /events/upload_stix/2, keeping events by uuid and recording every request
// with its raw Authorization header.
type mispStandIn struct {
	*httptest.Server
	mu       sync.Mutex
	events   map[string]misp.Event
	log      []string // "METHOD path Authorization"
	uploaded int      // objects of STIX uploads
}

func newMISPStandIn(t *testing.T) *mispStandIn {
	s := &mispStandIn{events: map[string]misp.Event{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *mispStandIn) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != partnerMISPKey {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"name":"Authentication failed.","message":"Authentication failed.","url":"`+r.URL.Path+`"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	read := func() *misp.Event {
		var got *misp.Event
		if _, err := misp.DecodeEvents(r.Body, func(ev *misp.Event) error { got = ev; return nil }); err != nil {
			return nil
		}
		return got
	}
	save := func(ev *misp.Event) {
		s.events[ev.UUID] = *ev
		b, _ := json.Marshal(ev.Info)
		io.WriteString(w, `{"Event":{"id":"`+strconv.Itoa(len(s.events))+`","uuid":"`+ev.UUID+`","info":`+string(b)+`}}`)
	}
	switch path := r.URL.Path; {
	case r.Method == http.MethodHead && strings.HasPrefix(path, "/events/view/"):
		if _, ok := s.events[strings.TrimPrefix(path, "/events/view/")]; ok {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodPost && path == "/events/add":
		ev := read()
		if ev == nil {
			http.Error(w, `{"errors":"bad body"}`, http.StatusBadRequest)
			return
		}
		if _, ok := s.events[ev.UUID]; ok {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"name":"Event already exists","message":"Event already exists","url":"/events/add"}`)
			return
		}
		save(ev)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/events/edit/"):
		ev := read()
		id := strings.TrimPrefix(path, "/events/edit/")
		if ev == nil || ev.UUID != id {
			http.Error(w, `{"errors":"bad body"}`, http.StatusBadRequest)
			return
		}
		newTS, _ := ev.Timestamp.Int()
		oldTS, _ := s.events[id].Timestamp.Int()
		if newTS <= oldTS {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"name":"Event could not be saved: Event in the request not newer than the local copy.","message":"Event in the request not newer than the local copy.","url":"`+path+`"}`)
			return
		}
		save(ev)
	case r.Method == http.MethodPost && path == "/events/upload_stix/2":
		var b struct {
			Type    string            `json:"type"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Type != "bundle" || len(b.Objects) == 0 {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"saved":false,"name":"Could not import the STIX file","message":"Could not import the STIX file"}`)
			return
		}
		s.uploaded += len(b.Objects)
		io.WriteString(w, `{"saved":true,"success":true,"name":"STIX document imported.","message":"STIX document imported."}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"name":"Not Found","message":"Not Found","url":"`+path+`"}`)
	}
}

// requests returns the requests recorded so far and forgets them.
func (s *mispStandIn) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

// TestServePushMISP: `ctibroker push`, run through serve's admin socket, adds
// partner-net as the partner sees it to a MISP instance: the events carry, as
// to_ids attributes, exactly the values of the indicators the partner polls,
// no tag above the partner's TLP:GREEN, and every request has the raw MISP
// key; a second push sends nothing. The STIX mode uploads the partner's
// object versions once.
func TestServePushMISP(t *testing.T) {
	standIn := newMISPStandIn(t)
	dir := t.TempDir()
	cfg := pushConfig(t, dir, `
push:
  - name: acme-misp
    collection: `+partnerNetColl+`
    as: partner
    to: misp
    url: `+standIn.URL+`
    key_env: ACME_MISP_KEY
  - name: acme-misp-stix
    collection: partner-net
    as: partner
    to: misp
    mode: stix
    url: `+standIn.URL+`
    key_env: ACME_MISP_KEY
`)
	importEvalCorpus(t, cfg)
	base := startServeAt(t, cfg, pushEnv(), evalClock)
	waitPasses(t, base, 1)

	push := func(name string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := NewMain(&out, &errOut).Run(t.Context(), []string{"push", "--config", cfg, "--name", name}); err != nil {
			t.Fatalf("push %s: %v\n%s%s", name, err, out.String(), errOut.String())
		}
		return out.String()
	}
	out := push("acme-misp")
	reqs := standIn.requests()
	if len(reqs) == 0 {
		t.Fatalf("the push sent no request: %s", out)
	}
	for _, r := range reqs {
		if !strings.HasSuffix(r, " "+partnerMISPKey) {
			t.Fatalf("request %q: want the raw MISP key as Authorization", r)
		}
		if !strings.HasPrefix(r, "HEAD /events/view/") && !strings.HasPrefix(r, "POST /events/add ") && !strings.HasPrefix(r, "POST /events/edit/") {
			t.Errorf("unexpected request %q", r)
		}
	}
	var detect []string
	for uuid, ev := range standIn.events {
		tags := ev.Tag
		for _, a := range ev.Attribute {
			tags = append(tags, a.Tag...)
			if a.ToIDs != nil && bool(*a.ToIDs) && !bool(a.Deleted) {
				detect = append(detect, a.Value)
			}
		}
		for _, o := range ev.Object {
			for _, a := range o.Attribute {
				tags = append(tags, a.Tag...)
			}
		}
		for _, tg := range tags {
			if n := strings.ToLower(tg.Name); strings.HasPrefix(n, "tlp:") && n != "tlp:clear" && n != "tlp:white" && n != "tlp:green" {
				t.Errorf("event %s carries %s to a TLP:GREEN partner", uuid, tg.Name)
			}
		}
	}
	var polled []string
	partnerNet := mustPoll(t, base, "partner", partnerNetColl)
	for _, o := range indicators(partnerNet) {
		polled = append(polled, patternValue(o))
	}
	slices.Sort(detect)
	slices.Sort(polled)
	if len(polled) == 0 || !slices.Equal(detect, polled) {
		t.Errorf("the pushed events' to_ids values (%d) differ from the partner's TAXII indicators (%d):\n%v\n%v", len(detect), len(polled), detect, polled)
	}
	if !strings.Contains(out, "acme-misp: misp push of "+partnerNetColl+"~partners~green as partner") ||
		!strings.Contains(out, strconv.Itoa(len(standIn.events))+" created") {
		t.Errorf("push output %q; want the partner's tier and %d events created", out, len(standIn.events))
	}

	// Nothing changed: the second push asks MISP nothing.
	out = push("acme-misp")
	if reqs := standIn.requests(); len(reqs) != 0 {
		t.Errorf("the second push sent %d requests (%v); want none", len(reqs), reqs[:min(3, len(reqs))])
	}
	if !strings.Contains(out, " 0 changed") {
		t.Errorf("second push: %q; want 0 changed", out)
	}

	// The STIX mode uploads each object version of the partner's view once.
	push("acme-misp-stix")
	if standIn.uploaded != len(partnerNet) {
		t.Errorf("STIX uploads carried %d objects; the partner polls %d", standIn.uploaded, len(partnerNet))
	}
	standIn.requests()
	push("acme-misp-stix")
	if reqs := standIn.requests(); len(reqs) != 0 {
		t.Errorf("the second STIX push sent %v; want nothing", reqs)
	}
	t.Logf("pushed %d MISP events with %d to_ids values; %d objects as STIX", len(standIn.events), len(detect), standIn.uploaded)
}

// TestPushConfig: push entries are checked against the configured
// collections and consumers when the config loads, and by `config check`;
// errors name the entry and key.
func TestPushConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(evalDir, "ctibroker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const entry = `
push:
  - name: acme-taxii
    collection: partner-net
    as: partner
    to: taxii
    url: https://taxii.acme.example/api1/
    collection_id: 4a7c1e2d-9b3f-4d6a-8e5c-2f1a0b9c8d7e
    username_env: ACME_TAXII_USER
    password_env: ACME_TAXII_PASSWORD
    interval: 1h
  - name: acme-misp
    collection: partner-net
    as: partner
    to: misp
    url: https://misp.acme.example
    key_env: ACME_MISP_KEY
    mode: events
`
	valid := string(b) + curatedYAML + entry
	if _, err := parseConfig([]byte(valid)); err != nil {
		t.Fatalf("the push example: %v", err)
	}
	for name, tt := range map[string]struct{ old, new, want string }{
		"unknown consumer":   {"as: partner\n    to: taxii", "as: acme\n    to: taxii", `push[0].as: unknown consumer "acme"`},
		"no read grant":      {"collection: partner-net\n    as: partner\n    to: taxii", "collection: soc-high\n    as: partner\n    to: taxii", `push[0].as: consumer "partner" may not read collection "soc-high"`},
		"unknown collection": {"collection: partner-net\n    as: partner\n    to: misp", "collection: partners\n    as: partner\n    to: misp", `push[1].collection: unknown collection "partners"`},
		"no consumer":        {"    as: partner\n    to: misp\n", "    to: misp\n", "push[1].as: required"},
		"bad to":             {"to: misp", "to: misp-sync", `push[1].to: "misp-sync": want taxii or misp`},
		"no url":             {"    url: https://misp.acme.example\n", "", "push[1].url: required"},
		"url credentials":    {"https://misp.acme.example", "https://admin:pw@misp.acme.example", "push[1].url: credentials go in the *_env keys"},
		"taxii no coll":      {"    collection_id: 4a7c1e2d-9b3f-4d6a-8e5c-2f1a0b9c8d7e\n", "", "push[0].collection_id: required"},
		"taxii half basic":   {"    password_env: ACME_TAXII_PASSWORD\n", "", "push[0].username_env: username_env and password_env go together"},
		"taxii key":          {"    interval: 1h\n", "    interval: 1h\n    key_env: K\n", "push[0].key_env: only for to: misp"},
		"misp no key":        {"    key_env: ACME_MISP_KEY\n", "", "push[1].key_env: required"},
		"misp mode":          {"mode: events", "mode: feed", `push[1].mode: "feed": want events or stix`},
		"duplicate name":     {"name: acme-misp", "name: acme-taxii", `push[1].name: "acme-taxii" used twice`},
		"bad name":           {"name: acme-misp", "name: acme misp", "push[1].name"},
		"negative interval":  {"interval: 1h\n  - name", "interval: -1h\n  - name", "push[0].interval"},
		"unknown key":        {"mode: events", "mode: events\n    tlp: green", "tlp"},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(valid, tt.old) {
				t.Fatalf("the example lacks %q", tt.old)
			}
			_, err := parseConfig([]byte(strings.Replace(valid, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseConfig: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}

	// config check names an unknown consumer with the file.
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(valid, "as: partner\n    to: misp", "as: nobody\n    to: misp", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, pushEnv(), "config", "check", p)
	if err == nil || !strings.Contains(err.Error(), `push[1].as: unknown consumer "nobody"`) {
		t.Fatalf("config check: %v; want push[1].as: unknown consumer \"nobody\"", err)
	}
	// and a push whose secret is not in the environment, as serve would refuse to start
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, pushEnv(), "config", "check", good); err != nil {
		t.Fatalf("config check with every secret set: %v", err)
	}
	env := pushEnv()
	delete(env, "ACME_MISP_KEY")
	if _, _, err := run(t, env, "config", "check", good); err == nil || !strings.Contains(err.Error(), "ACME_MISP_KEY") {
		t.Fatalf("config check without ACME_MISP_KEY: %v; want an error naming it", err)
	}
}
