package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ctibroker/ctibroker/operate/feedquality"
	"github.com/ctibroker/ctibroker/storage"
)

// feedList collects a repeatable --feed flag.
type feedList []string

func (f *feedList) String() string     { return fmt.Sprint(*f) }
func (f *feedList) Set(s string) error { *f = append(*f, s); return nil }

// runFeedsReport is `ctibroker feeds report`: which feed earns its money, from
// the provenance history and the internal sightings (operate/feedquality).
func (m *Main) runFeedsReport(ctx context.Context, args []string) error {
	fs := m.flagSet("feeds report", "--config FILE [--feed NAME]... [--window 720h] [--as-of TIME] [--json]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	var feeds feedList
	fs.Var(&feeds, "feed", "report this feed (repeatable); default: every feed that reported in the window")
	window := fs.Duration("window", 30*24*time.Hour, "how far back from --as-of (whole UTC days); 0: the whole history")
	asOfFlag := fs.String("as-of", "", "the report's end (RFC 3339 or a date); default: now")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *cfgPath == "" || len(pos) != 0 || *window < 0 {
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
	prov, ok := unwrap(store).(storage.ProvenanceStore) // inside serve the store comes wrapped
	if !ok {
		return errors.New("feeds report: this store keeps no provenance")
	}
	allow, err := cfg.Scoring.Warninglists.Build()
	if err != nil {
		return fmt.Errorf("scoring.%w", err)
	}
	sum, err := feedquality.Report(ctx, prov, feeds, asOf, *window, feedquality.WithAllowList(allow))
	if err != nil {
		return fmt.Errorf("feeds report: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(sum)
	}
	return sum.WriteText(m.Stdout)
}
