// Package auth holds ctibroker's consumers, their credentials and their
// grants, and verifies the credentials a request carries. It knows nothing
// of echo: the taxii server calls it with *http.Request values.
//
// # Consumers
//
// A consumer (a team, a partner, a tool) is declared in the configuration
// with its credentials, read and write grants per collection id ("*" for
// all; admin for everything), and the most restricted data it may receive:
// max_share (community < partners < internal; default internal, i.e. all
// data) and max_tlp (clear < green < amber < amber+strict < red; default
// amber, so TLP:AMBER+STRICT and TLP:RED data goes only to consumers
// declared for it). Anonymous() is the consumer of requests without
// credentials: no grants, community data, TLP:CLEAR; which endpoints and
// public collections it sees is the taxii server's decision.
//
//	consumers:
//	  - name: soc
//	    password_env: SOC_PASSWORD      # or password_hash: $argon2id$... / $2b$...
//	    api_key_env: SOC_API_KEY        # or api_key_hash: sha256:<hex>
//	    misp_key_env: SOC_MISP_KEY      # MISP server sync key
//	    read: [3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11]
//	    write: [3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11]
//	    sightings: true                 # may report sightings and false positives
//	  - name: partner
//	    password_hash: $argon2id$v=19$m=19456,t=2,p=1$...$...
//	    jwt_subject: partner@idp.example.org
//	    read: ["*"]
//	    max_share: partners
//	    max_tlp: green
//	    enabled: true
//	jwt:
//	  issuer: ctibroker                 # default
//	  audience: ctibroker               # default
//	  keys:
//	    - {kid: local-1, alg: HS256, secret_env: CTIBROKER_JWT_SECRET}
//	    - {jwks_file: /etc/ctibroker/idp-jwks.json}
//	failed_logins: {max_failures: 10, window: 1m, block: 5m}
//
// Secrets named by *_env are read from the environment when the
// configuration is loaded (New, Reload); a missing variable is an error
// naming the consumer and the variable. No error, log line or audit event
// ever contains a secret.
//
// # Credentials
//
// Authenticate accepts:
//
//   - HTTP Basic (RFC 7617), the scheme matched case-insensitively because
//     MISP sends "basic". The password is checked against the consumer's
//     password (password_env, compared in constant time, or password_hash,
//     bcrypt or argon2id) or its API key, so clients that only do Basic can
//     use an API key as the password. When the user name is not a consumer
//     name, the password is tried as an API key and the user name ignored.
//   - "Authorization: Token <key>", which taxii2-client's TokenAuth sends;
//     the key is an API key, or a JWT.
//   - "Authorization: Bearer <jwt>" verified with github.com/golang-jwt/jwt/v5
//     against keys that each pin their algorithm (HS256, RS256, ES256,
//     EdDSA; never "none"), chosen by the token's kid and alg together so a
//     token cannot pick a key of another algorithm; 60 s leeway, exp
//     required, iss and aud checked. The subject claim names the consumer,
//     which must exist and be enabled at request time. A Bearer value that
//     is not a JWT (no two dots) is treated as an API key.
//
// AuthenticateMISP checks the raw key MISP server sync sends as
// "Authorization: <key>"; AuthenticateMISPKey checks a key already extracted.
// IssueToken signs tokens for `ctibroker token issue`. HashPassword and
// NewAPIKey/HashAPIKey produce the values for password_hash and api_key_hash.
//
// A verified credential is cached in memory for Options.CacheTTL (60 s) under
// an HMAC of it keyed with a random per-process key, so bcrypt and argon2id
// run at most once a minute per client and the cache never holds a secret.
// The cache holds consumer names only: a consumer disabled or removed by
// Reload is refused on its next request.
//
// # Failed logins and audit
//
// Authenticate and AuthenticateMISP count invalid credentials per client
// address (Options.ClientAddr; IPv6 per /64): after 10 failures within a
// minute the address gets ErrTooManyAttempts, unchecked, for 5 minutes
// (failed_logins). At most 10 000 addresses are tracked, least recently
// failing forgotten first. Failed logins, blocks and token issuance go to
// the AuditLog, which the server also uses for writes, deletions and reloads.
//
// # Use from the server
//
//	c, err := a.Authenticate(r)
//	switch {
//	case errors.Is(err, auth.ErrNoCredentials):
//		c = auth.Anonymous() // or 401 where anonymous access is not allowed
//	case errors.Is(err, auth.ErrTooManyAttempts):
//		// 429 (or 401) with Retry-After: a.BlockedFor(addr)
//	case err != nil:
//		// 401 with WWW-Authenticate: auth.Challenge()
//	}
//	ctx := auth.NewContext(r.Context(), c)
package auth
