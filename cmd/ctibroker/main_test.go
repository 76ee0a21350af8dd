package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
	"github.com/ctibroker/ctibroker/stix"
	"github.com/ctibroker/ctibroker/storage/mongo"
)

// run runs the binary's Main in-process and returns its exit error and output.
func run(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	m := NewMain(&out, &errb)
	m.Getenv = func(k string) string { return env[k] }
	err := m.Run(context.Background(), args)
	return out.String(), errb.String(), err
}

func TestValidateSample(t *testing.T) {
	out, _, err := run(t, nil, "validate", "../../examples/stix/sample-bundle.json")
	if err != nil {
		t.Fatalf("validate sample: %v\n%s", err, out)
	}
}

func TestValidateReportsFindings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	// created after modified, and a created_by_ref that is not an identity.
	obj := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
"created":"2026-01-02T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","created_by_ref":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
"pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(bad, []byte(obj), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, nil, "validate", bad)
	if code, ok := err.(exitError); !ok || code != 1 {
		t.Fatalf("validate bad object: err = %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{"modified", "created_by_ref", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidatePattern(t *testing.T) {
	if _, _, err := run(t, nil, "validate", "--pattern", "[ipv4-addr:value = '203.0.113.1']"); err != nil {
		t.Fatalf("valid pattern: %v", err)
	}
	out, _, err := run(t, nil, "validate", "--pattern", "[ipv4-addr:value = '203.0.113.1'")
	if code, ok := err.(exitError); !ok || code != 1 || !strings.Contains(out, "column") {
		t.Fatalf("invalid pattern: err = %v, out %q; want exit 1 naming the column", err, out)
	}
}

func TestUnknownVerb(t *testing.T) {
	_, errOut, err := run(t, nil, "frobnicate")
	if code, ok := err.(exitError); !ok || code != 2 || !strings.Contains(errOut, "unknown verb") {
		t.Fatalf("unknown verb: err = %v, stderr %q", err, errOut)
	}
}

func TestConfigCheck(t *testing.T) {
	env := map[string]string{"SOC_PASSWORD": "pw", "SOC_MISP_KEY": "k"}
	out, _, err := run(t, env, "config", "check", "../../examples/ctibroker.yaml")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("config check example: %v %s", err, out)
	}
	// A missing secret is named.
	_, _, err = run(t, map[string]string{}, "config", "check", "../../examples/ctibroker.yaml")
	if err == nil || !strings.Contains(err.Error(), "SOC_PASSWORD") {
		t.Fatalf("config check without SOC_PASSWORD: err = %v, want it named", err)
	}
	// Unknown keys are errors.
	dir := t.TempDir()
	b, _ := os.ReadFile("../../examples/ctibroker.yaml")
	bad := filepath.Join(dir, "c.yaml")
	os.WriteFile(bad, append(b, []byte("colections: []\n")...), 0o600)
	_, _, err = run(t, env, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), "colections") {
		t.Fatalf("config check with unknown key: err = %v, want it named", err)
	}
	// An enrich block on a feed whose provider cannot look values up is named.
	os.WriteFile(bad, bytes.Replace(b, []byte("    interval: 1h\n    reliability: B"), []byte("    interval: 1h\n    enrich: {per_day: 10}\n    reliability: B"), 1), 0o600)
	_, _, err = run(t, env, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), `feeds[0] "sample-stix": enrich: provider stix cannot look values up`) {
		t.Fatalf("config check with enrich on a stix feed: err = %v, want it named", err)
	}
}

// TestServeSample runs the README's run command in-process: serve with the
// example config on a fresh embedded store, then reads the seeded collection.
func TestServeSample(t *testing.T) {
	testServeSample(t, "embedded:"+filepath.Join(t.TempDir(), "data"))
}

// TestServeSampleMongo is TestServeSample on a MongoDB store (a fresh database
// on the server named by CTIBROKER_TEST_MONGODB_URI).
func TestServeSampleMongo(t *testing.T) {
	uri, _ := mongo.TestURI(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	db := mongo.TempDatabase()
	u.Path = "/" + db
	t.Cleanup(func() { mongo.DropTestDatabase(uri, db) })
	testServeSample(t, u.String())
}

func testServeSample(t *testing.T, store string) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../examples/ctibroker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "store: embedded:./data", "store: "+store, 1)
	cfg = strings.Replace(cfg, "interval: 1h", "interval: 1m", 1) // first pull within 6 s
	cfg = strings.Replace(cfg, "file: stix/sample-bundle.json", "file: "+mustAbs(t, "../../examples/stix/sample-bundle.json"), 1)
	cfg = strings.Replace(cfg, "files: [examples/stix/sample-bundle.json]", "files: ["+mustAbs(t, "../../examples/stix/sample-bundle.json")+"]", 1)
	cfgPath := filepath.Join(dir, "ctibroker.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	m := NewMain(pw, io.Discard)
	m.Getenv = func(k string) string {
		return map[string]string{"SOC_PASSWORD": "s3cret", "SOC_MISP_KEY": "k", "CTIBROKER_CURSOR_KEY": "0123456789abcdef0123"}[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0"})
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var discovery string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "discovery: "); ok {
			discovery = u
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if discovery == "" {
		t.Fatal("serve printed no discovery URL")
	}
	get := func(url, user, pw string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	if resp, _ := get(discovery, "soc", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
	}
	base := strings.TrimSuffix(discovery, "/taxii2/")
	resp, body := get(base+"/intel/collections/9d0e8f4a-6b2c-4e1f-8a3d-5c7b9e2f1a04/objects/", "soc", "s3cret")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("objects: status %d: %s", resp.StatusCode, body)
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	sample, _ := os.ReadFile("../../examples/stix/sample-bundle.json")
	var bundle struct {
		Objects []json.RawMessage `json:"objects"`
	}
	json.Unmarshal(sample, &bundle)
	if len(env.Objects) != len(bundle.Objects) || len(env.Objects) == 0 {
		t.Fatalf("served %d objects, the sample has %d", len(env.Objects), len(bundle.Objects))
	}

	// The sample feed is pulled into the pool, which the example serves: one
	// ctibroker indicator per value of the sample's simple-pattern indicators.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := get(base+"/intel/collections/6f1c9b2e-7d4a-4b8e-a2c5-0e9d8f7a6b53/objects/?match[type]=indicator", "soc", "s3cret")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("pool objects: status %d: %s", resp.StatusCode, body)
		}
		var pool struct {
			Objects []struct {
				CreatedByRef string `json:"created_by_ref"`
				Pattern      string `json:"pattern"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(body, &pool); err != nil {
			t.Fatal(err)
		}
		// The feed's own indicators are kept byte-exact next to ctibroker's.
		authored := map[string]bool{}
		for _, o := range pool.Objects {
			if o.CreatedByRef == "identity--5f0b0d3e-2a7c-4f55-9d8e-1c2b3a4d5e6f" {
				authored[o.Pattern] = true
			}
		}
		if len(authored) == 6 {
			break
		}
		if len(authored) > 6 || time.Now().After(deadline) {
			t.Fatalf("pool holds %d ctibroker indicators (%v), want 6: one per sample value", len(authored), authored)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Curation publishes them, scored, into the SOC's curated collection; the
	// example's sample feed keeps its (dated) values valid, so none of them
	// is served expired.
	for {
		resp, body := get(base+"/intel/collections/soc/objects/?match[type]=indicator", "soc", "s3cret")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("soc objects: status %d: %s", resp.StatusCode, body)
		}
		var soc struct {
			Objects []struct {
				Pattern    string          `json:"pattern"`
				ValidUntil stix.Timestamp  `json:"valid_until"`
				Extensions json.RawMessage `json:"extensions"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(body, &soc); err != nil {
			t.Fatal(err)
		}
		live := map[string]bool{}
		for _, o := range soc.Objects {
			if o.ValidUntil.IsZero() || o.ValidUntil.Time.Before(time.Now()) {
				t.Fatalf("soc serves %s with valid_until %v: the sample expired", o.Pattern, o.ValidUntil)
			}
			if !bytes.Contains(o.Extensions, []byte(scoring.ExtensionID)) {
				t.Fatalf("soc serves %s without the risk score extension", o.Pattern)
			}
			live[o.Pattern] = true
		}
		if len(live) == 6 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("soc serves %d live indicators (%v), want the 6 sample values", len(live), live)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestServePullsFeeds: serve pulls a configured feed on its schedule and
// reports the pull in /metrics.
func TestServePullsFeeds(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../examples/ctibroker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "store: embedded:./data", "store: embedded:"+filepath.Join(dir, "data"), 1)
	cfg = strings.Replace(cfg, "file: stix/sample-bundle.json", "file: "+mustAbs(t, "../../examples/stix/sample-bundle.json"), 1)
	cfg = strings.Replace(cfg, "files: [examples/stix/sample-bundle.json]", "files: ["+mustAbs(t, "../../examples/stix/sample-bundle.json")+"]", 1)
	cfg = strings.Replace(cfg, "interval: 1h", "interval: 200ms", 1)
	cfgPath := filepath.Join(dir, "ctibroker.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, cfgPath, map[string]string{"SOC_PASSWORD": "s3cret"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `ctibroker_feed_last_success_timestamp_seconds{feed="sample-stix"}`) {
			if !strings.Contains(string(body), `ctibroker_feed_objects_total{feed="sample-stix",outcome="new"}`) {
				t.Fatalf("metrics lack the feed's object counts:\n%s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful pull of sample-stix in /metrics after 20 s:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServe runs serve in-process on a free loopback port until the test
// ends and returns the server's base URL.
func startServe(t *testing.T, cfgPath string, env map[string]string) string {
	t.Helper()
	return startServeAt(t, cfgPath, env, nil)
}

// startServeAt is startServe with the clock now (nil: time.Now), for dated corpora.
func startServeAt(t *testing.T, cfgPath string, env map[string]string, now func() time.Time) string {
	t.Helper()
	pr, pw := io.Pipe()
	m := NewMain(pw, io.Discard)
	m.Getenv = func(k string) string { return env[k] }
	m.Now = now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0"})
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "discovery: "); ok {
			go io.Copy(io.Discard, pr)
			return strings.TrimSuffix(u, "/taxii2/")
		}
	}
	t.Fatal("serve printed no discovery URL")
	return ""
}

// TestTokenIssue: a token printed by `token issue` authenticates its consumer
// at serve, and a tampered one does not.
func TestTokenIssue(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../examples/ctibroker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "store: embedded:./data", "store: embedded:"+filepath.Join(dir, "data"), 1)
	cfg = strings.Replace(cfg, "file: stix/sample-bundle.json", "file: "+mustAbs(t, "../../examples/stix/sample-bundle.json"), 1)
	cfg += "jwt:\n  keys:\n    - {kid: k1, alg: HS256, secret_env: JWT_SECRET}\n"
	cfgPath := filepath.Join(dir, "ctibroker.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SOC_PASSWORD": "s3cret", "JWT_SECRET": "0123456789abcdef0123456789abcdef-secret"}
	out, _, err := run(t, env, "token", "issue", "--config", cfgPath, "--consumer", "soc", "--ttl", "1h")
	if err != nil {
		t.Fatalf("token issue: %v", err)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token issue printed %q, want a JWT", out)
	}
	if _, _, err := run(t, env, "token", "issue", "--config", cfgPath, "--consumer", "nobody"); err == nil {
		t.Fatal("token issue for an unknown consumer succeeded")
	}
	base := startServe(t, cfgPath, env)
	status := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/intel/collections/", nil)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(tok); got != http.StatusOK {
		t.Fatalf("collections with the issued token: status %d, want 200", got)
	}
	if got := status(tok[:len(tok)-2] + "xx"); got != http.StatusUnauthorized {
		t.Fatalf("collections with a tampered token: status %d, want 401", got)
	}
}

// TestServeMISPSync: a MISP server-sync push to serve lands in the configured
// inbox and its to_ids values reach the pool as ctibroker indicators.
func TestServeMISPSync(t *testing.T) {
	dir := t.TempDir()
	cfgPath := exampleConfig(t, dir)
	b, _ := os.ReadFile(cfgPath)
	cfg := strings.Replace(string(b), "    password_env: SOC_PASSWORD\n", "    password_env: SOC_PASSWORD\n    misp_key_env: SOC_MISP_KEY\n", 1)
	cfg += "misp_sync: {collection: 3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "0123456789abcdef0123456789abcdef01234567"
	base := startServe(t, cfgPath, map[string]string{"SOC_PASSWORD": "s3cret", "SOC_MISP_KEY": key})
	event, err := os.ReadFile("../../ingest/misp/testdata/sync_push/input.json")
	if err != nil {
		t.Fatal(err)
	}
	misp := func(method, path string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", key)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, body := misp("GET", "/servers/getVersion.json", nil); code != 200 || !strings.Contains(body, "perm_sync") {
		t.Fatalf("getVersion: %d %s", code, body)
	}
	if code, body := misp("POST", "/events/add/metadata:1", event); code != 200 {
		t.Fatalf("events/add: %d %s", code, body)
	}
	// The event's live to_ids domain is a ctibroker indicator in the pool.
	const want = "[domain-name:value = 'mail-gov.example.de']"
	req, _ := http.NewRequest("GET", base+"/intel/collections/"+poolColl+"/objects/?match[type]=indicator", nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.SetBasicAuth("soc", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
		t.Fatalf("pool after the MISP push (status %d) lacks %s:\n%.2000s", resp.StatusCode, want, body)
	}
	// A re-push of the same event version is refused as not newer.
	if code, _ := misp("POST", "/events/add/metadata:1", event); code != http.StatusForbidden {
		t.Fatalf("re-push of the same event: status %d, want 403", code)
	}
}

// TestConformanceAgainstServe runs `ctibroker conformance` against `ctibroker
// serve` on the example config: every check passes.
func TestConformanceAgainstServe(t *testing.T) {
	dir := t.TempDir()
	cfgPath := exampleConfig(t, dir)
	env := map[string]string{"SOC_PASSWORD": "s3cret", "CTIBROKER_CONFORMANCE_PASSWORD": "s3cret"}
	base := startServe(t, cfgPath, env)
	out, errOut, err := run(t, env, "conformance", "--url", base+"/taxii2/", "--user", "soc",
		"--collection", "3b5c2a7e-1f4d-4c8e-9a61-2d7f0c9e8b11")
	if err != nil {
		t.Fatalf("conformance against serve: %v\n%s\n%s", err, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	var passed, failed int
	if _, err := fmt.Sscanf(last, "%d passed, %d failed", &passed, &failed); err != nil {
		t.Fatalf("last line %q: %v", last, err)
	}
	if failed != 0 || passed < 70 {
		t.Fatalf("conformance: %s\n%s", last, out)
	}
}
