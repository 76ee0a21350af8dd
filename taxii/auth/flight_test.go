package auth_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/crypto/bcrypt"

	"github.com/ctibroker/ctibroker/taxii/auth"
)

// TestConcurrentSameCredential: eight clients presenting the same uncached
// credential at once cost one bcrypt; the others wait for its result.
func TestConcurrentSameCredential(t *testing.T) {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "bc", PasswordHash: bcryptHash(t, "bc-pw", bcrypt.MinCost)}}}
	synctest.Test(t, func(t *testing.T) {
		var hashes atomic.Int64
		release := make(chan struct{})
		a := MustNew(t, cfg, auth.Options{OnSlowHash: func() {
			hashes.Add(1)
			<-release // hold the first computation until every client waits
		}})
		h := basic("Basic", "bc", "bc-pw")
		var wg sync.WaitGroup
		var ok atomic.Int64
		client := func() {
			if c, err := a.Authenticate(request(h)); err == nil && c.Name == "bc" {
				ok.Add(1)
			}
		}
		wg.Go(client)
		synctest.Wait() // the first client is inside the hash
		for range 7 {
			wg.Go(client)
		}
		synctest.Wait() // every other client is blocked
		if got := hashes.Load(); got != 1 {
			t.Fatalf("slow hashes while 8 clients wait = %d, want 1", got)
		}
		close(release)
		wg.Wait()
		if ok.Load() != 8 || hashes.Load() != 1 {
			t.Fatalf("%d clients authenticated with %d hashes, want 8 with 1", ok.Load(), hashes.Load())
		}
	})
}

// TestConcurrentWrongPasswords: different failing credentials are each
// checked (failures are neither cached nor shared).
func TestConcurrentWrongPasswords(t *testing.T) {
	cfg := auth.Config{Consumers: []auth.ConsumerConfig{{Name: "bc", PasswordHash: bcryptHash(t, "bc-pw", bcrypt.MinCost)}}}
	var hashes atomic.Int64
	a := MustNew(t, cfg, auth.Options{OnSlowHash: func() { hashes.Add(1) }})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := a.Authenticate(request(basic("Basic", "bc", string(rune('a'+i))))); err == nil {
				t.Error("wrong password accepted")
			}
		})
	}
	wg.Wait()
	if hashes.Load() != 6 {
		t.Fatalf("slow hashes = %d, want 6", hashes.Load())
	}
}
