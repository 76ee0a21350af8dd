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
	"github.com/ctibroker/ctibroker/storage"
)

// scheduler pulls each enabled feed with an interval on its schedule while serve
// runs. Each pass takes the lease "feed:NAME" when the store hands out leases, so
// several serve processes on one MongoDB database pull a feed once.
type scheduler struct {
	m      *Main
	cfg    *Config
	store  storage.Store
	logger *slog.Logger
	holder string // this process's lease holder name

	lastSuccess *prometheus.GaugeVec
	errors      *prometheus.CounterVec
	objects     *prometheus.CounterVec
}

func newScheduler(m *Main, cfg *Config, store storage.Store, logger *slog.Logger, reg *prometheus.Registry) (*scheduler, error) {
	host, _ := os.Hostname()
	s := &scheduler{
		m: m, cfg: cfg, store: store, logger: logger,
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
	return s, nil
}

// run starts one loop per scheduled feed and returns when ctx ends and every
// running pass has stopped.
func (s *scheduler) run(ctx context.Context) error {
	var feeds []ingest.FeedConfig
	for _, f := range s.cfg.Feeds {
		if f.IsEnabled() && f.Interval > 0 {
			feeds = append(feeds, f)
		}
	}
	if len(feeds) == 0 {
		return nil
	}
	is, err := ingestStore(s.store)
	if err != nil {
		return err
	}
	if err := s.store.EnsureCollection(ctx, s.cfg.pool(), storage.KindStored); err != nil {
		return fmt.Errorf("collection %s: %w", s.cfg.pool(), err)
	}
	ix, err := attackIndex(ctx, s.store, AttackCollection)
	if err != nil {
		return err
	}
	reg := registry(s.cfg.Identity.ID)
	runner := &ingest.Runner{Store: is, Identity: s.cfg.Identity.ID, Pool: s.cfg.pool(), Logger: s.logger}
	var wg sync.WaitGroup
	for _, fc := range feeds {
		fc.Attack = ix
		fc.Getenv = s.m.Getenv
		feed, err := reg.New(fc)
		if errors.Is(err, ingest.ErrUnknownProvider) {
			err = providerError(fc.Provider)
		}
		if err != nil {
			s.logger.Error("feed not scheduled", "feed", fc.Name, "err", err)
			s.errors.WithLabelValues(fc.Name).Inc()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, runner, feed)
		}()
	}
	wg.Wait()
	return nil
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
		defer l.ReleaseLease(context.WithoutCancel(ctx), lease, s.holder)
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
}
