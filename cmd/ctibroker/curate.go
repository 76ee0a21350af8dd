package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// CurationConfig is the `curation:` section: how serve scores the pool and
// materialises the curated collections (scoring/curation).
//
//	curation:
//	  published_collection: published   # stored collection of the scored versions
//	  interval: 1h                       # a pass this often, and after each scheduled feed pull
//	  max_new_versions_per_run: 100000   # scored versions one pass may write
type CurationConfig struct {
	// PublishedCollection holds the scored versions the curated collections
	// refer to. Default "published", an internal collection no TAXII route
	// serves; name a configured stored, non-writable collection to serve it.
	PublishedCollection string `yaml:"published_collection"`
	// Interval is the time between two passes (default 1h). A pass also runs
	// soon after serve starts and after each scheduled feed pull.
	Interval time.Duration `yaml:"interval"`
	// MaxNewVersionsPerRun bounds the scored versions one pass writes
	// (default 100 000); the rest wait for the next pass.
	MaxNewVersionsPerRun int `yaml:"max_new_versions_per_run"`
}

// DefaultCurationInterval is the default curation.interval.
const DefaultCurationInterval = time.Hour

// published returns the published collection's id.
func (c *CurationConfig) published() string {
	if c.PublishedCollection != "" {
		return c.PublishedCollection
	}
	return curation.DefaultPublished
}

// interval returns the time between passes.
func (c *CurationConfig) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return DefaultCurationInterval
}

// validateCuration checks the curation section and the selections of the
// curated collections against the scoring bands: a curated collection needs a
// selection, and its min_band must name a band.
func (c *Config) validateCuration() error {
	cc := &c.Curation
	if cc.Interval < 0 {
		return fmt.Errorf("curation.interval %s: must not be negative", cc.Interval)
	}
	if cc.MaxNewVersionsPerRun < 0 {
		return fmt.Errorf("curation.max_new_versions_per_run %d: must not be negative", cc.MaxNewVersionsPerRun)
	}
	for i, col := range c.TAXII.Collections {
		if col.Kind != storage.KindCurated {
			continue
		}
		if col.Selection == nil {
			return fmt.Errorf("collections[%d] %q: a curated collection needs a selection", i, col.ID)
		}
		if _, err := col.Selection.MinScoreFor(&c.Scoring.Weights); err != nil {
			return fmt.Errorf("collections[%d] %q: %w", i, col.ID, err)
		}
	}
	pub := cc.published()
	if pub == c.pool() {
		return fmt.Errorf("curation.published_collection %q: must not be the pool", pub)
	}
	for _, col := range c.TAXII.Collections {
		if col.ID == pub && (col.Kind == storage.KindCurated || col.Writable) {
			return fmt.Errorf("curation.published_collection %q: must be stored and not writable", pub)
		}
	}
	return nil
}

// newCurator builds the Curator of cfg: the weights, allow-lists and feed
// mapping explain uses (scorer), the instance identity, and audit events for
// collection-specific leaves, returns and withdrawals (entries go to the debug
// log: a first pass enters every member).
func newCurator(cfg *Config, store storage.Store, logger *slog.Logger, audit *auth.AuditLog) (*curation.Curator, error) {
	sc, err := newScorer(cfg, store)
	if err != nil {
		return nil, err
	}
	feeds := curationFeeds(cfg)
	floor, err := curation.Floor(&sc.w, cfg.TAXII.CuratedSelections()...)
	if err != nil {
		return nil, err
	}
	return &curation.Curator{
		Pool:                 cfg.pool(),
		Published:            cfg.Curation.published(),
		Identity:             cfg.Identity.ID,
		Weights:              sc.w,
		AllowList:            sc.allow,
		Feeds:                feeds,
		Floor:                floor,
		MaxNewVersionsPerRun: cfg.Curation.MaxNewVersionsPerRun,
		Organisation:         &cfg.Organisation,
		Audit: func(ev curation.AuditEvent) {
			switch ev.Action {
			case curation.ActionLeave, curation.ActionReturn, curation.ActionWithdraw:
				_ = audit.Log(auth.AuditEvent{Event: "curation." + ev.Action, Detail: fmt.Sprintf(
					"collection=%s object=%s %s=%s score=%d band=%s reason=%s",
					ev.Collection, ev.ID, ev.Type, ev.Value, ev.Score, ev.Band, ev.Reason)})
			default:
				logger.Debug("curation", "action", ev.Action, "collection", ev.Collection, "object", ev.ID,
					"type", ev.Type, "value", ev.Value, "score", ev.Score, "band", ev.Band)
			}
		},
		Logger: logger,
	}, nil
}

// curationLoop runs curation passes while serve runs: soon after start, every
// curation.interval and after each scheduled feed pull (trigger). Each pass
// takes the lease curation.LeaseName when the store hands out leases, so
// several serve processes sharing a database run it once. The curated
// collections and consumers are read from the running server and
// authenticator at each pass, so a reload (SIGHUP) applies to the next one.
type curationLoop struct {
	now      func() time.Time
	cur      *curation.Curator
	store    curation.Store
	leaser   storage.Leaser // nil: the store hands out no leases
	holder   string
	interval time.Duration
	taxii    func() taxii.Config
	authn    *auth.Authenticator
	logger   *slog.Logger
	kick     chan struct{}
	mu       sync.Mutex // one pass at a time

	passes      *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	versions    prometheus.Counter
}

func newCurationLoop(now func() time.Time, cfg *Config, store storage.Store, srv *taxii.Server, authn *auth.Authenticator, logger *slog.Logger, audit *auth.AuditLog) (*curationLoop, error) {
	cs, ok := store.(curation.Store)
	if !ok {
		return nil, errors.New("curation: this store keeps no provenance, sightings or memberships")
	}
	cur, err := newCurator(cfg, store, logger, audit)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	l := &curationLoop{
		now: now, cur: cur, store: cs, holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), rand.Uint64()),
		interval: cfg.Curation.interval(), taxii: srv.Config, authn: authn, logger: logger,
		kick: make(chan struct{}, 1),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_curation_passes_total",
			Help: "Curation passes by outcome (ok, error, skipped: another process holds the lease).",
		}, []string{"outcome"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctibroker_curation_last_success_timestamp_seconds",
			Help: "Unix time of the end of the last successful curation pass.",
		}),
		versions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctibroker_curation_new_versions_total",
			Help: "Scored versions curation passes wrote to the published collection.",
		}),
	}
	l.leaser, _ = store.(storage.Leaser)
	for _, c := range []prometheus.Collector{l.passes, l.lastSuccess, l.versions} {
		if err := srv.Registry().Register(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// trigger asks for a pass as soon as the running one (if any) ends; triggers
// while one is pending coalesce.
func (l *curationLoop) trigger() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run passes until ctx ends. The first pass waits a random delay of at most a
// tenth of the interval (and 10 s), so processes started together do not race
// for the lease.
func (l *curationLoop) run(ctx context.Context) {
	wait := jitter(min(l.interval/10, 10*time.Second))
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-l.kick:
			t.Stop()
		}
		l.pass(ctx, l.now())
		wait = l.interval + jitter(l.interval/10)
	}
}

// targets are the curated collections of the configuration in force, each
// with a tier per distinct limit of the consumers that may read it.
func (l *curationLoop) targets() (taxii.Config, []curation.Target) {
	tc := l.taxii()
	var cons []*auth.Consumer
	for _, name := range l.authn.Consumers() {
		if c, ok := l.authn.Consumer(name); ok {
			cons = append(cons, c)
		}
	}
	return tc, tc.CurationTargets(cons)
}

// pass runs one curation pass as of asOf; a configuration without curated
// collections runs nothing.
func (l *curationLoop) pass(ctx context.Context, asOf time.Time) (*curation.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tc, targets := l.targets()
	if len(targets) == 0 {
		return nil, nil
	}
	floor, err := curation.Floor(&l.cur.Weights, tc.CuratedSelections()...)
	if err != nil {
		l.passes.WithLabelValues("error").Inc()
		l.logger.Error("curation pass", "err", err)
		return nil, err
	}
	l.cur.Floor = floor
	var st *curation.Stats
	if l.leaser != nil {
		// The lease outlives a pass that overruns the interval, so a slow pass is not run twice.
		st, err = l.cur.RunLeased(ctx, l.store, l.leaser, l.holder, 2*l.interval+time.Minute, targets, asOf)
	} else {
		st, err = l.cur.Run(ctx, l.store, targets, asOf)
	}
	switch {
	case errors.Is(err, storage.ErrLeaseHeld):
		l.passes.WithLabelValues("skipped").Inc()
		l.logger.Debug("curation pass skipped: another process holds the lease")
		return nil, err
	case err != nil:
		if ctx.Err() == nil {
			l.passes.WithLabelValues("error").Inc()
			l.logger.Error("curation pass", "err", err)
		}
		return st, err
	}
	l.passes.WithLabelValues("ok").Inc()
	l.lastSuccess.Set(float64(time.Now().UnixMicro()) / 1e6)
	l.versions.Add(float64(st.NewVersions))
	members := 0
	for _, cs := range st.Collections {
		members += cs.Members
	}
	l.logger.Info("curation pass", "values", st.Values, "new_versions", st.NewVersions, "withdrawals", st.Withdrawals,
		"deferred", st.Deferred, "collections", len(st.Collections), "members", members, "took", st.Duration.Round(time.Millisecond))
	return st, nil
}

// runCurate is `ctibroker curate`: one curation pass now, under the same lease
// as serve's passes (so it never runs beside one), and its statistics. While
// serve holds the embedded store the pass runs inside serve (admin socket).
// --force lifts curation.max_new_versions_per_run for this pass: after a
// change of weights or bands that re-scores the whole pool, the operator
// decides to publish everything at once.
func (m *Main) runCurate(ctx context.Context, args []string) error {
	fs := m.flagSet("curate", "--config FILE [--force] [--as-of TIME] [--json]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	force := fs.Bool("force", false, "write every new scored version, beyond curation.max_new_versions_per_run")
	asOfFlag := fs.String("as-of", "", "score as of this time (RFC 3339 or a date); default: now")
	asJSON := fs.Bool("json", false, "print the pass's statistics as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *cfgPath == "" || len(pos) != 0 {
		fs.Usage()
		return exitError(2)
	}
	asOf, err := m.asOf(*asOfFlag)
	if err != nil {
		return err
	}
	cfg, store, err := m.openForScoring(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	cs, ok := store.(curation.Store)
	if !ok {
		return errors.New("curate: this store keeps no provenance, sightings or memberships")
	}
	audit, closeAudit, err := m.auditLog(cfg)
	if err != nil {
		return err
	}
	defer closeAudit()
	logger := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cur, err := newCurator(cfg, store, logger, audit)
	if err != nil {
		return err
	}
	cur.Force = *force
	// The consumers' limits give the tiers; their secrets are not needed.
	ac := cfg.Auth
	ac.JWT = auth.JWTConfig{}
	authn, err := auth.New(ac, auth.Options{Getenv: m.Getenv, SkipConsumerSecrets: true})
	if err != nil {
		return fmt.Errorf("curate: consumers: %w", err)
	}
	var cons []*auth.Consumer
	for _, name := range authn.Consumers() {
		if c, ok := authn.Consumer(name); ok {
			cons = append(cons, c)
		}
	}
	tc := cfg.TAXII.WithDefaults()
	targets := tc.CurationTargets(cons)
	if len(targets) == 0 {
		fmt.Fprintln(m.Stderr, "curate: the configuration has no curated collection")
		return exitError(1)
	}
	var st *curation.Stats
	if leaser, ok := store.(storage.Leaser); ok {
		host, _ := os.Hostname()
		holder := fmt.Sprintf("%s/%d/curate", host, os.Getpid())
		st, err = cur.RunLeased(ctx, cs, leaser, holder, 2*cfg.Curation.interval()+time.Minute, targets, asOf)
	} else {
		st, err = cur.Run(ctx, cs, targets, asOf)
	}
	if errors.Is(err, storage.ErrLeaseHeld) {
		fmt.Fprintln(m.Stderr, "curate: a curation pass is running (another process holds the lease); try again when it ends")
		return exitError(1)
	}
	if err != nil {
		return fmt.Errorf("curate: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		out := curateJSON{Values: st.Values, NewVersions: st.NewVersions, Withdrawals: st.Withdrawals,
			Deferred: st.Deferred, Collections: map[string]collectionJSON{}, Seconds: st.Duration.Seconds()}
		for id, c := range st.Collections {
			out.Collections[id] = collectionJSON(*c)
		}
		return enc.Encode(out)
	}
	fmt.Fprintf(m.Stdout, "curation pass as of %s: %d values, %d new versions (%d withdrawals), %d deferred, %s\n",
		asOf.Format(time.RFC3339), st.Values, st.NewVersions, st.Withdrawals, st.Deferred, st.Duration.Round(time.Millisecond))
	ids := make([]string, 0, len(st.Collections))
	for id := range st.Collections {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := st.Collections[id]
		fmt.Fprintf(m.Stdout, "  %s: %d members (%d entered, %d updated, %d left, %d returned, %d withdrawn, %d context)\n",
			id, c.Members, c.Entered, c.Updated, c.Left, c.Returned, c.Withdrawn, c.Context)
	}
	if st.Deferred > 0 {
		fmt.Fprintf(m.Stdout, "%d changed values wait for the next pass (curation.max_new_versions_per_run); --force writes them now\n", st.Deferred)
	}
	return nil
}

// curateJSON is `curate --json`'s output.
type curateJSON struct {
	Values      int                       `json:"values"`
	NewVersions int                       `json:"new_versions"`
	Withdrawals int                       `json:"withdrawals"`
	Deferred    int                       `json:"deferred"`
	Collections map[string]collectionJSON `json:"collections"`
	Seconds     float64                   `json:"seconds"`
}

// collectionJSON is one collection in curateJSON (curation.CollectionStats).
type collectionJSON struct {
	Entered   int `json:"entered"`
	Updated   int `json:"updated"`
	Left      int `json:"left"`
	Returned  int `json:"returned"`
	Withdrawn int `json:"withdrawn"`
	Context   int `json:"context"`
	Members   int `json:"members"`
}
