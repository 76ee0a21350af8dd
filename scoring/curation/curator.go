package curation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/scoring/warninglist"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Defaults of Curator.
const (
	// DefaultPool is the pool collection (ingest.DefaultPool).
	DefaultPool = "pool"
	// DefaultPublished is the stored collection holding the scored versions.
	DefaultPublished = "published"
	// DefaultMaxNewVersions bounds the scored versions one run writes
	// (max_new_versions_per_run).
	DefaultMaxNewVersions = 100_000
)

// Store is what curation needs from a backend; both shipped backends
// satisfy it.
type Store interface {
	storage.CollectionStore
	storage.ObjectReader
	storage.ObjectWriter
	storage.MembershipStore
	storage.ProvenanceStore
	storage.SightingStore
	storage.FeedStateStore
}

// Feed is what curation needs to know about a configured feed.
type Feed struct {
	Provider    string              // "recordedfuture", "otx", ...; empty: the feed is its own provider
	Reliability scoring.Reliability // 0: the provenance record's, else Weights.DefaultReliability
	Share       string              // internal | partners | community; empty: the provenance record's
}

// Curator scores the pool and materialises curated collections. Identity is
// required; every other field has a default.
type Curator struct {
	Pool      string          // the pool collection; empty: DefaultPool
	Published string          // the stored collection of scored versions; empty: DefaultPublished
	Identity  string          // the instance identity: only indicators it created are curated
	Weights   scoring.Weights // zero (no bands): scoring.DefaultWeights()
	AllowList *warninglist.Set
	Feeds     map[string]Feed // by feed name
	Verdict   VerdictFunc     // nil: DefaultVerdict
	// Organisation, when set, gives every value a relevance (Meta.Relevance,
	// selected by min_relevance). Relevance never changes the score and is
	// left out of published versions: the profile stays inside the instance.
	Organisation *scoring.Organisation
	// Floor is the lowest score any configured selection uses (see Floor): a
	// value scoring below it is withdrawn from every collection. Set it from
	// all curated collections' selections, not only the ones a run
	// materialises.
	Floor int
	// MaxNewVersionsPerRun bounds the scored versions a run writes (0:
	// DefaultMaxNewVersions); the rest wait for the next run unless Force.
	MaxNewVersionsPerRun int
	Force                bool
	// Audit, when set, receives every audit event as it happens.
	Audit  func(AuditEvent)
	Logger *slog.Logger // nil: discard
}

// Audit actions.
const (
	ActionEnter    = "enter"    // a version entered the collection: the value started to match
	ActionUpdate   = "update"   // a new version of a member entered
	ActionLeave    = "leave"    // the value stopped matching for this collection only: no STIX version
	ActionReturn   = "return"   // a member that had left matches again with the version it holds
	ActionWithdraw = "withdraw" // a withdrawing version (global reason) entered the collection
)

// AuditEvent records one membership decision.
type AuditEvent struct {
	Collection string
	ID         string // the indicator's id
	Type       string // the value's kind
	Value      string
	Action     string // one of the Action* constants
	Reason     string // why, for a person
	Score      int
	Band       string
	At         time.Time // the pass's asOf
}

// CollectionStats counts what a run did to one collection.
type CollectionStats struct {
	Entered   int // values that started to match (membership records added)
	Updated   int // new versions of matching members added
	Left      int // members that stopped matching (audit only)
	Returned  int // members matching again without a new version
	Withdrawn int // withdrawing versions added
	Context   int // context objects and relationships added
	Members   int // matching values after the run
}

// Stats counts what one run did. Events holds the run's first MaxEvents audit
// events (all of them go to Curator.Audit).
type Stats struct {
	Values      int // authored indicators examined
	NewVersions int // scored versions written to the published collection
	Withdrawals int // of those, versions withdrawing the value
	Deferred    int // changed values left for the next run by MaxNewVersionsPerRun
	Collections map[string]*CollectionStats
	Events      []AuditEvent
	Duration    time.Duration
}

// MaxEvents is how many audit events Stats.Events keeps.
const MaxEvents = 10_000

func (c *Curator) pool() string {
	if c.Pool != "" {
		return c.Pool
	}
	return DefaultPool
}

func (c *Curator) published() string {
	if c.Published != "" {
		return c.Published
	}
	return DefaultPublished
}

func (c *Curator) weights() scoring.Weights {
	if len(c.Weights.Bands) == 0 {
		return scoring.DefaultWeights()
	}
	return c.Weights
}

func (c *Curator) maxNew() int {
	if c.MaxNewVersionsPerRun > 0 {
		return c.MaxNewVersionsPerRun
	}
	return DefaultMaxNewVersions
}

// Materialize is Run with one target: it scores the pool as of asOf, writes
// the scored versions that changed, and brings collectionID's membership up to
// date with sel.
func (c *Curator) Materialize(ctx context.Context, store Store, collectionID string, sel Selection, asOf time.Time) (*Stats, error) {
	return c.Run(ctx, store, []Target{{Collection: collectionID, Selection: sel}}, asOf)
}

// target is a Target during a run.
type target struct {
	Target
	m       *matcher
	members map[string]time.Time // id → version of its latest membership record
	dormant map[string]bool      // members that stopped matching (audit already written)
	stats   *CollectionStats
	refs    []storage.VersionRef
	dirty   bool // dormant changed
}

// poolIndicator is what curation reads of a pool indicator.
type poolIndicator struct {
	CreatedByRef string
	Pattern      string
	ValidFrom    time.Time
	ValidUntil   time.Time // zero when none
	Revoked      bool
}

// item is one pool value during a run.
type item struct {
	rec       storage.Record
	sco       bool    // an observable without an indicator
	indID     string  // for sco: the indicator id its value would have
	fields    []field // the pool version's top-level properties
	ind       poolIndicator
	meta      Meta
	res       scoring.Result
	withdrawn bool
	reason    string
	pub       *storage.Record // the published version in force; nil when none
}

// Run scores every authored indicator and observable of the pool as of asOf,
// writes the scored versions that changed to the published collection and
// materialises each target (see the package documentation). Give it every
// curated collection (and its tiers) at once: the pool is read and scored once
// per Run, whatever the number of targets. It creates the published and
// target collections when missing. The first error stops the run; what was
// written stays written and the next run continues from the store's state.
func (c *Curator) Run(ctx context.Context, store Store, targets []Target, asOf time.Time) (*Stats, error) {
	start := time.Now()
	if c.Identity == "" {
		return nil, errors.New("curation: Curator.Identity (the instance identity) is required: only the indicators it created are curated")
	}
	asOf = asOf.UTC().Truncate(time.Millisecond)
	w := c.weights()
	if err := w.Validate(); err != nil {
		return nil, err
	}
	st := &Stats{Collections: map[string]*CollectionStats{}}
	pub := c.published()
	if err := store.EnsureCollection(ctx, pub, storage.KindStored); err != nil {
		return nil, fmt.Errorf("published collection %q: %w", pub, err)
	}
	tgs := make([]*target, 0, len(targets))
	for _, t := range targets {
		m, err := t.Selection.compile(&w)
		if err != nil {
			return nil, fmt.Errorf("collection %q: %w", t.Collection, err)
		}
		if err := store.EnsureCollection(ctx, t.Collection, storage.KindCurated); err != nil {
			return nil, fmt.Errorf("collection %q: %w", t.Collection, err)
		}
		tg := &target{Target: t, m: m, stats: &CollectionStats{}}
		if tg.members, err = loadMembers(ctx, store, t.Collection); err != nil {
			return nil, err
		}
		if tg.dormant, err = loadDormant(ctx, store, t.Collection); err != nil {
			return nil, err
		}
		st.Collections[t.Collection] = tg.stats
		tgs = append(tgs, tg)
	}
	ru := &run{Curator: c, store: store, w: &w, asOf: asOf, stats: st, targets: tgs,
		context: map[string]*contextObj{}, indicators: map[string]struct{}{}, verdict: c.Verdict}
	if ru.verdict == nil {
		ru.verdict = DefaultVerdict
	}
	if c.Logger != nil {
		ru.log = c.Logger.With("component", "curation")
	} else {
		ru.log = slog.New(slog.DiscardHandler)
	}
	ru.inputs = InputOptions{Feeds: c.Feeds, Verdict: ru.verdict, AllowList: c.AllowList, Logger: ru.log}
	ru.relCache = newRelCache()
	if err := c.Organisation.Validate(); err != nil {
		return nil, err
	}
	var err error
	if ru.rels, err = loadRelationships(ctx, store, c.pool()); err != nil {
		return st, err
	}
	for _, pass := range []struct {
		types []string
		sco   bool
	}{{[]string{"indicator"}, false}, {ObservableTypes, true}} {
		f := storage.Filter{Types: pass.types, Limit: 1000}
		for {
			page, err := store.QueryObjects(ctx, c.pool(), f)
			if err != nil {
				return st, fmt.Errorf("read pool %q: %w", c.pool(), err)
			}
			if err := ru.page(ctx, page.Records, pass.sco); err != nil {
				return st, err
			}
			if !page.More || page.Next == "" {
				break
			}
			f.Next = page.Next
		}
	}
	for _, tg := range tgs {
		if tg.dirty {
			if err := saveDormant(ctx, store, tg.Collection, tg.dormant); err != nil {
				return st, err
			}
		}
	}
	st.Duration = time.Since(start)
	ru.log.Info("curation run done", "values", st.Values, "new_versions", st.NewVersions,
		"withdrawals", st.Withdrawals, "deferred", st.Deferred)
	return st, nil
}

// run is the state of one Run.
type run struct {
	*Curator
	store   Store
	w       *scoring.Weights
	asOf    time.Time
	stats   *Stats
	targets []*target
	rels    map[string][]relRef    // indicates relationships by source
	context map[string]*contextObj // pool objects brought along, by id
	// indicators are the ids of the authored indicators of the pool
	// (Identity's, with a simple pattern), filled by the indicator pass.
	indicators map[string]struct{}
	verdict    VerdictFunc
	log        *slog.Logger
	inputs     InputOptions
	relCache   *relCache // what relevance read from the pool

	prevBuf, candBuf []field // reused by publish
}

func (ru *run) audit(tg *target, it *item, action, reason string) {
	e := AuditEvent{Collection: tg.Collection, ID: it.rec.ID, Type: it.meta.ValueType, Value: it.meta.Value,
		Action: action, Reason: reason, Score: it.meta.Score, Band: it.meta.Band, At: ru.asOf}
	if ru.Audit != nil {
		ru.Audit(e)
	}
	if len(ru.stats.Events) < MaxEvents {
		ru.stats.Events = append(ru.stats.Events, e)
	}
}

// page handles one page of pool indicators, or of pool SCOs (observables)
// when sco is set.
func (ru *run) page(ctx context.Context, recs []storage.Record, sco bool) error {
	items := make([]*item, 0, len(recs))
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		it := &item{rec: r, sco: sco}
		fs, err := split(r.JSON, nil)
		if err != nil {
			ru.log.Warn("pool object skipped", "id", r.ID, "err", err)
			continue
		}
		it.fields = fs
		if sco {
			kind, value, indID, ok := observable(r.Type, fs)
			if !ok {
				continue
			}
			it.meta = Meta{Type: r.Type, ValueType: kind, Value: value}
			it.indID = indID
			items = append(items, it)
			ids = append(ids, r.ID)
			continue
		}
		it.ind = poolIndicator{CreatedByRef: str(get(fs, "created_by_ref")), Pattern: str(get(fs, "pattern")),
			Revoked: string(get(fs, "revoked")) == "true"}
		it.ind.ValidFrom, _ = parseTime(get(fs, "valid_from"))
		it.ind.ValidUntil, _ = parseTime(get(fs, "valid_until"))
		if it.ind.CreatedByRef != ru.Identity {
			continue // a third party's indicator: never re-scored (DESIGN.md)
		}
		kind, value, ok := parsePattern(it.ind.Pattern)
		if !ok {
			continue // not one of the simple patterns ctibroker authors
		}
		it.meta = Meta{Type: "indicator", ValueType: kind, Value: value}
		items = append(items, it)
		ids = append(ids, r.ID)
	}
	if sco {
		// A value with an indicator is curated through the indicator (the
		// indicator pass, which runs first, saw every one).
		keep, kids := items[:0], ids[:0]
		for _, it := range items {
			if _, ok := ru.indicators[it.indID]; !ok {
				keep = append(keep, it)
				kids = append(kids, it.rec.ID)
			}
		}
		items, ids = keep, kids
	} else {
		for _, id := range ids {
			ru.indicators[id] = struct{}{}
		}
	}
	if len(items) == 0 {
		return nil
	}
	ru.stats.Values += len(items)
	prev, err := lastVersions(ctx, ru.store, ru.published(), ids)
	if err != nil {
		return err
	}
	var write []stix.RawObject
	for _, it := range items {
		if err := ru.score(ctx, it); err != nil {
			return err
		}
		p, ok := prev[it.rec.ID]
		var pp *storage.Record
		if ok {
			pp = &p
		}
		obj, changed, err := ru.publish(it, pp)
		if err != nil {
			return fmt.Errorf("publish %s: %w", it.rec.ID, err)
		}
		switch {
		case !changed:
			it.pub = pp
		case ru.stats.NewVersions >= ru.maxNew() && !ru.Force:
			ru.stats.Deferred++
			it.pub = nil // decided next run
			continue
		default:
			write = append(write, obj)
			ru.stats.NewVersions++
			if it.withdrawn {
				ru.stats.Withdrawals++
			}
			it.pub = &storage.Record{ID: obj.ID, Type: obj.Type, JSON: obj.JSON}
			if obj.Modified != nil {
				it.pub.Version = obj.Modified.Time
			}
		}
	}
	if len(write) > 0 {
		if _, err := ru.store.PutObjects(ctx, ru.published(), write); err != nil {
			return fmt.Errorf("store scored versions in %q: %w", ru.published(), err)
		}
		if sco {
			// An SCO version is known by the date_added of its bytes: read it back.
			got, err := lastVersions(ctx, ru.store, ru.published(), ids)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.pub != nil && it.pub.Version.IsZero() {
					r, ok := got[it.rec.ID]
					if !ok {
						return fmt.Errorf("scored %s not found after writing it", it.rec.ID)
					}
					it.pub = &r
				}
			}
		}
	}
	return ru.materialize(ctx, items)
}

// score builds it's scoring inputs and Meta (InputsFor), scores it, computes
// its relevance to the organisation and decides whether it is withdrawn.
func (ru *run) score(ctx context.Context, it *item) error {
	typ := it.meta.Type
	in, m, err := InputsFor(ctx, ru.store, it.meta.ValueType, it.meta.Value, &ru.inputs)
	if err != nil {
		return err
	}
	m.Type = typ
	it.res = scoring.Score(in, *ru.w, ru.asOf)
	m.scored(&it.res)
	if !ru.Organisation.IsZero() {
		rel, err := relevance(ctx, ru.store, ru.pool(), ru.Organisation, &m, ru.relCache)
		if err != nil {
			return err
		}
		it.res = it.res.WithRelevance(rel)
		m.Relevance = rel.Value
	}
	it.meta = m
	switch {
	case it.ind.Revoked:
		it.withdrawn, it.reason = true, "revoked"
	case !it.ind.ValidUntil.IsZero() && !it.ind.ValidUntil.After(ru.asOf):
		it.withdrawn, it.reason = true, "valid_until passed"
	case len(m.Feeds) == 0:
		it.withdrawn, it.reason = true, "withdrawn by every source"
	case m.Score < ru.Floor:
		it.withdrawn, it.reason = true, "score "+strconv.Itoa(m.Score)+" below the lowest selected score "+strconv.Itoa(ru.Floor)
	}
	return nil
}

// shareOf parses a share level; anything unreadable or empty is internal.
func shareOf(s string) auth.ShareLevel {
	if s == "" {
		return auth.ShareCommunity // says nothing: the other source of the level decides
	}
	l, err := auth.ParseShareLevel(s)
	if err != nil {
		return auth.ShareInternal
	}
	return l
}

func uniq(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	slices.Sort(v)
	return slices.Compact(v)
}

// ObservableTypes are the SCO types of the values ctibroker authors; pool SCOs
// of these types whose value has no ctibroker indicator are scored and curated
// as observables.
var ObservableTypes = []string{"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file"}

// observable reads the value of a pool SCO ctibroker authored (value, or a
// file with exactly one hash) and the id its indicator would have.
func observable(typ string, fs []field) (kind, value, indID string, ok bool) {
	if typ != "file" {
		value = str(get(fs, "value"))
		if value == "" {
			return "", "", "", false
		}
		return typ, value, ingest.IndicatorID(ingest.Value{Type: typ, Value: value}), true
	}
	hs, err := split(get(fs, "hashes"), nil)
	if err != nil || len(hs) != 1 {
		return "", "", "", false
	}
	algo, value := hs[0].key, str(hs[0].val)
	if value == "" {
		return "", "", "", false
	}
	return "file:" + strings.ToLower(algo), value, ingest.IndicatorID(ingest.Value{Type: typ, Value: value, HashAlgo: algo}), true
}

// parsePattern reads the value of a pattern ctibroker authors:
// [TYPE:value = 'V'], [file:hashes.'ALG' = 'V'] or [file:hashes.ALG = 'V'].
func parsePattern(p string) (kind, value string, ok bool) {
	if !strings.HasPrefix(p, "[") || !strings.HasSuffix(p, "']") {
		return "", "", false
	}
	typ, rest, ok := strings.Cut(p[1:len(p)-1], ":")
	if !ok {
		return "", "", false
	}
	path, lit, ok := strings.Cut(rest, " = '")
	if !ok {
		return "", "", false
	}
	var b strings.Builder
	for i := 0; i < len(lit)-1; i++ {
		ch := lit[i]
		if ch == '\\' && i+1 < len(lit)-1 {
			i++
			ch = lit[i]
		} else if ch == '\'' {
			return "", "", false // a second comparison: not a simple pattern
		}
		b.WriteByte(ch)
	}
	switch {
	case path == "value":
		return typ, b.String(), true
	case typ == "file" && strings.HasPrefix(path, "hashes.'") && strings.HasSuffix(path, "'"):
		return "file:" + strings.ToLower(path[len("hashes.'"):len(path)-1]), b.String(), true
	case typ == "file" && strings.HasPrefix(path, "hashes.") && !strings.ContainsAny(path[len("hashes."):], "'."):
		// the pattern builder quotes only keys that need it: hashes.MD5
		return "file:" + strings.ToLower(path[len("hashes."):]), b.String(), true
	}
	return "", "", false
}

// lastVersions returns the last version of each id present in coll.
func lastVersions(ctx context.Context, store storage.ObjectReader, coll string, ids []string) (map[string]storage.Record, error) {
	out := make(map[string]storage.Record, len(ids))
	const chunk = 256
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		f := storage.Filter{IDs: part, Limit: len(part)}
		for {
			page, err := store.QueryObjects(ctx, coll, f)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", coll, err)
			}
			for _, r := range page.Records {
				out[r.ID] = r
			}
			if !page.More || page.Next == "" {
				break
			}
			f.Next = page.Next
		}
	}
	return out, nil
}

// loadMembers returns the id and version of each latest membership record.
func loadMembers(ctx context.Context, store Store, coll string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	f := storage.Filter{Limit: 10000}
	for {
		page, err := store.QueryManifest(ctx, coll, f)
		if err != nil {
			return nil, fmt.Errorf("read members of %q: %w", coll, err)
		}
		for _, r := range page.Records {
			out[r.ID] = r.Version
		}
		if !page.More || page.Next == "" {
			return out, nil
		}
		f.Next = page.Next
	}
}

// stateName is the FeedStateStore key of a collection's curation state.
func stateName(coll string) string { return "curation:" + coll }

// loadDormant reads the ids of coll's members that stopped matching.
func loadDormant(ctx context.Context, store Store, coll string) (map[string]bool, error) {
	s, err := store.FeedState(ctx, stateName(coll))
	if errors.Is(err, storage.ErrNotFound) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("curation state of %q: %w", coll, err)
	}
	out := map[string]bool{}
	for _, id := range bytes.Split(s.Snapshot, []byte{'\n'}) {
		if len(id) > 0 {
			out[string(id)] = true
		}
	}
	return out, nil
}

func saveDormant(ctx context.Context, store Store, coll string, dormant map[string]bool) error {
	ids := make([]string, 0, len(dormant))
	for id := range dormant {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s := &storage.FeedState{Feed: stateName(coll), Snapshot: []byte(strings.Join(ids, "\n")), LastSuccess: time.Now().UTC()}
	if err := store.PutFeedState(ctx, s); err != nil {
		return fmt.Errorf("save curation state of %q: %w", coll, err)
	}
	return nil
}

// LeaseName is the lease RunLeased takes, so that one process of several
// sharing a store runs the scheduled pass.
const LeaseName = "curation"

// RunLeased is Run under the lease LeaseName held by holder for ttl (renewed
// for the run's start only: choose a ttl longer than a pass). It returns
// storage.ErrLeaseHeld, and runs nothing, while another holder's lease is in
// force; the lease is released when the run ends.
func (c *Curator) RunLeased(ctx context.Context, store Store, leaser storage.Leaser, holder string, ttl time.Duration, targets []Target, asOf time.Time) (*Stats, error) {
	if err := leaser.AcquireLease(ctx, LeaseName, holder, ttl); err != nil {
		return nil, fmt.Errorf("curation: %w", err)
	}
	defer func() {
		// an unreleased lease only delays the next pass until it expires
		if err := leaser.ReleaseLease(context.WithoutCancel(ctx), LeaseName, holder); err != nil {
			if c.Logger != nil {
				c.Logger.Warn("curation lease not released; the next pass waits for it to expire", "err", err)
			}
		}
	}()
	return c.Run(ctx, store, targets, asOf)
}
