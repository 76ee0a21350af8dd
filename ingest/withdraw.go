package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// A feed's position on a value is its latest report by seen time: live or
// withdrawn. A live report wins a tie. The Runner withdraws a value's indicator
// (valid_until) only when every feed that reported the value is in a withdrawn
// position, and publishes it again only when some feed's position is live.
//
// Positions come from three places: the stored provenance records (their
// verdict carries the report's seen time), the run's memory of positions that
// involved a withdrawal, and the batch at hand. The run's memory covers what
// provenance cannot hold: its key (feed, type, value, day) has room for one
// record per day, so a feed that withdraws a value and reports it live again on
// the same day (or the reverse) keeps the day's first record; within the run the
// memory holds the later position.

// feedValue is one feed's view of one value.
type feedValue struct {
	feed string
	key  valueKey
}

// position is a feed's latest report on a value.
type position struct {
	seen    time.Time
	revoked bool
}

// supersedes reports whether report a replaces b as a feed's position: a later
// seen time, or the same time and a is live.
func (a position) supersedes(b position) bool {
	if !a.seen.Equal(b.seen) {
		return a.seen.After(b.seen)
	}
	return !a.revoked && b.revoked
}

func positionOf(o *obs) position { return position{seen: o.Seen, revoked: o.Revoked} }

// latestPerFeed returns, per (feed, value), the index in accepted of the feed's
// latest report in the batch; nil when the batch withdraws nothing (then every
// report is live and the latest).
func latestPerFeed(accepted []obs) map[feedValue]int {
	any := false
	for i := range accepted {
		any = any || accepted[i].Revoked
	}
	if !any {
		return nil
	}
	latest := make(map[feedValue]int, len(accepted))
	for i := range accepted {
		k := feedValue{accepted[i].Feed, accepted[i].key}
		if j, ok := latest[k]; !ok || positionOf(&accepted[i]).supersedes(positionOf(&accepted[j])) {
			latest[k] = i
		}
	}
	return latest
}

// liveIn reports whether observation i is live and its feed's latest report in
// the batch.
func liveIn(accepted []obs, latest map[feedValue]int, i int) bool {
	o := &accepted[i]
	if o.Revoked {
		return false
	}
	if latest == nil {
		return true
	}
	return !accepted[latest[feedValue{o.Feed, o.key}]].Revoked
}

// live reports whether observation i is live and its feed's position: the
// feed's latest report in the batch, and not older than a withdrawal of the
// same feed earlier in the run (a value withdrawn before it was ever published
// is not published by an older live report in a later batch).
func (ru *run) live(accepted []obs, latest map[feedValue]int, i int) bool {
	if !liveIn(accepted, latest, i) {
		return false
	}
	if ru.positions == nil {
		return true
	}
	o := &accepted[i]
	p, ok := ru.positions[o.key][o.Feed]
	return !ok || !p.revoked || !p.supersedes(positionOf(o))
}

// remember keeps, for the rest of the run, the positions of the batch that
// involve a withdrawal: a feed's withdrawal, and any later report of a value a
// feed withdrew earlier in the run.
func (ru *run) remember(accepted []obs, latest map[feedValue]int) {
	if latest == nil && len(ru.positions) == 0 {
		return
	}
	for i := range accepted {
		o := &accepted[i]
		byFeed := ru.positions[o.key]
		if byFeed == nil {
			if !o.Revoked {
				continue
			}
			if ru.positions == nil {
				ru.positions = map[valueKey]map[string]position{}
			}
			byFeed = map[string]position{}
			ru.positions[o.key] = byFeed
		}
		p := positionOf(o)
		if q, ok := byFeed[o.Feed]; !ok || p.supersedes(q) {
			byFeed[o.Feed] = p
		}
	}
}

// rememberOne adds o's position to the run's memory.
func (ru *run) rememberOne(o *obs) {
	if ru.positions == nil {
		ru.positions = map[valueKey]map[string]position{}
	}
	byFeed := ru.positions[o.key]
	if byFeed == nil {
		byFeed = map[string]position{}
		ru.positions[o.key] = byFeed
	}
	if q, ok := byFeed[o.Feed]; !ok || positionOf(o).supersedes(q) {
		byFeed[o.Feed] = positionOf(o)
	}
}

// changeDay places the provenance record of o, a report involved in a
// withdrawal, for day. The provenance key (feed, type, value, day) has room for
// one record per feed and day, so a change of the feed's position within a day
// is recorded with Day one second after the day's last record of the feed: the
// day's records, in Day order, are the feed's positions in the order they
// changed (readers that want the day truncate Day to it). keep is false when
// the day's last record already holds o's position (the same state, or a newer
// report).
func (ru *run) changeDay(ctx context.Context, o *obs, day time.Time) (time.Time, bool, error) {
	if err := ru.flushProvenance(ctx); err != nil {
		return day, false, err
	}
	recs, err := ru.Store.Provenance(ctx, o.key.kind, o.key.value)
	if err != nil {
		return day, false, fmt.Errorf("read provenance of %s: %w", o.key.value, err)
	}
	var last *storage.Provenance
	for i := range recs {
		r := &recs[i]
		if r.Feed == o.Feed && !r.Day.Before(day) && r.Day.Before(day.Add(24*time.Hour)) && (last == nil || r.Day.After(last.Day)) {
			last = r
		}
	}
	switch {
	case last == nil:
		return day, true, nil
	case last.Revoked == o.Revoked || !positionOf(o).supersedes(position{seen: recordSeen(last), revoked: last.Revoked}):
		return day, false, nil
	}
	return last.Day.Add(time.Second), true, nil
}

// feedPositions returns every feed's position on key: stored provenance, then the
// run's memory (which already includes the batch at hand).
func (ru *run) feedPositions(ctx context.Context, key valueKey) (map[string]position, error) {
	if err := ru.flushProvenance(ctx); err != nil {
		return nil, err
	}
	recs, err := ru.Store.Provenance(ctx, key.kind, key.value)
	if err != nil {
		return nil, fmt.Errorf("read provenance of %s: %w", key.value, err)
	}
	out := make(map[string]position, len(recs)+1)
	for _, r := range recs {
		p := position{seen: recordSeen(&r), revoked: r.Revoked}
		if q, ok := out[r.Feed]; !ok || p.supersedes(q) {
			out[r.Feed] = p
		}
	}
	for feed, p := range ru.positions[key] {
		if q, ok := out[feed]; !ok || p.supersedes(q) {
			out[feed] = p
		}
	}
	return out, nil
}

// anyLive reports whether some feed's position is live.
func anyLive(ps map[string]position) bool {
	for _, p := range ps {
		if !p.revoked {
			return true
		}
	}
	return false
}

// recordSeen returns the seen time a provenance record's verdict carries (the
// Runner writes it last), else the record's day.
func recordSeen(r *storage.Provenance) time.Time {
	const key = `"seen":"`
	if i := bytes.LastIndex(r.Verdict, []byte(key)); i >= 0 {
		i += len(key)
		if i+len(stix.TimestampLayout) <= len(r.Verdict) {
			if t, ok := parseMillis(r.Verdict[i : i+len(stix.TimestampLayout)]); ok {
				return t.Time
			}
		}
	}
	var v struct {
		Seen stix.Timestamp `json:"seen"`
	}
	if json.Unmarshal(r.Verdict, &v) == nil && !v.Seen.IsZero() {
		return v.Seen.Time
	}
	return r.Day
}

// withdraw handles the batch's withdrawn values (every feed reporting the value
// in the batch is in a withdrawn position): when no feed that ever reported the
// value is in a live position, its indicator gets a version with valid_until =
// now. valid_until rather than revoked: a value may come back, and a revoked
// STIX object cannot (§3.6).
func (ru *run) withdraw(ctx context.Context, order []*authoredValue, now time.Time) error {
	pool := ru.pool()
	ts := stix.NewTimestamp(now)
	var write []stix.RawObject
	for _, w := range order {
		if !w.revoked {
			continue
		}
		key := valueKey{w.v.Kind(), w.v.Value}
		ps, err := ru.feedPositions(ctx, key)
		if err != nil {
			return err
		}
		if anyLive(ps) {
			continue
		}
		pat := Pattern(w.v)
		id := indicatorID(pat)
		page, err := ru.Store.GetObject(ctx, pool, id, storage.Filter{})
		if errors.Is(err, storage.ErrNotFound) {
			continue // never detection-worthy: no indicator to withdraw
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", id, err)
		}
		if len(page.Records) == 0 {
			continue
		}
		ind, changed, err := ru.indicator(w.v, pat, id, page.Records[0].JSON, true, indicatorSpec{seen: ts, last: ts, withdraw: &ts}, ts)
		if err != nil {
			return err
		}
		if changed {
			write = append(write, ind)
			ru.stats.Revoked++
		}
	}
	if len(write) == 0 {
		return nil
	}
	if _, err := ru.Store.PutObjects(ctx, pool, write); err != nil {
		return fmt.Errorf("store withdrawn indicators: %w", err)
	}
	return nil
}

// hasProvenance reports whether the store holds o's feed's record of value on
// day.
func (ru *run) hasProvenance(ctx context.Context, o *obs, day time.Time) (bool, error) {
	if err := ru.flushProvenance(ctx); err != nil {
		return false, err
	}
	return ru.storedProvenance(ctx, o, day)
}

// storedProvenance is hasProvenance without the flush.
func (ru *run) storedProvenance(ctx context.Context, o *obs, day time.Time) (bool, error) {
	recs, err := ru.Store.Provenance(ctx, o.key.kind, o.key.value)
	if err != nil {
		return false, fmt.Errorf("read provenance of %s: %w", o.key.value, err)
	}
	for i := len(recs) - 1; i >= 0; i-- { // ordered by day: today's are last
		if recs[i].Feed == o.Feed && recs[i].Day.Equal(day) {
			return true, nil
		}
	}
	return false, nil
}

// precheckKey is one provenance record observe may skip: the observation, its
// day, and whether it takes the precheck (read) at all.
type precheckKey struct {
	o    *obs
	day  time.Time
	read bool
}

// precheckMinKeys is the batch size from which precheckProvenance reads on
// several goroutines.
const precheckMinKeys = 256

// ProvenanceChecker is an optional ability of a Store (the embedded backend
// has it): HasProvenance reports, for each of recs, whether a record with its
// key (Feed, Type, Value, Day) is stored, without reading verdicts. The
// Runner's unchanged path checks a batch's records with one call; without it,
// it reads each value's provenance.
type ProvenanceChecker interface {
	HasProvenance(ctx context.Context, recs []storage.Provenance) ([]bool, error)
}

// precheckProvenance is hasProvenance for many keys at once, after one flush:
// per key 1 when the record is stored, 0 when not, -1 when the key takes no
// read. A store that is a ProvenanceChecker answers in one call; otherwise
// large batches are read on up to GOMAXPROCS (at most 4) goroutines: the reads
// are independent and the store is safe for concurrent use.
func (ru *run) precheckProvenance(ctx context.Context, keys []precheckKey) ([]int8, error) {
	out := make([]int8, len(keys))
	for i := range out {
		out[i] = -1
	}
	if err := ru.flushProvenance(ctx); err != nil {
		return nil, err
	}
	if pc, ok := ru.Store.(ProvenanceChecker); ok {
		var idx []int
		var q []storage.Provenance
		for i, k := range keys {
			if k.read {
				idx = append(idx, i)
				q = append(q, storage.Provenance{Feed: k.o.Feed, Type: k.o.key.kind, Value: k.o.key.value, Day: k.day})
			}
		}
		if len(q) == 0 {
			return out, nil
		}
		found, err := pc.HasProvenance(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("check provenance: %w", err)
		}
		if len(found) != len(q) {
			return nil, fmt.Errorf("check provenance: %d answers for %d records", len(found), len(q))
		}
		for j, i := range idx {
			out[i] = 0
			if found[j] {
				out[i] = 1
			}
		}
		return out, nil
	}
	check := func(i int) error {
		if !keys[i].read {
			return nil
		}
		stored, err := ru.storedProvenance(ctx, keys[i].o, keys[i].day)
		if err != nil {
			return err
		}
		out[i] = 0
		if stored {
			out[i] = 1
		}
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	if len(keys) < precheckMinKeys || workers < 2 {
		for i := range keys {
			if err := check(i); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) || ctx.Err() != nil {
					return
				}
				if err := check(i); err != nil {
					errs[w] = err
					next.Store(int64(len(keys))) // the others stop too
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
