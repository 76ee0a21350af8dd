package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeedsReport: over the labelled corpus, `feeds report` reports each of
// the four feeds with (nearly) the values the answer key says it reports,
// some of them its own, and a quality score; the text table names every feed.
func TestFeedsReport(t *testing.T) {
	dir := t.TempDir()
	cfg := evalConfig(t, dir, "")
	importEvalCorpus(t, cfg)

	// the answer key: the feeds (providers) reporting each value
	f, err := os.Open(filepath.Join(evalDir, "sources.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reported, unique := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		feeds := strings.Split(cols[4], ",")
		for _, p := range feeds {
			reported[p]++
		}
		if len(feeds) == 1 {
			unique[feeds[0]]++
		}
	}

	out, errOut, err := runVerb(t, nil, (*Main).runFeedsReport, "--config", cfg, "--as-of", "2026-11-02", "--window", "0", "--json")
	if err != nil {
		t.Fatalf("feeds report: %v\n%s", err, errOut)
	}
	var sum struct {
		Values int `json:"values"`
		Feeds  []struct {
			Feed     string `json:"feed"`
			Reported int    `json:"reported"`
			Unique   int    `json:"unique"`
			Quality  int    `json:"quality"`
		} `json:"feeds"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("feeds report --json: %v\n%s", err, out)
	}
	if len(sum.Feeds) != len(reported) {
		t.Fatalf("report of %d feeds, the corpus has %d: %s", len(sum.Feeds), len(reported), out)
	}
	for _, fq := range sum.Feeds {
		p := strings.TrimPrefix(fq.Feed, "import-")
		// The key lists every value a feed file names; a few are not live
		// reports (a Maltiverse whitelist entry, a Recorded Future risk of
		// 0 withdraw rather than report), so the count may fall a little short.
		if fq.Reported > reported[p] || fq.Reported < reported[p]*9/10 || fq.Unique == 0 {
			t.Errorf("%s: reported %d, unique %d; the answer key says %d and %d", fq.Feed, fq.Reported, fq.Unique, reported[p], unique[p])
		}
		if fq.Quality <= 0 || fq.Quality > 100 {
			t.Errorf("%s: quality %d", fq.Feed, fq.Quality)
		}
	}
	text, _, err := runVerb(t, nil, (*Main).runFeedsReport, "--config", cfg, "--as-of", "2026-11-02", "--window", "0")
	if err != nil {
		t.Fatal(err)
	}
	for _, fq := range sum.Feeds {
		if !strings.Contains(text, fq.Feed) {
			t.Errorf("the text report does not name %s:\n%s", fq.Feed, text)
		}
	}
	t.Logf("\n%s", text)
}
