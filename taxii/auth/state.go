package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/ctibroker/ctibroker/stix"
)

// state is one loaded configuration; it is never modified after build.
type state struct {
	order     []string
	consumers map[string]*Consumer // by name
	enabled   map[string]bool
	creds     map[string]*credentials
	bySubject map[string]string // JWT subject → name
	subjectOf map[string]string // name → JWT subject
	apiKeys   keyIndex
	mispKeys  keyIndex
	jwt       *jwtState
	limit     LimitConfig
}

// credentials are one consumer's secrets: from the environment or hashed.
type credentials struct {
	password     string
	passwordHash *secretHash
	apiKey       string
	apiKeyHash   *secretHash
}

func (c *credentials) matchPassword(pw string, g *gate) bool {
	if c.password != "" {
		return envEqual(pw, c.password)
	}
	return c.passwordHash != nil && c.passwordHash.verify(pw, g)
}

func (c *credentials) matchAPIKey(key string, g *gate) bool {
	if c.apiKey != "" {
		return envEqual(key, c.apiKey)
	}
	return c.apiKeyHash != nil && c.apiKeyHash.verify(key, g)
}

// keyIndex finds the consumer owning a key without knowing its name.
type keyIndex struct {
	env    map[[32]byte]envKey // HMAC(process key, secret) → owner
	sha    map[[32]byte]string // configured sha256 hash → owner
	owners map[[32]byte]string // sha256 of every env key and sha256 hash: duplicates
	slow   []slowKey           // bcrypt/argon2id, tried in turn
}

type envKey struct {
	name, secret string
}

type slowKey struct {
	name string
	hash *secretHash
}

func newKeyIndex() keyIndex {
	return keyIndex{env: map[[32]byte]envKey{}, sha: map[[32]byte]string{}, owners: map[[32]byte]string{}}
}

func (a *Authenticator) mac(secret string) [32]byte {
	m := a.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(secret))
	var k [32]byte
	m.Sum(k[:0])
	a.macs.Put(m)
	return k
}

// add registers a key; a key already owned by another consumer is an error
// (which consumer would it name?).
func (ix *keyIndex) add(a *Authenticator, name, secret string, h *secretHash) error {
	var digest [32]byte
	switch {
	case secret != "":
		digest = sha256.Sum256([]byte(secret))
	case h != nil && h.kind == hashSHA256:
		copy(digest[:], h.digest)
	case h != nil:
		ix.slow = append(ix.slow, slowKey{name: name, hash: h})
		return nil
	default:
		return nil
	}
	if other, dup := ix.owners[digest]; dup {
		return fmt.Errorf("same key as consumer %q", other)
	}
	ix.owners[digest] = name
	if secret != "" {
		ix.env[a.mac(secret)] = envKey{name: name, secret: secret}
	} else {
		ix.sha[digest] = name
	}
	return nil
}

// lookup returns the owner of secret. Slow hashes are tried only when no
// environment key or sha256 hash matches.
func (ix *keyIndex) lookup(a *Authenticator, secret string) (string, bool) {
	if e, ok := ix.env[a.mac(secret)]; ok && subtle.ConstantTimeCompare([]byte(secret), []byte(e.secret)) == 1 {
		return e.name, true
	}
	if len(ix.sha) > 0 {
		if name, ok := ix.sha[sha256.Sum256([]byte(secret))]; ok {
			return name, true
		}
	}
	for _, s := range ix.slow {
		if s.hash.verify(secret, a.gate) {
			return s.name, true
		}
	}
	return "", false
}

// consumer returns a per-request copy of the named consumer, or ErrDisabled.
func (st *state) consumer(name string, scheme Scheme) (*Consumer, error) {
	c, ok := st.consumers[name]
	if !ok {
		return nil, fmt.Errorf("%w: consumer %q no longer exists", ErrInvalidCredentials, name)
	}
	if !st.enabled[name] {
		return nil, fmt.Errorf("%w: %q", ErrDisabled, name)
	}
	cp := *c
	cp.Scheme = scheme
	return &cp, nil
}

// build validates cfg, reads its secrets and key files, and returns the
// state. Errors name the consumer or key and the field; never a secret.
func (a *Authenticator) build(cfg Config) (*state, error) {
	st := &state{
		consumers: map[string]*Consumer{},
		enabled:   map[string]bool{},
		creds:     map[string]*credentials{},
		bySubject: map[string]string{},
		subjectOf: map[string]string{},
		apiKeys:   newKeyIndex(),
		mispKeys:  newKeyIndex(),
	}
	var errs []error
	for i, cc := range cfg.Consumers {
		if err := a.addConsumer(st, cc); err != nil {
			label := fmt.Sprintf("consumers[%d]", i)
			if cc.Name != "" {
				label = fmt.Sprintf("consumer %q", cc.Name)
			}
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
		}
	}
	js, err := a.buildJWT(cfg.JWT)
	if err != nil {
		errs = append(errs, fmt.Errorf("jwt: %w", err))
	}
	st.jwt = js
	lim, err := limitConfig(cfg.FailedLogins)
	if err != nil {
		errs = append(errs, fmt.Errorf("failed_logins: %w", err))
	}
	st.limit = lim
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return st, nil
}

func (a *Authenticator) addConsumer(st *state, cc ConsumerConfig) error {
	if cc.Name == "" {
		return errors.New("name: required")
	}
	if strings.ContainsAny(cc.Name, ":\x00") || strings.TrimSpace(cc.Name) != cc.Name {
		return errors.New("name: must not contain ':' or surrounding spaces")
	}
	if cc.Name == AnonymousName {
		return fmt.Errorf("name: %q is reserved for requests without credentials", AnonymousName)
	}
	if _, dup := st.consumers[cc.Name]; dup {
		return errors.New("name: declared twice")
	}
	c := &Consumer{Name: cc.Name, Admin: cc.Admin, Sightings: cc.Sightings, MaxShare: ShareInternal, MaxTLP: stix.TLPAmber,
		read: map[string]bool{}, write: map[string]bool{}}
	var err error
	if cc.MaxShare != "" {
		if c.MaxShare, err = ParseShareLevel(cc.MaxShare); err != nil {
			return fmt.Errorf("max_share: %w", err)
		}
	}
	if cc.MaxTLP != "" {
		if c.MaxTLP, err = ParseTLP(cc.MaxTLP); err != nil {
			return fmt.Errorf("max_tlp: %w", err)
		}
	}
	for field, list := range map[string][]string{"read": cc.Read, "write": cc.Write} {
		for j, id := range list {
			id = strings.TrimSpace(id)
			switch {
			case id == "":
				return fmt.Errorf("%s[%d]: empty collection id", field, j)
			case id == "*" && field == "read":
				c.readAll = true
			case id == "*":
				c.writeAll = true
			case field == "read":
				c.read[id] = true
			default:
				c.write[id] = true
			}
		}
	}
	cr := &credentials{}
	if cr.password, cr.passwordHash, err = a.secret(cc.PasswordEnv, "password_env", cc.PasswordHash, "password_hash", false); err != nil {
		return err
	}
	if cr.apiKey, cr.apiKeyHash, err = a.secret(cc.APIKeyEnv, "api_key_env", cc.APIKeyHash, "api_key_hash", true); err != nil {
		return err
	}
	if err := st.apiKeys.add(a, cc.Name, cr.apiKey, cr.apiKeyHash); err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	mispKey, mispHash, err := a.secret(cc.MISPKeyEnv, "misp_key_env", cc.MISPKeyHash, "misp_key_hash", true)
	if err != nil {
		return err
	}
	if err := st.mispKeys.add(a, cc.Name, mispKey, mispHash); err != nil {
		return fmt.Errorf("misp key: %w", err)
	}
	sub := cc.JWTSubject
	if sub == "" {
		sub = cc.Name
	}
	if other, dup := st.bySubject[sub]; dup {
		return fmt.Errorf("jwt_subject %q: also the subject of consumer %q", sub, other)
	}
	st.bySubject[sub] = cc.Name
	st.subjectOf[cc.Name] = sub
	st.consumers[cc.Name] = c
	st.creds[cc.Name] = cr
	st.enabled[cc.Name] = cc.Enabled == nil || *cc.Enabled
	st.order = append(st.order, cc.Name)
	return nil
}

// secret reads one secret from its environment variable or parses its hash.
func (a *Authenticator) secret(env, envField, hash, hashField string, allowSHA256 bool) (string, *secretHash, error) {
	switch {
	case env != "" && hash != "":
		return "", nil, fmt.Errorf("set one of %s and %s, not both", envField, hashField)
	case env != "" && a.opt.SkipConsumerSecrets:
		return "", nil, nil
	case env != "":
		v := a.opt.Getenv(env)
		if v == "" {
			return "", nil, fmt.Errorf("%s: environment variable %s is not set or empty", envField, env)
		}
		return v, nil, nil
	case hash != "":
		h, err := parseHash(strings.TrimSpace(hash), allowSHA256)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", hashField, err)
		}
		return "", h, nil
	}
	return "", nil, nil
}
