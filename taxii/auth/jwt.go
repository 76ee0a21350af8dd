package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Supported JWS algorithms (RFC 7518): HS256, RS256, ES256 and EdDSA
// (Ed25519, RFC 8037). "none" and everything else are rejected.
var supportedAlgs = []string{"HS256", "RS256", "ES256", "EdDSA"}

const minHMACSecret = 32 // bytes; RFC 7518 §3.2: at least the hash size

// verifyKey is one key pinned to one algorithm.
type verifyKey struct {
	kid, alg string
	key      any // []byte, *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
}

type signKey struct {
	kid    string
	method jwt.SigningMethod
	key    any // []byte or crypto.Signer
}

type jwtState struct {
	issuer, audience, subjectClaim string
	leeway                         time.Duration
	keys                           []verifyKey
	algs                           []string
	signer                         *signKey
}

func (a *Authenticator) buildJWT(c JWTConfig) (*jwtState, error) {
	js := &jwtState{issuer: c.Issuer, audience: c.Audience, subjectClaim: c.SubjectClaim, leeway: c.Leeway}
	if js.issuer == "" {
		js.issuer = DefaultIssuer
	}
	if js.audience == "" {
		js.audience = DefaultAudience
	}
	if js.subjectClaim == "" {
		js.subjectClaim = DefaultSubjectClaim
	}
	if js.leeway == 0 {
		js.leeway = DefaultLeeway
	}
	if js.leeway < 0 {
		return nil, errors.New("leeway: must not be negative")
	}
	var errs []error
	for i, k := range c.Keys {
		keys, err := a.loadKey(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys[%d]: %w", i, err))
			continue
		}
		js.keys = append(js.keys, keys...)
	}
	if c.SigningKeyFile != "" {
		s, pub, err := loadSigningKey(c.SigningKeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("signing_key_file: %w", err))
		} else {
			s.kid = c.SigningKeyID
			js.signer = s
			js.keys = append(js.keys, verifyKey{kid: c.SigningKeyID, alg: s.method.Alg(), key: pub})
		}
	} else if c.SigningKeyID != "" {
		errs = append(errs, errors.New("signing_key_id: set without signing_key_file"))
	}
	if js.signer == nil {
		for _, k := range js.keys {
			if k.alg == "HS256" {
				js.signer = &signKey{kid: k.kid, method: jwt.SigningMethodHS256, key: k.key}
				break
			}
		}
	}
	for _, k := range js.keys {
		if !slices.Contains(js.algs, k.alg) {
			js.algs = append(js.algs, k.alg)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return js, nil
}

// loadKey reads one configured key (several for a JWKS file).
func (a *Authenticator) loadKey(k JWTKey) ([]verifyKey, error) {
	n := 0
	for _, s := range []string{k.SecretEnv, k.PublicKeyFile, k.JWKSFile} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("set exactly one of secret_env, public_key_file and jwks_file")
	}
	if k.Algorithm != "" && !slices.Contains(supportedAlgs, k.Algorithm) {
		return nil, fmt.Errorf("alg %q: want one of %v", k.Algorithm, supportedAlgs)
	}
	switch {
	case k.SecretEnv != "":
		if k.Algorithm != "HS256" {
			return nil, errors.New("secret_env: alg must be HS256")
		}
		s := a.opt.Getenv(k.SecretEnv)
		if s == "" {
			return nil, fmt.Errorf("secret_env: environment variable %s is not set or empty", k.SecretEnv)
		}
		if len(s) < minHMACSecret {
			return nil, fmt.Errorf("secret_env: the secret in %s is shorter than %d bytes", k.SecretEnv, minHMACSecret)
		}
		return []verifyKey{{kid: k.ID, alg: "HS256", key: []byte(s)}}, nil
	case k.PublicKeyFile != "":
		if k.Algorithm == "" || k.Algorithm == "HS256" {
			return nil, errors.New("public_key_file: alg must be RS256, ES256 or EdDSA")
		}
		pub, err := loadPublicKey(k.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("public_key_file %s: %w", k.PublicKeyFile, err)
		}
		if err := checkKeyAlg(pub, k.Algorithm); err != nil {
			return nil, fmt.Errorf("public_key_file %s: %w", k.PublicKeyFile, err)
		}
		return []verifyKey{{kid: k.ID, alg: k.Algorithm, key: pub}}, nil
	default:
		if k.Algorithm == "HS256" {
			return nil, errors.New("jwks_file: alg HS256 is not allowed (symmetric keys come from secret_env)")
		}
		keys, err := loadJWKS(k.JWKSFile, k.ID, k.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("jwks_file %s: %w", k.JWKSFile, err)
		}
		return keys, nil
	}
}

func loadPublicKey(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", blk.Type)
}

// loadSigningKey reads a PEM private key and returns its signer and public key.
func loadSigningKey(path string) (*signKey, any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, nil, fmt.Errorf("%s: PEM block %q: want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var method jwt.SigningMethod
	switch k := key.(type) {
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		method = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		method = jwt.SigningMethodEdDSA
	default:
		return nil, nil, fmt.Errorf("%s: unsupported private key type %T", path, k)
	}
	pub := key.(crypto.Signer).Public()
	if err := checkKeyAlg(pub, method.Alg()); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &signKey{method: method, key: key}, pub, nil
}

// checkKeyAlg reports whether pub may verify alg: RSA of 2048 bits or more
// for RS256, P-256 for ES256, Ed25519 for EdDSA.
func checkKeyAlg(pub any, alg string) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg != "RS256" {
			return fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits: want at least 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if alg != "ES256" {
			return fmt.Errorf("an EC key cannot verify %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return errors.New("EC key: ES256 needs curve P-256")
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return fmt.Errorf("an Ed25519 key cannot verify %s", alg)
		}
	default:
		return fmt.Errorf("unsupported public key type %T", pub)
	}
	return nil
}

// keyTypeFits reports whether pub belongs to the family of alg.
func keyTypeFits(pub any, alg string) bool {
	switch pub.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// jwk is the subset of RFC 7517/7518/8037 members ctibroker reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// loadJWKS reads the signature keys of a JWKS file. onlyKid, when set, keeps
// that kid only; alg, when set, keeps keys for that algorithm only, else each
// key must name its own alg. Keys for other uses or algorithms are skipped;
// a malformed key is an error naming its index.
func loadJWKS(path, onlyKid, alg string) ([]verifyKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JWK set: %v", err)
	}
	var out []verifyKey
	for i, k := range set.Keys {
		if onlyKid != "" && k.Kid != onlyKid {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		keyAlg := k.Alg
		switch {
		case alg != "" && keyAlg != "" && keyAlg != alg:
			continue
		case alg != "":
			keyAlg = alg
		case keyAlg == "":
			return nil, fmt.Errorf("keys[%d] (kid %q): no alg, and the config pins none", i, k.Kid)
		}
		if !slices.Contains(supportedAlgs, keyAlg) || keyAlg == "HS256" {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, k.Kid, err)
		}
		if k.Alg == "" && !keyTypeFits(pub, keyAlg) {
			continue // another family than the pinned algorithm: not ours
		}
		if err := checkKeyAlg(pub, keyAlg); err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, k.Kid, err)
		}
		out = append(out, verifyKey{kid: k.Kid, alg: keyAlg, key: pub})
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signature key (RS256, ES256 or EdDSA)")
	}
	return out, nil
}

func (k jwk) publicKey() (any, error) {
	dec := func(name, s string) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("member %q is not base64url", name)
		}
		return b, nil
	}
	switch k.Kty {
	case "RSA":
		n, err := dec("n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := dec("e", k.E)
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, errors.New("member \"e\" too large")
		}
		ev := new(big.Int).SetBytes(e).Int64()
		if ev < 3 || ev%2 == 0 {
			return nil, errors.New("member \"e\" is not a valid RSA exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev)}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("crv %q: want P-256", k.Crv)
		}
		x, err := dec("x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := dec("y", k.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("P-256 coordinates must be 32 bytes")
		}
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, fmt.Errorf("EC point: %v", err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("crv %q: want Ed25519", k.Crv)
		}
		x, err := dec("x", k.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key must be 32 bytes")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("kty %q: want RSA, EC or OKP", k.Kty)
}

// verify checks token and returns its subject claim. The key is chosen by
// the token's kid and alg together, so a token can only be verified with a
// key pinned to its own algorithm (no algorithm confusion); "none" is never
// a valid method.
func (js *jwtState) verify(token string, now func() time.Time) (sub string, exp time.Time, err error) {
	p := jwt.NewParser(
		jwt.WithValidMethods(js.algs),
		jwt.WithLeeway(js.leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(js.issuer),
		jwt.WithAudience(js.audience),
		jwt.WithTimeFunc(now),
	)
	claims := jwt.MapClaims{}
	_, err = p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid := ""
		if v, ok := t.Header["kid"]; ok {
			s, isStr := v.(string)
			if !isStr {
				return nil, errors.New("kid is not a string")
			}
			kid = s
		}
		alg := t.Method.Alg()
		var set jwt.VerificationKeySet
		for _, k := range js.keys {
			if k.alg == alg && k.kid == kid {
				set.Keys = append(set.Keys, k.key)
			}
		}
		if len(set.Keys) == 0 {
			return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
		}
		return set, nil
	})
	if err != nil {
		return "", time.Time{}, err
	}
	sub, _ = claims[js.subjectClaim].(string)
	if sub == "" {
		return "", time.Time{}, fmt.Errorf("claim %q missing or not a string", js.subjectClaim)
	}
	e, err := claims.GetExpirationTime()
	if err != nil || e == nil {
		return "", time.Time{}, errors.New("exp claim unreadable")
	}
	return sub, e.Time, nil
}

// IssueToken returns a JWT for the named consumer valid for ttl, signed with
// jwt.signing_key_file or else the first HS256 key. It carries iss, aud,
// the consumer's subject, iat, nbf, exp and a random jti, and is audited.
func (a *Authenticator) IssueToken(consumer string, ttl time.Duration) (string, error) {
	st := a.state.Load()
	if ttl <= 0 {
		return "", errors.New("issue token: ttl must be positive")
	}
	if _, err := st.consumer(consumer, SchemeBearer); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	js := st.jwt
	if js == nil || js.signer == nil {
		return "", errors.New("issue token: no signing key (set jwt.signing_key_file or an HS256 key)")
	}
	sub := st.subjectOf[consumer]
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := a.opt.Now()
	claims := jwt.MapClaims{
		"iss": js.issuer,
		"aud": js.audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"jti": hex.EncodeToString(jti[:]),
	}
	claims[js.subjectClaim] = sub
	t := jwt.NewWithClaims(js.signer.method, claims)
	if js.signer.kid != "" {
		t.Header["kid"] = js.signer.kid
	}
	s, err := t.SignedString(js.signer.key)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	_ = a.opt.Audit.Log(AuditEvent{Event: EventTokenIssued, Consumer: consumer,
		Detail: fmt.Sprintf("jti=%s alg=%s ttl=%s", claims["jti"], js.signer.method.Alg(), ttl)})
	return s, nil
}
