package auth_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

// root mimics cmd's root config: auth.Config inlined beside other sections.
type root struct {
	Listen      string      `yaml:"listen"`
	Store       string      `yaml:"store"`
	Identity    any         `yaml:"identity"`
	APIRoots    any         `yaml:"api_roots"`
	Collections any         `yaml:"collections"`
	Auth        auth.Config `yaml:",inline"`
}

func decodeStrict(t *testing.T, doc string) root {
	t.Helper()
	var r root
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r
}

// issueExample is the minimal config of issue 5, which must load unchanged.
const issueExample = `
listen: 127.0.0.1:8080
store: embedded:./data
identity: {name: ACME SOC ctibroker, id: identity--5f0b0d3e-2a7c-4f55-9d8e-1c2b3a4d5e6f}
api_roots:
  - {name: intel, title: ACME curated intelligence}
collections:
  - {id: 3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11, api_root: intel, title: Inbox, kind: stored, writable: true}
  - {id: 9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04, api_root: intel, title: Published, kind: stored}
consumers:
  - name: soc
    password_env: SOC_PASSWORD        # or password_hash: (bcrypt/argon2id), api_key_env:, jwt subject
    misp_key_env: SOC_MISP_KEY        # MISP sync key (used by the MISP issue)
    read: [3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11, 9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04]
    write: [3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11]
`

func TestIssueExampleConfig(t *testing.T) {
	r := decodeStrict(t, issueExample)
	a := MustNew(t, r.Auth, auth.Options{Getenv: fixtureEnv.Getenv})
	c, err := a.Authenticate(request(basic("basic", "soc", "soc-secret-pw")))
	if err != nil || !c.CanWrite(inbox) || !c.CanRead(published) || c.CanWrite(published) {
		t.Fatalf("soc from the issue example: %+v, %v", c, err)
	}
	if c, err := a.AuthenticateMISPKey(fixtureEnv["SOC_MISP_KEY"]); err != nil || c.Name != "soc" {
		t.Fatalf("MISP key from the issue example: %v, %v", c, err)
	}
}

func TestFullConfig(t *testing.T) {
	hash, err := auth.HashPassword("partner-pw")
	if err != nil {
		t.Fatal(err)
	}
	doc := `
consumers:
  - name: partner
    password_hash: "` + hash + `"
    api_key_hash: "` + auth.HashAPIKey("partner-key") + `"
    jwt_subject: partner@idp.example
    read: ["*"]
    enabled: true
    max_share: partners
    max_tlp: amber+strict
  - name: retired
    password_env: OFF_PASSWORD
    enabled: false
  - name: ops
    api_key_env: TOOL_API_KEY
    admin: true
jwt:
  issuer: https://idp.example
  audience: ctibroker
  subject_claim: sub
  leeway: 30s
  keys:
    - {kid: hs-1, alg: HS256, secret_env: JWT_SECRET}
failed_logins: {max_failures: 5, window: 2m, block: 15m, max_addresses: 500}
`
	r := decodeStrict(t, doc)
	if got := r.Auth.FailedLogins; got != (auth.LimitConfig{MaxFailures: 5, Window: 2 * time.Minute, Block: 15 * time.Minute, MaxAddresses: 500}) {
		t.Fatalf("failed_logins = %+v", got)
	}
	if r.Auth.JWT.Leeway != 30*time.Second || r.Auth.JWT.Keys[0].SecretEnv != "JWT_SECRET" {
		t.Fatalf("jwt = %+v", r.Auth.JWT)
	}
	e := env{"JWT_SECRET": hsSecret, "OFF_PASSWORD": "x", "TOOL_API_KEY": "ops-key"}
	a := MustNew(t, r.Auth, auth.Options{Getenv: e.Getenv})
	p, _ := a.Consumer("partner")
	if p.MaxShare != auth.SharePartners || p.MaxTLP != stix.TLPAmberStrict || !p.CanRead("x") || p.CanWrite("x") {
		t.Fatalf("partner = %+v", p)
	}
	if c, err := a.Authenticate(request("Token ops-key")); err != nil || !c.Admin {
		t.Fatalf("ops = %v, %v", c, err)
	}

	var bad root
	dec := yaml.NewDecoder(bytes.NewReader([]byte("consumers:\n  - name: x\n    pasword_env: TYPO\n")))
	dec.KnownFields(true)
	if err := dec.Decode(&bad); err == nil || !strings.Contains(err.Error(), "pasword_env") {
		t.Fatalf("unknown key: error = %v, want one naming pasword_env", err)
	}
}

func TestCheckGrants(t *testing.T) {
	known := func(id string) bool { return id == inbox || id == published }
	if err := fixture(t).CheckGrants(known); err != nil {
		t.Fatalf("CheckGrants(fixture) = %v", err)
	}
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{
		{Name: "a", Read: []string{inbox, "typo-id"}},
		{Name: "b", Write: []string{"gone"}},
	}}
	err := cfg.CheckGrants(known)
	if err == nil {
		t.Fatal("CheckGrants() = nil, want errors")
	}
	for _, want := range []string{`consumer "a": read[1]: unknown collection "typo-id"`, `consumer "b": write[0]: unknown collection "gone"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckGrants() = %q, want it to contain %q", err, want)
		}
	}
}
