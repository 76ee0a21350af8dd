package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeMISPFeed: serve publishes a curated collection as a MISP feed under
// the partner's limits: the manifest lists events (strong ETag, 304 when
// unchanged), the events carry, as to_ids attributes, exactly the values of the
// indicators the partner polls over TAXII, and no tag above TLP:GREEN.
func TestServeMISPFeed(t *testing.T) {
	dir := t.TempDir()
	cfg := curatedConfig(t, dir, time.Hour)
	importEvalCorpus(t, cfg)
	base := startServeAt(t, cfg, curatedEnv, evalClock)
	waitPasses(t, base, 1)

	get := func(path, etag string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/intel/collections/"+partnerNetColl+"/misp/"+path, nil)
		req.SetBasicAuth("partner", curatedEnv["PARTNER_PASSWORD"])
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("manifest.json", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("manifest.json: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var manifest map[string]struct {
		Info      string `json:"info"`
		Timestamp any    `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &manifest); err != nil || len(manifest) == 0 {
		t.Fatalf("manifest.json: %v %s", err, body)
	}
	etag := resp.Header.Get("ETag")
	if r, _ := get("manifest.json", etag); etag == "" || strings.HasPrefix(etag, "W/") || r.StatusCode != http.StatusNotModified {
		t.Errorf("manifest.json with If-None-Match %q: %d; want a strong ETag and 304", etag, r.StatusCode)
	}

	var detect []string
	for uuid := range manifest {
		resp, body := get(uuid+".json", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s.json: %d %s", uuid, resp.StatusCode, body)
		}
		var ev struct {
			Event struct {
				UUID      string                  `json:"uuid"`
				Tag       []struct{ Name string } `json:"Tag"`
				Attribute []struct {
					Type    string                  `json:"type"`
					Value   string                  `json:"value"`
					ToIDs   bool                    `json:"to_ids"`
					Deleted bool                    `json:"deleted"`
					Tag     []struct{ Name string } `json:"Tag"`
				} `json:"Attribute"`
			} `json:"Event"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.Event.UUID != uuid {
			t.Fatalf("%s.json: %v %.300s", uuid, err, body)
		}
		tags := ev.Event.Tag
		for _, a := range ev.Event.Attribute {
			tags = append(tags, a.Tag...)
			if a.ToIDs && !a.Deleted {
				detect = append(detect, a.Value)
			}
		}
		for _, tg := range tags {
			if n := strings.ToLower(tg.Name); strings.HasPrefix(n, "tlp:") && n != "tlp:clear" && n != "tlp:white" && n != "tlp:green" {
				t.Errorf("event %s carries %s to a TLP:GREEN partner", uuid, tg.Name)
			}
		}
	}
	var polled []string
	for _, o := range indicators(mustPoll(t, base, "partner", partnerNetColl)) {
		polled = append(polled, patternValue(o))
	}
	slices.Sort(detect)
	slices.Sort(polled)
	if len(polled) == 0 || !slices.Equal(detect, polled) {
		t.Errorf("the MISP feed's to_ids values (%d) differ from the partner's TAXII indicators (%d):\n%v\n%v", len(detect), len(polled), detect, polled)
	}
	if resp, _ := get("hashes.csv", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("hashes.csv: %d", resp.StatusCode)
	}
	for uuid, e := range manifest {
		if ts, _ := strconv.ParseInt(fmt.Sprint(e.Timestamp), 10, 64); ts < evalClock().Add(-60*24*time.Hour).Unix() {
			t.Errorf("event %s: timestamp %v; want the time of its content", uuid, e.Timestamp)
		}
	}
	t.Logf("MISP feed of partner-net for the partner: %d events, %d to_ids attributes", len(manifest), len(detect))
}
