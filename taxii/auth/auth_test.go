package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

const (
	inbox     = "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11"
	published = "9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04"
)

// secrets used by the fixture; tests check none of them leaks.
var fixtureEnv = env{
	"SOC_PASSWORD":  "soc-secret-pw",
	"SOC_MISP_KEY":  "0123456789abcdef0123456789abcdef01234567",
	"TOOL_API_KEY":  "tool-key-0123456789",
	"OFF_PASSWORD":  "off-secret-pw",
	"PART_PASSWORD": "partner-pw",
}

func bcryptHash(tb testing.TB, pw string, cost int) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// argon2Hash builds a PHC string independently of auth.HashPassword, with
// small parameters to keep tests fast.
func argon2Hash(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// fixture is a configuration with one consumer per kind of credential.
func fixture(tb testing.TB) auth.Config {
	tb.Helper()
	return auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: "soc", PasswordEnv: "SOC_PASSWORD", MISPKeyEnv: "SOC_MISP_KEY",
			Read: []string{inbox, published}, Write: []string{inbox}},
		{Name: "bc", PasswordHash: bcryptHash(tb, "bc-pw", bcrypt.MinCost), Read: []string{published}},
		{Name: "argon", PasswordHash: argon2Hash("argon-pw"), Read: []string{published}},
		{Name: "tool", APIKeyEnv: "TOOL_API_KEY", Read: []string{"*"}},
		{Name: "shakey", APIKeyHash: auth.HashAPIKey("sha-key-abc")},
		{Name: "bckey", APIKeyHash: bcryptHash(tb, "bc-key-xyz", bcrypt.MinCost), MISPKeyHash: auth.HashAPIKey("misp-hashed-key")},
		{Name: "off", PasswordEnv: "OFF_PASSWORD", Enabled: boolp(false), Read: []string{inbox}},
		{Name: "partner", PasswordEnv: "PART_PASSWORD", MaxShare: "partners", MaxTLP: "green",
			JWTSubject: "partner@idp.example", Read: []string{published}},
		{Name: "root", PasswordHash: bcryptHash(tb, "root-pw", bcrypt.MinCost), Admin: true},
	}}
}

func TestAuthenticate(t *testing.T) {
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv, Now: newClock().Now})
	for name, tt := range map[string]struct {
		header     string
		wantName   string
		wantScheme auth.Scheme
		wantErr    error
	}{
		"no header":                     {"", "", "", auth.ErrNoCredentials},
		"blank header":                  {"   ", "", "", auth.ErrNoCredentials},
		"basic lowercase (MISP)":        {basic("basic", "soc", "soc-secret-pw"), "soc", auth.SchemeBasic, nil},
		"Basic":                         {basic("Basic", "soc", "soc-secret-pw"), "soc", auth.SchemeBasic, nil},
		"BASIC":                         {basic("BASIC", "soc", "soc-secret-pw"), "soc", auth.SchemeBasic, nil},
		"unpadded base64":               {"Basic " + base64.RawStdEncoding.EncodeToString([]byte("soc:soc-secret-pw")), "soc", auth.SchemeBasic, nil},
		"wrong env password":            {basic("Basic", "soc", "soc-secret-pX"), "", "", auth.ErrInvalidCredentials},
		"prefix of env password":        {basic("Basic", "soc", "soc-secret"), "", "", auth.ErrInvalidCredentials},
		"empty password":                {basic("Basic", "soc", ""), "", "", auth.ErrInvalidCredentials},
		"unknown user":                  {basic("Basic", "nobody", "soc-secret-pw"), "", "", auth.ErrInvalidCredentials},
		"bcrypt password":               {basic("Basic", "bc", "bc-pw"), "bc", auth.SchemeBasic, nil},
		"wrong bcrypt password":         {basic("Basic", "bc", "bc-pX"), "", "", auth.ErrInvalidCredentials},
		"argon2id password":             {basic("Basic", "argon", "argon-pw"), "argon", auth.SchemeBasic, nil},
		"wrong argon2id password":       {basic("Basic", "argon", "argon-pX"), "", "", auth.ErrInvalidCredentials},
		"other consumer's password":     {basic("Basic", "bc", "soc-secret-pw"), "", "", auth.ErrInvalidCredentials},
		"Basic with own API key":        {basic("Basic", "tool", "tool-key-0123456789"), "tool", auth.SchemeAPIKey, nil},
		"Basic API key, any user":       {basic("Basic", "misp", "tool-key-0123456789"), "tool", auth.SchemeAPIKey, nil},
		"Basic API key, empty user":     {basic("Basic", "", "sha-key-abc"), "shakey", auth.SchemeAPIKey, nil},
		"Basic key of other consumer":   {basic("Basic", "soc", "tool-key-0123456789"), "", "", auth.ErrInvalidCredentials},
		"Basic MISP key is no API key":  {basic("Basic", "x", "0123456789abcdef0123456789abcdef01234567"), "", "", auth.ErrInvalidCredentials},
		"Basic not base64":              {"Basic !!!not-base64!!!", "", "", auth.ErrInvalidCredentials},
		"Basic without colon":           {"Basic " + base64.StdEncoding.EncodeToString([]byte("socsoc-secret-pw")), "", "", auth.ErrInvalidCredentials},
		"Basic without value":           {"Basic", "", "", auth.ErrInvalidCredentials},
		"Token env key (taxii2-client)": {"Token tool-key-0123456789", "tool", auth.SchemeAPIKey, nil},
		"token lowercase":               {"token tool-key-0123456789", "tool", auth.SchemeAPIKey, nil},
		"Token sha256 key":              {"Token sha-key-abc", "shakey", auth.SchemeAPIKey, nil},
		"Token bcrypt key":              {"Token bc-key-xyz", "bckey", auth.SchemeAPIKey, nil},
		"Token unknown key":             {"Token nope-nope", "", "", auth.ErrInvalidCredentials},
		"Token password is no key":      {"Token soc-secret-pw", "", "", auth.ErrInvalidCredentials},
		"Bearer API key":                {"Bearer tool-key-0123456789", "tool", auth.SchemeAPIKey, nil},
		"Bearer JWT without keys":       {"Bearer aaa.bbb.ccc", "", "", auth.ErrInvalidCredentials},
		"disabled, right password":      {basic("Basic", "off", "off-secret-pw"), "", "", auth.ErrDisabled},
		"disabled, wrong password":      {basic("Basic", "off", "wrong"), "", "", auth.ErrInvalidCredentials},
		"unsupported scheme":            {"Digest username=\"soc\"", "", "", auth.ErrInvalidCredentials},
		"raw MISP key on TAXII":         {"0123456789abcdef0123456789abcdef01234567", "", "", auth.ErrInvalidCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := a.Authenticate(request(tt.header))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Authenticate() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if c != nil {
					t.Fatalf("Authenticate() = %+v with error %v, want nil consumer", c, err)
				}
				for k, v := range fixtureEnv {
					if strings.Contains(err.Error(), v) {
						t.Fatalf("error %q contains the secret of %s", err, k)
					}
				}
				return
			}
			if c.Name != tt.wantName || c.Scheme != tt.wantScheme || c.Anonymous {
				t.Fatalf("Authenticate() = %s/%s anonymous=%v, want %s/%s", c.Name, c.Scheme, c.Anonymous, tt.wantName, tt.wantScheme)
			}
		})
	}
}

func TestAuthenticateMISPKey(t *testing.T) {
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv})
	for name, tt := range map[string]struct {
		key      string
		wantName string
		wantErr  error
	}{
		"env key":             {"0123456789abcdef0123456789abcdef01234567", "soc", nil},
		"surrounding spaces":  {" 0123456789abcdef0123456789abcdef01234567 ", "soc", nil},
		"hashed key":          {"misp-hashed-key", "bckey", nil},
		"wrong key":           {"0123456789abcdef0123456789abcdef01234568", "", auth.ErrInvalidCredentials},
		"API key is no MISP":  {"tool-key-0123456789", "", auth.ErrInvalidCredentials},
		"password is no MISP": {"soc-secret-pw", "", auth.ErrInvalidCredentials},
		"empty":               {"", "", auth.ErrNoCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := a.AuthenticateMISPKey(tt.key)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("AuthenticateMISPKey() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (c.Name != tt.wantName || c.Scheme != auth.SchemeMISPKey) {
				t.Fatalf("AuthenticateMISPKey() = %s/%s, want %s/misp-key", c.Name, c.Scheme, tt.wantName)
			}
		})
	}
}

func TestGrants(t *testing.T) {
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv})
	get := func(name string) *auth.Consumer {
		c, ok := a.Consumer(name)
		if !ok {
			t.Fatalf("Consumer(%q) not found", name)
		}
		return c
	}
	for name, tt := range map[string]struct {
		consumer            string
		collection          string
		wantRead, wantWrite bool
	}{
		"soc reads and writes inbox": {"soc", inbox, true, true},
		"soc reads published only":   {"soc", published, true, false},
		"soc unknown collection":     {"soc", "other", false, false},
		"bc reads published":         {"bc", published, true, false},
		"bc cannot read inbox":       {"bc", inbox, false, false},
		"wildcard read":              {"tool", "any-collection", true, false},
		"no grants":                  {"shakey", inbox, false, false},
		"admin reads and writes all": {"root", "any-collection", true, true},
	} {
		t.Run(name, func(t *testing.T) {
			c := get(tt.consumer)
			if got := c.CanRead(tt.collection); got != tt.wantRead {
				t.Errorf("CanRead(%s) = %v, want %v", tt.collection, got, tt.wantRead)
			}
			if got := c.CanWrite(tt.collection); got != tt.wantWrite {
				t.Errorf("CanWrite(%s) = %v, want %v", tt.collection, got, tt.wantWrite)
			}
		})
	}
	soc, partner := get("soc"), get("partner")
	if soc.MaxShare != auth.ShareInternal || soc.MaxTLP != stix.TLPAmber {
		t.Errorf("soc defaults = %v/%v, want internal/amber", soc.MaxShare, soc.MaxTLP)
	}
	if partner.MaxShare != auth.SharePartners || partner.MaxTLP != stix.TLPGreen {
		t.Errorf("partner = %v/%v, want partners/green", partner.MaxShare, partner.MaxTLP)
	}
	for _, tt := range []struct {
		share auth.ShareLevel
		tlp   stix.TLP
		want  bool
	}{
		{auth.ShareCommunity, stix.TLPClear, true},
		{auth.SharePartners, stix.TLPGreen, true},
		{auth.ShareInternal, stix.TLPClear, false},
		{auth.ShareCommunity, stix.TLPAmber, false},
		{auth.ShareCommunity, stix.TLPNone, true}, // unmarked
	} {
		if got := partner.MayReceive(tt.share, tt.tlp); got != tt.want {
			t.Errorf("partner.MayReceive(%v, %v) = %v, want %v", tt.share, tt.tlp, got, tt.want)
		}
	}
	if got := fmt.Sprint(soc.ReadGrants(), soc.WriteGrants(), get("root").ReadGrants()); got != fmt.Sprint([]string{inbox, published}, []string{inbox}, []string{"*"}) {
		t.Errorf("grants = %s", got)
	}
	anon := auth.Anonymous()
	if !anon.Anonymous || anon.CanRead(inbox) || anon.CanWrite(inbox) || anon.MayReceive(auth.ShareCommunity, stix.TLPGreen) || !anon.MayReceive(auth.ShareCommunity, stix.TLPClear) {
		t.Errorf("Anonymous() = %+v, want no grants, community and TLP:CLEAR only", anon)
	}
	var nilConsumer *auth.Consumer
	if nilConsumer.CanRead(inbox) || nilConsumer.CanWrite(inbox) {
		t.Error("nil consumer has grants")
	}
	if got := a.Consumers(); strings.Join(got, ",") != "soc,bc,argon,tool,shakey,bckey,off,partner,root" {
		t.Errorf("Consumers() = %v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	c := func(cc auth.ConsumerConfig) auth.Config { return auth.Config{Consumers: []auth.ConsumerConfig{cc}} }
	for name, tt := range map[string]struct {
		cfg  auth.Config
		want []string // substrings of the error
	}{
		"missing env var":      {c(auth.ConsumerConfig{Name: "soc", PasswordEnv: "MISSING_PW"}), []string{`consumer "soc"`, "MISSING_PW", "password_env"}},
		"missing api key env":  {c(auth.ConsumerConfig{Name: "t", APIKeyEnv: "NO_KEY"}), []string{`consumer "t"`, "NO_KEY"}},
		"missing misp key env": {c(auth.ConsumerConfig{Name: "m", MISPKeyEnv: "NO_MISP"}), []string{`consumer "m"`, "NO_MISP", "misp_key_env"}},
		"env and hash":         {c(auth.ConsumerConfig{Name: "x", PasswordEnv: "SOC_PASSWORD", PasswordHash: argon2Hash("a")}), []string{"password_env", "password_hash", "not both"}},
		"bad hash":             {c(auth.ConsumerConfig{Name: "x", PasswordHash: "plaintext"}), []string{`consumer "x"`, "password_hash", "unsupported hash"}},
		"sha256 for password":  {c(auth.ConsumerConfig{Name: "x", PasswordHash: auth.HashAPIKey("k")}), []string{"password_hash", "API keys only"}},
		"short sha256":         {c(auth.ConsumerConfig{Name: "x", APIKeyHash: "sha256:abcd"}), []string{"api_key_hash", "64 hex"}},
		"bad bcrypt":           {c(auth.ConsumerConfig{Name: "x", PasswordHash: "$2b$10$short"}), []string{"password_hash", "bcrypt"}},
		"argon2 bad version":   {c(auth.ConsumerConfig{Name: "x", PasswordHash: strings.Replace(argon2Hash("a"), "v=19", "v=16", 1)}), []string{"argon2id", "v=19"}},
		"argon2 huge memory":   {c(auth.ConsumerConfig{Name: "x", PasswordHash: strings.Replace(argon2Hash("a"), "m=64", "m=99999999", 1)}), []string{"argon2id", "m above"}},
		"argon2 missing param": {c(auth.ConsumerConfig{Name: "x", PasswordHash: strings.Replace(argon2Hash("a"), "m=64,", "", 1)}), []string{"argon2id", "required"}},
		"no name":              {c(auth.ConsumerConfig{Read: []string{inbox}}), []string{"consumers[0]", "name: required"}},
		"colon in name":        {c(auth.ConsumerConfig{Name: "a:b"}), []string{"':'"}},
		"reserved name":        {c(auth.ConsumerConfig{Name: "anonymous"}), []string{"reserved"}},
		"bad max_share":        {c(auth.ConsumerConfig{Name: "x", MaxShare: "public"}), []string{`consumer "x"`, "max_share", "public"}},
		"bad max_tlp":          {c(auth.ConsumerConfig{Name: "x", MaxTLP: "orange"}), []string{"max_tlp", "orange"}},
		"empty collection id":  {c(auth.ConsumerConfig{Name: "x", Write: []string{inbox, ""}}), []string{"write[1]", "empty collection id"}},
		"duplicate name": {auth.Config{Consumers: []auth.ConsumerConfig{{Name: "a"}, {Name: "a"}}},
			[]string{`consumer "a"`, "declared twice"}},
		"duplicate api key": {auth.Config{Consumers: []auth.ConsumerConfig{{Name: "a", APIKeyEnv: "TOOL_API_KEY"}, {Name: "b", APIKeyHash: auth.HashAPIKey("tool-key-0123456789")}}},
			[]string{`consumer "b"`, `same key as consumer "a"`}},
		"duplicate jwt subject": {auth.Config{Consumers: []auth.ConsumerConfig{{Name: "a"}, {Name: "b", JWTSubject: "a"}}},
			[]string{`consumer "b"`, "jwt_subject"}},
		"negative limit": {auth.Config{FailedLogins: auth.LimitConfig{MaxFailures: -1}}, []string{"failed_logins"}},
		"several errors at once": {auth.Config{Consumers: []auth.ConsumerConfig{{Name: "a", PasswordEnv: "NO1"}, {Name: "b", MaxTLP: "x"}}},
			[]string{"NO1", `consumer "b"`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.New(tt.cfg, auth.Options{Getenv: fixtureEnv.Getenv})
			if err == nil {
				t.Fatal("New() error = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error = %q, want it to contain %q", err, w)
				}
			}
			for k, v := range fixtureEnv {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error contains the secret of %s", k)
				}
			}
		})
	}
}

func TestSkipConsumerSecrets(t *testing.T) {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "soc", PasswordEnv: "UNSET_PW"}}}
	a, err := auth.New(cfg, auth.Options{Getenv: env{}.Getenv, SkipConsumerSecrets: true})
	if err != nil {
		t.Fatalf("New(SkipConsumerSecrets) error = %v", err)
	}
	if _, err := a.Authenticate(request(basic("Basic", "soc", ""))); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("Authenticate() error = %v, want ErrInvalidCredentials", err)
	}
}

// TestCache counts bcrypt/argon2id computations through Options.OnSlowHash.
func TestCache(t *testing.T) {
	clk := newClock()
	var hashes atomic.Int64
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv, Now: clk.Now, OnSlowHash: func() { hashes.Add(1) }})
	step := func(header string, wantErr error, wantHashes int64) {
		t.Helper()
		_, err := a.Authenticate(request(header))
		if !errors.Is(err, wantErr) || (err != nil) != (wantErr != nil) {
			t.Fatalf("Authenticate() error = %v, want %v", err, wantErr)
		}
		if got := hashes.Load(); got != wantHashes {
			t.Fatalf("slow hashes = %d, want %d", got, wantHashes)
		}
	}
	good := basic("Basic", "bc", "bc-pw")
	step(good, nil, 1)
	step(good, nil, 1) // cached
	clk.Advance(59 * time.Second)
	step(good, nil, 1) // still cached
	clk.Advance(2 * time.Second)
	step(good, nil, 2) // expired after 60 s
	step(basic("Basic", "bc", "bc-pX"), auth.ErrInvalidCredentials, 3)
	step(basic("Basic", "bc", "bc-pX"), auth.ErrInvalidCredentials, 4) // failures are not cached
	step(basic("basic", "argon", "argon-pw"), nil, 5)
	step(basic("basic", "argon", "argon-pw"), nil, 5)
	step("Token bc-key-xyz", nil, 6)
	step("Token bc-key-xyz", nil, 6)
	step(basic("Basic", "anyone", "bc-key-xyz"), nil, 7) // other header, other cache entry
	step(basic("Basic", "anyone", "bc-key-xyz"), nil, 7)
	if err := a.Reload(fixture(t)); err != nil {
		t.Fatal(err)
	}
	before := hashes.Load()
	step(good, nil, before+1) // reload forgets the cache
}

func TestCacheHonoursDisable(t *testing.T) {
	cfg := fixture(t)
	a := MustNew(t, cfg, auth.Options{Getenv: fixtureEnv.Getenv})
	if _, err := a.Authenticate(request(basic("Basic", "bc", "bc-pw"))); err != nil {
		t.Fatal(err)
	}
	cfg.Consumers[1].Enabled = boolp(false)
	if err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(request(basic("Basic", "bc", "bc-pw"))); !errors.Is(err, auth.ErrDisabled) {
		t.Fatalf("after disabling: error = %v, want ErrDisabled", err)
	}
}

func TestReload(t *testing.T) {
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv})
	soc := basic("Basic", "soc", "soc-secret-pw")
	bad := fixture(t)
	bad.Consumers = append(bad.Consumers, auth.ConsumerConfig{Name: "new", PasswordEnv: "NOT_SET"})
	if err := a.Reload(bad); err == nil || !strings.Contains(err.Error(), "NOT_SET") {
		t.Fatalf("Reload(bad) error = %v, want one naming NOT_SET", err)
	}
	if c, err := a.Authenticate(request(soc)); err != nil || c.Name != "soc" {
		t.Fatalf("after failed reload: %v, %v; want the old config to stay", c, err)
	}
	good := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "new", PasswordEnv: "PART_PASSWORD", Read: []string{inbox}}}}
	if err := a.Reload(good); err != nil {
		t.Fatalf("Reload(good) error = %v", err)
	}
	if _, err := a.Authenticate(request(soc)); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("removed consumer: error = %v, want ErrInvalidCredentials", err)
	}
	c, err := a.Authenticate(request(basic("Basic", "new", "partner-pw")))
	if err != nil || c.Name != "new" || !c.CanRead(inbox) {
		t.Fatalf("new consumer: %v, %v", c, err)
	}
}

func TestContext(t *testing.T) {
	if _, ok := auth.ConsumerFrom(context.Background()); ok {
		t.Fatal("ConsumerFrom(empty) ok = true")
	}
	c := &auth.Consumer{Name: "soc"}
	got, ok := auth.ConsumerFrom(auth.NewContext(context.Background(), c))
	if !ok || got != c {
		t.Fatalf("ConsumerFrom() = %v, %v; want %v", got, ok, c)
	}
	if _, ok := auth.ConsumerFrom(auth.NewContext(context.Background(), nil)); ok {
		t.Fatal("ConsumerFrom(nil consumer) ok = true")
	}
}

func TestFailedLoginAudited(t *testing.T) {
	var buf bytes.Buffer
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv, Now: newClock().Now,
		Audit: auth.NewAuditLog(&buf, newClock().Now)})
	const from = "192.0.2.10:51234"
	a.Authenticate(requestFrom(basic("Basic", "soc", "guess-1"), from))
	a.Authenticate(requestFrom(basic("Basic", "guess-user", "guess-2"), from))
	a.Authenticate(requestFrom(basic("Basic", "soc", "soc-secret-pw"), from)) // success: not audited
	a.Authenticate(requestFrom("", from))                                     // no credentials: not audited
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("audit log has %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var ev auth.AuditEvent
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != auth.EventLoginFailed || ev.Consumer != "soc" || ev.Remote != "192.0.2.10" || !ev.Time.Equal(testTime) {
		t.Errorf("audit event = %+v", ev)
	}
	for _, secret := range []string{"guess-1", "guess-2", "guess-user", "soc-secret-pw"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("audit log contains %q:\n%s", secret, buf.String())
		}
	}
}

func TestChallenge(t *testing.T) {
	got := auth.Challenge()
	if !strings.HasPrefix(got, `Basic realm="ctibroker"`) || !strings.Contains(got, "Bearer") {
		t.Fatalf("Challenge() = %q, want Basic and Bearer challenges", got)
	}
}

// TestCacheBounded: the credential cache never grows beyond 10 000 entries;
// when full of live entries it starts over, so a credential cached before
// is verified again.
func TestCacheBounded(t *testing.T) {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "bc", PasswordHash: bcryptHash(t, "bc-pw", bcrypt.MinCost)}}}
	const n = 10000
	for i := range n {
		cfg.Consumers = append(cfg.Consumers, auth.ConsumerConfig{Name: fmt.Sprintf("k%d", i), APIKeyHash: auth.HashAPIKey(fmt.Sprintf("key-%d", i))})
	}
	var hashes atomic.Int64
	a := MustNew(t, cfg, auth.Options{Now: newClock().Now, OnSlowHash: func() { hashes.Add(1) }})
	bc := basic("Basic", "bc", "bc-pw")
	if _, err := a.Authenticate(request(bc)); err != nil {
		t.Fatal(err)
	}
	for i := range n - 2 { // fills the cache to n-1 entries
		if _, err := a.Authenticate(request(fmt.Sprintf("Token key-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Authenticate(request(bc)); err != nil || hashes.Load() != 1 {
		t.Fatalf("below the bound: err %v, %d hashes, want the cached entry (1 hash)", err, hashes.Load())
	}
	for i := n - 2; i < n; i++ { // reaches the bound
		if _, err := a.Authenticate(request(fmt.Sprintf("Token key-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Authenticate(request(bc)); err != nil || hashes.Load() != 2 {
		t.Fatalf("past the bound: err %v, %d hashes, want the entry dropped (2 hashes)", err, hashes.Load())
	}
}
