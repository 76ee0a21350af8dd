// Package deviant is a small in-memory TAXII 2.1 server that reproduces, on
// demand, the peer bugs listed in taxii.md §b.2. Without bugs it passes the
// conformance suite; each Bug makes a known set of checks fail. It exists to
// test the suite, not to serve data: one API root, three fixed collections,
// one Basic credential, everything in memory.
package deviant

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Bug is one planted deviation from TAXII 2.1, as a peer server shows it.
type Bug string

// The planted bugs (taxii.md §b.2).
const (
	// BugBareAccept406: 406 for Accept application/taxii+json without a
	// version parameter (medallion: "does not support version None").
	BugBareAccept406 Bug = "bare-accept-406"
	// BugRedirectSlash: a path without its trailing slash gets a 308 redirect
	// with an HTML body (medallion/Flask).
	BugRedirectSlash Bug = "redirect-slash"
	// BugHTMLErrors: error responses are HTML pages with Content-Type
	// text/html (medallion's Flask 400s).
	BugHTMLErrors Bug = "html-errors"
	// BugInProcessNext: `next` is a key into a per-process map of {skip,
	// limit} records, advanced by every request that presents it and removed
	// when exhausted (medallion, cti-taxii-server#152): an offset cursor that
	// lives in one process.
	BugInProcessNext Bug = "in-process-next"
	// BugUndefinedHeaders: X-TAXII-Date-Added-First/Last are the literal
	// "undefined" on empty pages (OpenCTI, opencti#6973).
	BugUndefinedHeaders Bug = "undefined-date-headers"
	// BugVersionAllMixed: match[version]=all combined with other values is
	// accepted instead of refused (medallion).
	BugVersionAllMixed Bug = "version-all-mixed"
	// BugAddedAfterCreated: added_after is compared with the object's STIX
	// created instead of date_added (ATT&CK Workbench filter.service.ts).
	BugAddedAfterCreated Bug = "added-after-created"
)

// AllBugs lists every planted bug.
func AllBugs() []Bug {
	return []Bug{BugBareAccept406, BugRedirectSlash, BugHTMLErrors, BugInProcessNext,
		BugUndefinedHeaders, BugVersionAllMixed, BugAddedAfterCreated}
}

// The server's API root and collections.
const (
	APIRoot        = "/api1/"
	CollReadWrite  = "8a3b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d" // can_read and can_write
	CollReadOnly   = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9" // can_read only
	CollWriteOnly  = "c0ffee00-1234-4567-89ab-cdef01234567" // can_write only
	maxContent     = 1 << 20
	maxPage        = 100
	taxiiTimestamp = "2006-01-02T15:04:05.000000Z"
	mediaTAXII     = "application/taxii+json;version=2.1"
)

// Config configures the server.
type Config struct {
	User, Password string // the one Basic credential
	Bugs           []Bug
	Now            func() time.Time // nil: time.Now
	// Async answers POST with a pending status (no counts done yet); the
	// status endpoint then shows it complete. Not a bug (§5.5).
	Async bool
}

type rec struct {
	id, typ, spec string
	version       time.Time
	versionStr    string
	created       time.Time
	dateAdded     int64 // µs, unique and increasing per server
	raw           json.RawMessage
}

type coll struct {
	id, title       string
	canRead, canWrt bool
	recs            []*rec // ascending dateAdded
}

type cursorRec struct {
	skip int
	key  string
}

type server struct {
	cfg      Config
	bugs     map[Bug]bool
	mu       sync.Mutex
	colls    map[string]*coll
	order    []*coll
	statuses map[string]map[string]any
	lastDA   int64
	cursors  map[string]*cursorRec
}

// NewHandler returns the server.
func NewHandler(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{cfg: cfg, bugs: map[Bug]bool{}, colls: map[string]*coll{},
		statuses: map[string]map[string]any{}, cursors: map[string]*cursorRec{}}
	for _, b := range cfg.Bugs {
		s.bugs[b] = true
	}
	for _, c := range []*coll{
		{id: CollReadOnly, title: "Published", canRead: true},
		{id: CollReadWrite, title: "Inbox", canRead: true, canWrt: true},
		{id: CollWriteOnly, title: "Dropbox", canWrt: true},
	} {
		s.colls[c.id] = c
		s.order = append(s.order, c)
	}
	return s
}

// httpError is an error response.
type httpError struct {
	status int
	desc   string
	allow  string
}

func errf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, desc: fmt.Sprintf(format, args...)}
}

func (s *server) writeError(w http.ResponseWriter, e *httpError) {
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="deviant"`)
	}
	title := http.StatusText(e.status)
	if s.bugs[BugHTMLErrors] {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(e.status)
		fmt.Fprintf(w, "<!doctype html>\n<html><head><title>%d %s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
			e.status, title, title, html.EscapeString(e.desc))
		return
	}
	b, _ := json.Marshal(map[string]any{"title": title, "description": e.desc, "http_status": strconv.Itoa(e.status)})
	w.Header().Set("Content-Type", mediaTAXII)
	w.WriteHeader(e.status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", mediaTAXII)
	w.WriteHeader(status)
	w.Write(b)
}

// route is a matched endpoint.
type route struct {
	ep       string // discovery, root, status, collections, collection, objects, object, versions, manifest
	allow    string
	coll     string
	object   string
	statusID string
}

func match(path string) (*route, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) == 1 && segs[0] == "taxii2" {
		return &route{ep: "discovery", allow: "GET"}, true
	}
	if len(segs) == 0 || "/"+segs[0]+"/" != APIRoot {
		return nil, false
	}
	segs = segs[1:]
	switch {
	case len(segs) == 0:
		return &route{ep: "root", allow: "GET"}, true
	case len(segs) == 2 && segs[0] == "status":
		return &route{ep: "status", allow: "GET", statusID: segs[1]}, true
	case segs[0] != "collections":
		return nil, false
	case len(segs) == 1:
		return &route{ep: "collections", allow: "GET"}, true
	case len(segs) == 2:
		return &route{ep: "collection", allow: "GET", coll: segs[1]}, true
	case len(segs) == 3 && segs[2] == "objects":
		return &route{ep: "objects", allow: "GET, POST", coll: segs[1]}, true
	case len(segs) == 3 && segs[2] == "manifest":
		return &route{ep: "manifest", allow: "GET", coll: segs[1]}, true
	case len(segs) == 4 && segs[2] == "objects":
		return &route{ep: "object", allow: "GET, DELETE", coll: segs[1], object: segs[3]}, true
	case len(segs) == 5 && segs[2] == "objects" && segs[4] == "versions":
		return &route{ep: "versions", allow: "GET", coll: segs[1], object: segs[3]}, true
	}
	return nil, false
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if !strings.HasSuffix(path, "/") {
		if s.bugs[BugRedirectSlash] {
			loc := path + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusPermanentRedirect)
			fmt.Fprintf(w, "<!doctype html>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=%q>%s</a>.</p>\n", loc, html.EscapeString(loc))
			return
		}
		path += "/"
	}
	rt, ok := match(path)
	if !ok {
		s.writeError(w, errf(http.StatusNotFound, "no such endpoint"))
		return
	}
	if !slices.Contains(strings.Split(rt.allow, ", "), r.Method) {
		s.writeError(w, &httpError{status: http.StatusMethodNotAllowed, desc: r.Method + " is not allowed here", allow: rt.allow})
		return
	}
	if u, p, ok := basicAuth(r); !ok || u != s.cfg.User || p != s.cfg.Password {
		s.writeError(w, errf(http.StatusUnauthorized, "credentials required"))
		return
	}
	if !s.acceptable(r.Header.Get("Accept")) {
		s.writeError(w, errf(http.StatusNotAcceptable, "this is a TAXII 2.1 server"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.serve(w, r, rt); e != nil {
		s.writeError(w, e)
	}
}

// basicAuth parses Basic credentials with a case-insensitive scheme.
func basicAuth(r *http.Request) (string, string, bool) {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	u, p, ok := strings.Cut(string(b), ":")
	return u, p, ok
}

func (s *server) acceptable(h string) bool {
	if strings.TrimSpace(h) == "" {
		return true
	}
	for _, part := range strings.Split(h, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
				continue
			}
		}
		v, hasV := params["version"]
		switch mt {
		case "*/*", "application/*":
			return true
		case "application/taxii+json", "application/stix+json":
			if v == "2.1" || (!hasV && !s.bugs[BugBareAccept406]) {
				return true
			}
		}
	}
	return false
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, rt *route) *httpError {
	switch rt.ep {
	case "discovery":
		writeJSON(w, http.StatusOK, map[string]any{"title": "deviant TAXII server", "default": APIRoot, "api_roots": []string{APIRoot}})
		return nil
	case "root":
		writeJSON(w, http.StatusOK, map[string]any{"title": "deviant API root", "versions": []string{mediaTAXII}, "max_content_length": maxContent})
		return nil
	case "status":
		st, ok := s.statuses[rt.statusID]
		if !ok {
			return errf(http.StatusNotFound, "no such status")
		}
		writeJSON(w, http.StatusOK, st)
		return nil
	case "collections":
		var list []any
		for _, c := range s.order {
			list = append(list, collJSON(c))
		}
		writeJSON(w, http.StatusOK, map[string]any{"collections": list})
		return nil
	}
	c, ok := s.colls[rt.coll]
	if !ok {
		return errf(http.StatusNotFound, "no such collection")
	}
	switch rt.ep {
	case "collection":
		writeJSON(w, http.StatusOK, collJSON(c))
		return nil
	case "objects":
		if r.Method == http.MethodPost {
			return s.add(w, r, c)
		}
		return s.list(w, r, c, "objects", "")
	case "manifest":
		return s.list(w, r, c, "manifest", "")
	case "object":
		if r.Method == http.MethodDelete {
			return s.delete(w, r, c, rt.object)
		}
		return s.list(w, r, c, "object", rt.object)
	case "versions":
		return s.list(w, r, c, "versions", rt.object)
	}
	return errf(http.StatusNotFound, "no such endpoint")
}

func collJSON(c *coll) map[string]any {
	return map[string]any{"id": c.id, "title": c.title, "can_read": c.canRead, "can_write": c.canWrt,
		"media_types": []string{"application/stix+json;version=2.1"}}
}

// query is a parsed TAXII query (§3.4).
type query struct {
	addedAfter    *time.Time
	limit         int
	next          string
	ids, types    []string
	versions      []string
	specs         []string
	filterKeyText string
}

var matchFields = map[string][]string{
	"objects": {"id", "type", "version", "spec_version"}, "manifest": {"id", "type", "version", "spec_version"},
	"object": {"version", "spec_version"}, "versions": {"spec_version"}, "delete": {"version", "spec_version"},
}

func parseQuery(r *http.Request, ep string, bugs map[Bug]bool) (*query, *httpError) {
	v := r.URL.Query()
	q := &query{limit: maxPage}
	var key []string
	for k, vals := range v {
		if len(vals) > 1 {
			return nil, errf(http.StatusBadRequest, "%s given more than once", k)
		}
		if !strings.HasPrefix(k, "match[") {
			continue
		}
		field := strings.TrimSuffix(strings.TrimPrefix(k, "match["), "]")
		if !slices.Contains(matchFields[ep], field) {
			continue
		}
		vs := strings.Split(vals[0], ",")
		key = append(key, k+"="+vals[0])
		switch field {
		case "id":
			q.ids = vs
		case "type":
			q.types = vs
		case "spec_version":
			q.specs = vs
		case "version":
			for _, x := range vs {
				switch x {
				case "all":
					if len(vs) > 1 && !bugs[BugVersionAllMixed] {
						return nil, errf(http.StatusBadRequest, "match[version]: all cannot be combined")
					}
				case "first", "last":
				default:
					if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
						return nil, errf(http.StatusBadRequest, "match[version]: bad value %q", x)
					}
				}
			}
			q.versions = vs
		}
	}
	slices.Sort(key)
	q.filterKeyText = ep + "|" + r.URL.Path + "|" + strings.Join(key, "&")
	if ep == "delete" {
		return q, nil
	}
	if v.Has("added_after") {
		t, err := time.Parse(time.RFC3339Nano, v.Get("added_after"))
		if err != nil {
			return nil, errf(http.StatusBadRequest, "added_after: not a timestamp")
		}
		q.addedAfter = &t
	}
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n <= 0 {
			return nil, errf(http.StatusBadRequest, "limit: want a positive integer")
		}
		q.limit = min(n, maxPage)
	}
	q.next = v.Get("next")
	if v.Has("next") && q.next == "" {
		return nil, errf(http.StatusBadRequest, "next: empty")
	}
	return q, nil
}

// selectRecs applies the id, type, spec_version and version filters.
func selectRecs(recs []*rec, q *query, object string) []*rec {
	var cand []*rec
	for _, x := range recs {
		if (object != "" && x.id != object) || (len(q.ids) > 0 && !slices.Contains(q.ids, x.id)) ||
			(len(q.types) > 0 && !slices.Contains(q.types, x.typ)) {
			continue
		}
		if len(q.specs) > 0 && !slices.Contains(q.specs, x.spec) {
			continue
		}
		cand = append(cand, x)
	}
	vs := q.versions
	if len(vs) == 0 {
		vs = []string{"last"}
	}
	if slices.Contains(vs, "all") {
		return cand
	}
	first, last := map[string]*rec{}, map[string]*rec{}
	for _, x := range cand {
		if f := first[x.id]; f == nil || x.version.Before(f.version) {
			first[x.id] = x
		}
		if l := last[x.id]; l == nil || x.version.After(l.version) {
			last[x.id] = x
		}
	}
	var out []*rec
	for _, x := range cand {
		keep := false
		for _, v := range vs {
			switch v {
			case "first":
				keep = keep || first[x.id] == x
			case "last":
				keep = keep || last[x.id] == x
			default:
				t, err := time.Parse(time.RFC3339Nano, v)
				keep = keep || (err == nil && t.Equal(x.version))
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

func fmtDA(us int64) string { return time.UnixMicro(us).UTC().Format(taxiiTimestamp) }

// list serves objects, manifest, object and versions.
func (s *server) list(w http.ResponseWriter, r *http.Request, c *coll, ep, object string) *httpError {
	if !c.canRead {
		return errf(http.StatusForbidden, "collection not readable")
	}
	q, e := parseQuery(r, ep, s.bugs)
	if e != nil {
		return e
	}
	if object != "" && !slices.ContainsFunc(c.recs, func(x *rec) bool { return x.id == object }) {
		return errf(http.StatusNotFound, "no such object")
	}
	var recs []*rec
	if ep == "versions" {
		qq := *q
		qq.versions = []string{"all"}
		recs = selectRecs(c.recs, &qq, object)
	} else {
		recs = selectRecs(c.recs, q, object)
	}
	if q.addedAfter != nil {
		aa := q.addedAfter.UnixMicro()
		recs = slices.DeleteFunc(recs, func(x *rec) bool {
			if s.bugs[BugAddedAfterCreated] {
				return !x.created.After(*q.addedAfter)
			}
			return x.dateAdded <= aa
		})
	}
	page, more, next, e := s.paginate(recs, q)
	if e != nil {
		return e
	}
	h := w.Header()
	if len(page) > 0 {
		h.Set("X-TAXII-Date-Added-First", fmtDA(page[0].dateAdded))
		h.Set("X-TAXII-Date-Added-Last", fmtDA(page[len(page)-1].dateAdded))
	} else if s.bugs[BugUndefinedHeaders] {
		h.Set("X-TAXII-Date-Added-First", "undefined")
		h.Set("X-TAXII-Date-Added-Last", "undefined")
	}
	out := map[string]any{}
	if len(page) > 0 || more {
		out["more"] = more
	}
	if more && next != "" {
		out["next"] = next
	}
	if len(page) > 0 {
		var items []any
		for _, x := range page {
			switch ep {
			case "versions":
				items = append(items, x.versionStr)
			case "manifest":
				items = append(items, map[string]any{"id": x.id, "date_added": fmtDA(x.dateAdded),
					"version": x.versionStr, "media_type": "application/stix+json;version=" + x.spec})
			default:
				items = append(items, x.raw)
			}
		}
		key := "objects"
		if ep == "versions" {
			key = "versions"
		}
		out[key] = items
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// paginate cuts one page from recs: a keyset cursor over date_added, or with
// BugInProcessNext a server-side {skip} record advanced by each use.
func (s *server) paginate(recs []*rec, q *query) ([]*rec, bool, string, *httpError) {
	if s.bugs[BugInProcessNext] {
		skip, token := 0, ""
		if q.next != "" {
			cr, ok := s.cursors[q.next]
			if !ok || cr.key != q.filterKeyText {
				return nil, false, "", errf(http.StatusBadRequest, "next: unknown or expired")
			}
			skip, token = cr.skip, q.next
		}
		skip = min(skip, len(recs))
		end := min(skip+q.limit, len(recs))
		more := end < len(recs)
		switch {
		case more && token == "":
			token = uuid.NewString()
			s.cursors[token] = &cursorRec{skip: end, key: q.filterKeyText}
		case more:
			s.cursors[token].skip = end
		case token != "":
			delete(s.cursors, token)
		}
		return recs[skip:end], more, token, nil
	}
	if q.next != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.next)
		pos, key, ok := strings.Cut(string(b), "|")
		da, perr := strconv.ParseInt(pos, 10, 64)
		if err != nil || !ok || perr != nil || key != q.filterKeyText {
			return nil, false, "", errf(http.StatusBadRequest, "next: not a cursor for this query")
		}
		recs = slices.DeleteFunc(slices.Clone(recs), func(x *rec) bool { return x.dateAdded <= da })
	}
	if len(recs) <= q.limit {
		return recs, false, "", nil
	}
	page := recs[:q.limit]
	next := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(page[len(page)-1].dateAdded, 10) + "|" + q.filterKeyText))
	return page, true, next, nil
}

// add serves POST objects (§5.5).
func (s *server) add(w http.ResponseWriter, r *http.Request, c *coll) *httpError {
	if !c.canWrt {
		return errf(http.StatusForbidden, "collection not writable")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/taxii+json" && mt != "application/stix+json") || (params["version"] != "" && params["version"] != "2.1") {
		return errf(http.StatusUnsupportedMediaType, "unsupported Content-Type")
	}
	if r.ContentLength > maxContent {
		return errf(http.StatusRequestEntityTooLarge, "body over max_content_length")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxContent))
	if err != nil {
		return errf(http.StatusRequestEntityTooLarge, "body over max_content_length")
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return errf(http.StatusUnprocessableEntity, "not an envelope: %v", err)
	}
	now := s.cfg.Now().UTC()
	var successes, failures []any
	for _, raw := range env.Objects {
		var head struct {
			ID          string `json:"id"`
			Type        string `json:"type"`
			SpecVersion string `json:"spec_version"`
			Created     string `json:"created"`
			Modified    string `json:"modified"`
		}
		head.SpecVersion = "2.1"
		if err := json.Unmarshal(raw, &head); err != nil || head.ID == "" || head.Type == "" || head.Created == "" {
			failures = append(failures, map[string]any{"id": "unknown", "version": now.Format(taxiiTimestamp), "message": "not a STIX object"})
			continue
		}
		vs := head.Modified
		if vs == "" {
			vs = head.Created
		}
		ver, err1 := time.Parse(time.RFC3339Nano, vs)
		created, err2 := time.Parse(time.RFC3339Nano, head.Created)
		if err1 != nil || err2 != nil {
			failures = append(failures, map[string]any{"id": head.ID, "version": vs, "message": "bad timestamps"})
			continue
		}
		detail := map[string]any{"id": head.ID, "version": vs}
		if slices.ContainsFunc(c.recs, func(x *rec) bool { return x.id == head.ID && x.version.Equal(ver) }) {
			detail["message"] = "already in the collection"
			successes = append(successes, detail)
			continue
		}
		s.lastDA = max(s.lastDA+1, now.UnixMicro())
		c.recs = append(c.recs, &rec{id: head.ID, typ: head.Type, spec: head.SpecVersion, version: ver, versionStr: vs,
			created: created, dateAdded: s.lastDA, raw: raw})
		successes = append(successes, detail)
	}
	st := map[string]any{
		"id": uuid.NewString(), "status": "complete", "request_timestamp": now.Format(taxiiTimestamp),
		"total_count": len(successes) + len(failures), "success_count": len(successes),
		"failure_count": len(failures), "pending_count": 0,
	}
	if len(successes) > 0 {
		st["successes"] = successes
	}
	if len(failures) > 0 {
		st["failures"] = failures
	}
	s.statuses[st["id"].(string)] = st
	if s.cfg.Async {
		st = map[string]any{"id": st["id"], "status": "pending", "request_timestamp": st["request_timestamp"],
			"total_count": st["total_count"], "success_count": 0, "failure_count": 0, "pending_count": st["total_count"]}
	}
	writeJSON(w, http.StatusAccepted, st)
	return nil
}

// delete serves DELETE (§5.7).
func (s *server) delete(w http.ResponseWriter, r *http.Request, c *coll, object string) *httpError {
	if !c.canRead || !c.canWrt {
		return errf(http.StatusForbidden, "needs read and write access")
	}
	q, e := parseQuery(r, "delete", s.bugs)
	if e != nil {
		return e
	}
	if !slices.ContainsFunc(c.recs, func(x *rec) bool { return x.id == object }) {
		return errf(http.StatusNotFound, "no such object")
	}
	if len(q.versions) == 0 {
		q.versions = []string{"all"}
	}
	gone := selectRecs(c.recs, q, object)
	c.recs = slices.DeleteFunc(c.recs, func(x *rec) bool { return slices.Contains(gone, x) })
	w.Header().Set("Content-Type", mediaTAXII)
	w.WriteHeader(http.StatusOK)
	return nil
}
