package auth_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

const hsSecret = "an-hs256-secret-of-at-least-32-bytes!!"

// testKeys are generated once per test binary.
type testKeys struct {
	rsa, rsaOther *rsa.PrivateKey
	ec, ecOther   *ecdsa.PrivateKey
	ed            ed25519.PrivateKey
	rsaSmall      *rsa.PrivateKey
}

var keysOnce = sync.OnceValues(func() (*testKeys, error) {
	k := &testKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if k.ecOther, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	return k, nil
})

func mustKeys(tb testing.TB) *testKeys {
	tb.Helper()
	k, err := keysOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf renders a public key as a JWK map.
func jwkOf(tb testing.TB, pub crypto.PublicKey, kid, alg string) map[string]string {
	tb.Helper()
	m := map[string]string{"kid": kid}
	if alg != "" {
		m["alg"] = alg
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u(k.N.Bytes()), b64u(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64u(raw[1:33]), b64u(raw[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u(k)
	default:
		tb.Fatalf("jwkOf(%T)", pub)
	}
	return m
}

func writeJWKS(tb testing.TB, dir, name string, keys ...map[string]string) string {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		tb.Fatal(err)
	}
	return writeFile(tb, dir, name, b)
}

func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func pemPublic(tb testing.TB, pub crypto.PublicKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func pemPrivate(tb testing.TB, key crypto.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// jwtFixture is fixture() plus JWT keys: HS256 (kid hs-1), RS256 from a PEM
// file (kid rsa-pem), and a JWKS with RSA, EC and Ed25519 keys plus keys
// that must be skipped (encryption use, unsupported kty).
func jwtFixture(tb testing.TB) (auth.Config, env) {
	tb.Helper()
	k := mustKeys(tb)
	dir := tb.TempDir()
	cfg := fixture(tb)
	cfg.JWT = auth.JWTConfig{Keys: []auth.JWTKey{
		{ID: "hs-1", Algorithm: "HS256", SecretEnv: "JWT_SECRET"},
		{ID: "rsa-pem", Algorithm: "RS256", PublicKeyFile: writeFile(tb, dir, "rsa.pem", pemPublic(tb, &k.rsa.PublicKey))},
		{JWKSFile: writeJWKS(tb, dir, "jwks.json",
			jwkOf(tb, &k.rsa.PublicKey, "rsa-1", "RS256"),
			jwkOf(tb, &k.ec.PublicKey, "ec-1", "ES256"),
			jwkOf(tb, k.ed.Public(), "ed-1", "EdDSA"),
			map[string]string{"kty": "RSA", "kid": "rsa-enc", "use": "enc", "alg": "RS256", "n": b64u(k.rsaOther.N.Bytes()), "e": "AQAB"},
			map[string]string{"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": "c2VjcmV0"},
		)},
	}}
	e := env{"JWT_SECRET": hsSecret}
	for k, v := range fixtureEnv {
		e[k] = v
	}
	return cfg, e
}

func sign(tb testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// claims returns valid claims for sub at testTime, with overrides applied
// (a nil value deletes the claim).
func claims(sub string, over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"iss": "ctibroker", "aud": "ctibroker", "sub": sub,
		"iat": testTime.Unix(), "nbf": testTime.Unix(), "exp": testTime.Add(time.Hour).Unix()}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestBearerJWT(t *testing.T) {
	k := mustKeys(t)
	cfg, e := jwtFixture(t)
	a := MustNew(t, cfg, auth.Options{Getenv: e.Getenv, Now: newClock().Now})
	hs := []byte(hsSecret)
	rsaPEM := pemPublic(t, &k.rsa.PublicKey)
	ago := func(d time.Duration) int64 { return testTime.Add(-d).Unix() }
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "hs-1", claims("soc", nil))
	good := sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", nil))
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + b64u([]byte(`{"iss":"ctibroker","aud":"ctibroker","sub":"root","exp":9999999999}`)) + "." + parts[2]
	for name, tt := range map[string]struct {
		header   string
		wantName string
		wantErr  error
	}{
		"HS256":                        {"Bearer " + good, "soc", nil},
		"HS256 via Token scheme":       {"Token " + good, "soc", nil},
		"bearer lowercase":             {"bearer " + good, "soc", nil},
		"RS256 PEM file":               {"Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-pem", claims("soc", nil)), "soc", nil},
		"RS256 JWKS":                   {"Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims("soc", nil)), "soc", nil},
		"ES256 JWKS":                   {"Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims("soc", nil)), "soc", nil},
		"EdDSA JWKS":                   {"Bearer " + sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claims("soc", nil)), "soc", nil},
		"jwt_subject mapping":          {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("partner@idp.example", nil)), "partner", nil},
		"aud list":                     {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"aud": []string{"x", "ctibroker"}})), "soc", nil},
		"expired 30s ago (leeway)":     {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"exp": ago(30 * time.Second)})), "soc", nil},
		"expired 2m ago":               {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"exp": ago(2 * time.Minute)})), "", auth.ErrInvalidCredentials},
		"nbf in 30s (leeway)":          {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"nbf": ago(-30 * time.Second)})), "soc", nil},
		"nbf in 2m":                    {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"nbf": ago(-2 * time.Minute)})), "", auth.ErrInvalidCredentials},
		"no exp":                       {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"exp": nil})), "", auth.ErrInvalidCredentials},
		"wrong iss":                    {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"iss": "evil"})), "", auth.ErrInvalidCredentials},
		"no iss":                       {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"iss": nil})), "", auth.ErrInvalidCredentials},
		"wrong aud":                    {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"aud": "other"})), "", auth.ErrInvalidCredentials},
		"no aud":                       {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"aud": nil})), "", auth.ErrInvalidCredentials},
		"no sub":                       {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("soc", map[string]any{"sub": nil})), "", auth.ErrInvalidCredentials},
		"unknown subject":              {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("mallory", nil)), "", auth.ErrInvalidCredentials},
		"disabled consumer":            {"Bearer " + sign(t, jwt.SigningMethodHS256, hs, "hs-1", claims("off", nil)), "", auth.ErrDisabled},
		"alg none":                     {"Bearer " + noneTok, "", auth.ErrInvalidCredentials},
		"HS256 wrong secret":           {"Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), "hs-1", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"confusion: HS256 on RSA kid":  {"Bearer " + sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa-pem", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"confusion: HS256 on JWKS kid": {"Bearer " + sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa-1", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"confusion: RS256 on HS kid":   {"Bearer " + sign(t, jwt.SigningMethodRS256, k.rsa, "hs-1", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"kid of another alg":           {"Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"unknown kid":                  {"Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "ec-2", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"no kid":                       {"Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"other key, known kid":         {"Bearer " + sign(t, jwt.SigningMethodES256, k.ecOther, "ec-1", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"encryption key skipped":       {"Bearer " + sign(t, jwt.SigningMethodRS256, k.rsaOther, "rsa-enc", claims("soc", nil)), "", auth.ErrInvalidCredentials},
		"forged payload":               {"Bearer " + forged, "", auth.ErrInvalidCredentials},
		"garbage with two dots":        {"Bearer a.b.c", "", auth.ErrInvalidCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := a.Authenticate(request(tt.header))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Authenticate() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("error: %v", err)
			}
			if err == nil && (c.Name != tt.wantName || c.Scheme != auth.SchemeBearer) {
				t.Fatalf("Authenticate() = %s/%s, want %s/bearer", c.Name, c.Scheme, tt.wantName)
			}
		})
	}
}

func TestJWTCustomClaims(t *testing.T) {
	k := mustKeys(t)
	dir := t.TempDir()
	cfg := auth.Config{
		Consumers: []auth.ConsumerConfig{{Name: "analyst", JWTSubject: "analyst@example.org"}},
		JWT: auth.JWTConfig{Issuer: "https://idp.example.org", Audience: "ctibroker-prod", SubjectClaim: "email",
			Keys: []auth.JWTKey{{ID: "ed", Algorithm: "EdDSA", PublicKeyFile: writeFile(t, dir, "ed.pem", pemPublic(t, k.ed.Public()))}}},
	}
	a := MustNew(t, cfg, auth.Options{Now: newClock().Now})
	ok := claims("ignored", map[string]any{"iss": "https://idp.example.org", "aud": "ctibroker-prod", "email": "analyst@example.org"})
	c, err := a.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", ok)))
	if err != nil || c.Name != "analyst" {
		t.Fatalf("custom claims: %v, %v; want analyst", c, err)
	}
	bad := claims("analyst@example.org", map[string]any{"iss": "https://idp.example.org", "aud": "ctibroker-prod"})
	if _, err := a.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", bad))); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("subject in sub instead of email: error = %v, want ErrInvalidCredentials", err)
	}
	// Only EdDSA is configured: an HS256 token keyed with the public key PEM
	// (the classic algorithm confusion) is refused before any key lookup.
	confused := sign(t, jwt.SigningMethodHS256, pemPublic(t, k.ed.Public()), "ed", ok)
	if _, err := a.Authenticate(request("Bearer " + confused)); !errors.Is(err, auth.ErrInvalidCredentials) || !strings.Contains(err.Error(), "HS256") {
		t.Fatalf("HS256 against an EdDSA-only config: error = %v, want ErrInvalidCredentials naming HS256", err)
	}
	def := claims("analyst@example.org", nil) // default iss/aud are not accepted here
	if _, err := a.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", def))); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("default iss/aud: error = %v, want ErrInvalidCredentials", err)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	k := mustKeys(t)
	dir := t.TempDir()
	ecPEM := writeFile(t, dir, "ec.pem", pemPublic(t, &k.ec.PublicKey))
	smallPEM := writeFile(t, dir, "small.pem", pemPublic(t, &k.rsaSmall.PublicKey))
	notPEM := writeFile(t, dir, "not.pem", []byte("hello"))
	e := env{"JWT_SECRET": hsSecret, "SHORT": "too-short"}
	for name, tt := range map[string]struct {
		jwt  auth.JWTConfig
		want []string
	}{
		"missing secret env":   {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", SecretEnv: "NOPE"}}}, []string{"jwt: keys[0]", "NOPE"}},
		"short secret":         {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", SecretEnv: "SHORT"}}}, []string{"SHORT", "32 bytes"}},
		"secret with RS256":    {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", SecretEnv: "JWT_SECRET"}}}, []string{"alg must be HS256"}},
		"alg none":             {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "none", SecretEnv: "JWT_SECRET"}}}, []string{`alg "none"`}},
		"HS512 unsupported":    {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS512", SecretEnv: "JWT_SECRET"}}}, []string{`alg "HS512"`}},
		"two sources":          {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "ES256", PublicKeyFile: ecPEM, JWKSFile: ecPEM}}}, []string{"exactly one"}},
		"no source":            {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "ES256"}}}, []string{"exactly one"}},
		"public key with HS":   {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", PublicKeyFile: ecPEM}}}, []string{"RS256, ES256 or EdDSA"}},
		"EC key pinned RS256":  {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKeyFile: ecPEM}}}, []string{"ec.pem", "EC key cannot verify RS256"}},
		"small RSA key":        {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", PublicKeyFile: smallPEM}}}, []string{"1024 bits"}},
		"missing file":         {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "ES256", PublicKeyFile: filepath.Join(dir, "absent.pem")}}}, []string{"absent.pem"}},
		"not PEM":              {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "ES256", PublicKeyFile: notPEM}}}, []string{"no PEM block"}},
		"JWKS not JSON":        {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: notPEM}}}, []string{"not a JWK set"}},
		"JWKS HS256":           {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", JWKSFile: notPEM}}}, []string{"HS256 is not allowed"}},
		"JWKS key without alg": {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: writeJWKS(t, dir, "noalg.json", jwkOf(t, &k.ec.PublicKey, "e", ""))}}}, []string{"keys[0]", "no alg"}},
		"JWKS nothing usable":  {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: writeJWKS(t, dir, "none.json", map[string]string{"kty": "oct", "alg": "HS256", "kid": "x"})}}}, []string{"no usable"}},
		"JWKS bad point": {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: writeJWKS(t, dir, "badpt.json",
			map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "b", "x": b64u(make([]byte, 32)), "y": b64u(make([]byte, 32))})}}}, []string{`kid "b"`, "EC point"}},
		"JWKS wrong curve": {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: writeJWKS(t, dir, "p384.json",
			map[string]string{"kty": "EC", "crv": "P-384", "alg": "ES256", "kid": "c", "x": "AA", "y": "AA"})}}}, []string{"P-384"}},
		"JWKS key declares wrong alg": {auth.JWTConfig{Keys: []auth.JWTKey{{JWKSFile: writeJWKS(t, dir, "wrongalg.json", jwkOf(t, &k.ec.PublicKey, "w", "RS256"))}}}, []string{`kid "w"`, "EC key cannot verify RS256"}},
		"JWKS small RSA key":          {auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "RS256", JWKSFile: writeJWKS(t, dir, "small.json", jwkOf(t, &k.rsaSmall.PublicKey, "s", ""))}}}, []string{`kid "s"`, "1024 bits"}},
		"signing key id alone":        {auth.JWTConfig{SigningKeyID: "x"}, []string{"signing_key_id"}},
		"signing key missing":         {auth.JWTConfig{SigningKeyFile: filepath.Join(dir, "nokey.pem")}, []string{"signing_key_file", "nokey.pem"}},
		"signing key public":          {auth.JWTConfig{SigningKeyFile: ecPEM}, []string{"signing_key_file", `"PUBLIC KEY"`}},
		"negative leeway":             {auth.JWTConfig{Leeway: -time.Second}, []string{"leeway"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.New(auth.Config{JWT: tt.jwt}, auth.Options{Getenv: e.Getenv})
			if err == nil {
				t.Fatal("New() error = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), hsSecret) || strings.Contains(err.Error(), "too-short") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

func TestIssueToken(t *testing.T) {
	k := mustKeys(t)
	dir := t.TempDir()
	cfg, e := jwtFixture(t)
	clk := newClock()
	var audit bytes.Buffer
	a := MustNew(t, cfg, auth.Options{Getenv: e.Getenv, Now: clk.Now, Audit: auth.NewAuditLog(&audit, clk.Now)})

	tok, err := a.IssueToken("soc", 24*time.Hour)
	if err != nil {
		t.Fatalf("IssueToken() error = %v", err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil || parsed.Method.Alg() != "HS256" || parsed.Header["kid"] != "hs-1" {
		t.Fatalf("issued token header = %v, %v; want HS256 with kid hs-1", parsed.Header, err)
	}
	for _, scheme := range []string{"Bearer", "Token"} {
		if c, err := a.Authenticate(request(scheme + " " + tok)); err != nil || c.Name != "soc" {
			t.Fatalf("%s issued token: %v, %v", scheme, c, err)
		}
	}
	if !strings.Contains(audit.String(), `"event":"token.issued","consumer":"soc"`) || strings.Contains(audit.String(), tok) {
		t.Fatalf("audit log = %s; want a token.issued event without the token", audit.String())
	}
	if tok, err := a.IssueToken("partner", time.Hour); err != nil {
		t.Fatal(err)
	} else if c, err := a.Authenticate(request("Bearer " + tok)); err != nil || c.Name != "partner" {
		t.Fatalf("partner token (jwt_subject): %v, %v", c, err)
	}
	clk.Advance(24*time.Hour + 2*time.Minute)
	if _, err := a.Authenticate(request("Bearer " + tok)); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("token after its ttl: error = %v, want ErrInvalidCredentials", err)
	}

	for name, tt := range map[string]struct {
		consumer string
		ttl      time.Duration
	}{
		"unknown consumer":  {"mallory", time.Hour},
		"disabled consumer": {"off", time.Hour},
		"zero ttl":          {"soc", 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := a.IssueToken(tt.consumer, tt.ttl); err == nil {
				t.Fatal("IssueToken() error = nil, want an error")
			}
		})
	}
	noKey := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv})
	if _, err := noKey.IssueToken("soc", time.Hour); err == nil || !strings.Contains(err.Error(), "no signing key") {
		t.Fatalf("IssueToken without keys: error = %v", err)
	}

	for name, tt := range map[string]struct {
		key any
		alg string
	}{
		"Ed25519": {k.ed, "EdDSA"},
		"RSA":     {k.rsa, "RS256"},
		"EC":      {k.ec, "ES256"},
	} {
		t.Run("signing_key_file "+name, func(t *testing.T) {
			c := fixture(t)
			c.JWT = auth.JWTConfig{SigningKeyFile: writeFile(t, dir, name+".key", pemPrivate(t, tt.key)), SigningKeyID: "sign-" + name}
			a := MustNew(t, c, auth.Options{Getenv: fixtureEnv.Getenv, Now: clk.Now})
			tok, err := a.IssueToken("bc", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			parsed, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
			if parsed.Method.Alg() != tt.alg || parsed.Header["kid"] != "sign-"+name {
				t.Fatalf("header = %v, want alg %s kid sign-%s", parsed.Header, tt.alg, name)
			}
			if c, err := a.Authenticate(request("Bearer " + tok)); err != nil || c.Name != "bc" {
				t.Fatalf("Authenticate(issued) = %v, %v", c, err)
			}
		})
	}
}

// TestJWKSPinnedAlgorithm: with alg pinned in the config, JWKS keys of
// other families without their own alg are skipped, not errors.
func TestJWKSPinnedAlgorithm(t *testing.T) {
	k := mustKeys(t)
	cfg := fixture(t)
	cfg.JWT.Keys = []auth.JWTKey{{Algorithm: "ES256", JWKSFile: writeJWKS(t, t.TempDir(), "mixed.json",
		jwkOf(t, &k.rsa.PublicKey, "r", ""), jwkOf(t, &k.ec.PublicKey, "e", ""), jwkOf(t, k.ed.Public(), "d", ""))}}
	a := MustNew(t, cfg, auth.Options{Getenv: fixtureEnv.Getenv, Now: newClock().Now})
	if c, err := a.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, k.ec, "e", claims("soc", nil)))); err != nil || c.Name != "soc" {
		t.Fatalf("ES256 from mixed JWKS: %v, %v", c, err)
	}
	for name, tok := range map[string]string{
		"RS256": sign(t, jwt.SigningMethodRS256, k.rsa, "r", claims("soc", nil)),
		"EdDSA": sign(t, jwt.SigningMethodEdDSA, k.ed, "d", claims("soc", nil)),
	} {
		if _, err := a.Authenticate(request("Bearer " + tok)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("%s token with only ES256 pinned: error = %v, want ErrInvalidCredentials", name, err)
		}
	}
}

// TestJWTConsumerCheckedAtRequestTime: a valid token stops working when its
// consumer is disabled or removed by Reload.
func TestJWTConsumerCheckedAtRequestTime(t *testing.T) {
	cfg, e := jwtFixture(t)
	a := MustNew(t, cfg, auth.Options{Getenv: e.Getenv, Now: newClock().Now})
	tok, err := a.IssueToken("bc", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(request("Bearer " + tok)); err != nil {
		t.Fatal(err)
	}
	cfg.Consumers[1].Enabled = boolp(false)
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(request("Bearer " + tok)); !errors.Is(err, auth.ErrDisabled) {
		t.Fatalf("disabled: error = %v, want ErrDisabled", err)
	}
	cfg.Consumers = append(cfg.Consumers[:1], cfg.Consumers[2:]...)
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(request("Bearer " + tok)); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("removed: error = %v, want ErrInvalidCredentials", err)
	}
}

// TestJWTCacheBoundedByExp: a cached token is not accepted after exp plus
// leeway even when the cache TTL is longer.
func TestJWTCacheBoundedByExp(t *testing.T) {
	cfg, e := jwtFixture(t)
	clk := newClock()
	a := MustNew(t, cfg, auth.Options{Getenv: e.Getenv, Now: clk.Now, CacheTTL: 10 * time.Minute})
	tok := sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs-1", claims("soc", map[string]any{"exp": testTime.Add(10 * time.Second).Unix()}))
	if _, err := a.Authenticate(request("Bearer " + tok)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Second) // past exp, within leeway: verified again, accepted
	if _, err := a.Authenticate(request("Bearer " + tok)); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Advance(25 * time.Second) // exp + 65 s
	if _, err := a.Authenticate(request("Bearer " + tok)); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("after exp+leeway: error = %v, want ErrInvalidCredentials", err)
	}
}
