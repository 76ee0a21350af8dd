package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/storage/bolt"
)

// openConfigStore loads the config at path and opens its store.
func (m *Main) openConfigStore(ctx context.Context, path string) (*Config, storage.Store, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	store, err := m.openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, store, nil
}

// openStore opens cfg's store, or hands out the running server's store when this
// verb runs inside serve through the admin socket.
func (m *Main) openStore(ctx context.Context, cfg *Config) (storage.Store, error) {
	if m.shared != nil {
		return nopClose{m.shared}, nil
	}
	return openStore(ctx, cfg.Store)
}

// nopClose keeps a verb run through the admin socket from closing serve's store.
type nopClose struct{ storage.Store }

func (nopClose) Close() error { return nil }

// unwrap returns the backend behind a nopClose, for optional interfaces.
func unwrap(s storage.Store) storage.Store {
	if n, ok := s.(nopClose); ok {
		return n.Store
	}
	return s
}

// createOutput opens path for writing ("-" is stdout), creating it 0600.
func (m *Main) createOutput(path string) (io.Writer, func() error, error) {
	if path == "-" {
		return m.Stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(m.path(path), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, func() error {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

func (m *Main) runBackup(ctx context.Context, args []string) error {
	fs := m.flagSet("backup", "--config FILE DEST|-")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 1 {
		fs.Usage()
		return exitError(2)
	}
	_, store, err := m.openConfigStore(ctx, m.path(*cfgPath))
	if err != nil {
		return err
	}
	defer store.Close()
	b, ok := unwrap(store).(storage.Backuper)
	if !ok {
		return errors.New("backup: this store cannot write backups")
	}
	w, done, err := m.createOutput(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := b.Backup(ctx, w); err != nil {
		done()
		return fmt.Errorf("backup: %w", err)
	}
	if err := done(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if fs.Arg(0) != "-" {
		fmt.Fprintf(m.Stderr, "backup written to %s\n", fs.Arg(0))
	}
	return nil
}

func (m *Main) runRestore(_ context.Context, args []string) error {
	fs := m.flagSet("restore", "--config FILE SRC|-")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 1 {
		fs.Usage()
		return exitError(2)
	}
	if m.shared != nil {
		return errors.New("restore: stop serve first: a running server's store cannot be replaced under it")
	}
	cfg, err := loadConfig(m.path(*cfgPath))
	if err != nil {
		return err
	}
	dir, ok := strings.CutPrefix(cfg.Store, "embedded:")
	if !ok {
		return errors.New("restore: only the embedded store restores from a ctibroker backup; restore MongoDB with mongorestore")
	}
	var src io.Reader = m.Stdin
	if fs.Arg(0) != "-" {
		f, err := os.Open(m.path(fs.Arg(0)))
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer f.Close()
		src = f
	}
	if err := bolt.Restore(src, m.path(dir)); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "store %s restored from %s\n", dir, fs.Arg(0))
	return nil
}

func (m *Main) runExport(ctx context.Context, args []string) error {
	fs := m.flagSet("export", "--config FILE --collection ID [--output FILE]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	coll := fs.String("collection", "", "the collection to export (every version of every object)")
	out := fs.String("output", "-", "where to write the STIX bundle; - is stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *coll == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError(2)
	}
	_, store, err := m.openConfigStore(ctx, m.path(*cfgPath))
	if err != nil {
		return err
	}
	defer store.Close()
	w, done, err := m.createOutput(*out)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := storage.ExportBundle(ctx, store, *coll, w); err != nil {
		done()
		return err
	}
	return done()
}

func (m *Main) runStoreCheck(ctx context.Context, args []string) error {
	fs := m.flagSet("store check", "--config FILE [--repair]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	repair := fs.Bool("repair", false, "fix the counters that differ")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError(2)
	}
	_, store, err := m.openConfigStore(ctx, m.path(*cfgPath))
	if err != nil {
		return err
	}
	defer store.Close()
	c, ok := unwrap(store).(storage.Checker)
	if !ok {
		return errors.New("store check: this store keeps no advisory counters to check")
	}
	report, err := c.Check(ctx, *repair)
	if err != nil {
		return fmt.Errorf("store check: %w", err)
	}
	for _, line := range report {
		fmt.Fprintln(m.Stdout, line)
	}
	switch {
	case len(report) == 0:
		fmt.Fprintln(m.Stdout, "store check: ok")
	case *repair:
		fmt.Fprintf(m.Stdout, "store check: %d differences repaired\n", len(report))
	default:
		fmt.Fprintf(m.Stdout, "store check: %d differences; run with --repair to fix them\n", len(report))
		return exitError(1)
	}
	return nil
}

// path resolves a relative path against the directory the command was given in
// (which differs from the process's when a verb runs inside serve).
func (m *Main) path(p string) string {
	if m.Dir == "" || p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(m.Dir, p)
}

// paths resolves each of ps with path.
func (m *Main) paths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = m.path(p)
	}
	return out
}
