package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibroker/ctibroker/ingest"
	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/ingest/stixfeed"
	"github.com/ctibroker/ctibroker/scoring/curation"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// PushConfig is one entry of the `push:` list: a local collection sent, as one
// configured consumer sees it, to a partner's TAXII 2.1 collection or to a
// MISP instance, on a schedule while serve runs and on demand with
// `ctibroker push`.
//
//	push:
//	  - name: partner-taxii
//	    collection: partner-net            # a configured collection: id or alias, stored or curated
//	    as: partner                        # a configured consumer with a read grant on it
//	    to: taxii
//	    url: https://partner.example/api1/ # the partner's API root
//	    collection_id: 91a7b528-80eb-42ed-a74d-c6fbd5a26116
//	    username_env: PARTNER_TAXII_USER   # HTTP Basic, with password_env
//	    password_env: PARTNER_TAXII_PASSWORD
//	    # token_env: PARTNER_TAXII_TOKEN   # or a bearer token
//	    interval: 1h
//	  - name: partner-misp
//	    collection: partner-net
//	    as: partner
//	    to: misp
//	    url: https://misp.partner.example  # the MISP base URL
//	    key_env: PARTNER_MISP_KEY          # the MISP automation key (Authorization header)
//	    mode: events                       # events (default) or stix
//	    interval: 1h
//
// The consumer decides what leaves: a curated collection is read in the
// consumer's tier (its max_share and max_tlp, as the consumer polls it), and
// objects marked above its max_tlp are never sent. Credentials come only from
// the environment and are never logged. A push without interval runs only
// with `ctibroker push`.
//
// to: taxii sends the object versions added since the last acknowledged one
// (stixfeed.Pusher; cursor in the feed state taxii-push/<name>:push:<tier
// collection>><partner collection URL>, so a new tier or partner collection
// starts from the beginning). to: misp with mode events converts the collection's
// latest versions to MISP events (as the collection's MISP feed does) and adds
// or edits, through /events/add and /events/edit, only the events whose
// timestamp moved since the last push (the manifest of what MISP has is kept
// in the feed state misp-push/<name>); mode stix uploads the versions added
// since the last push as STIX 2.1 bundles to /events/upload_stix/2, where each
// upload becomes a new MISP event.
type PushConfig struct {
	// Name identifies the push in logs, metrics, leases and feed state:
	// letters, digits, '.', '_' and '-'. Required, unique.
	Name string `yaml:"name"`
	// Collection is the local collection pushed: a configured collection's id
	// or alias.
	Collection string `yaml:"collection"`
	// As is the configured consumer whose view is pushed. It needs a read
	// grant on Collection.
	As string `yaml:"as"`
	// To is taxii or misp.
	To string `yaml:"to"`
	// URL is the partner's TAXII API root URL, or the MISP base URL.
	URL string `yaml:"url"`
	// CollectionID is the partner's TAXII collection id (taxii only).
	CollectionID string `yaml:"collection_id"`
	// UsernameEnv and PasswordEnv name the environment variables of the
	// partner's HTTP Basic credentials (taxii only).
	UsernameEnv string `yaml:"username_env"`
	PasswordEnv string `yaml:"password_env"`
	// TokenEnv names the environment variable of a bearer token (taxii only).
	TokenEnv string `yaml:"token_env"`
	// KeyEnv names the environment variable of the MISP automation key (misp
	// only, required).
	KeyEnv string `yaml:"key_env"`
	// Mode is how MISP receives the collection: events (default) or stix.
	Mode string `yaml:"mode"`
	// Interval is the time between two scheduled pushes; 0: only `ctibroker push`.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one HTTP request to the partner (default 2m).
	Timeout time.Duration `yaml:"timeout"`
	// Enabled switches the scheduled push off when false (default true);
	// `ctibroker push --name` still runs it.
	Enabled *bool `yaml:"enabled"`
}

// Values of PushConfig.To and PushConfig.Mode.
const (
	pushToTAXII    = "taxii"
	pushToMISP     = "misp"
	pushModeEvents = "events"
	pushModeSTIX   = "stix"
)

// Push defaults.
const (
	// defaultPushTimeout is PushConfig.Timeout's default.
	defaultPushTimeout = 2 * time.Minute
	// pushSTIXObjects and pushSTIXBytes bound one bundle uploaded to MISP.
	pushSTIXObjects = 1000
	pushSTIXBytes   = 8 << 20
	// pushPage is the store query size of the MISP pushes.
	pushPage = 5000
)

var pushNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func (p *PushConfig) enabled() bool { return p.Enabled == nil || *p.Enabled }

func (p *PushConfig) mode() string {
	if p.Mode == "" {
		return pushModeEvents
	}
	return p.Mode
}

func (p *PushConfig) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return defaultPushTimeout
}

// validatePush checks the push list against the configured collections and
// consumers; errors name the entry and key (push[1].url: ...).
func (c *Config) validatePush() error {
	names := map[string]bool{}
	for i := range c.Push {
		p := &c.Push[i]
		bad := func(key, format string, a ...any) error {
			return fmt.Errorf("push[%d].%s: %s", i, key, fmt.Sprintf(format, a...))
		}
		switch {
		case p.Name == "":
			return bad("name", "required")
		case !pushNameRE.MatchString(p.Name):
			return bad("name", "%q: use letters, digits, '.', '_' and '-'", p.Name)
		case names[p.Name]:
			return bad("name", "%q used twice", p.Name)
		}
		names[p.Name] = true
		if p.Collection == "" {
			return bad("collection", "required")
		}
		col, err := c.pushCollection(p.Collection)
		if err != nil {
			return bad("collection", "%v", err)
		}
		if p.As == "" {
			return bad("as", "required: the consumer whose view of %q is pushed", p.Collection)
		}
		ci := slices.IndexFunc(c.Auth.Consumers, func(cc auth.ConsumerConfig) bool { return cc.Name == p.As })
		if ci < 0 {
			return bad("as", "unknown consumer %q", p.As)
		}
		cc := &c.Auth.Consumers[ci]
		if cc.Enabled != nil && !*cc.Enabled {
			return bad("as", "consumer %q is disabled", p.As)
		}
		if !col.Public && !cc.Admin && !slices.Contains(cc.Read, "*") && !slices.Contains(cc.Read, col.ID) {
			return bad("as", "consumer %q may not read collection %q (give it a read grant)", p.As, p.Collection)
		}
		if p.URL == "" {
			return bad("url", "required")
		}
		u, err := url.Parse(p.URL)
		switch {
		case err != nil:
			return bad("url", "%v", err)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return bad("url", "%q: want an http:// or https:// URL", p.URL)
		case u.User != nil:
			return bad("url", "credentials go in the *_env keys, not in the URL")
		}
		switch p.To {
		case pushToTAXII:
			switch {
			case p.CollectionID == "":
				return bad("collection_id", "required: the partner's collection id")
			case strings.Contains(p.CollectionID, "/"):
				return bad("collection_id", "%q: one path segment", p.CollectionID)
			case (p.UsernameEnv == "") != (p.PasswordEnv == ""):
				return bad("username_env", "username_env and password_env go together")
			case p.TokenEnv != "" && p.UsernameEnv != "":
				return bad("token_env", "set token_env or username_env/password_env, not both")
			case p.KeyEnv != "":
				return bad("key_env", "only for to: misp")
			case p.Mode != "":
				return bad("mode", "only for to: misp")
			}
		case pushToMISP:
			switch {
			case p.KeyEnv == "":
				return bad("key_env", "required: the environment variable of the MISP automation key")
			case p.CollectionID != "":
				return bad("collection_id", "only for to: taxii")
			case p.UsernameEnv != "" || p.PasswordEnv != "" || p.TokenEnv != "":
				return bad("username_env", "username_env, password_env and token_env are for to: taxii; MISP takes key_env")
			}
			switch p.Mode {
			case "", pushModeEvents, pushModeSTIX:
			default:
				return bad("mode", "%q: want events or stix", p.Mode)
			}
		case "":
			return bad("to", "required: taxii or misp")
		default:
			return bad("to", "%q: want taxii or misp", p.To)
		}
		if p.Interval < 0 {
			return bad("interval", "%s: must not be negative", p.Interval)
		}
		if p.Timeout < 0 {
			return bad("timeout", "%s: must not be negative", p.Timeout)
		}
	}
	return nil
}

// pushCollection returns the configured collection whose id, or else alias,
// is ref.
func (c *Config) pushCollection(ref string) (*taxii.Collection, error) {
	var found *taxii.Collection
	for i := range c.TAXII.Collections {
		col := &c.TAXII.Collections[i]
		if col.ID == ref {
			return col, nil
		}
		if col.Alias == ref {
			if found != nil {
				return nil, fmt.Errorf("alias %q names collections in API roots %q and %q; use the id", ref, found.APIRoot, col.APIRoot)
			}
			found = col
		}
	}
	if found == nil {
		return nil, fmt.Errorf("unknown collection %q", ref)
	}
	return found, nil
}

// pushCreds are a push's secrets, read from the environment.
type pushCreds struct {
	username, password, token, key string
}

// secrets reads p's credentials; a named variable that is unset is an error.
func (p *PushConfig) secrets(getenv func(string) string) (pushCreds, error) {
	var cr pushCreds
	for _, s := range []struct {
		key, env string
		dst      *string
	}{
		{"username_env", p.UsernameEnv, &cr.username},
		{"password_env", p.PasswordEnv, &cr.password},
		{"token_env", p.TokenEnv, &cr.token},
		{"key_env", p.KeyEnv, &cr.key},
	} {
		if s.env == "" {
			continue
		}
		if *s.dst = getenv(s.env); *s.dst == "" {
			return cr, fmt.Errorf("push %q: %s: environment variable %s is not set or empty", p.Name, s.key, s.env)
		}
	}
	return cr, nil
}

// checkPushSecrets reports the first push whose credentials are missing from
// the environment (for `config check`, which reads every secret serve will).
func (c *Config) checkPushSecrets(getenv func(string) string) error {
	for i := range c.Push {
		if _, err := c.Push[i].secrets(getenv); err != nil {
			return err
		}
	}
	return nil
}

// pushResult is what one push did.
type pushResult struct {
	To         string // taxii | misp
	Mode       string // misp: events | stix
	Collection string // the store collection read (a curated collection's tier)
	Read       int    // object versions read
	Withheld   int    // objects above the consumer's max_tlp, not sent
	Sent       int    // object versions sent (taxii, misp stix)
	Refused    int    // objects the partner refused, or too large to send
	Requests   int    // envelopes POSTed (taxii), bundles uploaded (misp stix)
	Events     int    // MISP events of the collection (misp events)
	Changed    int    // events pushed: new or with a newer timestamp
	Created    int
	Edited     int
	Unchanged  int
	Failed     int // events MISP did not take
	Warnings   int // objects misp.Export could not convert
}

// String is the one-line summary logs and `ctibroker push` print.
func (r pushResult) String() string {
	switch {
	case r.To == pushToMISP && r.Mode == pushModeEvents:
		return fmt.Sprintf("%d objects read, %d withheld above max_tlp, %d events, %d changed: %d created, %d edited, %d unchanged, %d failed",
			r.Read, r.Withheld, r.Events, r.Changed, r.Created, r.Edited, r.Unchanged, r.Failed)
	case r.To == pushToMISP:
		return fmt.Sprintf("%d objects read, %d withheld above max_tlp, %d sent in %d STIX uploads",
			r.Read, r.Withheld, r.Sent, r.Requests)
	}
	return fmt.Sprintf("%d objects read, %d withheld above max_tlp, %d sent in %d envelopes, %d refused",
		r.Read, r.Withheld, r.Sent, r.Requests, r.Refused)
}

// pushRunner runs configured pushes over a store: serve's scheduler and the
// push verb each have one.
type pushRunner struct {
	cfg    *Config
	store  storage.Store
	getenv func(string) string
	now    func() time.Time
	// consumer returns a configured consumer (serve: the running
	// authenticator, so a reload applies to the next push).
	consumer func(name string) (*auth.Consumer, bool)
	logger   *slog.Logger
	holder   string         // lease holder name
	leaser   storage.Leaser // nil: the store hands out no leases
	mispFeed taxii.MISPFeed // org, native types, TLP and ATT&CK lookups of MISP exports
}

func newPushRunner(cfg *Config, store storage.Store, getenv func(string) string, now func() time.Time,
	consumer func(string) (*auth.Consumer, bool), logger *slog.Logger, holder string) *pushRunner {
	// The MISP exports use the MISP feed's closures, whether or not the feeds are served.
	fc := *cfg
	fc.MISPFeed.Enabled = nil
	r := &pushRunner{cfg: cfg, store: store, getenv: getenv, now: now, consumer: consumer, logger: logger,
		holder: holder, mispFeed: mispFeed(&fc, store)}
	r.leaser, _ = unwrap(store).(storage.Leaser)
	return r
}

// leaseTTL is how long a push holds its lease: longer than a push that
// overruns its interval, so a slow push is not run twice.
func (p *PushConfig) leaseTTL() time.Duration {
	if p.Interval > 0 {
		return 2*p.Interval + time.Minute
	}
	return 30 * time.Minute
}

// run runs one push of pc under the lease push:<name>; wait > 0 waits that
// long for a lease another process or pass holds, else ErrLeaseHeld returns
// at once.
func (r *pushRunner) run(ctx context.Context, pc *PushConfig, wait time.Duration) (pushResult, error) {
	if r.leaser != nil {
		lease := "push:" + pc.Name
		deadline := time.Now().Add(wait)
		for {
			err := r.leaser.AcquireLease(ctx, lease, r.holder, pc.leaseTTL())
			if err == nil {
				break
			}
			if !errors.Is(err, storage.ErrLeaseHeld) || time.Now().After(deadline) {
				return pushResult{}, err
			}
			select {
			case <-ctx.Done():
				return pushResult{}, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		defer r.leaser.ReleaseLease(context.WithoutCancel(ctx), lease, r.holder)
	}
	return r.push(ctx, pc)
}

// push runs one push of pc.
func (r *pushRunner) push(ctx context.Context, pc *PushConfig) (pushResult, error) {
	res := pushResult{To: pc.To, Mode: pc.mode()}
	col, err := r.cfg.pushCollection(pc.Collection)
	if err != nil {
		return res, fmt.Errorf("push %q: collection: %w", pc.Name, err)
	}
	cons, ok := r.consumer(pc.As)
	if !ok {
		return res, fmt.Errorf("push %q: unknown consumer %q", pc.Name, pc.As)
	}
	if !col.Public && !cons.CanRead(col.ID) {
		return res, fmt.Errorf("push %q: consumer %q may not read collection %s", pc.Name, pc.As, col.ID)
	}
	creds, err := pc.secrets(r.getenv)
	if err != nil {
		return res, err
	}
	// A curated collection is pushed as the consumer polls it: its tier.
	res.Collection = col.ID
	if col.Kind == storage.KindCurated && col.Selection != nil {
		res.Collection = curation.TierID(col.ID, *col.Selection, curation.LimitsOf(cons))
		if err := r.store.EnsureCollection(ctx, res.Collection, storage.KindCurated); err != nil {
			return res, fmt.Errorf("push %q: tier collection %s: %w", pc.Name, res.Collection, err)
		}
	}
	hc := &ingest.HTTPClient{Client: &http.Client{Timeout: pc.timeout()}, Logger: r.logger.With("push", pc.Name)}
	switch {
	case pc.To == pushToTAXII:
		err = r.pushTAXII(ctx, pc, cons, creds, hc, &res)
	case pc.mode() == pushModeSTIX:
		err = r.pushSTIX(ctx, pc, cons, creds, hc, &res)
	default:
		err = r.pushEvents(ctx, pc, col, cons, creds, hc, &res)
	}
	if err != nil {
		return res, fmt.Errorf("push %q: %w", pc.Name, err)
	}
	return res, nil
}

// pushStore is what the pushes need from the store: objects and feed state.
func (r *pushRunner) pushStore() (stixfeed.PushStore, error) {
	ps, ok := unwrap(r.store).(stixfeed.PushStore)
	if !ok {
		return nil, errors.New("this store keeps no feed state")
	}
	return ps, nil
}

// pushTAXII sends the tier's new object versions with a stixfeed.Pusher.
func (r *pushRunner) pushTAXII(ctx context.Context, pc *PushConfig, cons *auth.Consumer, cr pushCreds, hc *ingest.HTTPClient, res *pushResult) error {
	ps, err := r.pushStore()
	if err != nil {
		return err
	}
	p := &stixfeed.Pusher{
		Client:       &stixfeed.Client{HTTP: hc, Username: cr.username, Password: cr.password, Token: cr.token},
		Store:        ps,
		Collection:   res.Collection,
		APIRoot:      pc.URL,
		CollectionID: pc.CollectionID,
		// one cursor per push, tier and partner collection
		Name:   "taxii-push/" + pc.Name + ":" + stixfeed.PushName(res.Collection, pc.URL, pc.CollectionID),
		MaxTLP: cons.MaxTLP,
		Now:    r.now,
		Logger: r.logger.With("push", pc.Name),
	}
	st, err := p.Push(ctx)
	res.Read, res.Sent, res.Withheld, res.Requests, res.Refused = st.Read, st.Sent, st.Withheld, st.Envelopes, len(st.Failed)
	for _, f := range st.Failed {
		r.logger.Warn("partner refused an object", "push", pc.Name, "id", f.ID, "version", f.Version, "message", f.Message)
	}
	return err
}

// eventsState is the feed state cursor of a MISP events push: what MISP has.
type eventsState struct {
	Collection string        `json:"collection"` // the store collection the events came from
	URL        string        `json:"url"`
	Events     misp.Manifest `json:"events"`
}

// stixState is the feed state cursor of a MISP STIX push.
type stixState struct {
	Collection string `json:"collection"`
	URL        string `json:"url"`
	AddedAfter string `json:"added_after"` // RFC 3339, nanoseconds
}

// feedState reads the feed state of name (a fresh one if none is saved).
func feedState(ctx context.Context, ps stixfeed.PushStore, name string) (*storage.FeedState, error) {
	fs, err := ps.FeedState(ctx, name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &storage.FeedState{Feed: name}, nil
	case err != nil:
		return nil, fmt.Errorf("feed state %s: %w", name, err)
	}
	return fs, nil
}

// saveState records cursor (when not nil) and the outcome of a push.
func (r *pushRunner) saveState(ctx context.Context, ps stixfeed.PushStore, fs *storage.FeedState, cursor any, perr error) error {
	if cursor != nil {
		b, err := json.Marshal(cursor)
		if err != nil {
			return err
		}
		fs.Cursor = b
	}
	if perr != nil {
		fs.LastError, fs.ErrorCount = perr.Error(), fs.ErrorCount+1
	} else {
		fs.LastError, fs.ErrorCount, fs.LastSuccess = "", 0, r.now().UTC()
	}
	if err := ps.PutFeedState(context.WithoutCancel(ctx), fs); err != nil {
		return fmt.Errorf("saving feed state %s: %w", fs.Feed, err)
	}
	return nil
}

// pushEvents converts the tier's latest versions to MISP events, as the
// collection's MISP feed does for the consumer, and pushes those MISP lacks or
// has at an older timestamp.
func (r *pushRunner) pushEvents(ctx context.Context, pc *PushConfig, col *taxii.Collection, cons *auth.Consumer, cr pushCreds, hc *ingest.HTTPClient, res *pushResult) error {
	ps, err := r.pushStore()
	if err != nil {
		return err
	}
	var objs []stix.RawObject
	added := map[string]time.Time{}
	f := storage.Filter{Limit: pushPage}
	for {
		page, err := ps.QueryObjects(ctx, res.Collection, f)
		if err != nil {
			return fmt.Errorf("reading collection %s: %w", res.Collection, err)
		}
		for i := range page.Records {
			rec := &page.Records[i]
			res.Read++
			tlp, err := stix.MarkedTLP(rec.JSON)
			if err != nil || tlp > cons.MaxTLP {
				res.Withheld++
				continue
			}
			o := stix.RawObject{JSON: rec.JSON}
			if err := json.Unmarshal(rec.JSON, &o.Common); err != nil {
				res.Withheld++
				continue
			}
			objs = append(objs, o)
			added[rec.ID] = rec.DateAdded
		}
		if !page.More {
			break
		}
		f.Next = page.Next
	}
	mf := r.mispFeed
	events, warns, err := misp.Export(objs, misp.ExportOptions{
		Org: mf.Org, MaxAttributes: mf.MaxAttributes, Now: r.now(), Native: mf.Native, Grouping: mf.Grouping,
		Collection: col.ID, TLP: mf.TLP, Lookup: mf.Lookup,
		Added: func(id string) (time.Time, bool) { t, ok := added[id]; return t, ok },
	})
	if err != nil {
		return err
	}
	res.Warnings = len(warns)
	events, _ = misp.CapTLP(events, cons.MaxTLP)
	res.Events = len(events)

	name := "misp-push/" + pc.Name
	fs, err := feedState(ctx, ps, name)
	if err != nil {
		return err
	}
	var st eventsState
	if len(fs.Cursor) > 0 {
		if err := json.Unmarshal(fs.Cursor, &st); err != nil {
			return fmt.Errorf("feed state %s: %w", name, err)
		}
	}
	if st.Collection != res.Collection || st.URL != pc.URL || st.Events == nil {
		// another tier or instance: what MISP has is unknown
		st = eventsState{Collection: res.Collection, URL: pc.URL, Events: misp.Manifest{}}
	}
	changed := misp.ChangedEvents(st.Events, events)
	res.Changed = len(changed)
	if len(changed) == 0 {
		return r.saveState(ctx, ps, fs, nil, nil)
	}
	client := &misp.Client{BaseURL: pc.URL, APIKey: cr.key, HTTP: hc}
	ps2, perr := client.PushEvents(ctx, changed)
	res.Created, res.Edited, res.Unchanged, res.Failed = ps2.Created, ps2.Edited, ps2.Unchanged, ps2.Failed
	sent := misp.FeedManifest(changed)
	for _, id := range ps2.Done {
		if e, ok := sent[id]; ok {
			st.Events[id] = e
		}
	}
	if err := r.saveState(ctx, ps, fs, st, perr); err != nil {
		return errors.Join(perr, err)
	}
	return perr
}

// pushSTIX uploads the tier's object versions added since the last upload to
// MISP's STIX import, in bundles of at most pushSTIXObjects objects and
// pushSTIXBytes bytes; the cursor moves after each accepted bundle.
func (r *pushRunner) pushSTIX(ctx context.Context, pc *PushConfig, cons *auth.Consumer, cr pushCreds, hc *ingest.HTTPClient, res *pushResult) error {
	ps, err := r.pushStore()
	if err != nil {
		return err
	}
	name := "misp-push/" + pc.Name
	fs, err := feedState(ctx, ps, name)
	if err != nil {
		return err
	}
	var st stixState
	if len(fs.Cursor) > 0 {
		if err := json.Unmarshal(fs.Cursor, &st); err != nil {
			return fmt.Errorf("feed state %s: %w", name, err)
		}
	}
	var after time.Time
	if st.Collection == res.Collection && st.URL == pc.URL && st.AddedAfter != "" {
		if after, err = time.Parse(time.RFC3339Nano, st.AddedAfter); err != nil {
			return fmt.Errorf("feed state %s: added_after %q: %w", name, st.AddedAfter, err)
		}
	}
	st = stixState{Collection: res.Collection, URL: pc.URL, AddedAfter: st.AddedAfter}
	client := &misp.Client{BaseURL: pc.URL, APIKey: cr.key, HTTP: hc}
	var (
		buf      bytes.Buffer
		n        int
		consumed time.Time // date_added of the last object packed or withheld
	)
	commit := func() error {
		if !consumed.After(after) {
			return nil
		}
		st.AddedAfter = consumed.UTC().Format(time.RFC3339Nano)
		after = consumed
		return r.saveState(ctx, ps, fs, st, nil)
	}
	flush := func() error {
		if n == 0 {
			return commit()
		}
		buf.WriteString("]}")
		if err := client.UploadSTIX(ctx, buf.Bytes()); err != nil {
			return err
		}
		res.Sent += n
		res.Requests++
		r.logger.Info("uploaded STIX bundle to MISP", "push", pc.Name, "objects", n, "bytes", buf.Len())
		buf.Reset()
		n = 0
		return commit()
	}
	f := storage.Filter{AddedAfter: after, Versions: []string{"all"}, Limit: pushPage}
	err = func() error {
		for {
			page, err := ps.QueryObjects(ctx, res.Collection, f)
			if err != nil {
				return fmt.Errorf("reading collection %s: %w", res.Collection, err)
			}
			for i := range page.Records {
				rec := &page.Records[i]
				res.Read++
				if tlp, err := stix.MarkedTLP(rec.JSON); err != nil || tlp > cons.MaxTLP {
					res.Withheld++
					consumed = rec.DateAdded
					continue
				}
				if n > 0 && (n >= pushSTIXObjects || buf.Len()+len(rec.JSON)+3 > pushSTIXBytes) {
					if err := flush(); err != nil {
						return err
					}
				}
				if n == 0 {
					fmt.Fprintf(&buf, `{"type":"bundle","id":"bundle--%s","objects":[`, uuid.New())
				} else {
					buf.WriteByte(',')
				}
				buf.Write(rec.JSON)
				n++
				consumed = rec.DateAdded
			}
			if !page.More {
				return flush()
			}
			f.Next = page.Next
		}
	}()
	if err != nil && ctx.Err() == nil {
		if serr := r.saveState(ctx, ps, fs, nil, err); serr != nil {
			r.logger.Error("saving the push state failed", "push", pc.Name, "err", serr)
		}
	}
	if err == nil && consumed.IsZero() {
		return r.saveState(ctx, ps, fs, nil, nil) // nothing new: the last failure, if any, is over
	}
	return err
}

// pushScheduler runs each enabled push with an interval while serve runs,
// under its lease, and counts the outcomes in the server's registry. A
// failing partner is logged and counted; it never stops serve.
type pushScheduler struct {
	runner *pushRunner
	logger *slog.Logger

	runs        *prometheus.CounterVec
	objects     *prometheus.CounterVec
	events      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
}

// startPushes starts serve's push scheduler and returns a function that waits
// for it to stop once ctx ends. Missing partner credentials are an error here,
// as missing consumer secrets are.
func (m *Main) startPushes(ctx context.Context, cfg *Config, store storage.Store, authn *auth.Authenticator, logger *slog.Logger, reg *prometheus.Registry) (func(), error) {
	if err := cfg.checkPushSecrets(m.Getenv); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	s := &pushScheduler{
		runner: newPushRunner(cfg, store, m.Getenv, m.now, authn.Consumer, logger,
			fmt.Sprintf("%s/%d/%d", host, os.Getpid(), rand.Uint64())),
		logger: logger,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_push_runs_total",
			Help: "Pushes to partners by outcome (ok, error, skipped: another process holds the lease).",
		}, []string{"push", "outcome"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_push_objects_total",
			Help: "Object versions pushes sent (TAXII envelopes, MISP STIX uploads), and withheld above the consumer's max_tlp.",
		}, []string{"push", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibroker_push_events_total",
			Help: "MISP events pushes sent, by outcome (created, edited, unchanged, failed).",
		}, []string{"push", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ctibroker_push_last_success_timestamp_seconds",
			Help: "Unix time of the end of each push's last successful run.",
		}, []string{"push"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.runs, s.objects, s.events, s.lastSuccess} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	var wg sync.WaitGroup
	for i := range cfg.Push {
		pc := &cfg.Push[i]
		if !pc.enabled() || pc.Interval <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, pc)
		}()
	}
	return wg.Wait, nil
}

// loop pushes soon after start (a random delay of at most a tenth of the
// interval and 10 s), then every interval plus up to a tenth of it.
func (s *pushScheduler) loop(ctx context.Context, pc *PushConfig) {
	wait := jitter(min(pc.Interval/10, 10*time.Second))
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.pass(ctx, pc)
		wait = pc.Interval + jitter(pc.Interval/10)
	}
}

// pass runs one push and records its outcome.
func (s *pushScheduler) pass(ctx context.Context, pc *PushConfig) {
	res, err := s.runner.run(ctx, pc, 0)
	if errors.Is(err, storage.ErrLeaseHeld) {
		s.runs.WithLabelValues(pc.Name, "skipped").Inc()
		s.logger.Debug("push skipped: another process holds the lease", "push", pc.Name)
		return
	}
	s.objects.WithLabelValues(pc.Name, "sent").Add(float64(res.Sent))
	s.objects.WithLabelValues(pc.Name, "withheld").Add(float64(res.Withheld))
	if pc.To == pushToMISP && pc.mode() == pushModeEvents {
		s.events.WithLabelValues(pc.Name, "created").Add(float64(res.Created))
		s.events.WithLabelValues(pc.Name, "edited").Add(float64(res.Edited))
		s.events.WithLabelValues(pc.Name, "unchanged").Add(float64(res.Unchanged))
		s.events.WithLabelValues(pc.Name, "failed").Add(float64(res.Failed))
	}
	if err != nil {
		if ctx.Err() == nil {
			s.runs.WithLabelValues(pc.Name, "error").Inc()
			s.logger.Error("push failed", "push", pc.Name, "to", pc.To, "url", redactURI(pc.URL), "result", res.String(), "err", err)
		}
		return
	}
	s.runs.WithLabelValues(pc.Name, "ok").Inc()
	s.lastSuccess.WithLabelValues(pc.Name).Set(float64(time.Now().UnixMicro()) / 1e6)
	s.logger.Info("pushed", "push", pc.Name, "to", pc.To, "collection", res.Collection, "result", res.String())
}

// runPush is `ctibroker push`: every enabled push of the config (or the one
// named, enabled or not) once now, each under its lease (waiting up to a
// minute for a scheduled run of it to end). While serve holds the embedded
// store it runs inside serve (admin socket).
func (m *Main) runPush(ctx context.Context, args []string) error {
	fs := m.flagSet("push", "--config FILE [--name NAME]")
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	name := fs.String("name", "", "run only this push (default: every enabled push)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *cfgPath == "" || len(pos) != 0 {
		fs.Usage()
		return exitError(2)
	}
	cfg, store, err := m.openConfigStore(ctx, m.path(*cfgPath))
	if err != nil {
		return err
	}
	defer store.Close()
	var todo []*PushConfig
	for i := range cfg.Push {
		pc := &cfg.Push[i]
		if *name == pc.Name || *name == "" && pc.enabled() {
			todo = append(todo, pc)
		}
	}
	if len(todo) == 0 {
		if *name != "" {
			return fmt.Errorf("push: no push named %q in the configuration", *name)
		}
		fmt.Fprintln(m.Stderr, "push: the configuration has no enabled push")
		return exitError(1)
	}
	if err := ensureCollections(ctx, store, cfg); err != nil {
		return err
	}
	// The consumers' limits and grants decide what leaves; their secrets are not needed.
	ac := cfg.Auth
	ac.JWT = auth.JWTConfig{}
	authn, err := auth.New(ac, auth.Options{Getenv: m.Getenv, SkipConsumerSecrets: true})
	if err != nil {
		return fmt.Errorf("push: consumers: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	host, _ := os.Hostname()
	r := newPushRunner(cfg, store, m.Getenv, m.now, authn.Consumer, logger, fmt.Sprintf("%s/%d/push", host, os.Getpid()))
	failed := 0
	for _, pc := range todo {
		res, err := r.run(ctx, pc, time.Minute)
		if errors.Is(err, storage.ErrLeaseHeld) {
			err = fmt.Errorf("push %q: another process is running it (lease push:%s held); try again when it ends", pc.Name, pc.Name)
		}
		if err != nil {
			failed++
			fmt.Fprintf(m.Stderr, "%v\n", err)
			if res.Read > 0 {
				fmt.Fprintf(m.Stderr, "  before the failure: %s\n", res)
			}
			continue
		}
		fmt.Fprintf(m.Stdout, "%s: %s push of %s as %s to %s: %s\n", pc.Name, pc.To, res.Collection, pc.As, redactURI(pc.URL), res)
	}
	if failed > 0 {
		return exitError(1)
	}
	return nil
}
