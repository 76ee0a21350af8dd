package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ctibroker/ctibroker/storage"
)

// keyOf joins parts with 0x00 separators.
func keyOf(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// --- feed state ---

// FeedState returns the saved state of feed. Returns storage.ErrNotFound.
func (s *Store) FeedState(ctx context.Context, feed string) (*storage.FeedState, error) {
	var fs storage.FeedState
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bktFeeds).Get([]byte(feed))
		if v == nil {
			return fmt.Errorf("feed %q: %w", feed, storage.ErrNotFound)
		}
		return json.Unmarshal(v, &fs)
	})
	if err != nil {
		return nil, err
	}
	return &fs, nil
}

// PutFeedState saves st atomically.
func (s *Store) PutFeedState(ctx context.Context, st *storage.FeedState) error {
	if st.Feed == "" {
		return fmt.Errorf("feed state: Feed is empty")
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bktFeeds).Put([]byte(st.Feed), b) })
}

// --- provenance ---

type provValue struct {
	Verdict json.RawMessage `json:"v,omitempty"`
	Revoked bool            `json:"r,omitempty"`
}

func dayKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UTC().Unix())^(1<<63))
}

func provKey(p *storage.Provenance) []byte {
	b := keyOf(p.Type, p.Value)
	b = append(b, 0)
	b = append(b, dayKey(p.Day)...)
	return append(b, p.Feed...)
}

// AddProvenance inserts records; a record with the same (Feed, Type, Value, Day)
// is counted as Existing and left unchanged.
func (s *Store) AddProvenance(ctx context.Context, recs []storage.Provenance) (*storage.WriteResult, error) {
	res := &storage.WriteResult{}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		*res = storage.WriteResult{}
		b, byDay := tx.Bucket(bktProv), tx.Bucket(bktProvDay)
		for i := range recs {
			p := &recs[i]
			if p.Feed == "" || p.Type == "" || p.Value == "" {
				return fmt.Errorf("provenance[%d]: Feed, Type and Value are required", i)
			}
			k := provKey(p)
			if b.Get(k) != nil {
				res.Existing++
				continue
			}
			v, err := json.Marshal(provValue{Verdict: p.Verdict, Revoked: p.Revoked})
			if err != nil {
				return fmt.Errorf("provenance[%d]: verdict: %w", i, err)
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
			if err := byDay.Put(append(dayKey(p.Day), k...), nil); err != nil {
				return err
			}
			res.Added++
			res.AddedIDs = append(res.AddedIDs, p.Value)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Provenance returns the records for (typ, value), ordered by Day then Feed.
func (s *Store) Provenance(ctx context.Context, typ, value string) ([]storage.Provenance, error) {
	var out []storage.Provenance
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		prefix := append(keyOf(typ, value), 0)
		c := tx.Bucket(bktProv).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			rest := k[len(prefix):]
			if len(rest) < 8 {
				continue
			}
			var pv provValue
			if err := json.Unmarshal(v, &pv); err != nil {
				return fmt.Errorf("provenance %s %s: %w", typ, value, errCorrupt)
			}
			day := time.Unix(int64(binary.BigEndian.Uint64(rest)^(1<<63)), 0).UTC()
			out = append(out, storage.Provenance{Feed: string(rest[8:]), Type: typ, Value: value, Day: day,
				Verdict: []byte(pv.Verdict), Revoked: pv.Revoked})
		}
		return nil
	})
	return out, err
}

// scanChunk is how many values ScanProvenance reads in one read transaction
// before it hands them to fn outside it: a long scan never holds a transaction
// open (which would keep the file from reusing freed pages) and fn may write.
const scanChunk = 4096

// ScanProvenance calls fn for each (Type, Value) with its records ordered by
// Day then Feed, values in key order (by type, then value).
func (s *Store) ScanProvenance(ctx context.Context, fn func(recs []storage.Provenance) error) error {
	var from []byte // where the next chunk starts: after every key with the last prefix
	for {
		var groups [][]storage.Provenance
		var last []byte
		err := s.view(ctx, func(tx *bbolt.Tx) error {
			c := tx.Bucket(bktProv).Cursor()
			var k, v []byte
			if from == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(from)
			}
			var prefix []byte
			for ; k != nil; k, v = c.Next() {
				t := bytes.IndexByte(k, 0)
				if t < 0 {
					return fmt.Errorf("provenance key %q: %w", k, errCorrupt)
				}
				n := bytes.IndexByte(k[t+1:], 0)
				if n < 0 || len(k) < t+1+n+1+8 {
					return fmt.Errorf("provenance key %q: %w", k, errCorrupt)
				}
				end := t + 1 + n + 1 // the prefix "type\0value\0"
				if prefix == nil || !bytes.Equal(k[:end], prefix) {
					if len(groups) == scanChunk {
						break
					}
					prefix = k[:end]
					groups = append(groups, nil)
				}
				var pv provValue
				if err := json.Unmarshal(v, &pv); err != nil {
					return fmt.Errorf("provenance %s %s: %w", k[:t], k[t+1:end-1], errCorrupt)
				}
				day := time.Unix(int64(binary.BigEndian.Uint64(k[end:end+8])^(1<<63)), 0).UTC()
				g := &groups[len(groups)-1]
				*g = append(*g, storage.Provenance{Feed: string(k[end+8:]), Type: string(k[:t]), Value: string(k[t+1 : end-1]),
					Day: day, Verdict: []byte(pv.Verdict), Revoked: pv.Revoked})
			}
			if k != nil {
				last = bytes.Clone(prefix)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(g); err != nil {
				return err
			}
		}
		if last == nil {
			return nil
		}
		last[len(last)-1] = 1 // just past every key that starts with the prefix
		from = last
	}
}

// PruneProvenance deletes records whose Day is before before and returns how many.
func (s *Store) PruneProvenance(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b, byDay := tx.Bucket(bktProv), tx.Bucket(bktProvDay)
		limit := dayKey(before)
		c := byDay.Cursor()
		var dead [][]byte
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0; k, _ = c.Next() {
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			if err := byDay.Delete(k); err != nil {
				return err
			}
			if err := b.Delete(k[8:]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// --- sightings ---

func sightIdxKey(sg *storage.Sighting) []byte {
	b := append(keyOf(sg.Type, sg.Value), 0)
	b = appendVer(b, sg.FirstSeen)
	return append(b, sg.ID...)
}

// AddSightings inserts sightings; an ID already present is counted as Existing.
func (s *Store) AddSightings(ctx context.Context, sgs []storage.Sighting) (*storage.WriteResult, error) {
	res := &storage.WriteResult{}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		*res = storage.WriteResult{}
		b, idx := tx.Bucket(bktSight), tx.Bucket(bktSightIdx)
		for i := range sgs {
			sg := &sgs[i]
			if sg.ID == "" || sg.Type == "" || sg.Value == "" {
				return fmt.Errorf("sightings[%d]: ID, Type and Value are required", i)
			}
			if b.Get([]byte(sg.ID)) != nil {
				res.Existing++
				continue
			}
			v, err := json.Marshal(sg)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(sg.ID), v); err != nil {
				return err
			}
			if err := idx.Put(sightIdxKey(sg), nil); err != nil {
				return err
			}
			res.Added++
			res.AddedIDs = append(res.AddedIDs, sg.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Sightings returns the sightings of (typ, value), oldest FirstSeen first.
func (s *Store) Sightings(ctx context.Context, typ, value string) ([]storage.Sighting, error) {
	var out []storage.Sighting
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktSight)
		prefix := append(keyOf(typ, value), 0)
		c := tx.Bucket(bktSightIdx).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rest := k[len(prefix):]
			if len(rest) < verLen {
				continue
			}
			v := b.Get(rest[verLen:])
			if v == nil {
				continue
			}
			var sg storage.Sighting
			if err := json.Unmarshal(v, &sg); err != nil {
				return fmt.Errorf("sighting %s: %w", rest[verLen:], errCorrupt)
			}
			out = append(out, sg)
		}
		return nil
	})
	return out, err
}

// --- statuses ---

func statusExpKey(st *storage.Status) []byte {
	return append(appendVer(nil, st.ExpiresAt), st.ID...)
}

// PutStatus creates or replaces a status.
func (s *Store) PutStatus(ctx context.Context, st *storage.Status) error {
	if st.ID == "" {
		return fmt.Errorf("status: ID is empty")
	}
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, exp := tx.Bucket(bktStatus), tx.Bucket(bktStatExp)
		if old := b.Get([]byte(st.ID)); old != nil {
			var o storage.Status
			if json.Unmarshal(old, &o) == nil {
				if err := exp.Delete(statusExpKey(&o)); err != nil {
					return err
				}
			}
		}
		if err := b.Put([]byte(st.ID), v); err != nil {
			return err
		}
		return exp.Put(statusExpKey(st), nil)
	})
}

// GetStatus returns status id unless it has expired (ExpiresAt not after now).
// Returns storage.ErrNotFound.
func (s *Store) GetStatus(ctx context.Context, id string) (*storage.Status, error) {
	var st storage.Status
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bktStatus).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("status %q: %w", id, storage.ErrNotFound)
		}
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("status %q: %w", id, errCorrupt)
		}
		if !st.ExpiresAt.After(s.opt.Now()) {
			return fmt.Errorf("status %q expired: %w", id, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// PurgeStatuses deletes statuses whose ExpiresAt is before t and returns how many.
func (s *Store) PurgeStatuses(ctx context.Context, t time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b, exp := tx.Bucket(bktStatus), tx.Bucket(bktStatExp)
		limit := appendVer(nil, t)
		c := exp.Cursor()
		var dead [][]byte
		for k, _ := c.First(); k != nil && len(k) >= verLen && bytes.Compare(k[:verLen], limit) < 0; k, _ = c.Next() {
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			if err := exp.Delete(k); err != nil {
				return err
			}
			if err := b.Delete(k[verLen:]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// --- MISP event index ---

// MISPEvent returns the stored timestamp of event uuid. Returns storage.ErrNotFound.
func (s *Store) MISPEvent(ctx context.Context, uuid string) (time.Time, error) {
	var ts time.Time
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bktMISP).Get([]byte(uuid))
		if len(v) != verLen {
			return fmt.Errorf("MISP event %q: %w", uuid, storage.ErrNotFound)
		}
		ts = getVer(v)
		return nil
	})
	return ts, err
}

// PutMISPEvent records ts for uuid.
func (s *Store) PutMISPEvent(ctx context.Context, uuid string, ts time.Time) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bktMISP).Put([]byte(uuid), appendVer(nil, ts))
	})
}

// --- leases ---

// AcquireLease takes or renews lease name for holder until now+ttl. Returns
// storage.ErrLeaseHeld when another holder's lease has not expired. The embedded
// store is held by one process, so leases coordinate goroutines of that process.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" {
		return fmt.Errorf("lease: name and holder are required")
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktLease)
		now := s.opt.Now()
		if v := b.Get([]byte(name)); len(v) >= verLen {
			if string(v[verLen:]) != holder && getVer(v).After(now) {
				return fmt.Errorf("lease %q held by %q until %s: %w", name, v[verLen:], getVer(v).Format(time.RFC3339), storage.ErrLeaseHeld)
			}
		}
		return b.Put([]byte(name), append(appendVer(nil, now.Add(ttl)), holder...))
	})
}

// ReleaseLease gives up lease name if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktLease)
		if v := b.Get([]byte(name)); len(v) >= verLen && string(v[verLen:]) == holder {
			return b.Delete([]byte(name))
		}
		return nil
	})
}

// --- sequences ---

// NextSequence reserves n numbers of sequence name and returns the first; the
// first number ever returned is start.
func (s *Store) NextSequence(ctx context.Context, name string, n int, start int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("sequence %q: n = %d, want ≥ 1", name, n)
	}
	var first int64
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktSeq)
		first = start
		if v := b.Get([]byte(name)); len(v) == 8 {
			first = int64(binary.BigEndian.Uint64(v))
		}
		return b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(first+int64(n))))
	})
	return first, err
}

// --- backup and restore ---

// Backup writes a consistent snapshot of the whole store (a bbolt file) to w
// while the store stays usable: it runs in one read transaction.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}

// Restore writes the backup read from src as the store in dir (created if
// needed), replacing any store there. It fails if another process holds the
// store, or if src is not a backup this binary can open; the old store is kept
// until the new one has been verified and synced.
func Restore(src io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err == nil {
		// Take the lock on the current store so a running server is never overwritten.
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			return fmt.Errorf("restore %s: store is in use by another process (%s) or unreadable: %v", dir, holder(dir), err)
		}
		defer db.Close()
	}
	tmp, err := os.CreateTemp(dir, FileName+".restore-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("restore %s: reading backup: %w", dir, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := verifyBackup(tmp.Name()); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("restore %s: %w", dir, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// verifyBackup opens path read-only and checks it is a ctibroker store this binary reads.
func verifyBackup(path string) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("backup is not a bbolt file: %v", err)
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bktMeta)
		if m == nil || len(m.Get(keyFormat)) != 8 {
			return fmt.Errorf("backup is not a ctibroker store")
		}
		if f := binary.BigEndian.Uint64(m.Get(keyFormat)); f > Format {
			return fmt.Errorf("backup has format %d, this binary reads up to %d: %w", f, Format, storage.ErrFormat)
		}
		return nil
	})
}

// --- check ---

// Check recomputes every collection's count and first/last date_added from its
// records, reports what differed and, with repair, fixes it. It also reports
// index entries without records.
func (s *Store) Check(ctx context.Context, repair bool) ([]string, error) {
	var report []string
	fn := func(tx *bbolt.Tx) error {
		report = nil
		var names []string
		if err := tx.Bucket(bktColls).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		}); err != nil {
			return err
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			c, err := openColl(tx, name)
			if err != nil {
				return err
			}
			var count uint64
			first, last := c.bounds()
			if err := c.log.ForEach(func(k, v []byte) error { count++; return nil }); err != nil {
				return err
			}
			var idx uint64
			for i := 0; i <= len(c.gens); i++ {
				if err := c.idx(i).ForEach(func(k, v []byte) error { idx++; return nil }); err != nil {
					return err
				}
			}
			s.tmu.RLock()
			if t := s.tails[name]; t != nil {
				idx += uint64(t.n)
			}
			s.tmu.RUnlock()
			if idx != count {
				report = append(report, fmt.Sprintf("collection %q: %d index entries for %d records", name, idx, count))
			}
			if c.info.count != count || c.info.first != first || c.info.last != last {
				report = append(report, fmt.Sprintf("collection %q: counters count=%d first=%d last=%d, records say count=%d first=%d last=%d",
					name, c.info.count, c.info.first, c.info.last, count, first, last))
				if repair {
					c.info.count, c.info.first, c.info.last = count, first, last
					c.info.seq = max(c.info.seq, last)
					if err := c.saveInfo(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	var err error
	if repair {
		err = s.update(ctx, fn)
	} else {
		err = s.view(ctx, fn)
	}
	return report, err
}
