package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
)

// scheduler pulls each enabled feed with an interval on its schedule while serve
// runs. Each pass takes the lease "feed:NAME" when the store hands out leases, so
// several serve processes on one MongoDB database pull a feed once.
type scheduler struct {
	m      *Main
	cfg    *Config
	store  storage.Store
	pipe   *pipeline
	logger *slog.Logger
	holder string // this process's lease holder name
	// pulled, when set, is called after each successful pull (serve: a curation pass).
	pulled func()

	lastSuccess *prometheus.GaugeVec
	errors      *prometheus.CounterVec
	objects     *prometheus.CounterVec
}

func newScheduler(m *Main, cfg *Config, store storage.Store, pipe *pipeline, logger *slog.Logger, reg *prometheus.Registry) (*scheduler, error) {
	host, _ := os.Hostname()
	s := &scheduler{
		m: m, cfg: cfg, store: store, pipe: pipe, logger: logger,
		holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), rand.Uint64()),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ctibroker_feed_last_success_timestamp_seconds",
			Help: "Unix time of the last successful pull of each feed.",
		}, []string{"feed"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_feed_errors_total",
			Help: "Failed pulls of each feed.",
		}, []string{"feed"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_feed_objects_total",
			Help: "Objects each feed's pulls found, by outcome (new, changed, unchanged, revoked).",
		}, []string{"feed", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.lastSuccess, s.errors, s.objects} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range pipe.failed {
		s.errors.WithLabelValues(name).Inc()
	}
	return s, nil
}

// run starts one loop per scheduled feed and returns when ctx ends and every
// running pass has stopped.
func (s *scheduler) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, feed := range s.pipe.built {
		if feed.Config.Interval <= 0 {
			continue // pulled by `ctibroker ingest` only, or there for lookups
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, s.pipe.runner, feed)
		}()
	}
	wg.Wait()
	return nil
}

// buildFeeds builds the enabled feeds of cfg once for serve: the scheduler
// pulls those with an interval, the enricher looks values up through them
// (the same Feed, so a provider's request budget is shared). A feed that
// cannot be built is logged and left out.
func buildFeeds(m *Main, cfg *Config, ix *attack.Index, logger *slog.Logger) (built []*ingest.Feed, failed []string) {
	reg := registry(cfg.Identity.ID)
	for _, fc := range cfg.Feeds {
		if !fc.IsEnabled() {
			continue
		}
		fc.Attack = ix
		fc.Getenv = m.Getenv
		feed, err := reg.New(fc)
		if errors.Is(err, ingest.ErrUnknownProvider) {
			err = providerError(fc.Provider)
		}
		if err != nil {
			logger.Error("feed not scheduled", "feed", fc.Name, "err", err)
			failed = append(failed, fc.Name)
			continue
		}
		built = append(built, feed)
	}
	return built, failed
}

// loop pulls feed soon after start, then every interval; a random delay (at most
// a tenth of the interval, and 10 s for the first pull) keeps feeds and processes
// started together from pulling at the same instant.
func (s *scheduler) loop(ctx context.Context, runner *ingest.Runner, feed *ingest.Feed) {
	interval := feed.Config.Interval
	wait := jitter(min(interval/10, 10*time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		s.pass(ctx, runner, feed)
		wait = interval + jitter(interval/10)
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// pass runs one pull of feed under its lease.
func (s *scheduler) pass(ctx context.Context, runner *ingest.Runner, feed *ingest.Feed) {
	name := feed.Config.Name
	if l, ok := s.store.(storage.Leaser); ok {
		lease := "feed:" + name
		// The lease outlives a pass that overruns the interval, so a slow pull is not run twice.
		if err := l.AcquireLease(ctx, lease, s.holder, 2*feed.Config.Interval+time.Minute); err != nil {
			if !errors.Is(err, storage.ErrLeaseHeld) {
				s.logger.Warn("feed lease", "feed", name, "err", err)
			}
			return
		}
		defer func() {
			// an unreleased lease only delays the next pull until it expires
			if err := l.ReleaseLease(context.WithoutCancel(ctx), lease, s.holder); err != nil {
				s.logger.Warn("feed lease not released; the next pull waits for it to expire", "feed", name, "err", err)
			}
		}()
	}
	st, err := runner.Run(ctx, feed)
	if st != nil {
		s.objects.WithLabelValues(name, "new").Add(float64(st.New))
		s.objects.WithLabelValues(name, "changed").Add(float64(st.Changed))
		s.objects.WithLabelValues(name, "unchanged").Add(float64(st.Unchanged))
		s.objects.WithLabelValues(name, "revoked").Add(float64(st.Revoked))
	}
	if err != nil {
		if ctx.Err() == nil {
			s.errors.WithLabelValues(name).Inc()
			s.logger.Error("feed pull failed", "feed", name, "err", err)
		}
		return
	}
	s.lastSuccess.WithLabelValues(name).Set(float64(time.Now().Unix()))
	s.logger.Info("feed pulled", "feed", name, "stats", st.String())
	if s.pulled != nil {
		s.pulled()
	}
}

// pipeline is what serve feeds the pool with: the Runner over the store and the
// ATT&CK index, shared by the scheduled pulls and by pushes (MISP sync, TAXII).
type pipeline struct {
	cfg    *Config
	runner *ingest.Runner
	attack *attack.Index
	built  []*ingest.Feed // the enabled feeds (buildFeeds)
	failed []string       // enabled feeds that could not be built, counted as feed errors

	mu    sync.Mutex
	feeds map[string]*sync.Mutex // one push at a time per feed
}

func newPipeline(ctx context.Context, now func() time.Time, cfg *Config, store storage.Store, logger *slog.Logger) (*pipeline, error) {
	is, err := ingestStore(store)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureCollection(ctx, cfg.pool(), storage.KindStored); err != nil {
		return nil, fmt.Errorf("collection %s: %w", cfg.pool(), err)
	}
	if err := seedPool(ctx, store, cfg, now()); err != nil {
		return nil, err
	}
	ix, err := attackIndex(ctx, store, AttackCollection)
	if err != nil {
		return nil, err
	}
	return &pipeline{
		cfg:    cfg,
		runner: &ingest.Runner{Store: is, Identity: cfg.Identity.ID, Pool: cfg.pool(), Config: cfg.Indicators, Now: now, Logger: logger},
		attack: ix,
		feeds:  map[string]*sync.Mutex{},
	}, nil
}

// feedConfig returns the configured feed named name (its reliability, share and
// TLP), or a default one of provider; a feeds entry without an interval only
// describes a pushing feed and is never pulled.
func (p *pipeline) feedConfig(name, provider string) (ingest.FeedConfig, error) {
	fc := ingest.FeedConfig{Name: name, Provider: provider}
	for _, f := range p.cfg.Feeds {
		if f.Name == name {
			fc = f
			break
		}
	}
	if err := fc.Validate(); err != nil {
		return fc, err
	}
	fc.Attack = p.attack
	return fc, nil
}

// mispConverter is taxii.Deps.MISPConverter.
func (p *pipeline) mispConverter(feed string) misp.Converter {
	fc, _ := p.feedConfig(feed, misp.Provider)
	return misp.Converter{Attack: p.attack, Identity: p.cfg.Identity.ID, DefaultTLP: fc.DefaultTLP, Share: fc.ShareLevel()}
}

// push is taxii.Deps.PoolSink: it runs the pushed values through the Runner as
// one batch of the pushing feed.
func (p *pipeline) push(ctx context.Context, pp *taxii.PoolPush) error {
	fc, err := p.feedConfig(pp.Feed, pp.Provider)
	if err != nil {
		return err
	}
	fc.Collection = ""
	p.mu.Lock()
	mu := p.feeds[fc.Name]
	if mu == nil {
		mu = &sync.Mutex{}
		p.feeds[fc.Name] = mu
	}
	p.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	_, err = p.runner.Run(ctx, &ingest.Feed{Config: fc, Source: batchSource{pp.Batch}})
	return err
}
