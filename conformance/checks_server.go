package conformance

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// sub appends path segments to a URL string ending in "/".
func sub(u string, segs ...string) string { return join(mustURL(u), segs...) }

func (s *suite) collURL(id string) string { return join(s.root, "collections", id) }

// §8.2.2-1/2: HTTPS with TLS 1.2 or later.
func checkHTTPS(ctx context.Context, s *suite) error {
	if s.discovery.Scheme != "https" {
		return skip("needs HTTPS: the discovery URL is plain HTTP")
	}
	ex := s.get(ctx, s.discovery.String())
	if ex.err != nil {
		return fail(ex, "request failed: %v", ex.err)
	}
	if ex.tls == nil || ex.tls.Version < tls.VersionTLS12 {
		return fail(ex, "TLS below 1.2 negotiated")
	}
	return nil
}

// §8.2.1-1: discovery at /taxii2/ of the server root.
func checkDiscoveryPath(ctx context.Context, s *suite) error {
	u := *s.discovery
	u.Path, u.RawPath, u.RawQuery = "/taxii2/", "", ""
	ex := s.get(ctx, u.String())
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	if _, ok := m["title"].(string); !ok {
		return fail(ex, "/taxii2/ does not answer a discovery resource (no title)")
	}
	return nil
}

// §4.1.1: the discovery resource.
func checkDiscoveryResource(ctx context.Context, s *suite) error {
	ex := s.get(ctx, s.discovery.String())
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	if err := checkProps(ex, "discovery (§4.1.1)", m, []prop{
		{"title", "string", true}, {"description", "string", false}, {"contact", "string", false},
		{"default", "string", false}, {"api_roots", "strings", false},
	}); err != nil {
		return err
	}
	if d, ok := m["default"].(string); ok {
		list, _ := m["api_roots"].([]any)
		if !slices.Contains(list, any(d)) {
			return fail(ex, "default %q is not one of api_roots (§4.1.1 MUST)", d)
		}
	}
	return nil
}

// §4.1.1: API root URLs are HTTPS absolute or relative with one leading "/", no query.
func checkAPIRootURLs(ctx context.Context, s *suite) error {
	ex := s.get(ctx, s.discovery.String())
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	list, _ := m["api_roots"].([]any)
	for _, v := range list {
		str, _ := v.(string)
		u, err := url.Parse(str)
		switch {
		case err != nil:
			return fail(ex, "api_roots value %q is not a URL", str)
		case u.RawQuery != "" || strings.Contains(str, "?"):
			return fail(ex, "api_roots value %q has a query component (§4.1.1 MUST NOT)", str)
		case u.IsAbs() && u.Scheme != "https":
			return fail(ex, "api_roots value %q is absolute but not HTTPS (§4.1.1)", str)
		case !u.IsAbs() && (!strings.HasPrefix(str, "/") || strings.HasPrefix(str, "//")):
			return fail(ex, "api_roots value %q is relative but does not start with a single '/' (§4.1.1)", str)
		}
	}
	return nil
}

// §8.2.1-2, §4.2: every listed API root answers; URLs are unique.
func checkAPIRoots(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range s.roots {
		if seen[r.String()] {
			return fail(nil, "API root %s is listed twice in discovery (§4.2: each has a unique URL)", r)
		}
		seen[r.String()] = true
		if _, err := ok200(s.get(ctx, r.String())); err != nil {
			return err
		}
	}
	if len(s.roots) < 2 {
		return skip("needs a second API root to compare URLs (discovery lists one)")
	}
	return nil
}

// §4.2.1: the API root resource.
func checkAPIRootResource(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	ex := s.get(ctx, s.root.String())
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	if err := checkProps(ex, "api-root (§4.2.1)", m, []prop{
		{"title", "string", true}, {"description", "string", false},
		{"versions", "strings", true}, {"max_content_length", "int", true},
	}); err != nil {
		return err
	}
	has := false
	for _, v := range m["versions"].([]any) {
		if !strings.Contains(v.(string), "version=") {
			return fail(ex, "versions value %q has no version parameter (§4.2.1 MUST)", v)
		}
		if isTAXII21(v.(string)) {
			has = true
		}
	}
	if !has {
		return fail(ex, "versions does not include application/taxii+json;version=2.1 (§4.2.1 MUST)")
	}
	if n, _ := intOf(m["max_content_length"]); n <= 0 {
		return fail(ex, "max_content_length %v, want > 0", m["max_content_length"])
	}
	return nil
}

// §4.2: an unknown API root is 404.
func checkAPIRootUnknown(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	u := *s.root
	u.Path = "/conformance-" + uuid.NewString()[:8] + "/"
	return expect(s.get(ctx, u.String()), http.StatusNotFound)
}

// §3.1, taxii.md A.4: every endpoint also without its trailing slash, never redirected.
func checkNoTrailingSlash(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	urls := []string{s.root.String(), join(s.root, "collections"), coll, sub(coll, "objects"), sub(coll, "manifest")}
	for i, u := range urls {
		u = strings.TrimSuffix(u, "/")
		if i >= 3 {
			u = withQuery(u, "limit", "1") // be kind to large collections
		}
		ex := s.get(ctx, u)
		if ex.err == nil && ex.status >= 300 && ex.status < 400 {
			return fail(ex, "redirect (HTTP %d) instead of serving the slash-less URL; clients that drop the slash (MISP, OpenCTI) get redirected, and a redirected POST may lose its body", ex.status)
		}
		if _, err := ok200(ex); err != nil {
			return err
		}
	}
	if s.fx != nil {
		ex := s.do(ctx, request{method: http.MethodPost, url: strings.TrimSuffix(sub(s.fx.coll, "objects"), "/"), body: []byte(`{}`)})
		if ex.err == nil && ex.status >= 300 && ex.status < 400 {
			return fail(ex, "POST redirected (HTTP %d) instead of served", ex.status)
		}
		return expect(ex, http.StatusAccepted)
	}
	return nil
}

// §8.2.1-7: a request without User-Agent is served.
func checkNoUserAgent(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	_, err := ok200(s.do(ctx, request{url: s.root.String(), hdr: map[string]string{"User-Agent": ""}}))
	return err
}

// acceptCheck serves the given Accept values on the main GET endpoints.
func (s *suite) acceptServed(ctx context.Context, values ...string) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	for _, a := range values {
		for _, u := range []string{s.discovery.String(), s.root.String(), join(s.root, "collections"), withQuery(sub(coll, "objects"), "limit", "1")} {
			ex := s.do(ctx, request{url: u, accept: strp(a)})
			if ex.err == nil && ex.status == http.StatusNotAcceptable {
				return fail(ex, "406 for Accept %q, which a TAXII 2.1 server must serve (§3.1)", a)
			}
			if _, err := ok200(ex); err != nil {
				return err
			}
			if ct := ex.hdr.Get("Content-Type"); !isTAXII21(ct) {
				return fail(ex, "Content-Type %q for Accept %q, want %s (§3.1: the highest version when none is asked)", ct, a, mediaTAXII21)
			}
		}
	}
	return nil
}

func checkAcceptTAXII21(ctx context.Context, s *suite) error {
	return s.acceptServed(ctx, mediaTAXII21)
}

func checkAcceptBare(ctx context.Context, s *suite) error {
	return s.acceptServed(ctx, "application/taxii+json")
}

func checkAcceptLists(ctx context.Context, s *suite) error {
	return s.acceptServed(ctx,
		"application/json, application/taxii+json;version=2.1;q=0.9",
		"application/taxii+json; version=2.1",
		"text/html;q=0.5, application/taxii+json;version=2.1;q=1.0")
}

func checkAcceptWildcard(ctx context.Context, s *suite) error {
	return s.acceptServed(ctx, "*/*", "application/json, text/plain, */*")
}

// §3.1: an Accept offering only TAXII 2.0 gets 406.
func checkAccept406(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	ex := s.do(ctx, request{url: s.root.String(), accept: strp("application/taxii+json;version=2.0")})
	return expect(ex, http.StatusNotAcceptable)
}

// §5.3: the manifest's listed Accept value.
func checkAcceptManifest(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	ex := s.do(ctx, request{url: withQuery(sub(coll, "manifest"), "limit", "1"), accept: strp(mediaTAXII21 + "," + mediaSTIX21)})
	_, err = ok200(ex)
	return err
}

// taxii.md B.14: a GET that carries a Content-Type (MISP sends one) is served.
func checkGetWithContentType(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	_, err = ok200(s.do(ctx, request{url: withQuery(sub(coll, "objects"), "limit", "1"), hdr: map[string]string{"Content-Type": mediaTAXII21}}))
	return err
}

// §3.1: POST Content-Type compared as a media type (whitespace allowed).
func checkPostContentType(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	for _, ct := range []string{"application/taxii+json; version=2.1", "application/taxii+json;version=2.1"} {
		ex := s.do(ctx, request{method: http.MethodPost, url: sub(s.fx.coll, "objects"), body: []byte(`{}`),
			hdr: map[string]string{"Content-Type": ct}})
		if ex.err == nil && ex.status == http.StatusUnsupportedMediaType {
			return fail(ex, "415 for Content-Type %q, a media type defined for this endpoint (§3.1 MUST NOT)", ct)
		}
		if err := expect(ex, http.StatusAccepted); err != nil {
			return err
		}
	}
	return nil
}

// wrongAuth returns an Authorization value with wrong credentials.
func (s *suite) wrongAuth() string {
	if s.opt.Token != "" {
		return "Bearer " + s.opt.Token + "x"
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(s.opt.User+":"+s.opt.Password+"-not-the-password"))
}

// §1.6.9: no credentials → 401 with WWW-Authenticate.
func checkAuthMissing(ctx context.Context, s *suite) error {
	if s.opt.User == "" && s.opt.Token == "" {
		return skip("needs credentials (the run uses none, so the server is public)")
	}
	if err := s.needRoot(); err != nil {
		return err
	}
	served := 0
	for _, u := range []string{s.root.String(), join(s.root, "collections"), s.discovery.String()} {
		ex := s.do(ctx, request{url: u, anon: true})
		if ex.err == nil && ex.status == http.StatusOK {
			served++
			continue
		}
		if err := expect(ex, http.StatusUnauthorized); err != nil {
			return err
		}
		if ex.hdr.Get("WWW-Authenticate") == "" {
			return fail(ex, "401 without a WWW-Authenticate header (§1.6.9)")
		}
	}
	if served == 3 {
		return skip("the API root, its collections and discovery are all served without credentials")
	}
	return nil
}

// §1.6.9, §5: wrong credentials → 401 (collection endpoints: 401 or 404).
func checkAuthInvalid(ctx context.Context, s *suite) error {
	if s.opt.User == "" && s.opt.Token == "" {
		return skip("needs credentials (the run uses none)")
	}
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	ex := s.do(ctx, request{url: s.root.String(), authz: s.wrongAuth()})
	if err := expect(ex, http.StatusUnauthorized); err != nil {
		return err
	}
	if ex.hdr.Get("WWW-Authenticate") == "" {
		return fail(ex, "401 without a WWW-Authenticate header (§1.6.9)")
	}
	ex = s.do(ctx, request{url: sub(coll, "objects"), authz: s.wrongAuth()})
	if err := expect(ex, http.StatusUnauthorized, http.StatusNotFound); err != nil {
		return err
	}
	if ex.status == http.StatusUnauthorized && ex.hdr.Get("WWW-Authenticate") == "" {
		return fail(ex, "401 without a WWW-Authenticate header (§1.6.9)")
	}
	return nil
}

// taxii.md C.16: Basic with a lower-case scheme name (MISP sends "basic").
func checkAuthBasicCase(ctx context.Context, s *suite) error {
	if s.opt.User == "" {
		return skip("needs Basic credentials (--user, --password)")
	}
	if err := s.needRoot(); err != nil {
		return err
	}
	v := "basic " + base64.StdEncoding.EncodeToString([]byte(s.opt.User+":"+s.opt.Password))
	_, err := ok200(s.do(ctx, request{url: s.root.String(), authz: v}))
	return err
}

// findColl returns a listed collection with can_read == read and can_write == write.
func (s *suite) findColl(read, write bool) string {
	for _, c := range s.colls {
		if c["can_read"] == read && c["can_write"] == write {
			if id, ok := c["id"].(string); ok {
				return id
			}
		}
	}
	return ""
}

// §5.5: POST to a collection listed with can_write false → 403 or 404.
func checkForbiddenWrite(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	id := s.findColl(true, false)
	if id == "" {
		return skip("needs a second identity: no collection is listed with can_write false for this one")
	}
	// an empty envelope: nothing is written even if the server wrongly accepts it
	ex := s.do(ctx, request{method: http.MethodPost, url: sub(s.collURL(id), "objects"), body: []byte(`{}`)})
	return expect(ex, http.StatusForbidden, http.StatusNotFound)
}

// §5.3, §5.4: reads of a collection listed with can_read false → 403 or 404.
func checkForbiddenRead(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	id := s.findColl(false, true)
	if id == "" {
		return skip("needs a second identity: no collection is listed with can_read false for this one")
	}
	for _, ep := range []string{"objects", "manifest"} {
		if err := expect(s.get(ctx, sub(s.collURL(id), ep)), http.StatusForbidden, http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// §5.7: the DELETE permission matrix, as far as this identity's collections show it.
func checkDeleteMatrix(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	ran := 0
	for _, rw := range [][2]bool{{true, false}, {false, true}} {
		id := s.findColl(rw[0], rw[1])
		if id == "" {
			continue
		}
		ran++
		// a fresh id: nothing is deleted even if the server wrongly proceeds
		ex := s.do(ctx, request{method: http.MethodDelete, url: sub(s.collURL(id), "objects", newID("indicator"))})
		if err := expect(ex, http.StatusForbidden); err != nil {
			return fail(ex, "DELETE in a collection with can_read %v, can_write %v: got HTTP %d, want 403 (§5.7 MUST)", rw[0], rw[1], ex.status)
		}
	}
	ex := s.do(ctx, request{method: http.MethodDelete, url: sub(s.collURL(uuid.NewString()), "objects", newID("indicator"))})
	if err := expect(ex, http.StatusNotFound); err != nil {
		return err
	}
	if ran == 0 {
		return skip("needs a second identity: no collection is listed read-only or write-only for this one")
	}
	return nil
}

// §5.1: the collections resource.
func checkCollectionsResource(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	ex := s.get(ctx, join(s.root, "collections"))
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	if err := checkProps(ex, "collections (§5.1.1)", m, []prop{{"collections", "list", false}}); err != nil {
		return err
	}
	aliases := map[string]bool{}
	list, _ := m["collections"].([]any)
	for i, v := range list {
		c, ok := v.(map[string]any)
		if !ok {
			return fail(ex, "collections[%d] is %s, want an object", i, jsonKind(v))
		}
		if err := checkCollection(ex, fmt.Sprintf("collections[%d]", i), c); err != nil {
			return err
		}
		if a, ok := c["alias"].(string); ok {
			if aliases[a] {
				return fail(ex, "alias %q is used by two collections (§5.2.1 MUST be unique)", a)
			}
			aliases[a] = true
		}
	}
	return nil
}

func checkCollection(ex *exchange, what string, c map[string]any) error {
	if err := checkProps(ex, what+" (§5.2.1)", c, []prop{
		{"id", "string", true}, {"title", "string", true}, {"description", "string", false},
		{"alias", "string", false}, {"can_read", "bool", true}, {"can_write", "bool", true},
		{"media_types", "strings", false},
	}); err != nil {
		return err
	}
	if id := c["id"].(string); !uuid4RE.MatchString(id) {
		return fail(ex, "%s: id %q is not an RFC 4122 version 4 UUID (§2 identifier; Microsoft Sentinel refuses it)", what, id)
	}
	return nil
}

// §3.3: collections in a consistent order.
func checkCollectionsOrder(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	var orders [][]string
	var last *exchange
	for range 2 {
		last = s.get(ctx, join(s.root, "collections"))
		m, err := ok200(last)
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range collectionsOf(m) {
			id, _ := c["id"].(string)
			ids = append(ids, id)
		}
		orders = append(orders, ids)
	}
	if !slices.Equal(orders[0], orders[1]) {
		return fail(last, "collection order changed between two requests: %v then %v (§3.3)", orders[0], orders[1])
	}
	return nil
}

// §5.2: each collection also answers on its own, with the listed properties.
func checkCollectionResource(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	if len(s.colls) == 0 {
		return fail(nil, "the API root lists no collection for this identity")
	}
	for _, listed := range s.colls {
		id, _ := listed["id"].(string)
		ex := s.get(ctx, s.collURL(id))
		c, err := ok200(ex)
		if err != nil {
			return err
		}
		if err := checkCollection(ex, "collection", c); err != nil {
			return err
		}
		for _, k := range []string{"id", "title", "can_read", "can_write"} {
			if fmt.Sprint(c[k]) != fmt.Sprint(listed[k]) {
				return fail(ex, "%s is %v here but %v in the collections list", k, c[k], listed[k])
			}
		}
	}
	return nil
}

// §5.2: an unknown collection is 404.
func checkCollectionUnknown(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	u := s.collURL(uuid.NewString())
	for _, x := range []string{u, sub(u, "objects"), sub(u, "manifest")} {
		if err := expect(s.get(ctx, x), http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// §4.3: an unknown status is 404.
func checkStatusUnknown(ctx context.Context, s *suite) error {
	if err := s.needRoot(); err != nil {
		return err
	}
	return expect(s.get(ctx, join(s.root, "status", uuid.NewString())), http.StatusNotFound)
}

// errorRequests provokes errors of several kinds (404, 400, 406, 401, 405).
func (s *suite) errorRequests(ctx context.Context) ([]*exchange, error) {
	coll, err := s.needRead()
	if err != nil {
		return nil, err
	}
	exs := []*exchange{
		s.get(ctx, s.collURL(uuid.NewString())),
		s.get(ctx, withQuery(sub(coll, "objects"), "limit", "0")),
		s.do(ctx, request{url: s.root.String(), accept: strp("application/taxii+json;version=2.0")}),
		s.do(ctx, request{method: http.MethodPut, url: sub(coll, "objects"), body: []byte(`{}`)}),
	}
	if s.opt.User != "" || s.opt.Token != "" {
		exs = append(exs, s.do(ctx, request{url: s.root.String(), authz: s.wrongAuth()}))
	}
	return exs, nil
}

// §3.6.1: error bodies are TAXII error messages.
func checkErrorBodies(ctx context.Context, s *suite) error {
	exs, err := s.errorRequests(ctx)
	if err != nil {
		return err
	}
	for _, ex := range exs {
		if ex.err != nil {
			return fail(ex, "request failed: %v", ex.err)
		}
		if ex.status < 400 {
			continue // the checks of that status report it
		}
		m, err := object(ex)
		if err != nil {
			return fail(ex, "HTTP %d body is not a TAXII error message (§3.6.1): not a JSON object", ex.status)
		}
		if err := checkProps(ex, "error (§3.6.1)", m, []prop{
			{"title", "string", true}, {"description", "string", false}, {"error_id", "string", false},
			{"error_code", "string", false}, {"http_status", "string", false},
			{"external_details", "string", false}, {"details", "object", false},
		}); err != nil {
			return err
		}
		if hs, ok := m["http_status"].(string); ok && hs != fmt.Sprint(ex.status) {
			return fail(ex, "http_status %q differs from the HTTP status %d (§3.6.1 MUST)", hs, ex.status)
		}
	}
	return nil
}

// RFC 9110 §15.5.6: an unsupported method is 405 with Allow.
func checkMethodNotAllowed(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	for _, r := range []request{
		{method: http.MethodPut, url: sub(coll, "objects"), body: []byte(`{}`)},
		{method: http.MethodPost, url: s.discovery.String(), body: []byte(`{}`)},
		{method: http.MethodDelete, url: coll},
	} {
		ex := s.do(ctx, r)
		if err := expect(ex, http.StatusMethodNotAllowed); err != nil {
			return err
		}
		if ex.hdr.Get("Allow") == "" {
			return fail(ex, "405 without an Allow header (RFC 9110 §15.5.6 MUST)")
		}
	}
	return nil
}

// §3.1: every response of the run carried the TAXII 2.1 Content-Type.
func checkContentTypeSuccess(_ context.Context, s *suite) error {
	return s.scan(func(ex *exchange) bool { return ex.status >= 200 && ex.status < 300 }, func(ex *exchange) error {
		if !isTAXII21(ex.hdr.Get("Content-Type")) {
			return fail(ex, "Content-Type %q, want %s (§3.1: on every response)", ex.hdr.Get("Content-Type"), mediaTAXII21)
		}
		return nil
	})
}

func checkContentTypeError(_ context.Context, s *suite) error {
	return s.scan(func(ex *exchange) bool { return ex.status >= 400 }, func(ex *exchange) error {
		if !isTAXII21(ex.hdr.Get("Content-Type")) {
			return fail(ex, "error with Content-Type %q, want %s (§3.1: errors too; taxii2-client rejects anything else)", ex.hdr.Get("Content-Type"), mediaTAXII21)
		}
		return nil
	})
}

// §1.6.7, §2: every success body is UTF-8 JSON, and no list is empty.
func checkBodies(_ context.Context, s *suite) error {
	return s.scan(func(ex *exchange) bool { return ex.status >= 200 && ex.status < 300 && len(ex.body) > 0 }, func(ex *exchange) error {
		ex.trim()
		return ex.bodyErr
	})
}

// scan applies fn to every recorded exchange matching sel; it fails when none matched.
func (s *suite) scan(sel func(*exchange) bool, fn func(*exchange) error) error {
	n := 0
	for _, ex := range s.log {
		if ex.err != nil || !sel(ex) {
			continue
		}
		n++
		if err := fn(ex); err != nil {
			return err
		}
	}
	if n == 0 {
		return fail(nil, "no response of this kind was received during the run")
	}
	return nil
}
