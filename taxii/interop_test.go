package taxii_test

// Replays of what real clients send (../shared/reference/taxii.md §d.2–d.3 and
// misp.md §1.4), with their response checks, against the real server.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/taxii"
)

// pyClient behaves like taxii2-client 2.3.0 over python-requests
// (taxii2client/common.py, taxii2client/v21/__init__.py).
type pyClient struct {
	t         *testing.T
	http      *http.Client
	authz     string // Authorization header value
	requests  []string
	userAgent string // on GET: taxii2-client/2.3.0
}

const (
	pyAccept      = "application/taxii+json;version=2.1"
	pyRequestsUA  = "python-requests/2.31.0"
	pyTAXIIClient = "taxii2-client/2.3.0"
)

func newPyClient(t *testing.T, e *env, user string) *pyClient {
	return &pyClient{t: t, http: e.client, authz: basic(user, passwords[user]), userAgent: pyTAXIIClient}
}

// validContentType is _HTTPConnection.valid_content_type: the Content-Type must
// start with application/taxii+json and contain every ';' token of Accept,
// whitespace ignored.
func validContentType(ct, accept string) bool {
	ct = strings.ReplaceAll(ct, " ", "")
	if !strings.HasPrefix(ct, "application/taxii+json") {
		return false
	}
	for _, tok := range strings.Split(strings.ReplaceAll(accept, " ", ""), ";") {
		if !strings.Contains(ct, tok) {
			return false
		}
	}
	return true
}

// send performs one request with python-requests' default headers merged with
// the client's.
func (c *pyClient) send(method, u string, params [][2]string, headers map[string]string, body []byte) (*http.Response, []byte) {
	c.t.Helper()
	if len(params) > 0 {
		// requests encodes params in the order given, with brackets percent-encoded
		var parts []string
		for _, p := range params {
			parts = append(parts, url.QueryEscape(p[0])+"="+url.QueryEscape(p[1]))
		}
		u += "?" + strings.Join(parts, "&")
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	hr.Header.Set("User-Agent", pyRequestsUA)
	hr.Header.Set("Accept-Encoding", "gzip, deflate")
	hr.Header.Set("Accept", "*/*")
	hr.Header.Set("Connection", "keep-alive")
	hr.Header.Set("Authorization", c.authz)
	for k, v := range headers {
		hr.Header.Set(k, v)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	c.requests = append(c.requests, method+" "+hr.URL.RequestURI())
	return res, b
}

// get is _HTTPConnection.get: Accept and the taxii2-client User-Agent, then
// raise_for_status and the Content-Type check.
func (c *pyClient) get(u string, params [][2]string) map[string]any {
	c.t.Helper()
	res, b := c.send("GET", u, params, map[string]string{"Accept": pyAccept, "User-Agent": c.userAgent}, nil)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		c.t.Fatalf("GET %s: HTTPError %d: %s", u, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !validContentType(ct, pyAccept) {
		c.t.Fatalf("GET %s: TAXIIServiceException: unexpected Content-Type %q", u, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("GET %s: response is not JSON: %v", u, err)
	}
	return m
}

// filterParams is _filter_kwargs_to_query_params for keyword arguments given in order.
func filterParams(kw ...[2]string) [][2]string {
	var out [][2]string
	for _, p := range kw {
		if p[1] == "" || p[1] == "0" && p[0] == "limit" {
			continue // empty values are dropped
		}
		switch p[0] {
		case "added_after", "limit", "next":
			out = append(out, p)
		default:
			out = append(out, [2]string{"match[" + p[0] + "]", p[1]})
		}
	}
	return out
}

// asPages is taxii2client.v21.as_pages over a getter taking keyword arguments.
func (c *pyClient) asPages(get func(kw ...[2]string) map[string]any, key string, perRequest int, filters ...[2]string) []map[string]any {
	c.t.Helper()
	lim := [2]string{"limit", fmt.Sprint(perRequest)}
	env := get(append([][2]string{lim}, filters...)...)
	pages := []map[string]any{env}
	got := 0
	if l, ok := env[key].([]any); ok {
		got = len(l)
	}
	if env["more"] == true && got != perRequest {
		perRequest = got // the client adopts the server's page size
	}
	for i := 0; env["more"] == true; i++ {
		if i > 10000 {
			c.t.Fatal("as_pages does not end")
		}
		next, _ := env["next"].(string)
		env = get(append([][2]string{{"limit", fmt.Sprint(perRequest)}, {"next", next}}, filters...)...)
		pages = append(pages, env)
	}
	return pages
}

// checkCollection is Collection._validate_collection.
func checkCollection(t *testing.T, u string, m map[string]any) {
	t.Helper()
	for _, k := range []string{"id", "title", "can_read", "can_write"} {
		if m[k] == nil {
			t.Fatalf("collection %s lacks %s", u, k)
		}
	}
	if !strings.Contains(u, m["id"].(string)) {
		t.Fatalf("collection id %v not in its URL %s", m["id"], u)
	}
}

func TestTAXII2ClientReplay(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) {
		c.APIRoots[0].MaxPage = 500
		c.APIRoots[0].MaxContentLength = 8 << 20
	})
	seeded := e.seed(collPublished, 1234)
	c := newPyClient(t, e, "soc")

	// Server(url): discovery, then ApiRoot(urljoin(discovery, api_root))
	discoveryURL := e.url + "/taxii2/"
	d := c.get(discoveryURL, nil)
	if d["title"] == nil {
		t.Fatal("discovery lacks title")
	}
	var roots []string
	for _, r := range d["api_roots"].([]any) {
		ru, _ := url.Parse(discoveryURL)
		ref, _ := url.Parse(r.(string))
		roots = append(roots, ru.ResolveReference(ref).String())
	}
	def, _ := url.Parse(discoveryURL)
	defRef, _ := url.Parse(d["default"].(string))
	if got := def.ResolveReference(defRef).String(); got != roots[0] {
		t.Fatalf("default %s is not one of api_roots %v", got, roots)
	}
	apiRoot := roots[0] // ends with "/"
	ar := c.get(apiRoot, nil)
	for _, k := range []string{"title", "versions", "max_content_length"} {
		if ar[k] == nil {
			t.Fatalf("api root lacks %s", k)
		}
	}
	cols := c.get(apiRoot+"collections/", nil)
	var published string
	for _, ci := range cols["collections"].([]any) {
		m := ci.(map[string]any)
		u := apiRoot + "collections/" + m["id"].(string) + "/"
		checkCollection(t, u, m)
		if m["id"] == collPublished {
			published = u
		}
	}
	if published == "" {
		t.Fatal("published collection not listed")
	}
	checkCollection(t, published, c.get(published, nil))

	getObjects := func(kw ...[2]string) map[string]any { return c.get(published+"objects/", filterParams(kw...)) }
	getManifest := func(kw ...[2]string) map[string]any { return c.get(published+"manifest/", filterParams(kw...)) }
	// as_pages(get_objects, per_request=N) with N below, at and above the server cap
	for _, per := range []int{0, 100, 500, 1000} {
		var ids []string
		for _, p := range c.asPages(getObjects, "objects", per) {
			for _, o := range p["objects"].([]any) {
				ids = append(ids, o.(map[string]any)["id"].(string))
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(seeded) {
			t.Errorf("as_pages(get_objects, per_request=%d): %d objects, want %d in order", per, len(ids), len(seeded))
		}
	}
	var n int
	for _, p := range c.asPages(getManifest, "objects", 300, [2]string{"type", "indicator"}) {
		n += len(p["objects"].([]any))
	}
	if n != len(seeded) {
		t.Errorf("as_pages(get_manifest): %d records, want %d", n, len(seeded))
	}
	// added_after formatted the way taxii2-client does (trailing zeros stripped)
	for _, aa := range []string{"2021-01-01T00:00:00Z", "2021-01-01T00:00:00.5Z"} {
		env := getObjects([2]string{"added_after", aa}, [2]string{"limit", "10"}, [2]string{"type", "indicator,malware"})
		if len(env["objects"].([]any)) != 10 {
			t.Errorf("added_after=%s: %v", aa, env["more"])
		}
	}

	// add_objects(envelope) on the inbox: POST, then the status by its urljoin URL
	inbox := apiRoot + "collections/" + collInbox + "/"
	checkCollection(t, inbox, c.get(inbox, nil)) // _verify_can_write loads the collection
	now := time.Date(2025, 2, 3, 4, 5, 6, 789000000, time.UTC)
	var objs []any
	for i := range 3 {
		var m any
		json.Unmarshal(indicator(5000+i, now), &m)
		objs = append(objs, m)
	}
	body, _ := json.Marshal(map[string]any{"objects": objs})
	body = pyDumps(body)
	res, sb := c.send("POST", inbox+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("add_objects: %d %s", res.StatusCode, sb)
	}
	st := checkStatus(t, sb)
	base, _ := url.Parse(inbox)
	rel, _ := url.Parse("../../status/" + st.ID)
	statusURL := base.ResolveReference(rel).String()
	if statusURL != apiRoot+"status/"+st.ID {
		t.Fatalf("status URL %s", statusURL)
	}
	// wait_for_completion polls while pending; ours is complete at once, and the
	// status URL (without trailing slash added by refresh: the client adds it) works
	got := c.get(statusURL+"/", nil)
	if got["status"] != "complete" || got["success_count"] != float64(3) {
		t.Errorf("get_status = %v", got)
	}
	checkStatus(t, mustJSON(got))
	// ApiRoot.get_status(id)
	c.get(apiRoot+"status/"+st.ID+"/", nil)

	// get_object, object_versions, delete_object
	id := indicatorID(5001)
	o := c.get(inbox+"objects/"+id+"/", nil)
	if objsOf := o["objects"].([]any); len(objsOf) != 1 || objsOf[0].(map[string]any)["id"] != id {
		t.Errorf("get_object = %v", o)
	}
	v := c.get(inbox+"objects/"+id+"/versions/", nil)
	if fmt.Sprint(v["versions"]) != "[2025-02-03T04:05:06.789Z]" {
		t.Errorf("object_versions = %v", v)
	}
	res, b := c.send("DELETE", inbox+"objects/"+id+"/", nil, map[string]string{"Accept": pyAccept}, nil)
	if res.StatusCode != 200 {
		t.Fatalf("delete_object: %d %s", res.StatusCode, b)
	}
	res, _ = c.send("GET", inbox+"objects/"+id+"/", nil, map[string]string{"Accept": pyAccept, "User-Agent": pyTAXIIClient}, nil)
	if res.StatusCode != 404 {
		t.Errorf("after delete_object: %d, want 404", res.StatusCode)
	}

	// TokenAuth: Authorization: Token <key> is handled by taxii/auth; a bad token is a 401 with challenges
	c2 := &pyClient{t: t, http: e.client, authz: "Token not-a-key", userAgent: pyTAXIIClient}
	res, _ = c2.send("GET", discoveryURL, nil, map[string]string{"Accept": pyAccept}, nil)
	if res.StatusCode != 401 || !validContentType(res.Header.Get("Content-Type"), pyAccept) {
		t.Errorf("bad token: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// pyDumps re-encodes compact JSON the way Python's json.dumps does (", " and ": ").
func pyDumps(b []byte) []byte {
	var out bytes.Buffer
	inStr, esc := false, false
	for _, c := range b {
		out.WriteByte(c)
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == ',' || c == ':':
			out.WriteByte(' ')
		}
	}
	return out.Bytes()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestSTIX2DataStoreReplay replays stix2's TAXIICollectionSource and
// TAXIICollectionSink (stix2/datastore/taxii.py).
func TestSTIX2DataStoreReplay(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.APIRoots[0].MaxPage = 1000 })
	c := newPyClient(t, e, "soc")
	inbox := e.url + "/intel/collections/" + collInbox + "/"

	// Sink(collection): can_write → a Get Collection round-trip
	if m := c.get(inbox, nil); m["can_write"] != true {
		t.Fatalf("sink: can_write = %v", m["can_write"])
	}
	// Sink.add(list): one bundle POST per element, then wait_for_completion
	base := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	for v := range 3 {
		var obj any
		json.Unmarshal(indicator(900000, base.Add(time.Duration(v)*time.Minute)), &obj)
		bundle := map[string]any{"type": "bundle", "id": "bundle--0d7c1a4e-3b2f-4c5d-8e9f-0a1b2c3d4e5f", "objects": []any{obj}}
		res, b := c.send("POST", inbox+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, pyDumps(mustJSON(bundle)))
		if res.StatusCode/100 != 2 {
			t.Fatalf("sink add: %d %s", res.StatusCode, b)
		}
		if s := checkStatus(t, b); s.Status != "complete" || s.SuccessCount != 1 {
			t.Fatalf("sink status %s", b)
		}
	}
	e.seed(collInbox, 6000)

	// Source(collection): can_read
	if m := c.get(inbox, nil); m["can_read"] != true {
		t.Fatal("source: can_read false")
	}
	id := indicatorID(900000)
	// get(id): objects/{id}/ without parameters, first object, same id, latest version
	o := c.get(inbox+"objects/"+id+"/", nil)
	first := o["objects"].([]any)[0].(map[string]any)
	if first["id"] != id || first["modified"] != "2024-09-01T00:02:00.000Z" {
		t.Errorf("source.get = %v", first)
	}
	// get(unknown id): 404 ⇒ None
	res, _ := c.send("GET", inbox+"objects/indicator--99999999-9999-4999-8999-999999999999/", nil, map[string]string{"Accept": pyAccept, "User-Agent": pyTAXIIClient}, nil)
	if res.StatusCode != 404 {
		t.Errorf("get(unknown) = %d, want 404", res.StatusCode)
	}
	getObjects := func(kw ...[2]string) map[string]any { return c.get(inbox+"objects/", filterParams(kw...)) }
	// all_versions(id): query with id and version=all, as_pages with items_per_page 5000
	var versions int
	for _, p := range c.asPages(getObjects, "objects", 5000, [2]string{"id", id}, [2]string{"version", "all"}) {
		if l, ok := p["objects"].([]any); ok {
			versions += len(l)
		}
	}
	if versions != 3 {
		t.Errorf("all_versions = %d versions, want 3", versions)
	}
	// query([type = indicator]): 5000 per request, server caps at 1000 and pages with next
	var total int
	pages := c.asPages(getObjects, "objects", 5000, [2]string{"type", "indicator"})
	for _, p := range pages {
		total += len(p["objects"].([]any))
	}
	if total != 6001 || len(pages) != 7 {
		t.Errorf("query: %d objects in %d pages, want 6001 in 7", total, len(pages))
	}
	for _, r := range c.requests {
		if strings.Contains(r, "next=&") || strings.HasSuffix(r, "next=") {
			t.Errorf("a request carried an empty next: %s", r)
		}
	}
}

// TestMISPPushReplay replays MISP's TAXII push (misp.md §1.4): configuration-time
// requests from PHP, then taxii_push.py through taxii2-client with
// wait_for_completion=False, envelopes packed under max_content_length.
func TestMISPPushReplay(t *testing.T) {
	const maxLen = 6000
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.APIRoots[0].MaxContentLength = maxLen })
	var objs []json.RawMessage
	for _, f := range []string{"testdata/misp-stix/v2.4.196/test_events_collection_stix21.json", "testdata/misp-stix/v2.4.196/test_event2_stix21.json",
		"testdata/misp-stix/head/test_objects_collection_stix21.json"} {
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
	// the admin's stored api_key is base64("user:pass"); PHP sends it after a lower-case "basic"
	apiKey := base64.StdEncoding.EncodeToString([]byte("misp:" + passwords["misp"]))
	baseURL := e.url + "/" // a trailing slash in baseurl gives "//" paths
	php := func(path string) map[string]any {
		hr, _ := http.NewRequest("GET", baseURL+path, nil)
		hr.Header.Set("Accept", pyAccept)
		hr.Header.Set("Content-type", pyAccept)
		hr.Header.Set("Authorization", "basic "+apiKey)
		res, err := e.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode < 200 || res.StatusCode > 206 {
			t.Fatalf("PHP GET %s: %d %s", path, res.StatusCode, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// 1. getRoot: discovery, keep only the last path segment of each api_root
	d := php("/taxii2/")
	var apiRoot string
	for _, r := range d["api_roots"].([]any) {
		segs := strings.Split(strings.Trim(r.(string), "/"), "/")
		apiRoot = segs[len(segs)-1]
	}
	if apiRoot != "intel" {
		t.Fatalf("MISP derived api_root %q", apiRoot)
	}
	// 2. getCollections: only can_write collections are offered
	var writable []string
	for _, ci := range php("/" + apiRoot + "/collections/")["collections"].([]any) {
		if m := ci.(map[string]any); m["can_write"] == true {
			writable = append(writable, m["id"].(string))
		}
	}
	if fmt.Sprint(writable) != "["+collInbox+"]" {
		t.Fatalf("writable collections offered to MISP: %v", writable)
	}
	collection := writable[0]

	// push: taxii2-client with HTTPBasicAuth (capitalised "Basic" from requests)
	user, pass, _ := strings.Cut(func() string { b, _ := base64.StdEncoding.DecodeString(apiKey); return string(b) }(), ":")
	c := &pyClient{t: t, http: e.client, authz: basic(user, pass), userAgent: pyTAXIIClient}
	rootURL := baseURL + apiRoot + "/"
	ar := c.get(rootURL, nil)
	if ar["title"] == "" || ar["versions"] == nil || ar["max_content_length"] == nil {
		t.Fatalf("api root: %v", ar)
	}
	limit := int(ar["max_content_length"].(float64))
	collURL := rootURL + "collections/" + collection + "/"
	cm := c.get(collURL, nil)
	checkCollection(t, collURL, cm)
	if cm["can_write"] != true {
		t.Fatal("AccessError: collection not writable")
	}
	// make_taxii_envelopes: pack objects greedily under max_content_length
	var envelopes [][]byte
	var cur []json.RawMessage
	size := func(objs []json.RawMessage) int { return len(envelope(toBytes(objs)...)) }
	skipped := 0
	for _, o := range objs {
		if size([]json.RawMessage{o}) > limit {
			skipped++
			continue
		}
		if size(append(cur, o)) > limit {
			envelopes = append(envelopes, envelope(toBytes(cur)...))
			cur = nil
		}
		cur = append(cur, o)
	}
	if len(cur) > 0 {
		envelopes = append(envelopes, envelope(toBytes(cur)...))
	}
	if len(envelopes) < 3 {
		t.Fatalf("only %d envelopes; the test wants several", len(envelopes))
	}
	sent := 0
	for _, env := range envelopes {
		res, b := c.send("POST", collURL+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, env)
		if res.StatusCode/100 != 2 {
			t.Fatalf("push: %d %s", res.StatusCode, b)
		}
		s := checkStatus(t, b) // Status._validate_status; never fetched (wait_for_completion=False)
		if s.FailureCount > 0 {
			t.Errorf("server failed %d misp-stix objects: %+v", s.FailureCount, s.Failures)
		}
		sent += s.TotalCount
	}
	if sent != len(objs)-skipped {
		t.Errorf("statuses count %d objects, sent %d", sent, len(objs)-skipped)
	}
	// MISP pushes everything again next time: idempotent
	for _, env := range envelopes {
		res, b := c.send("POST", collURL+"objects/", nil, map[string]string{"Accept": pyAccept, "Content-Type": pyAccept}, env)
		if s := checkStatus(t, b); res.StatusCode != 202 || s.FailureCount != 0 {
			t.Fatalf("re-push: %d %s", res.StatusCode, b)
		}
	}
	// browsing (v2.4.172+): objects with limit=50 and next, objects[0] of an object
	var browsed int
	next := ""
	for {
		p := "/" + apiRoot + "/collections/" + collection + "/objects/?limit=50"
		if next != "" {
			p += "&next=" + next
		}
		m := php(p)
		if l, ok := m["objects"].([]any); ok {
			browsed += len(l)
		}
		if m["more"] != true {
			break
		}
		next = m["next"].(string)
	}
	if browsed == 0 {
		t.Fatal("nothing browsable after the push")
	}
	var first struct {
		ID string `json:"id"`
	}
	json.Unmarshal(objs[0], &first)
	if m := php("/" + apiRoot + "/collections/" + collection + "/objects/" + first.ID + "/"); len(m["objects"].([]any)) == 0 {
		t.Error("object view empty")
	}
	// every version is served byte-exact as first pushed
	served := objectsOf(t, e.get("misp", "/intel/collections/"+collInbox+"/objects/?match[version]=all&limit=10000").body)
	have := map[string]bool{}
	for _, o := range served {
		have[string(o)] = true
	}
	firstBytes := map[string]json.RawMessage{}
	for _, o := range objs {
		var k struct{ ID, Created, Modified string }
		json.Unmarshal(o, &k)
		key := k.ID + "|" + k.Created + "|" + k.Modified
		if _, dup := firstBytes[key]; !dup && size([]json.RawMessage{o}) <= limit {
			firstBytes[key] = o
		}
	}
	for key, o := range firstBytes {
		if !have[string(o)] {
			t.Errorf("pushed version %s not served byte-exact", key)
		}
	}
	if len(served) != len(firstBytes) {
		t.Errorf("served %d versions, pushed %d distinct ones", len(served), len(firstBytes))
	}
}

func toBytes(objs []json.RawMessage) [][]byte {
	out := make([][]byte, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}
