package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := m.flagSet("serve", "--config FILE [--listen ADDR]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	listen := fs.String("listen", "", "listen address; overrides the config's listen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	logger, closeLogs, err := m.logger(cfg)
	if err != nil {
		return err
	}
	defer closeLogs()
	audit, closeAudit, err := m.auditLog(cfg)
	if err != nil {
		return err
	}
	defer closeAudit()

	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := ensureCollections(ctx, store, cfg); err != nil {
		return err
	}
	if err := m.seed(ctx, store, cfg, logger); err != nil {
		return err
	}

	// The server knows the trusted proxies, so it names the real client of a
	// request; failed logins are limited per that client.
	var srv *taxii.Server
	clientAddr := func(r *http.Request) string { return srv.ClientAddr(r) }
	authn, err := auth.New(cfg.Auth, auth.Options{Getenv: m.Getenv, Audit: audit, ClientAddr: clientAddr})
	if err != nil {
		return err
	}
	cursorKey := []byte(m.Getenv("CTIBROKER_CURSOR_KEY"))
	if len(cursorKey) > 0 && len(cursorKey) < 16 {
		return errors.New("CTIBROKER_CURSOR_KEY: want at least 16 bytes")
	}
	pipe, err := newPipeline(ctx, m.now, cfg, store, logger)
	if err != nil {
		return err
	}
	pipe.built, pipe.failed = buildFeeds(m, cfg, pipe.attack, logger)
	// On-demand enrichment: explain --enrich, and internal sightings of
	// values no feed reported, looked up within each provider's quota.
	var curLoop atomic.Pointer[curationLoop]
	en, err := newEnricher(m, pipe, logger, func() {
		if l := curLoop.Load(); l != nil {
			l.trigger()
		}
	})
	if err != nil {
		return err
	}
	m.enricher = en
	// Sightings and false-positive reports move scores: each POST that stores
	// new ones asks for a curation pass (the loop starts after the server),
	// and internal sightings of values no feed reported are looked up.
	srv, err = taxii.NewServer(cfg.TAXII, taxii.Deps{
		Store:         store,
		Auth:          authn,
		Logger:        logger,
		Audit:         audit,
		CursorKey:     cursorKey,
		Now:           m.now,
		MISPConverter: pipe.mispConverter,
		PoolSink:      pipe.push,
		OnSightings: func(ctx context.Context, s []storage.Sighting) {
			if l := curLoop.Load(); l != nil {
				l.trigger()
			}
			enrichSighted(ctx, store, en, s, logger)
		},
		SightingCollections: []string{cfg.pool(), cfg.Curation.published()},
		MISPFeed:            mispFeed(cfg, store),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.path(cfg.TLS.CertFile), cfg.path(cfg.TLS.KeyFile))
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	base := strings.TrimSuffix(cfg.TAXII.BaseURL, "/")
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	fmt.Fprintf(m.Stdout, "ctibroker %s serving TAXII 2.1 on %s (store %s)\n", version, ln.Addr(), redactURI(cfg.Store))
	fmt.Fprintf(m.Stdout, "discovery: %s/taxii2/\n", base)
	for _, c := range cfg.Auth.Consumers {
		if c.PasswordEnv != "" {
			fmt.Fprintf(m.Stdout, "authenticate as %q with HTTP Basic, password from $%s, e.g.\n  curl -u %s:\"$%s\" -H 'Accept: application/taxii+json;version=2.1' %s/taxii2/\n",
				c.Name, c.PasswordEnv, c.Name, c.PasswordEnv, base)
			break
		}
	}

	// SIGHUP reloads consumers, credentials and collections; an invalid file keeps the old config.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := m.reload(ctx, *cfgPath, cfg, store, srv, authn); err != nil {
				logger.Error("config reload failed; keeping the running config", "err", err)
				audit.Log(auth.AuditEvent{Event: auth.EventConfigRejected, Detail: err.Error()})
				continue
			}
			logger.Info("config reloaded", "file", *cfgPath)
			audit.Log(auth.AuditEvent{Event: auth.EventConfigReloaded, Detail: *cfgPath})
		}
	}()

	// Verbs that need the store while serve holds it run here, through the admin socket.
	stopAdmin, err := m.serveAdmin(ctx, cfg, store, logger)
	if err != nil {
		return err
	}
	defer stopAdmin()

	// The background loops below end with ctx; stopRun ends them too when
	// serve returns early (a push that cannot start, a listener error).
	ctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	sched, err := newScheduler(m, cfg, store, pipe, logger, srv.Registry())
	if err != nil {
		return err
	}
	// Curation passes fill the curated collections: on their interval and after each pull.
	cur, err := newCurationLoop(m.now, cfg, store, srv, authn, logger, audit)
	if err != nil {
		return err
	}
	sched.pulled = cur.trigger
	curLoop.Store(cur)
	if en != nil {
		enDone := make(chan struct{})
		go func() {
			defer close(enDone)
			_ = en.Run(ctx) // returns nil when ctx ends; outcomes are logged by the enricher
		}()
		defer func() { stopRun(); <-enDone }()
	}
	// Pushes send collections to partners on their schedule (push.go).
	waitPushes, err := m.startPushes(ctx, cfg, store, authn, logger, srv.Registry())
	if err != nil {
		return err
	}
	defer func() { stopRun(); waitPushes() }()
	curDone := make(chan struct{})
	go func() {
		defer close(curDone)
		cur.run(ctx)
	}()
	defer func() { stopRun(); <-curDone }()

	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		if err := sched.run(ctx); err != nil {
			logger.Error("feed scheduler", "err", err)
		}
	}()
	defer func() { stopRun(); <-schedDone }()

	// Status resources are kept at least status_retention; purge the expired hourly.
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := srv.PurgeStatuses(ctx); err != nil {
					logger.Warn("purging expired statuses", "err", err)
				} else if n > 0 {
					logger.Info("purged expired statuses", "count", n)
				}
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// reload re-reads the config file and swaps consumers, credentials and
// collections. Listen address, store and TLS need a restart.
func (m *Main) reload(ctx context.Context, path string, running *Config, store storage.Store, srv *taxii.Server, authn *auth.Authenticator) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if cfg.Store != running.Store || cfg.Listen != running.Listen || cfg.TLS != running.TLS {
		return errors.New("listen, store and tls change only with a restart")
	}
	if err := ensureCollections(ctx, store, cfg); err != nil {
		return err
	}
	if err := authn.Reload(cfg.Auth); err != nil {
		return err
	}
	return srv.Reload(cfg.TAXII)
}

// ensureCollections creates the runtime state of every configured collection.
func ensureCollections(ctx context.Context, store storage.Store, cfg *Config) error {
	for _, col := range cfg.TAXII.Collections {
		kind := col.Kind
		if kind == "" {
			kind = storage.KindStored
		}
		if err := store.EnsureCollection(ctx, col.ID, kind); err != nil {
			return fmt.Errorf("collection %s: %w", col.ID, err)
		}
	}
	return nil
}

func (m *Main) logger(cfg *Config) (*slog.Logger, func(), error) {
	var level slog.Level
	switch strings.ToLower(cfg.Log.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("log.level %q: want debug, info, warn or error", cfg.Log.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.Log.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(m.Stderr, opts)), func() {}, nil
	case "json":
		return slog.New(slog.NewJSONHandler(m.Stderr, opts)), func() {}, nil
	}
	return nil, nil, fmt.Errorf("log.format %q: want text or json", cfg.Log.Format)
}

func (m *Main) auditLog(cfg *Config) (*auth.AuditLog, func(), error) {
	if cfg.Log.AuditFile == "" {
		return auth.NewAuditLog(m.Stderr, nil), func() {}, nil
	}
	f, err := os.OpenFile(cfg.path(cfg.Log.AuditFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log.audit_file: %w", err)
	}
	return auth.NewAuditLog(f, nil), func() { f.Close() }, nil
}
