package taxii_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
)

var taxiiTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get("soc", "/taxii2/")
	mustStatus(t, r, 200)
	m := r.json(t)
	if m["title"] != "ACME TAXII" || m["contact"] != "soc@acme.example" || m["default"] != "/intel/" {
		t.Errorf("discovery = %s", r.body)
	}
	if got := fmt.Sprint(m["api_roots"]); got != "[/intel/]" {
		t.Errorf("soc api_roots = %s, want only /intel/ (no collection of root other is visible)", got)
	}
	r = e.get("partner", "/taxii2")
	mustStatus(t, r, 200)
	if got := fmt.Sprint(r.json(t)["api_roots"]); got != "[/intel/ /other/]" {
		t.Errorf("partner api_roots = %s", got)
	}

	// anonymous: 401 with both challenges unless anonymous_discovery
	r = e.get("", "/taxii2/")
	mustStatus(t, r, 401)
	if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, "Basic") || !strings.Contains(ch, "Bearer") {
		t.Errorf("WWW-Authenticate = %q", ch)
	}
	// wrong password, unknown scheme
	for _, h := range []string{basic("soc", "wrong"), "Digest abc", "Basic !!!"} {
		r = e.do(req{path: "/taxii2/", headers: map[string]string{"Authorization": h}})
		mustStatus(t, r, 401)
	}
	// MISP sends the scheme in lower case
	r = e.do(req{path: "/taxii2/", headers: map[string]string{"Authorization": "basic " + strings.TrimPrefix(basic("soc", passwords["soc"]), "Basic ")}})
	mustStatus(t, r, 200)

	anon := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.AnonymousDiscovery = true })
	r = anon.get("", "/taxii2/")
	mustStatus(t, r, 200)
	if got := fmt.Sprint(r.json(t)["api_roots"]); got != "[/intel/]" {
		t.Errorf("anonymous api_roots = %s, want the root with a public collection", got)
	}
}

func TestDiscoveryURLs(t *testing.T) {
	based := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.BaseURL = "https://cti.acme.example/" })
	r := based.get("soc", "/taxii2/")
	if m := r.json(t); fmt.Sprint(m["api_roots"]) != "[https://cti.acme.example/intel/]" || m["default"] != "https://cti.acme.example/intel/" {
		t.Errorf("with base_url: %s", r.body)
	}
	fwd := map[string]string{"X-Forwarded-Host": "proxy.acme.example", "X-Forwarded-Proto": "https"}
	// untrusted peer: forwarded headers ignored
	r = based.do(req{path: "/taxii2/", user: "soc", headers: fwd})
	e := newEnv(t, nil)
	r = e.do(req{path: "/taxii2/", user: "soc", headers: fwd})
	if got := fmt.Sprint(r.json(t)["api_roots"]); got != "[/intel/]" {
		t.Errorf("untrusted proxy headers used: %s", got)
	}
	trusted := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.TrustedProxies = []string{"127.0.0.0/8", "::1"} })
	r = trusted.do(req{path: "/taxii2/", user: "soc", headers: fwd})
	if got := fmt.Sprint(r.json(t)["api_roots"]); got != "[https://proxy.acme.example/intel/]" {
		t.Errorf("trusted proxy: api_roots = %s", got)
	}
	// X-Forwarded-For from a trusted proxy shows up in the access log
	trusted.do(req{path: "/taxii2/", user: "soc", headers: map[string]string{"X-Forwarded-For": "203.0.113.7"}})
	if !strings.Contains(trusted.logs.String(), `"remote":"203.0.113.7"`) {
		t.Errorf("access log lacks the forwarded client address: %s", trusted.logs.String())
	}
}

func TestAPIRoot(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/intel/", "/intel"} {
		r := e.get("soc", p)
		mustStatus(t, r, 200)
		m := r.json(t)
		if m["title"] != "ACME curated intelligence" || fmt.Sprint(m["versions"]) != "[application/taxii+json;version=2.1]" || m["max_content_length"] != float64(1<<20) {
			t.Errorf("%s = %s", p, r.body)
		}
	}
	mustStatus(t, e.get("soc", "/nosuchroot/"), 404)
	mustStatus(t, e.get("soc", "/other/"), 404) // exists, but nothing in it is visible to soc
	mustStatus(t, e.get("partner", "/other/"), 200)
	mustStatus(t, e.get("", "/other/"), 401)
	r := e.get("admin", "/other/")
	mustStatus(t, r, 200)
	if r.json(t)["max_content_length"] != float64(taxii.DefaultMaxContentLength) {
		t.Errorf("default max_content_length: %s", r.body)
	}
}

func TestCollections(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get("soc", "/intel/collections/")
	mustStatus(t, r, 200)
	var got struct {
		Collections []map[string]any `json:"collections"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got.Collections {
		ids = append(ids, c["id"].(string))
		for _, k := range []string{"id", "title", "can_read", "can_write"} {
			if _, ok := c[k]; !ok {
				t.Errorf("collection %v lacks %s", c["id"], k)
			}
		}
	}
	want := []string{collInbox, collCurated, collPublic, collPublished}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("soc sees %v, want %v sorted by id", ids, want)
	}
	for _, c := range got.Collections {
		wantWrite := c["id"] == collInbox
		if c["can_read"] != true || c["can_write"] != wantWrite {
			t.Errorf("collection %v: can_read %v can_write %v", c["id"], c["can_read"], c["can_write"])
		}
		if fmt.Sprint(c["media_types"]) != "[application/stix+json;version=2.1]" {
			t.Errorf("media_types = %v", c["media_types"])
		}
	}
	// write-only collections are listed with can_read false
	r = e.get("writer", "/intel/collections")
	mustStatus(t, r, 200)
	if !strings.Contains(string(r.body), `"id":"`+collInbox+`","title":"Inbox","alias":"inbox","can_read":false,"can_write":true`) {
		t.Errorf("writer collections = %s", r.body)
	}
	// by id and by alias, always answering the id
	for _, p := range []string{"/intel/collections/" + collInbox + "/", "/intel/collections/inbox", "/intel/collections/inbox/"} {
		r = e.get("soc", p)
		mustStatus(t, r, 200)
		if r.json(t)["id"] != collInbox {
			t.Errorf("%s = %s", p, r.body)
		}
	}
	mustStatus(t, e.get("soc", "/intel/collections/"+collSecret+"/"), 404)
	mustStatus(t, e.get("soc", "/intel/collections/"+collOther+"/"), 404) // in another root
	mustStatus(t, e.get("", "/intel/collections/"+collSecret+"/"), 401)
	r = e.get("", "/intel/collections/"+collPublic+"/")
	mustStatus(t, r, 200)
	if m := r.json(t); m["can_read"] != true || m["can_write"] != false {
		t.Errorf("anonymous on public = %s", r.body)
	}
	// an API root without collections lists {}
	empty := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) {
		c.APIRoots = append(c.APIRoots, taxii.APIRoot{Name: "empty", Title: "Empty"})
	})
	r = empty.get("admin", "/empty/collections/")
	mustStatus(t, r, 200)
	if string(r.body) != "{}" {
		t.Errorf("no collections = %s, want {}", r.body)
	}
}

func TestContentNegotiation(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(collPublished, 3)
	paths := []string{"/taxii2/", "/intel/", "/intel/collections/", "/intel/collections/" + collPublished + "/objects/",
		"/intel/collections/" + collPublished + "/manifest/"}
	for accept, want := range map[string]int{
		"application/taxii+json;version=2.1":  200,
		"application/taxii+json; version=2.1": 200,
		"application/taxii+json":              200,
		"*/*":                                 200,
		"application/*":                       200,
		"application/json, application/taxii+json;version=2.1;q=0.9": 200,
		"application/json, text/plain, */*":                          200,
		"application/taxii+json;version=2.0":                         406,
		"application/vnd.oasis.taxii+json":                           406,
		"application/json":                                           406,
		"text/html":                                                  406,
		"application/taxii+json;version=2.1;q=0":                     406,
	} {
		for _, p := range paths {
			r := e.do(req{path: p, user: "soc", headers: map[string]string{"Accept": accept}})
			mustStatus(t, r, want)
			if want == 406 && !strings.Contains(string(r.body), "TAXII 2.1") {
				t.Errorf("406 body does not say this is a TAXII 2.1 server: %s", r.body)
			}
		}
	}
	// application/stix+json;version=2.1 is defined for the manifest (§5.3) and object endpoints
	r := e.do(req{path: paths[4], user: "soc", headers: map[string]string{"Accept": "application/taxii+json;version=2.1,application/stix+json;version=2.1"}})
	mustStatus(t, r, 200)
	r = e.do(req{path: paths[4], user: "soc", headers: map[string]string{"Accept": "application/stix+json;version=2.1"}})
	mustStatus(t, r, 200)
	// a Content-Type on a GET is ignored (MISP sends one)
	r = e.do(req{path: paths[2], user: "soc", headers: map[string]string{"Content-Type": "text/plain"}})
	mustStatus(t, r, 200)
	// no Accept at all is served
	r = e.do(req{path: paths[2], user: "soc", headers: map[string]string{"Accept": ""}})
	mustStatus(t, r, 200)
}

func TestTrailingSlashAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.seed(collInbox, 2)
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	col := "/intel/collections/" + collInbox
	for _, p := range []string{"/taxii2", "/intel", "/intel/collections", col, col + "/objects", col + "/manifest",
		col + "/objects/" + ids[0], col + "/objects/" + ids[0] + "/versions"} {
		for _, path := range []string{p, p + "/", "/" + p} {
			r := e.get("soc", path)
			mustStatus(t, r, 200)
		}
	}
	// POST without trailing slash is served, not redirected
	r := e.do(req{method: "POST", path: col + "/objects", user: "soc", body: envelope(indicator(99, time.Now())),
		headers: map[string]string{"Content-Type": accept21}})
	mustStatus(t, r, 202)
	for _, tt := range []struct {
		method, path, allow string
	}{
		{"PUT", "/intel/collections/", "GET"},
		{"POST", "/taxii2/", "GET"},
		{"DELETE", col + "/objects/", "GET, POST"},
		{"PATCH", col + "/objects/" + ids[0] + "/", "DELETE, GET"},
		{"POST", col + "/manifest", "GET"},
	} {
		r := e.do(req{method: tt.method, path: tt.path, user: "soc"})
		mustStatus(t, r, 405)
		allow := r.header.Get("Allow")
		for _, m := range strings.Split(tt.allow, ", ") {
			if !strings.Contains(allow, m) {
				t.Errorf("%s %s: Allow %q lacks %s", tt.method, tt.path, allow, m)
			}
		}
		if strings.Contains(allow, tt.method) {
			t.Errorf("%s %s: Allow %q includes the refused method", tt.method, tt.path, allow)
		}
	}
	mustStatus(t, e.get("soc", "/intel/collections/"+collInbox+"/nothing/"), 404)
	mustStatus(t, e.get("soc", "/a/b/c/d/e/f/g/h"), 404)
}

func TestAccessMatrix(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []string{collInbox, collPublished, collCurated, collPublic, collSecret} {
		if c != collCurated {
			e.seed(c, 3)
		}
	}
	obj := indicatorID(0)
	type row struct {
		user, method, coll string
		want               int
	}
	rows := []row{
		{"soc", "GET", collInbox, 200}, {"soc", "GET", collPublished, 200}, {"soc", "GET", collCurated, 200},
		{"soc", "GET", collPublic, 200}, {"soc", "GET", collSecret, 404}, {"writer", "GET", collInbox, 403},
		{"partner", "GET", collInbox, 404}, {"", "GET", collInbox, 401}, {"", "GET", collPublic, 200},
		{"admin", "GET", collSecret, 200},
		{"soc", "POST", collInbox, 202}, {"soc", "POST", collPublished, 403}, {"partner", "POST", collPublished, 403},
		{"soc", "POST", collCurated, 403}, {"writer", "POST", collInbox, 202}, {"partner", "POST", collInbox, 404},
		{"", "POST", collInbox, 401}, {"", "POST", collPublic, 401}, {"soc", "POST", collPublic, 403},
		{"admin", "POST", collSecret, 202},
		// DELETE (§5.7): r&w → 200, r only → 403, w only → 403, neither → 404
		{"writer", "DELETE", collInbox, 403}, {"soc", "DELETE", collPublished, 403}, {"partner", "DELETE", collInbox, 404},
		{"", "DELETE", collInbox, 401}, {"soc", "DELETE", collCurated, 403}, {"soc", "DELETE", collInbox, 200},
	}
	for _, rw := range rows {
		path := "/intel/collections/" + rw.coll + "/objects/"
		var body []byte
		h := map[string]string{}
		switch rw.method {
		case "POST":
			body = envelope(indicator(1000, time.Now()))
			h["Content-Type"] = accept21
		case "DELETE":
			path += obj + "/"
		}
		r := e.do(req{method: rw.method, path: path, user: rw.user, body: body, headers: h})
		if r.status != rw.want {
			t.Errorf("%s %s by %q: %d, want %d (%s)", rw.method, rw.coll, rw.user, r.status, rw.want, r.body)
			continue
		}
		mustStatus(t, r, rw.want)
		if r.status == 401 && !strings.Contains(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 without a Basic challenge")
		}
	}
	// the same matrix on manifest, object and versions
	for _, suffix := range []string{"manifest/", "objects/" + obj + "/", "objects/" + obj + "/versions/"} {
		for _, rw := range []row{{"writer", "GET", collInbox, 403}, {"partner", "GET", collInbox, 404}, {"", "GET", collInbox, 401},
			{"", "GET", collPublic, 200}, {"soc", "GET", collPublished, 200}} {
			r := e.get(rw.user, "/intel/collections/"+rw.coll+"/"+suffix)
			mustStatus(t, r, rw.want)
		}
	}
}

func TestObjectsAndPagination(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) {
		c.APIRoots[0].DefaultPage = 100
		c.APIRoots[0].MaxPage = 400
	})
	const n = 1030
	ids := e.seed(collPublished, n)
	base := "/intel/collections/" + collPublished + "/objects/"

	// unpaged reference: admin reads everything in max-size pages by next
	all := walk(t, e, "soc", base, "limit=400")
	if len(all) != n {
		t.Fatalf("walk returned %d objects, want %d", len(all), n)
	}
	gotIDs := make([]string, len(all))
	for i, o := range all {
		gotIDs[i] = idOf(t, o.raw)
	}
	if !slices.Equal(gotIDs, ids) {
		t.Fatal("objects not in insertion (date_added) order or not the stored set")
	}
	for _, limit := range []string{"limit=1", "limit=7", "limit=100", "", "limit=10000"} {
		if testing.Short() && limit == "limit=1" {
			continue
		}
		pages := walk(t, e, "soc", base, limit)
		checkSame(t, limit, pages, all)
	}
	// default page 100, capped at 400
	r := e.get("soc", base)
	if len(objectsOf(t, r.body)) != 100 {
		t.Errorf("default page = %d objects, want 100", len(objectsOf(t, r.body)))
	}
	r = e.get("soc", base+"?limit=5000")
	if m := r.json(t); len(objectsOf(t, r.body)) != 400 || m["more"] != true || m["next"] == nil {
		t.Errorf("limit above max_page: %d objects, more=%v next=%v", len(objectsOf(t, r.body)), m["more"], m["next"])
	}

	// added_after polling with X-TAXII-Date-Added-Last is lossless too
	var polled []string
	after := ""
	for {
		q := "?limit=333"
		if after != "" {
			q += "&added_after=" + after
		}
		r := e.get("soc", base+q)
		mustStatus(t, r, 200)
		objs := objectsOf(t, r.body)
		if len(objs) == 0 {
			if r.header.Get(taxii.HeaderDateAddedFirst) != after || r.header.Get(taxii.HeaderDateAddedLast) != after {
				t.Errorf("empty page headers %q %q, want added_after %q echoed",
					r.header.Get(taxii.HeaderDateAddedFirst), r.header.Get(taxii.HeaderDateAddedLast), after)
			}
			if string(r.body) != "{}" {
				t.Errorf("empty page = %s, want {}", r.body)
			}
			break
		}
		for _, o := range objs {
			polled = append(polled, idOf(t, o))
		}
		after = r.header.Get(taxii.HeaderDateAddedLast)
	}
	if !slices.Equal(polled, ids) {
		t.Errorf("added_after polling returned %d objects, want %d in order", len(polled), len(ids))
	}
	// added_after is strictly greater
	r = e.get("soc", base+"?limit=2")
	first := r.header.Get(taxii.HeaderDateAddedFirst)
	r = e.get("soc", base+"?limit=1&added_after="+first)
	if got := idOf(t, objectsOf(t, r.body)[0]); got != ids[1] {
		t.Errorf("added_after=first date_added returned %s, want the second object", got)
	}
	// an empty collection: {} and no date headers
	r = e.get("soc", "/intel/collections/"+collInbox+"/objects/")
	mustStatus(t, r, 200)
	if string(r.body) != "{}" || r.header.Get(taxii.HeaderDateAddedFirst) != "" {
		t.Errorf("empty collection: %s headers %v", r.body, r.header)
	}
	// filters
	r = e.get("soc", base+"?match[type]=malware")
	if string(r.body) != "{}" {
		t.Errorf("match[type]=malware = %s", r.body)
	}
	r = e.get("soc", base+"?match[id]="+ids[5]+","+ids[7])
	if objs := objectsOf(t, r.body); len(objs) != 2 || idOf(t, objs[0]) != ids[5] {
		t.Errorf("match[id] returned %d objects", len(objs))
	}
}

type pageObj struct {
	raw       []byte
	dateAdded string
}

// walk pages through url by next and checks every page's invariants.
func walk(t *testing.T, e *env, user, url, query string) []pageObj {
	t.Helper()
	var out []pageObj
	next := ""
	lastAdded := ""
	for pages := 0; ; pages++ {
		if pages > 5000 {
			t.Fatal("pagination does not end")
		}
		q := query
		if next != "" {
			q += "&next=" + next
		}
		r := e.get(user, url+"?"+q)
		mustStatus(t, r, 200)
		var env struct {
			More    bool              `json:"more"`
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		if len(env.Objects) > 0 {
			f, l := r.header.Get(taxii.HeaderDateAddedFirst), r.header.Get(taxii.HeaderDateAddedLast)
			if !taxiiTimeRE.MatchString(f) || !taxiiTimeRE.MatchString(l) {
				t.Fatalf("date headers %q %q are not microsecond TAXII timestamps", f, l)
			}
			if f <= lastAdded || l < f {
				t.Fatalf("pages not ascending: first %s last %s previous last %s", f, l, lastAdded)
			}
			lastAdded = l
			for i, o := range env.Objects {
				pa := pageObj{raw: o}
				if i == 0 {
					pa.dateAdded = f
				}
				out = append(out, pa)
			}
		}
		if env.More && env.Next == "" {
			t.Fatal("more without next (taxii2-client would loop on page 1)")
		}
		if !env.More {
			if env.Next != "" {
				t.Error("next without more")
			}
			return out
		}
		next = env.Next
	}
}

func checkSame(t *testing.T, label string, got, want []pageObj) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d objects, want %d", label, len(got), len(want))
	}
	seen := map[string]bool{}
	for i := range got {
		id := idOf(t, got[i].raw)
		if seen[id] {
			t.Fatalf("%s: duplicate %s", label, id)
		}
		seen[id] = true
		if string(got[i].raw) != string(want[i].raw) {
			t.Fatalf("%s: object %d differs", label, i)
		}
	}
}

func TestManifestAndVersionsPagination(t *testing.T) {
	e := newEnv(t, nil)
	// one object in 25 versions, plus 10 other objects
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var versions [][]byte
	for v := range 25 {
		versions = append(versions, indicator(7, base.Add(time.Duration(v)*time.Hour)))
	}
	for i := range 10 {
		versions = append(versions, indicator(100+i, base))
	}
	r := e.do(req{method: "POST", path: "/intel/collections/inbox/objects/", user: "soc", body: envelope(versions...),
		headers: map[string]string{"Content-Type": accept21}})
	mustStatus(t, r, 202)
	col := "/intel/collections/" + collInbox
	id := indicatorID(7)

	// manifest: one record per latest version by default, paged with next
	var records []map[string]any
	next := ""
	for {
		q := "?limit=4"
		if next != "" {
			q += "&next=" + next
		}
		r := e.get("soc", col+"/manifest/"+q)
		mustStatus(t, r, 200)
		var m struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []map[string]any `json:"objects"`
		}
		json.Unmarshal(r.body, &m)
		records = append(records, m.Objects...)
		if !m.More {
			break
		}
		next = m.Next
	}
	if len(records) != 11 {
		t.Fatalf("manifest has %d records, want 11", len(records))
	}
	for _, rec := range records {
		if !taxiiTimeRE.MatchString(rec["date_added"].(string)) || rec["media_type"] != "application/stix+json;version=2.1" {
			t.Errorf("manifest record %v", rec)
		}
		if rec["id"] == id && rec["version"] != "2024-03-02T00:00:00.000Z" {
			t.Errorf("manifest version of %s = %v, want the last one", id, rec["version"])
		}
	}
	r = e.get("soc", col+"/manifest/?match[version]=all&match[id]="+id)
	var m struct {
		Objects []map[string]any `json:"objects"`
	}
	json.Unmarshal(r.body, &m)
	if len(m.Objects) != 25 {
		t.Errorf("manifest match[version]=all has %d records, want 25", len(m.Objects))
	}

	// versions: all 25, ascending, paged with next
	var got []string
	next = ""
	for {
		q := "?limit=10"
		if next != "" {
			q += "&next=" + next
		}
		r := e.get("soc", col+"/objects/"+id+"/versions/"+q)
		mustStatus(t, r, 200)
		if !taxiiTimeRE.MatchString(r.header.Get(taxii.HeaderDateAddedFirst)) {
			t.Errorf("versions without X-TAXII-Date-Added-First")
		}
		var v struct {
			More     bool     `json:"more"`
			Next     string   `json:"next"`
			Versions []string `json:"versions"`
		}
		json.Unmarshal(r.body, &v)
		got = append(got, v.Versions...)
		if !v.More {
			break
		}
		next = v.Next
	}
	if len(got) != 25 || got[0] != "2024-03-01T00:00:00.000Z" || got[24] != "2024-03-02T00:00:00.000Z" || !slices.IsSorted(got) {
		t.Errorf("versions = %v", got)
	}

	// get an object: last by default, first, all, a timestamp
	for q, want := range map[string]int{"": 1, "?match[version]=first": 1, "?match[version]=all": 25,
		"?match[version]=first,last": 2, "?match[version]=2024-03-01T05:00:00.000Z": 1, "?match[version]=2024-03-01T05:00:00Z": 1,
		"?match[version]=2020-01-01T00:00:00.000Z": 0} {
		r := e.get("soc", col+"/objects/"+id+"/"+q)
		mustStatus(t, r, 200)
		if got := len(objectsOf(t, r.body)); got != want {
			t.Errorf("get object %s: %d versions, want %d", q, got, want)
		}
	}
	r = e.get("soc", col+"/objects/"+id+"/")
	if !strings.Contains(string(objectsOf(t, r.body)[0]), "2024-03-02T00:00:00.000Z") {
		t.Errorf("default get object is not the last version: %s", r.body)
	}
	mustStatus(t, e.get("soc", col+"/objects/indicator--00000000-0000-4000-8000-000000000000/"), 404)
	mustStatus(t, e.get("soc", col+"/objects/not-an-id/"), 404)
	mustStatus(t, e.get("soc", col+"/objects/indicator--00000000-0000-4000-8000-000000000000/versions/"), 404)

	// delete one version, then the object
	r = e.do(req{method: "DELETE", path: col + "/objects/" + id + "/?match[version]=first", user: "soc"})
	mustStatus(t, r, 200)
	if len(r.body) != 0 {
		t.Errorf("DELETE body = %q, want none", r.body)
	}
	r = e.get("soc", col+"/objects/"+id+"/?match[version]=all")
	if len(objectsOf(t, r.body)) != 24 {
		t.Errorf("after deleting the first version: %d left", len(objectsOf(t, r.body)))
	}
	mustStatus(t, e.do(req{method: "DELETE", path: col + "/objects/" + id + "/", user: "soc"}), 200)
	mustStatus(t, e.get("soc", col+"/objects/"+id+"/"), 404)
	r = e.get("soc", col+"/manifest/")
	if strings.Contains(string(r.body), id) {
		t.Error("deleted object still in the manifest")
	}
	mustStatus(t, e.do(req{method: "DELETE", path: col + "/objects/" + id + "/", user: "soc"}), 404)
	if a := e.audit.String(); !strings.Contains(a, `"event":"object.deleted"`) || !strings.Contains(a, `"consumer":"soc"`) {
		t.Errorf("audit log lacks the deletion: %s", a)
	}
}

func TestCursorBinding(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(collPublished, 30)
	base := "/intel/collections/" + collPublished
	r := e.get("soc", base+"/objects/?limit=10&match[type]=indicator")
	next, _ := r.json(t)["next"].(string)
	if next == "" {
		t.Fatalf("no next: %s", r.body)
	}
	ok := e.get("soc", base+"/objects/?limit=10&match[type]=indicator&next="+next)
	mustStatus(t, ok, 200)
	for name, tt := range map[string]struct{ user, path string }{
		"other consumer": {"partner", base + "/objects/?limit=10&match[type]=indicator&next=" + next},
		"other filters":  {"soc", base + "/objects/?limit=10&match[type]=malware&next=" + next},
		"dropped filter": {"soc", base + "/objects/?limit=10&next=" + next},
		"other endpoint": {"soc", base + "/manifest/?limit=10&match[type]=indicator&next=" + next},
		"other coll":     {"soc", "/intel/collections/" + collPublic + "/objects/?match[type]=indicator&next=" + next},
		"tampered":       {"soc", base + "/objects/?match[type]=indicator&next=" + next[:20] + "x" + next[21:]},
		"garbage":        {"soc", base + "/objects/?next=%25%25%25"},
	} {
		r := e.get(tt.user, tt.path)
		if r.status != 400 {
			t.Errorf("%s: %d, want 400: %s", name, r.status, r.body)
			continue
		}
		mustStatus(t, r, 400)
	}
	// next wins over added_after when the filters match (limit may change)
	withAA := e.get("soc", base+"/objects/?limit=10&match[type]=indicator&added_after=2100-01-01T00:00:00Z&next="+next)
	mustStatus(t, withAA, 200)
	if string(withAA.body) != string(ok.body) {
		t.Errorf("next + added_after differs from next alone")
	}
	// a cursor signed with another key (another deployment) is refused
	other := newEnv(t, func(_ *taxii.Config, d *taxii.Deps) { d.CursorKey = []byte("another-key-another-key-another!!") })
	other.seed(collPublished, 30)
	mustStatus(t, other.get("soc", base+"/objects/?limit=10&match[type]=indicator&next="+next), 400)
	// the same key in another process (a restart) accepts it
	same := newEnv(t, nil)
	same.seed(collPublished, 30)
	mustStatus(t, same.get("soc", base+"/objects/?limit=10&match[type]=indicator&next="+next), 200)
}

func TestMalformedFilters(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(collPublished, 3)
	col := "/intel/collections/" + collPublished
	for _, q := range []string{"added_after=garbage", "added_after=2024-13-01T00:00:00Z", "limit=0", "limit=-1", "limit=x",
		"match[version]=all,first", "match[version]=last,last", "match[type]=indicator&match[type]=malware",
		"added_after=2024-01-01T00:00:00Z&added_after=2024-01-01T00:00:00Z", "match[id]=bad", "match[type]=",
		"match[spec_version]=x", "limit=1&limit=2", "next=&limit=1"} {
		for _, ep := range []string{"/objects/", "/manifest/", "/objects/" + indicatorID(1) + "/", "/objects/" + indicatorID(1) + "/versions/"} {
			if strings.Contains(ep, indicatorID(1)) && (strings.HasPrefix(q, "match[type]") || strings.HasPrefix(q, "match[id]")) {
				continue // not applied there
			}
			if strings.HasSuffix(ep, "versions/") && strings.HasPrefix(q, "match[version]") {
				continue
			}
			r := e.get("soc", col+ep+"?"+q)
			if r.status != 400 {
				t.Errorf("%s?%s: %d, want 400: %s", ep, q, r.status, r.body)
				continue
			}
			mustStatus(t, r, 400)
		}
	}
	r := e.do(req{method: "DELETE", path: "/intel/collections/" + collInbox + "/objects/" + indicatorID(1) + "/?match[version]=all,last", user: "admin"})
	mustStatus(t, r, 400)
}

func TestCuratedCollection(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.seed(collPublished, 5)
	ms, ok := any(e.store).(storage.MembershipStore)
	if !ok {
		t.Skip("store has no MembershipStore")
	}
	var refs []storage.VersionRef
	r := e.get("soc", "/intel/collections/"+collPublished+"/manifest/")
	var m struct {
		Objects []struct{ ID, Version string } `json:"objects"`
	}
	json.Unmarshal(r.body, &m)
	for _, rec := range m.Objects[1:4] {
		v, _ := time.Parse(time.RFC3339Nano, rec.Version)
		refs = append(refs, storage.VersionRef{Collection: collPublished, ID: rec.ID, Version: v})
	}
	if _, err := ms.AddMembers(t.Context(), collCurated, refs); err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	r = e.get("soc", "/intel/collections/"+collCurated+"/objects/")
	mustStatus(t, r, 200)
	objs := objectsOf(t, r.body)
	if len(objs) != 3 || idOf(t, objs[0]) != ids[1] {
		t.Errorf("curated collection served %d objects: %s", len(objs), r.body)
	}
	// byte-exact: the curated view serves the stored bytes
	pub := objectsOf(t, e.get("soc", "/intel/collections/"+collPublished+"/objects/").body)
	if string(objs[0]) != string(pub[1]) {
		t.Error("curated object bytes differ from the stored ones")
	}
	if r := e.get("soc", "/intel/collections/"+collCurated+"/"); r.json(t)["can_write"] != false {
		t.Error("curated collection writable")
	}
}

func TestHealthMetricsAndLogs(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(collPublished, 12)
	mustStatus(t, e.get("", "/healthz"), 200)
	mustStatus(t, e.get("", "/readyz"), 200)
	e.get("soc", "/intel/collections/"+collPublished+"/objects/?limit=5")
	bad := e.get("soc", "/intel/collections/"+collPublished+"/objects/?limit=0")
	r := e.get("", "/metrics")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	body := string(r.body)
	for _, want := range []string{
		`ctibroker_http_requests_total{code="200",method="GET",route="/:root/collections/:collection/objects/"} 1`,
		`ctibroker_http_requests_total{code="400",method="GET",route="/:root/collections/:collection/objects/"} 1`,
		`ctibroker_http_request_duration_seconds_bucket{method="GET",route="/:root/collections/:collection/objects/"`,
		`ctibroker_taxii_objects_served_total{collection="` + collPublished + `"} 5`,
		`ctibroker_taxii_last_poll_timestamp_seconds{consumer="soc"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	rid := bad.header.Get(taxii.HeaderRequestID)
	if rid == "" || !strings.Contains(string(bad.body), rid) {
		t.Fatalf("error body lacks the request id %q", rid)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"request_id":"`+rid+`"`) || !strings.Contains(logs, `"status":400`) || !strings.Contains(logs, `"consumer":"soc"`) {
		t.Errorf("access log lacks the failed request: %s", logs)
	}
	if strings.Contains(logs, passwords["soc"]) {
		t.Error("a password reached the logs")
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *taxii.Config, _ *taxii.Deps) { c.RateLimit = taxii.RateLimit{RequestsPerSecond: 0.5, Burst: 2} })
	mustStatus(t, e.get("soc", "/intel/"), 200)
	mustStatus(t, e.get("soc", "/intel/"), 200)
	r := e.get("soc", "/intel/")
	mustStatus(t, r, 429)
	if ra := r.header.Get("Retry-After"); ra != "2" && ra != "1" {
		t.Errorf("Retry-After = %q", ra)
	}
	mustStatus(t, e.get("partner", "/intel/"), 200) // per consumer
}

func TestReload(t *testing.T) {
	e := newEnv(t, nil)
	cfg := testConfig()
	cfg.Discovery.Title = "Reloaded"
	cfg.Collections = append(cfg.Collections, taxii.Collection{ID: "0a1b2c3d-4e5f-4a6b-8c7d-000000000001", APIRoot: "intel", Title: "New", Public: true})
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := e.get("soc", "/taxii2/"); r.json(t)["title"] != "Reloaded" {
		t.Errorf("title after reload: %s", r.body)
	}
	mustStatus(t, e.get("", "/intel/collections/0a1b2c3d-4e5f-4a6b-8c7d-000000000001/objects/"), 200)
	bad := cfg
	bad.Discovery.Title = "Broken"
	bad.Collections = append(slices.Clone(cfg.Collections), taxii.Collection{ID: "not-a-uuid", APIRoot: "intel", Title: "X"})
	if err := e.srv.Reload(bad); err == nil || !strings.Contains(err.Error(), "not-a-uuid") {
		t.Errorf("Reload(bad) = %v, want an error naming the collection", err)
	}
	if r := e.get("soc", "/taxii2/"); r.json(t)["title"] != "Reloaded" {
		t.Errorf("bad reload changed the config: %s", r.body)
	}
	if a := e.audit.String(); !strings.Contains(a, `"event":"config.reloaded"`) || !strings.Contains(a, `"event":"config.rejected"`) {
		t.Errorf("audit log lacks the reloads: %s", a)
	}
}

func TestNoStoreFailureIs500(t *testing.T) {
	e := newEnv(t, nil)
	e.store.Close()
	r := e.get("soc", "/intel/collections/"+collPublished+"/objects/")
	if r.status < 500 {
		t.Fatalf("closed store: %d", r.status)
	}
	mustStatus(t, r, r.status)
	mustStatus(t, e.get("", "/readyz"), 503)
}

// TestFailedLoginsBlocked: after the auth package blocks an address, requests
// with credentials get 429 with Retry-After, not 401.
func TestFailedLoginsBlocked(t *testing.T) {
	e := newEnv(t, nil)
	var got []int
	for range 12 {
		r := e.do(req{path: "/taxii2/", headers: map[string]string{"Authorization": basic("soc", "wrong")}})
		got = append(got, r.status)
	}
	if got[0] != 401 || got[len(got)-1] != 429 {
		t.Fatalf("statuses %v, want 401s then 429", got)
	}
	r := e.get("soc", "/taxii2/") // right password, same address: still blocked
	mustStatus(t, r, 429)
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 300 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
}
