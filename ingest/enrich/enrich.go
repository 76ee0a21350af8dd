package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// DefaultTTL is how long an answer is cached when Config.TTL is zero.
const DefaultTTL = 24 * time.Hour

// StatePrefix prefixes the feed-state name that holds a feed's lookup cache
// ("enrich/" + feed name).
const StatePrefix = "enrich/"

// Config tunes an Enricher.
type Config struct {
	TTL    time.Duration    // how long an answer (found or not found) is reused; 0: DefaultTTL
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
	// QueueSize is how many values Submit holds for Run; 0: DefaultQueueSize.
	QueueSize int
	// OnResult, when set, receives what Run did with each submitted value (a
	// nil Result with Enrich's error).
	OnResult func(res *Result, err error)
}

// DefaultQueueSize is the Submit queue's length when Config.QueueSize is 0.
const DefaultQueueSize = 1024

// Outcome is what happened at one provider.
type Outcome string

// The outcomes of a provider's lookup.
const (
	LookedUp Outcome = "looked-up" // asked now; the answer went through the Runner
	Cached   Outcome = "cached"    // answered within the TTL (ProviderResult.NotFound says which answer); nothing asked
	NotFound Outcome = "not-found" // asked now; the provider does not know the value (no pool entry)
	Quota    Outcome = "quota"     // not asked, or refused with 429: quota exhausted until Next
	Failed   Outcome = "error"     // the lookup or storing its answer failed (Err)
)

// Result is what Enrich did for one value.
type Result struct {
	Kind  string // the normalised value's kind (ingest.Value.Kind: ipv4-addr, file:sha-256, ...)
	Value string // the normalised value
	// Providers has one entry per provider able to look the value up, in the
	// order of the configured feeds; empty when none can.
	Providers []ProviderResult
}

// ProviderResult is one provider's part of a Result.
type ProviderResult struct {
	Provider string // provider name: maltiverse, virustotal, recordedfuture
	Feed     string // the feed the lookup went through; its provenance the answer carries
	Outcome  Outcome
	// NotFound, with Outcome Cached, says the cached answer is a not-found.
	NotFound bool
	At       time.Time // when the provider answered (Cached: the cached answer's time)
	Next     time.Time // Quota: when a lookup is allowed again; zero: unknown
	Err      error     // Quota and Failed: why
	// Stats is what the Runner did with the answer (LookedUp).
	Stats *ingest.Stats
	// Objects are the ids of the object versions the answer wrote to the store
	// (new or changed; objects already stored unchanged are not written), in
	// write order (LookedUp).
	Objects []string
	// Warnings are the conversion's warnings (LookedUp); the Runner's are
	// counted in Stats.Warnings and logged.
	Warnings []ingest.Warning
}

// String formats the provider's outcome on one line, as explain prints it:
// "virustotal (vt): quota exhausted, next at 2026-03-15T00:00:00Z".
func (p *ProviderResult) String() string {
	head := p.Provider + " (" + p.Feed + "): "
	at := p.At.UTC().Format(time.RFC3339)
	switch p.Outcome {
	case LookedUp:
		n := 0
		if p.Stats != nil {
			n = p.Stats.Observations
		}
		return fmt.Sprintf("%slooked up at %s: %d observations, %d objects written, %d warnings", head, at, n, len(p.Objects), len(p.Warnings))
	case Cached:
		if p.NotFound {
			return head + "cached: not found at " + at
		}
		return head + "cached: looked up at " + at
	case NotFound:
		return head + "not found"
	case Quota:
		if p.Next.IsZero() {
			return fmt.Sprintf("%squota exhausted: %v", head, p.Err)
		}
		return fmt.Sprintf("%squota exhausted, next at %s", head, p.Next.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%serror: %v", head, p.Err)
}

// Enricher looks values up at the providers of the configured feeds. It is
// safe for concurrent use; lookups through one feed run one at a time.
type Enricher struct {
	runner    *ingest.Runner
	cfg       Config
	providers []*provider
	queue     chan queued // Submit → Run
}

// queued is one value Submit handed over.
type queued struct{ kind, value string }

// provider is the feed lookups of one provider go through, and its cache.
type provider struct {
	feed   *ingest.Feed
	looker ingest.Looker

	mu     sync.Mutex
	loaded bool
	state  state
}

// state is the durable part of a provider's lookups (the feed state's cursor,
// JSON).
type state struct {
	Day     string           `json:"day,omitempty"`  // the UTC day Used counts
	Used    int              `json:"used,omitempty"` // the budget's requests on Day
	Entries map[string]entry `json:"entries,omitempty"`
}

// entry is one cached answer, keyed by "kind|value".
type entry struct {
	At       time.Time `json:"at"`
	NotFound bool      `json:"not_found,omitempty"`
}

// New builds an Enricher that stores answers through r (its Store, pool,
// identity and Config). feeds are the configured feeds as Registry.New built
// them; per provider New keeps one whose Source implements ingest.Looker: the
// first with an enrich block, else the first. Disabled feeds and feeds with
// enrich enabled: false are left out. r must have a Store.
func New(r *ingest.Runner, feeds []*ingest.Feed, cfg Config) (*Enricher, error) {
	if r == nil || r.Store == nil {
		return nil, errors.New("enrich: New needs a Runner with a Store")
	}
	size := cfg.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	e := &Enricher{runner: r, cfg: cfg, queue: make(chan queued, size)}
	chosen := map[string]int{} // provider → index in e.providers
	for _, f := range feeds {
		if f == nil || f.Source == nil || !f.Config.IsEnabled() || !f.Config.EnrichEnabled() {
			continue
		}
		l, ok := f.Source.(ingest.Looker)
		if !ok {
			continue
		}
		p := &provider{feed: f, looker: l}
		i, seen := chosen[f.Config.Provider]
		switch {
		case !seen:
			chosen[f.Config.Provider] = len(e.providers)
			e.providers = append(e.providers, p)
		case e.providers[i].feed.Config.Enrich == nil && f.Config.Enrich != nil:
			e.providers[i] = p
		}
	}
	return e, nil
}

// Feeds returns the names of the feeds lookups go through, one per provider,
// in config order.
func (e *Enricher) Feeds() []string {
	out := make([]string, 0, len(e.providers))
	for _, p := range e.providers {
		out = append(out, p.feed.Config.Name)
	}
	return out
}

func (e *Enricher) now() time.Time {
	if e.cfg.Now != nil {
		return e.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Enricher) ttl() time.Duration {
	if e.cfg.TTL > 0 {
		return e.cfg.TTL
	}
	return DefaultTTL
}

func (e *Enricher) logger() *slog.Logger {
	if e.cfg.Logger != nil {
		return e.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Enrich looks value up at every provider able to look up its kind (and whose
// feed's enabled_types keep it), in parallel: kind is anything ingest.Normalize accepts ("ipv4-addr", "domain",
// "sha256", ...), or empty to guess it from the value. For each provider the
// answer is reused when cached within the TTL; otherwise, within the
// provider's quota and without waiting for it, the value is looked up, and a
// found answer is converted and applied through the Runner as the feed's
// batch (it enters the pool with the feed's provenance), while a not-found is
// only cached. Per-provider problems (quota, errors) are outcomes in the
// Result, never errors of Enrich. The error is for a value that does not
// normalise (wrapping ingest.ErrInvalidValue or ingest.ErrUnknownType) or ctx
// ending before any provider was asked.
func (e *Enricher) Enrich(ctx context.Context, kind, value string) (*Result, error) {
	var v ingest.Value
	var err error
	if kind == "" {
		v, err = ingest.Guess(value)
	} else {
		v, err = ingest.Normalize(kind, value)
	}
	if err != nil {
		return nil, fmt.Errorf("enrich %q: %w", value, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{Kind: v.Kind(), Value: v.Value}
	var todo []*provider
	for _, p := range e.providers {
		if p.looker.CanLookup(v) && p.feed.Config.Enables(v) {
			todo = append(todo, p)
		}
	}
	res.Providers = make([]ProviderResult, len(todo))
	var wg sync.WaitGroup
	for i, p := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Providers[i] = e.lookup(ctx, p, v)
		}()
	}
	wg.Wait()
	return res, nil
}

// Submit hands a value over to Run without waiting, for hooks that must not
// block (the internal-sightings hook): it reports false, dropping the value
// with a log line, when the queue is full. kind is as for Enrich.
func (e *Enricher) Submit(kind, value string) bool {
	select {
	case e.queue <- queued{kind, value}:
		return true
	default:
		e.logger().Warn("enrichment queue full; value not looked up", "component", "ingest/enrich", "kind", kind, "value", value)
		return false
	}
}

// Run enriches the submitted values one at a time until ctx ends, then
// returns nil. Each outcome goes to Config.OnResult and the log (values whose
// every provider answered from the cache log nothing).
func (e *Enricher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case q := <-e.queue:
			res, err := e.Enrich(ctx, q.kind, q.value)
			if e.cfg.OnResult != nil {
				e.cfg.OnResult(res, err)
			}
			if err != nil {
				e.logger().Warn("enrichment failed", "component", "ingest/enrich", "kind", q.kind, "value", q.value, "err", err)
				continue
			}
			for _, p := range res.Providers {
				if p.Outcome != Cached {
					e.logger().Info("enriched", "component", "ingest/enrich", "value", res.Value, "result", p.String())
				}
			}
		}
	}
}

// key is a value's cache key.
func key(v ingest.Value) string { return v.Kind() + "|" + v.Value }

// lookup runs one provider's part of Enrich.
func (e *Enricher) lookup(ctx context.Context, p *provider, v ingest.Value) ProviderResult {
	cfg := &p.feed.Config
	out := ProviderResult{Provider: cfg.Provider, Feed: cfg.Name}
	log := e.logger().With("component", "ingest/enrich", "feed", cfg.Name, "kind", v.Kind(), "value", v.Value)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := e.load(ctx, p); err != nil {
		out.Outcome, out.Err = Failed, err
		return out
	}
	now := e.now()
	if c, ok := p.state.Entries[key(v)]; ok && now.Sub(c.At) < e.ttl() && !c.At.After(now) {
		out.Outcome, out.NotFound, out.At = Cached, c.NotFound, c.At
		return out
	}
	b, err := p.looker.Lookup(ctx, v)
	out.At = e.now()
	var q *ingest.QuotaError
	switch {
	case errors.As(err, &q):
		out.Outcome, out.Next, out.Err = Quota, q.Next, err
		log.Info("lookup refused for quota", "next", q.Next, "err", err)
	case errors.Is(err, ingest.ErrNotKnown):
		out.Outcome = NotFound
		p.state.Entries[key(v)] = entry{At: out.At, NotFound: true}
	case err != nil:
		out.Outcome, out.Err = Failed, err
		log.Warn("lookup failed", "err", err)
	default:
		rec := &recorder{Store: e.runner.Store}
		r := *e.runner
		r.Store = rec
		st, err := r.Apply(ctx, cfg, b)
		out.Stats, out.Objects = st, rec.ids
		out.Warnings = b.Warnings
		if err != nil {
			// Not cached: the next Enrich asks again and stores the answer.
			out.Outcome, out.Err = Failed, err
			log.Error("storing the answer failed", "err", err)
			break
		}
		out.Outcome = LookedUp
		p.state.Entries[key(v)] = entry{At: out.At}
	}
	if err := e.save(context.WithoutCancel(ctx), p); err != nil && out.Outcome != Failed {
		// The answer is stored; only the cache and usage are not durable.
		log.Error("saving the lookup cache failed", "err", err)
	}
	return out
}

// stateName is the feed-state name of a feed's lookup cache.
func stateName(feed string) string { return StatePrefix + feed }

// load reads the provider's cache and budget usage once, and for lookers that
// keep usage in their feed cursor (VirusTotal) restores that too.
func (e *Enricher) load(ctx context.Context, p *provider) error {
	if p.loaded {
		return nil
	}
	name := p.feed.Config.Name
	st, err := e.runner.Store.FeedState(ctx, stateName(name))
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return fmt.Errorf("enrich: load the cache of feed %q: %w", name, err)
	case len(st.Cursor) > 0:
		if err := json.Unmarshal(st.Cursor, &p.state); err != nil {
			e.logger().Warn("unreadable lookup cache; starting empty", "feed", name, "err", err)
			p.state = state{}
		}
	}
	if p.state.Entries == nil {
		p.state.Entries = map[string]entry{}
	}
	if b := p.looker.LookupBudget(); b != nil {
		b.MergeUsage(p.state.Day, p.state.Used)
	}
	if r, ok := p.looker.(ingest.UsageRestorer); ok {
		fs, err := e.runner.Store.FeedState(ctx, name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return fmt.Errorf("enrich: load the state of feed %q: %w", name, err)
		default:
			r.RestoreUsage(fs.Cursor)
		}
	}
	p.loaded = true
	return nil
}

// save stores the provider's cache, without the answers older than the TTL,
// and the budget's usage.
func (e *Enricher) save(ctx context.Context, p *provider) error {
	now := e.now()
	for k, c := range p.state.Entries {
		if now.Sub(c.At) >= e.ttl() {
			delete(p.state.Entries, k)
		}
	}
	if b := p.looker.LookupBudget(); b != nil {
		p.state.Day, p.state.Used = b.Usage()
	}
	cur, err := json.Marshal(&p.state)
	if err != nil {
		return err
	}
	name := stateName(p.feed.Config.Name)
	return e.runner.Store.PutFeedState(ctx, &storage.FeedState{Feed: name, Cursor: cur, LastSuccess: now})
}

// recorder is the Runner's store for one answer: it records the ids of the
// object versions written.
type recorder struct {
	ingest.Store
	ids []string
}

// PutObjects stores objs and records the ids of the versions added.
func (r *recorder) PutObjects(ctx context.Context, coll string, objs []stix.RawObject) (*storage.WriteResult, error) {
	res, err := r.Store.PutObjects(ctx, coll, objs)
	if err == nil && res != nil {
		r.ids = append(r.ids, res.AddedIDs...)
	}
	return res, err
}
