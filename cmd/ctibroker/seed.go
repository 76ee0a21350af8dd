package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// seed loads each configured seed file into its stored collection while that
// collection is empty, so the first start serves sample data and later starts
// leave the collection alone. Objects with validation errors are skipped and logged.
func (m *Main) seed(ctx context.Context, store storage.Store, cfg *Config, logger *slog.Logger) error {
	v := newValidator(true)
	for _, s := range cfg.Seed {
		info, err := store.CollectionInfo(ctx, s.Collection)
		if err != nil {
			return fmt.Errorf("seed %s: %w", s.File, err)
		}
		if info.Count > 0 {
			continue
		}
		objs, skipped, err := readObjects(cfg.path(s.File), v)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		for _, f := range skipped {
			logger.Warn("seed: object skipped", "file", s.File, "finding", stix.FormatFinding(f))
		}
		res, err := store.PutObjects(ctx, s.Collection, objs)
		if err != nil {
			return fmt.Errorf("seed %s: %w", s.File, err)
		}
		logger.Info("seeded collection", "collection", s.Collection, "file", s.File, "added", res.Added)
	}
	return nil
}

// readObjects streams a bundle, envelope or object file and returns its objects
// that carry no error finding, and the error findings of those it left out.
func readObjects(path string, v *stix.Validator) ([]stix.RawObject, []stix.Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	d := stix.NewDecoder(f, v.Limits)
	var objs []stix.RawObject
	var bad []stix.Finding
	for {
		o, err := d.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		var errs []stix.Finding
		for _, fd := range v.ValidateObject(o) {
			if fd.Severity == stix.SeverityError {
				errs = append(errs, fd)
			}
		}
		if len(errs) > 0 {
			bad = append(bad, errs...)
			continue
		}
		objs = append(objs, *o)
	}
	return objs, bad, nil
}

// seedPool puts the objects every curated graph refers to into the pool: the
// instance identity (created_by_ref of everything ctibroker authors; a new
// version when the configured name changed) and the
// TLP 2.0 marking definitions (the markings of authored indicators), so
// curation can hand consumers a self-contained graph. Idempotent: versions
// already stored are left alone.
func seedPool(ctx context.Context, store storage.Store, cfg *Config, now time.Time) error {
	idn := identityObject(cfg.Identity)
	// A renamed instance gets a new version of its identity (same created,
	// modified now), so consumers see the new name.
	if page, err := store.GetObject(ctx, cfg.pool(), idn.ID, storage.Filter{}); err == nil && len(page.Records) > 0 {
		var cur struct {
			Name     string         `json:"name"`
			Modified stix.Timestamp `json:"modified"`
		}
		if err := json.Unmarshal(page.Records[len(page.Records)-1].JSON, &cur); err == nil && cur.Name != idn.Name {
			m := stix.NewTimestamp(now)
			if !m.After(cur.Modified.Time) {
				m = stix.NewTimestamp(cur.Modified.Add(time.Millisecond))
			}
			idn.Modified = &m
		}
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("pool %s: %w", cfg.pool(), err)
	}
	objs := []stix.Object{idn}
	for _, md := range stix.TLPMarkingDefinitions() {
		objs = append(objs, md)
	}
	raws := make([]stix.RawObject, 0, len(objs))
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return fmt.Errorf("pool: %w", err)
		}
		r, err := stix.ParseRaw(b)
		if err != nil {
			return fmt.Errorf("pool: %w", err)
		}
		raws = append(raws, *r)
	}
	if _, err := store.PutObjects(ctx, cfg.pool(), raws); err != nil {
		return fmt.Errorf("pool %s: %w", cfg.pool(), err)
	}
	return nil
}
