package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// maltiverseStandIn serves the real Maltiverse IP document for its address
// (read from ../shared) and 404 for any other, counting the lookups.
func maltiverseStandIn(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	body, err := os.ReadFile("../../../shared/testdata/providers/maltiverse/ip_110.189.222.98.json")
	if err != nil {
		t.Skipf("../shared not available: %v", err)
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer mv-key" {
			http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		n.Add(1)
		if r.URL.Path != "/ip/110.189.222.98" {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestExplainEnrich: explain --enrich looks a value no feed reported up at
// the configured Maltiverse feed (a stand-in replaying the real answer), the
// answer enters the pool as that feed's observation and explain scores it; a
// second run answers from the cache without a request; a value Maltiverse
// does not know stays out of the pool.
func TestExplainEnrich(t *testing.T) {
	mv, lookups := maltiverseStandIn(t)
	cfg, _ := testConfig(t, `feeds:
  - {name: mv, provider: maltiverse, reliability: B, options: {collection: c1, api_key_env: MV_KEY, max_retries: -1, base_url: "`+mv.URL+`"}}
`)
	env := map[string]string{"MV_KEY": "mv-key"}
	out, errOut, err := runVerb(t, env, (*Main).runExplain, "--config", cfg, "--enrich", "110.189.222.98")
	if err != nil {
		t.Fatalf("explain --enrich: %v\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{"enrich: ", "ipv4-addr 110.189.222.98\n", "\n  mv (maltiverse): reliability 80"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain --enrich: no %q in\n%s", want, out)
		}
	}
	if lookups.Load() != 1 {
		t.Errorf("%d lookups, want 1", lookups.Load())
	}
	again, _, err := runVerb(t, env, (*Main).runExplain, "--config", cfg, "--enrich", "110.189.222.98")
	if err != nil || lookups.Load() != 1 || !strings.Contains(again, "cached") {
		t.Errorf("second explain --enrich: %v, %d lookups (want 1, from the cache):\n%s", err, lookups.Load(), again)
	}
	out, _, err = runVerb(t, env, (*Main).runExplain, "--config", cfg, "--enrich", "198.51.100.99")
	if err == nil || !strings.Contains(out, "not found") {
		t.Errorf("explain --enrich of an unknown value: %v; want not found at the provider and not in the pool:\n%s", err, out)
	}
}

// TestServeSightingEnriches: an internal sighting of a value no feed has
// reported makes serve look it up (the Maltiverse stand-in), and the answer
// enters the pool as the Maltiverse feed's report; a sighting of a value the
// pool knows spends no lookup.
func TestServeSightingEnriches(t *testing.T) {
	mv, lookups := maltiverseStandIn(t)
	cfg, _ := testConfig(t, `feeds:
  - {name: mv, provider: maltiverse, reliability: B, options: {collection: c1, api_key_env: MV_KEY, max_retries: -1, base_url: "`+mv.URL+`"}}
consumers:
  - {name: edr, password_env: EDR_PASSWORD, read: ["*"], sightings: true}
`)
	env := map[string]string{"MV_KEY": "mv-key", "EDR_PASSWORD": "edr-secret"}
	base := startServe(t, cfg, env)
	post := func(value string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/intel/sightings/", strings.NewReader(`[{"value":"`+value+`","count":2}]`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.SetBasicAuth("edr", "edr-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST sightings of %s: %d", value, resp.StatusCode)
		}
	}
	post("110.189.222.98")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, err := run(t, env, "explain", "--config", cfg, "110.189.222.98")
		if err == nil && strings.Contains(out, "mv (maltiverse)") && strings.Contains(out, "sightings: 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sighted value was not enriched into the pool: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d lookups after one sighting, want 1", n)
	}
	post("110.189.222.98") // now known to the pool: no lookup
	time.Sleep(500 * time.Millisecond)
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d lookups after a sighting of a known value, want still 1", n)
	}
}
