package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// DefaultPool is the collection the Runner writes the intelligence pool into when
// Runner.Pool is empty.
const DefaultPool = "pool"

// cursorDeferral bounds how long the Runner holds back the cursor of batches that
// wrote nothing, and cursorDeferralWritten that of batches that wrote: a crash
// re-fetches at most that much (an error saves the cursor of the last durable
// batch).
const (
	cursorDeferral        = 30 * time.Second
	cursorDeferralWritten = 2 * time.Second
)

// Store is what the Runner needs from a backend: it reads the last stored version
// of the objects it is about to write (to write no version when nothing changed),
// writes objects, keeps feed cursors and provenance. Every storage backend
// satisfies it; ingest never imports one.
type Store interface {
	storage.ObjectReader
	storage.ObjectWriter
	storage.FeedStateStore
	storage.ProvenanceStore
}

// Runner runs feeds: it pulls a feed's Source from its saved cursor and, batch by
// batch, makes the objects and observations durable and only then saves the
// batch's cursor. A crash or error mid-run therefore re-fetches on the next run and
// never skips.
type Runner struct {
	Store    Store
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	Pool     string           // the pool collection (must exist); empty: DefaultPool
	Identity string           // the instance identity, created_by_ref of authored objects; empty: FeedConfig.Identity
	Config   Config           // default valid_until and markings; the zero value: neither (see DefaultConfig)
}

// Stats counts what one run did. Objects are counted per stored object (a new
// value yields an indicator, its SCO and a based-on relationship: 3 new objects).
type Stats struct {
	Feed         string
	Batches      int // batches applied
	Observations int // observations accepted (normalised, of an enabled type)
	Skipped      int // observations of a type the feed does not enable
	New          int // objects stored for the first time
	Changed      int // objects stored as a new version
	Unchanged    int // objects whose stored version already matches: nothing written
	Revoked      int // objects revoked, and indicators withdrawn (valid_until set)
	Provenance   int // provenance records inserted
	Warnings     int
	Duration     time.Duration
}

// String formats the counts on one line, as `ctibroker ingest` prints them.
func (s *Stats) String() string {
	return fmt.Sprintf("%s: %d new, %d changed, %d unchanged, %d revoked objects; %d observations, %d warnings (%d batches, %s)",
		s.Feed, s.New, s.Changed, s.Unchanged, s.Revoked, s.Observations, s.Warnings, s.Batches, s.Duration.Round(time.Millisecond))
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) pool() string {
	if r.Pool != "" {
		return r.Pool
	}
	return DefaultPool
}

// run is the state of one Run.
type run struct {
	*Runner
	cfg   *FeedConfig
	stats *Stats
	log   *slog.Logger
	start time.Time
	seen  map[valueKey]struct{} // snapshot feeds: values in this pull

	targets map[string]*contextTarget // context names and ATT&CK ids resolved in this run
	scratch []byte                    // indicator bytes compared with the stored ones
	provBuf []storage.Provenance      // provenance records not stored yet (see flushProvenance)
	// positions: per value, each feed's latest position when a withdrawal was
	// involved in this run (see withdraw.go).
	positions     map[valueKey]map[string]position
	noIndexWarned bool
	warnings      *[]Warning // when set, warnings are collected here too (Author)
}

type valueKey struct{ kind, value string }

// Run pulls f once from its saved cursor to the end. It returns the run's stats
// (also on error, counting what was made durable) and the first error: the
// Source's, the store's, or ctx's. On success the feed state records the last
// success; on error the error count and message, with the cursor of the last
// batch made durable. Cursors are saved at most every cursorDeferralWritten (2 s;
// 30 s while batches write nothing) and at the end, so a crash re-fetches at
// most that much, never skips.
func (r *Runner) Run(ctx context.Context, f *Feed) (*Stats, error) {
	if r.Store == nil || f == nil || f.Source == nil {
		return nil, errors.New("ingest: Runner.Run needs a Store, a Feed and its Source")
	}
	cfg := &f.Config
	st := &Stats{Feed: cfg.Name}
	if r.Identity == "" && cfg.Identity != "" {
		rr := *r
		rr.Identity = cfg.Identity
		r = &rr
	}
	ru := &run{Runner: r, cfg: cfg, stats: st, start: r.now(),
		log: r.logger().With("component", "ingest", "feed", cfg.Name)}
	state, err := r.Store.FeedState(ctx, cfg.Name)
	if errors.Is(err, storage.ErrNotFound) {
		state, err = &storage.FeedState{Feed: cfg.Name}, nil
	}
	if err != nil {
		return st, fmt.Errorf("feed %q: load state: %w", cfg.Name, err)
	}
	snapshot := false
	if s, ok := f.Source.(SnapshotSource); ok && s.Snapshot() {
		snapshot = true
		ru.seen = map[valueKey]struct{}{}
	}
	// pending is a cursor whose batches are durable but which is not saved yet:
	// for snapshot feeds until the pull completes; for others while batches write
	// nothing (an unchanged batch re-fetched after a crash costs nothing), for at
	// most cursorDeferral, so that an unchanged re-pull does not commit once per batch.
	var pending Cursor
	lastSave := time.Now()
	pullErr := f.Source.Pull(ctx, Cursor(state.Cursor), func(b Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		before := st.New + st.Changed + st.Revoked + st.Provenance
		if err := ru.apply(ctx, &b); err != nil {
			return err
		}
		st.Batches++
		if b.Cursor == nil {
			return nil
		}
		pending = append(Cursor(nil), b.Cursor...) // the source may reuse its buffer
		wrote := st.New+st.Changed+st.Revoked+st.Provenance != before
		if snapshot || !wrote && time.Since(lastSave) < cursorDeferral || wrote && time.Since(lastSave) < cursorDeferralWritten {
			return nil
		}
		if err := ru.flushProvenance(ctx); err != nil {
			return err
		}
		state.Cursor, pending = pending, nil
		if err := r.Store.PutFeedState(ctx, state); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		lastSave = time.Now()
		return nil
	})
	if pullErr == nil && snapshot && st.Batches > 0 {
		pullErr = ru.diffSnapshot(ctx, state)
	}
	if err := ru.flushProvenance(context.WithoutCancel(ctx)); err != nil {
		pending = nil // the batches since the last saved cursor are not all durable
		if pullErr == nil {
			pullErr = err
		}
	}
	if pending != nil && (pullErr == nil || !snapshot) {
		// The batches up to pending are durable: an error resumes after them.
		state.Cursor = pending
	}
	st.Duration = r.now().Sub(ru.start)
	if pullErr != nil {
		state.ErrorCount++
		state.LastError = pullErr.Error()
		if err := r.Store.PutFeedState(context.WithoutCancel(ctx), state); err != nil {
			ru.log.Error("save feed state after error", "err", err)
		}
		return st, fmt.Errorf("feed %q: %w", cfg.Name, pullErr)
	}
	state.LastSuccess = r.now()
	state.LastError = ""
	state.ErrorCount = 0
	if err := r.Store.PutFeedState(ctx, state); err != nil {
		return st, fmt.Errorf("feed %q: save state: %w", cfg.Name, err)
	}
	ru.log.Info("run done", "new", st.New, "changed", st.Changed, "unchanged", st.Unchanged,
		"revoked", st.Revoked, "observations", st.Observations, "warnings", st.Warnings, "batches", st.Batches)
	return st, nil
}

func (ru *run) warn(w Warning) {
	if w.Feed == "" {
		w.Feed = ru.cfg.Name
	}
	ru.stats.Warnings++
	if ru.warnings != nil {
		*ru.warnings = append(*ru.warnings, w)
	}
	ru.log.Warn("record skipped", "record", w.Record, "field", w.Field, "msg", w.Msg)
}

// apply makes one batch durable: the feed's objects, then the authored objects
// for its observations, then the provenance records, then withdrawals.
func (ru *run) apply(ctx context.Context, b *Batch) error {
	for _, w := range b.Warnings {
		ru.warn(w)
	}
	if len(b.Objects) > 0 {
		coll := ru.cfg.Collection
		if coll == "" {
			coll = ru.pool()
		}
		if err := ru.putObjects(ctx, coll, b.Objects); err != nil {
			return err
		}
	}
	if len(b.Observations) > 0 {
		return ru.observe(ctx, b.Observations)
	}
	return nil
}

// lastVersions returns the last stored version of each id present in collection.
func (ru *run) lastVersions(ctx context.Context, coll string, ids []string) (map[string]storage.Record, error) {
	out := make(map[string]storage.Record, len(ids))
	const chunk = 256 // the ids of one query; small keeps backends' per-query de-duplication cheap
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		f := storage.Filter{IDs: part, Versions: []string{storage.VersionLast}, Limit: len(part)}
		for {
			page, err := ru.Store.QueryObjects(ctx, coll, f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", coll, err)
			}
			for _, rec := range page.Records {
				out[rec.ID] = rec
			}
			if !page.More || page.Next == "" {
				break
			}
			f.Next = page.Next
		}
	}
	return out, nil
}

// versionOf returns an object's STIX version: modified, else created, else zero
// (SCOs).
func versionOf(c *stix.Common) time.Time {
	if c.Modified != nil {
		return c.Modified.Time
	}
	if c.Created != nil {
		return c.Created.Time
	}
	return time.Time{}
}

// putObjects stores a feed's objects. Objects received as STIX (stix.RawObject) are
// stored byte-exact and only when their version is not stored yet. Typed objects
// ctibroker builds are versioned by content: when the stored last version has the
// same content apart from created/modified nothing is written; otherwise a new
// version keeps the first created and gets a later modified.
func (ru *run) putObjects(ctx context.Context, coll string, objs []stix.Object) error {
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		ids = append(ids, o.Base().ID)
	}
	last, err := ru.lastVersions(ctx, coll, ids)
	if err != nil {
		return err
	}
	now := stix.NewTimestamp(ru.now())
	var write []stix.RawObject
	for i, o := range objs {
		c := o.Base()
		if c.ID == "" || c.Type == "" {
			ru.warn(Warning{Record: "object " + strconv.Itoa(i), Field: "id", Msg: "object without type or id skipped"})
			continue
		}
		prev, exists := last[c.ID]
		var raw stix.RawObject
		switch x := o.(type) {
		case *stix.RawObject:
			raw = *x
		default:
			var err error
			if raw, err = ru.versionTyped(o, prev, exists, now); err != nil {
				return fmt.Errorf("object %s: %w", c.ID, err)
			}
		}
		ver := versionOf(&raw.Common)
		switch {
		case exists && (ver.IsZero() || prev.Version.Equal(ver) || bytes.Equal(prev.JSON, raw.JSON)):
			ru.stats.Unchanged++
			continue
		case !exists:
			ru.stats.New++
		case raw.Revoked && !revokedJSON(prev.JSON):
			ru.stats.Revoked++
		default:
			ru.stats.Changed++
		}
		write = append(write, raw)
		last[c.ID] = storage.Record{ID: c.ID, Version: ver, JSON: raw.JSON}
	}
	if len(write) == 0 {
		return nil
	}
	if _, err := ru.Store.PutObjects(ctx, coll, write); err != nil {
		return fmt.Errorf("store objects in %s: %w", coll, err)
	}
	return nil
}

// volatileProperties are left out when judging whether a ctibroker object's
// published content changed (DESIGN.md, Versions): times that move on every
// sighting and counters. Their current values live in provenance.
var volatileProperties = []string{"modified", "last_seen", "last_observed", "number_observed", "count"}

// sameButVolatile reports whether two serialisations of one object differ only in
// volatileProperties.
func sameButVolatile(a, b []byte) bool {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return false
	}
	for _, k := range volatileProperties {
		delete(ma, k)
		delete(mb, k)
	}
	if len(ma) != len(mb) {
		return false
	}
	for k, va := range ma {
		vb, ok := mb[k]
		if !ok {
			return false
		}
		if !bytes.Equal(va, vb) {
			var x, y any
			if json.Unmarshal(va, &x) != nil || json.Unmarshal(vb, &y) != nil {
				return false
			}
			xa, _ := json.Marshal(x)
			ya, _ := json.Marshal(y)
			if !bytes.Equal(xa, ya) {
				return false
			}
		}
	}
	return true
}

// revokedJSON reports whether stored object bytes say revoked: true.
func revokedJSON(b []byte) bool {
	var c struct {
		Revoked bool `json:"revoked"`
	}
	return json.Unmarshal(b, &c) == nil && c.Revoked
}

// versionTyped marshals a typed object, reusing the stored version's created and
// modified when the content is unchanged.
func (ru *run) versionTyped(o stix.Object, prev storage.Record, exists bool, now stix.Timestamp) (stix.RawObject, error) {
	c := o.Base()
	_, sco := stix.ContributingProperties(c.Type) // SCOs carry no created/modified
	if !exists {
		if !sco && c.Created == nil {
			t := now
			c.Created = &t
		}
		if !sco && c.Modified == nil && c.Type != "marking-definition" {
			t := *c.Created
			c.Modified = &t
		}
		b, err := json.Marshal(o)
		return stix.RawObject{Common: *c, JSON: b}, err
	}
	if sco {
		b, err := json.Marshal(o)
		return stix.RawObject{Common: *c, JSON: b}, err
	}
	var pc struct {
		Created  *stix.Timestamp `json:"created"`
		Modified *stix.Timestamp `json:"modified"`
	}
	if err := json.Unmarshal(prev.JSON, &pc); err != nil {
		return stix.RawObject{}, fmt.Errorf("stored version: %w", err)
	}
	own := c.Modified
	c.Created, c.Modified = pc.Created, pc.Modified
	b, err := json.Marshal(o)
	if err != nil || bytes.Equal(b, prev.JSON) {
		return stix.RawObject{Common: *c, JSON: b}, err
	}
	if sameButVolatile(b, prev.JSON) {
		// Only volatile properties moved: keep the stored version as it is.
		return stix.RawObject{Common: *c, JSON: prev.JSON}, nil
	}
	// Content changed: a new version after the stored one.
	mod := now
	if own != nil && pc.Modified != nil && own.After(pc.Modified.Time) {
		mod = *own
	}
	if pc.Modified != nil && !mod.After(pc.Modified.Time) {
		mod = stix.Timestamp{Time: pc.Modified.Add(time.Millisecond)}
	}
	c.Modified = &mod
	b, err = json.Marshal(o)
	return stix.RawObject{Common: *c, JSON: b}, err
}

// accept normalises observations: invalid values become warnings, values of a
// type the feed does not enable are skipped, Feed and Seen get their defaults.
func (ru *run) accept(in []Observation, now time.Time) []obs {
	accepted := make([]obs, 0, len(in))
	for i, o := range in {
		var v Value
		var err error
		if o.Type == "" {
			v, err = Guess(o.Value)
		} else {
			v, err = Normalize(o.Type, o.Value)
		}
		if err != nil {
			ru.warn(Warning{Feed: o.Feed, Record: "observation " + strconv.Itoa(i) + " (" + o.Value + ")", Field: "value", Msg: err.Error()})
			continue
		}
		if !ru.cfg.typeEnabled(v) {
			ru.stats.Skipped++
			continue
		}
		if o.Feed == "" {
			o.Feed = ru.cfg.Name
		}
		if o.Seen.IsZero() || o.Seen.After(now) {
			o.Seen = now
		}
		if _, ok := shareRank[o.Share]; !ok && o.Share != "" {
			ru.warn(Warning{Feed: o.Feed, Record: "observation " + strconv.Itoa(i) + " (" + o.Value + ")", Field: "share", Msg: fmt.Sprintf("%q is not internal, partners or community; read as internal", o.Share)})
			o.Share = ShareInternal
		}
		if valid, _ := scanJSON(o.Verdict); len(o.Verdict) > 0 && !valid { // json.Valid, faster
			ru.warn(Warning{Feed: o.Feed, Record: "observation " + strconv.Itoa(i) + " (" + o.Value + ")", Field: "verdict", Msg: "not valid JSON; dropped"})
			o.Verdict = nil
		}
		ru.stats.Observations++
		k := valueKey{v.Kind(), v.Value}
		if ru.seen != nil && !o.Revoked {
			ru.seen[k] = struct{}{}
		}
		accepted = append(accepted, obs{Observation: o, v: v, key: k})
	}
	return accepted
}

// obs is one accepted observation after normalisation.
type obs struct {
	Observation
	v   Value
	key valueKey
}

// observe normalises a batch's observations, stores the authored objects (pool)
// and the provenance records, then applies withdrawals. A feed's latest report
// of a value, by seen time (a live report winning a tie), is its position: a
// live report older than the same feed's withdrawal does not publish the value
// again, and a withdrawal older than the feed's live report withdraws nothing.
func (ru *run) observe(ctx context.Context, in []Observation) error {
	now := ru.now()
	accepted := ru.accept(in, now)
	latest := latestPerFeed(accepted)
	ru.remember(accepted, latest)
	order := ru.collectValues(accepted, latest)
	wrote := ru.stats.New + ru.stats.Changed
	if err := ru.author(ctx, order, accepted, latest, now); err != nil {
		return err
	}
	// A batch whose authored objects were all stored already is most likely a
	// re-pull: its provenance records of the day are checked with reads first,
	// so that an unchanged re-pull commits nothing (a write transaction costs an
	// fsync even when every record exists).
	precheck := ru.stats.New+ru.stats.Changed == wrote
	// One record per (feed, value, day): the day's latest report, a live one
	// winning a tie.
	type provKey struct {
		feed string
		key  valueKey
		day  time.Time
	}
	pick := make(map[provKey]int, len(accepted))
	var keys []provKey
	for i, o := range accepted {
		k := provKey{o.Feed, o.key, o.Seen.UTC().Truncate(24 * time.Hour)}
		j, ok := pick[k]
		switch {
		case !ok:
			pick[k] = i
			keys = append(keys, k)
		case positionOf(&o).supersedes(positionOf(&accepted[j])):
			pick[k] = i
		}
	}
	// The precheck reads (one per value of a batch that wrote nothing, the
	// unchanged re-pull's largest cost) run concurrently up front; the loop
	// below writes nothing they read.
	var prestored []int8 // per key: 1 stored, 0 not, -1 not read
	if precheck {
		preKeys := make([]precheckKey, len(keys))
		for i, k := range keys {
			o := &accepted[pick[k]]
			preKeys[i] = precheckKey{o: o, day: k.day, read: !o.Revoked && ru.positions[o.key] == nil}
		}
		var err error
		if prestored, err = ru.precheckProvenance(ctx, preKeys); err != nil {
			return err
		}
	}
	recs := make([]storage.Provenance, 0, len(keys))
	for ki, k := range keys {
		o := &accepted[pick[k]]
		day := k.day
		if o.Revoked || ru.positions[o.key] != nil {
			var keep bool
			var err error
			if day, keep, err = ru.changeDay(ctx, o, day); err != nil {
				return err
			} else if !keep {
				continue
			}
		} else if precheck {
			stored := prestored[ki] == 1
			if prestored[ki] < 0 {
				var err error
				if stored, err = ru.hasProvenance(ctx, o, day); err != nil {
					return err
				}
			}
			if stored {
				continue
			}
		}
		verdict, err := ru.verdict(&o.Observation)
		if err != nil {
			return err
		}
		recs = append(recs, storage.Provenance{Feed: o.Feed, Type: o.key.kind, Value: o.v.Value,
			Day: day, Verdict: verdict, Revoked: o.Revoked})
	}
	ru.provBuf = append(ru.provBuf, recs...)
	if len(ru.provBuf) >= provenanceFlush {
		if err := ru.flushProvenance(ctx); err != nil {
			return err
		}
	}
	return ru.withdraw(ctx, order, now)
}

// provenanceFlush is how many provenance records the Runner holds before
// storing them.
const provenanceFlush = 20000

// flushProvenance stores the provenance records held back. The Runner holds
// them across batches so that a new batch costs one commit (its objects)
// rather than two; they are stored before any cursor is saved, before any
// provenance read, and at the end of the run, so a crash re-fetches the batches
// whose records were lost.
func (ru *run) flushProvenance(ctx context.Context) error {
	if len(ru.provBuf) == 0 {
		return nil
	}
	res, err := ru.Store.AddProvenance(ctx, ru.provBuf)
	if err != nil {
		return fmt.Errorf("store provenance: %w", err)
	}
	ru.stats.Provenance += res.Added
	clear(ru.provBuf)
	ru.provBuf = ru.provBuf[:0]
	return nil
}

// provenanceVerdict is the JSON kept in a provenance record: the provider's native
// verdict and context, plus what the feed config says about the value.
type provenanceVerdict struct {
	Detect      bool            `json:"detect"`
	Verdict     json.RawMessage `json:"verdict,omitempty"`
	Context     *Context        `json:"context,omitempty"`
	TLP         string          `json:"tlp,omitempty"`
	Share       string          `json:"share"`
	Reliability *int            `json:"reliability,omitempty"`
	Seen        stix.Timestamp  `json:"seen"`
}

func (ru *run) verdict(o *Observation) ([]byte, error) {
	// Serialised by hand in provenanceVerdict's field order (the struct documents
	// the shape for readers); encoding/json's reflection was a tenth of the
	// unchanged path.
	b := make([]byte, 0, 160+len(o.Verdict))
	b = append(b, `{"detect":`...)
	b = strconv.AppendBool(b, o.Detect)
	if len(o.Verdict) > 0 {
		b = append(b, `,"verdict":`...)
		// Copied when already compact (most converters write it so), else
		// compacted with appendCompactJSON (json.Compact's bytes): large
		// verdicts (Recorded Future's evidence, as the list spaces it) made
		// json.Compact into a buffer of its own a tenth of a new value's cost.
		switch valid, compact := scanJSON(o.Verdict); {
		case compact:
			b = append(b, o.Verdict...)
		case valid:
			b = appendCompactJSON(b, o.Verdict)
		default:
			var buf bytes.Buffer
			err := json.Compact(&buf, o.Verdict) // fails: its error names the problem
			return nil, fmt.Errorf("provenance verdict of %s: %w", o.Value, err)
		}
	}
	c := &o.Context
	if len(c.Malware)+len(c.Actors)+len(c.AttackIDs)+len(c.CVEs)+len(c.Sectors)+len(c.Labels)+len(c.ReportRefs) > 0 {
		b = append(b, `,"context":{`...)
		n := 0
		for _, l := range []struct {
			key  string
			vals []string
		}{{"malware", c.Malware}, {"actors", c.Actors}, {"attack_ids", c.AttackIDs}, {"cves", c.CVEs},
			{"sectors", c.Sectors}, {"labels", c.Labels}, {"report_refs", c.ReportRefs}} {
			if len(l.vals) == 0 {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendJCSString(b, l.key)
			b = append(b, ':', '[')
			for k, v := range l.vals {
				if k > 0 {
					b = append(b, ',')
				}
				b = appendJCSString(b, v)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	tlp := c.TLP
	if tlp == "" {
		tlp = ru.cfg.DefaultTLP
	}
	if tlp != "" {
		b = appendField(b, "tlp", tlp)
	}
	b = appendField(b, "share", MoreRestrictiveShare(ru.cfg.ShareLevel(), o.Share))
	if ru.cfg.Reliability.Set {
		b = append(b, `,"reliability":`...)
		b = strconv.AppendInt(b, int64(ru.cfg.Reliability.Score), 10)
	}
	b = appendTime(b, "seen", stix.NewTimestamp(o.Seen))
	return append(b, '}'), nil
}

// author stores, for every accepted value, its SCO, and for detection-worthy ones
// the ctibroker indicator and its based-on relationship; objects already stored
// with the same content are not written again.
func (ru *run) author(ctx context.Context, order []*authoredValue, accepted []obs, latest map[feedValue]int, now time.Time) error {
	// First the indicators (and the SCOs of observable-only values). An indicator's
	// first version is stored in the same atomic PutObjects as its SCO and based-on
	// relationship, so a stored indicator implies both: only values whose
	// indicator is missing need a second lookup. The unchanged path reads one id
	// per value.
	ids := make([]string, 0, len(order))
	for _, w := range order {
		if w.revoked {
			continue
		}
		if w.detect {
			w.pattern = Pattern(w.v)
			w.indID = indicatorID(w.pattern)
			ids = append(ids, w.indID)
		} else {
			w.scoID = ObservableID(w.v)
			ids = append(ids, w.scoID)
		}
	}
	pool := ru.pool()
	ts := stix.NewTimestamp(now)
	sdos, rels := ru.contextObjects(order)
	for _, o := range sdos {
		ids = append(ids, o.Base().ID)
	}
	for _, r := range rels {
		ids = append(ids, r.id)
	}
	if len(ids) == 0 {
		return nil
	}
	last, err := ru.lastVersions(ctx, pool, ids)
	if err != nil {
		return err
	}
	ids = ids[:0]
	for _, w := range order {
		if w.detect && !w.revoked {
			if prev, ok := last[w.indID]; ok {
				// A withdrawn indicator (a version whose valid_until is not after its
				// modified) is published again only when some feed's position is
				// live: this batch's live report may be older than the same feed's
				// withdrawal.
				if !bytes.Contains(prev.JSON, []byte(`,"valid_until":"`)) {
					// live without a lifetime: nothing to guard
				} else if t, ok := indicatorTimes(prev.JSON); !ok {
					// unusual bytes: indicator() decodes them
				} else if w.prev, w.prevOK = t, true; withdrawnDoc(&t) {
					key := valueKey{w.v.Kind(), w.v.Value}
					ps, err := ru.feedPositions(ctx, key)
					if err != nil {
						return err
					}
					for i := range accepted {
						if o := &accepted[i]; o.key == key && ru.live(accepted, latest, i) {
							if q, ok := ps[o.Feed]; !ok || positionOf(o).supersedes(q) {
								ps[o.Feed] = positionOf(o)
							}
						}
					}
					w.stayWithdrawn = !anyLive(ps)
					if !w.stayWithdrawn {
						// The value comes back: remember the live positions so that
						// their provenance records are written even on a day that
						// holds the feed's withdrawal (see changeDay).
						for i := range accepted {
							if o := &accepted[i]; o.key == key && ru.live(accepted, latest, i) {
								ru.rememberOne(o)
							}
						}
					}
				}
			} else {
				// The SCO may exist (another feed reported the value as an observable);
				// the based-on relationship cannot without the indicator.
				w.scoID = ObservableID(w.v)
				w.relID = relationshipID("based-on", w.indID, w.scoID)
				ids = append(ids, w.scoID)
			}
		}
	}
	if len(ids) > 0 {
		more, err := ru.lastVersions(ctx, pool, ids)
		if err != nil {
			return err
		}
		for id, rec := range more {
			last[id] = rec
		}
	}
	write, err := ru.build(order, sdos, rels, last, ts)
	if err != nil || len(write) == 0 {
		return err
	}
	if _, err := ru.Store.PutObjects(ctx, pool, write); err != nil {
		return fmt.Errorf("store objects in %s: %w", pool, err)
	}
	return nil
}

// collectValues groups a batch's accepted observations by value: detection-worthy
// when any live observation says so, seen at the earliest live time, the union
// of their context; withdrawn when no feed's latest report in the batch (see
// latestPerFeed) is live.
func (ru *run) collectValues(accepted []obs, latest map[feedValue]int) []*authoredValue {
	byKey := make(map[valueKey]*authoredValue, len(accepted))
	order := make([]*authoredValue, 0, len(accepted))
	for i := range accepted {
		o := &accepted[i]
		w := byKey[o.key]
		if w == nil {
			w = &authoredValue{v: o.v, seen: o.Seen, last: o.Seen, revoked: true}
			byKey[o.key] = w
			order = append(order, w)
		}
		if ru.live(accepted, latest, i) {
			if w.revoked {
				w.seen, w.last = o.Seen, o.Seen
			}
			w.revoked = false
			w.detect = w.detect || o.Detect
			if o.Seen.Before(w.seen) {
				w.seen = o.Seen
			}
			if o.Seen.After(w.last) {
				w.last = o.Seen
			}
			if ru.Config.Markings {
				w.tlp = max(w.tlp, ru.observationTLP(o, i))
			}
			c := &o.Context
			if len(c.Malware)+len(c.Actors)+len(c.AttackIDs)+len(c.CVEs)+len(c.Sectors) > 0 {
				if w.context == nil {
					w.context = &Context{}
				}
				mergeContext(w.context, c)
			}
		}
	}
	return order
}

// build serialises what is not stored yet (last holds the stored last versions)
// for the values of a batch: SCOs, indicators (or their new versions), based-on
// relationships, context SDOs and indicates relationships. The counts go to the
// run's stats.
func (ru *run) build(order []*authoredValue, sdos []stix.Object, rels []contextRel, last map[string]storage.Record, ts stix.Timestamp) ([]stix.RawObject, error) {
	var write []stix.RawObject // allocated only when something is new or changed
	grow := func() {
		if write == nil {
			write = make([]stix.RawObject, 0, 4*len(order)+len(sdos)+len(rels))
		}
	}
	for _, w := range order {
		if w.revoked {
			continue
		}
		prev, exists := last[w.indID]
		if w.detect && exists && w.stayWithdrawn {
			ru.stats.Unchanged += 3
			continue
		}
		if w.detect && exists {
			// Its SCO and based-on relationship were stored with its first version.
			ru.stats.Unchanged += 2
			ind, changed, err := ru.indicator(w.v, w.pattern, w.indID, prev.JSON, true, ru.spec(w), ts)
			if err != nil {
				return nil, err
			}
			if changed {
				ru.stats.Changed++
				grow()
				write = append(write, ind)
			} else {
				ru.stats.Unchanged++
			}
			continue
		}
		if _, ok := last[w.scoID]; ok {
			ru.stats.Unchanged++
		} else {
			sco, err := newSCO(w.v, w.scoID)
			if err != nil {
				return nil, err
			}
			grow()
			write = append(write, sco)
			ru.stats.New++
		}
		if !w.detect {
			continue
		}
		ind, _, err := ru.indicator(w.v, w.pattern, w.indID, nil, false, ru.spec(w), ts)
		if err != nil {
			return nil, err
		}
		ru.stats.New++
		grow()
		write = append(write, ind)
		if _, ok := last[w.relID]; ok {
			ru.stats.Unchanged++
			continue
		}
		rel, err := newRelationship("based-on", w.indID, w.scoID, ru.Identity, *ind.Created, w.tlp)
		if err != nil {
			return nil, err
		}
		grow()
		write = append(write, rel)
		ru.stats.New++
	}
	more, err := ru.newContextObjects(sdos, rels, last, ts)
	if err != nil {
		return nil, err
	}
	return append(write, more...), nil
}

// spec is what w's batch says about its indicator.
func (ru *run) spec(w *authoredValue) indicatorSpec {
	return indicatorSpec{seen: stix.NewTimestamp(w.seen), last: stix.NewTimestamp(w.last), ttl: ru.validFor(w.v), tlp: w.tlp,
		prev: w.prev, prevOK: w.prevOK}
}

// authoredValue is one value of a batch and the objects authored for it.
type authoredValue struct {
	v       Value
	detect  bool
	seen    time.Time    // the earliest live report
	last    time.Time    // the latest live report
	tlp     stix.TLP     // the most restrictive live report's level (Config.Markings)
	prev    indicatorDoc // the stored indicator's times, parsed once, when prevOK
	prevOK  bool
	pattern string
	indID   string
	scoID   string
	relID   string
	revoked bool // no feed's latest report of the value in this batch is live
	// stayWithdrawn: the stored indicator is withdrawn and no feed's position is
	// live (the batch's live report is older than its feed's withdrawal).
	stayWithdrawn bool
	context       *Context // merged malware, actors and ATT&CK ids of its observations; nil when none
}

// indicatorSpec is what one batch says about an indicator.
type indicatorSpec struct {
	seen, last stix.Timestamp  // the earliest and latest live report
	withdraw   *stix.Timestamp // set: withdraw the value at this time
	ttl        time.Duration   // default lifetime (Config.ValidFor); 0: none
	tlp        stix.TLP        // the most restrictive live report's level (Config.Markings)
	prev       indicatorDoc    // the stored version's times and marking, when prevOK
	prevOK     bool
}

// expiry is the default valid_until: the latest report plus the lifetime, and
// after valid_from.
func expiry(last stix.Timestamp, ttl time.Duration, from stix.Timestamp) *stix.Timestamp {
	u := stix.Timestamp{Time: last.Add(ttl)}
	if !u.After(from.Time) {
		u = stix.Timestamp{Time: from.Add(time.Millisecond)}
	}
	return &u
}

// withdrawnDoc reports whether a stored indicator version is a withdrawal: its
// valid_until is not after its modified (a default lifetime always is).
func withdrawnDoc(d *indicatorDoc) bool {
	return d.ValidUntil != nil && !d.ValidUntil.After(d.Modified.Time)
}

// indicator builds the authored indicator of v. With a stored version it keeps
// that version's created, valid_from and modified, and reports changed when the
// result differs from the stored bytes (then with a later modified).
// sp.withdraw set withdraws the value (valid_until); otherwise valid_until is
// the default lifetime after the latest report (see Config.ValidFor), moved
// forward only when that gains more than half the lifetime.
func (ru *run) indicator(v Value, pattern, id string, prevJSON []byte, exists bool, sp indicatorSpec, now stix.Timestamp) (stix.RawObject, bool, error) {
	d := indicatorDoc{Type: "indicator", SpecVersion: "2.1", ID: id, CreatedByRef: ru.Identity,
		Created: now, Modified: now, Name: v.Value, Pattern: pattern, PatternType: "stix", PatternVersion: "2.1",
		ValidFrom: sp.seen}
	if sp.tlp != stix.TLPNone {
		d.ObjectMarkingRefs = []string{sp.tlp.MarkingRef()}
	}
	if !exists {
		if d.ValidFrom.After(now.Time) {
			d.ValidFrom = now
		}
		switch {
		case sp.withdraw != nil:
			d.ValidUntil = sp.withdraw
		case sp.ttl > 0:
			d.ValidUntil = expiry(sp.last, sp.ttl, d.ValidFrom)
		}
		raw, err := d.raw()
		return raw, true, err
	}
	prev, ok := sp.prev, sp.prevOK
	if !ok {
		prev, ok = indicatorTimes(prevJSON)
	}
	if !ok {
		if err := json.Unmarshal(prevJSON, &prev); err != nil {
			return stix.RawObject{}, false, fmt.Errorf("stored indicator %s: %w", id, err)
		}
	}
	d.Created, d.Modified, d.ValidFrom = prev.Created, prev.Modified, prev.ValidFrom
	if len(prev.ObjectMarkingRefs) > 0 {
		// Never loosened: the stricter of the stored marking and this batch's.
		if l, ok := stix.TLPFromMarkingRef(prev.ObjectMarkingRefs[0]); !ok || l >= sp.tlp {
			d.ObjectMarkingRefs = prev.ObjectMarkingRefs
		}
	}
	switch {
	case sp.withdraw != nil:
		d.ValidUntil = sp.withdraw
		if prev.ValidUntil != nil && !prev.ValidUntil.After(sp.withdraw.Time) {
			d.ValidUntil = prev.ValidUntil // already withdrawn or expired: keep it
		}
	case sp.ttl == 0:
		d.ValidUntil = nil
	case prev.ValidUntil == nil || withdrawnDoc(&prev):
		d.ValidUntil = expiry(sp.last, sp.ttl, d.ValidFrom)
	default:
		d.ValidUntil = prev.ValidUntil
		if u := expiry(sp.last, sp.ttl, d.ValidFrom); u.Sub(prev.ValidUntil.Time) > sp.ttl/2 {
			d.ValidUntil = u
		}
	}
	if d.ValidUntil != nil && !d.ValidUntil.After(d.ValidFrom.Time) {
		t := stix.Timestamp{Time: d.ValidFrom.Add(time.Millisecond)}
		d.ValidUntil = &t
	}
	// The unchanged path compares in a scratch buffer and allocates nothing.
	ru.scratch = d.appendTo(ru.scratch[:0])
	if bytes.Equal(ru.scratch, prevJSON) {
		return stix.RawObject{}, false, nil
	}
	d.Modified = now
	if !now.After(prev.Modified.Time) {
		d.Modified = stix.Timestamp{Time: prev.Modified.Add(time.Millisecond)}
	}
	if d.ValidUntil != nil && sp.withdraw != nil && d.ValidUntil.After(d.Modified.Time) {
		d.ValidUntil = &d.Modified // a withdrawal's valid_until is not after its modified
	}
	raw, err := d.raw()
	return raw, true, err
}

// indicatorTimes reads created, modified, valid_from and valid_until from the
// bytes of an indicator ctibroker wrote, without a full JSON decode (the
// unchanged path runs it for every value). ok is false when the bytes do not
// have the expected shape; the caller then decodes them properly.
func indicatorTimes(b []byte) (d indicatorDoc, ok bool) {
	get := func(key string) (stix.Timestamp, bool) {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return stix.Timestamp{}, false
		}
		i += len(key)
		if i+len(stix.TimestampLayout) >= len(b) || b[i+len(stix.TimestampLayout)] != '"' {
			return stix.Timestamp{}, false
		}
		return parseMillis(b[i : i+len(stix.TimestampLayout)])
	}
	var okC, okM, okF bool
	d.Created, okC = get(`,"created":"`)
	d.Modified, okM = get(`,"modified":"`)
	d.ValidFrom, okF = get(`,"valid_from":"`)
	if !okC || !okM || !okF {
		return d, false
	}
	const mk = `,"object_marking_refs":["`
	if i := bytes.Index(b, []byte(mk)); i >= 0 {
		rest := b[i+len(mk):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 || j+2 > len(rest) || rest[j+1] != ']' {
			return d, false
		}
		d.ObjectMarkingRefs = []string{string(rest[:j])}
	}
	if bytes.Contains(b, []byte(`,"valid_until":"`)) {
		u, ok := get(`,"valid_until":"`)
		if !ok {
			return d, false
		}
		d.ValidUntil = &u
	}
	return d, true
}

// parseMillis parses exactly stix.TimestampLayout ("2006-01-02T15:04:05.000Z")
// without time.Parse's generality; anything else is not ok.
func parseMillis(b []byte) (stix.Timestamp, bool) {
	if len(b) != 24 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		return stix.Timestamp{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var f [7]int
	for i, r := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 23}} {
		v, ok := num(b[r[0]:r[1]])
		if !ok {
			return stix.Timestamp{}, false
		}
		f[i] = v
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return stix.Timestamp{}, false
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6]*int(time.Millisecond), time.UTC)
	if t.Day() != f[2] { // 31 February and the like
		return stix.Timestamp{}, false
	}
	return stix.Timestamp{Time: t}, true
}
