package recordedfuture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctibroker/ctibroker/ingest"
)

// Config is the provider-specific part of a Recorded Future feed
// (FeedConfig.Options), one risk list per feed:
//
//	feeds:
//	  - name: rf-ip-default
//	    provider: recordedfuture
//	    interval: 1h
//	    detection_threshold: 65     # Risk at or above which a value gets an indicator
//	    options:
//	      entity: ip                # ip | domain | url | hash | vulnerability
//	      list: default             # or a rule list such as recentCncServer
//	      token_env: RF_API_TOKEN
//
// fusion_path (e.g. /public/opencti/default_ip.csv) downloads a fusion file
// instead of the named list.
type Config struct {
	Entity      string        `yaml:"entity"`       // required
	List        string        `yaml:"list"`         // default "default"
	FusionPath  string        `yaml:"fusion_path"`  // a fusion file instead of list
	TokenEnv    string        `yaml:"token_env"`    // required: the variable holding the API token
	BaseURL     string        `yaml:"base_url"`     // empty: DefaultBaseURL
	Timeout     time.Duration `yaml:"timeout"`      // one download; default DefaultListTimeout
	MaxRetries  int           `yaml:"max_retries"`  // status retries; default ingest.HTTPClient's
	BodyRetries int           `yaml:"body_retries"` // downloads cut off; default DefaultBodyRetries
	BatchSize   int           `yaml:"batch_size"`   // rows per batch; default DefaultBatchSize
	SpoolDir    string        `yaml:"spool_dir"`    // where the download is spooled; empty: os.TempDir()
	MaxRelated  int           `yaml:"max_related"`  // see Options.MaxRelated
}

// Source pulls one risk list. A risk list is a full snapshot (Snapshot reports
// true): the Runner diffs each pull against the previous one and withdraws the
// values that vanished. Each pull spools the download to a temporary file while
// hashing it, so the list is parsed only once it arrived complete; the cursor is
// the list's SHA-256, HTTP validators and the UTC day. Within the day of the
// last emitted pull, a list answered 304, or whose digest equals the previous
// pull's, emits no batch and leaves the previous snapshot in force; on a new
// day the list is emitted even unchanged, so its values' provenance (last seen,
// kept per day) moves on. A list without a single row is an error (the previous snapshot stays):
// Recorded Future never publishes an empty default list, and withdrawing
// everything on a glitch would be worse than waiting for the next pull.
type Source struct {
	Client     *Client
	Entity     string
	List       string // risk list name; empty: "default"
	FusionPath string // a fusion file instead of List
	BatchSize  int
	SpoolDir   string
	Convert    Options          // Feed, Identity, TLP, Threshold, Attack, ...
	Logger     *slog.Logger     // nil: discard
	Now        func() time.Time // nil: time.Now; decides the UTC day of a pull
	// Lookups is the budget on-demand lookups spend (FeedConfig.Enrich); nil:
	// unlimited.
	Lookups *ingest.Budget

	lookupOnce   sync.Once
	lookupClient *Client // Client for lookups: a 429 is not waited for
}

var (
	_ ingest.Source         = (*Source)(nil)
	_ ingest.SnapshotSource = (*Source)(nil)
)

// Snapshot reports that each pull is the complete list.
func (s *Source) Snapshot() bool { return true }

// New builds a Source from a feed config (the registry's factory): Options
// decodes into Config; the token comes from the environment variable token_env
// names; DefaultTLP, DetectionThreshold, Attack and the feed name go to the
// converter. Errors wrap ingest.ErrConfig and name the option. cmd may set
// Convert.Identity on the result of NewSource.
func New(cfg ingest.FeedConfig) (ingest.Source, error) { return NewSource(cfg) }

// NewSource is New returning the concrete type.
func NewSource(cfg ingest.FeedConfig) (*Source, error) {
	var c Config
	if err := cfg.DecodeOptions(&c); err != nil {
		return nil, err
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("feed %q: options: %s: %s: %w", cfg.Name, field, fmt.Sprintf(format, a...), ingest.ErrConfig)
	}
	c.Entity = strings.ToLower(strings.TrimSpace(c.Entity))
	if c.Entity == "" {
		return nil, bad("entity", "required (%s)", strings.Join(Entities, ", "))
	}
	if !knownEntity(c.Entity) {
		return nil, bad("entity", "%q is not one of %s", c.Entity, strings.Join(Entities, ", "))
	}
	if c.FusionPath != "" && !strings.HasPrefix(c.FusionPath, "/") {
		return nil, bad("fusion_path", "%q does not start with /", c.FusionPath)
	}
	if c.FusionPath != "" && c.List != "" {
		return nil, bad("list", "set either list or fusion_path")
	}
	if c.Timeout < 0 || c.BatchSize < 0 {
		return nil, bad("timeout/batch_size", "negative")
	}
	token, err := cfg.Secret("token_env", c.TokenEnv)
	if err != nil {
		return nil, err
	}
	hc := &ingest.HTTPClient{Client: defaultHTTP.Client, MaxRetries: c.MaxRetries}
	s := &Source{
		Client:     &Client{BaseURL: c.BaseURL, Token: token, HTTP: hc, ListTimeout: c.Timeout, BodyRetries: c.BodyRetries},
		Entity:     c.Entity,
		List:       c.List,
		FusionPath: c.FusionPath,
		BatchSize:  c.BatchSize,
		SpoolDir:   c.SpoolDir,
		Lookups:    cfg.EnrichBudget(),
		Convert: Options{Feed: cfg.Name, TLP: cfg.DefaultTLP, Entity: c.Entity, List: c.List,
			Threshold: cfg.DetectionThreshold, MaxRelated: c.MaxRelated, Attack: cfg.Attack},
	}
	if s.FusionPath != "" {
		s.Convert.List = s.FusionPath
	} else if s.Convert.List == "" {
		s.Convert.List = "default"
	}
	if _, err := NewConverter(s.Convert); err != nil {
		return nil, bad("default_tlp", "%v", err)
	}
	return s, nil
}

// DefaultBatchSize is how many rows one batch carries when the feed sets no
// batch_size: large enough that the store commits rarely, small enough to keep
// a batch within a few tens of megabytes.
const DefaultBatchSize = 5000

// cursor is the Source's state between pulls.
type cursor struct {
	SHA256 string `json:"sha256"`
	Rows   int    `json:"rows"`
	// CVEs are the vulnerability list's CVEs, sorted: the Runner's snapshot holds
	// indicator values only, so the Source diffs CVEs itself.
	CVEs []string `json:"cves,omitempty"`
	// Day is the UTC day (2006-01-02) of the last pull that emitted the list.
	Day string `json:"day"`
	Validators
}

// ErrEmptyList is returned by Pull for a risk list without rows.
var ErrEmptyList = errors.New("recordedfuture: risk list has no rows; previous snapshot kept")

// Pull downloads the list (conditionally on the cursor's validators), and
// unless it is unchanged emits it in batches of BatchSize rows; the last batch
// carries the new cursor.
func (s *Source) Pull(ctx context.Context, cur ingest.Cursor, emit func(ingest.Batch) error) error {
	var prev cursor
	var warns []ingest.Warning
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &prev); err != nil {
			warns = append(warns, ingest.Warning{Feed: s.Convert.Feed, Record: "cursor", Field: "cursor",
				Msg: fmt.Sprintf("unreadable cursor (%v); downloading the whole list", err)})
			prev = cursor{}
		}
	}
	conv, err := NewConverter(s.Convert)
	if err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	today := now().UTC().Format(time.DateOnly)
	if prev.Day != today {
		// A new day: the list is emitted even when unchanged, so that every value
		// it holds gets its provenance record for the day (last seen moves on).
		prev.Validators, prev.SHA256 = Validators{}, ""
	}
	spool, err := os.CreateTemp(s.SpoolDir, "ctibroker-recordedfuture-*.csv")
	if err != nil {
		return fmt.Errorf("recordedfuture: spool: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	h := sha256.New()
	fill := func(r io.Reader) error { return spoolBody(spool, h, r) }
	var val Validators
	var notModified bool
	what := s.Entity + " risk list " + s.Convert.List
	if s.FusionPath != "" {
		val, notModified, err = s.Client.FusionFile(ctx, s.FusionPath, prev.Validators, fill)
	} else {
		list := s.List
		if list == "" {
			list = "default"
		}
		val, notModified, err = s.Client.RiskList(ctx, s.Entity, list, prev.Validators, fill)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ingest/recordedfuture", "list", what)
	if notModified {
		log.Info("risk list not modified (304)")
		return nil
	}
	size, _ := spool.Seek(0, io.SeekCurrent)
	next := cursor{SHA256: hex.EncodeToString(h.Sum(nil)), Validators: val, Day: today}
	if next.SHA256 == prev.SHA256 && len(warns) == 0 {
		log.Info("risk list unchanged (same digest)", "bytes", size, "sha256", next.SHA256)
		return nil // the same bytes as the last complete pull
	}
	log.Info("risk list downloaded", "bytes", size, "sha256", next.SHA256)
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("recordedfuture: spool: %w", err)
	}
	values := 0
	batch := s.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	// Parse and convert on one goroutine while the Runner stores the previous
	// batch on this one: at most two batches are in flight.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan ingest.Batch, 1)
	var rows int
	var readErr error
	go func() {
		defer close(batches)
		rows, readErr = ReadCSV(spool, conv, batch, func() error {
			objs, obs, w := conv.Flush()
			values += len(obs)
			w = append(warns, w...)
			warns = nil
			if len(objs)+len(obs)+len(w) == 0 {
				return nil
			}
			select {
			case batches <- ingest.Batch{Objects: objs, Observations: obs, Warnings: w}:
				return nil
			case <-pctx.Done():
				return pctx.Err()
			}
		})
	}()
	var emitErr error
	for b := range batches {
		if emitErr == nil {
			if emitErr = emit(b); emitErr != nil {
				cancel() // the reader stops at its next batch
			}
		}
	}
	if emitErr != nil {
		return emitErr
	}
	if readErr != nil {
		return fmt.Errorf("%s: %w", what, readErr)
	}
	if rows == 0 {
		return fmt.Errorf("%s: %w", what, ErrEmptyList)
	}
	if values == 0 && s.Entity != EntityVulnerability {
		return fmt.Errorf("%s: none of its %d rows holds a valid value; previous snapshot kept", what, rows)
	}
	next.Rows = rows
	log.Info("risk list converted", "rows", rows, "values", values)
	var last ingest.Batch
	if s.Entity == EntityVulnerability {
		next.CVEs = conv.Listed()
		for _, cve := range prev.CVEs {
			if _, found := slices.BinarySearch(next.CVEs, cve); !found {
				conv.Withdraw(cve)
			}
		}
		last.Objects, _, last.Warnings = conv.Flush()
	}
	if last.Cursor, err = json.Marshal(next); err != nil {
		return err
	}
	return emit(last)
}

// spoolBody copies a download into the spool file and the hash, starting over.
func spoolBody(f *os.File, h hash.Hash, r io.Reader) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h.Reset()
	_, err := io.Copy(io.MultiWriter(f, h), r)
	return err
}

// EntityOf returns the Connect API entity type of a value and its form for the
// lookup path: a CVE id is a vulnerability, otherwise the value is normalised
// (refanged, IPv6 compressed, hashes lower case) and its type decides. The
// error wraps ingest.ErrInvalidValue.
func EntityOf(value string) (entity, id string, err error) {
	if cve, err := ingest.NormalizeCVE(value); err == nil {
		return EntityVulnerability, cve, nil
	}
	v, err := ingest.Guess(value)
	if err != nil {
		return "", "", err
	}
	switch v.Type {
	case ingest.TypeIPv4, ingest.TypeIPv6:
		return EntityIP, v.Value, nil
	case ingest.TypeDomain:
		return EntityDomain, v.Value, nil
	case ingest.TypeURL:
		return EntityURL, v.Value, nil
	case ingest.TypeFile:
		if v.HashAlgo != ingest.HashSSDEEP {
			return EntityHash, v.Value, nil
		}
	}
	return "", "", fmt.Errorf("recordedfuture: %q (%s) has no Connect API entity: %w", value, v.Kind(), ingest.ErrInvalidValue)
}

// Enrich looks one value up in the Connect API and converts the answer: the
// batch on-demand enrichment hands to the Runner (the answer enters the pool
// like any observation). opts.Feed names the enrichment feed. Errors are
// EntityOf's and Lookup's (ErrNotFound for a value Recorded Future does not
// know).
func Enrich(ctx context.Context, c *Client, value string, opts Options) (ingest.Batch, error) {
	entity, id, err := EntityOf(value)
	if err != nil {
		return ingest.Batch{}, err
	}
	raw, err := c.Lookup(ctx, entity, id, nil)
	if err != nil {
		return ingest.Batch{}, err
	}
	opts.Entity = ""
	conv, err := NewConverter(opts)
	if err != nil {
		return ingest.Batch{}, err
	}
	conv.AddEntity(entity+" "+id, raw)
	var b ingest.Batch
	b.Objects, b.Observations, b.Warnings = conv.Flush()
	return b, nil
}
