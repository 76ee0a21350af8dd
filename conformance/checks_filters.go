package conformance

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
)

// §3.4: malformed parameters are 400.
func checkBadParams(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	for _, q := range [][]string{
		{"added_after", "yesterday"},
		{"added_after", "2021-13-45T99:00:00Z"},
		{"limit", "0"},
		{"limit", "-1"},
		{"limit", "ten"},
		{"added_after", "2020-01-01T00:00:00.000000Z", "added_after", "2021-01-01T00:00:00.000000Z"},
	} {
		if err := expect(s.get(ctx, withQuery(sub(coll, "objects"), q...)), http.StatusBadRequest); err != nil {
			return err
		}
	}
	return nil
}

// §3.4, App. B: a `next` the server did not issue is 400.
func checkBadNext(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	return expect(s.get(ctx, withQuery(sub(coll, "objects"), "next", "conformance-not-a-cursor-"+newID("x")[3:])), http.StatusBadRequest)
}

// keysOf fetches u as kind and returns its item keys.
func (s *suite) keysOf(ctx context.Context, u, kind string) (*page, []string, error) {
	p, err := s.fetchPage(ctx, u, kind)
	if err != nil {
		return nil, nil, err
	}
	return p, itemKeys(p, kind), nil
}

// §3.4: added_after selects by date_added, strictly later.
func checkAddedAfter(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	all := s.fx.ours("match[version]", "all")
	mp, err := s.fetchPage(ctx, withQuery(s.fx.manifest(), all...), kindManifest)
	if err != nil {
		return err
	}
	recs := records(mp)
	if len(recs) == 0 {
		return fail(mp.ex, "the manifest lists none of the run's objects")
	}
	first := recs[0].dateAdded
	var want []string
	for _, r := range recs {
		if instant(r.dateAdded) > instant(first) {
			want = append(want, r.id+"@"+instant(r.version))
		}
	}
	for _, ep := range []struct{ u, kind string }{{s.fx.manifest(), kindManifest}, {s.fx.objects(), kindObjects}} {
		p, got, err := s.keysOf(ctx, withQuery(ep.u, append(all, "added_after", first)...), ep.kind)
		if err != nil {
			return err
		}
		if d := sameSet(got, want); d != "" {
			return fail(p.ex, "added_after=%s must select the versions whose date_added is strictly later, whatever their STIX dates (§3.4): %s", first, d)
		}
	}
	return nil
}

// taxii.md N.65: added_after in any RFC 3339 precision.
func checkAddedAfterPrecision(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	for _, v := range []string{"2000-01-01T00:00:00Z", "2000-01-01T00:00:00.1Z", "2000-01-01T00:00:00.123Z", "2000-01-01T00:00:00.123456Z"} {
		p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), s.fx.ours("added_after", v)...), kindObjects)
		if err != nil {
			return err
		}
		if d := sameSet(got, s.fx.latestKeys()); d != "" {
			return fail(p.ex, "added_after=%s: %s", v, d)
		}
	}
	return nil
}

// §3.4.1: match[id] with several values.
func checkMatchID(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), "match[id]", s.fx.bulk[0]+","+s.fx.malware), kindObjects)
	if err != nil {
		return err
	}
	want := []string{s.fx.latestKeys()[0], s.fx.latestKeys()[6]}
	if d := sameSet(got, want); d != "" {
		return fail(p.ex, "match[id] with two ids: %s", d)
	}
	return nil
}

// §3.4.1: match[type]; a STIX type with no objects is not an error.
func checkMatchType(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	lk := s.fx.latestKeys()
	for _, c := range []struct {
		typ  string
		want []string
	}{
		{"malware", lk[6:7]},
		{"indicator", append(slices.Clone(lk[:6]), lk[7])},
		{"malware,indicator", lk},
		{"grouping", nil},
	} {
		p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), s.fx.ours("match[type]", c.typ)...), kindObjects)
		if err != nil {
			return err
		}
		if d := sameSet(got, c.want); d != "" {
			return fail(p.ex, "match[type]=%s: %s", c.typ, d)
		}
	}
	return nil
}

// §3.4.1: different match fields are ANDed.
func checkMatchAnd(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), "match[id]", s.fx.bulk[0], "match[type]", "malware"), kindObjects)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return fail(p.ex, "match[id]=<an indicator>&match[type]=malware must match nothing (fields are ANDed, §3.4.1); got %v", got)
	}
	return nil
}

// §3.4.1, interop §3.13.1.10: a repeated match field is 400.
func checkMatchRepeated(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	return expect(s.get(ctx, withQuery(sub(coll, "objects"), "match[type]", "indicator", "match[type]", "malware")), http.StatusBadRequest)
}

// §3.4.1: match[version] first, last, all, exact, and lists.
func checkMatchVersion(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	v := s.fx.versions
	k := func(i int) string { return s.fx.versioned + "@" + instant(v[i]) }
	for _, c := range []struct {
		q    []string
		want []string
	}{
		{nil, []string{k(2)}},
		{[]string{"match[version]", "last"}, []string{k(2)}},
		{[]string{"match[version]", "first"}, []string{k(0)}},
		{[]string{"match[version]", "all"}, []string{k(0), k(1), k(2)}},
		{[]string{"match[version]", "first,last"}, []string{k(0), k(2)}},
		{[]string{"match[version]", v[1]}, []string{k(1)}},
		{[]string{"match[version]", v[0] + "," + v[2]}, []string{k(0), k(2)}},
	} {
		p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), append([]string{"match[id]", s.fx.versioned}, c.q...)...), kindObjects)
		if err != nil {
			return err
		}
		if d := sameSet(got, c.want); d != "" {
			return fail(p.ex, "%s: %s", strings.Join(c.q, "="), d)
		}
	}
	return nil
}

// §3.4.1: "all" combined with other values is 400.
func checkVersionAllCombined(ctx context.Context, s *suite) error {
	coll, err := s.needRead()
	if err != nil {
		return err
	}
	for _, v := range []string{"all,2020-01-02T00:00:00.000Z", "all,last"} {
		if err := expect(s.get(ctx, withQuery(sub(coll, "objects"), "match[version]", v)), http.StatusBadRequest); err != nil {
			return err
		}
	}
	return nil
}

// §3.4.1: match[spec_version].
func checkMatchSpecVersion(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	for _, c := range []struct {
		v    string
		want []string
	}{{"2.1", s.fx.latestKeys()}, {"2.0", nil}, {"2.0,2.1", s.fx.latestKeys()}} {
		p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), s.fx.ours("match[spec_version]", c.v)...), kindObjects)
		if err != nil {
			return err
		}
		if d := sameSet(got, c.want); d != "" {
			return fail(p.ex, "match[spec_version]=%s: %s", c.v, d)
		}
	}
	return nil
}

// §3.4.1, §3.5: limit bounds every paged endpoint and sets more.
func checkLimit(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	fx := s.fx
	for _, c := range []struct{ u, kind string }{
		{withQuery(fx.objects(), fx.ours()...), kindObjects},
		{withQuery(fx.manifest(), fx.ours()...), kindManifest},
		{sub(fx.coll, "objects", fx.versioned, "versions"), kindVersions},
		{withQuery(sub(fx.coll, "objects", fx.versioned), "match[version]", "all"), kindObjects},
	} {
		p, err := s.fetchPage(ctx, withQuery(c.u, "limit", "1"), c.kind)
		if err != nil {
			return err
		}
		if n := len(p.items) + len(p.vers); n != 1 {
			return fail(p.ex, "limit=1 returned %d items", n)
		}
		if !p.more {
			return fail(p.ex, "limit=1 left results out but more is not true (§3.5 MUST)")
		}
		p, err = s.fetchPage(ctx, withQuery(c.u, "limit", "100"), c.kind)
		if err != nil {
			return err
		}
		if p.more {
			return fail(p.ex, "limit=100 covers every match, yet more is true")
		}
	}
	return nil
}

// taxii.md O.82: a limit above the server's cap is capped, not refused.
func checkLimitLarge(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, got, err := s.keysOf(ctx, withQuery(s.fx.objects(), s.fx.ours("limit", "100000")...), kindObjects)
	if err != nil {
		return err
	}
	if d := sameSet(got, s.fx.latestKeys()); d != "" {
		return fail(p.ex, "limit=100000: %s", d)
	}
	return nil
}

// pagesEqual pages through u both ways or one way and compares with want.
func (s *suite) pagesEqual(ctx context.Context, u, kind string, limit int, byHeader bool, want []string) error {
	got, pages, err := s.paginate(ctx, u, kind, limit, byHeader)
	if err != nil {
		return err
	}
	how := "next"
	if byHeader {
		how = "added_after = " + hdrLast
	}
	if d := sameSet(got, want); d != "" {
		return fail(pages[len(pages)-1].ex, "paging with limit=%d by %s: the union of %d pages differs from the unpaged set: %s", limit, how, len(pages), d)
	}
	return nil
}

// §3.5: pages by next cover the set exactly once.
func checkPaginationNext(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	return s.pagesEqual(ctx, withQuery(s.fx.objects(), s.fx.ours("match[version]", "all")...), kindObjects, 2, false, s.fx.allKeys())
}

// §3.5, taxii.md H.45: manifest pages by next.
func checkPaginationManifest(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	return s.pagesEqual(ctx, withQuery(s.fx.manifest(), s.fx.ours("match[version]", "all")...), kindManifest, 2, false, s.fx.allKeys())
}

// §3.5: pages by added_after = X-TAXII-Date-Added-Last cover the set exactly once.
func checkPaginationHeader(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	for _, ep := range []struct{ u, kind string }{{s.fx.objects(), kindObjects}, {s.fx.manifest(), kindManifest}} {
		if err := s.pagesEqual(ctx, withQuery(ep.u, s.fx.ours("match[version]", "all")...), ep.kind, 2, true, s.fx.allKeys()); err != nil {
			return err
		}
	}
	return nil
}

// taxii.md O.80: objects added by one request (one server timestamp) page
// losslessly one at a time, by next and by the header.
func checkPaginationBulk(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	u := withQuery(s.fx.objects(), "match[id]", strings.Join(s.fx.bulk, ","))
	want := s.fx.latestKeys()[:6]
	for _, byHeader := range []bool{false, true} {
		if err := s.pagesEqual(ctx, u, kindObjects, 1, byHeader, want); err != nil {
			return err
		}
	}
	return nil
}

// §5.8, interop §3.14.1: versions page by next and by the header.
func checkPaginationVersions(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	var want []string
	for _, v := range s.fx.versions {
		want = append(want, instant(v))
	}
	u := sub(s.fx.coll, "objects", s.fx.versioned, "versions")
	for _, byHeader := range []bool{false, true} {
		if err := s.pagesEqual(ctx, u, kindVersions, 1, byHeader, want); err != nil {
			return err
		}
	}
	return nil
}

// App. B: a next re-presented with other filters reveals nothing outside them.
func checkNextScope(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	p, err := s.fetchPage(ctx, withQuery(s.fx.objects(), s.fx.ours("match[type]", "indicator", "limit", "1")...), kindObjects)
	if err != nil {
		return err
	}
	if !p.more || p.next == "" {
		return fail(p.ex, "limit=1 over several objects gave no next")
	}
	ex := s.get(ctx, withQuery(s.fx.objects(), s.fx.ours("match[type]", "malware", "limit", "1", "next", p.next)...))
	if ex.err == nil && ex.status == http.StatusBadRequest {
		return nil
	}
	m, err := ok200(ex)
	if err != nil {
		return err
	}
	q, err := decodePage(ex, m, kindObjects)
	if err != nil {
		return err
	}
	for _, o := range q.items {
		if o["type"] != "malware" {
			return fail(ex, "a next issued for match[type]=indicator, presented with match[type]=malware, returned %v (App. B: next must be re-evaluated against the query)", o["id"])
		}
	}
	return nil
}

// GET is safe (RFC 9110 §9.2.1): the same next twice gives the same page.
func checkNextRepeatable(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	base := withQuery(s.fx.objects(), s.fx.ours("limit", "2")...)
	p, err := s.fetchPage(ctx, base, kindObjects)
	if err != nil {
		return err
	}
	if !p.more || p.next == "" {
		return fail(p.ex, "limit=2 over %d objects gave no next", len(s.fx.ids))
	}
	a, ka, err := s.keysOf(ctx, withQuery(base, "next", p.next), kindObjects)
	if err != nil {
		return err
	}
	b, kb, err := s.keysOf(ctx, withQuery(base, "next", p.next), kindObjects)
	if err != nil {
		return err
	}
	if !slices.Equal(ka, kb) || a.more != b.more {
		return fail(b.ex, "the same next gave %v, then %v: the cursor is server-side state that a GET advances (a retried request skips a page; it cannot work behind a load balancer)", ka, kb)
	}
	return nil
}

// taxii.md O.79: deleting objects already seen does not make the rest skip.
func checkNextAfterDelete(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	var ids, objs, keys []string
	t := fixtureBase.Add(time.Hour)
	for i := range 5 {
		id := newID("indicator")
		ids = append(ids, id)
		objs = append(objs, indicatorJSON(id, 200+i, t, t, "delete"))
		keys = append(keys, id+"@"+instant(stixTime(t)))
	}
	if err := s.added(ctx, s.post(ctx, s.fx.coll, envelopeOf(objs...), ids...), 5); err != nil {
		return err
	}
	base := withQuery(s.fx.objects(), "match[id]", strings.Join(ids, ","), "limit", "2")
	p, err := s.fetchPage(ctx, base, kindObjects)
	if err != nil {
		return err
	}
	if !p.more || p.next == "" || len(p.items) != 2 {
		return fail(p.ex, "limit=2 over 5 objects: want 2 objects, more and next")
	}
	seen := itemKeys(p, kindObjects)
	for _, o := range p.items {
		ex := s.do(ctx, request{method: http.MethodDelete, url: sub(s.fx.coll, "objects", o["id"].(string))})
		if err := expect(ex, http.StatusOK); err != nil {
			return err
		}
	}
	next := p.next
	var rest []string
	for range 10 {
		q, got, err := s.keysOf(ctx, withQuery(base, "next", next), kindObjects)
		if err != nil {
			return err
		}
		rest = append(rest, got...)
		if !q.more {
			var want []string
			for _, k := range keys {
				if !slices.Contains(seen, k) {
					want = append(want, k)
				}
			}
			if d := sameSet(rest, want); d != "" {
				return fail(q.ex, "after deleting the 2 objects of page 1, following next lost or repeated objects: %s (an offset cursor shifts when earlier objects go)", d)
			}
			return nil
		}
		if q.next == "" {
			return fail(q.ex, "more is true but no next")
		}
		next = q.next
	}
	return fail(nil, "pagination did not end")
}

// §5.6: the versions of one object page by next and by the header.
func checkPaginationObject(ctx context.Context, s *suite) error {
	if err := s.needFixture(); err != nil {
		return err
	}
	var want []string
	for _, v := range s.fx.versions {
		want = append(want, s.fx.versioned+"@"+instant(v))
	}
	u := withQuery(sub(s.fx.coll, "objects", s.fx.versioned), "match[version]", "all")
	for _, byHeader := range []bool{false, true} {
		if err := s.pagesEqual(ctx, u, kindObjects, 1, byHeader, want); err != nil {
			return err
		}
	}
	return nil
}
