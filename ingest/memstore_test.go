package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// memStore is a small in-memory implementation of ingest.Store used until the
// embedded backend is available to these tests. It keeps the contract's
// semantics the runner relies on: versions keyed by (id, version), atomic
// PutObjects, last-version queries by id, insert-only provenance.
type memStore struct {
	mu    sync.Mutex
	colls map[string]map[string][]storage.Record // collection → id → versions in DateAdded order
	feeds map[string]storage.FeedState
	prov  map[provKey]storage.Provenance
	clock time.Time
	puts  int // PutObjects calls that wrote something
}

type provKey struct {
	feed, typ, value string
	day              time.Time
}

var _ ingest.Store = (*memStore)(nil)

func newMemStore(collections ...string) *memStore {
	s := &memStore{colls: map[string]map[string][]storage.Record{}, feeds: map[string]storage.FeedState{},
		prov: map[provKey]storage.Provenance{}, clock: time.Unix(0, 0)}
	for _, c := range collections {
		s.colls[c] = map[string][]storage.Record{}
	}
	return s
}

func recordVersion(o stix.RawObject) time.Time {
	if o.Modified != nil {
		return o.Modified.Time
	}
	if o.Created != nil {
		return o.Created.Time
	}
	return time.Time{}
}

func (s *memStore) PutObjects(_ context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.colls[coll]
	if !ok {
		return nil, fmt.Errorf("collection %q: %w", coll, storage.ErrNotFound)
	}
	res := &storage.WriteResult{}
	for _, o := range objs {
		if !json.Valid(o.JSON) {
			return nil, fmt.Errorf("object %s: invalid JSON", o.ID)
		}
	}
	for _, o := range objs {
		v := recordVersion(o)
		dup := false
		for _, r := range c[o.ID] {
			if r.Version.Equal(v) || v.IsZero() {
				dup = true
			}
		}
		if dup {
			res.Existing++
			continue
		}
		s.clock = s.clock.Add(time.Microsecond)
		c[o.ID] = append(c[o.ID], storage.Record{ID: o.ID, Type: o.Type, SpecVersion: o.SpecVersion, Version: v,
			DateAdded: s.clock, JSON: slices.Clone(o.JSON)})
		res.Added++
		res.AddedIDs = append(res.AddedIDs, o.ID)
	}
	if res.Added > 0 {
		s.puts++
	}
	return res, nil
}

func (s *memStore) DeleteObject(context.Context, string, string, storage.Filter) (int, error) {
	return 0, fmt.Errorf("not implemented")
}

func lastOf(rs []storage.Record) storage.Record {
	l := rs[0]
	for _, r := range rs[1:] {
		if r.Version.After(l.Version) {
			l = r
		}
	}
	return l
}

func (s *memStore) QueryObjects(_ context.Context, coll string, f storage.Filter) (*storage.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.colls[coll]
	if !ok {
		return nil, fmt.Errorf("collection %q: %w", coll, storage.ErrNotFound)
	}
	if len(f.Versions) > 1 || len(f.Versions) == 1 && f.Versions[0] != storage.VersionLast {
		return nil, fmt.Errorf("memStore: only last versions: %w", storage.ErrInvalidFilter)
	}
	page := &storage.Page{}
	ids := f.IDs
	if len(ids) == 0 {
		for id := range c {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if rs := c[id]; len(rs) > 0 {
			page.Records = append(page.Records, lastOf(rs))
		}
	}
	sort.Slice(page.Records, func(i, j int) bool { return page.Records[i].DateAdded.Before(page.Records[j].DateAdded) })
	return page, nil
}

func (s *memStore) QueryManifest(ctx context.Context, coll string, f storage.Filter) (*storage.Page, error) {
	return s.QueryObjects(ctx, coll, f)
}

func (s *memStore) GetObject(_ context.Context, coll, id string, _ storage.Filter) (*storage.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.colls[coll][id]
	if len(rs) == 0 {
		return nil, fmt.Errorf("object %s: %w", id, storage.ErrNotFound)
	}
	return &storage.Page{Records: []storage.Record{lastOf(rs)}}, nil
}

func (s *memStore) ListVersions(_ context.Context, coll, id string, _ storage.Filter) (*storage.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.colls[coll][id]
	if len(rs) == 0 {
		return nil, fmt.Errorf("object %s: %w", id, storage.ErrNotFound)
	}
	return &storage.Page{Records: slices.Clone(rs)}, nil
}

func (s *memStore) FeedState(_ context.Context, feed string) (*storage.FeedState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.feeds[feed]
	if !ok {
		return nil, fmt.Errorf("feed %q: %w", feed, storage.ErrNotFound)
	}
	st.Cursor = slices.Clone(st.Cursor)
	st.Snapshot = slices.Clone(st.Snapshot)
	return &st, nil
}

func (s *memStore) PutFeedState(_ context.Context, st *storage.FeedState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *st
	c.Cursor = slices.Clone(st.Cursor)
	c.Snapshot = slices.Clone(st.Snapshot)
	s.feeds[st.Feed] = c
	return nil
}

func (s *memStore) AddProvenance(_ context.Context, recs []storage.Provenance) (*storage.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := &storage.WriteResult{}
	for _, r := range recs {
		k := provKey{r.Feed, r.Type, r.Value, r.Day}
		if _, ok := s.prov[k]; ok {
			res.Existing++
			continue
		}
		s.prov[k] = r
		res.Added++
	}
	return res, nil
}

func (s *memStore) Provenance(_ context.Context, typ, value string) ([]storage.Provenance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Provenance
	for k, r := range s.prov {
		if k.typ == typ && k.value == value {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Day.Equal(out[j].Day) {
			return out[i].Day.Before(out[j].Day)
		}
		return out[i].Feed < out[j].Feed
	})
	return out, nil
}

func (s *memStore) PruneProvenance(context.Context, time.Time) (int, error) {
	return 0, fmt.Errorf("not implemented")
}
