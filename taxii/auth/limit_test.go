package auth_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

func TestRateLimit(t *testing.T) {
	clk := newClock()
	var audit bytes.Buffer
	a := MustNew(t, auth.Config{}, auth.Options{Now: clk.Now, Audit: auth.NewAuditLog(&audit, clk.Now)})
	const addr = "192.0.2.7:40000"
	for i := 1; i <= 9; i++ {
		a.RecordFailure(addr)
		if !a.AllowAttempt(addr) {
			t.Fatalf("blocked after %d failures, want 10", i)
		}
	}
	a.RecordFailure("192.0.2.7:40001") // same host, other port: the 10th failure
	if a.AllowAttempt(addr) {
		t.Fatal("allowed after 10 failures within a minute")
	}
	if got := a.BlockedFor("192.0.2.7"); got != auth.DefaultBlock {
		t.Fatalf("BlockedFor() = %v, want %v", got, auth.DefaultBlock)
	}
	if !a.AllowAttempt("192.0.2.8:1") {
		t.Fatal("another address is blocked")
	}
	if !strings.Contains(audit.String(), `"event":"login.blocked","remote":"192.0.2.7"`) {
		t.Fatalf("audit log = %q, want a login.blocked event", audit.String())
	}
	clk.Advance(auth.DefaultBlock - time.Second)
	if a.AllowAttempt(addr) {
		t.Fatal("allowed before the block ends")
	}
	clk.Advance(time.Second)
	if !a.AllowAttempt(addr) {
		t.Fatal("still blocked after the block ends")
	}
}

func TestRateLimitWindow(t *testing.T) {
	clk := newClock()
	a := MustNew(t, auth.Config{FailedLogins: auth.LimitConfig{MaxFailures: 3, Window: 10 * time.Second, Block: time.Minute}}, auth.Options{Now: clk.Now})
	for range 2 {
		a.RecordFailure("198.51.100.1:1")
	}
	clk.Advance(11 * time.Second) // the window restarts
	for range 2 {
		a.RecordFailure("198.51.100.1:1")
	}
	if !a.AllowAttempt("198.51.100.1:1") {
		t.Fatal("blocked by failures from an earlier window")
	}
	a.RecordFailure("198.51.100.1:1")
	if got := a.BlockedFor("198.51.100.1:1"); got != time.Minute {
		t.Fatalf("BlockedFor() = %v, want 1m", got)
	}
}

func TestRateLimitIPv6Prefix(t *testing.T) {
	a := MustNew(t, auth.Config{FailedLogins: auth.LimitConfig{MaxFailures: 2}}, auth.Options{Now: newClock().Now})
	a.RecordFailure("[2001:db8:1:2::1]:443")
	a.RecordFailure("[2001:db8:1:2:ffff::9]:443") // same /64
	if a.AllowAttempt("[2001:db8:1:2::77]:1") {
		t.Fatal("another address of the same /64 is allowed")
	}
	if !a.AllowAttempt("[2001:db8:1:3::1]:1") {
		t.Fatal("another /64 is blocked")
	}
	a.RecordFailure("[::ffff:192.0.2.1]:1") // IPv4-mapped counts as IPv4
	a.RecordFailure("192.0.2.1:2")
	if a.AllowAttempt("192.0.2.1") {
		t.Fatal("IPv4-mapped and IPv4 failures counted apart")
	}
}

// TestRateLimitBounded: the tracked addresses are bounded; the least
// recently failing address is forgotten first.
func TestRateLimitBounded(t *testing.T) {
	a := MustNew(t, auth.Config{FailedLogins: auth.LimitConfig{MaxFailures: 1, MaxAddresses: 3}}, auth.Options{Now: newClock().Now})
	a.RecordFailure("10.0.0.1:1")
	a.RecordFailure("10.0.0.2:1")
	a.RecordFailure("10.0.0.3:1")
	if a.AllowAttempt("10.0.0.1") {
		t.Fatal("10.0.0.1 not blocked")
	}
	a.RecordFailure("10.0.0.4:1") // evicts 10.0.0.1
	if !a.AllowAttempt("10.0.0.1") {
		t.Fatal("10.0.0.1 still tracked beyond max_addresses")
	}
	for _, addr := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		if a.AllowAttempt(addr) {
			t.Fatalf("%s forgotten, want it blocked", addr)
		}
	}
	// Reload with a smaller bound trims the oldest entries and keeps counts.
	if err := a.Reload(auth.Config{FailedLogins: auth.LimitConfig{MaxFailures: 1, MaxAddresses: 1}}); err != nil {
		t.Fatal(err)
	}
	if a.AllowAttempt("10.0.0.4") || !a.AllowAttempt("10.0.0.2") {
		t.Fatal("Reload did not keep the most recent address only")
	}
}

// TestAuthenticateAppliesLimit: Authenticate counts invalid credentials per
// client address and refuses a blocked address without checking anything.
func TestAuthenticateAppliesLimit(t *testing.T) {
	clk := newClock()
	var hashes atomic.Int64
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv, Now: clk.Now, OnSlowHash: func() { hashes.Add(1) }})
	const attacker, other = "203.0.113.5:1000", "203.0.113.6:1000"
	for i := range auth.DefaultMaxFailures {
		if _, err := a.Authenticate(requestFrom(basic("Basic", "bc", fmt.Sprintf("guess-%d", i)), attacker)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("guess %d: error = %v, want ErrInvalidCredentials", i, err)
		}
	}
	before := hashes.Load()
	if _, err := a.Authenticate(requestFrom(basic("Basic", "bc", "bc-pw"), attacker)); !errors.Is(err, auth.ErrTooManyAttempts) {
		t.Fatalf("right password from a blocked address: error = %v, want ErrTooManyAttempts", err)
	}
	if _, err := a.AuthenticateMISP(requestFrom(fixtureEnv["SOC_MISP_KEY"], attacker)); !errors.Is(err, auth.ErrTooManyAttempts) {
		t.Fatalf("MISP key from a blocked address: error = %v, want ErrTooManyAttempts", err)
	}
	if hashes.Load() != before {
		t.Fatal("a blocked request ran a password hash")
	}
	if _, err := a.Authenticate(requestFrom("", attacker)); !errors.Is(err, auth.ErrNoCredentials) {
		t.Fatalf("no credentials from a blocked address: error = %v, want ErrNoCredentials (the server decides)", err)
	}
	if c, err := a.Authenticate(requestFrom(basic("Basic", "bc", "bc-pw"), other)); err != nil || c.Name != "bc" {
		t.Fatalf("another address: %v, %v", c, err)
	}
	for range 2 * auth.DefaultMaxFailures { // disabled is not a failed login
		if _, err := a.Authenticate(requestFrom(basic("Basic", "off", "off-secret-pw"), other)); !errors.Is(err, auth.ErrDisabled) {
			t.Fatalf("disabled: error = %v, want ErrDisabled", err)
		}
	}
	clk.Advance(auth.DefaultBlock)
	if c, err := a.Authenticate(requestFrom(basic("Basic", "bc", "bc-pw"), attacker)); err != nil || c.Name != "bc" {
		t.Fatalf("after the block: %v, %v", c, err)
	}
}

func TestAuthenticateMISP(t *testing.T) {
	a := MustNew(t, fixture(t), auth.Options{Getenv: fixtureEnv.Getenv, Now: newClock().Now})
	for name, tt := range map[string]struct {
		header   string
		wantName string
		wantErr  error
	}{
		"raw key":        {fixtureEnv["SOC_MISP_KEY"], "soc", nil},
		"wrong key":      {"ffffffffffffffffffffffffffffffffffffffff", "", auth.ErrInvalidCredentials},
		"no header":      {"", "", auth.ErrNoCredentials},
		"Basic is wrong": {basic("Basic", "soc", "soc-secret-pw"), "", auth.ErrInvalidCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := a.AuthenticateMISP(request(tt.header))
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("AuthenticateMISP() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.Name != tt.wantName {
				t.Fatalf("AuthenticateMISP() = %s, want %s", c.Name, tt.wantName)
			}
		})
	}
}
