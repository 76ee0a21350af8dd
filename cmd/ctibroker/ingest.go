package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/attack"
	"github.com/ctibroker/ctibroker/ingest/maltiverse"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/ingest/otx"
	"github.com/ctibroker/ctibroker/ingest/recordedfuture"
	"github.com/ctibroker/ctibroker/ingest/stixfeed"
	"github.com/ctibroker/ctibroker/ingest/virustotal"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
)

// AttackCollection is the stored collection `attack import` loads ATT&CK into by
// default; import, ingest and serve build their ATT&CK index from it.
const AttackCollection = "attack"

// registry returns the ingest providers of this build, one line per provider.
// identity is the instance identity: the created_by_ref of the context objects
// the providers author.
func registry(identity string) *ingest.Registry {
	reg := ingest.NewRegistry()
	reg.Identity = identity
	for _, r := range []struct {
		name string
		f    ingest.Factory
	}{
		{otx.Provider, func(cfg ingest.FeedConfig) (ingest.Source, error) {
			s, err := otx.NewSource(cfg)
			if err != nil {
				return nil, err
			}
			s.Converter.Identity = identity
			return s, nil
		}},
		{stixfeed.Provider, stixfeed.New},
		{misp.Provider, func(cfg ingest.FeedConfig) (ingest.Source, error) {
			s, err := misp.NewSource(cfg)
			if err != nil {
				return nil, err
			}
			s.Converter.Identity = identity
			return s, nil
		}},
		{maltiverse.Provider, func(cfg ingest.FeedConfig) (ingest.Source, error) {
			s, err := maltiverse.NewSource(cfg)
			if err != nil {
				return nil, err
			}
			s.Convert.Identity = identity
			return s, nil
		}},
		{virustotal.Provider, func(cfg ingest.FeedConfig) (ingest.Source, error) {
			s, err := virustotal.NewSource(cfg)
			if err != nil {
				return nil, err
			}
			s.Convert.Identity = identity
			return s, nil
		}},
		{recordedfuture.Provider, func(cfg ingest.FeedConfig) (ingest.Source, error) {
			s, err := recordedfuture.NewSource(cfg)
			if err != nil {
				return nil, err
			}
			s.Convert.Identity = identity
			return s, nil
		}},
	} {
		if err := reg.Register(r.name, r.f); err != nil {
			panic(err) // a name registered twice is a programming error
		}
	}
	return reg
}

// providerError says why name is not a provider of this build.
func providerError(name string) error {
	return fmt.Errorf("provider %q: not available in this build (it has %s)", name, strings.Join(registry("").Names(), ", "))
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// defaultIdentity is the identity convert writes as created_by_ref when no
// config names the instance's.
var defaultIdentity = Identity{Name: "ctibroker", ID: stix.DeterministicID("identity", uuid.MustParse(ingest.Namespace), "ctibroker")}

// fileConverter converts one input file of a provider into b. now is the
// reference time for expirations (zero: not checked).
type fileConverter func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error

func converterFor(provider string) (fileConverter, error) {
	open := func(path string, fn func(io.Reader) error) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := fn(f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	// clockFn is the Now of the converters that take a function: nil (their own
	// default, from the data) until the clock is known.
	clockFn := func(now time.Time) func() time.Time {
		if now.IsZero() {
			return nil
		}
		return func() time.Time { return now }
	}
	// convertFile adapts the ConvertFile of the providers that return objects,
	// observations and warnings.
	convertFile := func(r io.Reader, b *ingest.Batch, conv func(io.Reader) ([]stix.Object, []ingest.Observation, []ingest.Warning, error)) error {
		objs, obs, warns, err := conv(r)
		if err != nil {
			return err
		}
		b.Objects = append(b.Objects, objs...)
		b.Observations = append(b.Observations, obs...)
		b.Warnings = append(b.Warnings, warns...)
		return nil
	}
	switch provider {
	case otx.Provider:
		return func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error {
			return open(path, func(r io.Reader) error {
				_, err := (&otx.Converter{Attack: ix, Identity: identity, DefaultTLP: tlp, Now: now}).Convert(r, b)
				return err
			})
		}, nil
	case stixfeed.Provider:
		return func(path string, _ *attack.Index, tlp, _ string, now time.Time, b *ingest.Batch) error {
			conv := &stixfeed.Converter{Now: now, DefaultTLP: tlp}
			if err := stixfeed.ReadFile(path, conv, stix.Limits{}, b, 0, nil); err != nil {
				return err
			}
			conv.Relate(b) // the file is one batch: its whole graph gives the context
			return nil
		}, nil
	case misp.Provider:
		return func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error {
			return open(path, func(r io.Reader) error {
				_, err := (&misp.Converter{Attack: ix, Identity: identity, DefaultTLP: tlp, Now: now}).Convert(r, b)
				return err
			})
		}, nil
	case maltiverse.Provider:
		return func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error {
			return open(path, func(r io.Reader) error {
				return convertFile(r, b, func(r io.Reader) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
					return maltiverse.ConvertFile(r, maltiverse.Options{Feed: provider, Identity: identity, TLP: tlp, Attack: ix, Now: clockFn(now)})
				})
			})
		}, nil
	case virustotal.Provider:
		return func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error {
			return open(path, func(r io.Reader) error {
				return convertFile(r, b, func(r io.Reader) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
					return virustotal.ConvertFile(r, virustotal.Options{Feed: provider, Identity: identity, TLP: tlp, Attack: ix, Now: clockFn(now)})
				})
			})
		}, nil
	case recordedfuture.Provider:
		return func(path string, ix *attack.Index, tlp, identity string, now time.Time, b *ingest.Batch) error {
			return open(path, func(r io.Reader) error {
				return convertFile(r, b, func(r io.Reader) ([]stix.Object, []ingest.Observation, []ingest.Warning, error) {
					return recordedfuture.ConvertFile(r, recordedfuture.Options{Feed: provider, Identity: identity, TLP: tlp, Attack: ix, Now: clockFn(now)})
				})
			})
		}, nil
	}
	return nil, providerError(provider)
}

// convertFiles converts files with conv. The clock is taken from the data: the
// latest modified/created/seen time in it, used as the reference time for
// expirations and as the created time of the objects ctibroker authors; now
// overrides it when not zero. It returns one batch per file, with warnings named
// after the provider.
func convertFiles(conv fileConverter, provider string, files []string, ix *attack.Index, tlp, identity string, now time.Time) ([]ingest.Batch, time.Time, error) {
	clock := now
	if clock.IsZero() {
		for _, f := range files {
			var b ingest.Batch
			if err := conv(f, ix, tlp, identity, time.Time{}, &b); err != nil {
				return nil, time.Time{}, err
			}
			if t := dataClock(&b); t.After(clock) {
				clock = t
			}
		}
	}
	out := make([]ingest.Batch, 0, len(files))
	for _, f := range files {
		var b ingest.Batch
		if err := conv(f, ix, tlp, identity, clock, &b); err != nil {
			return nil, time.Time{}, err
		}
		for i := range b.Warnings {
			b.Warnings[i].Feed = provider
		}
		out = append(out, b)
	}
	return out, clock, nil
}

// dataClock is the latest time in a batch.
func dataClock(b *ingest.Batch) time.Time {
	var t time.Time
	for _, o := range b.Objects {
		c := o.Base()
		for _, ts := range []*stix.Timestamp{c.Created, c.Modified} {
			if ts != nil && ts.After(t) {
				t = ts.Time
			}
		}
	}
	for _, o := range b.Observations {
		if o.Seen.After(t) {
			t = o.Seen
		}
	}
	return t.UTC()
}

// authored returns what the Runner authors in the pool for the batches'
// observations (ingest.Author: the same ids and bytes, created at clock): per
// value its SCO, and for a detection-worthy value its indicator, based-on and
// indicates relationships and the context SDOs they point at.
func authored(batches []ingest.Batch, provider string, ix *attack.Index, identity string, clock time.Time) ([]stix.Object, []ingest.Warning, error) {
	var obs []ingest.Observation
	for _, b := range batches {
		obs = append(obs, b.Observations...)
	}
	cfg := ingest.FeedConfig{Name: provider, Provider: provider, Attack: ix}
	raws, warns, err := ingest.Author(cfg, identity, clock, obs)
	if err != nil {
		return nil, nil, err
	}
	out := make([]stix.Object, len(raws))
	for i := range raws {
		out[i] = &raws[i]
	}
	return out, warns, nil
}

// identityObject is the instance identity as a STIX object.
func identityObject(id Identity) *stix.Identity {
	t := stix.Timestamp{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	t2 := t
	return &stix.Identity{Common: stix.Common{Type: "identity", SpecVersion: stix.SpecVersion, ID: id.ID, Created: &t, Modified: &t2},
		Name: id.Name, IdentityClass: "system"}
}

// writeBundle writes objs as one bundle, deterministically: objects marshalled,
// de-duplicated by id (of two versions the newer modified wins, then the earlier
// created, then the smaller bytes), sorted by id, one per line; the bundle id is UUIDv5 under
// ingest.Namespace over the SHA-256 of the objects' bytes.
func writeBundle(w io.Writer, objs []stix.Object) (int, error) {
	type entry struct {
		id                string
		modified, created string
		raw               []byte
	}
	// better reports whether a should be kept over b, two versions of one object:
	// the newer modified, then the earlier created, then the smaller bytes.
	better := func(a, b entry) bool {
		if a.modified != b.modified {
			return a.modified > b.modified
		}
		if a.created != b.created {
			return a.created < b.created
		}
		return bytes.Compare(a.raw, b.raw) < 0
	}
	byID := map[string]entry{}
	for _, o := range objs {
		var raw []byte
		if r, ok := o.(*stix.RawObject); ok {
			raw = r.JSON // received objects go out as received, not re-encoded
		} else {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // "&" stays "&", as in the pool's hand-written objects
			if err := enc.Encode(o); err != nil {
				return 0, fmt.Errorf("marshal %s: %w", o.Base().ID, err)
			}
			raw = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		}
		e := entry{id: o.Base().ID, raw: raw}
		if t := o.Base().Created; t != nil {
			e.created = t.String()
		}
		if t := o.Base().Modified; t != nil {
			e.modified = t.String()
		}
		if old, ok := byID[e.id]; ok && !better(e, old) {
			continue
		}
		byID[e.id] = e
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write(byID[id].raw)
		h.Write([]byte{'\n'})
	}
	bundleID := stix.DeterministicID("bundle", uuid.MustParse(ingest.Namespace), fmt.Sprintf("%x", h.Sum(nil)))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"type":"bundle","id":%q,"objects":[`, bundleID)
	for i, id := range ids {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n")
		buf.Write(byID[id].raw)
	}
	buf.WriteString("\n]}\n")
	_, err := w.Write(buf.Bytes())
	return len(ids), err
}

func (m *Main) warn(ws []ingest.Warning) {
	for _, w := range ws {
		fmt.Fprintln(m.Stderr, "warning:", w.String())
	}
}

func (m *Main) runConvert(ctx context.Context, args []string) error {
	fs := m.flagSet("convert", "--provider {otx,maltiverse,virustotal,recordedfuture,misp,stix} [--attack FILE]... [--config FILE] [--tlp LEVEL] [--now TIME] FILE...")
	provider := fs.String("provider", "", "the input's provider: otx, maltiverse, virustotal, recordedfuture, misp or stix")
	cfgPath := fs.String("config", "", "configuration file: the instance identity for created_by_ref (default: a fixed ctibroker identity)")
	tlp := fs.String("tlp", "", "TLP 2.0 level for input that names none: clear, green, amber, amber+strict, red")
	nowFlag := fs.String("now", "", "reference time (RFC 3339) for expirations and authored objects; default: the latest time in the input")
	var attackFiles stringList
	fs.Var(&attackFiles, "attack", "ATT&CK STIX bundle (gzip or JSON) to resolve ATT&CK ids and names; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *provider == "" || fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	conv, err := converterFor(*provider)
	if err != nil {
		return err
	}
	id := defaultIdentity
	if *cfgPath != "" {
		cfg, err := loadConfig(m.path(*cfgPath))
		if err != nil {
			return err
		}
		id = cfg.Identity
	}
	level, err := tlpFlag(*tlp)
	if err != nil {
		return err
	}
	var now time.Time
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return fmt.Errorf("--now %q: want an RFC 3339 time", *nowFlag)
		}
	}
	var ix *attack.Index
	if len(attackFiles) > 0 {
		if ix, err = attack.Load(attackFiles...); err != nil {
			return err
		}
	}
	batches, clock, err := convertFiles(conv, *provider, m.paths(fs.Args()), ix, level, id.ID, now)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if clock.IsZero() {
		fmt.Fprintln(m.Stderr, "warning: the input holds no time; authored objects get 1970-01-01 (set --now)")
		clock = time.Unix(0, 0).UTC()
	}
	var objs []stix.Object
	for _, b := range batches {
		m.warn(b.Warnings)
		objs = append(objs, b.Objects...)
	}
	au, warns, err := authored(batches, *provider, ix, id.ID, clock)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	m.warn(warns)
	objs = append(objs, au...)
	objs = append(objs, identityObject(id))
	n, err := writeBundle(m.Stdout, objs)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "convert: %d objects from %d files\n", n, fs.NArg())
	return nil
}

// tlpFlag checks a --tlp value and returns it in FeedConfig spelling.
func tlpFlag(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	c := ingest.FeedConfig{Name: "flag", Provider: "flag", DefaultTLP: s}
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("--tlp %q: want clear, green, amber, amber+strict or red", s)
	}
	return c.DefaultTLP, nil
}

// openForIngest loads the config, opens the store and makes sure the pool and
// the configured collections exist.
func (m *Main) openForIngest(ctx context.Context, path string) (*Config, storage.Store, error) {
	cfg, store, err := m.openConfigStore(ctx, m.path(path))
	if err != nil {
		return nil, nil, err
	}
	if err := store.EnsureCollection(ctx, cfg.pool(), storage.KindStored); err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("collection %s: %w", cfg.pool(), err)
	}
	if err := ensureCollections(ctx, store, cfg); err != nil {
		store.Close()
		return nil, nil, err
	}
	return cfg, store, nil
}

// ingestStore is what the Runner needs; both backends have it.
func ingestStore(s storage.Store) (ingest.Store, error) {
	is, ok := unwrap(s).(ingest.Store) // a verb run through the admin socket gets serve's store in a nopClose
	if !ok {
		return nil, errors.New("this store keeps no feed state or provenance")
	}
	return is, nil
}

// attackIndex builds the ATT&CK index from the objects `attack import` stored in
// coll, streaming them as one bundle into attack.Index.Add. It returns nil when
// the collection does not exist or is empty.
func attackIndex(ctx context.Context, store storage.ObjectReader, coll string) (*attack.Index, error) {
	first, err := store.QueryObjects(ctx, coll, storage.Filter{Limit: 1})
	if errors.Is(err, storage.ErrNotFound) || err == nil && len(first.Records) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ATT&CK index: %w", err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, `{"type":"bundle","objects":[`)
		f := storage.Filter{Limit: 5000}
		n := 0
		for err == nil {
			var page *storage.Page
			if page, err = store.QueryObjects(ctx, coll, f); err != nil {
				break
			}
			for _, r := range page.Records {
				if n > 0 {
					pw.Write([]byte{','})
				}
				n++
				if _, err = pw.Write(r.JSON); err != nil {
					break
				}
			}
			if !page.More || page.Next == "" {
				break
			}
			f.Next = page.Next
		}
		if err == nil {
			_, err = io.WriteString(pw, "]}")
		}
		pw.CloseWithError(err)
	}()
	ix := attack.New()
	err = ix.Add(pr)
	pr.Close()
	if err != nil {
		return nil, fmt.Errorf("ATT&CK index from collection %s: %w", coll, err)
	}
	return ix, nil
}

func (m *Main) runner(store ingest.Store, cfg *Config) *ingest.Runner {
	return &ingest.Runner{Store: store, Identity: cfg.Identity.ID, Pool: cfg.pool(), Config: cfg.Indicators, Now: m.now,
		Logger: slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// batchSource emits fixed batches (converted import files).
type batchSource []ingest.Batch

func (s batchSource) Pull(ctx context.Context, _ ingest.Cursor, emit func(ingest.Batch) error) error {
	for _, b := range s {
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

func (m *Main) runImport(ctx context.Context, args []string) error {
	fs := m.flagSet("import", "--config FILE --provider NAME [--collection ID] FILE...")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	provider := fs.String("provider", "", "the input's provider: otx, maltiverse, virustotal, recordedfuture, misp or stix")
	coll := fs.String("collection", "", "also place the resulting objects in this stored collection")
	tlp := fs.String("tlp", "", "TLP 2.0 level for input that names none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *provider == "" || fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	conv, err := converterFor(*provider)
	if err != nil {
		return err
	}
	level, err := tlpFlag(*tlp)
	if err != nil {
		return err
	}
	cfg, store, err := m.openForIngest(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if *coll != "" {
		info, err := store.CollectionInfo(ctx, *coll)
		if err != nil {
			return fmt.Errorf("--collection %s: %w", *coll, err)
		}
		if info.Kind != storage.KindStored {
			return fmt.Errorf("--collection %s: a %s collection; import into a stored one", *coll, info.Kind)
		}
	}
	ix, err := attackIndex(ctx, store, AttackCollection)
	if err != nil {
		return err
	}
	batches, _, err := convertFiles(conv, *provider, m.paths(fs.Args()), ix, level, cfg.Identity.ID, m.now())
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	is, err := ingestStore(store)
	if err != nil {
		return err
	}
	fc := ingest.FeedConfig{Name: "import-" + *provider, Provider: *provider, DefaultTLP: level, Attack: ix}
	if *provider == stixfeed.Provider {
		fc.Collection = *coll // objects received as STIX stay in the collection they arrive in
	}
	if err := fc.Validate(); err != nil {
		return err
	}
	if err := seedPool(ctx, store, cfg, m.now()); err != nil {
		return err
	}
	st, err := m.runner(is, cfg).Run(ctx, &ingest.Feed{Config: fc, Source: batchSource(batches)})
	if st != nil {
		fmt.Fprintln(m.Stdout, st.String())
	}
	if err != nil {
		return err
	}
	if *coll == "" {
		return nil
	}
	n, err := placeInCollection(ctx, store, cfg.pool(), *coll, batches, fc.Collection == *coll, *provider, ix)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "collection %s: %d objects added\n", *coll, n)
	return nil
}

// placeInCollection copies the last stored version of every object an import
// produced (the batches' objects, unless already there, and what the Runner
// authored for their observations) from the pool into coll, byte-exact.
func placeInCollection(ctx context.Context, store storage.Store, pool, coll string, batches []ingest.Batch, objectsThere bool, provider string, ix *attack.Index) (int, error) {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, b := range batches {
		if !objectsThere {
			for _, o := range b.Objects {
				add(o.Base().ID)
			}
		}
	}
	au, _, err := authored(batches, provider, ix, "", time.Unix(0, 0))
	if err != nil {
		return 0, err
	}
	for _, o := range au {
		add(o.Base().ID)
	}
	added := 0
	const chunk = 500
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		page, err := store.QueryObjects(ctx, pool, storage.Filter{IDs: part, Limit: len(part)})
		if err != nil {
			return added, fmt.Errorf("read pool: %w", err)
		}
		objs := make([]stix.RawObject, 0, len(page.Records))
		for _, r := range page.Records {
			o, err := stix.ParseRaw(r.JSON)
			if err != nil {
				return added, fmt.Errorf("stored %s: %w", r.ID, err)
			}
			objs = append(objs, *o)
		}
		if len(objs) == 0 {
			continue
		}
		res, err := store.PutObjects(ctx, coll, objs)
		if err != nil {
			return added, fmt.Errorf("collection %s: %w", coll, err)
		}
		added += res.Added
	}
	return added, nil
}

func (m *Main) runIngest(ctx context.Context, args []string) error {
	fs := m.flagSet("ingest", "--config FILE [--feed NAME]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	only := fs.String("feed", "", "run only this feed (even when disabled)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	cfg, store, err := m.openForIngest(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer store.Close()
	if *only != "" {
		found := false
		for _, f := range cfg.Feeds {
			found = found || f.Name == *only
		}
		if !found {
			return fmt.Errorf("--feed %q: no such feed in %s", *only, *cfgPath)
		}
	}
	is, err := ingestStore(store)
	if err != nil {
		return err
	}
	ix, err := attackIndex(ctx, store, AttackCollection)
	if err != nil {
		return err
	}
	if err := seedPool(ctx, store, cfg, m.now()); err != nil {
		return err
	}
	reg := registry(cfg.Identity.ID)
	r := m.runner(is, cfg)
	failed := 0
	ran := 0
	for _, fc := range cfg.Feeds {
		if *only != "" && fc.Name != *only || *only == "" && !fc.IsEnabled() {
			continue
		}
		fc.Attack = ix
		fc.Getenv = m.Getenv
		feed, err := reg.New(fc)
		if errors.Is(err, ingest.ErrUnknownProvider) {
			err = fmt.Errorf("feed %q: %w", fc.Name, providerError(fc.Provider))
		}
		if err != nil {
			fmt.Fprintln(m.Stderr, "error:", err)
			failed++
			continue
		}
		ran++
		st, err := r.Run(ctx, feed)
		if st != nil {
			fmt.Fprintln(m.Stdout, st.String())
		}
		if err != nil {
			fmt.Fprintln(m.Stderr, "error:", err)
			failed++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if ran == 0 && failed == 0 {
		fmt.Fprintln(m.Stdout, "no enabled feeds")
	}
	if failed > 0 {
		return exitError(1)
	}
	return nil
}

func (m *Main) runAttackImport(ctx context.Context, args []string) error {
	fs := m.flagSet("attack import", "--config FILE [--collection ID] FILE...")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	coll := fs.String("collection", AttackCollection, "stored collection that receives the ATT&CK objects")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	cfg, store, err := m.openConfigStore(ctx, m.path(*cfgPath))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.EnsureCollection(ctx, *coll, storage.KindStored); err != nil {
		return fmt.Errorf("collection %s: %w", *coll, err)
	}
	res, err := attack.Import(ctx, store, *coll, m.paths(fs.Args())...)
	if err != nil {
		return err
	}
	// The index must build from what was stored: a check that ids resolve.
	ix, err := attackIndex(ctx, store, *coll)
	if err != nil {
		return err
	}
	n := 0
	if ix != nil {
		n = ix.Len()
	}
	fmt.Fprintf(m.Stdout, "attack import: %d objects read, %d added, %d already stored; collection %s indexes %d ATT&CK objects\n",
		res.Objects, res.Added, res.Existing, *coll, n)
	// A newer release revokes techniques: relationships ctibroker authored to them
	// are re-pointed at their replacements.
	if ix != nil {
		if err := store.EnsureCollection(ctx, cfg.pool(), storage.KindStored); err != nil {
			return fmt.Errorf("collection %s: %w", cfg.pool(), err)
		}
		rp, err := ingest.RepointAttack(ctx, store, cfg.pool(), ix, cfg.Identity.ID, m.now())
		if err != nil {
			return fmt.Errorf("attack import: re-pointing relationships: %w", err)
		}
		if rp.Repointed > 0 {
			fmt.Fprintf(m.Stdout, "attack import: %d relationships re-pointed to replacements of revoked ATT&CK objects\n", rp.Repointed)
		}
	}
	fmt.Fprintln(m.Stdout, attack.Notice)
	return nil
}
