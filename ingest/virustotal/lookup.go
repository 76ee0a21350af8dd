package virustotal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ctibroker/ctibroker/ingest"
)

var (
	_ ingest.Looker        = (*Source)(nil)
	_ ingest.UsageRestorer = (*Source)(nil)
)

// lookupPath is the API v3 path of value v's object: /files/{hash} (MD5, SHA-1,
// SHA-256), /urls/{URLID}, /domains/{domain}, /ip_addresses/{ip}; ok is false
// for other values.
func lookupPath(v ingest.Value) (path string, ok bool) {
	switch v.Type {
	case ingest.TypeIPv4, ingest.TypeIPv6:
		if strings.Contains(v.Value, "/") {
			return "", false // a CIDR block is no single address
		}
		return "/ip_addresses/" + url.PathEscape(v.Value), true
	case ingest.TypeDomain:
		return "/domains/" + url.PathEscape(v.Value), true
	case ingest.TypeURL:
		return "/urls/" + URLID(v.Value), true
	case ingest.TypeFile:
		switch v.HashAlgo {
		case ingest.HashMD5, ingest.HashSHA1, ingest.HashSHA256:
			return "/files/" + url.PathEscape(v.Value), true
		}
	}
	return "", false
}

// CanLookup reports whether VirusTotal has objects for values of v's type:
// files by MD5, SHA-1 or SHA-256, URLs, domains and IP addresses.
func (s *Source) CanLookup(v ingest.Value) bool {
	_, ok := lookupPath(v)
	return ok
}

// Lookup fetches v's object (GET /files, /urls, /domains or /ip_addresses)
// within the client's budget, the one the feed's pulls spend, without waiting,
// and converts it with the feed's converter: the batch an IoC stream page
// holding the object would give, without the notification context. Errors: an
// *ingest.QuotaError (wrapping ErrQuotaExhausted) when a budget is spent or
// VirusTotal answered 429, one wrapping ingest.ErrNotKnown (and ErrNotFound)
// for a 404, or the client's.
func (s *Source) Lookup(ctx context.Context, v ingest.Value) (ingest.Batch, error) {
	path, ok := lookupPath(v)
	if !ok {
		return ingest.Batch{}, fmt.Errorf("virustotal: no lookup for %s values: %w", v.Kind(), ingest.ErrUnknownType)
	}
	raw, err := s.Client.get(ctx, path, nil, true)
	if errors.Is(err, ErrNotFound) {
		return ingest.Batch{}, fmt.Errorf("%w: %w", ingest.ErrNotKnown, err)
	}
	if err != nil {
		return ingest.Batch{}, fmt.Errorf("virustotal lookup %s: %w", v.Value, err)
	}
	conv, err := NewConverter(s.Convert)
	if err != nil {
		return ingest.Batch{}, err
	}
	conv.AddRaw("lookup "+path, raw)
	var b ingest.Batch
	b.Objects, b.Observations, b.Warnings = conv.Flush()
	return b, nil
}

// RestoreUsage merges the day's request count a feed cursor records into the
// client's budget (ingest.UsageRestorer), so that lookups count the requests
// of pulls made by another process. An unreadable cursor is ignored.
func (s *Source) RestoreUsage(cur ingest.Cursor) {
	var st cursor
	if len(cur) == 0 || json.Unmarshal(cur, &st) != nil {
		return
	}
	s.Client.MergeUsage(st.Day, st.Used)
}

// LookupBudget returns the client's request budget, which pulls and lookups
// share.
func (s *Source) LookupBudget() *ingest.Budget { return s.Client.quota() }
