package conformance

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// query parameters selecting the fixture
func (fx *fixture) ours(extra ...string) []string {
	return append([]string{"match[id]", strings.Join(fx.ids, ",")}, extra...)
}

func (fx *fixture) latestKeys() []string {
	var out []string
	for i, id := range fx.bulk {
		out = append(out, id+"@"+instant(stixTime(fixtureBase.Add(time.Duration(i)*time.Second))))
	}
	out = append(out, fx.malware+"@"+instant(stixTime(fixtureBase)))
	return append(out, fx.versioned+"@"+instant(fx.versions[2]))
}

func (fx *fixture) allKeys() []string {
	out := fx.latestKeys()
	return append(out, fx.versioned+"@"+instant(fx.versions[0]), fx.versioned+"@"+instant(fx.versions[1]))
}

func (fx *fixture) objects() string  { return sub(fx.coll, "objects") }
func (fx *fixture) manifest() string { return sub(fx.coll, "manifest") }

// validateStatus checks a status resource (§4.3.1) and the list/count
// consistency taxii2-client enforces.
func validateStatus(ex *exchange, m map[string]any) error {
	if err := checkProps(ex, "status (§4.3.1)", m, []prop{
		{"id", "string", true}, {"status", "string", true}, {"request_timestamp", "string", false},
		{"total_count", "int", true}, {"success_count", "int", true}, {"successes", "list", false},
		{"failure_count", "int", true}, {"failures", "list", false},
		{"pending_count", "int", true}, {"pendings", "list", false},
	}); err != nil {
		return err
	}
	if id := m["id"].(string); !uuid4RE.MatchString(id) {
		return fail(ex, "status id %q is not a version 4 UUID (§2 identifier)", id)
	}
	if st := m["status"]; st != "complete" && st != "pending" {
		return fail(ex, "status %q, want complete or pending", st)
	}
	if ts, ok := m["request_timestamp"].(string); ok && !taxiiTimeRE.MatchString(ts) {
		return fail(ex, "request_timestamp %q is not a TAXII timestamp YYYY-MM-DDTHH:MM:SS.ssssssZ (§2)", ts)
	}
	total, _ := intOf(m["total_count"])
	var sum int64
	for _, k := range []string{"success", "failure", "pending"} {
		n, _ := intOf(m[k+"_count"])
		sum += n
		list, ok := m[k+"es"].([]any)
		if k == "pending" {
			list, ok = m["pendings"].([]any)
		}
		if ok && int64(len(list)) != n {
			return fail(ex, "%d %s listed but %s_count is %d", len(list), k, k, n)
		}
		for i, d := range list {
			dm, isObj := d.(map[string]any)
			if !isObj {
				return fail(ex, "%s details %d is %s, want an object", k, i, jsonKind(d))
			}
			if err := checkProps(ex, "status-details (§4.3.1)", dm, []prop{
				{"id", "string", true}, {"version", "string", true}, {"message", "string", false},
			}); err != nil {
				return err
			}
		}
	}
	if sum != total {
		return fail(ex, "success_count + failure_count + pending_count = %d, but total_count is %d", sum, total)
	}
	return nil
}

// §5.5: Add Objects answers 202 with a status.
func checkAddObjects(_ context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	for _, ex := range []*exchange{s.fx.post1, s.fx.post2} {
		m, err := object(ex)
		if err != nil {
			return err
		}
		if err := validateStatus(ex, m); err != nil {
			return err
		}
	}
	return nil
}

// §4.3: the status of an Add Objects request.
func checkStatusResource(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	m, err := object(s.fx.post1)
	if err != nil {
		return err
	}
	id, _ := m["id"].(string)
	ex := s.get(ctx, join(s.root, "status", id))
	st, err := ok200(ex)
	if err != nil {
		return err
	}
	if err := validateStatus(ex, st); err != nil {
		return err
	}
	if st["id"] != id {
		return fail(ex, "status id %v, want %s", st["id"], id)
	}
	if n, _ := intOf(st["total_count"]); n != int64(len(s.fx.ids)-1) && st["status"] == "complete" {
		return fail(ex, "total_count %d, want %d (objects posted)", n, len(s.fx.ids)-1)
	}
	return nil
}

// taxii.md J.50: a STIX bundle posted as the envelope (stix2's TAXIICollectionSink).
func checkAddBundle(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	id := newID("indicator")
	body := fmt.Sprintf(`{"type":"bundle","id":"bundle--%s","objects":[%s]}`, uuid.NewString(), indicatorJSON(id, 7, fixtureBase, fixtureBase, "bundle"))
	if err := s.added(ctx, s.post(ctx, s.fx.coll, []byte(body), id), 1); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, sub(s.fx.coll, "objects", id), kindObjects)
	if err != nil {
		return err
	}
	if len(p.items) != 1 {
		return fail(p.ex, "the object posted in a bundle is not readable back (%d objects)", len(p.items))
	}
	return nil
}

// §5.5: re-posting a stored object is not an error for that object.
func checkAddDuplicate(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	obj := indicatorJSON(s.fx.bulk[0], 0, fixtureBase, fixtureBase, "dup")
	// same id and version as stored: the server must not report a failure
	ex := s.post(ctx, s.fx.coll, envelopeOf(obj), s.fx.bulk[0])
	if err := expect(ex, http.StatusAccepted); err != nil {
		return err
	}
	m, err := object(ex)
	if err != nil {
		return err
	}
	if n, _ := intOf(m["failure_count"]); n != 0 {
		return fail(ex, "re-posting an object already in the collection was reported as a failure (§5.5 MUST NOT)")
	}
	return nil
}

// §4.2.1, §5.5: a body over max_content_length is 413.
func checkAddTooLarge(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	if s.maxLen <= 0 || s.maxLen > 64<<20 {
		return skip("max_content_length %d is outside what the suite sends (1 B to 64 MiB)", s.maxLen)
	}
	// an empty envelope padded with spaces: nothing is stored if the server accepts it
	body := bytes.Repeat([]byte(" "), int(s.maxLen)+1)
	body[0], body[len(body)-1] = '{', '}'
	ex := s.do(ctx, request{method: http.MethodPost, url: s.fx.objects(), body: body, hdr: map[string]string{"Expect": "100-continue"}})
	return expect(ex, http.StatusRequestEntityTooLarge)
}

// §5.5: a body that is not JSON is 400 or 422.
func checkAddNotJSON(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	ex := s.do(ctx, request{method: http.MethodPost, url: s.fx.objects(), body: []byte("this is not JSON")})
	return expect(ex, http.StatusBadRequest, http.StatusUnprocessableEntity)
}

// sameMedia compares two media types semantically.
func sameMedia(a, b string) bool {
	ma, pa, err1 := mime.ParseMediaType(a)
	mb, pb, err2 := mime.ParseMediaType(b)
	return err1 == nil && err2 == nil && ma == mb && pa["version"] == pb["version"]
}

// §5.3: the manifest of the run's objects, one record per version.
func checkManifestResource(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(s.fx.manifest(), s.fx.ours("match[version]", "all")...), kindManifest)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindManifest), s.fx.allKeys()); d != "" {
		return fail(p.ex, "manifest records (id@version) differ from the versions posted: %s", d)
	}
	var types []string
	if c := s.coll(s.opt.Collection); c != nil {
		for _, v := range asList(c["media_types"]) {
			if str, ok := v.(string); ok {
				types = append(types, str)
			}
		}
	}
	for _, o := range p.items {
		mt, ok := o["media_type"].(string)
		if !ok {
			continue
		}
		if len(types) == 0 {
			if base, _, err := mime.ParseMediaType(mt); err != nil || base != "application/stix+json" {
				return fail(p.ex, "media_type %q, but the collection lists no media_types (so only application/stix+json) (§5.3.1)", mt)
			}
			continue
		}
		if !slices.ContainsFunc(types, func(t string) bool { return sameMedia(t, mt) }) {
			return fail(p.ex, "media_type %q is not one of the collection's media_types %v (§5.3.1 MUST)", mt, types)
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

// §5.3, §3.7: no match → the list property is omitted.
func checkManifestEmpty(ctx context.Context, s *suite) error {
	return s.emptyResult(ctx, "manifest", kindManifest)
}

func checkObjectsEmpty(ctx context.Context, s *suite) error {
	return s.emptyResult(ctx, "objects", kindObjects)
}

func (s *suite) emptyResult(ctx context.Context, ep, kind string) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(sub(coll, ep), "match[id]", newID("indicator")), kind)
	if err != nil {
		return err
	}
	if p.hasList || len(p.items) > 0 {
		return fail(p.ex, "no object matches, so the response must omit \"objects\" (§3.7, §5.3.1)")
	}
	return nil
}

// §5.4: the run's objects in an envelope, latest versions by default.
func checkObjectsEnvelope(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(s.fx.objects(), s.fx.ours()...), kindObjects)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindObjects), s.fx.latestKeys()); d != "" {
		return fail(p.ex, "objects (id@version) differ from the latest versions posted: %s", d)
	}
	for _, o := range p.items {
		typ, _ := o["type"].(string)
		if id := o["id"].(string); !strings.HasPrefix(id, typ+"--") {
			return fail(p.ex, "object %s has type %q", id, typ)
		}
	}
	return nil
}

// §3.2: the date headers on every non-empty page of the four paged endpoints.
func checkDateHeaders(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	fx := s.fx
	vq := []string{"match[version]", "all"}
	for _, c := range []struct{ u, kind, mf string }{
		{withQuery(fx.objects(), fx.ours()...), kindObjects, withQuery(fx.manifest(), fx.ours()...)},
		{withQuery(fx.manifest(), fx.ours(vq...)...), kindManifest, withQuery(fx.manifest(), fx.ours(vq...)...)},
		{withQuery(sub(fx.coll, "objects", fx.versioned), vq...), kindObjects, withQuery(fx.manifest(), "match[id]", fx.versioned, "match[version]", "all")},
		{sub(fx.coll, "objects", fx.versioned, "versions"), kindVersions, withQuery(fx.manifest(), "match[id]", fx.versioned, "match[version]", "all")},
	} {
		p, err := s.fetchPage(ctx, c.u, c.kind)
		if err != nil {
			return err
		}
		if p.first == "" || p.last == "" {
			return fail(p.ex, "%s and %s are required on a non-empty page (§3.2 MUST)", hdrFirst, hdrLast)
		}
		mp, err := s.fetchPage(ctx, c.mf, kindManifest)
		if err != nil {
			return err
		}
		recs := records(mp)
		if len(recs) == 0 {
			return fail(mp.ex, "the manifest lists none of the run's objects")
		}
		first, last := recs[0].dateAdded, recs[0].dateAdded
		for _, r := range recs {
			if instant(r.dateAdded) < instant(first) {
				first = r.dateAdded
			}
			if instant(r.dateAdded) > instant(last) {
				last = r.dateAdded
			}
		}
		if instant(p.first) != instant(first) || instant(p.last) != instant(last) {
			return fail(p.ex, "%s %q / %s %q, but the manifest's date_added of these records run from %q to %q (§3.2)", hdrFirst, p.first, hdrLast, p.last, first, last)
		}
	}
	return nil
}

// §3.2, taxii.md Q.85: empty pages carry no invalid date header values.
func checkEmptyPageHeaders(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	for _, ep := range []string{"objects", "manifest"} {
		for _, q := range [][]string{
			{"match[id]", newID("indicator")},
			{"match[id]", newID("indicator"), "added_after", "2030-01-01T00:00:00.000000Z"},
		} {
			ex := s.get(ctx, withQuery(sub(coll, ep), q...))
			if _, err := ok200(ex); err != nil {
				return err
			}
			for _, h := range []string{hdrFirst, hdrLast} {
				if v := ex.hdr.Get(h); v != "" && !taxiiTimeRE.MatchString(v) {
					return fail(ex, "%s: %q on an empty page; omit the header rather than send a non-timestamp (§2, §3.2)", h, v)
				}
			}
		}
	}
	return nil
}

// §2: TAXII timestamps have exactly microseconds.
func checkTimestamps(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(s.fx.manifest(), s.fx.ours("match[version]", "all")...), kindManifest)
	if err != nil {
		return err
	}
	for _, r := range records(p) {
		if !taxiiTimeRE.MatchString(r.dateAdded) {
			return fail(p.ex, "date_added %q is not a TAXII timestamp YYYY-MM-DDTHH:MM:SS.ssssssZ (§2)", r.dateAdded)
		}
	}
	for _, h := range []string{p.first, p.last} {
		if !taxiiTimeRE.MatchString(h) {
			return fail(p.ex, "date header %q is not a TAXII timestamp (§2, §3.2)", h)
		}
	}
	return nil
}

// §3.2, taxii.md Q.86: date_added is when the server added the version.
func checkDateAddedClock(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(s.fx.manifest(), s.fx.ours("match[version]", "all")...), kindManifest)
	if err != nil {
		return err
	}
	lo, hi := s.start.Add(-24*time.Hour), s.opt.Now().Add(24*time.Hour)
	for _, r := range records(p) {
		t, ok := parseTime(r.dateAdded)
		if !ok || t.Before(lo) || t.After(hi) {
			return fail(p.ex, "date_added %q of %s is not the time the server added it (the run started %s); it looks like a STIX date", r.dateAdded, r.id, s.start.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// §3.3: objects and manifest records ascend by date_added.
func checkSortDateAdded(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	q := s.fx.ours("match[version]", "all")
	mp, err := s.fetchPage(ctx, withQuery(s.fx.manifest(), q...), kindManifest)
	if err != nil {
		return err
	}
	added := map[string]string{}
	prev := ""
	for _, r := range records(mp) {
		d := instant(r.dateAdded)
		if d < prev {
			return fail(mp.ex, "manifest record %s@%s (date_added %s) comes after a later one (§3.3: ascending date_added)", r.id, r.version, r.dateAdded)
		}
		prev = d
		added[r.id+"@"+instant(r.version)] = d
	}
	op, err := s.fetchPage(ctx, withQuery(s.fx.objects(), q...), kindObjects)
	if err != nil {
		return err
	}
	prev = ""
	for _, k := range itemKeys(op, kindObjects) {
		d := added[k]
		if d < prev {
			return fail(op.ex, "object %s (date_added %s per the manifest) comes after a later one (§3.3)", k, d)
		}
		prev = d
	}
	return nil
}

// §5.6: one object, latest version by default.
func checkObjectGet(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, sub(s.fx.coll, "objects", s.fx.versioned), kindObjects)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindObjects), []string{s.fx.versioned + "@" + instant(s.fx.versions[2])}); d != "" {
		return fail(p.ex, "want exactly the latest version (match[version] defaults to last, §3.4.1): %s", d)
	}
	return nil
}

// §5.6, §5.8: an unknown object is 404.
func checkObjectUnknown(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	id := newID("indicator")
	for _, u := range []string{sub(coll, "objects", id), sub(coll, "objects", id, "versions")} {
		if err := expect(s.get(ctx, u), http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// §5.6: filters that exclude every version give an empty envelope.
func checkObjectFilteredEmpty(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(sub(s.fx.coll, "objects", s.fx.versioned), "match[version]", "2019-06-01T00:00:00.000Z"), kindObjects)
	if err != nil {
		return err
	}
	if p.hasList {
		return fail(p.ex, "no version matches, so the envelope must omit \"objects\" (§3.7)")
	}
	return nil
}

// §5.8: the versions of an object.
func checkVersions(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, sub(s.fx.coll, "objects", s.fx.versioned, "versions"), kindVersions)
	if err != nil {
		return err
	}
	var want []string
	for _, v := range s.fx.versions {
		want = append(want, instant(v))
	}
	if d := sameSet(itemKeys(p, kindVersions), want); d != "" {
		return fail(p.ex, "versions differ from the three posted: %s", d)
	}
	p, err = s.fetchPage(ctx, sub(s.fx.coll, "objects", s.fx.bulk[1], "versions"), kindVersions)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindVersions), []string{instant(stixTime(fixtureBase.Add(time.Second)))}); d != "" {
		return fail(p.ex, "versions of a one-version object: %s", d)
	}
	return nil
}

// §5.7: DELETE removes the object from every listing.
func checkDeleteObject(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	id := s.fx.bulk[5]
	ex := s.do(ctx, request{method: http.MethodDelete, url: sub(s.fx.coll, "objects", id)})
	if err := expect(ex, http.StatusOK); err != nil {
		return err
	}
	if len(bytes.TrimSpace(ex.body)) > 0 {
		return fail(ex, "DELETE answered with a body; §5.7 says no payload")
	}
	if err := expect(s.get(ctx, sub(s.fx.coll, "objects", id)), http.StatusNotFound); err != nil {
		return fail(s.log[len(s.log)-1], "the deleted object is still served (§5.7 MUST 404)")
	}
	for _, ep := range []struct{ u, kind string }{{s.fx.objects(), kindObjects}, {s.fx.manifest(), kindManifest}} {
		p, err := s.fetchPage(ctx, withQuery(ep.u, "match[id]", id, "match[version]", "all"), ep.kind)
		if err != nil {
			return err
		}
		if len(p.items) > 0 {
			return fail(p.ex, "the deleted object is still listed (§5.7 MUST NOT)")
		}
	}
	return nil
}

// §5.7: DELETE with match[version] removes only that version.
func checkDeleteVersion(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	ex := s.do(ctx, request{method: http.MethodDelete, url: withQuery(sub(s.fx.coll, "objects", s.fx.versioned), "match[version]", s.fx.versions[0])})
	if err := expect(ex, http.StatusOK); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, sub(s.fx.coll, "objects", s.fx.versioned, "versions"), kindVersions)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindVersions), []string{instant(s.fx.versions[1]), instant(s.fx.versions[2])}); d != "" {
		return fail(p.ex, "after deleting version %s: %s", s.fx.versions[0], d)
	}
	return nil
}

// §5.8, §5.3.1: an object without modified is versioned by its created.
func checkUnversioned(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	id := newID("marking-definition")
	created := "2020-03-01T00:00:00.000Z"
	obj := fmt.Sprintf(`{"type":"marking-definition","spec_version":"2.1","id":%q,"created":%q,`+
		`"definition_type":"statement","definition":{"statement":"ctibroker conformance test marking"}}`, id, created)
	if err := s.added(ctx, s.post(ctx, s.fx.coll, envelopeOf(obj), id), 1); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, sub(s.fx.coll, "objects", id, "versions"), kindVersions)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindVersions), []string{instant(created)}); d != "" {
		return fail(p.ex, "the version of an object without modified must be its created (§5.8 MUST): %s", d)
	}
	p, err = s.fetchPage(ctx, withQuery(s.fx.manifest(), "match[id]", id), kindManifest)
	if err != nil {
		return err
	}
	if d := sameSet(itemKeys(p, kindManifest), []string{id + "@" + instant(created)}); d != "" {
		return fail(p.ex, "manifest version of an object without modified must be its created (§5.3.1): %s", d)
	}
	return nil
}
