package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/taxii/auth"
)

func TestHashPassword(t *testing.T) {
	h1, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h1) {
		t.Fatalf("HashPassword() = %q, want an argon2id PHC string", h1)
	}
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := auth.HashPassword(""); err == nil {
		t.Fatal("HashPassword(\"\") error = nil")
	}
	var hashes atomic.Int64
	a := MustNew(t, auth.Config{Consumers: []auth.ConsumerConfig{{Name: "u", PasswordHash: h1}}},
		auth.Options{OnSlowHash: func() { hashes.Add(1) }})
	if c, err := a.Authenticate(request(basic("Basic", "u", "correct horse"))); err != nil || c.Name != "u" {
		t.Fatalf("Authenticate(HashPassword output) = %v, %v", c, err)
	}
	if _, err := a.Authenticate(request(basic("Basic", "u", "correct horsE"))); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: error = %v", err)
	}
	if hashes.Load() != 2 {
		t.Fatalf("slow hashes = %d, want 2", hashes.Load())
	}
}

func TestNewAPIKey(t *testing.T) {
	k1, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := auth.NewAPIKey()
	if len(k1) != 43 || k1 == k2 || strings.ContainsAny(k1, ".+/=") {
		t.Fatalf("NewAPIKey() = %q, %q; want two distinct 43-character base64url keys", k1, k2)
	}
	a := MustNew(t, auth.Config{Consumers: []auth.ConsumerConfig{{Name: "t", APIKeyHash: auth.HashAPIKey(k1)}}}, auth.Options{})
	if c, err := a.Authenticate(request("Token " + k1)); err != nil || c.Name != "t" {
		t.Fatalf("Token NewAPIKey(): %v, %v", c, err)
	}
	if got := auth.HashAPIKey("abc"); got != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashAPIKey(abc) = %s", got)
	}
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]stix.TLP{
		"clear": stix.TLPClear, "WHITE": stix.TLPClear, "TLP:GREEN": stix.TLPGreen, "amber": stix.TLPAmber,
		"Amber+Strict": stix.TLPAmberStrict, "tlp:red": stix.TLPRed,
	} {
		got, err := auth.ParseTLP(in)
		if err != nil || got != want {
			t.Errorf("ParseTLP(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "tlp:", "amber-strict", "orange", "tlp:ex:chr"} {
		if _, err := auth.ParseTLP(bad); err == nil {
			t.Errorf("ParseTLP(%q) error = nil", bad)
		}
	}
	for in, want := range map[string]auth.ShareLevel{"community": auth.ShareCommunity, "Partners": auth.SharePartners, "internal": auth.ShareInternal} {
		got, err := auth.ParseShareLevel(in)
		if err != nil || got != want || strings.ToLower(in) != got.String() {
			t.Errorf("ParseShareLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := auth.ParseShareLevel("public"); err == nil {
		t.Error("ParseShareLevel(public) error = nil")
	}
}
