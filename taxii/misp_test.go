package taxii_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// MISP sync keys (40 characters, as MISP's auth keys).
const (
	mispSyncKey = "Xk3vQ9zL1pR7sT2wY5uB8nC4mD6fG0hJ2aE9iO1q" // consumer mispsync: writes the inbox
	mispROKey   = "Rr0aD0nLyKeY1234567890abcdefghijklmnopqr" // consumer mispro: reads only
	mispUA      = "MISP 2.5.1 - #bb0909a37a7b"
	mispTestID  = "identity--6a5f5a1e-1b1d-4c4a-9e8f-2b7c7d0e5f11"
	mispMaxBody = 1 << 20
)

// oneBatch is a Source emitting one fixed batch: a push handed to the Runner.
type oneBatch ingest.Batch

func (b oneBatch) Pull(_ context.Context, _ ingest.Cursor, emit func(ingest.Batch) error) error {
	return emit(ingest.Batch(b))
}

// mispEnv is a server with MISP sync configured, its PoolSink wired to a real
// ingest.Runner over the same bolt store (as cmd wires it), recording pushes.
type mispEnv struct {
	*env
	mu     sync.Mutex
	pushes []taxii.PoolPush
	fail   error // when set, the sink answers it (a pool outage)
	noPool bool  // when set, the sink records nothing and runs no Runner
}

func newMISPEnv(t testing.TB, mutate func(*taxii.Config)) *mispEnv {
	return newMISPEnvDeps(t, mutate, nil)
}

func newMISPEnvDeps(t testing.TB, mutate func(*taxii.Config), mutateDeps func(*taxii.Deps)) *mispEnv {
	t.Helper()
	me := &mispEnv{}
	me.env = newEnv(t, func(c *taxii.Config, d *taxii.Deps) {
		acfg := testAuthConfig()
		acfg.Consumers = append(acfg.Consumers,
			auth.ConsumerConfig{Name: "mispsync", MISPKeyEnv: "MISP_SYNC_KEY", Read: []string{collInbox}, Write: []string{collInbox}},
			auth.ConsumerConfig{Name: "mispro", MISPKeyEnv: "MISP_RO_KEY", Read: []string{collInbox}})
		a, err := auth.New(acfg, auth.Options{Getenv: func(n string) string {
			switch n {
			case "MISP_SYNC_KEY":
				return mispSyncKey
			case "MISP_RO_KEY":
				return mispROKey
			}
			return getenv(n)
		}})
		if err != nil {
			t.Fatalf("auth.New: %v", err)
		}
		d.Auth = a
		c.MISPSync = taxii.MISPSync{
			Collection: collInbox,
			Consumers: []taxii.MISPSyncConsumer{
				{Consumer: "mispsync", Collection: collInbox, Feed: "misp-partner"},
				{Consumer: "misp", Collection: collInbox, Feed: "misp-partner"}, // the same MISP pushing over TAXII
			},
			MaxBody: mispMaxBody,
		}
		ix, err := attack.Load(filepath.Join("..", "ingest", "attack", "testdata", "enterprise-attack-18.1-sample.json"))
		if err != nil {
			t.Fatalf("ATT&CK sample: %v", err)
		}
		d.MISPConverter = func(feed string) misp.Converter {
			if feed != "misp-partner" {
				t.Errorf("converter asked for feed %q", feed)
			}
			return misp.Converter{Attack: ix, Identity: mispTestID, Share: ingest.SharePartners}
		}
		d.PoolSink = me.sink
		if mutate != nil {
			mutate(c)
		}
		if mutateDeps != nil {
			mutateDeps(d)
		}
	})
	if err := me.store.EnsureCollection(t.Context(), ingest.DefaultPool, storage.KindStored); err != nil {
		t.Fatal(err)
	}
	return me
}

// sink runs the push through the ingest Runner as a feed of its own
// reliability (B), the wiring cmd does.
func (me *mispEnv) sink(ctx context.Context, p *taxii.PoolPush) error {
	cfg := ingest.FeedConfig{Name: p.Feed, Provider: p.Provider, Reliability: ingest.Reliability{Score: 80, Grade: "B", Set: true}}
	if err := cfg.Validate(); err != nil {
		return err
	}
	me.mu.Lock()
	me.pushes = append(me.pushes, *p)
	fail := me.fail
	me.mu.Unlock()
	if fail != nil {
		return fail
	}
	if me.noPool {
		return nil
	}
	_, err := (&ingest.Runner{Store: me.store, Identity: mispTestID}).Run(ctx, &ingest.Feed{Config: cfg, Source: oneBatch(p.Batch)})
	return err
}

// mispClient replays MISP 2.5.1's sync requests (ServerSyncTool, misp.md §2.1):
// the raw key, JSON headers, the MISP User-Agent, and gzip bodies above 1 KiB
// once getVersion advertised gzip.
type mispClient struct {
	t    testing.TB
	e    *mispEnv
	key  string
	gzip bool
	sent []string // "METHOD path encoding" of every request
}

func (m *mispClient) do(method, path string, body any) *resp {
	m.t.Helper()
	var rd io.Reader
	enc := ""
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case []byte:
			b = v
		default:
			b = mustJSON(v)
		}
		if m.gzip && len(b) > 1024 {
			var z bytes.Buffer
			w, _ := gzip.NewWriterLevel(&z, 1)
			w.Write(b)
			w.Close()
			b, enc = z.Bytes(), "gzip"
		}
		rd = bytes.NewReader(b)
	}
	hr, err := http.NewRequest(method, m.e.url+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	if m.key != "" {
		hr.Header.Set("Authorization", m.key)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", mispUA)
	if enc != "" {
		hr.Header.Set("Content-Encoding", enc)
	}
	m.sent = append(m.sent, strings.TrimSpace(method+" "+path+" "+enc))
	res, err := m.e.client.Do(hr)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// ok fails unless r is what CakePHP's isOk and MISP's json() accept: 200–206
// with a JSON body.
func (m *mispClient) ok(r *resp, what string) any {
	m.t.Helper()
	if r.status < 200 || r.status > 206 {
		m.t.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		m.t.Fatalf("%s: body is not JSON: %v: %s", what, err, r.body)
	}
	return v
}

// mispErr fails unless r is a MISP-shaped JSON error with status want, and
// returns it.
func mispErr(t testing.TB, r *resp, want int) map[string]any {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json (MISP errors, not TAXII)", ct)
	}
	m := r.json(t)
	for _, k := range []string{"name", "message", "url"} {
		if _, ok := m[k].(string); !ok {
			t.Fatalf("MISP error without %q: %s", k, r.body)
		}
	}
	if _, taxiiShape := m["http_status"]; taxiiShape {
		t.Fatalf("a TAXII error message on a MISP route: %s", r.body)
	}
	return m
}

// connect runs MISP's "check connection" (misp.md §2.5): getVersion, postTest
// with its 6254-byte test string, users/view/me.json.
func (m *mispClient) connect() map[string]any {
	m.t.Helper()
	v := m.ok(m.do("GET", "/servers/getVersion", nil), "getVersion").(map[string]any)
	if v["version"] != "2.5.1" {
		m.t.Fatalf("getVersion version %v, want the caller's 2.5.1", v["version"])
	}
	enc, _ := v["request_encoding"].([]any)
	m.gzip = slices.Contains(enc, any("gzip"))
	return v
}

func (m *mispClient) postTest() {
	m.t.Helper()
	testString := strings.Repeat("MISP-sync-test ", 417)[:6254]
	r := m.ok(m.do("POST", "/servers/postTest", map[string]string{"testString": testString}), "postTest").(map[string]any)
	if !m.gzip || m.sent[len(m.sent)-1] != "POST /servers/postTest gzip" {
		m.t.Fatalf("postTest not sent gzip-compressed: %v", m.sent)
	}
	body, _ := r["body"].(map[string]any)
	h, _ := r["headers"].(map[string]any)
	if body["testString"] != testString || h["Content-type"] != "application/json" || h["Accept"] != "application/json" {
		m.t.Fatalf("postTest echo fails Server::runPOSTtest: %s", mustJSON(r)[:200])
	}
}

// event builds a MISP sync push body (misp.md §2.4): Orgc, exportable tags,
// attributes with deleted flags, an object, locked 1, no Galaxy blocks.
func syncEvent(uuid string, ts int64, attrs []map[string]any) map[string]any {
	return map[string]any{"Event": map[string]any{
		"uuid": uuid, "info": "Sync push test " + uuid[:8], "date": "2025-05-01",
		"timestamp": fmt.Sprint(ts), "publish_timestamp": fmt.Sprint(ts + 5), "published": true,
		"threat_level_id": "2", "analysis": "2", "distribution": "1", "sharing_group_id": "0", "locked": 1, "protected": nil,
		"Orgc": map[string]any{"id": "2", "name": "Partner CSIRT", "uuid": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "local": false},
		"Tag": []any{
			map[string]any{"name": "tlp:green", "colour": "#33FF00", "exportable": true, "local": 0},
			map[string]any{"name": `misp-galaxy:mitre-attack-pattern="Command and Scripting Interpreter - T1059"`, "exportable": true},
		},
		"Attribute": attrs,
		"Object": []any{map[string]any{
			"uuid": "0b000001-0000-4000-8000-00000000000a", "name": "file", "meta-category": "file", "timestamp": fmt.Sprint(ts - 50),
			"distribution": "5", "deleted": false,
			"Attribute": []any{
				map[string]any{"uuid": "0b000001-0000-4000-8000-00000000000b", "type": "sha256", "category": "Payload delivery", "object_relation": "sha256",
					"value": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "to_ids": true, "timestamp": fmt.Sprint(ts - 50), "deleted": false},
				map[string]any{"uuid": "0b000001-0000-4000-8000-00000000000c", "type": "filename", "category": "Payload delivery", "object_relation": "filename",
					"value": "dropper.exe", "to_ids": false, "timestamp": fmt.Sprint(ts - 50), "deleted": false},
			},
		}},
	}}
}

func attr(uuid, typ, value string, ts int64, deleted bool) map[string]any {
	return map[string]any{"uuid": uuid, "type": typ, "category": "Network activity", "value": value, "to_ids": true,
		"timestamp": fmt.Sprint(ts), "distribution": "5", "deleted": deleted, "comment": ""}
}

// lastVersion returns the last stored version of id in collection, or nil.
func (me *mispEnv) lastVersion(t testing.TB, collection, id string) map[string]any {
	t.Helper()
	page, err := me.store.QueryObjects(t.Context(), collection, storage.Filter{IDs: []string{id}, Versions: []string{storage.VersionLast}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(page.Records[0].JSON, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (me *mispEnv) versions(t testing.TB, collection, id string) int {
	t.Helper()
	page, err := me.store.QueryObjects(t.Context(), collection, storage.Filter{IDs: []string{id}, Versions: []string{storage.VersionAll}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Records)
}

func (me *mispEnv) count(t testing.TB, collection string) int {
	t.Helper()
	page, err := me.store.QueryObjects(t.Context(), collection, storage.Filter{Versions: []string{storage.VersionAll}, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Records)
}

func poolID(t testing.TB, typ, value string) string {
	t.Helper()
	v, err := ingest.Normalize(typ, value)
	if err != nil {
		t.Fatal(err)
	}
	return ingest.IndicatorID(v)
}

func refsOf(m map[string]any) []string {
	var out []string
	for _, r := range m["object_refs"].([]any) {
		out = append(out, r.(string))
	}
	return out
}

// TestMISPSyncReplay replays MISP 2.5.1's server-sync push (misp.md §2.2–§2.4)
// against the server over bolt: the connection test, a bulk push of a new
// event (filterEventIdsForPush, HEAD, add, events/index), a publish-triggered
// re-push of the same event (HEAD, edit → 403 not newer), an edited event with
// deleted attributes (edit), the stale older version (403), and the sightings
// calls. Objects land in the consumer's collection, values in the pool through
// the ingest Runner.
func TestMISPSyncReplay(t *testing.T) {
	me := newMISPEnv(t, nil)
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	ctx := t.Context()

	// check connection
	v := m.connect()
	if v["perm_sync"] != true || v["perm_galaxy_editor"] != false || v["perm_analyst_data"] != false || v["filter_sightings"] != true {
		t.Fatalf("getVersion: %v", v)
	}
	if u, _ := v["uuid"].(string); len(u) != 36 {
		t.Fatalf("getVersion uuid %v", v["uuid"])
	}
	m.postTest()
	me2 := m.ok(m.do("GET", "/users/view/me.json", nil), "users/view/me").(map[string]any)
	if me2["User"].(map[string]any)["email"] != "mispsync" || me2["Role"].(map[string]any)["perm_sync"] != true {
		t.Fatalf("users/view/me: %v", me2)
	}

	const evUUID = "5c0e1a2b-3d4e-4f50-8a61-7b8c9d0e1f2a"
	const ts1 = int64(1746100000)
	v1 := syncEvent(evUUID, ts1, []map[string]any{
		attr("a0000001-0000-4000-8000-000000000001", "domain", "mail-gov.example.de", ts1-100, false),
		attr("a0000001-0000-4000-8000-000000000002", "ip-dst", "203.0.113.7", ts1-99, false),
		attr("a0000001-0000-4000-8000-000000000003", "mutex", "Global\\sync-test-mutex", ts1-98, false),
	})

	// bulk push: filterEventIdsForPush offers the event, we want it
	offer := func(ts int64) []any {
		return m.ok(m.do("POST", "/events/filterEventIdsForPush",
			[]any{map[string]any{"Event": map[string]any{"uuid": evUUID, "timestamp": fmt.Sprint(ts)}}}), "filterEventIdsForPush").([]any)
	}
	if got := offer(ts1); len(got) != 1 || got[0] != evUUID {
		t.Fatalf("filterEventIdsForPush = %v, want [%s]", got, evUUID)
	}
	if r := m.do("HEAD", "/events/view/"+evUUID, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD unknown event: %d", r.status)
	}
	saved := m.ok(m.do("POST", "/events/add/metadata:1", v1), "events/add").(map[string]any)
	if e := saved["Event"].(map[string]any); e["uuid"] != evUUID || e["id"] == "" || e["id"] == nil {
		t.Fatalf("add answered %v", saved)
	}
	if !slices.Contains(m.sent, "POST /events/add/metadata:1 gzip") {
		t.Fatalf("the event was not sent gzip-compressed: %v", m.sent)
	}
	if idx := m.ok(m.do("POST", "/events/index", map[string]any{"minimal": 1, "published": 1}), "events/index").([]any); len(idx) != 0 {
		t.Fatalf("events/index = %v, want []", idx)
	}
	// stored: report, creator identity, TLP marking, the mutex indicator; pool: the values
	reportID := misp.ReportID(evUUID)
	rep := me.lastVersion(t, collInbox, reportID)
	if rep == nil {
		t.Fatal("report not stored in the consumer's collection")
	}
	mutexID := ""
	for _, ref := range refsOf(rep) {
		if strings.HasPrefix(ref, "indicator--") && me.lastVersion(t, collInbox, ref) != nil {
			mutexID = ref
		}
	}
	if mutexID == "" || me.lastVersion(t, collInbox, mutexID)["pattern"] != `[mutex:name = 'Global\\sync-test-mutex']` {
		t.Fatalf("mutex indicator %q not in the collection", mutexID)
	}
	if me.lastVersion(t, collInbox, "identity--7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918") == nil {
		t.Fatal("creator org identity not stored")
	}
	domainID := poolID(t, "domain-name", "mail-gov.example.de")
	if !slices.Contains(refsOf(rep), domainID) {
		t.Fatalf("report does not reference the domain's pool indicator %s: %v", domainID, refsOf(rep))
	}
	for _, id := range []string{domainID, poolID(t, "ipv4-addr", "203.0.113.7"), poolID(t, "sha256", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")} {
		if ind := me.lastVersion(t, ingest.DefaultPool, id); ind == nil || ind["valid_until"] != nil {
			t.Fatalf("pool indicator %s: %v", id, ind)
		}
	}
	prov, err := me.store.Provenance(ctx, "domain-name", "mail-gov.example.de")
	if err != nil || len(prov) != 1 || prov[0].Feed != "misp-partner" {
		t.Fatalf("provenance of the domain: %+v, %v; want one record of feed misp-partner", prov, err)
	}
	if got := offer(ts1); len(got) != 0 {
		t.Fatalf("filterEventIdsForPush after the push = %v, want []", got)
	}
	stored := me.count(t, collInbox)

	// publish-triggered push of the same version (no filter step): HEAD 200, edit → 403 not newer
	if r := m.do("HEAD", "/events/view/"+evUUID, nil); r.status != http.StatusOK {
		t.Fatalf("HEAD known event: %d", r.status)
	}
	r := m.do("POST", "/events/edit/"+evUUID+"/metadata:1", v1)
	if e := mispErr(t, r, http.StatusForbidden); e["errors"] != "Event could not be saved: Event in the request not newer than the local copy." {
		t.Fatalf("re-push answered %s", r.body)
	}
	if n := me.count(t, collInbox); n != stored {
		t.Fatalf("a re-push stored %d objects", n-stored)
	}

	// the event is edited: the domain and the mutex deleted, a url added
	const ts2 = ts1 + 3600
	v2 := syncEvent(evUUID, ts2, []map[string]any{
		attr("a0000001-0000-4000-8000-000000000001", "domain", "mail-gov.example.de", ts2-10, true),
		attr("a0000001-0000-4000-8000-000000000002", "ip-dst", "203.0.113.7", ts1-99, false),
		attr("a0000001-0000-4000-8000-000000000003", "mutex", "Global\\sync-test-mutex", ts2-10, true),
		attr("a0000001-0000-4000-8000-000000000004", "url", "https://mail-gov.example.de/login.php", ts2-5, false),
	})
	if got := offer(ts2); len(got) != 1 {
		t.Fatalf("filterEventIdsForPush for the edit = %v", got)
	}
	if r := m.do("HEAD", "/events/view/"+evUUID+".json", nil); r.status != http.StatusOK {
		t.Fatalf("HEAD .json: %d", r.status)
	}
	m.ok(m.do("POST", "/events/edit/"+evUUID+"/metadata:1", v2), "events/edit")
	if n := me.versions(t, collInbox, reportID); n != 2 {
		t.Fatalf("report versions %d, want 2", n)
	}
	rep2 := me.lastVersion(t, collInbox, reportID)
	refs := refsOf(rep2)
	if slices.Contains(refs, domainID) || slices.Contains(refs, mutexID) || !slices.Contains(refs, poolID(t, "url", "https://mail-gov.example.de/login.php")) {
		t.Fatalf("edited report refs %v", refs)
	}
	mutex := me.lastVersion(t, collInbox, mutexID)
	if mutex["revoked"] != true || me.versions(t, collInbox, mutexID) != 2 {
		t.Fatalf("deleted mutex attribute: last version %v (%d versions), want revoked", mutex, me.versions(t, collInbox, mutexID))
	}
	first := func() map[string]any {
		page, _ := me.store.QueryObjects(ctx, collInbox, storage.Filter{IDs: []string{mutexID}, Versions: []string{storage.VersionFirst}, Limit: 1})
		var x map[string]any
		json.Unmarshal(page.Records[0].JSON, &x)
		return x
	}()
	if first["created"] != mutex["created"] {
		t.Fatalf("revoked version changed created: %v → %v", first["created"], mutex["created"])
	}
	if ind := me.lastVersion(t, ingest.DefaultPool, domainID); ind == nil || ind["valid_until"] == nil {
		t.Fatalf("deleted domain not withdrawn in the pool: %v", ind)
	}
	if me.lastVersion(t, ingest.DefaultPool, poolID(t, "url", "https://mail-gov.example.de/login.php")) == nil {
		t.Fatal("added url not in the pool")
	}

	// the older version arrives late: stale
	mispErr(t, m.do("POST", "/events/edit/"+evUUID+"/metadata:1", v1), http.StatusForbidden)
	mispErr(t, m.do("POST", "/events/add/metadata:1", v1), http.StatusForbidden)
	if got := offer(ts1); len(got) != 0 {
		t.Fatalf("older timestamp offered and wanted: %v", got)
	}
	if rep := me.lastVersion(t, collInbox, reportID); rep["modified"] != rep2["modified"] {
		t.Fatal("a stale push changed the report")
	}

	// sightings after the event push
	if got := m.ok(m.do("POST", "/sightings/filterSightingUuidsForPush/"+evUUID, []string{"b2000001-0000-4000-8000-000000000001"}), "filterSightingUuidsForPush").([]any); len(got) != 0 {
		t.Fatalf("filterSightingUuidsForPush = %v", got)
	}
	res := m.ok(m.do("POST", "/sightings/bulkSaveSightings/"+evUUID, []any{map[string]any{
		"id": "1", "attribute_id": "7", "event_id": "3", "org_id": "0", "date_sighting": "1746100100",
		"uuid": "b2000001-0000-4000-8000-000000000001", "source": "", "type": "0", "attribute_uuid": "a0000001-0000-4000-8000-000000000002",
		"Organisation": map[string]any{"id": "2", "uuid": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "name": "Partner CSIRT"}}}), "bulkSaveSightings").(map[string]any)
	if res["saved"] != true {
		t.Fatalf("bulkSaveSightings: %v", res)
	}
	if !strings.Contains(me.audit.String(), "misp event="+evUUID) {
		t.Error("MISP pushes not in the audit log")
	}
}

// TestMISPSyncRealEvent pushes the real 49-object Sednit event (PyMISP test
// data) in MISP's sync form: Org and org ids removed, Galaxy blocks dropped
// (excludeGalaxy), locked, gzip-compressed.
func TestMISPSyncRealEvent(t *testing.T) {
	me := newMISPEnv(t, nil)
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	var doc map[string]any
	if err := json.Unmarshal(readShared(t, "testdata/providers/misp/event_sednit_objects_galaxies.json"), &doc); err != nil {
		t.Fatal(err)
	}
	ev := doc
	if inner, ok := doc["Event"].(map[string]any); ok {
		ev = inner
	}
	for _, k := range []string{"Org", "org_id", "orgc_id", "proposal_email_lock", "Galaxy", "RelatedEvent"} {
		delete(ev, k)
	}
	ev["locked"] = 1
	m.connect()
	uuid := ev["uuid"].(string)
	if r := m.do("HEAD", "/events/view/"+uuid, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD: %d", r.status)
	}
	m.ok(m.do("POST", "/events/add/metadata:1", map[string]any{"Event": ev}), "add real event")
	rep := me.lastVersion(t, collInbox, misp.ReportID(uuid))
	if rep == nil || len(refsOf(rep)) < 20 {
		t.Fatalf("report of the real event: %v", rep)
	}
	me.mu.Lock()
	defer me.mu.Unlock()
	if len(me.pushes) != 1 || len(me.pushes[0].Batch.Observations) < 20 || me.pushes[0].Feed != "misp-partner" || me.pushes[0].Provider != misp.Provider {
		t.Fatalf("pool pushes: %d", len(me.pushes))
	}
}

// TestMISPSyncRefusals: wrong and missing keys, a consumer without a write
// grant, malformed events, an unsupported encoding and a decompression bomb all
// get MISP-shaped JSON errors and store nothing.
func TestMISPSyncRefusals(t *testing.T) {
	me := newMISPEnv(t, nil)
	good := &mispClient{t: t, e: me, key: mispSyncKey}
	good.connect()
	const evUUID = "6d1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"
	ev := syncEvent(evUUID, 1746100000, []map[string]any{attr("c0000001-0000-4000-8000-000000000001", "domain", "refused.example", 1746099000, false)})

	for name, key := range map[string]string{"wrong key": "0000000000000000000000000000000000000000", "no key": "", "a Basic header": basic("misp", passwords["misp"])} {
		t.Run(name, func(t *testing.T) {
			m := &mispClient{t: t, e: me, key: key}
			e := mispErr(t, m.do("GET", "/servers/getVersion", nil), http.StatusForbidden)
			if !strings.HasPrefix(e["name"].(string), "Authentication failed") {
				t.Fatalf("name %q", e["name"])
			}
			mispErr(t, m.do("POST", "/events/add/metadata:1", ev), http.StatusForbidden)
		})
	}
	t.Run("read-only consumer", func(t *testing.T) {
		m := &mispClient{t: t, e: me, key: mispROKey}
		v := m.ok(m.do("GET", "/servers/getVersion", nil), "getVersion").(map[string]any)
		if v["perm_sync"] != false {
			t.Fatalf("perm_sync %v for a consumer without a write grant", v["perm_sync"])
		}
		e := mispErr(t, m.do("POST", "/events/add/metadata:1", ev), http.StatusForbidden)
		if !strings.Contains(e["message"].(string), `"mispro" may not write`) {
			t.Fatalf("message %q", e["message"])
		}
	})
	for name, body := range map[string][]byte{
		"uuid not a UUID":      []byte(`{"Event":{"uuid":"not-a-uuid","info":"x","timestamp":"1746100000"}}`),
		"timestamp not unix":   []byte(`{"Event":{"uuid":"` + evUUID + `","info":"x","timestamp":"yesterday"}}`),
		"cut off":              []byte(`{"Event":{"uuid":"` + evUUID + `","info":"x","timestamp":"1746100000","Attribute":[{"uuid":"c0`),
		"not an event":         []byte(`{"Server":{"url":"https://misp.example"}}`),
		"two events":           []byte(`[{"Event":{"uuid":"` + evUUID + `","timestamp":"1"}},{"Event":{"uuid":"` + evUUID + `","timestamp":"2"}}]`),
		"attribute not a list": []byte(`{"Event":{"uuid":"` + evUUID + `","info":"x","timestamp":"1746100000","Attribute":{"uuid":3}}}`),
	} {
		t.Run("malformed "+name, func(t *testing.T) {
			e := mispErr(t, good.do("POST", "/events/add/metadata:1", body), http.StatusBadRequest)
			if e["name"] != "Could not add Event" || e["message"] == "" {
				t.Fatalf("error %v", e)
			}
		})
	}
	t.Run("path and body disagree", func(t *testing.T) {
		mispErr(t, good.do("POST", "/events/edit/"+"7e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"+"/metadata:1", ev), http.StatusBadRequest)
	})
	t.Run("brotli", func(t *testing.T) {
		hr, _ := http.NewRequest("POST", me.url+"/events/add/metadata:1", bytes.NewReader([]byte{0x1b, 0x00}))
		hr.Header.Set("Authorization", mispSyncKey)
		hr.Header.Set("Content-Encoding", "br")
		res, err := me.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mispErr(t, &resp{status: res.StatusCode, header: res.Header, body: b}, http.StatusUnsupportedMediaType)
	})
	t.Run("decompression bomb", func(t *testing.T) {
		// 64 MiB of JSON white space in ~64 KiB of gzip: the cap stops it at max_body
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write([]byte(`{"Event":{"uuid":"` + evUUID + `","info":"`))
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		for range 64 {
			w.Write(chunk)
		}
		w.Write([]byte(`","timestamp":"1746100000"}}`))
		w.Close()
		if z.Len() >= mispMaxBody {
			t.Fatalf("bomb of %d compressed bytes is not below the cap", z.Len())
		}
		hr, _ := http.NewRequest("POST", me.url+"/events/add/metadata:1", bytes.NewReader(z.Bytes()))
		hr.Header.Set("Authorization", mispSyncKey)
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Content-Encoding", "gzip")
		res, err := me.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		e := mispErr(t, &resp{status: res.StatusCode, header: res.Header, body: b}, http.StatusRequestEntityTooLarge)
		if !strings.Contains(e["message"].(string), "decompressed body exceeds misp_sync.max_body") {
			t.Fatalf("message %q", e["message"])
		}
	})
	// nothing of the refused pushes was stored
	if n := me.count(t, collInbox); n != 0 {
		t.Fatalf("refused pushes stored %d objects", n)
	}
	if r := good.do("HEAD", "/events/view/"+evUUID, nil); r.status != http.StatusNotFound {
		t.Fatalf("refused event is known: HEAD %d", r.status)
	}
	me.mu.Lock()
	defer me.mu.Unlock()
	if len(me.pushes) != 0 {
		t.Fatalf("refused pushes reached the pool: %d", len(me.pushes))
	}
}

// TestMISPSyncNotConfigured: once a reload removes misp_sync the endpoints
// are 404 in MISP's shape, and the TAXII routes keep their TAXII errors.
func TestMISPSyncNotConfigured(t *testing.T) {
	me := newMISPEnv(t, nil)
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	cfg := me.srv.Config()
	cfg.MISPSync = taxii.MISPSync{}
	if err := me.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	mispErr(t, m.do("GET", "/servers/getVersion", nil), http.StatusNotFound)
	mustStatus(t, me.get("", "/intel/collections/"+collInbox+"/objects/?limit=1"), http.StatusUnauthorized)
}

// TestMISPSyncConfigValidate: misp_sync names declared, stored, writable
// collections.
func TestMISPSyncConfigValidate(t *testing.T) {
	for name, tt := range map[string]struct {
		sync taxii.MISPSync
		want string
	}{
		"ok":               {taxii.MISPSync{Collection: collInbox}, ""},
		"unknown":          {taxii.MISPSync{Collection: "0e0e0e0e-0e0e-4e0e-8e0e-0e0e0e0e0e0e"}, "no such collection"},
		"curated":          {taxii.MISPSync{Collection: collCurated}, "must be a stored collection"},
		"not writable":     {taxii.MISPSync{Collection: collPublished}, "must be writable"},
		"consumer twice":   {taxii.MISPSync{Collection: collInbox, Consumers: []taxii.MISPSyncConsumer{{Consumer: "a"}, {Consumer: "a"}}}, "listed twice"},
		"no collection":    {taxii.MISPSync{Consumers: []taxii.MISPSyncConsumer{{Consumer: "a"}}}, "collection is required"},
		"bad feed":         {taxii.MISPSync{Collection: collInbox, Consumers: []taxii.MISPSyncConsumer{{Consumer: "a", Feed: "a b"}}}, "no white space"},
		"bad uuid":         {taxii.MISPSync{Collection: collInbox, UUID: "xyz"}, "is not a UUID"},
		"negative maxbody": {taxii.MISPSync{Collection: collInbox, MaxBody: -1}, "max_body"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testConfig()
			c.MISPSync = tt.sync
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestMISPTAXIIPushFeedsPool replays MISP's TAXII push (misp.md §1.4) of
// misp-stix output batched at max_content_length, twice: the simple-pattern
// indicators reach the pool as the MISP instance's feed, and the re-push
// writes nothing new.
func TestMISPTAXIIPushFeedsPool(t *testing.T) {
	const maxLen = 6000
	me := newMISPEnv(t, func(c *taxii.Config) { c.APIRoots[0].MaxContentLength = maxLen })
	var objs []json.RawMessage
	for _, f := range []string{"testdata/misp-stix/v2.4.196/test_events_collection_stix21.json", "testdata/misp-stix/head/test_objects_collection_stix21.json"} {
		var bundle struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(readShared(t, f), &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range bundle.Objects {
			var buf bytes.Buffer
			json.Compact(&buf, o)
			objs = append(objs, pyDumps(buf.Bytes()))
		}
	}
	c := newPyClient(t, me.env, "misp")
	collURL := me.url + "/intel/collections/" + collInbox + "/"
	if cm := c.get(collURL, nil); cm["can_write"] != true {
		t.Fatal("collection not writable")
	}
	var envelopes [][]byte
	var cur []json.RawMessage
	size := func(o []json.RawMessage) int { return len(envelope(toBytes(o)...)) }
	for _, o := range objs {
		if size([]json.RawMessage{o}) > maxLen {
			continue // make_taxii_envelopes skips it
		}
		if size(append(cur, o)) > maxLen {
			envelopes = append(envelopes, envelope(toBytes(cur)...))
			cur = nil
		}
		cur = append(cur, o)
	}
	envelopes = append(envelopes, envelope(toBytes(cur)...))
	if len(envelopes) < 2 {
		t.Fatalf("%d envelopes; want several", len(envelopes))
	}
	push := func() {
		for _, env := range envelopes {
			res, b := c.send("POST", collURL+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, env)
			if s := checkStatus(t, b); res.StatusCode != http.StatusAccepted || s.FailureCount != 0 {
				t.Fatalf("push: %d %s", res.StatusCode, b)
			}
		}
	}
	push()
	id := poolID(t, "domain-name", "circl.lu")
	if me.lastVersion(t, ingest.DefaultPool, id) == nil {
		t.Fatal("circl.lu from the misp-stix indicators is not in the pool")
	}
	prov, err := me.store.Provenance(t.Context(), "domain-name", "circl.lu")
	if err != nil || len(prov) == 0 || prov[0].Feed != "misp-partner" {
		t.Fatalf("provenance %+v, %v; want feed misp-partner", prov, err)
	}
	pool, inbox := me.count(t, ingest.DefaultPool), me.count(t, collInbox)
	me.mu.Lock()
	n := len(me.pushes)
	me.mu.Unlock()
	push() // MISP re-sends everything next time
	if p, i := me.count(t, ingest.DefaultPool), me.count(t, collInbox); p != pool || i != inbox {
		t.Fatalf("re-push wrote: pool %d → %d, inbox %d → %d", pool, p, inbox, i)
	}
	me.mu.Lock()
	defer me.mu.Unlock()
	if len(me.pushes) == n || me.pushes[0].Provider != "stix" {
		t.Fatalf("pool pushes %d → %d (%+v)", n, len(me.pushes), me.pushes[0].Provider)
	}
}

// TestMISPSyncPoolFailure: when the pool cannot take the values the push is a
// MISP-shaped 500 and the event index is not advanced, so MISP's next push (HEAD
// 404, add) sends the event again and it reaches the pool.
func TestMISPSyncPoolFailure(t *testing.T) {
	me := newMISPEnv(t, nil)
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	const evUUID = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	ev := syncEvent(evUUID, 1746100000, []map[string]any{attr("d0000001-0000-4000-8000-000000000001", "domain", "retry.example", 1746099000, false)})
	me.mu.Lock()
	me.fail = errors.New("pool unavailable")
	me.mu.Unlock()
	e := mispErr(t, m.do("POST", "/events/add/metadata:1", ev), http.StatusInternalServerError)
	if strings.Contains(e["message"].(string), "pool unavailable") {
		t.Fatalf("internal error detail leaked: %v", e)
	}
	if !strings.Contains(me.logs.String(), "pool unavailable") {
		t.Fatal("the 500 was not logged with its cause")
	}
	if r := m.do("HEAD", "/events/view/"+evUUID, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD after a failed push: %d, want 404 so MISP retries", r.status)
	}
	me.mu.Lock()
	me.fail = nil
	me.mu.Unlock()
	m.ok(m.do("POST", "/events/add/metadata:1", ev), "retried add")
	if me.lastVersion(t, ingest.DefaultPool, poolID(t, "domain-name", "retry.example")) == nil {
		t.Fatal("the retried push did not reach the pool")
	}
}

// BenchmarkMISPSyncAdd pushes the real 49-object Sednit event as new events
// (a fresh uuid each time) over HTTP with gzip: decode, convert, versioned
// PutObjects into bolt, event index; in push the pool sink does nothing (the
// Runner has its own benchmarks; push+pool adds it, wired as cmd wires it). The baseline is misp.Converter.AddEvent alone on the same
// event, measured in the same run; x-convert is the ratio.
func BenchmarkMISPSyncAdd(b *testing.B) {
	var doc map[string]any
	if err := json.Unmarshal(readShared(b, "testdata/providers/misp/event_sednit_objects_galaxies.json"), &doc); err != nil {
		b.Fatal(err)
	}
	ev := doc
	if inner, ok := doc["Event"].(map[string]any); ok {
		ev = inner
	}
	delete(ev, "Galaxy")
	raw := mustJSON(map[string]any{"Event": ev})
	var baseline float64
	b.Run("convert", func(b *testing.B) {
		conv := &misp.Converter{Identity: mispTestID}
		b.ReportAllocs()
		for b.Loop() {
			var batch ingest.Batch
			if _, err := conv.Convert(bytes.NewReader(raw), &batch); err != nil {
				b.Fatal(err)
			}
		}
		baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	for _, pool := range []bool{false, true} {
		name := "push"
		if pool {
			name = "push+pool"
		}
		b.Run(name, func(b *testing.B) {
			me := newMISPEnv(b, nil)
			me.noPool = !pool
			m := &mispClient{t: b, e: me, key: mispSyncKey}
			m.connect()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				ev["uuid"] = fmt.Sprintf("5a3c2fcd-8328-42bb-a95e-%012x", i)
				r := m.do("POST", "/events/add/metadata:1", map[string]any{"Event": ev})
				if r.status != http.StatusOK {
					b.Fatalf("push: %d %s", r.status, r.body)
				}
				m.sent = m.sent[:0]
			}
			if baseline > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-convert")
			}
		})
	}
}

// TestMISPRoutesBesideRoots: an API root named like a MISP path prefix
// ("events", "servers") still serves TAXII, and the MISP routes still answer.
func TestMISPRoutesBesideRoots(t *testing.T) {
	me := newMISPEnv(t, func(c *taxii.Config) {
		c.APIRoots[1].Name = "events"
		c.Collections[5].APIRoot = "events"
	})
	for _, p := range []string{"/events/", "/events/collections/", "/events/collections/" + collOther + "/"} {
		mustStatus(t, me.get("admin", p), http.StatusOK)
	}
	if id := idOf(t, me.get("admin", "/events/collections/"+collOther+"/").body); id != collOther {
		t.Fatalf("collection %q", id)
	}
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	if r := m.do("HEAD", "/events/view/"+collOther, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD /events/view: %d", r.status)
	}
}

// TestMISPSyncInvalidConversion: when an object converted from the event fails
// the server's validator, the whole event is refused (422, MISP's shape) and
// nothing of it is stored. A validator refusing mutex indicators stands in for
// a conversion the real validator would refuse.
func TestMISPSyncInvalidConversion(t *testing.T) {
	me := newMISPEnvDeps(t, nil, func(d *taxii.Deps) {
		d.Validate = func(obj *stix.RawObject, lenient bool) error {
			if bytes.Contains(obj.JSON, []byte("[mutex:name")) {
				return errors.New("pattern refused")
			}
			return taxii.STIXValidator(stix.Validator{})(obj, lenient)
		}
	})
	m := &mispClient{t: t, e: me, key: mispSyncKey}
	m.connect()
	const evUUID = "9b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	ev := syncEvent(evUUID, 1746100000, []map[string]any{
		attr("e0000001-0000-4000-8000-000000000001", "domain", "fine.example", 1746099000, false),
		attr("e0000001-0000-4000-8000-000000000002", "mutex", "bad-mutex", 1746099000, false),
	})
	e := mispErr(t, m.do("POST", "/events/add/metadata:1", ev), http.StatusUnprocessableEntity)
	if !strings.Contains(e["message"].(string), "pattern refused") {
		t.Fatalf("message %q", e["message"])
	}
	if n := me.count(t, collInbox); n != 0 {
		t.Fatalf("%d objects of a refused event stored", n)
	}
	if r := m.do("HEAD", "/events/view/"+evUUID, nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD %d", r.status)
	}
}
