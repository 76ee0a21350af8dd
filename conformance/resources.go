package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Response headers of the paged endpoints (§3.2).
const (
	hdrFirst = "X-TAXII-Date-Added-First"
	hdrLast  = "X-TAXII-Date-Added-Last"
)

var (
	// taxiiTimeRE is a TAXII timestamp (§2): UTC, exactly microseconds, Z.
	taxiiTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	// customNameRE is a custom property name on a TAXII resource (§7.1.1).
	customNameRE = regexp.MustCompile(`^[a-z0-9_]{3,250}$`)
	uuid4RE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// intOf returns a JSON number that is an integer within ±(2^53−1) (§2).
func intOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || i > 1<<53-1 || i < -(1<<53-1) {
		return 0, false
	}
	return i, true
}

// parseTime parses an RFC 3339 timestamp of any precision.
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

// instant normalises a timestamp string for comparison (unparsable: as is).
func instant(s string) string {
	if t, ok := parseTime(s); ok {
		return t.Format("2006-01-02T15:04:05.000000000Z") // fixed width: sorts as strings
	}
	return s
}

// props checks a resource's properties: required ones present with their
// kind, optional ones of their kind when present, lists never empty (§2),
// and unknown (custom) names valid (§7.1.1).
type prop struct {
	name     string
	kind     string // string, bool, int, list, strings, object
	required bool
}

func checkProps(ex *exchange, what string, m map[string]any, spec []prop) error {
	known := map[string]bool{}
	for _, p := range spec {
		known[p.name] = true
		v, ok := m[p.name]
		if !ok {
			if p.required {
				return fail(ex, "%s: required property %q is missing", what, p.name)
			}
			continue
		}
		if err := checkKind(v, p.kind); err != "" {
			return fail(ex, "%s: property %q %s", what, p.name, err)
		}
	}
	for k := range m {
		if !known[k] && !customNameRE.MatchString(k) {
			return fail(ex, "%s: property %q is neither defined by TAXII 2.1 nor a valid custom property name [a-z0-9_]{3,250} (§7.1.1)", what, k)
		}
	}
	return nil
}

func checkKind(v any, kind string) string {
	switch kind {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("is %s, want a string", jsonKind(v))
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("is %s, want a boolean", jsonKind(v))
		}
	case "int":
		n, ok := intOf(v)
		if !ok || n < 0 {
			return fmt.Sprintf("is %v, want a non-negative integer within ±(2^53−1) (§2)", v)
		}
	case "list", "strings":
		l, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("is %s, want a list", jsonKind(v))
		}
		if len(l) == 0 {
			return "is an empty list; TAXII lists have at least one item, omit the property instead (§2)"
		}
		if kind == "strings" {
			for _, e := range l {
				if _, ok := e.(string); !ok {
					return fmt.Sprintf("has a %s item, want strings", jsonKind(e))
				}
			}
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Sprintf("is %s, want an object", jsonKind(v))
		}
	}
	return ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// page is one response of a paged endpoint.
type page struct {
	ex      *exchange
	more    bool
	next    string
	items   []map[string]any // objects or manifest records
	vers    []string         // versions endpoint
	hasList bool             // the list property was present
	first   string           // X-TAXII-Date-Added-First
	last    string           // X-TAXII-Date-Added-Last
}

// kinds of paged endpoints
const (
	kindObjects  = "objects"
	kindManifest = "manifest"
	kindVersions = "versions"
)

// fetchPage GETs u and decodes it as an envelope, manifest or versions resource.
func (s *suite) fetchPage(ctx context.Context, u, kind string) (*page, error) {
	ex := s.get(ctx, u)
	m, err := ok200(ex)
	if err != nil {
		return nil, err
	}
	return decodePage(ex, m, kind)
}

func decodePage(ex *exchange, m map[string]any, kind string) (*page, error) {
	p := &page{ex: ex, first: ex.hdr.Get(hdrFirst), last: ex.hdr.Get(hdrLast)}
	key := "objects"
	spec := []prop{{"more", "bool", false}, {"next", "string", false}, {"objects", "list", false}}
	what := "envelope (§3.7)"
	switch kind {
	case kindManifest:
		what = "manifest (§5.3.1)"
	case kindVersions:
		key, what = "versions", "versions (§5.8.1)"
		spec = []prop{{"more", "bool", false}, {"next", "string", false}, {"versions", "strings", false}}
	}
	if err := checkProps(ex, what, m, spec); err != nil {
		return nil, err
	}
	p.more, _ = m["more"].(bool)
	p.next, _ = m["next"].(string)
	list, ok := m[key].([]any)
	p.hasList = ok
	for i, v := range list {
		if kind == kindVersions {
			str := v.(string)
			if _, ok := parseTime(str); !ok {
				return nil, fail(ex, "versions[%d] %q is not a timestamp", i, str)
			}
			p.vers = append(p.vers, str)
			continue
		}
		o, ok := v.(map[string]any)
		if !ok {
			return nil, fail(ex, "%s[%d] is %s, want an object", key, i, jsonKind(v))
		}
		if kind == kindManifest {
			if err := checkProps(ex, fmt.Sprintf("manifest record %d (§5.3.1)", i), o, []prop{
				{"id", "string", true}, {"date_added", "string", true}, {"version", "string", true}, {"media_type", "string", false},
			}); err != nil {
				return nil, err
			}
		} else if _, ok := o["id"].(string); !ok {
			return nil, fail(ex, "objects[%d] has no string id", i)
		}
		p.items = append(p.items, o)
	}
	return p, nil
}

// key identifies an item of a page: "id@version" for objects and manifest
// records (version = modified, else created), the instant for versions.
func itemKeys(p *page, kind string) []string {
	var out []string
	if kind == kindVersions {
		for _, v := range p.vers {
			out = append(out, instant(v))
		}
		return out
	}
	for _, o := range p.items {
		out = append(out, itemKey(o, kind))
	}
	return out
}

func itemKey(o map[string]any, kind string) string {
	id, _ := o["id"].(string)
	var v string
	if kind == kindManifest {
		v, _ = o["version"].(string)
	} else if m, ok := o["modified"].(string); ok {
		v = m
	} else {
		v, _ = o["created"].(string)
	}
	return id + "@" + instant(v)
}

// record is a manifest record.
type record struct {
	id, version, dateAdded string
}

func records(p *page) []record {
	var out []record
	for _, o := range p.items {
		id, _ := o["id"].(string)
		v, _ := o["version"].(string)
		d, _ := o["date_added"].(string)
		out = append(out, record{id, v, d})
	}
	return out
}

// paginate pages through base (which carries the filters) with limit, following
// `next` (byHeader false) or added_after = X-TAXII-Date-Added-Last (byHeader
// true), and returns the item keys in order and every page.
func (s *suite) paginate(ctx context.Context, base, kind string, limit int, byHeader bool) ([]string, []*page, error) {
	var keys []string
	var pages []*page
	var cont []string
	const maxPages = 60
	for range maxPages {
		u := withQuery(base, append([]string{"limit", strconv.Itoa(limit)}, cont...)...)
		p, err := s.fetchPage(ctx, u, kind)
		if err != nil {
			return keys, pages, err
		}
		pages = append(pages, p)
		n := len(p.items) + len(p.vers)
		if n > limit {
			return keys, pages, fail(p.ex, "page has %d items, more than limit=%d (§3.4.1)", n, limit)
		}
		keys = append(keys, itemKeys(p, kind)...)
		if !p.more {
			return keys, pages, nil
		}
		if byHeader {
			if n == 0 {
				return keys, pages, fail(p.ex, "more is true on an empty page reached with added_after; cannot continue")
			}
			if p.last == "" {
				return keys, pages, fail(p.ex, "more is true but %s is missing, so added_after cannot continue (§3.2, §3.5)", hdrLast)
			}
			cont = []string{"added_after", p.last}
			continue
		}
		if p.next == "" {
			return keys, pages, fail(p.ex, "more is true but no next is given; clients such as taxii2-client cannot continue (§3.5)")
		}
		cont = []string{"next", p.next}
	}
	return keys, pages, fail(pages[len(pages)-1].ex, "pagination did not end after %d pages of limit=%d", maxPages, limit)
}

// sameSet compares got (in order) with the wanted set: no duplicates, nothing
// missing, nothing extra.
func sameSet(got, want []string) string {
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	var dup, extra, missing []string
	w := map[string]bool{}
	for _, k := range want {
		w[k] = true
		if seen[k] == 0 {
			missing = append(missing, k)
		}
	}
	for k, n := range seen {
		if n > 1 {
			dup = append(dup, k)
		}
		if !w[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(dup)
	slices.Sort(extra)
	slices.Sort(missing)
	var parts []string
	if len(dup) > 0 {
		parts = append(parts, "duplicated: "+strings.Join(dup, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "missing: "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected: "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}
