package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors Authenticate, AuthenticateMISP and AuthenticateMISPKey return,
// possibly wrapped with a reason that never contains a secret. The taxii
// server answers ErrInvalidCredentials and ErrDisabled with 401 and
// Challenge(), ErrTooManyAttempts with 429 (or 401) and Retry-After, and
// decides itself whether ErrNoCredentials means anonymous access or 401.
var (
	// ErrNoCredentials: the request has no Authorization header.
	ErrNoCredentials = errors.New("no credentials")
	// ErrInvalidCredentials: unknown user, wrong secret, malformed header,
	// unsupported scheme, or a JWT that failed verification.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrDisabled: the credentials are right but the consumer is disabled.
	ErrDisabled = errors.New("consumer disabled")
	// ErrTooManyAttempts: the client address is blocked after too many
	// failed logins; the credentials were not checked. BlockedFor gives the
	// time left (for Retry-After).
	ErrTooManyAttempts = errors.New("too many failed logins")
)

// Defaults applied by New and Reload.
const (
	DefaultCacheTTL     = 60 * time.Second
	DefaultIssuer       = "ctibroker"
	DefaultAudience     = "ctibroker"
	DefaultSubjectClaim = "sub"
	DefaultLeeway       = 60 * time.Second
	DefaultMaxFailures  = 10
	DefaultWindow       = time.Minute
	DefaultBlock        = 5 * time.Minute
	DefaultMaxAddresses = 10000
	// maxCacheEntries bounds the credential cache.
	maxCacheEntries = 10000
)

// Challenge returns the WWW-Authenticate value for 401 responses (TAXII 2.1
// §1.6.9): the Basic and Bearer challenges.
func Challenge() string { return `Basic realm="ctibroker", Bearer realm="ctibroker"` }

// Authenticator verifies request credentials against the configured
// consumers. It is safe for concurrent use; Reload swaps its configuration
// atomically.
type Authenticator struct {
	opt      Options
	reloadMu sync.Mutex // serialises Reload
	state    atomic.Pointer[state]
	limiter  *limiter
	hmacKey  []byte    // random per process: cache keys and the env-secret index
	macs     sync.Pool // of hmac.New(sha256.New, hmacKey)

	gate    *gate // bounds concurrent bcrypt/argon2id
	cacheMu sync.RWMutex
	cache   map[[32]byte]cacheEntry

	flightMu sync.Mutex
	flights  map[[32]byte]*flight
}

type cacheEntry struct {
	st      *state // the configuration the credential was verified against
	name    string
	scheme  Scheme
	expires time.Time
}

// New returns an Authenticator for cfg. It reads every secret from the
// environment now and returns an error naming the consumer (or JWT key) and
// the variable when one is missing.
func New(cfg Config, opt Options) (*Authenticator, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.CacheTTL <= 0 {
		opt.CacheTTL = DefaultCacheTTL
	}
	if opt.ClientAddr == nil {
		opt.ClientAddr = func(r *http.Request) string { return hostOf(r.RemoteAddr) }
	}
	a := &Authenticator{opt: opt, hmacKey: make([]byte, 32), cache: map[[32]byte]cacheEntry{},
		flights: map[[32]byte]*flight{}, gate: newGate(runtime.GOMAXPROCS(0), opt.OnSlowHash)}
	if _, err := rand.Read(a.hmacKey); err != nil {
		return nil, err
	}
	a.macs.New = func() any { return hmac.New(sha256.New, a.hmacKey) }
	st, err := a.build(cfg)
	if err != nil {
		return nil, err
	}
	a.state.Store(st)
	a.limiter = newLimiter(st.limit, opt.Now)
	return a, nil
}

// Reload replaces consumers, credentials and JWT keys with those of cfg,
// atomically. When cfg is invalid it returns the error and keeps the current
// configuration. Cached credentials are forgotten; failed-login counts are
// kept.
func (a *Authenticator) Reload(cfg Config) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	st, err := a.build(cfg)
	if err != nil {
		return err
	}
	a.state.Store(st)
	a.limiter.setConfig(st.limit)
	a.cacheMu.Lock()
	clear(a.cache)
	a.cacheMu.Unlock()
	return nil
}

// Consumer returns the configured consumer called name, enabled or not.
func (a *Authenticator) Consumer(name string) (*Consumer, bool) {
	c, ok := a.state.Load().consumers[name]
	if !ok {
		return nil, false
	}
	cp := *c
	return &cp, true
}

// Consumers returns the names of all configured consumers in config order.
func (a *Authenticator) Consumers() []string {
	return append([]string(nil), a.state.Load().order...)
}

// Authenticate verifies the Authorization header of r and returns the
// consumer it names. It applies the failed-login limit to the client address
// (Options.ClientAddr): while the address is blocked every request with
// credentials gets ErrTooManyAttempts unchecked, and each
// ErrInvalidCredentials counts as a failure. Failures other than
// ErrNoCredentials are written to the audit log.
func (a *Authenticator) Authenticate(r *http.Request) (*Consumer, error) {
	h := r.Header.Get("Authorization")
	if strings.TrimSpace(h) == "" {
		return nil, ErrNoCredentials
	}
	return a.guard(a.opt.ClientAddr(r), func() (*Consumer, string, error) {
		return a.authenticate(a.state.Load(), h)
	})
}

// AuthenticateMISP verifies the raw MISP sync key MISP sends as
// "Authorization: <key>" (no scheme) like AuthenticateMISPKey, with the
// failed-login limit and audit of Authenticate.
func (a *Authenticator) AuthenticateMISP(r *http.Request) (*Consumer, error) {
	key := strings.TrimSpace(r.Header.Get("Authorization"))
	if key == "" {
		return nil, ErrNoCredentials
	}
	return a.guard(a.opt.ClientAddr(r), func() (*Consumer, string, error) {
		c, err := a.AuthenticateMISPKey(key)
		return c, "", err
	})
}

// guard runs check unless addr is blocked, audits its failures and counts
// invalid credentials against addr.
func (a *Authenticator) guard(addr string, check func() (*Consumer, string, error)) (*Consumer, error) {
	if d := a.BlockedFor(addr); d > 0 {
		return nil, fmt.Errorf("%w from %s; retry in %s", ErrTooManyAttempts, addr, d.Round(time.Second))
	}
	c, claimed, err := check()
	if err != nil {
		a.auditFailure(addr, claimed, err)
		if errors.Is(err, ErrInvalidCredentials) {
			a.RecordFailure(addr)
		}
	}
	return c, err
}

// AuthenticateMISPKey verifies the key MISP server sync sends raw as
// "Authorization: <key>" against the consumers' misp_key_env and
// misp_key_hash. An empty key is ErrNoCredentials. It neither audits nor
// rate-limits (there is no request); AuthenticateMISP does both.
func (a *Authenticator) AuthenticateMISPKey(key string) (*Consumer, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, ErrNoCredentials
	}
	st := a.state.Load()
	name, scheme, err := a.verify(st, a.cacheKey("misp", "", key), func() (string, Scheme, error) {
		if n, ok := st.mispKeys.lookup(a, key); ok {
			return n, SchemeMISPKey, nil
		}
		return "", "", fmt.Errorf("%w: unknown MISP key", ErrInvalidCredentials)
	})
	if err != nil {
		return nil, err
	}
	return st.consumer(name, scheme)
}

// authenticate returns the consumer, the consumer name the request claimed
// (for the audit log; empty when unknown) and the error.
func (a *Authenticator) authenticate(st *state, header string) (*Consumer, string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return nil, "", fmt.Errorf("%w: malformed Authorization header", ErrInvalidCredentials)
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
				return nil, "", fmt.Errorf("%w: Basic credentials are not base64", ErrInvalidCredentials)
			}
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, "", fmt.Errorf("%w: Basic credentials without ':'", ErrInvalidCredentials)
		}
		return a.basic(st, user, pass)
	case "token", "bearer":
		if looksLikeJWT(rest) {
			return a.bearer(st, rest)
		}
		c, err := a.apiKey(st, rest)
		return c, "", err
	}
	return nil, "", fmt.Errorf("%w: unsupported Authorization scheme", ErrInvalidCredentials)
}

func (a *Authenticator) basic(st *state, user, pass string) (*Consumer, string, error) {
	if pass == "" {
		return nil, "", fmt.Errorf("%w: empty password", ErrInvalidCredentials)
	}
	cr, known := st.creds[user]
	claimed := ""
	if known {
		claimed = user
	}
	name, scheme, err := a.verify(st, a.cacheKey("basic", user, pass), func() (string, Scheme, error) {
		switch {
		case known && cr.matchPassword(pass, a.gate):
			return user, SchemeBasic, nil
		case known && cr.matchAPIKey(pass, a.gate):
			return user, SchemeAPIKey, nil
		case known:
			return "", "", fmt.Errorf("%w: wrong password for consumer %q", ErrInvalidCredentials, user)
		}
		if n, ok := st.apiKeys.lookup(a, pass); ok {
			return n, SchemeAPIKey, nil
		}
		return "", "", fmt.Errorf("%w: unknown user and no API key matches", ErrInvalidCredentials)
	})
	if err != nil {
		return nil, claimed, err
	}
	con, err := st.consumer(name, scheme)
	return con, name, err
}

func (a *Authenticator) apiKey(st *state, key string) (*Consumer, error) {
	name, scheme, err := a.verify(st, a.cacheKey("key", "", key), func() (string, Scheme, error) {
		if n, ok := st.apiKeys.lookup(a, key); ok {
			return n, SchemeAPIKey, nil
		}
		return "", "", fmt.Errorf("%w: unknown API key", ErrInvalidCredentials)
	})
	if err != nil {
		return nil, err
	}
	return st.consumer(name, scheme)
}

// verify returns the cached result for ck, or runs check once however many
// requests present the same credential at the same time, and caches a
// success. Failures are never cached.
func (a *Authenticator) verify(st *state, ck [32]byte, check func() (string, Scheme, error)) (string, Scheme, error) {
	if c, ok := a.cached(st, ck); ok {
		return c.name, c.scheme, nil
	}
	a.flightMu.Lock()
	if f, ok := a.flights[ck]; ok && f.st == st {
		a.flightMu.Unlock()
		<-f.done
		return f.name, f.scheme, f.err
	}
	f := &flight{st: st, done: make(chan struct{})}
	a.flights[ck] = f
	a.flightMu.Unlock()

	f.name, f.scheme, f.err = check()
	if f.err == nil {
		a.remember(st, ck, f.name, f.scheme)
	}
	a.flightMu.Lock()
	if a.flights[ck] == f {
		delete(a.flights, ck)
	}
	a.flightMu.Unlock()
	close(f.done)
	return f.name, f.scheme, f.err
}

// flight is one credential check in progress.
type flight struct {
	st     *state
	done   chan struct{}
	name   string
	scheme Scheme
	err    error
}

func (a *Authenticator) bearer(st *state, token string) (*Consumer, string, error) {
	if st.jwt == nil || len(st.jwt.keys) == 0 {
		return nil, "", fmt.Errorf("%w: no JWT keys configured", ErrInvalidCredentials)
	}
	ck := a.cacheKey("jwt", "", token)
	if c, ok := a.cached(st, ck); ok {
		con, err := st.consumer(c.name, c.scheme)
		return con, c.name, err
	}
	sub, exp, err := st.jwt.verify(token, a.opt.Now)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	name, ok := st.bySubject[sub]
	if !ok {
		return nil, "", fmt.Errorf("%w: JWT subject names no consumer", ErrInvalidCredentials)
	}
	// Cached no longer than the token is valid without leeway.
	a.rememberUntil(st, ck, name, SchemeBearer, exp)
	c, err := st.consumer(name, SchemeBearer)
	return c, name, err
}

// looksLikeJWT reports whether s has the three dot-separated parts of a
// JWS compact serialisation (RFC 7515 §7.1); API keys never contain two dots.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }

// cacheKey is HMAC-SHA256 under the process key of the credential; the
// cache never holds the credential itself.
func (a *Authenticator) cacheKey(kind, user, secret string) [32]byte {
	m := a.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var k [32]byte
	m.Sum(k[:0])
	a.macs.Put(m)
	return k
}

// cached returns the live cache entry for k. Stale entries are left for
// remember to overwrite or sweep.
func (a *Authenticator) cached(st *state, k [32]byte) (cacheEntry, bool) {
	a.cacheMu.RLock()
	e, ok := a.cache[k]
	a.cacheMu.RUnlock()
	if !ok || e.st != st || !a.opt.Now().Before(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (a *Authenticator) remember(st *state, k [32]byte, name string, scheme Scheme) {
	a.rememberUntil(st, k, name, scheme, time.Time{})
}

// rememberUntil caches a verified credential for CacheTTL, or until limit
// when that comes first.
func (a *Authenticator) rememberUntil(st *state, k [32]byte, name string, scheme Scheme, limit time.Time) {
	now := a.opt.Now()
	expires := now.Add(a.opt.CacheTTL)
	if !limit.IsZero() && limit.Before(expires) {
		expires = limit
	}
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if len(a.cache) >= maxCacheEntries {
		for key, e := range a.cache {
			if e.st != st || !now.Before(e.expires) {
				delete(a.cache, key)
			}
		}
		if len(a.cache) >= maxCacheEntries {
			clear(a.cache)
		}
	}
	a.cache[k] = cacheEntry{st: st, name: name, scheme: scheme, expires: expires}
}

func (a *Authenticator) auditFailure(remote, consumer string, err error) {
	_ = a.opt.Audit.Log(AuditEvent{Event: EventLoginFailed, Consumer: consumer, Remote: remote, Detail: err.Error()})
}

// envEqual compares a presented secret with one read from the environment in
// constant time (for equal lengths; the length of the expected secret may
// leak, as with subtle.ConstantTimeCompare).
func envEqual(presented, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}

// hostOf returns the host part of a "host:port" address, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
