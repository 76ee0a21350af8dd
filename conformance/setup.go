package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// fixture is what the run added to the writable collection.
type fixture struct {
	coll      string   // collection URL (ending in "/")
	bulk      []string // indicator ids posted in one envelope (identical request time)
	malware   string   // a malware id, in the same envelope as bulk
	versioned string   // an indicator posted with three versions
	versions  []string // its modified values, oldest first
	ids       []string // every id above
	post1     *exchange
	post2     *exchange
}

// setup reads discovery, picks the API root and collections, and adds the
// fixture objects when a writable collection is given. Problems are kept in
// setupErr / fxErr for the checks to report.
func (s *suite) setup(ctx context.Context) {
	s.setupErr = s.findRoot(ctx)
	if s.setupErr != nil {
		s.fxErr = s.setupErr
		return
	}
	if s.opt.Collection == "" {
		return
	}
	s.fxErr = s.addFixture(ctx)
}

func (s *suite) findRoot(ctx context.Context) error {
	ex := s.get(ctx, s.discovery.String())
	d, err := ok200(ex)
	if err != nil {
		return prereq("discovery", err)
	}
	list, _ := d["api_roots"].([]any)
	for _, v := range list {
		str, ok := v.(string)
		if !ok {
			continue
		}
		u, err := resolve(s.discovery, str)
		if err != nil {
			continue
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		s.roots = append(s.roots, u)
	}
	if len(s.roots) == 0 {
		return prereq("discovery", fail(ex, "discovery lists no usable api_roots"))
	}
	pick := s.roots[0]
	if def, ok := d["default"].(string); ok {
		if u, err := resolve(s.discovery, def); err == nil {
			for _, r := range s.roots {
				if strings.TrimSuffix(r.String(), "/") == strings.TrimSuffix(u.String(), "/") {
					pick = r
				}
			}
		}
	}
	var lastErr error
	found := false
	candidates := append([]*url.URL{pick}, slices.DeleteFunc(slices.Clone(s.roots), func(r *url.URL) bool { return r == pick })...)
	for _, r := range candidates {
		cex := s.get(ctx, join(r, "collections"))
		m, err := ok200(cex)
		if err != nil {
			lastErr = err
			continue
		}
		colls := collectionsOf(m)
		if s.opt.Collection == "" || hasCollection(colls, s.opt.Collection) {
			s.root, s.colls, found = r, colls, true
			break
		}
	}
	if !found {
		if s.opt.Collection != "" && lastErr == nil {
			return fmt.Errorf("prerequisite: collection %s is not listed in any API root's collections", s.opt.Collection)
		}
		return prereq("collections", lastErr)
	}
	rex := s.get(ctx, s.root.String())
	rr, err := ok200(rex)
	if err != nil {
		return prereq("API root", err)
	}
	s.rootRes = rr
	if n, ok := intOf(rr["max_content_length"]); ok {
		s.maxLen = n
	}
	if s.opt.Collection != "" {
		if c := s.coll(s.opt.Collection); c != nil && c["can_read"] == true {
			s.readColl = s.opt.Collection
		}
	}
	if s.readColl == "" {
		for _, c := range s.colls {
			if c["can_read"] == true {
				if id, ok := c["id"].(string); ok {
					s.readColl = id
					break
				}
			}
		}
	}
	return nil
}

func prereq(what string, err error) error {
	if fe, ok := err.(*failError); ok {
		return &failError{ex: fe.ex, reason: "prerequisite failed: " + what + ": " + fe.reason}
	}
	return fmt.Errorf("prerequisite failed: %s: %v", what, err)
}

func collectionsOf(m map[string]any) []map[string]any {
	list, _ := m["collections"].([]any)
	var out []map[string]any
	for _, v := range list {
		if c, ok := v.(map[string]any); ok {
			out = append(out, c)
		}
	}
	return out
}

func hasCollection(colls []map[string]any, id string) bool {
	for _, c := range colls {
		if c["id"] == id {
			return true
		}
	}
	return false
}

// coll returns the listed collection with id, or nil.
func (s *suite) coll(id string) map[string]any {
	for _, c := range s.colls {
		if c["id"] == id {
			return c
		}
	}
	return nil
}

// stixTime formats t as a STIX timestamp with milliseconds.
func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

var fixtureBase = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func indicatorJSON(id string, n int, created, modified time.Time, tag string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,`+
		`"name":"ctibroker conformance %s %d","pattern":"[ipv4-addr:value = '203.0.113.%d']",`+
		`"pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`,
		id, stixTime(created), stixTime(modified), tag, n, n%250+1)
}

func malwareJSON(id string, t time.Time, tag string) string {
	return fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":%q,"created":%q,"modified":%q,`+
		`"name":"ctibroker conformance %s","is_family":false}`, id, stixTime(t), stixTime(t), tag)
}

func envelopeOf(objs ...string) []byte {
	return []byte(`{"objects":[` + strings.Join(objs, ",") + `]}`)
}

func newID(typ string) string { return typ + "--" + uuid.NewString() }

// post adds objects to the collection at coll and remembers them for cleanup.
func (s *suite) post(ctx context.Context, coll string, body []byte, ids ...string) *exchange {
	for _, id := range ids {
		s.created[id] = coll
	}
	return s.do(ctx, request{method: http.MethodPost, url: join(mustURL(coll), "objects"), body: body})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// addFixture posts the run's objects: six indicators and a malware in one
// envelope, then one indicator in three versions.
func (s *suite) addFixture(ctx context.Context) error {
	c := s.coll(s.opt.Collection)
	if c == nil {
		return fmt.Errorf("prerequisite failed: collection %s is not listed", s.opt.Collection)
	}
	if c["can_write"] != true {
		return fmt.Errorf("prerequisite failed: collection %s is listed with can_write %v for this identity", s.opt.Collection, c["can_write"])
	}
	tag := uuid.NewString()[:8]
	fx := &fixture{coll: join(s.root, "collections", s.opt.Collection)}
	var objs []string
	for i := range 6 {
		id := newID("indicator")
		fx.bulk = append(fx.bulk, id)
		t := fixtureBase.Add(time.Duration(i) * time.Second)
		objs = append(objs, indicatorJSON(id, i, t, t, tag))
	}
	fx.malware = newID("malware")
	objs = append(objs, malwareJSON(fx.malware, fixtureBase, tag))
	fx.ids = append(append([]string{}, fx.bulk...), fx.malware)
	fx.post1 = s.post(ctx, fx.coll, envelopeOf(objs...), fx.ids...)
	if err := s.added(ctx, fx.post1, len(objs)); err != nil {
		return prereq("adding the test objects", err)
	}
	fx.versioned = newID("indicator")
	created := fixtureBase.Add(31 * 24 * time.Hour)
	objs = objs[:0]
	for i := range 3 {
		m := created.Add(time.Duration(i+1) * 24 * time.Hour)
		fx.versions = append(fx.versions, stixTime(m))
		objs = append(objs, indicatorJSON(fx.versioned, 100, created, m, tag))
	}
	fx.ids = append(fx.ids, fx.versioned)
	fx.post2 = s.post(ctx, fx.coll, envelopeOf(objs...), fx.versioned)
	if err := s.added(ctx, fx.post2, 3); err != nil {
		return prereq("adding the versioned test object", err)
	}
	s.fx = fx
	return nil
}

// added expects a 202 status; a pending status is polled until complete
// (§5.5: the client SHOULD poll), and then success_count must be n.
func (s *suite) added(ctx context.Context, ex *exchange, n int) error {
	if err := expect(ex, http.StatusAccepted); err != nil {
		return err
	}
	st, err := object(ex)
	if err != nil {
		return err
	}
	for i := 0; st["status"] == "pending" && i < 30; i++ {
		id, _ := st["id"].(string)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		ex = s.get(ctx, join(s.root, "status", id))
		if st, err = ok200(ex); err != nil {
			return err
		}
	}
	if st["status"] != "complete" {
		return fail(ex, "status %v, still not complete after polling for 6 s", st["status"])
	}
	if got, _ := intOf(st["success_count"]); got != int64(n) {
		return fail(ex, "success_count %v, want %d (failures: %v)", st["success_count"], n, st["failures"])
	}
	return nil
}

// cleanup deletes every object the run added (all versions).
func (s *suite) cleanup(ctx context.Context) {
	ids := make([]string, 0, len(s.created))
	for id := range s.created {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	s.opt.MaxRequests = s.sent + len(ids) // cleanup gets its own budget
	for _, id := range ids {
		s.do(ctx, request{method: http.MethodDelete, url: join(mustURL(s.created[id]), "objects", id)})
	}
	s.created = map[string]string{}
}

// needRoot reports a setup failure.
func (s *suite) needRoot() error {
	if s.setupErr != nil {
		return s.setupErr
	}
	return nil
}

// needFixture skips without a writable collection and fails when adding the
// test objects failed.
func (s *suite) needFixture() error {
	if s.opt.Collection == "" {
		return skip("needs write access: give a writable collection (--collection)")
	}
	if s.fx == nil {
		return s.fxErr
	}
	return nil
}

// needRead returns the URL of a readable collection.
func (s *suite) needRead() (string, error) {
	if err := s.needRoot(); err != nil {
		return "", err
	}
	if s.readColl == "" {
		return "", fail(nil, "no collection is readable by this identity (none listed with can_read true)")
	}
	return join(s.root, "collections", s.readColl), nil
}
