package auth_test

import (
	"bytes"
	"strings"
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
