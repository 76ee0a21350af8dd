package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctibroker/ctibroker/scoring"
)

// Collection ids of the curated example.
const (
	socHighColl    = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	partnerNetColl = "8e2d3c4b-5a69-4788-9b0a-1c2d3e4f5a6b"
)

// curatedYAML is the curated part of the example configuration (appended to
// the evaluation corpus's config, which has the identity, the API root, the
// feeds and the scoring section): a SOC collection of every high or critical
// value, and a partner collection of network indicators of medium score or
// more that the partner reads under its own share and TLP limits.
const curatedYAML = `
collections:
  - id: 6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b
    api_root: intel
    title: SOC — high and critical
    alias: soc-high
    kind: curated
    selection:
      min_band: high
  - id: 8e2d3c4b-5a69-4788-9b0a-1c2d3e4f5a6b
    api_root: intel
    title: Partners — network indicators
    alias: partner-net
    kind: curated
    selection:
      types: [indicator]
      value_types: [ipv4-addr, domain-name]
      min_band: medium
consumers:
  - name: soc
    password_env: SOC_PASSWORD
    read: [6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b, 8e2d3c4b-5a69-4788-9b0a-1c2d3e4f5a6b]
    max_tlp: red
  - name: partner
    password_env: PARTNER_PASSWORD
    read: [8e2d3c4b-5a69-4788-9b0a-1c2d3e4f5a6b]
    max_share: partners
    max_tlp: green
curation:
  published_collection: published
  interval: 1h
  max_new_versions_per_run: 100000
`

var curatedEnv = map[string]string{"SOC_PASSWORD": "soc-secret", "PARTNER_PASSWORD": "partner-secret"}

// curatedConfig writes the evaluation config plus curatedYAML with the
// curation interval given and returns its path.
func curatedConfig(t *testing.T, dir string, interval time.Duration) string {
	t.Helper()
	p := evalConfig(t, dir, "")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b) + strings.Replace(curatedYAML, "interval: 1h", "interval: "+interval.String(), 1)
	p = filepath.Join(dir, "curated.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// taxiiGet GETs path as user and returns the status, the headers and the body.
func taxiiGet(t *testing.T, base, user, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.SetBasicAuth(user, curatedEnv[strings.ToUpper(user)+"_PASSWORD"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// pollAll reads every object of a collection as user, page by page through
// `next` (limit objects a page), with added_after when not empty, and returns
// them with the last page's X-TAXII-Date-Added-Last.
func pollAll(t *testing.T, base, user, coll string, limit int, addedAfter string) ([]map[string]any, string) {
	t.Helper()
	var out []map[string]any
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if addedAfter != "" {
		q.Set("added_after", addedAfter)
	}
	last := ""
	for range 1000 {
		status, h, body := taxiiGet(t, base, user, "/intel/collections/"+coll+"/objects/?"+q.Encode())
		if status != 200 {
			t.Fatalf("%s polling %s: %d %s", user, coll, status, body)
		}
		var env struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []map[string]any `json:"objects"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s polling %s: %v: %s", user, coll, err, body)
		}
		out = append(out, env.Objects...)
		if v := h.Get("X-TAXII-Date-Added-Last"); v != "" {
			last = v
		}
		if !env.More {
			return out, last
		}
		q.Set("next", env.Next)
	}
	t.Fatal("more than 1000 pages")
	return nil, ""
}

// waitPasses waits until /metrics counts at least n successful curation passes.
func waitPasses(t *testing.T, base string, n int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^ctibroker_curation_passes_total\{outcome="ok"\} (\d+)`)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.FindSubmatch(body); m != nil {
			if k, _ := strconv.Atoi(string(m[1])); k >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d curation passes after 90 s:\n%s", n, regexp.MustCompile(`(?m)^ctibroker_curation.*$`).FindAll(body, -1))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TLP 2.0 marking-definition ids.
const (
	tlpClearID = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	tlpGreenID = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
)

// internalProviders are the providers whose feeds default to share internal
// (ingest.DefaultShare): a value they report never reaches a partner.
var internalProviders = map[string]bool{"recordedfuture": true, "maltiverse": true, "virustotal": true}

// scoreExt returns the risk-score extension of a published object, or nil.
func scoreExt(o map[string]any) map[string]any {
	exts, _ := o["extensions"].(map[string]any)
	ext, _ := exts[scoring.ExtensionID].(map[string]any)
	return ext
}

// patternType returns the object type of an indicator's simple pattern.
func patternType(o map[string]any) string {
	p, _ := o["pattern"].(string)
	t, _, _ := strings.Cut(strings.TrimPrefix(p, "["), ":")
	return t
}

// patternValue returns the value of an indicator's simple pattern.
func patternValue(o map[string]any) string {
	p, _ := o["pattern"].(string)
	_, v, _ := strings.Cut(p, "'")
	v, _, _ = strings.Cut(v, "'")
	return v
}

// indicators returns the indicators among objs by id.
func indicators(objs []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		if o["type"] == "indicator" {
			out[o["id"].(string)] = o
		}
	}
	return out
}

// sourcesOf returns the providers and feeds the extension lists.
func sourcesOf(o map[string]any) (providers, feeds []string) {
	srcs, _ := scoreExt(o)["sources"].([]any)
	for _, s := range srcs {
		m, _ := s.(map[string]any)
		p, _ := m["provider"].(string)
		f, _ := m["feed"].(string)
		providers, feeds = append(providers, p), append(feeds, f)
	}
	return providers, feeds
}

var bandRank = map[string]int{"low": 0, "medium": 1, "high": 2, "critical": 3}

// TestServeCuratedCollections is issue 10's "done means" without
// taxii2-client: after importing the labelled corpus and one curation pass,
// a SOC and a partner poll different, correct views of the same pool over
// TAXII (the partner's under its share and TLP limits, paged through `next`),
// and a value whose score crosses the SOC collection's threshold after a
// second feed reports it reaches an added_after poller.
func TestServeCuratedCollections(t *testing.T) {
	dir := t.TempDir()
	cfg := curatedConfig(t, dir, 3*time.Second)
	importEvalCorpus(t, cfg)
	key := answerKey(t)
	base := startServeAt(t, cfg, curatedEnv, evalClock)
	waitPasses(t, base, 1)

	socHigh, lastHigh := pollAll(t, base, "soc", socHighColl, 1000, "")
	socNet, _ := pollAll(t, base, "soc", partnerNetColl, 1000, "")
	partnerNet, _ := pollAll(t, base, "partner", partnerNetColl, 7, "") // small pages: several `next` cursors

	// SOC, soc-high: every scored object is high or critical, of several value
	// types, and no benign value of the corpus is among them.
	kinds := map[string]bool{}
	scored := 0
	for _, o := range socHigh {
		ext := scoreExt(o)
		if ext == nil {
			continue
		}
		scored++
		if band, _ := ext["band"].(string); bandRank[band] < bandRank["high"] {
			t.Errorf("soc-high serves %s %s in band %q", o["type"], o["id"], band)
		}
		if o["type"] == "indicator" {
			kinds[patternType(o)] = true
			if k, ok := key[patternType(o)+"\t"+patternValue(o)]; ok && k.label == "benign" {
				t.Errorf("soc-high serves the benign value %s", patternValue(o))
			}
		}
	}
	if scored < 20 || len(kinds) < 2 {
		t.Fatalf("soc-high: %d scored objects of value types %v; want a real view of the corpus", scored, kinds)
	}

	// Partner, partner-net: network indicators of medium score or more that
	// no internal-share feed reports, marked at most TLP:GREEN.
	pInd, sInd := indicators(partnerNet), indicators(socNet)
	if len(pInd) == 0 {
		t.Fatal("the partner receives no indicator")
	}
	for id, o := range pInd {
		if pt := patternType(o); pt != "ipv4-addr" && pt != "domain-name" {
			t.Errorf("partner receives %s, a %s indicator", id, pt)
		}
		if band, _ := scoreExt(o)["band"].(string); bandRank[band] < bandRank["medium"] {
			t.Errorf("partner receives %s in band %q", id, band)
		}
		providers, _ := sourcesOf(o)
		for _, p := range providers {
			if internalProviders[p] {
				t.Errorf("partner receives %s (%s), reported by the internal-share provider %s", id, patternValue(o), p)
			}
		}
		if _, ok := sInd[id]; !ok {
			t.Errorf("partner receives %s, which the SOC's view of the same collection lacks", id)
		}
	}
	for _, o := range partnerNet {
		refs, _ := o["object_marking_refs"].([]any)
		for _, r := range refs {
			if r != tlpClearID && r != tlpGreenID {
				t.Errorf("partner receives %s %s marked %v", o["type"], o["id"], r)
			}
		}
		if o["type"] == "marking-definition" && o["id"] != tlpClearID && o["id"] != tlpGreenID {
			t.Errorf("partner receives the marking %s", o["id"])
		}
	}
	// The SOC's view is wider: values internal feeds report, which the
	// partner can neither poll nor fetch by id.
	var internalOnly string
	for id, o := range sInd {
		if _, ok := pInd[id]; ok {
			continue
		}
		if providers, _ := sourcesOf(o); slices.ContainsFunc(providers, func(p string) bool { return internalProviders[p] }) {
			internalOnly = id
			break
		}
	}
	if internalOnly == "" {
		t.Fatalf("the SOC's view of partner-net (%d indicators) has no value an internal feed reports beyond the partner's (%d)", len(sInd), len(pInd))
	}
	obj := "/intel/collections/" + partnerNetColl + "/objects/" + internalOnly + "/"
	if st, _, body := taxiiGet(t, base, "partner", obj); st != 404 {
		t.Errorf("partner GET %s: %d %s, want 404", internalOnly, st, body)
	}
	if st, _, body := taxiiGet(t, base, "soc", obj); st != 200 {
		t.Errorf("soc GET %s: %d %s, want 200", internalOnly, st, body)
	}
	if st, _, body := taxiiGet(t, base, "partner", "/intel/collections/"+socHighColl+"/objects/"); st != 404 {
		t.Errorf("partner reading soc-high: %d %s, want 404", st, body)
	}
	// Both see the configured collections under their ids, never a tier's.
	if st, _, body := taxiiGet(t, base, "partner", "/intel/collections/"); st != 200 || !strings.Contains(string(body), partnerNetColl) || strings.Contains(string(body), "~") {
		t.Errorf("partner's collections: %d %s", st, body)
	}

	// A medium value that no STIX producer reports yet: a second feed reports
	// it with high confidence, and its score crosses soc-high's threshold.
	var riser map[string]any
	for id, o := range sInd {
		if _, ok := indicators(socHigh)[id]; ok || scoreExt(o)["band"] != "medium" || patternType(o) != "domain-name" {
			continue
		}
		if riser == nil || scoreExt(o)["score"].(float64) > scoreExt(riser)["score"].(float64) {
			riser = o
		}
	}
	if riser == nil {
		t.Fatal("no medium domain outside soc-high to raise")
	}
	value := patternValue(riser)
	bundle := fmt.Sprintf(`{"type":"bundle","id":"bundle--0b6e3f52-3c5a-4c52-9f57-2a3c3d9b8e01","objects":[
{"type":"identity","spec_version":"2.1","id":"identity--5a0c9d1e-2b3f-4c5d-8e7f-9a0b1c2d3e4f","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"Second opinion CERT","identity_class":"organization"},
{"type":"indicator","spec_version":"2.1","id":"indicator--7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f","created_by_ref":"identity--5a0c9d1e-2b3f-4c5d-8e7f-9a0b1c2d3e4f","created":%[1]q,"modified":%[1]q,"name":"C2 domain","indicator_types":["malicious-activity"],"confidence":95,"pattern":"[domain-name:value = '%[2]s']","pattern_type":"stix","valid_from":%[1]q}]}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), value)
	bp := filepath.Join(dir, "second-opinion.json")
	if err := os.WriteFile(bp, []byte(bundle), 0o600); err != nil {
		t.Fatal(err)
	}
	before := passesOK(t, base)
	var out, errOut strings.Builder
	if err := NewMain(&out, &errOut).Run(t.Context(), []string{"import", "--config", cfg, "--provider", "stix", bp}); err != nil {
		t.Fatalf("import while serving (through the admin socket): %v\n%s%s", err, out.String(), errOut.String())
	}
	waitPasses(t, base, before+2) // a whole pass after the import
	added, _ := pollAll(t, base, "soc", socHighColl, 1000, lastHigh)
	var got map[string]any
	for _, o := range added {
		if o["type"] == "indicator" && patternValue(o) == value {
			got = o
		}
	}
	if got == nil {
		var explain string
		for _, o := range indicators(mustPoll(t, base, "soc", partnerNetColl)) {
			if patternValue(o) == value {
				b, _ := json.Marshal(scoreExt(o))
				explain = string(b)
			}
		}
		t.Fatalf("%s (score %v) not among the %d objects added to soc-high after %s; now: %s",
			value, scoreExt(riser)["score"], len(added), lastHigh, explain)
	}
	t.Logf("soc-high %d objects, partner-net: soc %d indicators, partner %d; %s rose from %v to %v (%v) and reached an added_after poller with %d objects",
		len(socHigh), len(sInd), len(pInd), value, scoreExt(riser)["score"], scoreExt(got)["score"], scoreExt(got)["band"], len(added))
	if band, _ := scoreExt(got)["band"].(string); bandRank[band] < bandRank["high"] {
		t.Errorf("%s entered soc-high in band %q", value, band)
	}
	// explain, run through serve's admin socket, agrees with the published score
	out.Reset()
	errOut.Reset()
	if err := NewMain(&out, &errOut).Run(t.Context(), []string{"explain", "--config", cfg, "--json", value}); err != nil {
		t.Fatalf("explain while serving (through the admin socket): %v\n%s%s", err, out.String(), errOut.String())
	}
	var exp struct {
		Score struct {
			Score int    `json:"score"`
			Band  string `json:"band"`
		} `json:"risk_score"`
	}
	if err := json.Unmarshal([]byte(out.String()), &exp); err != nil {
		t.Fatalf("explain --json: %v\n%s", err, out.String())
	}
	ex := exp.Score
	if pub := scoreExt(got)["score"].(float64); ex.Band != scoreExt(got)["band"] || math.Abs(float64(ex.Score)-pub) > 1 {
		t.Errorf("explain says %d (%s), the published version %v (%v)", ex.Score, ex.Band, pub, scoreExt(got)["band"])
	}
	if _, feeds := sourcesOf(got); !slices.Contains(feeds, "import-stix") {
		t.Errorf("%s's sources %v lack the second feed", value, feeds)
	}
	for _, o := range added {
		if o["type"] == "indicator" && o["id"] != got["id"] {
			if _, ok := indicators(socHigh)[o["id"].(string)]; !ok {
				continue
			}
			// a value already a member comes back only with a new version
			if o["modified"] == indicators(socHigh)[o["id"].(string)]["modified"] {
				t.Errorf("added_after %s repeats %s unchanged", lastHigh, o["id"])
			}
		}
	}
}

// mustPoll is pollAll without added_after, objects only.
func mustPoll(t *testing.T, base, user, coll string) []map[string]any {
	t.Helper()
	objs, _ := pollAll(t, base, user, coll, 1000, "")
	return objs
}

// passesOK returns the count of successful curation passes in /metrics.
func passesOK(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^ctibroker_curation_passes_total\{outcome="ok"\} (\d+)`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestCurationConfig: the curation section and the curated collections'
// selections are checked when the config loads.
func TestCurationConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(evalDir, "ctibroker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	valid := string(b) + curatedYAML
	if _, err := parseConfig([]byte(valid)); err != nil {
		t.Fatalf("the curated example: %v", err)
	}
	for name, tt := range map[string]struct{ old, new, want string }{
		"no selection":    {"    kind: curated\n    selection:\n      min_band: high\n", "    kind: curated\n", "a curated collection needs a selection"},
		"unknown band":    {"min_band: high", "min_band: severe", "selection.min_band"},
		"bad tlp":         {"min_band: medium", "min_band: medium\n      max_tlp: purple", "selection.max_tlp"},
		"stored selected": {"    kind: curated\n    selection:\n      min_band: high\n", "    selection:\n      min_band: high\n", "only a curated collection"},
		"interval":        {"interval: 1h", "interval: -1h", "curation.interval"},
		"max versions":    {"max_new_versions_per_run: 100000", "max_new_versions_per_run: -1", "curation.max_new_versions_per_run"},
		"published pool":  {"published_collection: published", "published_collection: pool", "must not be the pool"},
		"unknown key":     {"interval: 1h", "interval: 1h\n  force: true", "force"},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(valid, tt.old) {
				t.Fatalf("the example lacks %q", tt.old)
			}
			_, err := parseConfig([]byte(strings.Replace(valid, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseConfig: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// TestServeCuratesAfterPulls: a scheduled feed pull triggers a curation pass,
// whatever the curation interval.
func TestServeCuratesAfterPulls(t *testing.T) {
	dir := t.TempDir()
	p := curatedConfig(t, dir, time.Hour)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	feed := "feeds:\n  - {name: sample-stix, provider: stix, interval: 300ms, options: {files: [" +
		mustAbs(t, "../../examples/stix/sample-bundle.json") + "]}}\n"
	cfg := strings.Replace(string(b), "feeds:\n", feed, 1)
	if cfg == string(b) {
		t.Fatal("the evaluation config has no feeds list")
	}
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServeAt(t, p, curatedEnv, evalClock)
	// the interval alone would give one pass in the first hour
	waitPasses(t, base, 3)
}

// TestCurateForce: a pass writes at most curation.max_new_versions_per_run
// scored versions and says how many wait; `curate --force` writes the rest at
// once, and a pass after it has nothing left to write.
func TestCurateForce(t *testing.T) {
	dir := t.TempDir()
	p := curatedConfig(t, dir, time.Hour)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), "max_new_versions_per_run: 100000", "max_new_versions_per_run: 25", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	importEvalCorpus(t, p)
	curate := func(args ...string) curateJSON {
		t.Helper()
		var out, errOut bytes.Buffer
		m := NewMain(&out, &errOut)
		m.Getenv = func(string) string { return "" } // no consumer secret is needed
		m.Now = evalClock
		if err := m.Run(t.Context(), append([]string{"curate", "--config", p, "--json"}, args...)); err != nil {
			t.Fatalf("curate %v: %v\n%s", args, err, errOut.String())
		}
		var st curateJSON
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("curate --json: %v: %s", err, out.String())
		}
		return st
	}
	first := curate()
	if first.NewVersions != 25 || first.Deferred == 0 {
		t.Fatalf("capped pass: %d new versions, %d deferred; want 25 and the rest deferred", first.NewVersions, first.Deferred)
	}
	forced := curate("--force")
	if forced.Deferred != 0 || forced.NewVersions != first.Deferred {
		t.Fatalf("forced pass: %d new versions, %d deferred; want the %d deferred ones and none left", forced.NewVersions, forced.Deferred, first.Deferred)
	}
	if forced.Collections["6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"].Members == 0 {
		t.Fatalf("forced pass: soc-high has no members: %+v", forced.Collections)
	}
	if again := curate(); again.NewVersions != 0 || again.Deferred != 0 {
		t.Fatalf("pass after --force: %d new versions, %d deferred; want none", again.NewVersions, again.Deferred)
	}
}

// TestServeSightingsMoveScores is issue 10's feedback loop through serve: the
// SOC reports internal sightings of a medium domain outside soc-high, the
// POST triggers a curation pass, and the value reaches an added_after poller
// of soc-high with a higher published score; a false-positive report then
// lowers its published score again.
func TestServeSightingsMoveScores(t *testing.T) {
	dir := t.TempDir()
	p := curatedConfig(t, dir, time.Hour) // passes only on start and on triggers
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "    max_tlp: red\n", "    max_tlp: red\n    sightings: true\n", 1)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	importEvalCorpus(t, p)
	base := startServeAt(t, p, curatedEnv, evalClock)
	waitPasses(t, base, 1)

	socHigh, lastHigh := pollAll(t, base, "soc", socHighColl, 1000, "")
	var target map[string]any
	for id, o := range indicators(mustPoll(t, base, "soc", partnerNetColl)) {
		if _, ok := indicators(socHigh)[id]; ok || scoreExt(o)["band"] != "medium" || patternType(o) != "domain-name" {
			continue
		}
		if target == nil || scoreExt(o)["score"].(float64) > scoreExt(target)["score"].(float64) {
			target = o
		}
	}
	if target == nil {
		t.Fatal("no medium domain outside soc-high")
	}
	value, before := patternValue(target), scoreExt(target)["score"].(float64)

	post := func(body string) {
		t.Helper()
		passes := passesOK(t, base)
		req, _ := http.NewRequest(http.MethodPost, base+"/intel/sightings/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.SetBasicAuth("soc", curatedEnv["SOC_PASSWORD"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"new":1`) {
			t.Fatalf("POST sightings: %d %s", resp.StatusCode, answer)
		}
		waitPasses(t, base, passes+1) // the POST triggered a pass
	}
	seen := evalClock().Add(-2 * time.Hour).Format(time.RFC3339)
	post(`[{"type":"domain-name","value":"` + value + `","count":25,"first_seen":"` + seen + `","last_seen":"` + seen + `"}]`)

	var raised map[string]any
	added, _ := pollAll(t, base, "soc", socHighColl, 1000, lastHigh)
	for _, o := range added {
		if o["type"] == "indicator" && patternValue(o) == value {
			raised = o
		}
	}
	if raised == nil {
		t.Fatalf("%s (score %v) did not reach soc-high's added_after poller after 25 sightings (%d objects added)", value, before, len(added))
	}
	after := scoreExt(raised)["score"].(float64)
	if after <= before {
		t.Fatalf("%s: score %v after sightings, %v before", value, after, before)
	}

	post(`[{"type":"domain-name","value":"` + value + `","verdict":"false-positive","note":"our CDN"}]`)
	st, _, body := taxiiGet(t, base, "soc", "/intel/collections/"+partnerNetColl+"/objects/"+raised["id"].(string)+"/")
	if st != 200 {
		t.Fatalf("GET %s: %d %s", raised["id"], st, body)
	}
	var env struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Objects) == 0 {
		t.Fatalf("GET %s: %v %s", raised["id"], err, body)
	}
	latest := env.Objects[len(env.Objects)-1]
	if fp := scoreExt(latest)["score"].(float64); fp >= after {
		t.Errorf("%s: published score %v after the false-positive report, %v before it", value, fp, after)
	}
	t.Logf("%s: %v → %v with 25 sightings → %v after a false positive", value, before, after, scoreExt(latest)["score"])
}
