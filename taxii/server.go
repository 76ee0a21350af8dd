package taxii

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibroker/ctibroker/ingest/misp"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/stix/pattern"
	"github.com/ctibroker/ctibroker/storage"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// Authenticator verifies the credentials of a request; *auth.Authenticator
// implements it. Authenticate returns the consumer, or an error wrapping
// auth.ErrNoCredentials for a request without credentials (served as
// anonymous), or any other error for credentials that do not verify (401).
type Authenticator interface {
	Authenticate(r *http.Request) (*auth.Consumer, error)
}

// ObjectValidator checks one posted object (its parsed common properties and
// exact bytes) and returns why it is refused, or nil. lenient is the config's
// lenient profile switch. It must not modify obj.JSON.
type ObjectValidator func(obj *stix.RawObject, lenient bool) error

// Deps are the server's collaborators; Store is required.
type Deps struct {
	// Store holds collections, objects and statuses.
	Store storage.Store
	// Auth verifies credentials; nil serves every request as auth.Anonymous()
	// (tests and fully public deployments only).
	Auth Authenticator
	// Challenge is the WWW-Authenticate value of 401 responses; empty means
	// auth.Challenge() (the Basic and Bearer challenges).
	Challenge string
	// Logger receives access logs and errors; nil discards them.
	Logger *slog.Logger
	// Audit receives one event per write and DELETE; nil discards them.
	Audit *auth.AuditLog
	// CursorKey signs `next` cursors (CTIBROKER_CURSOR_KEY, at least 16 bytes).
	// Empty: a random key, so cursors do not survive a restart (a warning is logged).
	CursorKey []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Validate checks each posted object; nil means STIXValidator with the STIX
	// pattern checker (stix/pattern.Check).
	Validate ObjectValidator
	// Registry receives the server's metrics and is served on /metrics; nil
	// creates a new registry (see Server.Registry).
	Registry *prometheus.Registry
	// MISPConverter returns the converter for MISP sync pushes of the feed
	// named feed (MISPSync: the consumer's feed): ATT&CK index, instance
	// identity, and the feed's default TLP and share level; nil: the zero
	// misp.Converter. Now is set per push.
	MISPConverter func(feed string) misp.Converter
	// PoolSink receives the values of MISP sync pushes and TAXII pushes for the
	// intelligence pool (cmd wires it to the ingest Runner); nil: pushes are
	// stored in their collection only.
	PoolSink PoolSink
	// MISPFeed configures the MISP feeds of collections (mispfeed.go); the
	// zero value turns them off (404).
	MISPFeed MISPFeed
	// OnSightings is called after POST /{root}/sightings/ or MISP's POST
	// /sightings/bulkSaveSightings/{uuid} stored new sightings or
	// false-positive reports (only the new ones; nil: nothing),
	// synchronously with the request's context, before the answer is
	// written: cmd triggers a curation pass and on-demand enrichment of the
	// values. It must not block for long; background work should use
	// context.WithoutCancel(ctx).
	OnSightings func(ctx context.Context, s []storage.Sighting)
	// SightingCollections are the store collections searched for the
	// indicator, sighting or observed-data a posted sighting or opinion
	// refers to when the body does not carry it, before the stored
	// collections the consumer may read; nil: the pool and the published
	// collection (ingest.DefaultPool, curation.DefaultPublished).
	SightingCollections []string
}

// Server is the TAXII 2.1 server. Create it with NewServer; it is safe for
// concurrent use, and Reload swaps its configuration atomically.
type Server struct {
	store     storage.Store
	auth      atomic.Pointer[authHolder]
	challenge func() string
	log       *slog.Logger
	audit     *auth.AuditLog
	cursorKey []byte
	now       func() time.Time
	validate  ObjectValidator
	registry  *prometheus.Registry
	metrics   *metrics
	state     atomic.Pointer[state]
	echo      *echo.Echo
	ridPrefix string
	ridSeq    atomic.Uint64
	mispConv  func(feed string) misp.Converter
	poolSink  PoolSink
	tiers     sync.Map // tier collection ids known to exist (curated.go)
	// mispfeed.go
	mispFeed *mispFeedState
	// sightings.go
	onSightings   func(ctx context.Context, s []storage.Sighting)
	sightingColls []string
}

type authHolder struct{ a Authenticator }

// state is one validated configuration, compiled for lookups.
type state struct {
	cfg       Config
	roots     map[string]*rootState
	rootOrder []*rootState
	proxies   []netip.Prefix
	baseURL   string // without trailing slash
	limiter   *rateLimiter
}

type rootState struct {
	APIRoot
	colls   []*Collection // sorted by id (§3.3 consistent order)
	byID    map[string]*Collection
	byAlias map[string]*Collection
}

// NewServer validates cfg, ensures every configured collection exists in the
// store, and returns a server ready to serve Handler.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil {
		return nil, errors.New("taxii: Deps.Store is required")
	}
	s := &Server{
		store:    deps.Store,
		log:      deps.Logger,
		audit:    deps.Audit,
		now:      deps.Now,
		validate: deps.Validate,
		registry: deps.Registry,
		poolSink: deps.PoolSink,
		mispConv: deps.MISPConverter,
		mispFeed: newMISPFeedState(deps.MISPFeed),

		onSightings:   deps.OnSightings,
		sightingColls: deps.SightingCollections,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.validate == nil {
		s.validate = STIXValidator(stix.Validator{PatternChecker: pattern.Check})
	}
	challenge := deps.Challenge
	if challenge == "" {
		challenge = auth.Challenge()
	}
	s.challenge = func() string { return challenge }
	s.auth.Store(&authHolder{deps.Auth})
	s.cursorKey = deps.CursorKey
	if len(s.cursorKey) == 0 {
		s.cursorKey = make([]byte, 32)
		_, _ = rand.Read(s.cursorKey)
		s.log.Warn("no cursor key (CTIBROKER_CURSOR_KEY): using a random one; next cursors will not survive a restart or work across processes")
	} else if len(s.cursorKey) < 16 {
		return nil, errors.New("taxii: cursor key (CTIBROKER_CURSOR_KEY) must be at least 16 bytes")
	}
	var p [4]byte
	_, _ = rand.Read(p[:])
	s.ridPrefix = fmt.Sprintf("%x", p)
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	m, err := newMetrics(s.registry)
	if err != nil {
		return nil, fmt.Errorf("taxii: metrics: %w", err)
	}
	s.metrics = m
	st, err := s.compile(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.echo = s.routes()
	return s, nil
}

// Handler returns the HTTP handler serving TAXII 2.1, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.echo }

// Registry returns the Prometheus registry served on /metrics, for cmd to add
// its own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Config returns the configuration in force, with defaults applied.
func (s *Server) Config() Config { return s.state.Load().cfg }

// Reload validates cfg and swaps it in atomically (SIGHUP); on error the old
// configuration stays in force. Collections new in cfg are created in the store.
// Both outcomes go to the audit log (config.reloaded / config.rejected).
func (s *Server) Reload(cfg Config) error {
	st, err := s.compile(context.Background(), cfg)
	if err != nil {
		_ = s.audit.Log(auth.AuditEvent{Event: auth.EventConfigRejected, Detail: "taxii: " + err.Error()})
		return err
	}
	old := s.state.Load()
	if old != nil && old.cfg.RateLimit == st.cfg.RateLimit {
		st.limiter = old.limiter // keep the buckets
	}
	s.state.Store(st)
	_ = s.audit.Log(auth.AuditEvent{Event: auth.EventConfigReloaded,
		Detail: fmt.Sprintf("taxii: %d API roots, %d collections", len(st.cfg.APIRoots), len(st.cfg.Collections))})
	return nil
}

// PurgeStatuses deletes the statuses whose retention has passed and returns
// how many; cmd calls it periodically (expired statuses are already 404).
func (s *Server) PurgeStatuses(ctx context.Context) (int, error) {
	return s.store.PurgeStatuses(ctx, s.now())
}

// SetAuthenticator swaps the authenticator (on reload of consumers and credentials).
func (s *Server) SetAuthenticator(a Authenticator) { s.auth.Store(&authHolder{a}) }

// compile validates cfg, applies defaults, ensures the collections exist and
// builds the lookup tables.
func (s *Server) compile(ctx context.Context, cfg Config) (*state, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	st := &state{cfg: cfg, roots: map[string]*rootState{}, baseURL: strings.TrimRight(cfg.BaseURL, "/")}
	for _, r := range cfg.APIRoots {
		rs := &rootState{APIRoot: r, byID: map[string]*Collection{}, byAlias: map[string]*Collection{}}
		st.roots[r.Name] = rs
		st.rootOrder = append(st.rootOrder, rs)
	}
	for i := range cfg.Collections {
		col := &cfg.Collections[i]
		if err := s.store.EnsureCollection(ctx, col.ID, col.Kind); err != nil {
			return nil, fmt.Errorf("taxii: collection %s (%s): %w", col.ID, col.Title, err)
		}
		rs := st.roots[col.APIRoot]
		rs.colls = append(rs.colls, col)
		rs.byID[col.ID] = col
		if col.Alias != "" {
			rs.byAlias[col.Alias] = col
		}
	}
	for _, rs := range st.rootOrder {
		slices.SortFunc(rs.colls, func(a, b *Collection) int { return strings.Compare(a.ID, b.ID) })
	}
	for _, p := range cfg.TrustedProxies {
		pf, _ := parsePrefix(p)
		st.proxies = append(st.proxies, pf)
	}
	st.limiter = newRateLimiter(cfg.RateLimit, s.now)
	return st, nil
}

// trusted reports whether addr is a trusted proxy.
func (st *state) trusted(addr netip.Addr) bool {
	for _, p := range st.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// canRead reports whether c may read col: a public collection, or a read grant.
func canRead(c *auth.Consumer, col *Collection) bool {
	return col.Public || (!c.Anonymous && c.CanRead(col.ID))
}

// canWrite reports whether c may POST to col: a writable stored collection and a write grant.
func canWrite(c *auth.Consumer, col *Collection) bool {
	return col.Writable && col.Kind == storage.KindStored && !c.Anonymous && c.CanWrite(col.ID)
}

// visible reports whether c may know col exists (§5: otherwise 404).
func visible(c *auth.Consumer, col *Collection) bool {
	return canRead(c, col) || (!c.Anonymous && c.CanWrite(col.ID))
}

// rootVisible reports whether c may see the API root: an admin, or a visible collection in it.
func rootVisible(c *auth.Consumer, rs *rootState) bool {
	if c.Admin && !c.Anonymous {
		return true
	}
	for _, col := range rs.colls {
		if visible(c, col) {
			return true
		}
	}
	return false
}
