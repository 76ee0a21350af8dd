// Package auth holds ctibroker's consumers, their credentials and their
// grants, and verifies the credentials a request carries.
//
// A consumer (a team, a partner, a tool) is declared in the configuration
// with its credentials and with read and write grants per collection id.
// Authenticate accepts:
//
//   - HTTP Basic (RFC 7617), the scheme matched case-insensitively because
//     MISP sends "basic". The password is checked against the consumer's
//     password (password_env, compared in constant time, or password_hash,
//     bcrypt or argon2id) or its API key, so clients that only do Basic can
//     use an API key as the password. When the user name is not a consumer
//     name, the password is tried as an API key and the user name ignored.
//   - "Authorization: Token <key>", which taxii2-client's TokenAuth sends.
//   - "Authorization: Bearer <jwt>" verified with github.com/golang-jwt/jwt/v5
//     against keys that each pin their algorithm; a Bearer value that is not
//     a JWT (no two dots) is treated as an API key.
//
// AuthenticateMISPKey checks the raw key MISP server sync sends as
// "Authorization: <key>".
//
// A verified credential is cached in memory for Options.CacheTTL (60 s) under
// an HMAC of it keyed with a random per-process key, so bcrypt and argon2id
// run at most once a minute per client and the cache never holds a secret.
// The cache holds consumer names only: a consumer disabled or removed by
// Reload is refused on its next request.
//
// Failed logins are limited per source address (AllowAttempt and
// RecordFailure, see LimitConfig), and failed logins and token issuance are
// written to the AuditLog, which never receives a secret.
package auth
