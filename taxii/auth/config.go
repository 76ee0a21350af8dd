package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Config is the authentication part of the ctibroker configuration. Its
// keys sit at the root of the YAML file (cmd may decode it with
// `yaml:",inline"`): `consumers`, `jwt` and `failed_logins`.
type Config struct {
	// Consumers are the known clients with their credentials and grants.
	Consumers []ConsumerConfig `yaml:"consumers"`
	// JWT configures Bearer token verification and issuance.
	JWT JWTConfig `yaml:"jwt"`
	// FailedLogins limits failed logins per source address.
	FailedLogins LimitConfig `yaml:"failed_logins"`
}

// ConsumerConfig declares one consumer. Each secret comes either from an
// environment variable named in the config (`*_env`, read once at load or
// reload time) or from a hash (`*_hash`), never both.
type ConsumerConfig struct {
	// Name identifies the consumer: the HTTP Basic user name, the audit log
	// name and the default JWT subject. Required, unique, without ':'.
	Name string `yaml:"name"`
	// PasswordEnv names the environment variable holding the Basic password.
	PasswordEnv string `yaml:"password_env"`
	// PasswordHash is a bcrypt ($2a$, $2b$, $2y$) or argon2id PHC string
	// ($argon2id$v=19$m=...,t=...,p=...$salt$hash) of the Basic password;
	// HashPassword produces one.
	PasswordHash string `yaml:"password_hash"`
	// APIKeyEnv names the environment variable holding the API key, accepted
	// as "Token <key>", as a non-JWT Bearer value and as the Basic password.
	APIKeyEnv string `yaml:"api_key_env"`
	// APIKeyHash is "sha256:<hex>" of the API key (HashAPIKey; fast, and right
	// for random keys) or a bcrypt or argon2id string.
	APIKeyHash string `yaml:"api_key_hash"`
	// MISPKeyEnv names the environment variable holding the key MISP sends
	// raw in the Authorization header for server sync.
	MISPKeyEnv string `yaml:"misp_key_env"`
	// MISPKeyHash is the MISP key hashed like APIKeyHash.
	MISPKeyHash string `yaml:"misp_key_hash"`
	// JWTSubject is the value of the JWT subject claim naming this consumer.
	// Default: Name.
	JWTSubject string `yaml:"jwt_subject"`
	// Read lists the collection ids the consumer may read; "*" means all.
	Read []string `yaml:"read"`
	// Write lists the collection ids the consumer may write; "*" means all.
	Write []string `yaml:"write"`
	// Enabled switches the consumer off when false. Default: true.
	Enabled *bool `yaml:"enabled"`
	// MaxShare is the most restricted feed share level the consumer may
	// receive: community, partners or internal. Default: internal (all data).
	MaxShare string `yaml:"max_share"`
	// MaxTLP is the highest TLP 2.0 marking the consumer may receive: clear,
	// green, amber, amber+strict or red (TLP 1.0 "white" means clear).
	// Default: amber.
	MaxTLP string `yaml:"max_tlp"`
	// Admin grants read and write on every collection and the admin API.
	Admin bool `yaml:"admin"`
	// Sightings lets the consumer report sightings and false positives
	// (POST /{root}/sightings/ on the taxii server) and read back its own
	// reports. They move the score of a value for every consumer, so the
	// right is granted explicitly, apart from the collection write grants.
	// Admin implies it (and reads every consumer's reports). Default: false.
	Sightings bool `yaml:"sightings"`
}

// JWTConfig configures Bearer JWT verification (RFC 7519) and IssueToken.
type JWTConfig struct {
	// Issuer is the required "iss" claim. Default: "ctibroker".
	Issuer string `yaml:"issuer"`
	// Audience is a value the "aud" claim must contain. Default: "ctibroker".
	Audience string `yaml:"audience"`
	// SubjectClaim names the claim that holds the consumer's JWTSubject.
	// Default: "sub".
	SubjectClaim string `yaml:"subject_claim"`
	// Leeway is the clock skew allowed on exp, nbf and iat. Default: 60s.
	Leeway time.Duration `yaml:"leeway"`
	// Keys verify tokens; each pins its algorithm.
	Keys []JWTKey `yaml:"keys"`
	// SigningKeyFile is a PEM private key (RSA → RS256, EC P-256 → ES256,
	// Ed25519 → EdDSA) IssueToken signs with; its public half also verifies.
	// Without it IssueToken uses the first HS256 key.
	SigningKeyFile string `yaml:"signing_key_file"`
	// SigningKeyID is the "kid" put in tokens signed with SigningKeyFile.
	SigningKeyID string `yaml:"signing_key_id"`
}

// JWTKey is one verification key, or with JWKSFile a set of them. Exactly
// one of SecretEnv, PublicKeyFile and JWKSFile is set.
type JWTKey struct {
	// ID is the "kid" a token must carry to be checked with this key. A key
	// without an ID only checks tokens without a kid.
	ID string `yaml:"kid"`
	// Algorithm pins the JWS algorithm: HS256, RS256, ES256 or EdDSA. With
	// JWKSFile it may be empty, and then each JWK's own "alg" pins it.
	Algorithm string `yaml:"alg"`
	// SecretEnv names the environment variable holding the HS256 secret
	// (at least 32 bytes).
	SecretEnv string `yaml:"secret_env"`
	// PublicKeyFile is a PEM public key or certificate for RS256, ES256 or
	// EdDSA.
	PublicKeyFile string `yaml:"public_key_file"`
	// JWKSFile is a local JSON Web Key Set file (RFC 7517); keys are chosen
	// by the token's kid and alg.
	JWKSFile string `yaml:"jwks_file"`
}

// LimitConfig limits failed logins per source address: after MaxFailures
// failures within Window, the address is refused for Block.
type LimitConfig struct {
	// MaxFailures is the number of failures allowed per Window. Default: 10.
	MaxFailures int `yaml:"max_failures"`
	// Window is the period failures are counted over. Default: 1m.
	Window time.Duration `yaml:"window"`
	// Block is how long an address stays refused. Default: 5m.
	Block time.Duration `yaml:"block"`
	// MaxAddresses bounds the number of addresses tracked; the least recently
	// seen is forgotten first. Default: 10000.
	MaxAddresses int `yaml:"max_addresses"`
}

// Options are the run-time dependencies of an Authenticator.
type Options struct {
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Getenv reads environment variables. Default: os.Getenv.
	Getenv func(string) string
	// CacheTTL is how long a verified credential stays cached. Default: 60s.
	CacheTTL time.Duration
	// Audit receives failed logins and token issuance. Nil discards them.
	Audit *AuditLog
	// ClientAddr gives the client address of a request for the audit log.
	// Default: the host part of r.RemoteAddr.
	ClientAddr func(r *http.Request) string
	// SkipConsumerSecrets leaves the consumers' *_env secrets unread, for
	// tools that only issue tokens (ctibroker token issue) and should not need
	// every consumer's secret in their environment. Such an Authenticator
	// accepts only hashed credentials and JWTs. Never set it for serve.
	SkipConsumerSecrets bool
	// OnSlowHash, when set, is called each time a bcrypt or argon2id hash is
	// about to be computed (tests count with it). At most GOMAXPROCS such
	// hashes run at once; concurrent requests with the same credential share
	// one computation.
	OnSlowHash func()
}

// CheckGrants reports every read or write grant naming a collection id for
// which known returns false, naming the consumer and the grant ("*" is
// always accepted). ctibroker config check and serve call it with the
// configured collections.
func (c Config) CheckGrants(known func(collectionID string) bool) error {
	var errs []error
	for i, cc := range c.Consumers {
		label := fmt.Sprintf("consumers[%d]", i)
		if cc.Name != "" {
			label = fmt.Sprintf("consumer %q", cc.Name)
		}
		for _, g := range []struct {
			field string
			ids   []string
		}{{"read", cc.Read}, {"write", cc.Write}} {
			for j, id := range g.ids {
				if id = strings.TrimSpace(id); id != "*" && !known(id) {
					errs = append(errs, fmt.Errorf("%s: %s[%d]: unknown collection %q", label, g.field, j, id))
				}
			}
		}
	}
	return errors.Join(errs...)
}
