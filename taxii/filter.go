package taxii

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/storage"
)

// endpoint names the query shape of an endpoint; it is part of a cursor's scope.
type endpoint string

const (
	epObjects  endpoint = "objects"
	epManifest endpoint = "manifest"
	epObject   endpoint = "object"
	epVersions endpoint = "versions"
	epDelete   endpoint = "delete"
)

// matchFields lists the match[...] fields each endpoint applies (§5.3–§5.8).
// Other match fields are ignored (§3.4.1 MAY).
var matchFields = map[endpoint][]string{
	epObjects:  {"id", "type", "version", "spec_version"},
	epManifest: {"id", "type", "version", "spec_version"},
	epObject:   {"version", "spec_version"},
	epVersions: {"spec_version"},
	epDelete:   {"version", "spec_version"},
}

// paging says whether an endpoint takes added_after, limit and next.
func (e endpoint) paging() bool { return e != epDelete }

var (
	typeRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$`)
	stixIDRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	specVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// query is a validated TAXII query (§3.4): the storage filter plus what the
// cursor and the date headers need.
type query struct {
	filter     storage.Filter
	next       string    // the client's signed cursor, verbatim
	addedAfter time.Time // the client's added_after (zero when absent)
	limit      int       // effective page size
}

// parseQuery validates the query parameters of endpoint ep against root's page
// limits. Every problem is an ErrBadParameter naming the parameter (§3.4: 400).
func parseQuery(v url.Values, ep endpoint, root *APIRoot) (*query, error) {
	q := &query{limit: root.DefaultPage}
	allowed := matchFields[ep]
	for key, vals := range v {
		if len(vals) > 1 && (isTAXIIParam(key)) {
			return nil, fmt.Errorf("%s: given %d times; it may occur once (TAXII 2.1 §3.4): %w", key, len(vals), ErrBadParameter)
		}
		if !strings.HasPrefix(key, "match[") || !strings.HasSuffix(key, "]") {
			continue
		}
		field := key[len("match[") : len(key)-1]
		if !slices.Contains(allowed, field) {
			continue
		}
		raw := vals[0]
		if raw == "" {
			return nil, fmt.Errorf("%s: empty value: %w", key, ErrBadParameter)
		}
		values := strings.Split(raw, ",")
		if err := checkMatch(field, values); err != nil {
			return nil, err
		}
		switch field {
		case "id":
			q.filter.IDs = values
		case "type":
			q.filter.Types = values
		case "version":
			q.filter.Versions = values
		case "spec_version":
			q.filter.SpecVersions = values
		}
	}
	if !ep.paging() {
		return q, nil
	}
	if s := v.Get("added_after"); v.Has("added_after") {
		t, err := parseTAXIITime(s)
		if err != nil {
			return nil, fmt.Errorf("added_after %q: %v: %w", s, err, ErrBadParameter)
		}
		q.addedAfter = t
		q.filter.AddedAfter = t
	}
	if s := v.Get("limit"); v.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("limit %q: want a positive integer: %w", s, ErrBadParameter)
		}
		q.limit = min(n, root.MaxPage)
	}
	if v.Has("next") {
		q.next = v.Get("next")
		if q.next == "" {
			return nil, fmt.Errorf("next: empty value: %w", ErrBadParameter)
		}
	}
	q.filter.Limit = q.limit
	return q, nil
}

// isTAXIIParam reports whether key is a parameter that may occur only once.
func isTAXIIParam(key string) bool {
	switch key {
	case "added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]":
		return true
	}
	return false
}

// checkMatch validates the comma-separated values of one match field (§3.4.1).
func checkMatch(field string, values []string) error {
	key := "match[" + field + "]"
	seen := map[string]bool{}
	for _, val := range values {
		if val == "" {
			return fmt.Errorf("%s: empty value in list: %w", key, ErrBadParameter)
		}
		if seen[val] {
			return fmt.Errorf("%s: %q given twice: %w", key, val, ErrBadParameter)
		}
		seen[val] = true
		switch field {
		case "id":
			if !stixIDRE.MatchString(val) {
				return fmt.Errorf("%s: %q is not a STIX identifier: %w", key, val, ErrBadParameter)
			}
		case "type":
			if !typeRE.MatchString(val) {
				return fmt.Errorf("%s: %q is not a STIX type: %w", key, val, ErrBadParameter)
			}
		case "spec_version":
			if !specVersionRE.MatchString(val) {
				return fmt.Errorf("%s: %q is not a spec version such as 2.1: %w", key, val, ErrBadParameter)
			}
		case "version":
			switch val {
			case storage.VersionAll:
				if len(values) > 1 {
					return fmt.Errorf("%s: \"all\" cannot be combined with other values (TAXII 2.1 §3.4.1): %w", key, ErrBadParameter)
				}
			case storage.VersionFirst, storage.VersionLast:
			default:
				if _, err := parseTAXIITime(val); err != nil {
					return fmt.Errorf("%s: %q: want first, last, all or a STIX timestamp: %w", key, val, ErrBadParameter)
				}
			}
		}
	}
	return nil
}

// parseTAXIITime parses an RFC 3339 timestamp of any fractional precision: Z, or
// an explicit offset (taxii2-client strips trailing zeros, OpenCTI sends ms).
func parseTAXIITime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// a '+' in a query string that was not percent-encoded arrives as a space
		if t2, err2 := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "+", 1)); err2 == nil {
			return t2.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("not an RFC 3339 timestamp")
	}
	return t.UTC(), nil
}

// TimestampLayout is the TAXII timestamp layout (§2): UTC, exactly microseconds, Z.
const TimestampLayout = "2006-01-02T15:04:05.000000Z"

// formatTAXIITime formats t as a TAXII timestamp.
func formatTAXIITime(t time.Time) string { return t.UTC().Format(TimestampLayout) }
