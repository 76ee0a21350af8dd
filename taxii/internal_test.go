package taxii

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

func TestAcceptable(t *testing.T) {
	for header, want := range map[string]bool{
		"application/taxii+json;version=2.1":  true,
		"application/taxii+json; version=2.1": true,
		"Application/TAXII+JSON;Version=2.1":  true,
		"application/taxii+json":              true,
		"*/*":                                 true,
		"application/*":                       true,
		"":                                    true,
		"application/json, application/taxii+json;version=2.1;q=0.9": true,
		"application/json, text/plain, */*":                          true,
		"text/html;q=1, application/taxii+json;q=0.5":                true,
		"application/taxii+json;version=2.1;q=0":                     false,
		"application/taxii+json;version=2.1;q=0.0, application/json": false,
		"*/*;q=0":                            false,
		"application/taxii+json;version=2.0": false,
		"application/vnd.oasis.taxii+json":   false,
		"application/json":                   false,
		"text/html":                          false,
		"application/stix+json;version=2.1":  false, // non-STIX endpoint
		"garbage":                            false,
		"application/taxii+json;version=2.0, application/taxii+json;q=.1": true,
	} {
		if got := acceptable(header, false); got != want {
			t.Errorf("acceptable(%q) = %v, want %v", header, got, want)
		}
	}
	if !acceptable("application/stix+json;version=2.1", true) {
		t.Error("application/stix+json;version=2.1 refused on a STIX endpoint (§5.3)")
	}
	if acceptable("application/stix+json;version=2.0", true) {
		t.Error("application/stix+json;version=2.0 served")
	}
}

func TestPostContentType(t *testing.T) {
	for _, tt := range []struct {
		ct      string
		lenient bool
		want    bool
	}{
		{"application/taxii+json;version=2.1", false, true},
		{"application/taxii+json; version=2.1; charset=utf-8", false, true},
		{"application/taxii+json", false, true},
		{"application/stix+json;version=2.1", false, true},
		{"application/taxii+json;version=2.0", true, false},
		{"application/json", true, true},
		{"application/json", false, false},
		{"", true, true},
		{"", false, false},
		{"text/plain", true, false},
		{"application/x-www-form-urlencoded", true, false},
	} {
		if got := postContentTypeOK(tt.ct, tt.lenient); got != tt.want {
			t.Errorf("postContentTypeOK(%q, lenient=%v) = %v, want %v", tt.ct, tt.lenient, got, tt.want)
		}
	}
}

func TestParseQuery(t *testing.T) {
	root := &APIRoot{DefaultPage: 100, MaxPage: 500}
	bad := []string{
		"added_after=garbage",
		"added_after=2024-01-01",
		"added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z",
		"limit=0", "limit=-3", "limit=abc", "limit=1.5", "limit=",
		"match[version]=all,last", "match[version]=first,first", "match[version]=yesterday",
		"match[version]=", "match[version]=last,",
		"match[type]=indicator&match[type]=malware",
		"match[type]=Indicator", "match[type]=a", "match[type]=indicator,,malware",
		"match[id]=indicator--123", "match[id]=notanid",
		"match[spec_version]=two",
		"next=", "next=a&next=b",
	}
	for _, raw := range bad {
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseQuery(v, epObjects, root); !errors.Is(err, ErrBadParameter) {
			t.Errorf("parseQuery(%q) = %v, want ErrBadParameter", raw, err)
		}
	}
	good := map[string]func(*query) bool{
		"":                                 func(q *query) bool { return q.limit == 100 && q.filter.Limit == 100 },
		"limit=50":                         func(q *query) bool { return q.limit == 50 },
		"limit=5000":                       func(q *query) bool { return q.limit == 500 },
		"added_after=2024-01-01T00:00:39Z": func(q *query) bool { return q.addedAfter.Equal(time.Date(2024, 1, 1, 0, 0, 39, 0, time.UTC)) },
		"added_after=2024-01-01T00:00:00.5Z": func(q *query) bool {
			return q.filter.AddedAfter.Equal(time.Date(2024, 1, 1, 0, 0, 0, 5e8, time.UTC))
		},
		"added_after=2024-01-01T00:00:00.123456Z":                   func(q *query) bool { return q.addedAfter.Nanosecond() == 123456000 },
		"added_after=2024-01-01T01:00:00%2B01:00":                   func(q *query) bool { return q.addedAfter.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) },
		"match[type]=indicator,malware":                             func(q *query) bool { return strings.Join(q.filter.Types, "|") == "indicator|malware" },
		"match[version]=first,last":                                 func(q *query) bool { return len(q.filter.Versions) == 2 },
		"match[version]=all":                                        func(q *query) bool { return q.filter.Versions[0] == "all" },
		"match[version]=2024-01-01T00:00:00.000Z,last":              func(q *query) bool { return len(q.filter.Versions) == 2 },
		"match[spec_version]=2.0,2.1":                               func(q *query) bool { return len(q.filter.SpecVersions) == 2 },
		"match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f": func(q *query) bool { return len(q.filter.IDs) == 1 },
		"match[unknown]=x&match[unknown]=y&foo=1&foo=2":             func(q *query) bool { return true },
		"next=abc": func(q *query) bool { return q.next == "abc" },
	}
	for raw, check := range good {
		v, _ := url.ParseQuery(raw)
		q, err := parseQuery(v, epObjects, root)
		if err != nil {
			t.Errorf("parseQuery(%q): %v", raw, err)
			continue
		}
		if !check(q) {
			t.Errorf("parseQuery(%q) = %+v", raw, q.filter)
		}
	}
	// endpoints ignore the match fields they do not take
	v, _ := url.ParseQuery("match[type]=indicator&match[id]=x")
	if q, err := parseQuery(v, epObject, root); err != nil || len(q.filter.Types) != 0 {
		t.Errorf("object endpoint applied match[type]/match[id]: %v %+v", err, q)
	}
}

func TestCursor(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	q := &query{}
	q.filter.Types = []string{"indicator", "malware"}
	scope := cursorScope{collection: "c1", ep: epObjects, q: q, consumer: "soc"}
	next := sealCursor(key, scope, "position-42")
	if pos, err := openCursor(key, scope, next); err != nil || pos != "position-42" {
		t.Fatalf("openCursor = %q, %v", pos, err)
	}
	// filter order does not matter
	q2 := &query{}
	q2.filter.Types = []string{"malware", "indicator"}
	s2 := scope
	s2.q = q2
	if _, err := openCursor(key, s2, next); err != nil {
		t.Errorf("reordered filters refused: %v", err)
	}
	for name, tt := range map[string]struct {
		key   []byte
		scope cursorScope
		next  string
		want  string
	}{
		"other consumer":   {key, cursorScope{collection: "c1", ep: epObjects, q: q, consumer: "partner"}, next, "another consumer"},
		"other collection": {key, cursorScope{collection: "c2", ep: epObjects, q: q, consumer: "soc"}, next, "another collection"},
		"other endpoint":   {key, cursorScope{collection: "c1", ep: epManifest, q: q, consumer: "soc"}, next, "another endpoint"},
		"other filters":    {key, cursorScope{collection: "c1", ep: epObjects, q: &query{}, consumer: "soc"}, next, "filters"},
		"other key":        {[]byte("another key another key another"), scope, next, "signature"},
		"tampered":         {key, scope, next[:10] + flip(next[10]) + next[11:], ""},
		"truncated":        {key, scope, next[:len(next)-3], ""},
		"garbage":          {key, scope, "!!!", "not a cursor"},
	} {
		_, err := openCursor(tt.key, tt.scope, tt.next)
		if !errors.Is(err, ErrBadParameter) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: openCursor = %v, want ErrBadParameter mentioning %q", name, err, tt.want)
		}
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func TestFormatTimes(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 120000000, time.UTC)
	if got := formatTAXIITime(ts); got != "2024-05-06T07:08:09.120000Z" {
		t.Errorf("formatTAXIITime = %s", got)
	}
	if got := formatSTIXTime(ts); got != "2024-05-06T07:08:09.120Z" {
		t.Errorf("formatSTIXTime = %s", got)
	}
	if got := formatSTIXTime(ts.Add(5 * time.Microsecond)); got != "2024-05-06T07:08:09.120005Z" {
		t.Errorf("formatSTIXTime(µs) = %s", got)
	}
}

func TestJSONDepth(t *testing.T) {
	for s, want := range map[string]int{`{}`: 1, `{"a":[{"b":"[[[{{"}]}`: 3, `[]`: 1, `"x"`: 0, `{"a":"\"{"}`: 1} {
		if got := jsonDepth([]byte(s)); got != want {
			t.Errorf("jsonDepth(%s) = %d, want %d", s, got, want)
		}
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(RateLimit{RequestsPerSecond: 2, Burst: 3}, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused within burst", i)
		}
	}
	ok, retry := l.allow("a")
	if ok || retry != 1 {
		t.Fatalf("4th request: ok=%v retry=%d, want refused, retry 1", ok, retry)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("other key limited")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("refill did not happen")
	}
}

func TestToError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", ErrBadParameter), 400},
		{fmt.Errorf("collection: %w", storage.ErrNotFound), 404},
		{storage.ErrInvalidCursor, 400},
		{storage.ErrInvalidFilter, 400},
		{&stix.ValidationError{Property: "p", Reason: "r"}, 400},
		{&http.MaxBytesError{Limit: 1}, 413},
		{ErrUnsupportedMediaType, 415},
		{ErrUnprocessable, 422},
		{ErrTooManyRequests, 429},
		{storage.ErrClosed, 503},
		{&Error{Title: "Teapot", HTTPStatus: "418"}, 418},
		{&Error{Title: "No status"}, 500},
		{echo.ErrMethodNotAllowed, 405},
		{errors.New("driver exploded at 10.0.0.1"), 500},
	} {
		status, body := toError(tt.err)
		if status != tt.want || body.Title == "" {
			t.Errorf("toError(%v) = %d %+v, want %d", tt.err, status, body, tt.want)
		}
		if status == 500 && strings.Contains(body.Description, "10.0.0.1") {
			t.Errorf("500 leaks the cause: %s", body.Description)
		}
	}
}
